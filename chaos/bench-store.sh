#!/usr/bin/env bash
# Store vs etcd: installs etcd (Debian's etcd-server) where missing, builds istiod and bench
# (release), then runs `bench store --vs-etcd` with any extra flags given, e.g.
#   chaos/bench-store.sh --nodes 3 --json store.json
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x /usr/bin/etcd ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server
fi
cargo build --release -q -p istio-api -p istio-chaos --bins
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/bench" store --vs-etcd "$@"
