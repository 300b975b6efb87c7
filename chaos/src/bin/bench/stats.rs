//! Numbers and tables for the benches: percentiles of latency samples, medians over runs, and
//! right-aligned plain-text tables.

use std::time::Duration;

/// The `p`-quantile (0..=1) of `sorted` by the nearest-rank method; zero when empty.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// The median of `values` (the mean of the middle two for an even count); zero when empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// What one measured phase gives: operations completed in the window, its length, and the
/// latency quantiles of those operations.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub(crate) struct Summary {
    /// Operations that started and completed inside the window.
    pub ops: u64,
    /// Failed operations inside the window (not in `ops` nor in the latencies).
    pub errors: u64,
    /// Operations per second.
    pub rate: f64,
    /// Latency quantiles, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// CPU time the servers (every member process) spent inside the window, per operation,
    /// in microseconds (user + system, from `/proc/<pid>/stat`); 0 when not measured.
    pub cpu_us_per_op: f64,
}

impl Summary {
    /// Summarizes `latencies` (any order) over a window of `window`.
    pub(crate) fn of(mut latencies: Vec<Duration>, errors: u64, window: Duration) -> Summary {
        latencies.sort_unstable();
        let ms = |p: f64| percentile(&latencies, p).as_secs_f64() * 1000.0;
        let secs = window.as_secs_f64();
        Summary {
            ops: latencies.len() as u64,
            errors,
            rate: if secs > 0.0 { latencies.len() as f64 / secs } else { 0.0 },
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            cpu_us_per_op: 0.0,
        }
    }

    /// The median of each figure over several runs of the same cell.
    pub(crate) fn median_of(runs: &[Summary]) -> Summary {
        let m = |f: fn(&Summary) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        Summary {
            ops: m(|s| s.ops as f64).round() as u64,
            errors: runs.iter().map(|s| s.errors).sum(),
            rate: m(|s| s.rate),
            p50_ms: m(|s| s.p50_ms),
            p99_ms: m(|s| s.p99_ms),
            p999_ms: m(|s| s.p999_ms),
            cpu_us_per_op: m(|s| s.cpu_us_per_op),
        }
    }
}

/// `12345.6` → `"12,346"`.
pub(crate) fn rate(r: f64) -> String {
    let n = r.round() as u64;
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// CPU time the processes `pids` have used so far (user + system), in microseconds; processes
/// that are gone count 0. Linux `/proc/<pid>/stat` fields 14 and 15, in clock ticks of
/// `USER_HZ` (100 on every Linux ABI).
pub(crate) fn cpu_micros(pids: &[u32]) -> u64 {
    const USER_HZ: u64 = 100;
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // The command name (field 2) is in parentheses and may hold spaces.
            let rest = &stat[stat.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            // `rest` starts at field 3, so utime (14) and stime (15) are at 11 and 12.
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .map(|ticks| ticks * 1_000_000 / USER_HZ)
        .sum()
}

/// Microseconds, no decimals; `-` for 0 (not measured).
pub(crate) fn us(v: f64) -> String {
    if v > 0.0 {
        format!("{v:.0}")
    } else {
        "-".into()
    }
}

/// Milliseconds with two decimals.
pub(crate) fn ms(v: f64) -> String {
    format!("{v:.2}")
}

/// `ours / theirs` as `"1.52x"`, or `-` when either is missing or zero.
pub(crate) fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

/// A plain-text table: a header row, a rule, then the rows; every column right-aligned to its
/// widest cell, two spaces apart. Rows shorter than the header are padded with blanks.
pub(crate) fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(width.len()) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = width
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{:>w$}", cells.get(i).copied().unwrap_or(""), w = *w))
            .collect();
        parts.join("  ")
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    out.push_str(&"-".repeat(width.iter().sum::<usize>() + 2 * (width.len().saturating_sub(1))));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_processes() {
        let me = std::process::id();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        assert!(x != 1);
        assert!(cpu_micros(&[me]) >= 10_000, "50 ms of spinning shows as CPU time");
        assert_eq!(cpu_micros(&[u32::MAX]), 0, "a process that does not exist counts 0");
        assert_eq!(us(0.0), "-");
        assert_eq!(us(123.4), "123");
    }

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<Duration> = (1..=1000).map(d).collect();
        assert_eq!(percentile(&v, 0.5), d(500));
        assert_eq!(percentile(&v, 0.99), d(990));
        assert_eq!(percentile(&v, 0.999), d(999));
        assert_eq!(percentile(&v, 1.0), d(1000));
        assert_eq!(percentile(&v, 0.0), d(1));
        assert_eq!(percentile(&[d(7)], 0.999), d(7));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn summary_counts_rate_and_quantiles() {
        let lat: Vec<Duration> = (1..=100).rev().map(d).collect();
        let s = Summary::of(lat, 2, Duration::from_secs(4));
        assert_eq!(s.ops, 100);
        assert_eq!(s.errors, 2);
        assert_eq!(s.rate, 25.0);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.p999_ms, 100.0);
        let empty = Summary::of(vec![], 0, Duration::ZERO);
        assert_eq!(empty.rate, 0.0);
    }

    #[test]
    fn median_of_runs_takes_each_figure_separately() {
        let run = |rate: f64, p99: f64| Summary { ops: 1, rate, p99_ms: p99, ..Default::default() };
        let m = Summary::median_of(&[run(10.0, 9.0), run(30.0, 1.0), run(20.0, 5.0)]);
        assert_eq!(m.rate, 20.0);
        assert_eq!(m.p99_ms, 5.0);
        assert_eq!(m.ops, 1);
    }

    #[test]
    fn formatting() {
        assert_eq!(rate(0.4), "0");
        assert_eq!(rate(999.0), "999");
        assert_eq!(rate(1000.0), "1,000");
        assert_eq!(rate(1234567.4), "1,234,567");
        assert_eq!(ms(1.234), "1.23");
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50x");
        assert_eq!(ratio(Some(3.0), None), "-");
        assert_eq!(ratio(Some(3.0), Some(0.0)), "-");
    }

    #[test]
    fn table_aligns_right() {
        let t = render(
            &["op", "clients", "ours/s"],
            &[vec!["write".into(), "1".into(), "1,234".into()], vec!["read".into(), "256".into()]],
        );
        let want = "   op  clients  ours/s\n\
                    ----------------------\n\
                    write        1   1,234\n\
                    \x20read      256        \n";
        assert_eq!(t, want);
    }
}
