//! Three istiod processes with `--peers`: writes through every member, SIGKILL of the leader
//! under concurrent writes (a new leader serves within 3 s; every acknowledged write survives),
//! and the killed member restarting and catching up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use istio_tests::{object, Cluster, VS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_sigkill_under_concurrent_writes() -> anyhow::Result<()> {
    let mut c = Cluster::start(3, &[]).await?;
    for id in 1..=3 {
        let r = c.put(id, &format!("via-{id}"), "x").await?;
        assert_eq!(r.status(), 201, "write through member {id}: {}", r.text().await?);
    }

    let urls: Vec<String> = c.nodes.iter().map(|n| n.url(VS)).collect();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (urls, acked, stop, http) =
            (urls.clone(), acked.clone(), stop.clone(), c.client.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("w{w}-{i}");
                let url = &urls[(w + i) % urls.len()];
                let res = http
                    .post(url)
                    .timeout(Duration::from_secs(5))
                    .json(&object(&name, "v"))
                    .send()
                    .await;
                if matches!(&res, Ok(r) if r.status().is_success()) {
                    acked.lock().unwrap().push(name);
                }
                i += 1;
            }
        }));
    }
    let count = || acked.lock().unwrap().len();
    istio_tests::wait_for(Duration::from_secs(30), "40 acknowledged writes", || async {
        (count() >= 40).then_some(())
    })
    .await?;

    let leader = c.wait_leader(Duration::from_secs(10)).await?;
    c.node_mut(leader).kill();
    let killed_at = Instant::now();
    let survivor = (1..=3).find(|i| *i != leader).unwrap();
    // A write through a survivor succeeds as soon as a new leader serves.
    let mut n = 0;
    let served_after = loop {
        n += 1;
        let r = c
            .client
            .put(c.node(survivor).url(&format!("{VS}/after-kill-{n}")))
            .timeout(Duration::from_secs(3))
            .json(&object(&format!("after-kill-{n}"), "v"))
            .send()
            .await;
        if matches!(&r, Ok(r) if r.status().is_success()) {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(3),
            "no leader serving 3 s after SIGKILL"
        );
    };
    assert!(served_after < Duration::from_secs(3), "new leader took {served_after:?}");
    eprintln!("a write through member {survivor} succeeded {served_after:?} after SIGKILL of leader {leader}");
    let new_leader = c.wait_leader(Duration::from_secs(10)).await?;
    assert_ne!(new_leader, leader);

    let target = count() + 40;
    istio_tests::wait_for(Duration::from_secs(30), "40 more writes", || async {
        (count() >= target).then_some(())
    })
    .await?;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await?;
    }
    let acked = acked.lock().unwrap().clone();
    c.wait_converged(Duration::from_secs(20)).await?;
    for id in (1..=3).filter(|i| *i != leader) {
        for name in &acked {
            assert!(
                c.get_local(id, name).await?.is_some(),
                "acknowledged write {name} missing on member {id}"
            );
        }
    }

    c.node_mut(leader).start();
    let (rev, hash) = c.wait_converged(Duration::from_secs(30)).await?;
    for name in &acked {
        assert!(c.get_local(leader, name).await?.is_some(), "{name} missing on restarted member");
    }
    eprintln!("converged at revision {rev} hash {hash} with {} acknowledged writes", acked.len());
    Ok(())
}
