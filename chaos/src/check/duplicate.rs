//! No operation is applied twice, and the log's revisions are strictly increasing.
//!
//! Invariants of the final log:
//! - every write value (unique per write) appears in at most one change;
//! - every request id (Idempotency-Key) produced at most one event (an empty request id is not
//!   an id and is not compared);
//! - revisions strictly increase from one event to the next (so none is used twice), and none is
//!   also listed in `h.other_revisions`.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::{first_problem, CheckResult};
use crate::history::{History, OpKind, Outcome};

const NAME: &str = "duplicate";

/// Runs the check.
pub fn check(h: &History) -> CheckResult {
    let mut problems: Vec<serde_json::Value> = Vec::new();
    let mut violating = Vec::new();

    // Which operation wrote each value, for reporting.
    let mut writer: HashMap<&str, u64> = HashMap::new();
    for op in &h.ops {
        if let OpKind::Create { value, .. } | OpKind::Update { value, .. } = &op.kind {
            writer.insert(value, op.id);
        }
    }
    // Operations that committed at a revision, for reporting.
    let mut by_revision: HashMap<u64, Vec<u64>> = HashMap::new();
    for op in &h.ops {
        if let (true, Outcome::Ok { revision: Some(r), .. }) = (op.kind.is_write(), &op.outcome) {
            by_revision.entry(*r).or_default().push(op.id);
        }
    }

    let mut values: HashMap<&str, Vec<u64>> = HashMap::new();
    let mut request_ids: HashMap<&str, Vec<u64>> = HashMap::new();
    let other: HashSet<u64> = h.other_revisions.iter().copied().collect();
    let mut prev: Option<u64> = None;
    for ev in &h.log {
        if let Some(p) = prev {
            if ev.revision <= p {
                violating.extend(by_revision.get(&ev.revision).into_iter().flatten());
                problems.push(json!({
                    "problem": if ev.revision == p { "revision used twice" } else { "revisions out of order" },
                    "previous_revision": p,
                    "revision": ev.revision,
                }));
            }
        }
        prev = Some(ev.revision);
        if other.contains(&ev.revision) {
            problems.push(json!({
                "problem": "revision both in the log and in other_revisions",
                "revision": ev.revision,
            }));
        }
        if !ev.request_id.is_empty() {
            request_ids.entry(&ev.request_id).or_default().push(ev.revision);
        }
        for ch in &ev.changes {
            if let Some(v) = &ch.value {
                values.entry(v).or_default().push(ev.revision);
            }
        }
    }

    let mut dup_values: Vec<(&str, Vec<u64>)> =
        values.into_iter().filter(|(_, revs)| revs.len() > 1).collect();
    dup_values.sort_unstable_by_key(|(_, revs)| revs.first().copied());
    for (value, revisions) in dup_values {
        let op = writer.get(value).copied();
        violating.extend(op);
        problems.push(json!({
            "problem": "value applied more than once",
            "value": value,
            "revisions": revisions,
            "op": op,
        }));
    }
    let mut dup_ids: Vec<(&str, Vec<u64>)> =
        request_ids.into_iter().filter(|(_, revs)| revs.len() > 1).collect();
    dup_ids.sort_unstable_by_key(|(_, revs)| revs.first().copied());
    for (request_id, revisions) in dup_ids {
        for r in &revisions {
            violating.extend(by_revision.get(r).into_iter().flatten());
        }
        problems.push(json!({
            "problem": "request id applied more than once",
            "request_id": request_id,
            "revisions": revisions,
        }));
    }

    let checked = h.log.len();
    if problems.is_empty() {
        return CheckResult::pass(
            NAME,
            checked,
            format!("{checked} log events: every value and request id applied once, revisions increasing"),
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
        b.op(1, update("k", "b", "a", 1), 20, 30, ok_write(3));
        b.op(2, delete("k", None), 40, 50, ok_write(4));
        b.log(1, "k", Some("a"));
        b.log(3, "k", Some("b"));
        b.log(4, "k", None);
        let mut h = b.build();
        h.other_revisions = vec![2];
        h
    }

    #[test]
    fn valid_history_passes() {
        let r = check(&base());
        assert!(r.passed, "{r:?}");
        assert_eq!(r.checked, 3);
    }

    #[test]
    fn value_applied_twice_fails() {
        let mut h = base();
        let mut again = log_event(5, "k", Some("b"));
        again.request_id = "req-retry".into();
        h.log.push(again);
        let r = check(&h);
        assert_fails(&r, "value applied more than once");
        assert_eq!(r.violating_ops, vec![2]);
    }

    #[test]
    fn request_id_applied_twice_fails() {
        let mut h = base();
        let mut again = log_event(5, "k", None);
        again.request_id = "req-4".into();
        h.log.push(again);
        let r = check(&h);
        assert_fails(&r, "request id");
        assert_eq!(r.violating_ops, vec![3]);
    }

    #[test]
    fn revision_twice_or_backwards_fails() {
        let mut h = base();
        h.log[1].revision = 1;
        assert!(!check(&h).passed);
        let mut h = base();
        h.log.swap(0, 1);
        assert!(!check(&h).passed);
        let mut h = base();
        h.other_revisions.push(3);
        assert!(!check(&h).passed);
    }

    #[test]
    fn empty_request_ids_are_not_compared() {
        let mut h = base();
        h.log.iter_mut().for_each(|e| e.request_id.clear());
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
}
