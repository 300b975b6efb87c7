//! Linearizability of the per-key register / compare-and-set history.
//!
//! Invariant: for every key, the `Create`, `Update`, `Delete` and `Get` operations on it can be
//! put in one total order that respects real time (`a` precedes `b` when
//! `a.complete_ns < b.invoke_ns`) and in which every operation's outcome is what a sequential
//! register would have answered. Lists are not checked here (see [`super::list`]).
//!
//! The model of one key is `Option<Value>`, initially `None`:
//!
//! | operation                 | outcome         | precondition              | effect        |
//! |---------------------------|-----------------|---------------------------|---------------|
//! | `Create{value}`           | ok              | `None`                    | `Some(value)` |
//! | `Create`                  | `AlreadyExists` | `Some(_)`                 |               |
//! | `Update{value, expect}`   | ok              | `Some(expect)`            | `Some(value)` |
//! | `Update{expect}`          | `Conflict`      | `Some(v)`, `v != expect`  |               |
//! | `Update`, `Delete`, `Get` | `NotFound`      | `None`                    |               |
//! | `Delete{expect}`          | ok              | `Some(_)` / `Some(expect)`| `None`        |
//! | `Delete{expect: Some(e)}` | `Conflict`      | `!= Some(e)`              |               |
//! | `Get`                     | ok `value`      | `== value`                |               |
//!
//! A `Refused` operation never happened and is dropped; so is any failure the table does not
//! list (it constrains nothing), and any `Unknown` read.
//!
//! # Unknown writes
//!
//! An `Unknown` write may take effect at any time after its invocation, or never. Left like
//! that, each one is a choice at every later point of the search, which is what makes checkers
//! blow up. Values are unique per write, so the final log decides most of them:
//!
//! - an `Unknown` create or update whose value appears in `h.log` on that key committed: it
//!   becomes a definite operation; one whose value never appears did not take effect (dropped);
//! - deletes carry no value. Per key, the log's deletions not at the revision of an acknowledged
//!   delete ("orphan" deletions) were made by `Unknown` deletes. An `Unknown` delete is a
//!   candidate for an orphan when its `expect` (if any) is the value the orphan removed and it
//!   was invoked before the orphan's revision became visible (below). A delete that is a
//!   candidate for no orphan did not happen (dropped); when the candidates are exactly as many
//!   as the orphans, each made one (definite); otherwise each may or may not have happened.
//!   Either way, if it took effect it made an orphan, so the model lets it remove only a value
//!   that an orphan removed.
//!
//! The completion time of a committed `Unknown` write is then bounded by revisions: a write
//! that committed at revision `r` took effect before any `Ok` operation reporting a revision
//! `>= r` completed (a write committed after it, a list or get read a state including it). So
//! its completion becomes the earliest completion of such an operation (+infinity if none; an
//! `Unknown` delete takes the latest bound over its candidate orphans).
//!
//! **Caveat.** This relies on the final log being the true commit history and on revisions
//! being assigned in commit order, which [`super::lost_write`], [`super::duplicate`] and
//! [`super::monotonic`] check against the acknowledged operations: read the verdicts together.
//! A failure involving an `Unknown` write can also mean the log or the revisions are wrong.
//!
//! # Direct checks
//!
//! With unique values the register holds `Some(x)` during one interval only, between the write
//! of `x` and the one operation that replaces it. A linear pass over each key finds the common
//! violations with a two- or three-operation counterexample: an operation needing a value no
//! operation wrote, or written only after it completed; two operations replacing the same value
//! (a lost update); an operation needing a value replaced before it began (a stale read).
//!
//! # Search
//!
//! Otherwise: Wing & Gong's algorithm with Lowe's memoisation of (linearized set, state), as in
//! Porcupine, on each key independently (P-compositionality). A configuration is stored
//! compactly as (state, highest decided operation, the undecided operations below it), so
//! memory does not grow with the length of the history. Reductions, each exact:
//!
//! - a read (any operation that changes nothing) that fits the state is linearized at once,
//!   with no alternative (moving a read earlier, as far as real time allows, never hurts);
//! - of interchangeable deletes (same precondition), only the one due first is tried;
//! - leaving `Some(x)` while a definite operation that needs `Some(x)` is not yet linearized is
//!   a dead end (the value never comes back);
//! - "may have happened" operations are tried only after the definite ones, and dropped when
//!   their completion passes.
//!
//! A key whose search explores more than the budget of configurations is reported as
//! inconclusive (a failure).
//!
//! # Counterexample
//!
//! For the first failing keys found by the search, a small time window of that key's operations
//! that is itself not linearizable: it ends as early as possible (the shortest failing prefix),
//! starts as late as possible (with an unknown initial state; writes straddling a cut "may have
//! happened"), and reads that are not needed are dropped. Each step is sound: if the window
//! cannot be linearized, neither can the history. The shrinking effort is bounded; past it, the
//! window is the key's whole history.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use serde_json::json;

use super::CheckResult;
use crate::history::{FailReason, History, LogEvent, OpKind, Outcome};

const NAME: &str = "linearizable";

/// Configurations (distinct (linearized set, state) pairs) explored per key before giving up.
pub const DEFAULT_BUDGET: usize = 2_000_000;
/// The undecided operations stored with configurations, in all, before a search gives up
/// (bounds memory: 4 bytes each).
const MAX_STORED_HOLES: usize = 64 << 20;
/// Configurations explored per key, in all, while shrinking its counterexample.
const SHRINK_EFFORT: usize = 1_000_000;
/// At most this many failing keys get a shrunk counterexample.
const MAX_SHRUNK_KEYS: usize = 3;
/// Windows whose initial state could be more than this many values are not tried.
const MAX_INITIAL_STATES: usize = 64;
/// At most this many reads are tried for removal while shrinking.
const MAX_DROP_ATTEMPTS: usize = 64;
/// At most this many operation ids are spelled out in the message.
const MAX_IDS_IN_MESSAGE: usize = 12;

/// Checks with [`DEFAULT_BUDGET`].
pub fn check(h: &History) -> CheckResult {
    check_with_budget(h, DEFAULT_BUDGET)
}

/// Checks, exploring at most `budget` configurations per key.
pub fn check_with_budget(h: &History, budget: usize) -> CheckResult {
    let malformed: Vec<u64> =
        h.ops.iter().filter(|o| o.complete_ns < o.invoke_ns).map(|o| o.id).collect();
    if !malformed.is_empty() {
        return CheckResult::fail(
            NAME,
            0,
            format!(
                "malformed history: {} operation(s) complete before they are invoked",
                malformed.len()
            ),
            Some(json!({ "malformed_ops": &malformed })),
            malformed,
        );
    }

    let (keys, stats) = partition(h);
    let checked: usize = keys.values().map(|k| k.ops.len()).sum();

    // Per failing key: the counterexample when a direct check found one.
    let mut violations: Vec<(&str, Option<(Window, &str)>)> = Vec::new();
    let mut inconclusive: Vec<(&str, usize)> = Vec::new();
    for (key, kh) in &keys {
        if let Some(found) = lifetime_violation(kh) {
            violations.push((key, Some(found)));
            continue;
        }
        let r = search(&kh.ops, NONE, &kh.tables(), budget);
        match r.verdict {
            Verdict::Linearizable => {}
            Verdict::Violation => violations.push((key, None)),
            Verdict::Inconclusive => inconclusive.push((key, r.explored)),
        }
    }

    let summary = format!(
        "{} operations on {} keys; {} unknown writes: {} committed per the log, {} did not, {} \
         undecided",
        checked,
        keys.len(),
        stats.unknown_writes,
        stats.unknown_definite,
        stats.unknown_dropped,
        stats.unknown_maybe
    );
    let inconclusive_keys: Vec<&str> = inconclusive.iter().map(|(k, _)| *k).collect();

    let Some(first) = violations.first().map(|(k, _)| *k) else {
        let Some((key, explored)) = inconclusive.first() else {
            return CheckResult::pass(NAME, checked, format!("linearizable: {summary}"));
        };
        let others = match inconclusive.len() {
            1 => String::new(),
            n => format!(" (and {} other keys)", n - 1),
        };
        return CheckResult::fail(
            NAME,
            checked,
            format!(
                "inconclusive: the search of key {key:?} gave up after {explored} configurations \
                 (budget {budget}){others}; {summary}"
            ),
            Some(json!({ "inconclusive_keys": inconclusive_keys, "budget": budget })),
            Vec::new(),
        );
    };

    let mut windows = Vec::new();
    let mut violating_ops = Vec::new();
    let mut first_ids = Vec::new();
    let mut first_reason = "";
    for (key, found) in violations.iter_mut().take(MAX_SHRUNK_KEYS) {
        let Some(kh) = keys.get(key) else { continue };
        let (w, reason) = match found.take() {
            Some(found) => found,
            None => (shrink(kh), "no linearization"),
        };
        let ids: Vec<u64> = w.ops.iter().map(|o| h.ops[o.src].id).collect();
        if first_ids.is_empty() {
            first_ids.clone_from(&ids);
            first_reason = reason;
        }
        violating_ops.extend(ids);
        windows.push(window_json(h, key, &w, reason));
    }
    let shown: Vec<u64> = first_ids.iter().copied().take(MAX_IDS_IN_MESSAGE).collect();
    let more = match first_ids.len().saturating_sub(shown.len()) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let mut message = format!(
        "not linearizable: key {first:?}: operations {shown:?}{more} cannot be linearized \
         ({first_reason})"
    );
    if violations.len() > 1 {
        message.push_str(&format!("; {} keys fail in all", violations.len()));
    }
    if !inconclusive.is_empty() {
        message.push_str(&format!("; {} keys inconclusive", inconclusive.len()));
    }
    message.push_str(&format!("; {summary}"));
    CheckResult::fail(
        NAME,
        checked,
        message,
        Some(json!({
            "failing_keys": violations.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "inconclusive_keys": inconclusive_keys,
            "windows": windows,
        })),
        violating_ops,
    )
}

// ---------------------------------------------------------------------------------------------
// The model.

/// A state: `NONE` (absent) or an interned value (`>= 1`).
type State = u32;
const NONE: State = 0;

/// One operation as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    /// `None -> Some(v)`.
    Create(State),
    /// `Some(expect) -> Some(value)`.
    Update { expect: State, value: State },
    /// `Some(_) -> None`, or `Some(e) -> None` when the argument is not `NONE`.
    Delete(State),
    /// An `Unknown` delete: as `Delete`, and only from a value the log shows removed by a
    /// deletion no acknowledged delete made (if it took effect, it made one of those).
    DeleteUnknown(State),
    /// The state is exactly this (`NONE`: absent).
    Read(State),
    /// The state is `Some(v)` with `v` other than this (`NONE`: any `Some`).
    ExistsNot(State),
    /// The state is anything but `Some(x)`.
    Not(State),
}

impl Act {
    fn step(self, s: State) -> Option<State> {
        match self {
            Act::Create(v) => (s == NONE).then_some(v),
            Act::Update { expect, value } => (s == expect).then_some(value),
            Act::Delete(e) | Act::DeleteUnknown(e) => {
                (s != NONE && (e == NONE || s == e)).then_some(NONE)
            }
            Act::Read(v) => (s == v).then_some(s),
            Act::ExistsNot(x) => (s != NONE && s != x).then_some(s),
            Act::Not(x) => (s != x).then_some(s),
        }
    }

    /// The value it can only be linearized at (the register holds `Some(v)`).
    fn requires(self) -> Option<State> {
        match self {
            Act::Update { expect, .. } => Some(expect),
            Act::Delete(e) | Act::DeleteUnknown(e) | Act::Read(e) if e != NONE => Some(e),
            _ => None,
        }
    }

    fn mutates(self) -> bool {
        matches!(self, Act::Create(_) | Act::Update { .. } | Act::Delete(_) | Act::DeleteUnknown(_))
    }

    /// The value it writes.
    fn writes(self) -> Option<State> {
        match self {
            Act::Create(v) | Act::Update { value: v, .. } => Some(v),
            _ => None,
        }
    }

    /// The value its precondition compares the state with, if any.
    fn compares(self) -> Option<State> {
        match self {
            Act::Update { expect: v, .. }
            | Act::Delete(v)
            | Act::DeleteUnknown(v)
            | Act::Read(v)
            | Act::ExistsNot(v)
            | Act::Not(v) => (v != NONE).then_some(v),
            Act::Create(_) => None,
        }
    }
}

/// One operation of one key.
#[derive(Clone, Copy, Debug)]
struct KOp {
    /// Index in `h.ops`.
    src: usize,
    invoke: u64,
    /// `None`: +infinity.
    complete: Option<u64>,
    /// May or may not have taken effect.
    maybe: bool,
    act: Act,
}

/// The operations of one key, in invoke order.
struct KeyHistory<'h> {
    ops: Vec<KOp>,
    /// Interned values: value -> state (`>= 1`).
    interner: HashMap<&'h str, State>,
    /// Values written by more than one operation (the pruning needs uniqueness).
    duplicated: HashSet<State>,
    /// Values removed by a deletion no acknowledged delete made.
    orphan_prevs: HashSet<State>,
}

/// Per state (`0..=fresh`), what the search needs to know.
struct Tables {
    /// Whether the pruning may rely on its uniqueness.
    prunable: Vec<bool>,
    /// Whether an `Unknown` delete may remove it.
    orphan_prev: Vec<bool>,
}

impl Tables {
    fn prunable(&self, s: State) -> bool {
        self.prunable.get(s as usize).copied().unwrap_or(false)
    }

    fn orphan_prev(&self, s: State) -> bool {
        self.orphan_prev.get(s as usize).copied().unwrap_or(false)
    }
}

impl<'h> KeyHistory<'h> {
    fn intern(&mut self, v: &'h str) -> State {
        let next = state_of(self.interner.len() + 1);
        *self.interner.entry(v).or_insert(next)
    }

    /// A value no operation mentions.
    fn fresh(&self) -> State {
        state_of(self.interner.len() + 1)
    }

    fn tables(&self) -> Tables {
        let states = 0..=self.interner.len() + 1;
        Tables {
            prunable: states.clone().map(|s| !self.duplicated.contains(&state_of(s))).collect(),
            orphan_prev: states.map(|s| self.orphan_prevs.contains(&state_of(s))).collect(),
        }
    }
}

fn state_of(i: usize) -> State {
    State::try_from(i).unwrap_or(State::MAX)
}

#[derive(Default)]
struct Stats {
    unknown_writes: usize,
    unknown_definite: usize,
    unknown_dropped: usize,
    unknown_maybe: usize,
}

/// What the log says about an `Unknown` write.
enum Resolution {
    /// It took effect, at the latest at this time (`None`: unbounded).
    Definite(Option<u64>),
    Dropped,
    /// It may have taken effect, and if so at the latest at this time.
    Maybe(Option<u64>),
}

/// When each revision became visible: the earliest completion of an `Ok` operation that
/// reported that revision or a later one.
struct Visibility {
    /// Reported revisions, ascending.
    revisions: Vec<u64>,
    /// `earliest[i]`: the earliest completion among operations reporting `>= revisions[i]`.
    earliest: Vec<u64>,
}

impl Visibility {
    fn new(h: &History) -> Self {
        let mut seen: Vec<(u64, u64)> = h
            .ops
            .iter()
            .filter_map(|op| match (&op.kind, &op.outcome) {
                (OpKind::Get { .. }, Outcome::Ok { revision: Some(r), value: Some(_), .. })
                | (
                    OpKind::List
                    | OpKind::Create { .. }
                    | OpKind::Update { .. }
                    | OpKind::Delete { .. },
                    Outcome::Ok { revision: Some(r), .. },
                ) => Some((*r, op.complete_ns)),
                _ => None,
            })
            .collect();
        seen.sort_unstable();
        let revisions = seen.iter().map(|(r, _)| *r).collect();
        let mut earliest: Vec<u64> = seen.iter().map(|(_, c)| *c).collect();
        for i in (0..earliest.len().saturating_sub(1)).rev() {
            earliest[i] = earliest[i].min(earliest[i + 1]);
        }
        Visibility { revisions, earliest }
    }

    /// By when revision `r` was certainly committed (`None`: no evidence).
    fn by(&self, r: u64) -> Option<u64> {
        self.earliest.get(self.revisions.partition_point(|x| *x < r)).copied()
    }
}

/// What the final log says about `Unknown` writes (see the module documentation).
struct LogOracle<'h> {
    visibility: Visibility,
    /// (key, value) of every committed create/update -> its revision.
    committed: HashMap<(&'h str, &'h str), u64>,
    /// Per key: each deletion that no acknowledged delete made (revision, value it removed).
    orphans: HashMap<&'h str, Vec<(u64, Option<&'h str>)>>,
    /// Per key: acknowledged deletes that reported no revision (they may own an orphan).
    ok_deletes_without_rev: HashMap<&'h str, usize>,
    /// Per key: `Unknown` deletes that could have made an orphan deletion.
    candidates: HashMap<&'h str, usize>,
}

impl<'h> LogOracle<'h> {
    fn new(h: &'h History) -> Self {
        let mut ok_delete_revs: HashSet<(&str, u64)> = HashSet::new();
        let mut ok_deletes_without_rev: HashMap<&str, usize> = HashMap::new();
        for op in &h.ops {
            if let (OpKind::Delete { key, .. }, Outcome::Ok { revision, .. }) =
                (&op.kind, &op.outcome)
            {
                match revision {
                    Some(r) => {
                        ok_delete_revs.insert((key, *r));
                    }
                    None => *ok_deletes_without_rev.entry(key).or_default() += 1,
                }
            }
        }
        let mut committed = HashMap::new();
        let mut last: HashMap<&str, Option<&str>> = HashMap::new();
        let mut orphans: HashMap<&str, Vec<(u64, Option<&str>)>> = HashMap::new();
        let mut log: Vec<&LogEvent> = h.log.iter().collect();
        log.sort_by_key(|e| e.revision);
        for ev in log {
            for ch in &ev.changes {
                let prev = last.get(ch.key.as_str()).copied().flatten();
                match &ch.value {
                    Some(v) => {
                        committed.entry((ch.key.as_str(), v.as_str())).or_insert(ev.revision);
                    }
                    None => {
                        if !ok_delete_revs.contains(&(ch.key.as_str(), ev.revision)) {
                            orphans.entry(&ch.key).or_default().push((ev.revision, prev));
                        }
                    }
                }
                last.insert(&ch.key, ch.value.as_deref());
            }
        }
        let mut oracle = LogOracle {
            visibility: Visibility::new(h),
            committed,
            orphans,
            ok_deletes_without_rev,
            candidates: HashMap::new(),
        };
        let mut candidates: HashMap<&str, usize> = HashMap::new();
        for op in &h.ops {
            if let (OpKind::Delete { key, expect, .. }, Outcome::Unknown { .. }) =
                (&op.kind, &op.outcome)
            {
                if oracle.could_have_made(key, expect.as_deref(), op.invoke_ns).next().is_some() {
                    *candidates.entry(key).or_default() += 1;
                }
            }
        }
        oracle.candidates = candidates;
        oracle
    }

    /// The orphan deletions of `key` an `Unknown` delete (with this precondition, invoked then)
    /// could have made, with when each was visible.
    fn could_have_made<'a>(
        &'a self,
        key: &str,
        expect: Option<&'a str>,
        invoke: u64,
    ) -> impl Iterator<Item = Option<u64>> + 'a {
        self.orphans
            .get(key)
            .into_iter()
            .flatten()
            .filter(move |(_, prev)| expect.is_none_or(|x| *prev == Some(x)))
            .map(|(r, _)| self.visibility.by(*r))
            .filter(move |by| by.is_none_or(|t| t >= invoke))
    }

    fn resolve(&self, kind: &OpKind, invoke: u64) -> Resolution {
        match kind {
            OpKind::Create { key, value } | OpKind::Update { key, value, .. } => {
                match self.committed.get(&(key.as_str(), value.as_str())) {
                    Some(r) => {
                        Resolution::Definite(self.visibility.by(*r).filter(|t| *t >= invoke))
                    }
                    None => Resolution::Dropped,
                }
            }
            OpKind::Delete { key, expect, .. } => {
                let mut any = false;
                let mut latest = Some(invoke);
                for by in self.could_have_made(key, expect.as_deref(), invoke) {
                    any = true;
                    latest = latest.zip(by).map(|(a, b)| a.max(b));
                }
                if !any {
                    return Resolution::Dropped;
                }
                let orphans = self.orphans.get(key.as_str()).map_or(0, Vec::len);
                let by_ok = self.ok_deletes_without_rev.get(key.as_str()).copied().unwrap_or(0);
                let candidates = self.candidates.get(key.as_str()).copied().unwrap_or(0);
                if by_ok == 0 && orphans == candidates {
                    // Each orphan needs an author, each candidate authors at most one (a delete
                    // is applied once): with as many candidates as orphans, all of them did.
                    Resolution::Definite(latest)
                } else {
                    Resolution::Maybe(latest)
                }
            }
            OpKind::Get { .. } | OpKind::List => Resolution::Dropped,
        }
    }
}

/// Splits the history by key and translates every operation into the model.
fn partition(h: &History) -> (BTreeMap<&str, KeyHistory<'_>>, Stats) {
    let oracle = LogOracle::new(h);
    let mut stats = Stats::default();
    let mut keys: BTreeMap<&str, KeyHistory<'_>> = BTreeMap::new();
    for (src, op) in h.ops.iter().enumerate() {
        let Some(key) = op.kind.key() else { continue };
        let kh = keys.entry(key).or_insert_with(|| KeyHistory {
            ops: Vec::new(),
            interner: HashMap::new(),
            duplicated: HashSet::new(),
            orphan_prevs: HashSet::new(),
        });
        let mut complete = Some(op.complete_ns);
        let mut maybe = false;
        let act = match (&op.kind, &op.outcome) {
            (_, Outcome::Fail { reason: FailReason::Refused }) => continue,
            (OpKind::Create { value, .. }, Outcome::Ok { .. }) => Act::Create(kh.intern(value)),
            (OpKind::Create { .. }, Outcome::Fail { reason: FailReason::AlreadyExists }) => {
                Act::ExistsNot(NONE)
            }
            (OpKind::Update { value, expect, .. }, Outcome::Ok { .. }) => {
                Act::Update { expect: kh.intern(expect), value: kh.intern(value) }
            }
            (OpKind::Update { expect, .. }, Outcome::Fail { reason: FailReason::Conflict }) => {
                Act::ExistsNot(kh.intern(expect))
            }
            (OpKind::Delete { expect, .. }, Outcome::Ok { .. }) => {
                Act::Delete(expect.as_deref().map_or(NONE, |e| kh.intern(e)))
            }
            (
                OpKind::Delete { expect: Some(e), .. },
                Outcome::Fail { reason: FailReason::Conflict },
            ) => Act::Not(kh.intern(e)),
            (
                OpKind::Update { .. } | OpKind::Delete { .. } | OpKind::Get { .. },
                Outcome::Fail { reason: FailReason::NotFound },
            ) => Act::Read(NONE),
            (OpKind::Get { .. }, Outcome::Ok { value, .. }) => {
                Act::Read(value.as_deref().map_or(NONE, |v| kh.intern(v)))
            }
            (OpKind::Get { .. } | OpKind::List, _) | (_, Outcome::Fail { .. }) => continue,
            (kind, Outcome::Unknown { .. }) => {
                stats.unknown_writes += 1;
                complete = match oracle.resolve(kind, op.invoke_ns) {
                    Resolution::Definite(by) => {
                        stats.unknown_definite += 1;
                        by
                    }
                    Resolution::Dropped => {
                        stats.unknown_dropped += 1;
                        continue;
                    }
                    Resolution::Maybe(by) => {
                        stats.unknown_maybe += 1;
                        maybe = true;
                        by
                    }
                };
                match kind {
                    OpKind::Create { value, .. } => Act::Create(kh.intern(value)),
                    OpKind::Update { value, expect, .. } => {
                        Act::Update { expect: kh.intern(expect), value: kh.intern(value) }
                    }
                    OpKind::Delete { expect, .. } => {
                        Act::DeleteUnknown(expect.as_deref().map_or(NONE, |e| kh.intern(e)))
                    }
                    OpKind::Get { .. } | OpKind::List => continue,
                }
            }
        };
        kh.ops.push(KOp { src, invoke: op.invoke_ns, complete, maybe, act });
    }
    for (key, kh) in keys.iter_mut() {
        for (_, prev) in oracle.orphans.get(key).into_iter().flatten() {
            if let Some(v) = prev {
                let s = kh.intern(v);
                kh.orphan_prevs.insert(s);
            }
        }
        kh.ops.sort_by_key(|o| (o.invoke, o.src));
        let mut seen = HashSet::new();
        for o in &kh.ops {
            if let Some(v) = o.act.writes() {
                if !seen.insert(v) {
                    kh.duplicated.insert(v);
                }
            }
        }
    }
    (keys, stats)
}

// ---------------------------------------------------------------------------------------------
// Direct checks.

/// Value lifetimes: with unique values and an absent initial state, the register holds `Some(x)`
/// only between the write of `x` and the one operation that replaces it, so an operation that
/// needs `Some(x)` (a read of `x`, a compare-and-set or delete expecting `x`) must overlap that
/// interval. Finds, in linear time and with a two- or three-operation counterexample, an
/// operation needing a value no operation wrote; one that completed before the write of its
/// value began; two definite operations that both replace the same value; and one needing a
/// value replaced by an operation that completed before it began (a stale read, a lost update).
fn lifetime_violation(kh: &KeyHistory<'_>) -> Option<(Window, &'static str)> {
    let tables = kh.tables();
    let mut writer: HashMap<State, usize> = HashMap::new();
    for (i, o) in kh.ops.iter().enumerate() {
        if let Some(v) = o.act.writes() {
            writer.insert(v, i);
        }
    }
    // Per value: the definite operation replacing it (a second one is a violation).
    let mut leaver: HashMap<State, usize> = HashMap::new();
    let found = |idx: &[usize], reason| {
        let mut idx = idx.to_vec();
        idx.sort_unstable();
        idx.dedup();
        let ops = idx.iter().filter_map(|i| kh.ops.get(*i).copied()).collect();
        Some((Window { ops, any_initial: false }, reason))
    };
    let done = |o: &KOp| o.complete.unwrap_or(u64::MAX);
    for (i, o) in kh.ops.iter().enumerate() {
        let Some(x) = needs(o) else { continue };
        if !tables.prunable(x) {
            continue;
        }
        let Some(&w) = writer.get(&x) else {
            return found(&[i], "it needs a value no operation wrote");
        };
        if done(o) < kh.ops[w].invoke {
            return found(&[w, i], "it needs a value written only after it completed");
        }
        if o.act.mutates() && o.act.writes() != Some(x) {
            if let Some(&l) = leaver.get(&x) {
                return found(&[w, l, i], "two operations replaced the same value");
            }
            leaver.insert(x, i);
        }
    }
    for (i, o) in kh.ops.iter().enumerate() {
        let Some(x) = needs(o) else { continue };
        let Some(&l) = leaver.get(&x) else { continue };
        if l != i && done(&kh.ops[l]) < o.invoke {
            let w = writer.get(&x).copied().unwrap_or(l);
            return found(&[w, l, i], "it needs a value replaced before it began");
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The search.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Linearizable,
    Violation,
    Inconclusive,
}

struct SearchResult {
    verdict: Verdict,
    /// Configurations explored.
    explored: usize,
}

const NIL: usize = usize::MAX;

/// A hasher for keys that are already well-mixed 64-bit hashes.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The set of visited configurations. A configuration (decided set, state) is stored as the
/// state, the ceiling (one past the highest decided operation) and the undecided operations
/// below the ceiling (the "holes"), which are few: concurrent and pending operations. Chained
/// in one arena, so a lookup allocates nothing.
struct Cache {
    heads: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    /// Per entry: state, ceiling, start and end of its holes, next entry in its chain.
    entries: Vec<(State, u32, u32, u32, usize)>,
    holes: Vec<u32>,
}

impl Cache {
    fn new() -> Self {
        Cache { heads: HashMap::default(), entries: Vec::new(), holes: Vec::new() }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds the configuration; false if it was already there.
    fn insert(&mut self, hash: u64, state: State, ceiling: u32, holes: &[u32]) -> bool {
        let key = hash ^ splitmix(u64::from(state));
        let head = self.heads.get(&key).copied().unwrap_or(NIL);
        let mut i = head;
        while let Some(&(s, c, from, to, next)) = self.entries.get(i) {
            if s == state
                && c == ceiling
                && self.holes.get(from as usize..to as usize) == Some(holes)
            {
                return false;
            }
            i = next;
        }
        let from = u32::try_from(self.holes.len()).unwrap_or(u32::MAX);
        self.holes.extend_from_slice(holes);
        let to = u32::try_from(self.holes.len()).unwrap_or(u32::MAX);
        self.entries.push((state, ceiling, from, to, head));
        self.heads.insert(key, self.entries.len() - 1);
        true
    }
}

/// A decision on the search stack.
enum Frame {
    /// The write of this call entry was linearized, from this state, in this pass (the other
    /// candidates after it are tried when it is undone).
    Chosen { entry: usize, state: State, ceiling: u32, pass: u8 },
    /// The operation of this call entry was decided with no alternative: a read linearized as
    /// soon as it fit, or a "maybe" write dropped when its completion passed. Undoing it goes
    /// on to the frame below.
    Forced { entry: usize },
}

/// Wing–Gong–Lowe search: can `ops` (in invoke order), starting from `init`, be linearized?
fn search(ops: &[KOp], init: State, tables: &Tables, budget: usize) -> SearchResult {
    let n = ops.len();
    let mut result = SearchResult { verdict: Verdict::Linearizable, explored: 0 };
    if n == 0 {
        return result;
    }
    // Entries 1..=2n (0 is the list head): the call and the return of each operation, by time.
    // At equal times calls come first (an operation completing at t is concurrent with one
    // invoked at t); infinite returns come last, those of definite operations first.
    let mut order: Vec<(u64, u8, usize, bool)> = Vec::with_capacity(2 * n);
    for (i, o) in ops.iter().enumerate() {
        order.push((o.invoke, 0, i, true));
        match o.complete {
            Some(c) => order.push((c, 1, i, false)),
            None => order.push((u64::MAX, if o.maybe { 3 } else { 2 }, i, false)),
        }
    }
    order.sort_unstable();
    let len = 2 * n + 1;
    let mut op_of = vec![0usize; len];
    let mut is_call = vec![false; len];
    let mut ret_of = vec![0usize; len];
    let mut call_of = vec![0usize; n];
    for (pos, &(_, _, i, call)) in order.iter().enumerate() {
        let e = pos + 1;
        op_of[e] = i;
        is_call[e] = call;
        if call {
            call_of[i] = e;
        } else {
            ret_of[call_of[i]] = e;
        }
    }
    let mut next: Vec<usize> = (0..len).map(|e| if e + 1 < len { e + 1 } else { NIL }).collect();
    let mut prev: Vec<usize> = (0..len).map(|e| e.wrapping_sub(1)).collect();
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = q;
        if q != NIL {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = e;
        if q != NIL {
            prev[q] = e;
        }
    };
    // The undecided operations below the ceiling, read off the list (calls are in operation
    // order, so the walk stops at the first call at or above the ceiling).
    let holes_of = |next: &Vec<usize>, ceiling: u32, out: &mut Vec<u32>| {
        out.clear();
        let mut e = next[0];
        while e != NIL {
            if is_call[e] {
                let i = u32::try_from(op_of[e]).unwrap_or(u32::MAX);
                if i >= ceiling {
                    break;
                }
                out.push(i);
            }
            e = next[e];
        }
    };

    let zob: Vec<u64> = (0..n).map(|i| splitmix(i as u64 + 1)).collect();
    let mut hash = 0u64;
    let mut ceiling = 0u32;
    let mut holes = Vec::new();
    let mut cache = Cache::new();

    // Per value: definite operations needing it that are not linearized yet.
    let mut pending = vec![0u32; tables.prunable.len()];
    for o in ops {
        if let Some(p) =
            o.act.requires().filter(|_| !o.maybe).and_then(|v| pending.get_mut(v as usize))
        {
            *p += 1;
        }
    }
    let as_u32 = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);

    let mut state = init;
    let mut stack: Vec<Frame> = Vec::new();
    // The candidates of a configuration are the calls before the first return in the list,
    // scanned in passes:
    // 0. the first read-only operation that fits is linearized, with no alternative: it changes
    //    nothing, and every operation that must precede it is already decided, so if the
    //    configuration can be completed at all, it can with this read first;
    // 1. definite writes, each in turn;
    // 2. "maybe" writes: one that may not have happened is applied only when the definite ones
    //    are stuck.
    // Then the first return: a "maybe" write's is passed by dropping it; any other's means
    // backtracking.
    let mut pass = 0u8;
    let mut cur = next[0];
    loop {
        if cur == NIL {
            // Every operation is decided.
            result.explored = cache.len();
            return result;
        }
        let i = op_of[cur];
        let o = &ops[i];
        let decision = if is_call[cur] {
            let wanted = match pass {
                0 => !o.act.mutates(),
                1 => o.act.mutates() && !o.maybe,
                _ => o.act.mutates() && o.maybe,
            };
            let allowed = !matches!(o.act, Act::DeleteUnknown(_)) || tables.orphan_prev(state);
            let next_state = o.act.step(state).filter(|&ns| {
                // Leaving Some(x) for good with a definite operation still needing it?
                if ns == state || state == NONE || !tables.prunable(state) {
                    return true;
                }
                let mut need = pending.get(state as usize).copied().unwrap_or(0);
                if needs(o) == Some(state) {
                    need = need.saturating_sub(1);
                }
                need == 0
            });
            // Interchangeable deletes (same precondition, both candidates now): only the one
            // that must complete first is tried. If a completion uses another one now, swapping
            // the two is also a completion, since the later use of the first happens before
            // its completion, hence before the other's.
            let twin = |next: &Vec<usize>| {
                let rank = (o.complete.unwrap_or(u64::MAX), i);
                let mut e = next[0];
                while e != NIL && is_call[e] {
                    let j = op_of[e];
                    let oj = &ops[j];
                    if oj.act == o.act
                        && oj.maybe == o.maybe
                        && (oj.complete.unwrap_or(u64::MAX), j) < rank
                    {
                        return true;
                    }
                    e = next[e];
                }
                false
            };
            let deletes = matches!(o.act, Act::Delete(_) | Act::DeleteUnknown(_));
            match next_state {
                Some(ns) if wanted && allowed && !(deletes && twin(&next)) => Some(ns),
                _ => {
                    cur = next[cur];
                    continue;
                }
            }
        } else if pass < 2 {
            pass += 1;
            cur = next[0];
            continue;
        } else if o.maybe {
            if o.complete.is_none() {
                // Only infinite returns of "maybe" operations remain.
                result.explored = cache.len();
                return result;
            }
            Some(state)
        } else {
            None
        };
        let forced = !is_call[cur] || pass == 0;
        if let Some(ns) = decision {
            let old_ceiling = ceiling;
            ceiling = ceiling.max(as_u32(i + 1));
            hash ^= zob[i];
            let call = call_of[i];
            // The configuration after the decision: lift the operation out of the list first.
            unlink(&mut next, &mut prev, call);
            unlink(&mut next, &mut prev, ret_of[call]);
            holes_of(&next, ceiling, &mut holes);
            if cache.insert(hash, ns, ceiling, &holes) {
                if cache.len() > budget || cache.holes.len() > MAX_STORED_HOLES {
                    result.verdict = Verdict::Inconclusive;
                    result.explored = cache.len();
                    return result;
                }
                if forced {
                    stack.push(Frame::Forced { entry: call });
                } else {
                    stack.push(Frame::Chosen { entry: call, state, ceiling: old_ceiling, pass });
                }
                if is_call[cur] {
                    if let Some(p) = needs(o).and_then(|v| pending.get_mut(v as usize)) {
                        *p = p.saturating_sub(1);
                    }
                }
                state = ns;
                pass = 0;
                cur = next[0];
                continue;
            }
            // Seen before, and it failed (a configuration on the current path has fewer
            // decided operations, so it cannot be this one).
            relink(&mut next, &mut prev, ret_of[call]);
            relink(&mut next, &mut prev, call);
            hash ^= zob[i];
            ceiling = old_ceiling;
            if !forced {
                cur = next[cur];
                continue;
            }
        }
        // Nothing left to try here: backtrack.
        loop {
            let Some(frame) = stack.pop() else {
                result.verdict = Verdict::Violation;
                result.explored = cache.len();
                return result;
            };
            let entry = match frame {
                Frame::Chosen { entry, .. } | Frame::Forced { entry } => entry,
            };
            let j = op_of[entry];
            let oj = &ops[j];
            hash ^= zob[j];
            relink(&mut next, &mut prev, ret_of[entry]);
            relink(&mut next, &mut prev, entry);
            // A dropped "maybe" write was never linearized, so it holds nothing pending.
            let was_linearized = !matches!(frame, Frame::Forced { .. }) || !oj.maybe;
            if was_linearized {
                if let Some(p) = needs(oj).and_then(|v| pending.get_mut(v as usize)) {
                    *p += 1;
                }
            }
            if let Frame::Chosen { state: old, ceiling: c, pass: p, .. } = frame {
                state = old;
                ceiling = c;
                pass = p;
                cur = next[entry];
                break;
            }
        }
    }
}

/// The value a definite operation must be linearized at, if any (what the pruning counts).
fn needs(o: &KOp) -> Option<State> {
    o.act.requires().filter(|_| !o.maybe)
}

// ---------------------------------------------------------------------------------------------
// Counterexamples.

/// A window of one key's operations.
struct Window {
    ops: Vec<KOp>,
    /// Whether the initial state is unknown (the window starts after the history does).
    any_initial: bool,
}

/// The operations of the time window [`start`, `end`): those completed before `start` are
/// summarized by an unknown initial state, those invoked at or after `end` are left out, and
/// the writes straddling either cut may or may not have taken effect in the window (reads
/// straddling a cut are left out).
fn window(ops: &[KOp], start: Option<u64>, end: Option<u64>) -> Window {
    let mut out = Vec::new();
    for o in ops {
        let mut o = *o;
        if let Some(s) = start {
            if o.complete.is_some_and(|c| c < s) {
                continue;
            }
            if o.invoke < s {
                if !o.act.mutates() {
                    continue;
                }
                o.maybe = true;
            }
        }
        if let Some(t) = end {
            if o.invoke >= t {
                continue;
            }
            if o.complete.is_none_or(|c| c >= t) {
                if !o.act.mutates() {
                    continue;
                }
                o.maybe = true;
                o.complete = None;
            }
        }
        out.push(o);
    }
    Window { ops: out, any_initial: start.is_some() }
}

/// Shrinking effort left for one key.
struct Effort(usize);

/// Whether the window provably cannot be linearized (from any initial state when that is
/// unknown). False when unsure (too many initial states, or the effort ran out).
fn refuted(kh: &KeyHistory<'_>, w: &Window, tables: &Tables, effort: &mut Effort) -> bool {
    let mut inits = vec![NONE];
    if w.any_initial {
        // A value no operation of the window compares with behaves like any other such value.
        inits.push(kh.fresh());
        inits.extend(w.ops.iter().filter_map(|o| o.act.compares()));
        inits.sort_unstable();
        inits.dedup();
        if inits.len() > MAX_INITIAL_STATES {
            return false;
        }
    }
    for init in inits {
        if effort.0 == 0 {
            return false;
        }
        let r = search(&w.ops, init, tables, effort.0);
        effort.0 = effort.0.saturating_sub(r.explored);
        if r.verdict != Verdict::Violation {
            return false;
        }
    }
    true
}

/// A small window of the key's operations that cannot be linearized (bounded effort; the whole
/// history if nothing smaller is proved).
fn shrink(kh: &KeyHistory<'_>) -> Window {
    let tables = kh.tables();
    let mut effort = Effort(SHRINK_EFFORT);

    // End: the earliest cut such that the operations before it already fail.
    let mut ends: Vec<u64> =
        kh.ops.iter().filter_map(|o| o.complete).map(|c| c.saturating_add(1)).collect();
    ends.sort_unstable();
    ends.dedup();
    let (mut lo, mut hi) = (0, ends.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if refuted(kh, &window(&kh.ops, None, Some(ends[mid])), &tables, &mut effort) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let end = ends.get(hi).copied();
    let mut best = window(&kh.ops, None, end);

    // Start: as late as possible. Try windows of 1, 2, 4, ... operations back from the end,
    // then bisect between the last two tries.
    let mut starts: Vec<u64> = best.ops.iter().map(|o| o.invoke).collect();
    starts.sort_unstable();
    starts.dedup();
    starts.reverse();
    let mut found = None;
    let mut tried = 0;
    let mut k = 1;
    while k <= starts.len() {
        if refuted(kh, &window(&kh.ops, Some(starts[k - 1]), end), &tables, &mut effort) {
            found = Some(k - 1);
            break;
        }
        tried = k;
        k *= 2;
    }
    if found.is_none() && tried < starts.len() {
        let last = starts.len() - 1;
        if refuted(kh, &window(&kh.ops, Some(starts[last]), end), &tables, &mut effort) {
            found = Some(last);
        }
    }
    if let Some(mut hi) = found {
        // starts[hi] refutes, starts[tried - 1] (if any) does not; find the latest that does.
        let mut lo = tried;
        while lo < hi {
            let mid = (lo + hi) / 2;
            if refuted(kh, &window(&kh.ops, Some(starts[mid]), end), &tables, &mut effort) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        best = window(&kh.ops, Some(starts[hi]), end);
        // End again: the earliest completion that still refutes, with this start.
        let start = starts[hi];
        let mut ends: Vec<u64> = best
            .ops
            .iter()
            .filter_map(|o| o.complete)
            .map(|c| c.saturating_add(1))
            .filter(|t| end.is_none_or(|e| *t < e))
            .collect();
        ends.sort_unstable();
        ends.dedup();
        let (mut lo, mut hi) = (0, ends.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if refuted(kh, &window(&kh.ops, Some(start), Some(ends[mid])), &tables, &mut effort) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if let Some(t) = ends.get(lo) {
            best = window(&kh.ops, Some(start), Some(*t));
        }
    }

    // Drop reads (definite operations that change nothing) that are not needed: removing one
    // only removes constraints, so the smaller window still refutes the history.
    let mut i = 0;
    let mut attempts = 0;
    while i < best.ops.len() && attempts < MAX_DROP_ATTEMPTS {
        if best.ops[i].act.mutates() {
            i += 1;
            continue;
        }
        attempts += 1;
        let mut ops = best.ops.clone();
        ops.remove(i);
        let candidate = Window { ops, any_initial: best.any_initial };
        if refuted(kh, &candidate, &tables, &mut effort) {
            best = candidate;
        } else {
            i += 1;
        }
    }
    best
}

fn window_json(h: &History, key: &str, w: &Window, reason: &str) -> serde_json::Value {
    let ops: Vec<serde_json::Value> = w
        .ops
        .iter()
        .map(|o| {
            let mut v = super::op_json(&h.ops[o.src]);
            if let Some(m) = v.as_object_mut() {
                let treated = match (o.maybe, o.complete) {
                    (true, None) => {
                        "may or may not have taken effect, at any time after invoke".to_string()
                    }
                    (true, Some(t)) => {
                        format!("may or may not have taken effect, between invoke and {t}")
                    }
                    (false, None) => "took effect (per the log), at any time after invoke".into(),
                    (false, Some(t)) if t != h.ops[o.src].complete_ns => {
                        format!("took effect (per the log), between invoke and {t}")
                    }
                    (false, Some(_)) => "as recorded".into(),
                };
                m.insert("treated_as".into(), treated.into());
            }
            v
        })
        .collect();
    json!({
        "key": key,
        "reason": reason,
        "initial_state": if w.any_initial { "unknown (earlier operations omitted)" } else { "absent" },
        "ops": ops,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::check::testing::*;
    use crate::history::{FailReason, Op};

    /// create a; then client 2 updates a -> b while client 3 reads; client 1 deletes.
    fn base() -> Builder {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, update("k", "b", "a", 1), 20, 40, ok_write(2));
        b.op(3, get("k"), 25, 30, ok_get(Some("a"), Some(1)));
        b.op(3, get("k"), 35, 50, ok_get(Some("b"), Some(2)));
        b.op(1, create("k", "c"), 60, 70, fail(FailReason::AlreadyExists));
        b.op(1, update("k", "c", "a", 1), 80, 90, fail(FailReason::Conflict));
        b.op(2, delete("k", Some("b")), 100, 110, ok_write(3));
        b.op(3, get("k"), 120, 130, ok_get(None, None));
        b.op(3, update("k", "d", "b", 2), 140, 150, fail(FailReason::NotFound));
        b.op(3, delete("k", Some("b")), 160, 170, fail(FailReason::NotFound));
        b.log(1, "k", Some("a"));
        b.log(2, "k", Some("b"));
        b.log(3, "k", None);
        b
    }

    fn assert_fails_with(h: &History, ops: &[u64]) {
        let r = check(h);
        assert!(!r.passed, "{r:?}");
        assert!(r.message.starts_with("not linearizable"), "{}", r.message);
        assert_eq!(r.violating_ops, ops, "{}", r.message);
    }

    #[test]
    fn valid_history_passes() {
        let r = check(&base().build());
        assert!(r.passed, "{r:?}");
        assert_eq!(r.checked, 10);
    }

    #[test]
    fn empty_history_passes() {
        assert!(check(&History::default()).passed);
    }

    #[test]
    fn stale_read_after_completed_write_fails() {
        let mut b = base();
        b.op(4, get("k"), 45, 55, ok_get(Some("a"), Some(1)));
        // The update (2) replacing a completed at 40, before this read began.
        assert_fails_with(&b.build(), &[1, 2, 11]);
    }

    #[test]
    fn read_concurrent_with_write_may_see_either() {
        let mut b = base();
        b.op(4, get("k"), 39, 55, ok_get(Some("a"), Some(1)));
        assert!(check(&b.build()).passed);
    }

    #[test]
    fn cas_against_overwritten_value_fails() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(1, update("k", "b", "a", 1), 20, 30, ok_write(2));
        b.op(2, get("k"), 22, 24, ok_get(Some("a"), Some(1)));
        b.op(2, update("k", "c", "a", 1), 40, 50, ok_write(3));
        b.log(1, "k", Some("a"));
        b.log(2, "k", Some("b"));
        b.log(3, "k", Some("c"));
        // Both updates replaced a.
        assert_fails_with(&b.build(), &[1, 2, 4]);
    }

    #[test]
    fn two_concurrent_cas_on_one_value_fail() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(1, update("k", "b", "a", 1), 20, 30, ok_write(2));
        b.op(2, update("k", "c", "a", 1), 20, 30, ok_write(3));
        assert_fails_with(&b.build(), &[1, 2, 3]);
    }

    #[test]
    fn read_of_value_never_written_fails() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, get("k"), 20, 30, ok_get(Some("zz"), Some(1)));
        assert_fails_with(&b.build(), &[2]);
    }

    #[test]
    fn create_over_existing_key_fails() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, create("k", "b"), 20, 30, ok_write(2));
        assert_fails_with(&b.build(), &[1, 2]);
    }

    #[test]
    fn refused_and_failed_writes_never_happened() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, update("k", "b", "a", 1), 20, 30, fail(FailReason::Refused));
        b.op(2, delete("k", None), 40, 50, fail(FailReason::Refused));
        b.op(3, get("k"), 60, 70, ok_get(Some("a"), Some(1)));
        b.log(1, "k", Some("a"));
        assert!(check(&b.build()).passed);
    }

    #[test]
    fn keys_are_independent() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, create("j", "a2"), 0, 10, ok_write(2));
        b.op(1, get("j"), 20, 30, ok_get(Some("a2"), Some(2)));
        b.op(2, get("k"), 20, 30, ok_get(None, None));
        assert_fails_with(&b.build(), &[1, 4]);
    }

    #[test]
    fn unknown_ops_resolved_by_the_log_pass() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        // Committed (in the log) long after its client gave up.
        b.op(2, update("k", "b", "a", 1), 20, 30, unknown());
        b.op(3, get("k"), 40, 50, ok_get(Some("a"), Some(1)));
        b.op(3, get("k"), 60, 70, ok_get(Some("b"), Some(2)));
        // Never committed.
        b.op(2, update("k", "c", "b", 2), 80, 90, unknown());
        // Committed, but an unknown delete with no orphan deletion in the log did not.
        b.op(2, delete("k", Some("b")), 100, 110, unknown());
        b.op(1, update("k", "d", "b", 2), 120, 130, unknown());
        b.op(3, get("k"), 140, 150, ok_get(Some("d"), Some(3)));
        // An unknown delete that did happen (the log has a deletion nobody acknowledged).
        b.op(1, delete("k", None), 160, 170, unknown());
        b.op(3, get("k"), 300, 310, ok_get(None, None));
        b.op(3, get("k"), 320, 330, unknown());
        b.log(1, "k", Some("a"));
        b.log(2, "k", Some("b"));
        b.log(3, "k", Some("d"));
        b.log(4, "k", None);
        let r = check(&b.build());
        assert!(r.passed, "{r:?}");
        assert!(
            r.message.contains("5 unknown writes: 3 committed per the log, 2 did not"),
            "{}",
            r.message
        );
    }

    #[test]
    fn unknown_op_that_committed_cannot_be_unobserved() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, update("k", "b", "a", 1), 20, 30, unknown());
        b.op(3, get("k"), 40, 50, ok_get(Some("b"), Some(2)));
        // Once b was read, a is gone for good.
        b.op(3, get("k"), 60, 70, ok_get(Some("a"), Some(1)));
        b.log(1, "k", Some("a"));
        b.log(2, "k", Some("b"));
        // The read of b (3, revision 2) shows the update took effect by 50.
        assert_fails_with(&b.build(), &[1, 2, 4]);
    }

    #[test]
    fn unknown_write_absent_from_the_log_cannot_be_observed() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 0, 10, ok_write(1));
        b.op(2, update("k", "b", "a", 1), 20, 30, unknown());
        b.op(3, get("k"), 40, 50, ok_get(Some("b"), Some(2)));
        b.log(1, "k", Some("a"));
        assert_fails_with(&b.build(), &[3]);
    }

    #[test]
    fn undecided_unknown_delete_may_or_may_not_happen() {
        // Two unknown deletes, one orphan deletion: each may or may not have happened.
        for read in [None, Some("a")] {
            let mut b = Builder::new();
            b.op(1, create("k", "a"), 0, 10, ok_write(1));
            b.op(2, delete("k", None), 20, 30, unknown());
            b.op(4, delete("k", None), 25, 35, unknown());
            b.op(3, get("k"), 40, 50, ok_get(read, None));
            b.op(3, create("k", "b"), 60, 70, ok_write(3));
            b.log(1, "k", Some("a"));
            b.log(2, "k", None);
            b.log(3, "k", Some("b"));
            let r = check(&b.build());
            assert!(r.passed, "{r:?}");
            assert!(r.message.contains("2 undecided"), "{}", r.message);
        }
    }

    #[test]
    fn budget_exhaustion_is_inconclusive() {
        let r = check_with_budget(&base().build(), 1);
        assert!(!r.passed);
        assert!(r.message.starts_with("inconclusive"), "{}", r.message);
    }

    #[test]
    fn malformed_op_fails() {
        let mut b = Builder::new();
        b.op(1, create("k", "a"), 10, 5, ok_write(1));
        let r = check(&b.build());
        assert!(!r.passed);
        assert_eq!(r.violating_ops, vec![1]);
    }

    /// Makes one read return a value an acknowledged update had already replaced before the
    /// read began; returns the read's id.
    pub(super) fn make_stale_read(h: &mut History) -> Option<u64> {
        let updates: Vec<(String, String, u64)> = h
            .ops
            .iter()
            .filter_map(|o| match (&o.kind, &o.outcome) {
                (OpKind::Update { key, expect, .. }, Outcome::Ok { .. }) => {
                    Some((key.clone(), expect.clone(), o.complete_ns))
                }
                _ => None,
            })
            .collect();
        let n = h.ops.len();
        for g in (n / 2..n).chain(0..n / 2) {
            let op: &mut Op = &mut h.ops[g];
            let OpKind::Get { key } = &op.kind else { continue };
            let Outcome::Ok { value, .. } = &mut op.outcome else { continue };
            let stale = updates.iter().find(|(k, _, done)| k == key && *done < op.invoke_ns);
            if let Some((_, old, _)) = stale {
                *value = Some(old.clone());
                return Some(op.id);
            }
        }
        None
    }

    #[test]
    fn random_histories_pass_and_a_stale_read_fails() {
        for seed in 0..8 {
            let spec =
                RandomSpec { seed, ops: 3_000, keys: 5 + seed as usize, ..RandomSpec::default() };
            let mut h = random_history(&spec);
            let r = check(&h);
            assert!(r.passed, "seed {seed}: {r:?}");
            let stale = make_stale_read(&mut h).expect("a read to make stale");
            let r = check(&h);
            assert!(!r.passed, "seed {seed}: stale read {stale} not caught");
            assert!(r.message.starts_with("not linearizable"), "seed {seed}: {}", r.message);
            assert!(r.violating_ops.contains(&stale), "seed {seed}: {}", r.message);
            assert!(r.violating_ops.len() <= 12, "seed {seed}: window too large: {}", r.message);
        }
    }

    #[test]
    fn random_stale_read_is_found_by_the_search_and_shrunk() {
        // The same, bypassing the direct value-lifetime check: the search must refute the key
        // and the shrunk window must still contain the stale read.
        for seed in 0..4 {
            let spec = RandomSpec { seed, ops: 2_000, keys: 3, ..RandomSpec::default() };
            let mut h = random_history(&spec);
            let stale = make_stale_read(&mut h).expect("a read to make stale");
            let (keys, _) = partition(&h);
            let Some(kh) = keys.values().find(|kh| kh.ops.iter().any(|o| h.ops[o.src].id == stale))
            else {
                panic!("seed {seed}: no key holds the stale read");
            };
            let r = search(&kh.ops, NONE, &kh.tables(), DEFAULT_BUDGET);
            assert_eq!(r.verdict, Verdict::Violation, "seed {seed}");
            let w = shrink(kh);
            let ids: Vec<u64> = w.ops.iter().map(|o| h.ops[o.src].id).collect();
            assert!(ids.contains(&stale), "seed {seed}: {ids:?}");
            assert!(ids.len() <= 8, "seed {seed}: window too large: {ids:?}");
        }
    }

    #[test]
    fn large_history_checks_fast() {
        // 20k operations from 16 clients on 100 keys (the target), and on one hot key.
        for (keys, unknown_pct) in [(100, 5), (1, 10)] {
            let spec =
                RandomSpec { seed: 42, ops: 20_000, keys, clients: 16, unknown_pct, watches: 0 };
            let h = random_history(&spec);
            let started = Instant::now();
            let r = check(&h);
            let elapsed = started.elapsed();
            assert!(r.passed, "{r:?}");
            eprintln!("{keys} keys: {} in {elapsed:?}", r.message);
            assert!(elapsed.as_secs() < 20, "{keys} keys took {elapsed:?}");
        }
    }
}
