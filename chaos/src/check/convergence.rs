//! Every node converges to the same state.
//!
//! Invariant: once the run has healed, every node in `h.nodes` reports the same applied revision
//! and the same state hash at it, and at least one node reported.

use std::collections::BTreeMap;

use serde_json::json;

use super::CheckResult;
use crate::history::History;

const NAME: &str = "convergence";

/// Runs the check.
pub fn check(h: &History) -> CheckResult {
    let n = h.nodes.len();
    let Some(first) = h.nodes.first() else {
        return CheckResult::fail(NAME, 0, "no node reported its final state", None, Vec::new());
    };
    if h.nodes.iter().all(|s| s.revision == first.revision && s.hash == first.hash) {
        return CheckResult::pass(
            NAME,
            n,
            format!("{n} nodes at revision {} with hash {}", first.revision, first.hash),
        );
    }
    // Group the nodes by what they report.
    let mut groups: BTreeMap<(u64, &str), Vec<u64>> = BTreeMap::new();
    for s in &h.nodes {
        groups.entry((s.revision, &s.hash)).or_default().push(s.node);
    }
    let summary: Vec<String> = groups
        .iter()
        .map(|((revision, hash), nodes)| {
            format!("nodes {nodes:?} at revision {revision} hash {hash}")
        })
        .collect();
    let counterexample: Vec<serde_json::Value> = groups
        .iter()
        .map(|((revision, hash), nodes)| json!({ "revision": revision, "hash": hash, "nodes": nodes }))
        .collect();
    CheckResult::fail(
        NAME,
        n,
        format!("nodes diverge: {}", summary.join("; ")),
        Some(json!({ "groups": counterexample })),
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn with_nodes(nodes: &[(u64, u64, &str)]) -> History {
        let mut b = Builder::new();
        b.nodes(nodes);
        b.build()
    }

    #[test]
    fn same_state_passes() {
        let r = check(&with_nodes(&[(1, 7, "abc"), (2, 7, "abc"), (3, 7, "abc")]));
        assert!(r.passed, "{r:?}");
        assert_eq!(r.checked, 3);
    }

    #[test]
    fn different_hash_fails() {
        let r = check(&with_nodes(&[(1, 7, "abc"), (2, 7, "abd"), (3, 7, "abc")]));
        assert_fails(&r, "[2]");
    }

    #[test]
    fn different_revision_fails() {
        assert!(!check(&with_nodes(&[(1, 7, "abc"), (2, 6, "abc")])).passed);
    }

    #[test]
    fn no_node_fails() {
        assert!(!check(&History::default()).passed);
    }
}
