//! KV v2 references, `MOUNT/PATH#FIELD`: the only thing the database keeps of a Vault value.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secretstore_core::ScopePath;
use std::fmt;

/// The longest reference accepted, in bytes (Vault itself has no documented limit; this
/// keeps a pasted blob from becoming a "path").
const MAX_REF_BYTES: usize = 1024;

/// Everything but RFC 3986's unreserved characters is percent-encoded in a path segment,
/// so a linked path with `?`, `%`, spaces or non-ASCII text reaches Vault as written.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A parsed `MOUNT/PATH#FIELD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvRef {
    /// The mount, without slashes at either end (`secret`, or `team/kv` for a nested mount).
    pub(crate) mount: String,
    /// The secret's path inside the mount, without slashes at either end.
    pub(crate) path: String,
    /// The field of the KV entry that holds the value.
    pub(crate) field: String,
}

impl KvRef {
    /// Parses a reference strictly. `configured_mount` settles where the mount ends when
    /// it contains a slash: a reference that starts with `configured_mount/` has that mount;
    /// any other reference's mount is its first segment (the KV API cannot tell otherwise
    /// without asking the server on every fetch).
    ///
    /// The error message never repeats the reference (it may be a pasted value).
    pub(crate) fn parse(reference: &str, configured_mount: &str) -> Result<KvRef, String> {
        const FORM: &str = "expected MOUNT/PATH#FIELD, e.g. secret/myapp/db#password (Vault KV v2 mount, path, field)";
        if reference.len() > MAX_REF_BYTES {
            return Err(format!(
                "Vault reference is longer than {MAX_REF_BYTES} bytes; {FORM}"
            ));
        }
        let Some((location, field)) = reference.split_once('#') else {
            return Err(format!("Vault reference has no #FIELD; {FORM}"));
        };
        if field.is_empty() {
            return Err(format!(
                "Vault reference has an empty field after #; {FORM}"
            ));
        }
        if field.contains('#') {
            return Err(format!("Vault reference has more than one #; {FORM}"));
        }
        if field.chars().any(char::is_control) {
            return Err("Vault reference's field contains a control character".into());
        }
        check_location(location).map_err(|why| format!("Vault reference {why}; {FORM}"))?;
        if location == configured_mount {
            return Err(format!(
                "Vault reference has no path after the mount; {FORM}"
            ));
        }
        let (mount, path) = match location.strip_prefix(configured_mount) {
            Some(rest) if rest.starts_with('/') => (configured_mount, &rest[1..]),
            _ => location
                .split_once('/')
                .ok_or_else(|| format!("Vault reference has no path after the mount; {FORM}"))?,
        };
        if path.is_empty() {
            return Err(format!(
                "Vault reference has no path after the mount; {FORM}"
            ));
        }
        Ok(KvRef {
            mount: mount.to_owned(),
            path: path.to_owned(),
            field: field.to_owned(),
        })
    }

    /// The reference secretstore writes a new secret to: `MOUNT/secretstore/SCOPE/NAME#value`.
    pub(crate) fn owned(mount: &str, scope: &str, name: &str) -> KvRef {
        KvRef {
            mount: mount.to_owned(),
            path: format!("secretstore/{scope}/{name}"),
            field: "value".to_owned(),
        }
    }

    /// `/v1/MOUNT/data/PATH`, percent-encoded.
    pub(crate) fn data_path(&self) -> String {
        self.api_path("data")
    }

    /// `/v1/MOUNT/metadata/PATH`, percent-encoded.
    pub(crate) fn metadata_path(&self) -> String {
        self.api_path("metadata")
    }

    /// `/v1/MOUNT/destroy/PATH`, percent-encoded.
    pub(crate) fn destroy_path(&self) -> String {
        self.api_path("destroy")
    }

    fn api_path(&self, kind: &str) -> String {
        format!(
            "/v1/{}/{kind}/{}",
            encode_path(&self.mount),
            encode_path(&self.path)
        )
    }
}

impl fmt::Display for KvRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}#{}", self.mount, self.path, self.field)
    }
}

/// The normal form of a reference for the link rule ([`secretstore_core::links`]):
/// `MOUNT/PATH#FIELD` as parsed strictly (no empty, `.` or `..` segment).
pub(crate) fn link_form(reference: &str, configured_mount: &str) -> Result<String, String> {
    KvRef::parse(reference.trim(), configured_mount).map(|r| r.to_string())
}

/// The scope that secretstore created a normalised reference for: its own path,
/// `MOUNT/secretstore/SCOPE/NAME`, in the configured mount (any field of that entry).
pub(crate) fn owner_scope(reference: &str, configured_mount: &str) -> Option<ScopePath> {
    let r = KvRef::parse(reference, configured_mount).ok()?;
    if r.mount != configured_mount {
        return None;
    }
    let rest = r.path.strip_prefix("secretstore/")?;
    let (scope, name) = rest.rsplit_once('/')?;
    // Exactly the shape of what secretstore creates: a secret scope and a secret name.
    let name_shape = name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !name_shape {
        return None;
    }
    ScopePath::parse_secret_scope(scope).ok()
}

/// Checks a slash-separated location (a mount, or a mount and a path): no empty, `.` or
/// `..` segments, no control characters.
pub(crate) fn check_location(location: &str) -> Result<(), &'static str> {
    if location.is_empty() {
        return Err("has an empty mount");
    }
    if location.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    for segment in location.split('/') {
        match segment {
            "" => return Err("has an empty path segment (a leading, trailing or double /)"),
            "." | ".." => return Err("has a . or .. path segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Percent-encodes each segment of a slash-separated path.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> KvRef {
        KvRef::parse(s, "secret").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_mount_path_field() {
        let r = ok("secret/secretstore/acme/platform/DB_URL#value");
        assert_eq!(r.mount, "secret");
        assert_eq!(r.path, "secretstore/acme/platform/DB_URL");
        assert_eq!(r.field, "value");
        assert_eq!(
            r.to_string(),
            "secret/secretstore/acme/platform/DB_URL#value"
        );
        assert_eq!(
            r.data_path(),
            "/v1/secret/data/secretstore/acme/platform/DB_URL"
        );
        assert_eq!(
            r.metadata_path(),
            "/v1/secret/metadata/secretstore/acme/platform/DB_URL"
        );

        let other = ok("kv/app#password");
        assert_eq!((other.mount.as_str(), other.path.as_str()), ("kv", "app"));
    }

    #[test]
    fn a_nested_configured_mount_is_recognised() {
        let r = KvRef::parse("team/kv/app/db#password", "team/kv").unwrap();
        assert_eq!((r.mount.as_str(), r.path.as_str()), ("team/kv", "app/db"));
        // Only at a segment boundary: `team/kvx` is not under `team/kv`.
        let r = KvRef::parse("team/kvx/app#f", "team/kv").unwrap();
        assert_eq!((r.mount.as_str(), r.path.as_str()), ("team", "kvx/app"));
        // The mount alone, with no path, is not a secret.
        assert!(KvRef::parse("team/kv#f", "team/kv").is_err());
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "secret",
            "secret/app",
            "secret/app#",
            "#field",
            "/app#f",
            "secret/#f",
            "secret#f",
            "secret/app/#f",
            "secret//app#f",
            "/secret/app#f",
            "secret/../app#f",
            "secret/a/..#f",
            "secret/./app#f",
            "../secret/app#f",
            "secret/app#f#g",
            "secret/a\nb#f",
            "secret/app#f\r",
        ] {
            assert!(KvRef::parse(bad, "secret").is_err(), "{bad:?} was accepted");
        }
        assert!(KvRef::parse(&format!("secret/{}#f", "a".repeat(2000)), "secret").is_err());
    }

    #[test]
    fn errors_do_not_repeat_the_reference() {
        let pasted = "canary-Zx81-value";
        let e = KvRef::parse(pasted, "secret").unwrap_err();
        assert!(!e.contains(pasted), "{e}");
    }

    #[test]
    fn segments_are_percent_encoded() {
        let r = ok("secret/my app/ü?x%#field name");
        assert_eq!(r.data_path(), "/v1/secret/data/my%20app/%C3%BC%3Fx%25");
        assert_eq!(r.field, "field name");
    }

    #[test]
    fn secretstore_paths_belong_to_their_scope() {
        let s = |p: &str| ScopePath::parse(p).unwrap();
        let own = |r: &str| owner_scope(&link_form(r, "secret").unwrap(), "secret");
        assert_eq!(
            own("secret/secretstore/acme/b/DB_PW#value"),
            Some(s("acme/b"))
        );
        assert_eq!(
            own(" secret/secretstore/acme/b/DB_PW#other"),
            Some(s("acme/b"))
        );
        assert_eq!(own("secret/apps/acme/b/DB_PW#value"), None);
        assert_eq!(own("kv/secretstore/acme/b/DB_PW#value"), None);
        assert_eq!(own("secret/secretstore/DB#value"), None);
        assert!(link_form("secret/a/../b#f", "secret").is_err());
        assert_eq!(
            owner_scope("team/kv/secretstore/acme/X#value", "team/kv"),
            Some(s("acme"))
        );
    }

    #[test]
    fn owned_reference() {
        let r = KvRef::owned("secret", "acme/platform", "DB_URL");
        assert_eq!(
            r.to_string(),
            "secret/secretstore/acme/platform/DB_URL#value"
        );
        assert_eq!(KvRef::parse(&r.to_string(), "secret").unwrap(), r);
    }
}
