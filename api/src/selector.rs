//! Kubernetes label and field selectors for list and watch (`labelSelector`,
//! `fieldSelector`): `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; fields
//! `metadata.name` and `metadata.namespace` with `=`, `==`, `!=`.

use serde_json::Value;

use crate::error::ApiError;

#[derive(Debug, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed selector; empty matches everything.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn set(s: &str, what: &str) -> Result<Vec<String>, ApiError> {
    let inner = s.trim().strip_prefix('(').and_then(|r| r.strip_suffix(')')).ok_or_else(|| {
        ApiError::BadRequest(format!("{what}: expected a set like (a,b), got {s:?}"))
    })?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect())
}

fn parse_req(p: &str, what: &str) -> Result<Req, ApiError> {
    if let Some((k, v)) = p.split_once("!=") {
        return Ok(Req::Ne(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
        return Ok(Req::Eq(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = p.split_once(" notin ") {
        return Ok(Req::NotIn(k.trim().into(), set(v, what)?));
    }
    if let Some((k, v)) = p.split_once(" in ") {
        return Ok(Req::In(k.trim().into(), set(v, what)?));
    }
    if let Some(k) = p.strip_prefix('!') {
        return Ok(Req::NotExists(k.trim().into()));
    }
    if p.contains(char::is_whitespace) || p.contains('(') {
        return Err(ApiError::BadRequest(format!("{what}: cannot parse {p:?}")));
    }
    Ok(Req::Exists(p.into()))
}

impl Selector {
    /// Parses the `labelSelector` and `fieldSelector` query parameters.
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, ApiError> {
        let mut sel = Selector::default();
        for p in split_top(labels.unwrap_or_default()) {
            sel.labels.push(parse_req(p, "labelSelector")?);
        }
        for p in split_top(fields.unwrap_or_default()) {
            let r = parse_req(p, "fieldSelector")?;
            let key = match &r {
                Req::Eq(k, _) | Req::Ne(k, _) => k.as_str(),
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "fieldSelector supports only =, == and != (got {p:?})"
                    )))
                }
            };
            if key != "metadata.name" && key != "metadata.namespace" {
                return Err(ApiError::BadRequest(format!(
                    "fieldSelector: field {key:?} is not supported; use metadata.name or metadata.namespace"
                )));
            }
            sel.fields.push(r);
        }
        Ok(sel)
    }

    /// The `metadata.name` an equality field selector pins, if any (narrows the store scan).
    pub fn name(&self) -> Option<&str> {
        self.fields.iter().find_map(|r| match r {
            Req::Eq(k, v) if k == "metadata.name" => Some(v.as_str()),
            _ => None,
        })
    }

    /// The first `key=value` label requirement (answered from the label index).
    pub fn label(&self) -> Option<(&str, &str)> {
        self.labels.iter().find_map(|r| match r {
            Req::Eq(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
    }

    /// Whether `obj` (a decorated object) matches.
    pub fn matches(&self, obj: &Value) -> bool {
        fn label<'a>(obj: &'a Value, k: &str) -> Option<&'a str> {
            obj.pointer("/metadata/labels").and_then(|l| l.get(k)).and_then(Value::as_str)
        }
        fn field<'a>(obj: &'a Value, k: &str) -> Option<&'a str> {
            match k {
                "metadata.name" => obj.pointer("/metadata/name").and_then(Value::as_str),
                _ => obj.pointer("/metadata/namespace").and_then(Value::as_str),
            }
        }
        fn check(
            r: &Req,
            obj: &Value,
            get: for<'a> fn(&'a Value, &str) -> Option<&'a str>,
        ) -> bool {
            match r {
                Req::Eq(k, v) => get(obj, k) == Some(v.as_str()),
                Req::Ne(k, v) => get(obj, k) != Some(v.as_str()),
                Req::In(k, vs) => get(obj, k).is_some_and(|x| vs.iter().any(|v| v == x)),
                Req::NotIn(k, vs) => get(obj, k).is_none_or(|x| !vs.iter().any(|v| v == x)),
                Req::Exists(k) => get(obj, k).is_some(),
                Req::NotExists(k) => get(obj, k).is_none(),
            }
        }
        self.labels.iter().all(|r| check(r, obj, label))
            && self.fields.iter().all(|r| check(r, obj, field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web", "tier": "fe"}}});
        let m = |l: &str, f: &str| Selector::parse(Some(l), Some(f)).unwrap().matches(&o);
        assert!(m("", ""));
        assert!(m("app=web", ""));
        assert!(m("app==web,tier", ""));
        assert!(!m("app!=web", ""));
        assert!(m("app in (web, api),!missing", ""));
        assert!(!m("app notin (web)", ""));
        assert!(m("", "metadata.name=a,metadata.namespace!=x"));
        assert!(!m("", "metadata.name=b"));
        assert!(Selector::parse(None, Some("spec.x=1")).is_err());
        assert!(Selector::parse(Some("app in web"), None).is_err());
        assert_eq!(Selector::parse(None, Some("metadata.name=a")).unwrap().name(), Some("a"));
    }
}
