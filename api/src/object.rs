//! Objects as the API sees them: parsing and checking request bodies, stripping the fields the
//! server owns before storage, and decorating stored resources with `metadata.resourceVersion`,
//! `uid`, `generation` and `creationTimestamp` on the way out.

use istio_planes_config::{self as config, ConfigError, KindInfo};
use istio_store::{Resource, ResourceKey};
use serde_json::{Map, Value};

use crate::error::{ApiError, Cause, Subject};

/// The largest request body accepted (Kubernetes' own limit is 3 MiB).
pub const MAX_BODY: usize = 3 << 20;

/// Bodies larger than this are parsed and validated on tokio's blocking pool rather than on
/// a runtime worker, so a large or hostile body never delays health checks or other clients.
pub const LARGE_BODY: usize = 32 << 10;

/// Runs `f` (parsing and validating a body of `len` bytes) where it cannot stall the async
/// runtime: inline for small bodies (cheaper than a thread hop), on the blocking pool above
/// [`LARGE_BODY`].
pub async fn off_runtime<T, F>(len: usize, f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    if len <= LARGE_BODY {
        return f();
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("the task parsing the request body failed: {e}")))?
}

/// [`parse_incoming`] of an owned body, [`off_runtime`].
pub async fn parse_incoming_owned(
    body: bytes::Bytes,
    content_type: String,
    target: Target,
    path_name: Option<String>,
) -> Result<Incoming, ApiError> {
    off_runtime(body.len(), move || {
        parse_incoming(&body, &content_type, &target, path_name.as_deref())
    })
    .await
}

/// Metadata fields set by the server; anything a client sends for them is ignored.
const SERVER_FIELDS: &[&str] =
    &["resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink"];

/// Where a request is addressed: group/version/resource and, for items, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The served kind.
    pub info: &'static KindInfo,
    /// API group (`""` for the core group).
    pub group: String,
    /// API version.
    pub version: String,
    /// Resource plural.
    pub resource: String,
    /// Namespace (`None`: all namespaces for lists, cluster scope for items).
    pub namespace: Option<String>,
    /// Object name.
    pub name: Option<String>,
}

impl Target {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store key of `name` under this target.
    pub fn key(&self, name: &str) -> ResourceKey {
        ResourceKey::new(&self.group, &self.resource, self.namespace.as_deref().unwrap_or(""), name)
    }

    /// Error subject for `name`.
    pub fn subject(&self, name: &str) -> Subject {
        Subject { group: self.group.clone(), kind: self.resource.clone(), name: name.into() }
    }

    /// The target for an object's own `apiVersion`/`kind` in `namespace`.
    pub fn for_object(obj: &Value, namespace: &str) -> Result<Self, ApiError> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let info = config::lookup(api_version, kind).ok_or_else(|| {
            ApiError::from(ConfigError::UnsupportedKind {
                api_version: api_version.into(),
                kind: kind.into(),
                supported: config::kinds::supported_list(),
            })
        })?;
        let version = api_version.split_once('/').map_or("", |(_, v)| v);
        let namespace = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or(namespace);
        Ok(Self {
            info,
            group: info.group.into(),
            version: version.into(),
            resource: info.plural.into(),
            namespace: Some(namespace.into()),
            name: None,
        })
    }
}

/// Decodes a single-object body: JSON, or YAML when the content type says so.
pub fn decode_body(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if content_type.contains("yaml") {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::BadRequest("request body is not UTF-8".into()))?;
        let mut docs = config::parse_documents(text).map_err(ApiError::from)?;
        match docs.len() {
            1 => Ok(docs.remove(0).1),
            0 => Err(ApiError::BadRequest("request body holds no YAML document".into())),
            n => Err(ApiError::BadRequest(format!(
                "request body holds {n} YAML documents; send one, or use POST /v1/apply"
            ))),
        }
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("request body is not valid JSON: {e}")))
    }
}

/// Full check of an object addressed to `target`: metadata ([`check_object`]), kind matches
/// the path, and Istio's validation of the spec. The returned object is in its stored form
/// (`apiVersion` at the kind's preferred version, no `status`).
pub fn validate(
    value: Value,
    target: &Target,
    path_name: Option<&str>,
) -> Result<Incoming, ApiError> {
    let mut inc = check_object(value, target, path_name)?;
    let kind = inc.object.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind != target.info.kind {
        return Err(ApiError::BadRequest(format!(
            "kind {kind:?} in the body does not match {:?} served at /apis/{}/{}",
            target.info.kind,
            target.api_version(),
            target.resource
        )));
    }
    config::validate_object(&inc.object).map_err(|e| match ApiError::from(e) {
        ApiError::Invalid { causes, .. } => {
            ApiError::Invalid { subject: target.subject(&inc.name), causes }
        }
        other => other,
    })?;
    if let Some(o) = inc.object.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(target.info.preferred_api_version()));
        o.remove("status");
    }
    Ok(inc)
}

/// A validated request body ready to store.
#[derive(Debug)]
pub struct Incoming {
    /// Object name.
    pub name: String,
    /// `metadata.resourceVersion` the client sent, if any (for compare-and-set).
    pub resource_version: Option<u64>,
    /// The object without server-owned fields.
    pub object: Value,
}

/// Checks a DNS-1123 subdomain (Kubernetes object names): lower-case alphanumerics, `-` and
/// `.`, starting and ending alphanumeric, at most 253 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 253 {
        return Err(format!("must be no more than 253 characters (is {})", name.len()));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !name.chars().all(ok_char) || !name.starts_with(alnum) || !name.ends_with(alnum) {
        return Err(format!(
            "{name:?} is not a valid name: use lower-case letters, digits, '-' and '.', \
             starting and ending with a letter or digit (e.g. 'reviews-route')"
        ));
    }
    Ok(())
}

/// Decodes, checks and validates a create/replace body addressed to `target`; `path_name` is
/// the name in the URL for item requests.
pub fn parse_incoming(
    body: &[u8],
    content_type: &str,
    target: &Target,
    path_name: Option<&str>,
) -> Result<Incoming, ApiError> {
    validate(decode_body(body, content_type)?, target, path_name)
}

/// Checks an already-parsed object addressed to `target` (see [`parse_incoming`]).
pub fn check_object(
    mut value: Value,
    target: &Target,
    path_name: Option<&str>,
) -> Result<Incoming, ApiError> {
    let display_name = path_name
        .map(str::to_owned)
        .or_else(|| value.pointer("/metadata/name").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let subject = target.subject(&display_name);
    let Some(obj) = value.as_object_mut() else {
        return Err(ApiError::BadRequest(format!(
            "request body must be a JSON object, got {}",
            type_name(&value)
        )));
    };
    let mut causes = Vec::new();
    match obj.get("apiVersion") {
        None => causes.push(Cause::new("FieldValueRequired", "apiVersion", "required")),
        Some(Value::String(v)) if *v == target.api_version() => {}
        Some(Value::String(v)) => {
            return Err(ApiError::BadRequest(format!(
                "apiVersion {v:?} in the body does not match {:?} in the URL",
                target.api_version()
            )))
        }
        Some(v) => causes.push(Cause::new(
            "FieldValueInvalid",
            "apiVersion",
            format!("must be a string, got {}", type_name(v)),
        )),
    }
    match obj.get("kind") {
        None => causes.push(Cause::new("FieldValueRequired", "kind", "required")),
        Some(Value::String(k)) if !k.is_empty() => {}
        Some(v) => causes.push(Cause::new(
            "FieldValueInvalid",
            "kind",
            format!("must be a non-empty string, got {v}"),
        )),
    }
    let meta = obj.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        causes.push(Cause::new("FieldValueInvalid", "metadata", "must be an object"));
        return Err(ApiError::Invalid { subject, causes });
    };
    let name = match meta.get("name") {
        None => {
            causes.push(Cause::new("FieldValueRequired", "metadata.name", "name is required"));
            String::new()
        }
        Some(Value::String(n)) => {
            if let Err(m) = check_name(n) {
                causes.push(Cause::new("FieldValueInvalid", "metadata.name", m));
            }
            n.clone()
        }
        Some(v) => {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("must be a string, got {}", type_name(v)),
            ));
            String::new()
        }
    };
    if let Some(p) = path_name {
        if !name.is_empty() && name != p {
            return Err(ApiError::BadRequest(format!(
                "the name in the body ({name:?}) does not match the name in the URL ({p:?})"
            )));
        }
    }
    match (meta.get("namespace"), &target.namespace) {
        (None, Some(ns)) => {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
        (Some(Value::String(b)), Some(ns)) if b != ns => {
            return Err(ApiError::BadRequest(format!(
                "the namespace in the body ({b:?}) does not match the namespace in the URL ({ns:?})"
            )));
        }
        (Some(Value::String(_)), Some(_)) | (None, None) => {}
        (Some(Value::String(b)), None) => {
            return Err(ApiError::BadRequest(format!(
                "namespace {b:?} given for a request without a namespace in the URL; \
                 use /apis/{}/namespaces/{b}/{}",
                target.api_version(),
                target.resource
            )));
        }
        (Some(v), _) => causes.push(Cause::new(
            "FieldValueInvalid",
            "metadata.namespace",
            format!("must be a string, got {}", type_name(v)),
        )),
    }
    let resource_version = match meta.get("resourceVersion") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match s.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    "metadata.resourceVersion",
                    format!(
                        "{s:?} is not a resource version this server issued (a decimal number)"
                    ),
                ));
                None
            }
        },
        Some(v) => {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "metadata.resourceVersion",
                format!("must be a string, got {}", type_name(v)),
            ));
            None
        }
    };
    for f in SERVER_FIELDS {
        meta.remove(*f);
    }
    if !causes.is_empty() {
        return Err(ApiError::Invalid { subject, causes });
    }
    Ok(Incoming { name, resource_version, object: value })
}

/// JSON type name, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// RFC 3339 with milliseconds (`2026-01-02T03:04:05.678Z`), for audit timestamps.
pub fn rfc3339_ms(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// A stable, unique-per-incarnation UID derived from the key and creation revision.
fn uid(key: &ResourceKey, create_revision: u64) -> String {
    // FNV-1a, twice with different seeds, for 128 bits.
    let mut hashes = [0xcbf29ce484222325u64, 0x84222325cbf29ce4u64];
    for h in &mut hashes {
        for b in key.to_string().bytes().chain(create_revision.to_be_bytes()) {
            *h ^= u64::from(b);
            *h = h.wrapping_mul(0x100000001b3);
        }
    }
    let x = (u128::from(hashes[0]) << 64) | u128::from(hashes[1]);
    let s = format!("{x:032x}");
    format!("{}-{}-{}-{}-{}", &s[..8], &s[8..12], &s[12..16], &s[16..20], &s[20..])
}

/// The stored object as served at `api_version`, with its server-owned metadata filled in.
/// `resource_version` overrides `mod_revision` (a deleted object is reported at the deleting
/// revision).
pub fn decorate_as(r: &Resource, api_version: &str, resource_version: Option<u64>) -> Value {
    let mut v = decorate(r, resource_version);
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(api_version.into()));
    }
    v
}

/// The served kind a stored key belongs to.
pub fn kind_of(key: &ResourceKey) -> Option<&'static KindInfo> {
    config::KINDS.iter().find(|k| k.group == key.group && k.plural == key.resource)
}

/// The stored object as served at its kind's preferred version (see [`decorate_as`]); for
/// responses that are not addressed to one served version (audit, state, diff, gRPC).
pub fn decorate_preferred(r: &Resource, resource_version: Option<u64>) -> Value {
    let api_version = kind_of(&r.key).map_or_else(String::new, |k| k.preferred_api_version());
    decorate_as(r, &api_version, resource_version)
}

/// The stored object with its server-owned metadata filled in (stored `apiVersion`).
pub fn decorate(r: &Resource, resource_version: Option<u64>) -> Value {
    let mut v: Value = serde_json::from_slice(&r.object).unwrap_or_else(|e| {
        tracing::error!(key = %r.key, error = %e, "stored object is not JSON");
        Value::Object(Map::new())
    });
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        let rv = resource_version.unwrap_or(r.mod_revision);
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        meta.insert("uid".into(), Value::String(uid(&r.key, r.create_revision)));
        meta.insert("generation".into(), Value::from(r.version));
        meta.insert("creationTimestamp".into(), Value::String(rfc3339(r.create_time_ms)));
    }
    v
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Some(t) = target.as_object_mut() {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: &[u8], t: &Target, name: Option<&str>) -> Result<Incoming, ApiError> {
        check_object(decode_body(body, "application/json")?, t, name)
    }

    fn target(ns: Option<&str>) -> Target {
        Target {
            info: config::lookup("networking.istio.io/v1", "VirtualService").unwrap(),
            group: "networking.istio.io".into(),
            version: "v1".into(),
            resource: "virtualservices".into(),
            namespace: ns.map(str::to_owned),
            name: None,
        }
    }

    #[test]
    fn names() {
        assert!(check_name("reviews-route.v1").is_ok());
        for bad in ["", "Upper", "-x", "x-", "a_b", &"a".repeat(254)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn incoming_fills_namespace_strips_server_fields() {
        let body = json!({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
            "metadata":{"name":"a","uid":"x","resourceVersion":"7"},"spec":{}});
        let inc = parse(body.to_string().as_bytes(), &target(Some("ns")), None).unwrap();
        assert_eq!(inc.name, "a");
        assert_eq!(inc.resource_version, Some(7));
        assert_eq!(inc.object["metadata"], json!({"name":"a","namespace":"ns"}));
    }

    #[test]
    fn incoming_errors_name_fields() {
        let t = target(Some("ns"));
        let e = parse(br#"{"kind":"X","metadata":{}}"#, &t, None).unwrap_err();
        let ApiError::Invalid { causes, .. } = e else { panic!("{e:?}") };
        let fields: Vec<_> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["apiVersion", "metadata.name"]);
        assert!(matches!(parse(b"{", &t, None), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse(b"[]", &t, None), Err(ApiError::BadRequest(_))));
        let wrong_ns = br#"{"apiVersion":"networking.istio.io/v1","kind":"X","metadata":{"name":"a","namespace":"o"}}"#;
        assert!(matches!(parse(wrong_ns, &t, None), Err(ApiError::BadRequest(_))));
        let wrong_name =
            br#"{"apiVersion":"networking.istio.io/v1","kind":"X","metadata":{"name":"a"}}"#;
        assert!(matches!(parse(wrong_name, &t, Some("b")), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a":"b","c":{"d":"e","f":"g"}});
        merge_patch(&mut t, &json!({"a":"z","c":{"f":null}}));
        assert_eq!(t, json!({"a":"z","c":{"d":"e"}}));
    }

    #[test]
    fn uid_is_stable_and_distinct() {
        let k = ResourceKey::new("g", "r", "n", "a");
        assert_eq!(uid(&k, 1), uid(&k, 1));
        assert_ne!(uid(&k, 1), uid(&k, 2));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
