//! A self-contained HTML timeline of a chaos run, for a human to see what happened when a
//! checker fails: the checkers' verdicts, the operations they flagged, and a zoomable chart of
//! every client's operations, the watch streams and the injected faults.
//!
//! The page needs no external resources. The header, the verdict table and the list of flagged
//! operations are plain HTML; the chart is a `<canvas>` drawn by a little inline script from a
//! compact JSON array embedded in the page (one short array per operation, about 60 bytes), so
//! it stays usable with tens of thousands of operations. Drag pans, Ctrl+wheel (or pinch) and
//! the buttons zoom, double-click zooms in, hovering shows an operation, a watch or a fault.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use crate::check::CheckResult;
use crate::history::{FailReason, History, Op, OpKind, Outcome};

/// With more operations than this, the hover data omits the values (`…`) of operations no
/// failing checker flagged, to bound the page size.
pub const FULL_HOVER_OPS: usize = 20_000;
/// Keys and values in the hover data are cut to this many characters.
const HOVER_CHARS: usize = 24;
/// Details (error messages) in the hover data are cut to this many characters.
const DETAIL_CHARS: usize = 160;
/// Text cells of the HTML tables are cut to this many characters.
const CELL_CHARS: usize = 500;
/// Flagged operations listed per failing checker.
const LISTED_OPS: usize = 200;
/// Faults listed in the fault table.
const LISTED_FAULTS: usize = 1000;
/// Characters of a counterexample shown.
const COUNTEREXAMPLE_CHARS: usize = 20_000;
/// Label rows for faults above the chart.
const FAULT_ROWS: usize = 6;

/// One operation for the chart: `[id, lane, node, invoke µs, duration µs, outcome (0 ok,
/// 1 fail, 2 unknown), kind (0 create, 1 update, 2 delete, 3 get, 4 list), key, value,
/// revision, detail index]`.
type OpRow = (u64, usize, u64, u64, u64, u8, u8, String, String, Option<u64>, usize);
/// One watch stream: `[lane, id, node, from revision, open µs, close µs, events, last event
/// revision, error]`.
type WatchRow = (usize, u64, u64, u64, u64, u64, usize, Option<u64>, String);
/// One fault: `[kind, target, start µs, end µs, label row]`.
type FaultRow<'a> = (&'a str, &'a str, u64, u64, usize);

#[derive(Serialize)]
struct ChartData<'a> {
    /// The end of the run, µs.
    t_end: u64,
    /// Client id per lane.
    clients: Vec<u32>,
    ops: Vec<OpRow>,
    /// Interned details (fail reasons, errors, "absent", "N keys"); index 0 is empty.
    details: Vec<String>,
    watch_lanes: usize,
    watches: Vec<WatchRow>,
    fault_rows: usize,
    faults: Vec<FaultRow<'a>>,
    /// Failing checkers' names.
    checkers: Vec<&'a str>,
    /// `[op id, [index into checkers]]` for every flagged operation.
    violations: Vec<(u64, Vec<usize>)>,
}

/// Renders the timeline page of history `h` with the checkers' `results`.
pub fn render(title: &str, h: &History, results: &[CheckResult]) -> String {
    let data = chart_data(h, results);
    let json = serde_json::to_string(&data).expect("chart data is plain numbers and strings");
    let mut out = String::with_capacity(json.len() + 16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(title));
    out.push_str("<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n");
    let _ = writeln!(out, "<h1>{}</h1>", esc(title));
    summary(&mut out, h);
    verdicts(&mut out, results);
    violations(&mut out, h, results);
    out.push_str(CHART_HTML);
    faults_table(&mut out, h);
    out.push_str("<script type=\"application/json\" id=\"tl-data\">");
    out.push_str(&script_safe(&json));
    out.push_str("</script>\n<script>\n");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

fn chart_data<'a>(h: &'a History, results: &'a [CheckResult]) -> ChartData<'a> {
    let us = |ns: u64| ns.div_ceil(1000);
    let t_end = h
        .ops
        .iter()
        .map(|o| o.complete_ns.max(o.invoke_ns))
        .chain(h.watches.iter().map(|w| w.close_ns.max(w.open_ns)))
        .chain(h.faults.iter().map(|f| f.end_ns.max(f.start_ns)))
        .max()
        .unwrap_or(0);

    let clients: Vec<u32> =
        h.ops.iter().map(|o| o.client).collect::<BTreeSet<_>>().into_iter().collect();
    let lane_of: HashMap<u32, usize> = clients.iter().enumerate().map(|(i, &c)| (c, i)).collect();

    let mut checkers = Vec::new();
    let mut flagged: HashMap<u64, Vec<usize>> = HashMap::new();
    for r in results.iter().filter(|r| !r.passed) {
        let idx = checkers.len();
        checkers.push(r.name.as_str());
        for &id in &r.violating_ops {
            let list = flagged.entry(id).or_default();
            if !list.contains(&idx) {
                list.push(idx);
            }
        }
    }
    let mut violations: Vec<(u64, Vec<usize>)> = flagged.clone().into_iter().collect();
    violations.sort_unstable();

    let mut details = Interner::default();
    let elide = h.ops.len() > FULL_HOVER_OPS;
    let ops = h
        .ops
        .iter()
        .map(|o| {
            let (kind, key, value) = kind_parts(&o.kind);
            let is_get = matches!(o.kind, OpKind::Get { .. });
            let (outcome, revision, read, detail) = outcome_parts(&o.outcome, is_get);
            let value = read.or(value).unwrap_or("");
            let value = if elide && !value.is_empty() && !flagged.contains_key(&o.id) {
                "…".to_owned()
            } else {
                truncate(value, HOVER_CHARS)
            };
            (
                o.id,
                lane_of[&o.client],
                o.node,
                us(o.invoke_ns),
                us(o.complete_ns.saturating_sub(o.invoke_ns)),
                outcome,
                kind,
                truncate(key, HOVER_CHARS),
                value,
                revision,
                details.intern(detail),
            )
        })
        .collect();

    // Pack watch streams into as few lanes as possible.
    let mut order: Vec<usize> = (0..h.watches.len()).collect();
    order.sort_by_key(|&i| (h.watches[i].open_ns, h.watches[i].id));
    let mut lane_ends: Vec<u64> = Vec::new();
    let mut watches = Vec::with_capacity(h.watches.len());
    for i in order {
        let w = &h.watches[i];
        let lane = match lane_ends.iter().position(|&end| end < w.open_ns) {
            Some(l) => l,
            None => {
                lane_ends.push(0);
                lane_ends.len() - 1
            }
        };
        lane_ends[lane] = w.close_ns.max(w.open_ns);
        watches.push((
            lane,
            w.id,
            w.node,
            w.from_revision,
            us(w.open_ns),
            us(w.close_ns.max(w.open_ns)),
            w.events.len(),
            w.events.last().map(|e| e.revision),
            w.error.as_deref().map(|e| truncate(e, DETAIL_CHARS)).unwrap_or_default(),
        ));
    }

    // Give overlapping faults different label rows (an instant fault counts as 2% wide).
    let min_width = t_end / 50;
    let mut order: Vec<usize> = (0..h.faults.len()).collect();
    order.sort_by_key(|&i| h.faults[i].start_ns);
    let mut row_ends = [None::<u64>; FAULT_ROWS];
    let mut faults = vec![("", "", 0, 0, 0); h.faults.len()];
    for (n, i) in order.into_iter().enumerate() {
        let f = &h.faults[i];
        let row = row_ends
            .iter()
            .position(|end| end.is_none_or(|e| e <= f.start_ns))
            .unwrap_or(n % FAULT_ROWS);
        row_ends[row] = Some(f.end_ns.max(f.start_ns + min_width));
        faults[i] = (f.kind.as_str(), f.target.as_str(), us(f.start_ns), us(f.end_ns), row);
    }
    let fault_rows = faults.iter().map(|f| f.4 + 1).max().unwrap_or(0);

    ChartData {
        t_end: us(t_end),
        clients,
        ops,
        details: details.list,
        watch_lanes: lane_ends.len(),
        watches,
        fault_rows,
        faults,
        checkers,
        violations,
    }
}

#[derive(Default)]
struct Interner {
    list: Vec<String>,
    index: HashMap<String, usize>,
}

impl Interner {
    /// The index of `s` (0 for none).
    fn intern(&mut self, s: Option<String>) -> usize {
        let Some(s) = s else { return 0 };
        if self.list.is_empty() {
            self.list.push(String::new());
        }
        let s = truncate(&s, DETAIL_CHARS);
        if let Some(&i) = self.index.get(&s) {
            return i;
        }
        self.list.push(s.clone());
        self.index.insert(s, self.list.len() - 1);
        self.list.len() - 1
    }
}

/// Kind code, key, and the value the op writes (or expects, for a delete).
fn kind_parts(k: &OpKind) -> (u8, &str, Option<&str>) {
    match k {
        OpKind::Create { key, value } => (0, key, Some(value)),
        OpKind::Update { key, value, .. } => (1, key, Some(value)),
        OpKind::Delete { key, expect, .. } => (2, key, expect.as_deref()),
        OpKind::Get { key } => (3, key, None),
        OpKind::List => (4, "", None),
    }
}

/// Outcome code, revision, the value read (gets) and a detail.
fn outcome_parts(o: &Outcome, is_get: bool) -> (u8, Option<u64>, Option<&str>, Option<String>) {
    match o {
        Outcome::Ok { revision, value, list } => {
            let detail = match (value, list) {
                (_, Some(list)) => Some(format!("{} keys", list.len())),
                (None, None) if is_get => Some("absent".to_owned()),
                _ => None,
            };
            (0, *revision, value.as_deref(), detail)
        }
        Outcome::Fail { reason } => (1, None, None, Some(reason_name(reason).to_owned())),
        Outcome::Unknown { error } => (2, None, None, Some(error.clone())),
    }
}

fn outcome_code(o: &Outcome) -> u8 {
    match o {
        Outcome::Ok { .. } => 0,
        Outcome::Fail { .. } => 1,
        Outcome::Unknown { .. } => 2,
    }
}

fn reason_name(r: &FailReason) -> &'static str {
    match r {
        FailReason::AlreadyExists => "already exists",
        FailReason::Conflict => "conflict",
        FailReason::NotFound => "not found",
        FailReason::Refused => "refused",
    }
}

fn summary(out: &mut String, h: &History) {
    let mut counts = [0usize; 3];
    for o in &h.ops {
        counts[outcome_code(&o.outcome) as usize] += 1;
    }
    let clients = h.ops.iter().map(|o| o.client).collect::<BTreeSet<_>>().len();
    let end = h
        .ops
        .iter()
        .map(|o| o.complete_ns)
        .chain(h.watches.iter().map(|w| w.close_ns))
        .chain(h.faults.iter().map(|f| f.end_ns))
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "<p class=\"summary\">{} operations (<span class=\"ok\">{} ok</span>, \
         <span class=\"fail\">{} failed</span>, <span class=\"unknown\">{} unknown</span>) \
         from {} clients · {} watch streams · {} faults · {} log events · {} nodes · {}</p>",
        h.ops.len(),
        counts[0],
        counts[1],
        counts[2],
        clients,
        h.watches.len(),
        h.faults.len(),
        h.log.len(),
        h.nodes.len(),
        fmt_ns(end),
    );
}

fn verdicts(out: &mut String, results: &[CheckResult]) {
    if results.is_empty() {
        out.push_str("<p>No checker results.</p>\n");
        return;
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let _ = writeln!(
        out,
        "<h2>Checkers: {}</h2>",
        if failed == 0 {
            "<span class=\"pass\">all passed</span>".to_owned()
        } else {
            format!("<span class=\"failv\">{failed} of {} failed</span>", results.len())
        }
    );
    out.push_str(
        "<table class=\"checks\"><tr><th>checker</th><th>result</th><th>checked</th>\
         <th>message</th></tr>\n",
    );
    for r in results {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td><td>{}",
            esc(&r.name),
            if r.passed { "pass" } else { "failv" },
            if r.passed { "passed" } else { "FAILED" },
            r.checked,
            esc(&truncate(&r.message, CELL_CHARS)),
        );
        if let Some(cx) = &r.counterexample {
            let text = serde_json::to_string_pretty(cx).unwrap_or_else(|e| e.to_string());
            let _ = write!(
                out,
                "<details><summary>counterexample</summary><pre>{}</pre></details>",
                esc(&truncate(&text, COUNTEREXAMPLE_CHARS))
            );
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
}

fn violations(out: &mut String, h: &History, results: &[CheckResult]) {
    let failing: Vec<&CheckResult> =
        results.iter().filter(|r| !r.passed && !r.violating_ops.is_empty()).collect();
    if failing.is_empty() {
        return;
    }
    let by_id: HashMap<u64, &Op> = h.ops.iter().map(|o| (o.id, o)).collect();
    out.push_str("<h2>Flagged operations</h2>\n");
    for r in failing {
        let _ = writeln!(
            out,
            "<h3>{} <small>({} operations)</small></h3>",
            esc(&r.name),
            r.violating_ops.len()
        );
        out.push_str(
            "<table class=\"ops\"><tr><th>op</th><th>client</th><th>node</th><th>operation</th>\
             <th>outcome</th><th>invoked</th><th>completed</th></tr>\n",
        );
        for id in r.violating_ops.iter().take(LISTED_OPS) {
            match by_id.get(id) {
                Some(o) => {
                    let _ = writeln!(
                        out,
                        "<tr><td class=\"num\">#{}</td><td class=\"num\">{}</td>\
                         <td class=\"num\">{}</td><td>{}</td><td class=\"{}\">{}</td>\
                         <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                        o.id,
                        o.client,
                        o.node,
                        esc(&truncate(&describe_kind(&o.kind), CELL_CHARS)),
                        ["ok", "fail", "unknown"][outcome_code(&o.outcome) as usize],
                        esc(&truncate(&describe_outcome(&o.outcome), CELL_CHARS)),
                        fmt_ns(o.invoke_ns),
                        fmt_ns(o.complete_ns),
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "<tr><td class=\"num\">#{id}</td><td colspan=\"6\">not in the history</td>\
                         </tr>"
                    );
                }
            }
        }
        if r.violating_ops.len() > LISTED_OPS {
            let _ = writeln!(
                out,
                "<tr><td colspan=\"7\">… and {} more</td></tr>",
                r.violating_ops.len() - LISTED_OPS
            );
        }
        out.push_str("</table>\n");
    }
}

fn faults_table(out: &mut String, h: &History) {
    if h.faults.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<details class=\"faults\"><summary>Faults ({})</summary>\n<table><tr><th>kind</th>\
         <th>target</th><th>start</th><th>end</th></tr>",
        h.faults.len()
    );
    for f in h.faults.iter().take(LISTED_FAULTS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&truncate(&f.kind, CELL_CHARS)),
            esc(&truncate(&f.target, CELL_CHARS)),
            fmt_ns(f.start_ns),
            fmt_ns(f.end_ns),
        );
    }
    if h.faults.len() > LISTED_FAULTS {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"4\">… and {} more</td></tr>",
            h.faults.len() - LISTED_FAULTS
        );
    }
    out.push_str("</table></details>\n");
}

fn describe_kind(k: &OpKind) -> String {
    match k {
        OpKind::Create { key, value } => format!("create {key} = {value}"),
        OpKind::Update { key, value, expect, expect_revision } => {
            format!("update {key} = {value} if {expect} @ rev {expect_revision}")
        }
        OpKind::Delete { key, expect, expect_revision } => {
            let mut s = format!("delete {key}");
            if let Some(e) = expect {
                let _ = write!(s, " if {e}");
            }
            if let Some(r) = expect_revision {
                let _ = write!(s, " @ rev {r}");
            }
            s
        }
        OpKind::Get { key } => format!("get {key}"),
        OpKind::List => "list".to_owned(),
    }
}

fn describe_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Ok { revision, value, list } => {
            let mut s = "ok".to_owned();
            if let Some(r) = revision {
                let _ = write!(s, ", rev {r}");
            }
            match (value, list) {
                (_, Some(list)) => {
                    let items: Vec<String> = list.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    let _ = write!(s, ", {} keys: {}", list.len(), items.join(" "));
                }
                (Some(v), None) => {
                    let _ = write!(s, ", value {v}");
                }
                (None, None) => {}
            }
            s
        }
        Outcome::Fail { reason } => format!("failed: {}", reason_name(reason)),
        Outcome::Unknown { error } => format!("unknown: {error}"),
    }
}

/// `ns` since the run started, as seconds with microseconds.
fn fmt_ns(ns: u64) -> String {
    format!("{}.{:06} s", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000)
}

/// `s` cut to at most `max` characters (the last one `…` when cut).
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max.saturating_sub(1)) {
        Some((i, _)) if s[i..].chars().nth(1).is_some() => format!("{}…", &s[..i]),
        _ => s.to_owned(),
    }
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Makes JSON safe inside a `<script>` element: `<`, `>` and `&` can only occur inside JSON
/// strings, where their `\u` escapes mean the same.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

const CSS: &str = r##"body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 16px 0 6px; }
h3 { font-size: 14px; margin: 10px 0 4px; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { max-height: 300px; overflow: auto; background: #f8f8f8; padding: 6px; margin: 4px 0; }
.pass { color: #2e7d32; font-weight: 600; }
.failv { color: #c62828; font-weight: 600; }
.ok { color: #2e7d32; } .fail { color: #616161; } .unknown { color: #e65100; }
table.ops td.fail { color: #616161; }
#controls { margin: 16px 0 6px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
#controls button { font: inherit; padding: 1px 10px; }
.key { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; }
#wrap { position: relative; border: 1px solid #ccc; }
#tl { display: block; cursor: grab; }
#tip { position: absolute; display: none; pointer-events: none; background: #fffbe6;
  border: 1px solid #999; padding: 4px 6px; font: 12px/1.35 ui-monospace, monospace;
  white-space: pre; box-shadow: 0 2px 6px rgba(0,0,0,.2); z-index: 2; }
details.faults { margin-top: 12px; }
"##;

const CHART_HTML: &str = r##"<h2>Timeline</h2>
<div id="controls">
<span><span class="key" style="background:#43a047"></span>ok</span>
<span><span class="key" style="background:#9e9e9e"></span>failed</span>
<span><span class="key" style="background:#fb8c00"></span>unknown</span>
<span><span class="key" style="border:2px solid #e53935;width:10px;height:6px"></span>flagged</span>
<span><span class="key" style="background:#5c6bc0"></span>watch</span>
<span><span class="key" style="background:#e57373"></span>watch ended in error</span>
<span><span class="key" style="background:rgba(120,120,220,.25)"></span>fault</span>
<button id="zin" type="button">+</button><button id="zout" type="button">&minus;</button>
<button id="zreset" type="button">whole run</button>
<span id="range"></span>
<small>drag to pan · Ctrl+wheel or pinch to zoom · double-click to zoom in · hover for details</small>
</div>
<div id="wrap"><canvas id="tl"></canvas><div id="tip"></div></div>
<noscript><p>The chart needs JavaScript; the tables above do not.</p></noscript>
"##;

const JS: &str = r##"(function () {
"use strict";
const D = JSON.parse(document.getElementById("tl-data").textContent);
const KIND = ["create", "update", "delete", "get", "list"];
const OUT = ["ok", "failed", "unknown"];
const FILL = ["#43a047", "#9e9e9e", "#fb8c00"];
const cv = document.getElementById("tl"), tip = document.getElementById("tip");
const wrap = document.getElementById("wrap"), rangeEl = document.getElementById("range");
const ctx = cv.getContext("2d");
if (!ctx) return;
const LEFT = 78, RIGHT = 12, ROW = 14, AXIS = 20, GAP = 8;
const nC = D.clients.length, nW = D.watch_lanes, fRows = D.fault_rows;
const laneH = Math.max(3, Math.min(16, Math.floor(4000 / Math.max(1, nC))));
const wH = Math.max(2, Math.min(6, Math.floor(1200 / Math.max(1, nW))));
const top = fRows * ROW + AXIS;
const wTop = top + nC * laneH + (nW ? GAP : 0);
const bottom = wTop + nW * wH + GAP;
const H = bottom + AXIS;
const full = Math.max(D.t_end, 1000);
const viol = new Map(D.violations);
const lanes = [];
for (let i = 0; i < nC; i++) lanes.push([]);
D.ops.forEach(function (o, i) { lanes[o[1]].push(i); });
lanes.forEach(function (l) { l.sort(function (a, b) { return D.ops[a][3] - D.ops[b][3]; }); });
let v0 = -full * 0.01, v1 = full * 1.01, W = 600, pending = false, drag = null;

function X(t) { return LEFT + (t - v0) * (W - LEFT - RIGHT) / (v1 - v0); }
function T(x) { return v0 + (x - LEFT) * (v1 - v0) / (W - LEFT - RIGHT); }
function fmtT(us) {
  if (us < 1e3) return Math.round(us) + " µs";
  if (us < 1e6) return (us / 1e3).toFixed(3) + " ms";
  return (us / 1e6).toFixed(6) + " s";
}
function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  const m = raw / p;
  return Math.max(1, (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p);
}
function fmtTick(t, step) {
  const e = Math.floor(Math.log10(step));
  if (step >= 1e5) return (t / 1e6).toFixed(Math.max(0, 6 - e)) + " s";
  if (step >= 1e2) return (t / 1e3).toFixed(Math.max(0, 3 - e)) + " ms";
  return Math.round(t) + " µs";
}
function hue(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360;
  return h;
}
function request() {
  if (!pending) { pending = true; requestAnimationFrame(draw); }
}
function setView(a, b) {
  let span = Math.min(Math.max(b - a, 5), full * 1.2);
  a = Math.min(Math.max(a, -full * 0.1), full * 1.1 - span);
  v0 = a; v1 = a + span;
  request();
}
function zoom(t, f) { setView(t - (t - v0) * f, t + (v1 - t) * f); }

function draw() {
  pending = false;
  const dpr = window.devicePixelRatio || 1;
  W = Math.max(400, wrap.clientWidth);
  cv.style.width = W + "px"; cv.style.height = H + "px";
  cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const innerW = W - LEFT - RIGHT;
  ctx.fillStyle = "#f5f5f5";
  for (let i = 1; i < nC; i += 2) ctx.fillRect(LEFT, top + i * laneH, innerW, laneH);
  ctx.fillStyle = "#333";
  ctx.textAlign = "right";
  const every = Math.ceil(12 / laneH);
  for (let i = 0; i < nC; i += every) ctx.fillText("client " + D.clients[i], LEFT - 4, top + i * laneH + laneH / 2);
  if (nW) ctx.fillText("watches", LEFT - 4, wTop + Math.min(nW * wH, 12) / 2);
  if (fRows) ctx.fillText("faults", LEFT - 4, ROW / 2);

  ctx.save();
  ctx.beginPath(); ctx.rect(LEFT, 0, innerW, H); ctx.clip();
  const scale = innerW / (v1 - v0);
  for (const f of D.faults) {
    const x0 = X(f[2]), x1 = Math.max(X(f[3]), x0 + 2);
    if (x1 < LEFT || x0 > W) continue;
    const h = hue(f[0]);
    ctx.fillStyle = "hsla(" + h + ",60%,55%,0.16)";
    ctx.fillRect(x0, f[4] * ROW, x1 - x0, H - f[4] * ROW);
    ctx.fillStyle = "hsla(" + h + ",60%,35%,1)";
    ctx.textAlign = "left";
    ctx.fillText(f[0] + " " + f[1], Math.max(x0, LEFT) + 2, f[4] * ROW + ROW / 2);
  }
  const step = niceStep((v1 - v0) / Math.max(2, innerW / 110));
  ctx.strokeStyle = "rgba(0,0,0,0.12)"; ctx.lineWidth = 1;
  ctx.fillStyle = "#555"; ctx.textAlign = "center";
  for (let k = Math.ceil(v0 / step); k * step <= v1; k++) {
    const t = k * step, x = Math.round(X(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, top - 4); ctx.lineTo(x, bottom + 4); ctx.stroke();
    const label = fmtTick(t, step);
    ctx.fillText(label, x, top - AXIS / 2);
    ctx.fillText(label, x, bottom + AXIS / 2);
  }
  const paths = [new Path2D(), new Path2D(), new Path2D()], red = new Path2D();
  const oh = Math.max(1, laneH - 2);
  for (const o of D.ops) {
    const x0 = X(o[3]), len = o[4] * scale, w = len > 3 ? len - 1 : Math.max(1, len);
    if (x0 + w < LEFT || x0 > W) continue;
    const y = top + o[1] * laneH + (laneH > 3 ? 1 : 0);
    paths[o[5]].rect(x0, y, w, oh);
    if (viol.has(o[0])) {
      const rw = Math.max(w, 4);
      red.rect(x0 - (rw - w) / 2 - 1, y - 1, rw + 2, oh + 2);
    }
  }
  for (let c = 0; c < 3; c++) { ctx.fillStyle = FILL[c]; ctx.fill(paths[c]); }
  ctx.strokeStyle = "#e53935"; ctx.lineWidth = 2; ctx.stroke(red);
  for (const w of D.watches) {
    const x0 = X(w[4]), x1 = Math.max(X(w[5]), x0 + 1);
    if (x1 < LEFT || x0 > W) continue;
    ctx.fillStyle = w[8] ? "#e57373" : "#5c6bc0";
    ctx.fillRect(x0, wTop + w[0] * wH, x1 - x0, Math.max(1, wH - 1));
  }
  ctx.restore();
  rangeEl.textContent = fmtT(Math.max(0, v0)) + " – " + fmtT(v1);
}

function opAt(x, y) {
  const l = Math.floor((y - top) / laneH);
  if (y < top || l < 0 || l >= nC) return -1;
  const t = T(x), tol = 3 * (v1 - v0) / (W - LEFT - RIGHT), ids = lanes[l];
  let lo = 0, hi = ids.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (D.ops[ids[m]][3] <= t + tol) lo = m + 1; else hi = m;
  }
  let best = -1, bestD = Infinity;
  for (let k = lo - 1; k >= 0 && k >= lo - 8; k--) {
    const o = D.ops[ids[k]], end = o[3] + o[4];
    const d = t < o[3] ? o[3] - t : t > end ? t - end : 0;
    if (d <= tol && d < bestD) { best = ids[k]; bestD = d; }
  }
  return best;
}
function watchAt(x, y) {
  const l = Math.floor((y - wTop) / wH);
  if (y < wTop || l < 0 || l >= nW) return -1;
  const t = T(x), tol = 3 * (v1 - v0) / (W - LEFT - RIGHT);
  for (let i = 0; i < D.watches.length; i++) {
    const w = D.watches[i];
    if (w[0] === l && w[4] - tol <= t && t <= w[5] + tol) return i;
  }
  return -1;
}
function faultsAt(x) {
  const t = T(x), tol = 3 * (v1 - v0) / (W - LEFT - RIGHT);
  return D.faults.filter(function (f) { return f[2] - tol <= t && t <= f[3] + tol; });
}
function opText(i) {
  const o = D.ops[i];
  let s = "#" + o[0] + " " + KIND[o[6]];
  if (o[7]) s += " " + o[7];
  if (o[8]) s += (o[6] === 2 ? " if " : o[6] === 3 ? " → " : " = ") + o[8];
  s += "\n" + OUT[o[5]];
  if (o[9] !== null) s += " · rev " + o[9];
  if (o[10]) s += " · " + D.details[o[10]];
  s += "\nnode " + o[2] + " · client " + D.clients[o[1]];
  s += "\n" + fmtT(o[3]) + " → " + fmtT(o[3] + o[4]) + " (" + fmtT(o[4]) + ")";
  const v = viol.get(o[0]);
  if (v) s += "\nflagged by " + v.map(function (c) { return D.checkers[c]; }).join(", ");
  return s;
}
function watchText(i) {
  const w = D.watches[i];
  let s = "watch " + w[1] + " on node " + w[2] + " from rev " + w[3];
  s += "\n" + w[6] + " events" + (w[7] !== null ? ", last rev " + w[7] : "");
  s += "\n" + fmtT(w[4]) + " → " + fmtT(w[5]);
  s += "\n" + (w[8] ? "ended: " + w[8] : "closed by the runner");
  return s;
}
function faultText(f) {
  return f[0] + " " + f[1] + ": " + fmtT(f[2]) + " → " + fmtT(f[3]);
}
function pos(e) {
  const r = cv.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
}
function hover(e) {
  const p = pos(e), x = p[0], y = p[1];
  if (x < LEFT) { tip.style.display = "none"; return; }
  let text = "";
  const oi = opAt(x, y);
  if (oi >= 0) text = opText(oi);
  else {
    const wi = watchAt(x, y);
    if (wi >= 0) text = watchText(wi);
  }
  const fs = faultsAt(x);
  if (fs.length) text += (text ? "\n\n" : "") + fs.slice(0, 8).map(faultText).join("\n");
  if (!text) { tip.style.display = "none"; return; }
  tip.textContent = text;
  tip.style.display = "block";
  const left = Math.min(x + 14, Math.max(0, W - tip.offsetWidth - 4));
  tip.style.left = left + "px";
  tip.style.top = (y + 16) + "px";
}

cv.addEventListener("mousedown", function (e) {
  const x = pos(e)[0];
  if (x >= LEFT) { drag = { x: x, v0: v0, v1: v1 }; cv.style.cursor = "grabbing"; e.preventDefault(); }
});
window.addEventListener("mouseup", function () { drag = null; cv.style.cursor = ""; });
window.addEventListener("mousemove", function (e) {
  if (!drag) return;
  const dt = (pos(e)[0] - drag.x) * (drag.v1 - drag.v0) / (W - LEFT - RIGHT);
  setView(drag.v0 - dt, drag.v1 - dt);
});
cv.addEventListener("mousemove", function (e) { if (!drag) hover(e); else tip.style.display = "none"; });
cv.addEventListener("mouseleave", function () { tip.style.display = "none"; });
cv.addEventListener("wheel", function (e) {
  if (!e.ctrlKey && !e.metaKey) return;
  e.preventDefault();
  const x = pos(e)[0];
  zoom(x >= LEFT ? T(x) : (v0 + v1) / 2, Math.exp(Math.max(-300, Math.min(300, e.deltaY)) * 0.004));
}, { passive: false });
cv.addEventListener("dblclick", function (e) {
  const x = pos(e)[0];
  if (x >= LEFT) zoom(T(x), e.shiftKey ? 4 : 0.25);
});
document.getElementById("zin").addEventListener("click", function () { zoom((v0 + v1) / 2, 0.5); });
document.getElementById("zout").addEventListener("click", function () { zoom((v0 + v1) / 2, 2); });
document.getElementById("zreset").addEventListener("click", function () { setView(-full * 0.01, full * 1.01); });
window.addEventListener("resize", request);
draw();
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Fault, WatchEvent, WatchStream};

    fn op(id: u64, client: u32, kind: OpKind, t: u64, outcome: Outcome) -> Op {
        Op { id, client, node: 1 + id % 3, kind, invoke_ns: t, complete_ns: t + 3_000_000, outcome }
    }

    fn ok(revision: u64) -> Outcome {
        Outcome::Ok { revision: Some(revision), value: None, list: None }
    }

    fn small() -> History {
        History {
            ops: vec![
                op(
                    1,
                    1,
                    OpKind::Create { key: "k1".into(), value: "<b>v1</b>".into() },
                    1_000_000,
                    ok(1),
                ),
                op(
                    2,
                    2,
                    OpKind::Get { key: "k1".into() },
                    2_000_000,
                    Outcome::Ok { revision: Some(1), value: Some("<b>v1</b>".into()), list: None },
                ),
                op(
                    3,
                    1,
                    OpKind::Update {
                        key: "k1".into(),
                        value: "v2".into(),
                        expect: "<b>v1</b>".into(),
                        expect_revision: 1,
                    },
                    5_000_000,
                    Outcome::Unknown { error: "timeout </script><script>alert(1)".into() },
                ),
                op(
                    4,
                    2,
                    OpKind::Delete { key: "k1".into(), expect: None, expect_revision: None },
                    6_000_000,
                    Outcome::Fail { reason: FailReason::Conflict },
                ),
                op(
                    5,
                    3,
                    OpKind::List,
                    7_000_000,
                    Outcome::Ok {
                        revision: Some(2),
                        value: None,
                        list: Some(vec![("k1".into(), "v2".into())]),
                    },
                ),
            ],
            watches: vec![WatchStream {
                id: 1,
                node: 2,
                from_revision: 0,
                open_ns: 0,
                close_ns: 9_000_000,
                events: vec![WatchEvent { revision: 1, key: "k1".into(), value: Some("x".into()) }],
                error: Some("connection <reset>".into()),
            }],
            faults: vec![Fault {
                kind: "partition".into(),
                target: "{1,2} | {3}".into(),
                start_ns: 4_000_000,
                end_ns: 8_000_000,
            }],
            ..History::default()
        }
    }

    fn results() -> Vec<CheckResult> {
        vec![
            CheckResult {
                name: "linearizable".into(),
                passed: false,
                checked: 5,
                message: "read of <b>v1</b> after v2".into(),
                counterexample: Some(serde_json::json!({"ops": [1, 3], "note": "<x>"})),
                violating_ops: vec![1, 3, 99],
            },
            CheckResult {
                name: "watch-ordered".into(),
                passed: true,
                checked: 1,
                message: "all in order".into(),
                counterexample: None,
                violating_ops: vec![],
            },
        ]
    }

    /// The embedded chart data, parsed back.
    fn data(html: &str) -> serde_json::Value {
        let start = html.find("id=\"tl-data\">").unwrap() + "id=\"tl-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end]).unwrap()
    }

    #[test]
    fn renders_an_empty_history() {
        let html = render("empty run", &History::default(), &[]);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>empty run</title>"));
        assert!(html.contains("0 operations"));
        assert!(html.ends_with("</html>\n"));
        let d = data(&html);
        assert_eq!(d["ops"].as_array().unwrap().len(), 0);
        assert_eq!(d["watch_lanes"], 0);
    }

    #[test]
    fn renders_a_small_history() {
        let h = small();
        let html = render("small run", &h, &results());
        for name in ["linearizable", "watch-ordered"] {
            assert!(html.contains(&format!("<td>{name}</td>")), "{name}");
        }
        assert!(html.contains("FAILED") && html.contains("passed"));
        assert!(html.contains("Flagged operations"));
        assert!(html.contains("#99</td><td colspan=\"6\">not in the history"));
        assert!(html.contains("update k1 = v2 if &lt;b&gt;v1&lt;/b&gt; @ rev 1"));
        assert!(html.contains("Faults (1)"));
        assert!(!html.contains("http://") && !html.contains("https://"), "external resource");

        let d = data(&html);
        let ops = d["ops"].as_array().unwrap();
        assert_eq!(ops.len(), 5);
        // [id, lane, node, t0, dur, outcome, kind, key, value, rev, detail]
        assert_eq!(ops[0], serde_json::json!([1, 0, 2, 1000, 3000, 0, 0, "k1", "<b>v1</b>", 1, 0]));
        assert_eq!(ops[1][8], "<b>v1</b>");
        assert_eq!(ops[2][5], 2);
        assert_eq!(ops[3][5], 1);
        assert_eq!(d["details"][ops[3][10].as_u64().unwrap() as usize], "conflict");
        assert_eq!(d["details"][ops[4][10].as_u64().unwrap() as usize], "1 keys");
        assert_eq!(d["clients"], serde_json::json!([1, 2, 3]));
        assert_eq!(d["checkers"], serde_json::json!(["linearizable"]));
        assert_eq!(d["violations"], serde_json::json!([[1, [0]], [3, [0]], [99, [0]]]));
        assert_eq!(d["watch_lanes"], 1);
        assert_eq!(d["faults"], serde_json::json!([["partition", "{1,2} | {3}", 4000, 8000, 0]]));
        assert_eq!(d["t_end"], 10_000);
    }

    #[test]
    fn escapes_text() {
        let html = render("<title> & co", &small(), &results());
        assert!(html.contains("<h1>&lt;title&gt; &amp; co</h1>"));
        assert!(html.contains("read of &lt;b&gt;v1&lt;/b&gt; after v2"));
        assert!(html.contains("&quot;note&quot;: &quot;&lt;x&gt;&quot;"));
        assert!(!html.contains("<b>v1"), "unescaped value");
        assert!(!html.contains("<x>"));
        // The only `</script>` are the two closing the two script elements.
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(!html.contains("<reset>"));
        assert!(html.contains("\\u003cb\\u003ev1"));
    }

    #[test]
    fn watch_streams_share_lanes_when_they_do_not_overlap() {
        let w = |id, open_ns, close_ns| WatchStream {
            id,
            node: 1,
            from_revision: 0,
            open_ns,
            close_ns,
            events: vec![],
            error: None,
        };
        let h =
            History { watches: vec![w(1, 0, 10), w(2, 5, 20), w(3, 11, 30)], ..History::default() };
        let d = chart_data(&h, &[]);
        assert_eq!(d.watch_lanes, 2);
        let lanes: Vec<usize> = d.watches.iter().map(|w| w.0).collect();
        assert_eq!(lanes, vec![0, 1, 0]);
    }

    #[test]
    fn stays_small_for_fifty_thousand_ops() {
        let n = 50_000u64;
        let ops = (0..n)
            .map(|i| {
                let value = format!("value-{i}-with-a-rather-long-suffix-to-be-cut");
                let kind = OpKind::Create { key: format!("key-{}", i % 100), value };
                let outcome = if i % 10 == 0 {
                    Outcome::Unknown { error: format!("request timed out after 5s ({})", i % 3) }
                } else {
                    ok(i)
                };
                Op {
                    id: i,
                    client: (i % 32) as u32,
                    node: i % 5,
                    kind,
                    invoke_ns: i * 1_000_000,
                    complete_ns: i * 1_000_000 + 900_000,
                    outcome,
                }
            })
            .collect();
        let h = History { ops, ..History::default() };
        let flagged = CheckResult {
            name: "linearizable".into(),
            passed: false,
            checked: n as usize,
            message: "broken".into(),
            counterexample: None,
            violating_ops: (0..1000).collect(),
        };
        let html = render("big", &h, &[flagged]);
        assert!(html.len() < 100 * n as usize, "{} bytes for {n} ops", html.len());
        let d = data(&html);
        assert_eq!(d["ops"][1][8], "value-1-with-a-rather-l…");
        assert_eq!(d["ops"][40_001][8], "…");
        assert_eq!(d["details"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 4), "ééé…");
        assert_eq!(truncate("", 3), "");
    }
}
