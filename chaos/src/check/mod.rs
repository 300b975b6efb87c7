//! Checkers: one module per invariant, each reading a [`crate::history::History`] and returning
//! a [`CheckResult`].
//!
//! | module           | invariant                                                            |
//! |------------------|----------------------------------------------------------------------|
//! | [`linearizable`] | per-key linearizability of the register / compare-and-set history    |
//! | [`lost_write`]   | every acknowledged write is in the final log; the log folds to the final state |
//! | [`duplicate`]    | no write applied twice; log revisions strictly increasing           |
//! | [`watch`]        | every watch stream is ordered, duplicate-free and gap-free          |
//! | [`convergence`]  | every node ends at the same revision and state hash                 |
//! | [`monotonic`]    | no client observes revisions going backwards                        |
//! | [`list`]         | every list equals the log folded up to its read revision            |
//!
//! Every checker is total: whatever the history holds (malformed, contradictory, empty), it
//! returns a verdict rather than panicking.

use serde::{Deserialize, Serialize};

use crate::history::History;

pub mod convergence;
pub mod duplicate;
pub mod linearizable;
pub mod list;
pub mod lost_write;
pub mod monotonic;
pub mod watch;

#[cfg(test)]
pub(crate) mod testing;

/// One checker's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The invariant, e.g. `linearizable`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// How many items (operations, events, streams, nodes) it checked.
    pub checked: usize,
    /// A one-line summary (what held, or what broke).
    pub message: String,
    /// When it failed: a minimal counterexample (the operations/events involved), as JSON.
    pub counterexample: Option<serde_json::Value>,
    /// Ids of the operations involved in a violation (for the timeline to mark).
    #[serde(default)]
    pub violating_ops: Vec<u64>,
}

impl CheckResult {
    /// A passing verdict.
    pub fn pass(name: &str, checked: usize, message: impl Into<String>) -> Self {
        CheckResult {
            name: name.to_string(),
            passed: true,
            checked,
            message: message.into(),
            counterexample: None,
            violating_ops: Vec::new(),
        }
    }

    /// A failing verdict.
    pub fn fail(
        name: &str,
        checked: usize,
        message: impl Into<String>,
        counterexample: Option<serde_json::Value>,
        mut violating_ops: Vec<u64>,
    ) -> Self {
        violating_ops.sort_unstable();
        violating_ops.dedup();
        CheckResult {
            name: name.to_string(),
            passed: false,
            checked,
            message: message.into(),
            counterexample,
            violating_ops,
        }
    }
}

impl CheckResult {
    /// A failing verdict from a checker's problems (JSON objects, each with a `problem`
    /// field): the counterexample keeps the first [`MAX_REPORTED`] under `key`, with the total.
    pub(crate) fn from_problems(
        name: &str,
        checked: usize,
        message: String,
        key: &str,
        mut problems: Vec<serde_json::Value>,
        violating_ops: Vec<u64>,
    ) -> Self {
        let total = problems.len();
        problems.truncate(MAX_REPORTED);
        let counterexample = serde_json::json!({ key: problems, "total": total });
        CheckResult::fail(name, checked, message, Some(counterexample), violating_ops)
    }
}

/// The `problem` field of a checker's first problem, for its one-line message.
pub(crate) fn first_problem(problems: &[serde_json::Value]) -> &str {
    problems.first().and_then(|p| p.get("problem")).and_then(|p| p.as_str()).unwrap_or("?")
}

/// Runs every checker, in the order of the table above.
pub fn all(h: &History) -> Vec<CheckResult> {
    vec![
        linearizable::check(h),
        lost_write::check(h),
        duplicate::check(h),
        watch::check(h),
        convergence::check(h),
        monotonic::check(h),
        list::check(h),
    ]
}

/// At most this many violations are spelled out in a counterexample.
pub(crate) const MAX_REPORTED: usize = 20;

/// An operation as JSON, for counterexamples.
pub(crate) fn op_json(op: &crate::history::Op) -> serde_json::Value {
    serde_json::to_value(op).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::testing::{random_history, RandomSpec};
    use super::*;
    use crate::history::{FailReason, Outcome};

    #[test]
    fn every_checker_passes_a_valid_history() {
        for seed in 0..3 {
            let h = random_history(&RandomSpec { seed, ..RandomSpec::default() });
            let results = all(&h);
            assert_eq!(results.len(), 7);
            for r in results {
                assert!(r.passed, "seed {seed}: {r:?}");
            }
        }
    }

    #[test]
    fn every_checker_is_total() {
        // Corrupt valid histories at random: no checker may panic, whatever it is given.
        for seed in 0..40 {
            let spec = RandomSpec { seed, ops: 300, keys: 4, ..RandomSpec::default() };
            let mut h = random_history(&spec);
            let mut rng = StdRng::seed_from_u64(seed);
            for _ in 0..rng.gen_range(1..20) {
                let n = h.ops.len().max(1);
                let i = rng.gen_range(0..n);
                match (rng.gen_range(0..10), h.ops.get_mut(i)) {
                    (0, Some(op)) => std::mem::swap(&mut op.invoke_ns, &mut op.complete_ns),
                    (1, Some(op)) => op.outcome = Outcome::Fail { reason: FailReason::Conflict },
                    (2, Some(op)) => {
                        op.outcome =
                            Outcome::Ok { revision: Some(u64::MAX), value: None, list: None }
                    }
                    (3, Some(op)) => op.complete_ns = u64::MAX,
                    (4, _) => {
                        let k = rng.gen_range(0..h.log.len().max(1));
                        if k < h.log.len() {
                            let e = h.log.remove(k);
                            h.log.insert(rng.gen_range(0..=h.log.len()), e);
                        }
                    }
                    (5, _) => h.log.truncate(h.log.len() / 2),
                    (6, _) => h.ops.reverse(),
                    (7, _) => {
                        if let Some(w) = h.watches.first_mut() {
                            w.events.reverse();
                        }
                    }
                    (8, _) => h.nodes.clear(),
                    _ => h.final_state.push(("key-0".into(), Some("bogus".into()))),
                }
            }
            for r in all(&h) {
                assert!(!r.name.is_empty());
            }
        }
    }
}
