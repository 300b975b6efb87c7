//! YAML compatibility with Go's YAML parser, which Istio (and kubectl) use.
//!
//! Go's parser lets a plain scalar inside a flow collection contain `:` that is not followed by
//! a space — e.g. the IPv6 address in `addresses: [1.2.3.4, 2001:db8::]` — while libyaml (and
//! the YAML 1.2 spec) stop the scalar there and fail or read a mapping. [`quote_flow_scalars`]
//! rewrites such scalars as double-quoted strings, which is how Go reads them. It is applied only
//! to text that failed to parse as is, so documents libyaml accepts are never altered.

/// Double-quotes every plain scalar inside a flow collection (`[…]`, `{…}`) that contains a
/// `:`. Quoted scalars, comments and block context are left alone.
pub fn quote_flow_scalars(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' if i == 0 || chars[i - 1].is_whitespace() => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
                continue;
            }
            '\'' | '"' if depth > 0 || i == 0 || !chars[i - 1].is_alphanumeric() => {
                // A quoted scalar: copy through its closing quote.
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if c == '"' && chars[i] == '\\' && i + 1 < chars.len() {
                        out.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    if chars[i] == c {
                        if c == '\'' && chars.get(i + 1) == Some(&'\'') {
                            out.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.saturating_sub(1),
            _ if depth > 0 && !c.is_whitespace() && !",:?".contains(c) => {
                let start = i;
                while i < chars.len() {
                    let d = chars[i];
                    let colon_end = d == ':' && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
                    if ",]}\n".contains(d) || colon_end || (d == '#' && chars[i - 1] == ' ') {
                        break;
                    }
                    i += 1;
                }
                let token: String = chars[start..i].iter().collect();
                let trimmed = token.trim_end();
                if trimmed.contains(':') {
                    out.push('"');
                    out.push_str(&trimmed.replace('\\', "\\\\").replace('"', "\\\""));
                    out.push('"');
                    out.push_str(&token[trimmed.len()..]);
                } else {
                    out.push_str(&token);
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::quote_flow_scalars as q;

    #[test]
    fn quotes_only_colon_scalars_in_flow() {
        assert_eq!(q("a: [1.2.3.4, 001:db8::]\n"), "a: [1.2.3.4, \"001:db8::\"]\n");
        assert_eq!(
            q("d: {host: reviews, url: http://x}\n"),
            "d: {host: reviews, url: \"http://x\"}\n"
        );
        assert_eq!(q("k: v:w\n"), "k: v:w\n");
        assert_eq!(q("a: ['x:y', \"p:q\"] # [c:d]\n"), "a: ['x:y', \"p:q\"] # [c:d]\n");
    }
}
