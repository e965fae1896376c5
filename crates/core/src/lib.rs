//! The secretstore domain: scope paths, secret names and values, resolution, briefs,
//! and the operations over the traits that adapters implement.
//!
//! This crate does no I/O of its own: the database, the value backends and the brief
//! store are traits ([`MetadataStore`], [`ValueBackend`], [`BriefStore`]) that other
//! crates implement.
//!
//! ```
//! use secretstore_core::{ScopePath, SecretName, SecretValue};
//!
//! let project = ScopePath::parse("acme/platform/dev/agent-x").unwrap();
//! let chain: Vec<String> = project.resolution_chain().iter().map(|s| s.to_string()).collect();
//! assert_eq!(chain, ["acme/platform/dev", "acme/platform", "acme"]);
//! assert!(SecretName::parse("SECRETSTORE_TOKEN").is_err());
//! let v = SecretValue::new("hunter2".to_string()).unwrap();
//! assert_eq!(format!("{v:?}"), "[REDACTED]");
//! ```
#![forbid(unsafe_code)]

pub mod accounts;
pub mod authz;
pub mod backends;
pub mod brief;
#[cfg(feature = "testing")]
pub mod conformance;
pub mod error;
pub mod links;
pub mod model;
pub mod name;
pub mod ports;
pub mod random;
pub mod resolve;
pub mod scope;
pub mod service;
pub mod value;

pub use accounts::{Account, AccountKind, AccountStore, SessionAuth, SessionInfo, TokenInfo};
pub use authz::{Access, Action, Principal, Role};
pub use backends::Backends;
pub use brief::{Brief, BriefSecret, BriefStatus};
pub use error::{BackendError, Error, RefFailure, RefFailureReason, Result};
pub use links::LinkPrefixes;
pub use model::{
    Actor, AuditEntry, BackendKind, BriefId, Candidate, Category, SecretMeta, StoredMaterial, Task,
    TaskId, Version, VersionMeta,
};
pub use name::SecretName;
pub use ports::{
    AuditStore, BoxFuture, BriefStore, BriefSummary, Change, DispatchRecord, DispatchStore,
    DispatchedSecret, Expected, Fetch, Fetched, MetadataStore, NewVersion, Reservation, Reserved,
    ScopeStore, SecretStore, ValueBackend, Written,
};
pub use resolve::{Explained, Resolution};
pub use scope::{Level, ScopePath};
pub use service::{Dispatched, ImportEntry, NewSession, Service, ServiceConfig};
pub use value::SecretValue;

const RFC3339_SECONDS: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Now, in UTC, as `2026-11-29T14:00:00Z`: the one timestamp format of secretstore
/// (it sorts as text).
pub fn now_rfc3339() -> String {
    rfc3339_in(0)
}

/// Now plus `secs` seconds, in the same format. Never panics: a time past what the
/// format holds is the last second of year 9999 (before year 1: its first second).
pub fn rfc3339_in(secs: i64) -> String {
    let now = time::OffsetDateTime::now_utc();
    match now.checked_add(time::Duration::seconds(secs)) {
        Some(t) if (1..=9999).contains(&t.year()) => t
            .format(RFC3339_SECONDS)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned()),
        _ if secs > 0 => "9999-12-31T23:59:59Z".to_owned(),
        _ => "0001-01-01T00:00:00Z".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_in_never_overflows() {
        assert_eq!(super::rfc3339_in(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(super::rfc3339_in(i64::MIN), "0001-01-01T00:00:00Z");
        assert!(super::rfc3339_in(3600) > super::now_rfc3339());
    }
}
