//! Every watch stream is ordered, duplicate-free and gap-free.
//!
//! Invariant, for each stream that received anything: revisions never decrease and no
//! (revision, key) arrives twice; the first revision is after `from_revision`; and the events
//! received are exactly the log's changes (one event per change, in log order) with revision in
//! `(from_revision, last received revision]`, with the same key and value. Revisions in
//! `h.other_revisions` belong to keys outside the test: they are neither expected nor compared
//! (they still count for ordering). A stream that received nothing passes.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::{first_problem, CheckResult};
use crate::history::{History, Outcome, WatchStream};

const NAME: &str = "watch";

/// One change of the log, flattened.
struct Change<'h> {
    revision: u64,
    key: &'h str,
    value: Option<&'h str>,
}

/// Runs the check.
pub fn check(h: &History) -> CheckResult {
    let mut log: Vec<Change<'_>> = h
        .log
        .iter()
        .flat_map(|e| {
            e.changes.iter().map(|c| Change {
                revision: e.revision,
                key: &c.key,
                value: c.value.as_deref(),
            })
        })
        .collect();
    // Stable: the changes of one event keep their order.
    log.sort_by_key(|c| c.revision);
    let other: HashSet<u64> = h.other_revisions.iter().copied().collect();
    let mut by_revision: HashMap<u64, Vec<u64>> = HashMap::new();
    for op in &h.ops {
        if let (true, Outcome::Ok { revision: Some(r), .. }) = (op.kind.is_write(), &op.outcome) {
            by_revision.entry(*r).or_default().push(op.id);
        }
    }

    let mut problems = Vec::new();
    let mut violating = Vec::new();
    let mut events = 0;
    for w in &h.watches {
        events += w.events.len();
        if let Some((problem, revision)) = check_stream(w, &log, &other) {
            if let Some(r) = revision {
                violating.extend(by_revision.get(&r).into_iter().flatten());
            }
            problems.push(problem);
        }
    }

    let streams = h.watches.len();
    if problems.is_empty() {
        return CheckResult::pass(
            NAME,
            streams,
            format!("{streams} streams, {events} events: ordered, duplicate-free, gap-free"),
        );
    }
    let message = format!(
        "{} of {streams} streams broken; first: stream {}: {}",
        problems.len(),
        problems[0].get("stream").and_then(|s| s.as_u64()).unwrap_or(0),
        first_problem(&problems)
    );
    CheckResult::from_problems(NAME, streams, message, "streams", problems, violating)
}

/// The first problem of one stream, and the log revision involved (to find its writer).
fn check_stream(
    w: &WatchStream,
    log: &[Change<'_>],
    other: &HashSet<u64>,
) -> Option<(serde_json::Value, Option<u64>)> {
    let report = |problem: &str, index: usize, details: serde_json::Value| {
        json!({
            "stream": w.id,
            "node": w.node,
            "from_revision": w.from_revision,
            "problem": problem,
            "event_index": index,
            "details": details,
        })
    };
    let event_json = |i: usize| w.events.get(i).map(|e| json!(e)).unwrap_or(json!(null));

    // Ordering.
    let mut keys_at_revision: HashSet<&str> = HashSet::new();
    for (i, e) in w.events.iter().enumerate() {
        let previous = if i == 0 { None } else { w.events.get(i - 1) };
        match previous {
            None => {
                if e.revision <= w.from_revision {
                    return Some((
                        report("event at or before from_revision", i, event_json(i)),
                        None,
                    ));
                }
            }
            Some(p) if e.revision < p.revision => {
                return Some((
                    report(
                        "out of order",
                        i,
                        json!({ "previous": event_json(i - 1), "event": event_json(i) }),
                    ),
                    None,
                ));
            }
            Some(p) if e.revision == p.revision => {
                if !keys_at_revision.insert(&e.key) {
                    return Some((
                        report(
                            "duplicate event",
                            i,
                            json!({ "previous": event_json(i - 1), "event": event_json(i) }),
                        ),
                        Some(e.revision),
                    ));
                }
                continue;
            }
            Some(_) => {}
        }
        keys_at_revision.clear();
        keys_at_revision.insert(&e.key);
    }

    // Completeness against the log.
    let last = w.events.last()?.revision;
    let start = log.partition_point(|c| c.revision <= w.from_revision);
    let end = log.partition_point(|c| c.revision <= last);
    let expected = log.get(start..end).unwrap_or(&[]);
    let received: Vec<(usize, &crate::history::WatchEvent)> =
        w.events.iter().enumerate().filter(|(_, e)| !other.contains(&e.revision)).collect();
    let change_json =
        |c: &Change<'_>| json!({ "revision": c.revision, "key": c.key, "value": c.value });
    for k in 0..expected.len().max(received.len()) {
        match (expected.get(k), received.get(k)) {
            (Some(x), Some((i, e))) => {
                if x.revision == e.revision && x.key == e.key && x.value == e.value.as_deref() {
                    continue;
                }
                let problem = if x.revision < e.revision {
                    "gap: missing event"
                } else if x.revision > e.revision {
                    "event not in the log"
                } else {
                    "event differs from the log"
                };
                let revision = x.revision.min(e.revision);
                return Some((
                    report(
                        problem,
                        *i,
                        json!({ "expected": change_json(x), "received": event_json(*i) }),
                    ),
                    Some(revision),
                ));
            }
            (Some(x), None) => {
                return Some((
                    report(
                        "gap: missing event",
                        w.events.len(),
                        json!({ "expected": change_json(x), "received": null }),
                    ),
                    Some(x.revision),
                ));
            }
            (None, Some((i, e))) => {
                return Some((
                    report("event not in the log", *i, json!({ "received": event_json(*i) })),
                    Some(e.revision),
                ));
            }
            (None, None) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn base() -> History {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(1, update("k", "b", "a", 1), 20, 30, ok_write(2));
        b.op(2, create("j", "x"), 20, 30, ok_write(4));
        b.op(2, delete("k", None), 40, 50, ok_write(5));
        b.log(1, "k", Some("a"));
        b.log(2, "k", Some("b"));
        b.log(4, "j", Some("x"));
        b.log(5, "k", None);
        b.watch(0, &[(1, "k", Some("a")), (2, "k", Some("b")), (4, "j", Some("x"))]);
        b.watch(2, &[(4, "j", Some("x")), (5, "k", None)]);
        b.watch(5, &[]);
        let mut h = b.build();
        h.other_revisions = vec![3];
        h
    }

    #[test]
    fn valid_history_passes() {
        let r = check(&base());
        assert!(r.passed, "{r:?}");
        assert_eq!(r.checked, 3);
    }

    #[test]
    fn gap_fails() {
        let mut h = base();
        h.watches[0].events.remove(1);
        let r = check(&h);
        assert_fails(&r, "gap");
        assert_eq!(r.violating_ops, vec![2]);
    }

    #[test]
    fn gap_at_the_start_fails() {
        let mut h = base();
        h.watches[1].from_revision = 1;
        let r = check(&h);
        assert_fails(&r, "gap");
    }

    #[test]
    fn duplicate_fails() {
        let mut h = base();
        let e = h.watches[0].events[1].clone();
        h.watches[0].events.insert(2, e);
        let r = check(&h);
        assert_fails(&r, "duplicate");
    }

    #[test]
    fn out_of_order_fails() {
        let mut h = base();
        h.watches[0].events.swap(1, 2);
        let r = check(&h);
        assert_fails(&r, "out of order");
    }

    #[test]
    fn event_before_from_revision_fails() {
        let mut h = base();
        h.watches[1].from_revision = 4;
        let r = check(&h);
        assert_fails(&r, "from_revision");
    }

    #[test]
    fn wrong_value_fails() {
        let mut h = base();
        h.watches[0].events[1].value = Some("zz".into());
        let r = check(&h);
        assert_fails(&r, "differs");
    }

    #[test]
    fn phantom_event_fails() {
        let mut h = base();
        h.watches[1].events.push(crate::history::WatchEvent {
            revision: 6,
            key: "k".into(),
            value: Some("c".into()),
        });
        let r = check(&h);
        assert_fails(&r, "not in the log");
    }

    #[test]
    fn other_revision_received_is_ignored() {
        let mut h = base();
        h.watches[0].events.insert(
            2,
            crate::history::WatchEvent {
                revision: 3,
                key: "outside".into(),
                value: Some("o".into()),
            },
        );
        let r = check(&h);
        assert!(r.passed, "{r:?}");
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
