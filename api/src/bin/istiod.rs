//! `istiod`: runs one member of the istio-rs control plane. See `istio_api::istiod`.

// glibc malloc was a fifth of istiod's CPU under write load (`_int_malloc`, `malloc_consolidate`,
// `unlink_chunk` in `perf`; BENCHMARKS.md, issue 7); mimalloc's per-thread pages cost a fraction.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    istio_api::istiod::main()
}
