//! Unified line diffs for `istioctl diff` (LCS-based; configuration objects are small).

/// Unified diff of `a` and `b` with 3 lines of context, `---`/`+++` headers and `@@` hunks;
/// empty when they are equal. `color` adds ANSI red/green to removed/added lines.
pub(super) fn unified(a: &str, b: &str, label_a: &str, label_b: &str, color: bool) -> String {
    let x: Vec<&str> = a.lines().collect();
    let y: Vec<&str> = b.lines().collect();
    // lcs[i][j] = length of the LCS of x[i..] and y[j..].
    let mut lcs = vec![vec![0usize; y.len() + 1]; x.len() + 1];
    for i in (0..x.len()).rev() {
        for j in (0..y.len()).rev() {
            lcs[i][j] =
                if x[i] == y[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    // The edit script: (tag, line in a, line in b, text).
    let mut ops: Vec<(char, usize, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        if i < x.len() && j < y.len() && x[i] == y[j] {
            ops.push((' ', i, j, x[i]));
            i += 1;
            j += 1;
        } else if i < x.len() && (j == y.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i, j, x[i]));
            i += 1;
        } else {
            ops.push(('+', i, j, y[j]));
            j += 1;
        }
    }
    if ops.iter().all(|o| o.0 == ' ') {
        return String::new();
    }
    let mut out = format!("--- {label_a}\n+++ {label_b}\n");
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(3);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 7 {
            end = changed[k];
            k += 1;
        }
        let end = (end + 3).min(ops.len() - 1);
        let hunk = &ops[start..=end];
        let a_len = hunk.iter().filter(|o| o.0 != '+').count();
        let b_len = hunk.iter().filter(|o| o.0 != '-').count();
        let (a0, b0) = (hunk[0].1 + 1, hunk[0].2 + 1);
        out.push_str(&format!("@@ -{a0},{a_len} +{b0},{b_len} @@\n"));
        for (tag, _, _, text) in hunk {
            let line = format!("{tag}{text}");
            match (color, tag) {
                (true, '-') => out.push_str(&format!("\x1b[31m{line}\x1b[0m\n")),
                (true, '+') => out.push_str(&format!("\x1b[32m{line}\x1b[0m\n")),
                _ => {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn diffs() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y", false), "");
        let d = unified("a\nb\nc\n", "a\nB\nc\nd\n", "x", "y", false);
        assert_eq!(d, "--- x\n+++ y\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n");
    }
}
