//! `istiod`: runs one member of the istio-rs control plane. See `istio_api::istiod`.

fn main() -> anyhow::Result<()> {
    istio_api::istiod::main()
}
