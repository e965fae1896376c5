//! The metadata store on SQLite or PostgreSQL, chosen by the scheme of `DATABASE_URL`.
//! Every SQL statement of secretstore lives in this module, one file per port of the
//! domain: `scopes`, `secrets` (with the write reservations in `reservations`),
//! `dispatch`, `leases`, `leaks`, `audit`, `accounts` and `sessions`; `keys` holds what `rekey`
//! needs. Underneath: `connect` (opening and migrating), `rows` (the rows as read,
//! converted into the domain's types at the edge), `bind` (statements with a variable
//! number of parameters), `tx` (the write transaction) and `error`.
//!
//! Both databases run the same statements through sqlx's `Any` driver: `$N` placeholders,
//! `RETURNING`, `ON CONFLICT`, and types both understand (BIGINT, TEXT). The schemas differ
//! only where the databases do (identity columns), in `migrations/sqlite` and
//! `migrations/postgres`. On SQLite, write transactions start with `BEGIN IMMEDIATE`: the
//! write lock is taken up front, so two writers queue on the busy timeout instead of
//! failing when a read lock cannot be upgraded. On PostgreSQL, row locks of the
//! `UPDATE … RETURNING` that bumps a version serialize writers of one secret, so
//! `expected_version` has exactly one winner even across servers. Writers of external
//! secrets (AWS, Vault) first take a row of `write_reservations` (checking
//! `expected_version` in the same transaction), write the backend, then record the
//! version and delete the row in one transaction: the backend is only ever written by the
//! writer that will win.

mod accounts;
mod audit;
mod bind;
mod connect;
mod dispatch;
mod error;
mod group;
mod keys;
mod leaks;
mod leases;
mod lite;
#[cfg(test)]
mod query_count;
mod reservations;
mod rows;
mod scopes;
mod search;
mod secrets;
mod sessions;
mod token_cache;
mod tx;

pub use connect::{PoolSettings, redact_url};
pub use error::DatabaseError;
pub use token_cache::TOKEN_CACHE_TTL;

use sqlx::AnyPool;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite, in a file (or in memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The metadata store: every port of the domain's database, on one pool.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// The group commit of lone audit records and dispatch records (`None` in the writer
    /// task's own copy).
    audit: Option<std::sync::Arc<group::GroupWriter>>,
    /// API tokens verified less than a second ago.
    tokens: std::sync::Arc<token_cache::TokenCache>,
    /// SQLite in a file: the reads on the path of reveals and dispatches, on the calling
    /// thread ([`lite`]).
    lite: Option<std::sync::Arc<lite::Lite>>,
}

impl SqlStore {
    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool's connections now: (in use, idle, the most it opens). For metrics.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle())
            .unwrap_or(u32::MAX)
            .min(size);
        (size - idle, idle, self.pool.options().get_max_connections())
    }

    /// The pool, for the store's own tests.
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}
