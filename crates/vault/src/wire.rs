//! Vault's JSON: the request bodies secretstore sends and the answers it reads.
//!
//! Answers are read into zeroizing buffers ([`Reply`]); the structs here take only the
//! fields secretstore uses (a data read borrows its fields from the buffer, so no copy of
//! another field's value is made; `lookup-self` answers with the token itself, which is
//! never read). Bodies that carry a value are built in zeroizing buffers sized up front.

use crate::http::{Reply, secret_body};
use secretstore_core::{BackendError, SecretValue};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use zeroize::Zeroizing;

/// A field's value as text: a JSON string as it is; a number, boolean, array or object
/// (which the KV API accepts) as its JSON text, the way `vault kv get -field` prints it.
pub(crate) fn field_value(raw: &RawValue) -> Option<SecretValue> {
    let text = raw.get();
    if text.starts_with('"') {
        let s: Zeroizing<String> = Zeroizing::new(serde_json::from_str(text).ok()?);
        SecretValue::from_backend(s.as_bytes().to_vec())
    } else {
        SecretValue::from_backend(text.as_bytes().to_vec())
    }
}

/// `{"data": {FIELD: VALUE}, "options": {"cas": N}}` in a zeroizing buffer, sized up front
/// so that it never reallocates (a reallocation would leave a copy of the value behind).
pub(crate) fn write_body(
    field: &str,
    value: &SecretValue,
    cas: Option<u64>,
) -> http_body_util::Full<bytes::Bytes> {
    #[derive(serde::Serialize)]
    struct Options {
        cas: u64,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        data: HashMap<&'a str, &'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        options: Option<Options>,
    }
    let v = value.expose_secret();
    // JSON escapes a byte as at most 6 bytes (\u00XX).
    let mut buf = Zeroizing::new(Vec::with_capacity(6 * (v.len() + field.len()) + 64));
    let body = Body {
        data: HashMap::from([(field, v)]),
        options: cas.map(|cas| Options { cas }),
    };
    #[expect(
        clippy::expect_used,
        reason = "serializing string pairs into a Vec cannot fail"
    )]
    serde_json::to_writer(&mut *buf, &body).expect("serialize a KV write");
    secret_body(buf)
}

/// `{"data": {FIELD: VALUE or null}, "options": {"cas": N}}` for a PATCH (JSON merge patch:
/// null removes the field), in a zeroizing buffer sized up front.
pub(crate) fn patch_body(
    field: &str,
    value: Option<&SecretValue>,
    cas: u64,
) -> http_body_util::Full<bytes::Bytes> {
    #[derive(serde::Serialize)]
    struct Options {
        cas: u64,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        data: HashMap<&'a str, Option<&'a str>>,
        options: Options,
    }
    let v = value.map(SecretValue::expose_secret);
    let len = v.map_or(0, str::len);
    let mut buf = Zeroizing::new(Vec::with_capacity(6 * (len + field.len()) + 64));
    let body = Body {
        data: HashMap::from([(field, v)]),
        options: Options { cas },
    };
    #[expect(
        clippy::expect_used,
        reason = "serializing string pairs into a Vec cannot fail"
    )]
    serde_json::to_writer(&mut *buf, &body).expect("serialize a KV patch");
    secret_body(buf)
}

/// The KV version a write created, from Vault's answer to it.
pub(crate) fn written_version(reply: &Reply, what: &str) -> Result<u64, BackendError> {
    let w: WriteReply = reply.json(what)?;
    match w.data {
        Some(meta) if meta.version > 0 => Ok(meta.version),
        _ => Err(BackendError::Unavailable(format!(
            "{what}: Vault's answer to the write has no version"
        ))),
    }
}

/// `GET /v1/MOUNT/data/PATH`: the fields borrow from the (zeroizing) body, so no copy of
/// another field's value is made.
#[derive(Deserialize)]
pub(crate) struct DataReply<'a> {
    #[serde(borrow)]
    pub(crate) data: Option<DataBlock<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct DataBlock<'a> {
    #[serde(borrow)]
    pub(crate) data: Option<HashMap<String, &'a RawValue>>,
    pub(crate) metadata: Option<VersionMeta>,
}

#[derive(Deserialize)]
pub(crate) struct VersionMeta {
    #[serde(default)]
    pub(crate) version: u64,
    #[serde(default)]
    pub(crate) deletion_time: String,
    #[serde(default)]
    pub(crate) destroyed: bool,
}

impl VersionMeta {
    pub(crate) fn state(&self) -> &'static str {
        version_state(self.destroyed, &self.deletion_time)
    }
}

fn version_state(destroyed: bool, deletion_time: &str) -> &'static str {
    if destroyed {
        "destroyed"
    } else if !deletion_time.is_empty() {
        "deleted"
    } else {
        "unreadable"
    }
}

/// The answer to a write (and to a PATCH on a deleted latest version).
#[derive(Deserialize)]
pub(crate) struct WriteReply {
    pub(crate) data: Option<VersionMeta>,
}

#[derive(Deserialize)]
pub(crate) struct MetadataReply {
    pub(crate) data: Option<Metadata>,
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    #[serde(default)]
    pub(crate) current_version: u64,
    #[serde(default)]
    pub(crate) versions: HashMap<String, VersionState>,
}

#[derive(Deserialize)]
pub(crate) struct VersionState {
    #[serde(default)]
    pub(crate) deletion_time: String,
    #[serde(default)]
    pub(crate) destroyed: bool,
}

impl VersionState {
    pub(crate) fn state(&self) -> &'static str {
        version_state(self.destroyed, &self.deletion_time)
    }
}

#[derive(Deserialize)]
pub(crate) struct MountReply {
    pub(crate) data: Option<MountInfo>,
}

#[derive(Deserialize, Default)]
pub(crate) struct MountInfo {
    #[serde(default, rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) options: Option<MountOptions>,
}

#[derive(Deserialize, Default)]
pub(crate) struct MountOptions {
    pub(crate) version: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CapsReply {
    pub(crate) data: Option<Caps>,
}

#[derive(Deserialize)]
pub(crate) struct Caps {
    #[serde(default)]
    pub(crate) capabilities: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> SecretValue {
        SecretValue::new(s.to_owned()).unwrap()
    }

    #[test]
    fn field_values() {
        fn text(s: &str) -> String {
            let raw: &RawValue = serde_json::from_str(s).unwrap();
            field_value(raw).unwrap().expose_secret().to_owned()
        }
        assert_eq!(text(r#""a\nb \u00fc""#), "a\nb ü");
        assert_eq!(text("42"), "42");
        assert_eq!(text("true"), "true");
        assert_eq!(text(r#"{"k":1}"#), r#"{"k":1}"#);
    }

    #[test]
    fn write_bodies() {
        let read = |b: http_body_util::Full<bytes::Bytes>| {
            let bytes = futures_executor_block_on(b);
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        };
        let v = token("x\"y\n");
        assert_eq!(
            read(write_body("value", &v, None)),
            serde_json::json!({"data": {"value": "x\"y\n"}})
        );
        assert_eq!(
            read(write_body("f", &v, Some(0))),
            serde_json::json!({"data": {"f": "x\"y\n"}, "options": {"cas": 0}})
        );
    }

    /// Reads a `Full` body without a runtime: it is ready at once.
    fn futures_executor_block_on(b: http_body_util::Full<bytes::Bytes>) -> Vec<u8> {
        use http_body_util::BodyExt;
        let fut = b.collect();
        let mut fut = std::pin::pin!(fut);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Ok(c)) => c.to_bytes().to_vec(),
            _ => panic!("a Full body is ready at once"),
        }
    }
}
