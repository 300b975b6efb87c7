//! Chaos smoke: the `leader-kill`, `minority-partition` and `full-restart` scenarios, ~20 s of
//! faults each against a 3-member cluster under 16 clients and 3 watchers, with every checker
//! (linearizability, lost writes, duplicates, watches, convergence, client monotonicity, lists,
//! liveness). The full matrix runs with the `chaos` binary (see the chaos crate).

use std::time::Duration;

use istio_chaos::runner::{self, RunConfig};
use istio_chaos::scenario::Scenario;
use istio_chaos::workload::WorkloadConfig;

async fn smoke(scenario: Scenario, seed: u64) -> anyhow::Result<()> {
    let out = tempfile::tempdir()?;
    let cfg = RunConfig {
        scenario,
        nodes: 3,
        duration: Duration::from_secs(20),
        seed,
        out: out.path().to_path_buf(),
        istiod: istio_tests::istiod_bin().to_path_buf(),
        workload: WorkloadConfig::default(),
    };
    let report = runner::run(&cfg).await?;
    println!("{}", runner::summary(&report));
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!("{}: {} {}", c.name, c.message, c.counterexample.clone().unwrap_or_default())
        })
        .collect();
    if !failed.is_empty() {
        // Keep the evidence: report, history, timeline and member log tails.
        let kept = out.keep();
        anyhow::bail!(
            "{} failed (evidence in {}):\n{}",
            scenario.name(),
            kept.display(),
            failed.join("\n")
        );
    }
    assert!(report.ops.ok > 100, "the workload made progress: {:?}", report.ops);
    assert!(report.faults.iter().any(|f| f.kind != "heal"), "faults were injected");
    Ok(())
}

/// One test, scenarios in sequence: three clusters at once would starve each other of the two
/// CI cores and turn the run into a test of the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_smoke() -> anyhow::Result<()> {
    smoke(Scenario::LeaderKill, 11).await?;
    smoke(Scenario::MinorityPartition, 12).await?;
    smoke(Scenario::FullRestart, 13).await
}
