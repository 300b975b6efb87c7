//! Scenarios: named, seeded nemesis schedules. Each alternates quiet periods with fault
//! windows of its kind until the fault phase ends, recording every fault it injects.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::cluster::Cluster;
use crate::faultnet::LinkMode;
use crate::history::Fault;
use crate::workload::{Recorder, Targets};
use crate::ChaosError;

/// Every scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// SIGKILL the leader, restart it.
    LeaderKill,
    /// SIGKILL a follower, restart it.
    FollowerKill,
    /// Cut a minority of members off from the rest.
    MinorityPartition,
    /// Cut the leader off from everyone (the majority elects a new one).
    LeaderIsolated,
    /// The leader's messages to the others are dropped; theirs still reach it.
    AsymmetricPartition,
    /// SIGSTOP the leader, SIGCONT it later.
    LeaderPause,
    /// SIGTERM and restart each member in turn.
    RollingRestart,
    /// SIGKILL every member, restart them all.
    FullRestart,
    /// Add a member, then remove another, under load.
    MembershipChange,
    /// Delay (with jitter) every Raft link.
    SlowNetwork,
    /// A random mix of the above (without membership changes).
    Mixed,
}

impl Scenario {
    /// Every scenario, in the order `all` runs them.
    pub const ALL: [Scenario; 11] = [
        Scenario::LeaderKill,
        Scenario::FollowerKill,
        Scenario::MinorityPartition,
        Scenario::LeaderIsolated,
        Scenario::AsymmetricPartition,
        Scenario::LeaderPause,
        Scenario::RollingRestart,
        Scenario::FullRestart,
        Scenario::MembershipChange,
        Scenario::SlowNetwork,
        Scenario::Mixed,
    ];

    /// Its command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::LeaderKill => "leader-kill",
            Scenario::FollowerKill => "follower-kill",
            Scenario::MinorityPartition => "minority-partition",
            Scenario::LeaderIsolated => "leader-isolated",
            Scenario::AsymmetricPartition => "asymmetric-partition",
            Scenario::LeaderPause => "leader-pause",
            Scenario::RollingRestart => "rolling-restart",
            Scenario::FullRestart => "full-restart",
            Scenario::MembershipChange => "membership-change-under-load",
            Scenario::SlowNetwork => "slow-network",
            Scenario::Mixed => "mixed",
        }
    }

    /// Looks a scenario up by name.
    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| {
            x.name() == s || (s == "membership-change" && *x == Scenario::MembershipChange)
        })
    }
}

/// Injects a scenario's faults.
pub struct Nemesis {
    scenario: Scenario,
    rng: StdRng,
}

impl std::fmt::Debug for Nemesis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nemesis").field("scenario", &self.scenario).finish()
    }
}

const MIXABLE: [Scenario; 8] = [
    Scenario::LeaderKill,
    Scenario::FollowerKill,
    Scenario::MinorityPartition,
    Scenario::LeaderIsolated,
    Scenario::AsymmetricPartition,
    Scenario::LeaderPause,
    Scenario::FullRestart,
    Scenario::SlowNetwork,
];

impl Nemesis {
    /// A nemesis for `scenario`, drawing every choice from `rng`.
    pub fn new(scenario: Scenario, rng: StdRng) -> Self {
        Nemesis { scenario, rng }
    }

    fn quiet(&mut self) -> Duration {
        Duration::from_millis(self.rng.gen_range(800..2000))
    }

    fn hold(&mut self) -> Duration {
        Duration::from_millis(self.rng.gen_range(1500..4000))
    }

    /// Runs fault windows until `until`; every fault is undone before it returns (except
    /// what [`crate::runner`]'s heal phase undoes anyway: an error midway).
    pub async fn run(
        &mut self,
        c: &mut Cluster,
        rec: &Recorder,
        targets: &Targets,
        until: Instant,
        faults: &mut Vec<Fault>,
    ) -> Result<(), ChaosError> {
        if self.scenario == Scenario::RollingRestart {
            return self.rolling(c, rec, until, faults).await;
        }
        loop {
            let q = self.quiet();
            if Instant::now() + q >= until {
                tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
                return Ok(());
            }
            tokio::time::sleep(q).await;
            let kind = match self.scenario {
                Scenario::Mixed => *MIXABLE.choose(&mut self.rng).unwrap_or(&Scenario::LeaderKill),
                s => s,
            };
            let hold = self.hold().min(until.saturating_duration_since(Instant::now()));
            self.window(kind, c, rec, targets, hold, faults).await?;
        }
    }

    async fn window(
        &mut self,
        kind: Scenario,
        c: &mut Cluster,
        rec: &Recorder,
        targets: &Targets,
        hold: Duration,
        faults: &mut Vec<Fault>,
    ) -> Result<(), ChaosError> {
        let voters = c.members().await.unwrap_or_else(|_| c.running_ids());
        let leader = c.leader().await;
        let start_ns = rec.now();
        let target: String;
        match kind {
            Scenario::LeaderKill | Scenario::FollowerKill => {
                let victim = if kind == Scenario::LeaderKill {
                    leader
                } else {
                    let followers: Vec<u64> =
                        voters.iter().copied().filter(|v| Some(*v) != leader).collect();
                    followers.choose(&mut self.rng).copied()
                };
                let Some(victim) = victim else { return Ok(()) };
                target = format!("node {victim}");
                c.kill(victim)?;
                tokio::time::sleep(hold).await;
                c.restart(victim).await?;
            }
            Scenario::MinorityPartition => {
                let mut all = voters.clone();
                all.shuffle(&mut self.rng);
                let minority: Vec<u64> = all[..(all.len() - 1) / 2].to_vec();
                let majority: Vec<u64> = all[(all.len() - 1) / 2..].to_vec();
                target = format!("{minority:?} | {majority:?}");
                c.net.partition(&[minority, majority]);
                tokio::time::sleep(hold).await;
                c.net.heal();
            }
            Scenario::LeaderIsolated => {
                let Some(l) = leader else { return Ok(()) };
                target = format!("node {l} (leader) isolated");
                c.net.isolate(l);
                tokio::time::sleep(hold).await;
                c.net.heal();
            }
            Scenario::AsymmetricPartition => {
                let Some(l) = leader else { return Ok(()) };
                target = format!("{l} -> others dropped");
                for v in voters.iter().filter(|v| **v != l) {
                    c.net.one_way(l, *v);
                }
                tokio::time::sleep(hold).await;
                c.net.heal();
            }
            Scenario::LeaderPause => {
                let Some(l) = leader else { return Ok(()) };
                target = format!("node {l} (leader) paused");
                c.pause(l)?;
                tokio::time::sleep(hold).await;
                c.resume(l)?;
            }
            Scenario::FullRestart => {
                target = "all nodes".into();
                for id in c.running_ids() {
                    c.kill(id)?;
                }
                tokio::time::sleep(hold.min(Duration::from_millis(1500))).await;
                for id in voters.iter().copied() {
                    c.restart(id).await?;
                }
            }
            Scenario::SlowNetwork => {
                let base = Duration::from_millis(self.rng.gen_range(10..80));
                let jitter = Duration::from_millis(self.rng.gen_range(0..40));
                target = format!("every link +{base:?} ±{jitter:?}");
                c.net.delay_all(base, jitter);
                tokio::time::sleep(hold).await;
                c.net.set_all(LinkMode::Pass);
            }
            Scenario::MembershipChange => {
                let via = voters.choose(&mut self.rng).copied().unwrap_or(1);
                let added = c.add_member(via).await?;
                {
                    let node = c.node(added)?;
                    targets.write().unwrap_or_else(|e| e.into_inner()).push((added, node.http));
                }
                let removable: Vec<u64> = voters.iter().copied().filter(|v| *v != added).collect();
                let Some(removed) = removable.choose(&mut self.rng).copied() else { return Ok(()) };
                target = format!("+node {added}, -node {removed}");
                targets.write().unwrap_or_else(|e| e.into_inner()).retain(|(id, _)| *id != removed);
                c.remove_member(removed).await?;
            }
            Scenario::RollingRestart | Scenario::Mixed => return Ok(()),
        }
        faults.push(Fault { kind: kind.name().into(), target, start_ns, end_ns: rec.now() });
        Ok(())
    }

    async fn rolling(
        &mut self,
        c: &mut Cluster,
        rec: &Recorder,
        until: Instant,
        faults: &mut Vec<Fault>,
    ) -> Result<(), ChaosError> {
        while Instant::now() < until {
            let voters = c.members().await.unwrap_or_else(|_| c.running_ids());
            for id in voters {
                if Instant::now() >= until {
                    break;
                }
                let q = self.quiet();
                tokio::time::sleep(q).await;
                let start_ns = rec.now();
                c.terminate(id).await?;
                c.restart(id).await?;
                faults.push(Fault {
                    kind: "rolling-restart".into(),
                    target: format!("node {id}"),
                    start_ns,
                    end_ns: rec.now(),
                });
            }
        }
        Ok(())
    }
}
