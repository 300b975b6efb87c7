//! No client sees revisions go backwards.
//!
//! Invariant, per client (whose operations are sequential; taken in invoke order): every `Ok`
//! write commits at a revision strictly greater than any revision the client observed before,
//! and every `Ok` list reads at a revision at least that high. A `Get` reports the key's
//! modRevision, which may legitimately be lower than the store's revision, so it is not compared
//! with that bound; but it raises the bound (the store was at least there), and its value must
//! not be older than what the client itself last wrote or read for that key: its modRevision is
//! at least the revision of the client's last known modification of the key, and equal only
//! with the same value.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::{first_problem, op_json, CheckResult};
use crate::history::{History, Op, OpKind, Outcome};

const NAME: &str = "monotonic";

/// What a client last knew of a key: the modification revision, the value then, and the
/// operation that told it.
type Known<'h> = (u64, Option<&'h str>, &'h Op);

/// Runs the check.
pub fn check(h: &History) -> CheckResult {
    let mut clients: BTreeMap<u32, Vec<&Op>> = BTreeMap::new();
    for op in &h.ops {
        clients.entry(op.client).or_default().push(op);
    }

    let mut problems = Vec::new();
    let mut violating = Vec::new();
    let mut checked = 0;
    for (client, mut ops) in clients {
        ops.sort_by_key(|o| (o.invoke_ns, o.id));
        // The highest revision observed so far, and by which operation.
        let mut high: Option<(u64, &Op)> = None;
        let mut known: HashMap<&str, Known<'_>> = HashMap::new();
        for op in ops {
            let Outcome::Ok { revision: Some(r), value, .. } = &op.outcome else { continue };
            let r = *r;
            let mut broken = |problem: String, earlier: &Op| {
                violating.extend([earlier.id, op.id]);
                problems.push(json!({
                    "client": client,
                    "problem": problem,
                    "earlier": op_json(earlier),
                    "op": op_json(op),
                }));
            };
            checked += 1;
            match &op.kind {
                OpKind::Create { key, value: v } | OpKind::Update { key, value: v, .. } => {
                    if let Some((m, by)) = high.filter(|(m, _)| r <= *m) {
                        broken(format!("write committed at revision {r}, not after revision {m} observed earlier"), by);
                    }
                    known.insert(key, (r, Some(v), op));
                }
                OpKind::Delete { key, .. } => {
                    if let Some((m, by)) = high.filter(|(m, _)| r <= *m) {
                        broken(format!("delete committed at revision {r}, not after revision {m} observed earlier"), by);
                    }
                    known.insert(key, (r, None, op));
                }
                OpKind::List => {
                    if let Some((m, by)) = high.filter(|(m, _)| r < *m) {
                        broken(
                            format!(
                                "list read at revision {r}, before revision {m} observed earlier"
                            ),
                            by,
                        );
                    }
                }
                OpKind::Get { key } => {
                    let Some(v) = value.as_deref() else { continue };
                    if let Some(&(k, kv, by)) = known.get(key.as_str()) {
                        if r < k {
                            broken(format!("read {key:?} modified at revision {r}, older than the client's own view (revision {k})"), by);
                        } else if r == k && kv != Some(v) {
                            broken(format!("read {key:?} = {v:?} at revision {r}, where the client knew {kv:?}"), by);
                        }
                    }
                    if known.get(key.as_str()).is_none_or(|(k, _, _)| r > *k) {
                        known.insert(key, (r, Some(v), op));
                    }
                }
            }
            if high.is_none_or(|(m, _)| r > m) {
                high = Some((r, op));
            }
        }
    }

    if problems.is_empty() {
        return CheckResult::pass(
            NAME,
            checked,
            format!("{checked} observed revisions: no client went backwards"),
        );
    }
    let message = format!(
        "{} regression(s); first: client {}: {}",
        problems.len(),
        problems[0].get("client").and_then(|c| c.as_u64()).unwrap_or(0),
        first_problem(&problems)
    );
    CheckResult::from_problems(NAME, checked, message, "regressions", problems, violating)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn base() -> History {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, create("j", "x"), 0, 10, ok_write(2));
        b.op(1, get("j"), 20, 30, ok_get(Some("x"), Some(2)));
        b.op(1, get("k"), 40, 50, ok_get(Some("a"), Some(1)));
        b.op(1, crate::history::OpKind::List, 60, 70, ok_list(2, &[("k", "a"), ("j", "x")]));
        b.op(1, update("k", "b", "a", 1), 80, 90, ok_write(3));
        b.build()
    }

    #[test]
    fn valid_history_passes() {
        let r = check(&base());
        assert!(r.passed, "{r:?}");
        assert_eq!(r.checked, 6);
    }

    #[test]
    fn write_going_backwards_fails() {
        let mut h = base();
        h.ops[5].outcome = ok_write(2);
        let r = check(&h);
        assert!(!r.passed);
        assert_eq!(r.violating_ops, vec![3, 6]);
    }

    #[test]
    fn list_going_backwards_fails() {
        let mut h = base();
        h.ops[4].outcome = ok_list(1, &[("k", "a")]);
        let r = check(&h);
        assert!(!r.passed);
        assert_eq!(r.violating_ops, vec![3, 5]);
    }

    #[test]
    fn read_older_than_own_write_fails() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(1, update("k", "b", "a", 1), 20, 30, ok_write(2));
        b.op(1, get("k"), 40, 50, ok_get(Some("a"), Some(1)));
        let r = check(&b.build());
        assert!(!r.passed);
        assert_eq!(r.violating_ops, vec![2, 3]);
    }

    #[test]
    fn other_clients_are_independent() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(5));
        b.op(2, create("j", "x"), 20, 30, ok_write(3));
        assert!(check(&b.build()).passed);
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
