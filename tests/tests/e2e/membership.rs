//! A fourth member joins with `--join` and becomes a voter; a member is removed; the cluster
//! keeps serving writes throughout.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use istio_tests::{object, wait_for, Cluster, Istiod, VS};
use serde_json::Value;

fn voters(status: &Value) -> Vec<u64> {
    let mut v: Vec<u64> = status["members"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["voter"] == true).filter_map(|m| m["id"].as_u64()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_then_remove_while_serving() -> anyhow::Result<()> {
    let mut c = Cluster::start(3, &[]).await?;
    let url = c.node(1).url(VS);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, failures, stop, http) =
            (acked.clone(), failures.clone(), stop.clone(), c.client.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("m-{i}");
                let r = http.post(&url).json(&object(&name, "v")).send().await;
                match r {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(name),
                    Ok(r) => {
                        eprintln!(
                            "write {name} failed: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        );
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("write {name} failed: {e}");
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 1;
            }
        })
    };

    // Join member 4 through member 2's HTTP address.
    let mut n4 = Istiod::new(c.root(), 4, vec!["--join".into(), c.node(2).url("")]);
    n4.start();
    anyhow::ensure!(n4.wait_serving().await?, "member 4 could not bind its ports");
    c.nodes.push(n4);
    wait_for(Duration::from_secs(60), "member 4 to be a voter", || async {
        let s = c.status(1).await.ok()?;
        (voters(&s) == vec![1, 2, 3, 4]).then_some(())
    })
    .await?;
    c.wait_converged(Duration::from_secs(30)).await?;
    let s4 = c.status(4).await?;
    assert_eq!(voters(&s4), vec![1, 2, 3, 4], "member 4's own view: {s4}");

    // istioctl shows the four members; remove member 3 with it, through member 4.
    let istioctl = |id: u64, args: &[&str]| {
        std::process::Command::new(istio_tests::istioctl_bin())
            .args(["--server", &c.node(id).url("")])
            .args(args)
            .output()
            .expect("istioctl")
    };
    let out = istioctl(1, &["cluster", "status"]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert!(
        table.starts_with("ID") && table.contains("leader") && table.lines().count() == 6,
        "{table}"
    );
    let out = istioctl(4, &["cluster", "remove", "3"]);
    assert!(out.status.success(), "{out:?}");
    wait_for(Duration::from_secs(30), "member 3 removed", || async {
        let s = c.status(1).await.ok()?;
        (voters(&s) == vec![1, 2, 4]).then_some(())
    })
    .await?;
    let code = c.node_mut(3).terminate()?;
    assert!(code.success(), "removed member exited with {code}");

    // Keep writing a little after the changes.
    let n = acked.lock().unwrap().len() + 20;
    wait_for(Duration::from_secs(30), "20 more writes", || async {
        (acked.lock().unwrap().len() >= n).then_some(())
    })
    .await?;
    stop.store(true, Ordering::Relaxed);
    writer.await?;
    assert_eq!(failures.load(Ordering::Relaxed), 0, "writes failed during membership changes");
    c.wait_converged(Duration::from_secs(30)).await?;
    let acked = acked.lock().unwrap().clone();
    for name in &acked {
        assert!(c.get_local(4, name).await?.is_some(), "{name} missing on joined member 4");
    }
    // Removing the last voters is refused, not half-done: a cluster of 3 can't remove 5.
    let r = c.client.delete(c.node(1).url("/v1/cluster/members/5")).send().await?;
    assert_eq!(r.status(), 400);
    Ok(())
}
