//! A linear pre-scan that bounds how deeply a YAML text nests flow collections (`{…}`, `[…]`)
//! before the YAML parser sees it.
//!
//! libyaml (under `serde_yaml`) tracks possible simple keys per flow level, so deeply nested
//! flow mappings cost it quadratic time: 250 KB of `{a: {a: …}}` took ~9 s before its
//! "recursion limit exceeded". Istio objects nest a handful of levels; this scan rejects a
//! text nesting deeper than [`MAX_FLOW_DEPTH`] in one pass, naming the document and line, so a
//! hostile body costs microseconds per kilobyte. Block nesting (indentation, `- - -`) is cheap
//! for libyaml and bounded by `serde_yaml`'s own recursion limit, so it is not counted.
//!
//! The scan follows YAML's lexical rules far enough to count only real flow indicators: it
//! skips quoted scalars (a quote opens one only where a scalar starts), plain scalars (where a
//! quote or, in block context, a bracket is ordinary text), comments (`#` after whitespace)
//! and the bodies of block scalars (`|`, `>`). Because a lexer this small can still be fooled,
//! a second count that ignores all of that — every bracket, wherever it stands — is bounded
//! too, at [`MAX_RAW_DEPTH`]: whatever the scan believes, libyaml never sees more nesting
//! than that.

use crate::ConfigError;

/// The deepest flow nesting accepted (Istio's objects use a few levels; `serde_yaml` itself
/// stops at 128 levels of any kind).
pub const MAX_FLOW_DEPTH: usize = 64;

/// The backstop: the most unclosed brackets accepted counting every `[` and `{` in the text,
/// inside strings and comments too. Far above any real object; low enough that libyaml's
/// quadratic cost stays in milliseconds.
pub const MAX_RAW_DEPTH: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between tokens.
    Between,
    /// Inside a plain (unquoted) scalar.
    Plain,
    /// Inside a single-quoted scalar.
    Single,
    /// Inside a double-quoted scalar.
    Double,
    /// Inside a comment, to the end of the line.
    Comment,
}

/// Fails with a [`ConfigError::Syntax`] naming the document (0-based, as `parse_documents`
/// counts them) and line where `text` first nests flow collections deeper than
/// [`MAX_FLOW_DEPTH`] (or holds more than [`MAX_RAW_DEPTH`] unclosed brackets at all).
pub fn check_flow_depth(text: &str) -> Result<(), ConfigError> {
    let bytes = text.as_bytes();
    let mut state = State::Between;
    let (mut depth, mut raw) = (0usize, 0usize);
    let (mut line, mut document) = (1usize, 0usize);
    // Whether the current document has shown anything but blanks, comments and markers: a
    // `---` before any content starts document 0, not 1.
    let mut content = false;
    // Indentation of the current line, and of the line that opened a block scalar whose body
    // (the more-indented lines after it) is being skipped.
    let mut indent = 0usize;
    let mut at_line_start = true;
    let mut block_scalar: Option<usize> = None;
    let mut prev = b'\n';
    let fail = |document: usize, line: usize, what: String| {
        Err(ConfigError::Syntax { index: document, line: Some(line), message: what })
    };
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if at_line_start {
            // Measure this line's indentation; decide whether it is a block scalar's body.
            let start = i;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            indent = i - start;
            at_line_start = false;
            let blank = matches!(bytes.get(i), None | Some(b'\n' | b'\r'));
            let skipping_block_body = match block_scalar {
                Some(parent) if blank || indent > parent => true,
                _ => {
                    block_scalar = None;
                    false
                }
            };
            if skipping_block_body {
                // Skip to the end of the line, literally: nothing in it is YAML syntax.
                while i < bytes.len() && bytes[i] != b'\n' {
                    if matches!(bytes[i], b'[' | b'{') {
                        raw += 1;
                    } else if matches!(bytes[i], b']' | b'}') {
                        raw = raw.saturating_sub(1);
                    }
                    i += 1;
                }
                if raw > MAX_RAW_DEPTH {
                    return fail(document, line, raw_message());
                }
                continue;
            }
            if state == State::Plain || state == State::Comment {
                state = State::Between;
            }
            continue;
        }
        match c {
            b'[' | b'{' => raw += 1,
            b']' | b'}' => raw = raw.saturating_sub(1),
            _ => {}
        }
        if raw > MAX_RAW_DEPTH {
            return fail(document, line, raw_message());
        }
        match state {
            State::Comment => {}
            State::Single => {
                if c == b'\'' {
                    // `''` is an escaped quote inside a single-quoted scalar.
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        state = State::Between;
                    }
                }
            }
            State::Double => match c {
                b'\\' => i += 1,
                b'"' => state = State::Between,
                _ => {}
            },
            State::Plain => {
                let next = bytes.get(i + 1).copied();
                let ends_value = matches!(next, None | Some(b' ' | b'\t' | b'\n' | b'\r'));
                if c == b'#' && matches!(prev, b' ' | b'\t') {
                    state = State::Comment;
                } else if c == b':' && (ends_value || (depth > 0 && next == Some(b','))) {
                    state = State::Between;
                } else if depth > 0 && c == b',' {
                    // In flow context a comma ends a plain scalar.
                    state = State::Between;
                } else if depth > 0 && matches!(c, b'[' | b']' | b'{' | b'}') {
                    // So do brackets, which are indicators there.
                    state = State::Between;
                    depth = flow(c, depth);
                    if depth > MAX_FLOW_DEPTH {
                        return fail(document, line, depth_message());
                    }
                }
            }
            State::Between => match c {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'#' => state = State::Comment,
                b'\'' => {
                    content = true;
                    state = State::Single;
                }
                b'"' => {
                    content = true;
                    state = State::Double;
                }
                b'[' | b'{' | b']' | b'}' => {
                    content = true;
                    depth = flow(c, depth);
                    if depth > MAX_FLOW_DEPTH {
                        return fail(document, line, depth_message());
                    }
                }
                b',' | b':' | b'?' if depth > 0 => {}
                b'-' if prev == b'\n' && indent == 0 && bytes[i..].starts_with(b"---") && {
                    let after = bytes.get(i + 3).copied();
                    matches!(after, None | Some(b'\n' | b'\r' | b' ' | b'\t'))
                } =>
                {
                    // A document marker (at column 0 it ends even an unclosed flow collection,
                    // as the parser ends the document there): the next document, when this
                    // one had content.
                    if content {
                        document += 1;
                        content = false;
                    }
                    depth = 0;
                    i += 2;
                }
                b'-' | b'?' | b':'
                    if depth == 0
                        && matches!(
                            bytes.get(i + 1),
                            None | Some(b' ' | b'\t' | b'\n' | b'\r')
                        ) =>
                {
                    // Block sequence entry, mapping key or value indicator.
                    content = true;
                }
                b'|' | b'>' if depth == 0 => {
                    // A block scalar: its body is the lines indented more than this one.
                    content = true;
                    block_scalar = Some(indent);
                    state = State::Comment; // the rest of this line is its header
                }
                b'&' | b'*' | b'!' => {
                    // Anchors, aliases and tags read like a plain word up to a blank.
                    content = true;
                    state = State::Plain;
                }
                _ => {
                    content = true;
                    state = State::Plain;
                }
            },
        }
        if c == b'\n' {
            line += 1;
            at_line_start = true;
        }
        prev = c;
        i += 1;
    }
    Ok(())
}

fn flow(c: u8, depth: usize) -> usize {
    if matches!(c, b'[' | b'{') {
        depth + 1
    } else {
        depth.saturating_sub(1)
    }
}

fn depth_message() -> String {
    format!(
        "flow collections ({{…}} or […]) nest deeper than {MAX_FLOW_DEPTH} levels; no Istio \
         object nests so deep — check the document for runaway brackets"
    )
}

fn raw_message() -> String {
    format!(
        "more than {MAX_RAW_DEPTH} brackets are left open; no Istio object holds so many — \
         check the document for runaway brackets"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_at(text: &str) -> (usize, usize) {
        match check_flow_depth(text) {
            Err(ConfigError::Syntax { index, line: Some(line), .. }) => (index, line),
            other => panic!("expected a refusal, got {other:?} for {text:.80}"),
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_with_document_and_line() {
        let deep = format!("a: 1\n---\nb:\n  {}1{}\n", "{a: ".repeat(50_000), "}".repeat(50_000));
        // A bound on the scan's wall time (linear: microseconds here), not a benchmark.
        #[allow(clippy::disallowed_types)]
        let start = std::time::Instant::now();
        assert_eq!(refused_at(&deep), (1, 4));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert!(check_flow_depth(&format!("{}1{}", "[".repeat(65), "]".repeat(65))).is_err());
        // A leading marker starts document 0, as the parser counts it.
        assert_eq!(refused_at(&format!("---\n# c\nspec: {}\n", "[".repeat(65))), (0, 3));
    }

    #[test]
    fn a_quote_inside_a_plain_scalar_opens_nothing() {
        // `x "` and `rock 'n roll` are plain scalars; the quotes are text, and the deep
        // nesting after them is still seen.
        let deep = "{a: ".repeat(50_000);
        assert_eq!(refused_at(&format!("a: x \"\nb: {deep}\n")), (0, 2));
        assert_eq!(refused_at(&format!("note: rock 'n roll\nb: {deep}\n")), (0, 2));
        assert_eq!(refused_at(&format!("a,\"\nb: {deep}\n")), (0, 2));
    }

    #[test]
    fn block_scalar_bodies_are_text_and_the_backstop_holds() {
        let ok = format!(
            "description: |\n  it's \"open [{}\n  still text\nspec: [1, 2]\nmore: >-\n  {}\n",
            "[".repeat(120),
            "{".repeat(100)
        );
        check_flow_depth(&ok).unwrap();
        // After the block scalar ends, nesting counts again.
        let after = format!("d: |\n  \"\nspec: {}\n", "[".repeat(65));
        assert_eq!(refused_at(&after), (0, 3));
        // Whatever the lexer believes, more than MAX_RAW_DEPTH unclosed brackets are too many.
        let fooled = format!("d: |\n  {}\n", "[".repeat(MAX_RAW_DEPTH + 1));
        assert!(check_flow_depth(&fooled).is_err());
    }

    #[test]
    fn ordinary_documents_and_brackets_in_strings_and_comments_pass() {
        let ok = format!(
            "spec:\n  hosts: [\"a\", 'b[c']\n  # {}\n  regex: \"{}\"\n  note: it's [fine]\n  \
             url: http://x/#frag[\n  match: {}1{}\n",
            "[".repeat(70),
            "{".repeat(70),
            "[".repeat(64),
            "]".repeat(64)
        );
        check_flow_depth(&ok).unwrap();
        // Each document starts again at depth 0.
        let docs = format!("{}\n---\n{}\n", "[".repeat(40), "[".repeat(40));
        check_flow_depth(&docs).unwrap();
        // `''` inside a single-quoted scalar does not end it.
        check_flow_depth(&format!("a: 'it''s {}'\n", "[".repeat(100))).unwrap();
        // `---` inside a string is not a marker, nor is an indented one.
        check_flow_depth("a: \"x\n---\ny\"\n").unwrap();
        assert_eq!(refused_at(&format!("a: 1\n  ---\nb: {}\n", "[".repeat(65))), (0, 3));
        // Flow mappings with commas keep their depth.
        check_flow_depth(&format!("a: {}x, y{}\n", "{k: [".repeat(32), "]}".repeat(32))).unwrap();
    }
}
