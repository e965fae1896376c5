//! The store's integration tests, in one binary: the value backend and the database
//! conformance suites (the database one on SQLite, and on PostgreSQL too with
//! `SECRETSTORE_TEST_DB=postgres`), the Fernet spec's vectors, interoperability with
//! Python's `cryptography`, the queries the pages cost, the PostgreSQL generator's provider
//! against a real server, and one test per bug pinned.

#![allow(
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

mod common;
mod conformance;
mod fast_path;
mod fernet_vectors;
mod migrations;
mod minter;
mod python_interop;
mod regression;
