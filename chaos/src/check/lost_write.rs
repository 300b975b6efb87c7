//! No acknowledged write is lost, and the log agrees with the final state.
//!
//! Invariants:
//! - every `Ok` write is in the final log at the revision it was acknowledged with, with the
//!   same key and value (a delete: value `None`);
//! - no definitely failed write (`Fail`, including `Refused`) is in the log, and every value in
//!   the log was written by some operation (the log holds nothing nobody asked for);
//! - `h.final_state` (the final linearizable reads) equals the log folded to its end (the last
//!   value per key; a key the fold leaves absent may be missing from `final_state`);
//! - every node in `h.nodes` ends at the last committed revision (the greater of the log's last
//!   revision and the last of `h.other_revisions`).

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::{first_problem, op_json, CheckResult};
use crate::history::{History, OpKind, Outcome};

const NAME: &str = "lost_write";

/// Runs the check.
pub fn check(h: &History) -> CheckResult {
    let mut problems: Vec<serde_json::Value> = Vec::new();
    let mut violating = Vec::new();
    let mut checked = 0;

    // (revision, key) -> every value the log records for it.
    let mut at: HashMap<(u64, &str), Vec<Option<&str>>> = HashMap::new();
    // value -> number of log changes carrying it.
    let mut logged_values: HashMap<&str, usize> = HashMap::new();
    for ev in &h.log {
        for ch in &ev.changes {
            at.entry((ev.revision, &ch.key)).or_default().push(ch.value.as_deref());
            if let Some(v) = &ch.value {
                *logged_values.entry(v).or_default() += 1;
            }
        }
    }

    let mut written: HashMap<&str, ()> = HashMap::new();
    for op in &h.ops {
        let (key, value) = match &op.kind {
            OpKind::Create { key, value } | OpKind::Update { key, value, .. } => {
                written.insert(value, ());
                (key, Some(value.as_str()))
            }
            OpKind::Delete { key, .. } => (key, None),
            OpKind::Get { .. } | OpKind::List => continue,
        };
        match &op.outcome {
            Outcome::Ok { revision, .. } => {
                checked += 1;
                let found = match revision {
                    Some(r) => at.get(&(*r, key.as_str())).is_some_and(|vs| vs.contains(&value)),
                    None => false,
                };
                if !found {
                    violating.push(op.id);
                    let logged = revision.and_then(|r| at.get(&(r, key.as_str())));
                    problems.push(json!({
                        "problem": match revision {
                            Some(_) => "acknowledged write missing from the log at its revision",
                            None => "acknowledged write without a revision",
                        },
                        "op": op_json(op),
                        "log_at_revision": logged,
                    }));
                }
            }
            Outcome::Fail { reason } => {
                checked += 1;
                if let Some(v) = value {
                    if logged_values.contains_key(v) {
                        violating.push(op.id);
                        problems.push(json!({
                            "problem": format!("write failed ({reason:?}) but its value is in the log"),
                            "op": op_json(op),
                        }));
                    }
                }
            }
            Outcome::Unknown { .. } => {}
        }
    }
    for ev in &h.log {
        for ch in &ev.changes {
            if let Some(v) = &ch.value {
                if !written.contains_key(v.as_str()) {
                    problems.push(json!({
                        "problem": "the log holds a value no operation wrote",
                        "revision": ev.revision,
                        "key": ch.key,
                        "value": v,
                    }));
                }
            }
        }
    }

    // Final state versus the log folded to its end.
    let mut log: Vec<&crate::history::LogEvent> = h.log.iter().collect();
    log.sort_by_key(|e| e.revision);
    let mut folded: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for ev in &log {
        for ch in &ev.changes {
            folded.insert(&ch.key, ch.value.as_deref());
        }
    }
    let mut final_state: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for (key, value) in &h.final_state {
        checked += 1;
        if let Some(prev) = final_state.insert(key, value.as_deref()) {
            if prev != value.as_deref() {
                problems.push(json!({
                    "problem": "final_state reads the key twice with different values",
                    "key": key,
                    "values": [prev, value],
                }));
            }
        }
    }
    for (key, value) in &final_state {
        let expected = folded.get(key).copied().flatten();
        if *value != expected {
            problems.push(json!({
                "problem": "final state differs from the log",
                "key": key,
                "final_state": value,
                "log": expected,
            }));
        }
    }
    for (key, value) in &folded {
        if value.is_some() && !final_state.contains_key(key) {
            problems.push(json!({
                "problem": "key present per the log but missing from the final state",
                "key": key,
                "log": value,
            }));
        }
    }

    // Every node at the last committed revision.
    let last_log = log.last().map(|e| e.revision);
    let last_other = h.other_revisions.iter().copied().max();
    let last = last_log.max(last_other).unwrap_or(0);
    for n in &h.nodes {
        checked += 1;
        if n.revision != last {
            problems.push(json!({
                "problem": "node does not end at the last committed revision",
                "node": n.node,
                "node_revision": n.revision,
                "last_revision": last,
            }));
        }
    }

    if problems.is_empty() {
        return CheckResult::pass(
            NAME,
            checked,
            format!(
                "every acknowledged write is in the log; the log folds to the final state of {} \
                 keys; {} nodes at revision {last}",
                final_state.len(),
                h.nodes.len()
            ),
        );
    }
    let message = format!("{} problem(s); first: {}", problems.len(), first_problem(&problems));
    CheckResult::from_problems(NAME, checked, message, "problems", problems, violating)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn base() -> History {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, update("k", "b", "a", 1), 20, 30, ok_write(2));
        b.op(1, create("j", "x"), 20, 30, ok_write(3));
        b.op(2, delete("j", Some("x")), 40, 50, ok_write(4));
        b.op(3, create("k", "zz"), 40, 50, fail(crate::history::FailReason::AlreadyExists));
        b.log(1, "k", Some("a"));
        b.log(2, "k", Some("b"));
        b.log(3, "j", Some("x"));
        b.log(4, "j", None);
        b.final_state("k", Some("b"));
        b.final_state("j", None);
        b.nodes(&[(1, 4, "h"), (2, 4, "h")]);
        b.build()
    }

    #[test]
    fn valid_history_passes() {
        let r = check(&base());
        assert!(r.passed, "{r:?}");
        assert_eq!(r.checked, 5 + 2 + 2);
    }

    #[test]
    fn acknowledged_write_missing_from_log_fails() {
        let mut h = base();
        h.log.retain(|e| e.revision != 2);
        h.log[0].revision = 1;
        let r = check(&h);
        assert!(!r.passed);
        assert!(r.violating_ops.contains(&2), "{r:?}");
    }

    #[test]
    fn write_at_wrong_revision_fails() {
        let mut h = base();
        if let Outcome::Ok { revision, .. } = &mut h.ops[1].outcome {
            *revision = Some(3);
        }
        let r = check(&h);
        assert!(!r.passed);
        assert_eq!(r.violating_ops, vec![2]);
    }

    #[test]
    fn failed_write_in_log_fails() {
        let mut h = base();
        h.log.push(log_event(5, "k", Some("zz")));
        h.final_state[0].1 = Some("zz".into());
        h.nodes.iter_mut().for_each(|n| n.revision = 5);
        let r = check(&h);
        assert!(!r.passed);
        assert_eq!(r.violating_ops, vec![5]);
    }

    #[test]
    fn final_state_disagreeing_with_log_fails() {
        let mut h = base();
        h.final_state[0].1 = Some("a".into());
        let r = check(&h);
        assert_fails(&r, "final state differs");
    }

    #[test]
    fn node_behind_fails() {
        let mut h = base();
        h.nodes[1].revision = 3;
        let r = check(&h);
        assert_fails(&r, "node");
    }

    #[test]
    fn other_revisions_count_as_committed() {
        let mut h = base();
        h.other_revisions = vec![5];
        h.nodes.iter_mut().for_each(|n| n.revision = 5);
        assert!(check(&h).passed);
    }

    #[test]
    fn random_histories_pass() {
        for seed in 0..4 {
            let h = random_history(&RandomSpec { seed, ..RandomSpec::default() });
            let r = check(&h);
            assert!(r.passed, "seed {seed}: {r:?}");
        }
    }

    #[test]
    fn empty_history_passes() {
        assert!(check(&History::default()).passed);
    }
}
