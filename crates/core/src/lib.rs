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
pub mod audit;
pub mod authz;
pub mod backends;
pub mod brief;
#[cfg(feature = "testing")]
pub mod conformance;
pub mod dotenv;
pub mod error;
pub mod generator;
pub mod leaks;
pub mod links;
pub mod model;
pub mod name;
pub mod ports;
pub mod random;
pub mod resolve;
pub mod scope;
pub mod sealed;
pub mod search;
pub mod service;
pub mod timestamp;
pub mod value;

pub use accounts::{
    Account, AccountKind, AccountStore, SessionAuth, SessionInfo, SessionStore, TokenInfo,
};
pub use audit::{AuditCursor, AuditFilter, AuditPage, PageFrom};
pub use authz::{Access, Action, Principal, Role};
pub use backends::Backends;
pub use brief::{Brief, BriefDelivery, BriefSecret, BriefStatus};
pub use error::{BackendError, Error, RefFailure, RefFailureReason, Result};
pub use generator::{GeneratorKind, GeneratorSpec, Lease, LeaseId, RevokeReason};
pub use links::LinkPrefixes;
pub use model::{
    AuditEntry, BackendKind, BriefId, Candidate, Category, Delivery, SecretMeta, StoredMaterial,
    Task, TaskId, Version, VersionMeta,
};
pub use name::SecretName;
pub use ports::{
    AuditStore, BootRecord, BootState, BoxFuture, BriefStore, BriefSummary, BriefsOf, Change,
    DispatchRecord, DispatchStore, DispatchedSecret, Expected, Fetch, Fetched, FoundVersion,
    HealthStore, LeakStore, LeaseFilter, LeaseStore, LeasesOf, MetadataStore, NewVersion,
    Redemption, Reservation, Reserved, RotationPolicy, ScanMaterial, ScopeStore, SearchStore,
    SecretStore, ValueBackend, Written,
};
pub use resolve::{Explained, Resolution};
pub use scope::{Level, ScopePath};
pub use sealed::SealedEnv;
pub use search::{HitKind, Pattern, SearchHit, Visible};
pub use service::{
    AccessRecord, AccessReport, BriefDetail, CallbackStatus, Delivered, Dispatched, DueSecret,
    ImportEntry, LEASE_SWEEP_SECS, LeakFinding, LeasesEnded, MAX_PAYLOAD_BYTES, MAX_REFS,
    MAX_SCAN_TEXT_BYTES, NewSession, ROTATE_EVERY_BOUNDS, ScanReport, ScanSummary, Scanner,
    SealedDispatch, SecretAttrs, Service, ServiceConfig, check_rotate_every,
};
pub use value::SecretValue;
