//! The real `kubectl` against istiod: get (table and -o yaml), apply -f, delete, get -w.
//! Needs kubectl on PATH (`.ci/run` installs Debian's kubernetes-client where none exists);
//! without it the test says so loudly and passes vacuously.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use istio_tests::{wait_for, Cluster};

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn kubectl(server: &str, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .arg("--server")
        .arg(server)
        .args(args)
        .output()
        .expect("run kubectl")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test]
async fn kubectl_get_apply_delete_watch() -> anyhow::Result<()> {
    let install = "Install it with `apt-get install kubernetes-client`.";
    if istio_tests::skip_without(
        "kubectl_get_apply_delete_watch",
        "kubectl",
        kubectl_available(),
        install,
    ) {
        return Ok(());
    }
    let c = Cluster::single(&[]).await?;
    let server = c.node(1).url("");
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "")?;
    let vs = dir.path().join("vs.yaml");
    std::fs::write(
        &vs,
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n",
    )?;
    let k = |args: &[&str]| kubectl(&server, &kubeconfig, args);

    let o = k(&["get", "virtualservices"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("No resources found"), "{}", text(&o));

    // Watch in the background while applying.
    let watch = Command::new("kubectl")
        .env("KUBECONFIG", &kubeconfig)
        .args(["--server", &server, "get", "vs", "-w", "--request-timeout=20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;

    let vs_path = vs.to_str().unwrap();
    let o = k(&["apply", "--validate=false", "-f", vs_path]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("virtualservice.networking.istio.io/reviews created"),
        "{}",
        text(&o)
    );
    // Re-applying is a no-op.
    let o = k(&["apply", "--validate=false", "-f", vs_path]);
    assert!(text(&o).contains("unchanged"), "{}", text(&o));

    let o = k(&["get", "vs"]);
    assert!(o.status.success() && text(&o).contains("reviews"), "{}", text(&o));
    let o = k(&["get", "vs", "reviews", "-o", "yaml"]);
    let y = text(&o);
    assert!(y.contains("subset: v1") && y.contains("resourceVersion:"), "{y}");

    // The watch prints the object (read its output as it arrives, then stop it).
    let mut watch = watch;
    let stdout = watch.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("reviews")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("kubectl get -w never showed reviews; saw {seen:?}"),
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();

    let o = k(&["delete", "vs", "reviews"]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for(Duration::from_secs(5), "reviews gone", || async {
        let o = k(&["get", "vs", "reviews"]);
        (!o.status.success() && text(&o).contains("NotFound")).then_some(())
    })
    .await?;
    Ok(())
}
