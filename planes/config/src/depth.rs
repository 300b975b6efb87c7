//! A linear pre-scan that bounds how deeply a YAML text nests flow collections (`{…}`, `[…]`)
//! before the YAML parser sees it.
//!
//! libyaml (under `serde_yaml`) tracks possible simple keys per flow level, so deeply nested
//! flow mappings cost it quadratic time: 250 KB of `{a: {a: …}}` took ~9 s before its
//! "recursion limit exceeded". Istio objects nest a handful of levels; this scan rejects a
//! text nesting deeper than [`MAX_FLOW_DEPTH`] in one pass, naming the document and line,
//! so a hostile body costs microseconds per kilobyte. Block nesting (indentation, `- - -`)
//! is cheap for libyaml and bounded by `serde_yaml`'s own recursion limit, so it is not
//! counted here.
//!
//! The scan follows YAML's lexical rules closely enough to skip quoted scalars and comments
//! (a quote opens a scalar only at the start of a token, a `#` starts a comment only after
//! whitespace), so brackets inside strings and comments do not count.

use crate::ConfigError;

/// The deepest flow nesting accepted (Istio's objects use a few levels; `serde_yaml` itself
/// stops at 128 levels of any kind).
pub const MAX_FLOW_DEPTH: usize = 64;

/// Fails with a [`ConfigError::Syntax`] naming the document and line where `text` first
/// nests flow collections deeper than [`MAX_FLOW_DEPTH`].
pub fn check_flow_depth(text: &str) -> Result<(), ConfigError> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
        Comment,
    }
    let mut state = State::Plain;
    let mut depth = 0usize;
    let (mut line, mut document) = (1usize, 0usize);
    let mut prev = b'\n';
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match state {
            State::Comment => {
                if c == b'\n' {
                    state = State::Plain;
                }
            }
            State::Single => {
                if c == b'\'' {
                    // `''` is an escaped quote inside a single-quoted scalar.
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        state = State::Plain;
                    }
                }
            }
            State::Double => match c {
                b'\\' => i += 1,
                b'"' => state = State::Plain,
                _ => {}
            },
            State::Plain => {
                let token_start =
                    matches!(prev, b' ' | b'\t' | b'\n' | b'\r' | b'[' | b'{' | b',' | b':');
                match c {
                    b'\'' if token_start => state = State::Single,
                    b'"' if token_start => state = State::Double,
                    b'#' if matches!(prev, b' ' | b'\t' | b'\n' | b'\r') => state = State::Comment,
                    b'[' | b'{' => {
                        depth += 1;
                        if depth > MAX_FLOW_DEPTH {
                            return Err(ConfigError::Syntax {
                                index: document,
                                line: Some(line),
                                message: format!(
                                    "flow collections ({{…}} or […]) nest deeper than \
                                     {MAX_FLOW_DEPTH} levels; no Istio object nests so deep — \
                                     check the document for runaway brackets"
                                ),
                            });
                        }
                    }
                    b']' | b'}' => depth = depth.saturating_sub(1),
                    b'-' if prev == b'\n' && bytes[i..].starts_with(b"---") => {
                        let end = bytes.get(i + 3).copied();
                        if matches!(end, None | Some(b'\n' | b'\r' | b' ' | b'\t')) {
                            document += 1;
                            depth = 0;
                        }
                    }
                    _ => {}
                }
            }
        }
        if bytes.get(i) == Some(&b'\n') {
            line += 1;
        }
        prev = bytes.get(i).copied().unwrap_or(c);
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_with_document_and_line() {
        let deep = format!("a: 1\n---\nb:\n  {}1{}\n", "{a: ".repeat(50_000), "}".repeat(50_000));
        // A bound on the scan's wall time (linear: microseconds here), not a benchmark.
        #[allow(clippy::disallowed_types)]
        let start = std::time::Instant::now();
        match check_flow_depth(&deep) {
            Err(ConfigError::Syntax { index: 1, line: Some(4), message }) => {
                assert!(message.contains("deeper than 64"), "{message}")
            }
            other => panic!("expected a syntax error in document 1, line 4: {other:?}"),
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert!(check_flow_depth(&format!("{}1{}", "[".repeat(65), "]".repeat(65))).is_err());
    }

    #[test]
    fn ordinary_documents_and_brackets_in_strings_and_comments_pass() {
        let ok = format!(
            "spec:\n  hosts: [\"a\", 'b[c']\n  # {}\n  regex: \"{}\"\n  note: it's [fine]\n  \
             match: {}1{}\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(64),
            "]".repeat(64)
        );
        check_flow_depth(&ok).unwrap();
        // Each document starts again at depth 0.
        let docs = format!("{}\n---\n{}\n", "[".repeat(40), "[".repeat(40));
        check_flow_depth(&docs).unwrap();
        // `''` inside a single-quoted scalar does not end it.
        check_flow_depth(&format!("a: 'it''s {}'\n", "[".repeat(100))).unwrap();
    }
}
