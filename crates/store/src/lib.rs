//! secretstore's persistence: the metadata store on SQLite or PostgreSQL, the local Fernet backend,
//! the folder brief store and the PostgreSQL generator's provider. The domain (`secretstore-core`) defines the traits; this crate
//! implements them.
//!
//! ```
//! use secretstore_store::crypto::Keyring;
//!
//! let ring = Keyring::parse(&Keyring::generate_key()).unwrap();
//! let token = ring.encrypt(b"s3cr3t");
//! assert_eq!(ring.decrypt(&token).unwrap().as_slice(), b"s3cr3t");
//! ```
#![forbid(unsafe_code)]

pub mod briefs;
pub mod crypto;
pub mod files;
pub mod local;
pub mod minter;
pub mod rekey;
pub mod sql;

pub use briefs::FolderBriefStore;
pub use crypto::Keyring;
pub use local::LocalBackend;
pub use minter::PostgresMinter;
pub use sql::{DatabaseError, Dialect, PoolSettings, SqlStore, redact_url};
