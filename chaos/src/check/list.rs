//! Every list is a snapshot of the log.
//!
//! Invariant: every `Ok` list read at revision `R` holds exactly the keys the log, folded up to
//! revision `R`, leaves present, with the same values (order-insensitive). A list must carry its
//! revision and items, must not name a key twice, and must not be read at a revision beyond the
//! last committed one. Keys outside the test (named by no operation, log change or final read)
//! are ignored: the runner's own objects may share the listed collection.

use std::collections::{BTreeMap, HashSet};

use serde_json::json;

use super::{first_problem, op_json, CheckResult};
use crate::history::{History, Op, OpKind, Outcome};

const NAME: &str = "list";

/// Runs the check.
pub fn check(h: &History) -> CheckResult {
    let mut under_test: HashSet<&str> = HashSet::new();
    for op in &h.ops {
        if let Some(k) = op.kind.key() {
            under_test.insert(k);
        }
    }
    for ev in &h.log {
        for ch in &ev.changes {
            under_test.insert(&ch.key);
        }
    }
    for (k, _) in &h.final_state {
        under_test.insert(k);
    }
    let last_committed = h
        .log
        .iter()
        .map(|e| e.revision)
        .chain(h.other_revisions.iter().copied())
        .max()
        .unwrap_or(0);

    let mut problems = Vec::new();
    let mut violating = Vec::new();
    let mut lists: Vec<(u64, &Op)> = Vec::new();
    for op in &h.ops {
        if let (OpKind::List, Outcome::Ok { revision, list, .. }) = (&op.kind, &op.outcome) {
            match (revision, list) {
                (Some(r), Some(_)) if *r <= last_committed => lists.push((*r, op)),
                (Some(r), Some(_)) => {
                    violating.push(op.id);
                    problems.push(json!({
                        "problem": format!("read at revision {r}, beyond the last committed revision {last_committed}"),
                        "op": op_json(op),
                    }));
                }
                _ => {
                    violating.push(op.id);
                    problems.push(json!({
                        "problem": "list without revision or items",
                        "op": op_json(op),
                    }));
                }
            }
        }
    }
    let checked = lists.len() + problems.len();
    lists.sort_by_key(|(r, op)| (*r, op.id));

    let mut log: Vec<&crate::history::LogEvent> = h.log.iter().collect();
    log.sort_by_key(|e| e.revision);
    let mut next = 0;
    let mut state: BTreeMap<&str, &str> = BTreeMap::new();
    for (revision, op) in lists {
        let Outcome::Ok { list: Some(items), .. } = &op.outcome else { continue };
        while let Some(ev) = log.get(next).filter(|e| e.revision <= revision) {
            for ch in &ev.changes {
                match &ch.value {
                    Some(v) => {
                        state.insert(&ch.key, v);
                    }
                    None => {
                        state.remove(ch.key.as_str());
                    }
                }
            }
            next += 1;
        }
        let mut got: BTreeMap<&str, &str> = BTreeMap::new();
        let mut twice = Vec::new();
        for (k, v) in items {
            if !under_test.contains(k.as_str()) {
                continue;
            }
            if got.insert(k, v).is_some() {
                twice.push(k.as_str());
            }
        }
        let missing: Vec<(&str, &str)> =
            state.iter().filter(|(k, _)| !got.contains_key(*k)).map(|(k, v)| (*k, *v)).collect();
        let extra: Vec<(&str, &str)> =
            got.iter().filter(|(k, _)| !state.contains_key(*k)).map(|(k, v)| (*k, *v)).collect();
        let differ: Vec<serde_json::Value> = got
            .iter()
            .filter_map(|(k, v)| {
                let want = state.get(k)?;
                (want != v).then(|| json!({ "key": k, "listed": v, "log": want }))
            })
            .collect();
        if missing.is_empty() && extra.is_empty() && differ.is_empty() && twice.is_empty() {
            continue;
        }
        violating.push(op.id);
        problems.push(json!({
            "problem": format!("list at revision {revision} differs from the log folded to it"),
            "op": op.id,
            "client": op.client,
            "missing": missing,
            "extra": extra,
            "different": differ,
            "listed_twice": twice,
        }));
    }

    if problems.is_empty() {
        return CheckResult::pass(NAME, checked, format!("{checked} lists match the log"));
    }
    let message = format!(
        "{} list(s) wrong; first: op {}: {}",
        problems.len(),
        violating.first().copied().unwrap_or(0),
        first_problem(&problems)
    );
    CheckResult::from_problems(NAME, checked, message, "lists", problems, violating)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn base() -> History {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, OpKind::List, 5, 15, ok_list(0, &[]));
        b.op(2, OpKind::List, 20, 25, ok_list(1, &[("k", "a")]));
        b.op(1, create("j", "x"), 20, 30, ok_write(3));
        b.op(1, update("k", "b", "a", 1), 40, 50, ok_write(4));
        b.op(2, OpKind::List, 40, 45, ok_list(3, &[("j", "x"), ("k", "a"), ("setup", "s")]));
        b.op(2, OpKind::List, 60, 65, ok_list(5, &[("k", "b"), ("j", "x")]));
        b.log(1, "k", Some("a"));
        b.log(3, "j", Some("x"));
        b.log(4, "k", Some("b"));
        let mut h = b.build();
        h.other_revisions = vec![2, 5];
        h
    }

    #[test]
    fn valid_history_passes() {
        let r = check(&base());
        assert!(r.passed, "{r:?}");
        assert_eq!(r.checked, 4);
    }

    #[test]
    fn stale_list_fails() {
        let mut h = base();
        h.ops[6].outcome = ok_list(5, &[("k", "a"), ("j", "x")]);
        let r = check(&h);
        assert!(!r.passed);
        assert_eq!(r.violating_ops, vec![7]);
    }

    #[test]
    fn missing_and_extra_keys_fail() {
        let mut h = base();
        h.ops[2].outcome = ok_list(1, &[]);
        h.ops[1].outcome = ok_list(0, &[("k", "a")]);
        let r = check(&h);
        assert!(!r.passed);
        assert_eq!(r.violating_ops, vec![2, 3]);
    }

    #[test]
    fn key_listed_twice_fails() {
        let mut h = base();
        h.ops[2].outcome = ok_list(1, &[("k", "a"), ("k", "a")]);
        assert!(!check(&h).passed);
    }

    #[test]
    fn list_beyond_last_revision_fails() {
        let mut h = base();
        h.ops[6].outcome = ok_list(9, &[("k", "b"), ("j", "x")]);
        assert!(!check(&h).passed);
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
