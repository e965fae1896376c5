//! The integration tests of the HTTP API and the web UI, as one test binary: the router
//! called without a socket over a fresh database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "the helpers outside #[test] fns (which clippy.toml's allow-*-in-tests does not cover): a failed step fails the test"
)]

mod api;
mod authz_table;
mod common;
mod daily;
mod dispatch_not_configured;
mod files;
mod leases;
mod limits;
mod regression;
mod scans;
mod sealed;
mod ui;
mod ui_accounts;
mod ui_objects;
