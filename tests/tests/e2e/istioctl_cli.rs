//! istioctl as a shell sees it: a reader of its output that goes away after the first line
//! (`istioctl get vs -o yaml | head -1`) ends it quietly — nothing on stderr, exit 141 as for
//! SIGPIPE — while a reader that takes everything gets all of it and exit 0.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use istio_tests::{istioctl_bin, Cluster};

/// Objects applied: enough that every format's output is many times a pipe's buffer (64 KiB),
/// so istioctl is still writing when its reader goes away.
const OBJECTS: usize = 500;
/// Hosts per VirtualService (each a line of YAML).
const HOSTS: usize = 12;

fn bundle() -> String {
    let mut s = String::new();
    for i in 0..OBJECTS {
        let hosts: Vec<String> =
            (0..HOSTS).map(|h| format!("h{h}.vs-{i:04}.example.com")).collect();
        s.push_str(&format!(
            "---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: vs-{i:04}}}
spec:
  hosts: [{}]
  http:
  - route:
    - destination: {{host: vs-{i:04}.default.svc.cluster.local}}
",
            hosts.join(", ")
        ));
    }
    s
}

fn istioctl(server: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(istioctl_bin());
    cmd.args(["--server", server]).args(args);
    cmd
}

#[tokio::test]
async fn a_reader_that_goes_away_ends_istioctl_quietly_with_141() -> anyhow::Result<()> {
    let c = Cluster::single(&[]).await?;
    let server = c.node(1).url("");
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("many.yaml");
    std::fs::write(&file, bundle())?;
    let applied = istioctl(&server, &["apply", "-f", file.to_str().unwrap()]).output()?;
    assert!(applied.status.success(), "istioctl apply: {applied:?}");

    for format in ["yaml", "json", "table"] {
        let args = ["get", "vs", "-o", format];

        // A reader that takes everything: all of it, exit 0, and far more than a pipe holds.
        let all = istioctl(&server, &args).output()?;
        assert!(all.status.success(), "istioctl {args:?}: {all:?}");
        assert!(all.stderr.is_empty(), "{}", String::from_utf8_lossy(&all.stderr));
        assert!(
            all.stdout.len() > 128 << 10,
            "-o {format} printed only {} bytes: too little to fill a pipe",
            all.stdout.len()
        );

        // A reader that goes away after the first line, like `| head -1`.
        let mut child = istioctl(&server, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first)?;
        assert!(!first.trim().is_empty(), "-o {format}: no first line");
        // The reader is dropped here: the pipe's read end is closed.
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr)?;
        let status = child.wait()?;
        assert_eq!(stderr, "", "istioctl {args:?} complained after its reader went away");
        assert!(
            status.code() == Some(141) || status.signal() == Some(13),
            "istioctl {args:?} after its reader went away: {status:?} (want exit 141 or SIGPIPE)"
        );
    }
    Ok(())
}
