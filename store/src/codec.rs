//! Versioned binary encoding for everything istio-store persists or sends to a peer.
//!
//! Every record starts with a format-version byte, then bincode. A record with an unknown
//! version is an error (never misread).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;

/// Current on-disk and on-wire format version.
pub const FORMAT_VERSION: u8 = 1;

/// Encodes `value` as `[FORMAT_VERSION] ++ bincode(value)`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_into(&mut out, value);
    out
}

/// [`encode`], appended to `out` (no intermediate buffer).
pub fn encode_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    out.push(FORMAT_VERSION);
    // Serializing our own types into a Vec cannot fail: no maps with non-string keys that
    // bincode rejects, no I/O.
    bincode::serialize_into(&mut *out, value).expect("bincode serialization into a Vec");
}

/// Decodes a record written by [`encode`]; `what` names it in the error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, StoreError> {
    decode_ref(bytes, what)
}

/// Decodes a record written by [`encode`] into a type that borrows from `bytes`; `what` names
/// it in the error.
pub fn decode_ref<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<T, StoreError> {
    bincode::deserialize(body(bytes, what)?)
        .map_err(|e| StoreError::Corrupt { what, reason: e.to_string() })
}

/// The bincode part of a record written by [`encode`], after checking its format version.
pub fn body<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a [u8], StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, rest)) => Ok(rest),
        Some((v, _)) => Err(StoreError::Corrupt {
            what,
            reason: format!("unknown format version {v} (this build reads {FORMAT_VERSION})"),
        }),
        None => Err(StoreError::Corrupt { what, reason: "empty record".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let b = encode(&(1u64, "x".to_string()));
        assert_eq!(b[0], FORMAT_VERSION);
        let v: (u64, String) = decode(&b, "test").unwrap();
        assert_eq!(v, (1, "x".into()));
        let mut bad = b.clone();
        bad[0] = 99;
        assert!(decode::<(u64, String)>(&bad, "test").is_err());
        assert!(decode::<(u64, String)>(&[], "test").is_err());
        assert!(decode::<(u64, String)>(&b[..2], "test").is_err());
    }
}
