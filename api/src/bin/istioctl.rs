//! `istioctl`: the command-line client of istio-rs. See `istio_api::istioctl`.

fn main() {
    std::process::exit(istio_api::istioctl::main());
}
