"""A gRPC proxyless xDS client for the end-to-end test.

Usage: GRPC_XDS_BOOTSTRAP_CONFIG='{...}' client.py TARGET
Reads commands on stdin, one per line: "call N" makes N calls to /echo.Echo/Who on TARGET
(e.g. xds:///echo.example.com:8080) and prints one JSON line {"backend name": count, ...,
"errors": [...]}; "ready N" makes N calls that each wait (up to 20 s) for the channel to
become ready instead of failing fast, so a server that starts serving later is waited for by
gRPC itself. Keeping one channel across commands exercises pushes on one ADS stream.
"""
import json
import sys

import grpc


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    who = channel.unary_unary("/echo.Echo/Who")
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] in ("call", "ready"):
            ready = parts[0] == "ready"
            counts, errors = {}, []
            for _ in range(int(parts[1])):
                try:
                    name = who(b"", timeout=20 if ready else 5, wait_for_ready=ready).decode()
                    counts[name] = counts.get(name, 0) + 1
                except grpc.RpcError as e:
                    errors.append(f"{e.code()}: {e.details()}")
            counts["errors"] = errors[:5]
            print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
