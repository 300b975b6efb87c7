//! Test helpers: a history builder and a generator of valid random histories.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::history::{
    FailReason, History, LogChange, LogEvent, NodeState, Op, OpKind, Outcome, WatchEvent,
    WatchStream,
};

/// Asserts that a checker failed and that its message names `what`.
#[track_caller]
pub(crate) fn assert_fails(r: &super::CheckResult, what: &str) {
    assert!(!r.passed, "expected a failure naming {what:?}, got a pass: {}", r.message);
    assert!(r.message.contains(what), "expected {what:?} in: {}", r.message);
}

/// Builds a history by hand; operation ids are 1, 2, ... in the order they are added.
pub(crate) struct Builder {
    h: History,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder { h: History::default() }
    }

    pub(crate) fn op(
        &mut self,
        client: u32,
        kind: OpKind,
        invoke_ns: u64,
        complete_ns: u64,
        outcome: Outcome,
    ) -> u64 {
        let id = self.h.ops.len() as u64 + 1;
        self.h.ops.push(Op { id, client, node: 1, kind, invoke_ns, complete_ns, outcome });
        id
    }

    pub(crate) fn log(&mut self, revision: u64, key: &str, value: Option<&str>) {
        self.h.log.push(log_event(revision, key, value));
    }

    pub(crate) fn final_state(&mut self, key: &str, value: Option<&str>) {
        self.h.final_state.push((key.into(), value.map(String::from)));
    }

    pub(crate) fn nodes(&mut self, nodes: &[(u64, u64, &str)]) {
        self.h.nodes = nodes
            .iter()
            .map(|(node, revision, hash)| NodeState {
                node: *node,
                revision: *revision,
                hash: (*hash).into(),
            })
            .collect();
    }

    pub(crate) fn watch(&mut self, from_revision: u64, events: &[(u64, &str, Option<&str>)]) {
        let id = self.h.watches.len() as u64 + 1;
        self.h.watches.push(WatchStream {
            id,
            node: 1,
            from_revision,
            open_ns: 0,
            close_ns: 1_000,
            events: events
                .iter()
                .map(|(revision, key, value)| WatchEvent {
                    revision: *revision,
                    key: (*key).into(),
                    value: value.map(String::from),
                })
                .collect(),
            error: None,
        });
    }

    pub(crate) fn build(self) -> History {
        self.h
    }
}

pub(crate) fn log_event(revision: u64, key: &str, value: Option<&str>) -> LogEvent {
    LogEvent {
        revision,
        request_id: format!("req-{revision}"),
        changes: vec![LogChange { key: key.into(), value: value.map(String::from) }],
    }
}

pub(crate) fn create(key: &str, value: &str) -> OpKind {
    OpKind::Create { key: key.into(), value: value.into() }
}

pub(crate) fn update(key: &str, value: &str, expect: &str, expect_revision: u64) -> OpKind {
    OpKind::Update { key: key.into(), value: value.into(), expect: expect.into(), expect_revision }
}

pub(crate) fn delete(key: &str, expect: Option<&str>) -> OpKind {
    OpKind::Delete { key: key.into(), expect: expect.map(String::from), expect_revision: None }
}

pub(crate) fn get(key: &str) -> OpKind {
    OpKind::Get { key: key.into() }
}

pub(crate) fn ok_write(revision: u64) -> Outcome {
    Outcome::Ok { revision: Some(revision), value: None, list: None }
}

pub(crate) fn ok_get(value: Option<&str>, revision: Option<u64>) -> Outcome {
    Outcome::Ok { revision, value: value.map(String::from), list: None }
}

pub(crate) fn ok_list(revision: u64, items: &[(&str, &str)]) -> Outcome {
    Outcome::Ok {
        revision: Some(revision),
        value: None,
        list: Some(items.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
    }
}

pub(crate) fn fail(reason: FailReason) -> Outcome {
    Outcome::Fail { reason }
}

pub(crate) fn unknown() -> Outcome {
    Outcome::Unknown { error: "timeout".into() }
}

/// Parameters of [`random_history`].
#[derive(Clone, Debug)]
pub(crate) struct RandomSpec {
    pub(crate) seed: u64,
    pub(crate) ops: usize,
    pub(crate) keys: usize,
    pub(crate) clients: u32,
    /// Percent of writes that end `Unknown` (half of those take effect).
    pub(crate) unknown_pct: u32,
    pub(crate) watches: usize,
}

impl Default for RandomSpec {
    fn default() -> Self {
        RandomSpec { seed: 0, ops: 2_000, keys: 10, clients: 8, unknown_pct: 5, watches: 4 }
    }
}

/// A valid history: each client runs operations back to back with random durations; each
/// operation takes effect at a random instant inside its interval, in which order a sequential
/// store answers them. Some writes end `Unknown` (taking effect or not), some are `Refused`,
/// some reads are `Unknown`, and a few revisions go to keys outside the test.
pub(crate) fn random_history(spec: &RandomSpec) -> History {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let clients = spec.clients.max(1);
    let per_client = spec.ops / clients as usize;

    // (invoke, linearization point, complete, client)
    let mut slots: Vec<(u64, u64, u64, u32)> = Vec::new();
    for c in 0..clients {
        let mut t = rng.gen_range(0..100u64);
        for _ in 0..per_client {
            let duration = if rng.gen_range(0..20) == 0 {
                rng.gen_range(1..2_000u64)
            } else {
                rng.gen_range(1..200u64)
            };
            let lin = t + rng.gen_range(0..=duration);
            slots.push((t, lin, t + duration, c));
            t += duration + rng.gen_range(0..50u64);
        }
    }
    slots.sort_unstable();
    let mut by_lin: Vec<usize> = (0..slots.len()).collect();
    by_lin.sort_unstable_by_key(|&i| (slots[i].1, i));

    let mut ops: Vec<Option<Op>> = vec![None; slots.len()];
    let mut state: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut old_values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut log = Vec::new();
    let mut other_revisions = Vec::new();
    let mut revision = 0u64;
    let mut next_value = 0u64;
    for i in by_lin {
        let (invoke_ns, _, complete_ns, client) = slots[i];
        let id = i as u64 + 1;
        if rng.gen_range(0..100) == 0 {
            revision += 1;
            other_revisions.push(revision);
        }
        let key = format!("key-{}", rng.gen_range(0..spec.keys.max(1)));
        let current = state.get(&key).cloned();
        let old: &[String] = old_values.get(&key).map_or(&[], Vec::as_slice);
        let pick_old = |rng: &mut StdRng| -> String {
            if old.is_empty() {
                "never-written".to_string()
            } else {
                old[rng.gen_range(0..old.len())].clone()
            }
        };
        next_value += 1;
        let fresh = format!("v{next_value}");
        let roll = rng.gen_range(0..100);
        let kind = match roll {
            0..=34 => OpKind::Get { key: key.clone() },
            35..=49 => OpKind::Create { key: key.clone(), value: fresh.clone() },
            50..=79 => {
                let (expect, expect_revision) = match &current {
                    Some((v, r)) if rng.gen_range(0..4) != 0 => (v.clone(), *r),
                    _ => (pick_old(&mut rng), 0),
                };
                OpKind::Update { key: key.clone(), value: fresh.clone(), expect, expect_revision }
            }
            80..=89 => {
                let expect = match (rng.gen_range(0..10), &current) {
                    (0..=4, _) => None,
                    (5..=8, Some((v, _))) => Some(v.clone()),
                    _ => Some(pick_old(&mut rng)),
                };
                OpKind::Delete { key: key.clone(), expect, expect_revision: None }
            }
            _ => OpKind::List,
        };
        // What a sequential store answers, and the new state.
        let (outcome, effect): (Outcome, Option<Option<String>>) = match &kind {
            OpKind::Get { .. } => (
                Outcome::Ok {
                    revision: current.as_ref().map(|(_, r)| *r),
                    value: current.as_ref().map(|(v, _)| v.clone()),
                    list: None,
                },
                None,
            ),
            OpKind::List => (
                Outcome::Ok {
                    revision: Some(revision),
                    value: None,
                    list: Some(state.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect()),
                },
                None,
            ),
            OpKind::Create { value, .. } => match current {
                None => (ok_write(0), Some(Some(value.clone()))),
                Some(_) => (fail(FailReason::AlreadyExists), None),
            },
            OpKind::Update { value, expect, .. } => match &current {
                None => (fail(FailReason::NotFound), None),
                Some((v, _)) if v == expect => (ok_write(0), Some(Some(value.clone()))),
                Some(_) => (fail(FailReason::Conflict), None),
            },
            OpKind::Delete { expect, .. } => match (&current, expect) {
                (None, _) => (fail(FailReason::NotFound), None),
                (Some((v, _)), Some(e)) if v != e => (fail(FailReason::Conflict), None),
                (Some(_), _) => (ok_write(0), Some(None)),
            },
        };
        let (outcome, effect) = if kind.is_write() && rng.gen_range(0..100) < spec.unknown_pct {
            (unknown(), if rng.gen_bool(0.5) { effect } else { None })
        } else if kind.is_write() && rng.gen_range(0..50) == 0 {
            (fail(FailReason::Refused), None)
        } else if !kind.is_write() && rng.gen_range(0..100) == 0 {
            (unknown(), None)
        } else {
            (outcome, effect)
        };
        let outcome = match (effect, outcome) {
            (Some(new), outcome) => {
                revision += 1;
                log.push(LogEvent {
                    revision,
                    request_id: format!("req-{id}"),
                    changes: vec![LogChange { key: key.clone(), value: new.clone() }],
                });
                if let Some((v, _)) = &current {
                    old_values.entry(key.clone()).or_default().push(v.clone());
                }
                match new {
                    Some(v) => {
                        state.insert(key.clone(), (v, revision));
                    }
                    None => {
                        state.remove(&key);
                    }
                }
                match outcome {
                    Outcome::Ok { .. } => ok_write(revision),
                    other => other,
                }
            }
            (None, outcome) => outcome,
        };
        ops[i] = Some(Op {
            id,
            client,
            node: u64::from(client % 3) + 1,
            kind,
            invoke_ns,
            complete_ns,
            outcome,
        });
    }

    let watches = (0..spec.watches)
        .map(|w| {
            let from_revision = rng.gen_range(0..=revision / 2);
            let until = rng.gen_range(from_revision..=revision);
            WatchStream {
                id: w as u64 + 1,
                node: 1,
                from_revision,
                open_ns: 0,
                close_ns: 0,
                events: log
                    .iter()
                    .filter(|e: &&LogEvent| e.revision > from_revision && e.revision <= until)
                    .flat_map(|e| {
                        e.changes.iter().map(|c| WatchEvent {
                            revision: e.revision,
                            key: c.key.clone(),
                            value: c.value.clone(),
                        })
                    })
                    .collect(),
                error: None,
            }
        })
        .collect();

    History {
        ops: ops.into_iter().flatten().collect(),
        watches,
        log,
        other_revisions,
        final_state: (0..spec.keys)
            .map(|k| {
                let key = format!("key-{k}");
                let v = state.get(&key).map(|(v, _)| v.clone());
                (key, v)
            })
            .collect(),
        nodes: (1..=3)
            .map(|node| NodeState { node, revision, hash: format!("h{revision}") })
            .collect(),
        faults: Vec::new(),
    }
}
