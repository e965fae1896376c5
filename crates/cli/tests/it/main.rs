//! The integration tests of the `secretstore` binary, as one test binary (one link of the
//! AWS SDK instead of one per file): the real binary run in scratch folders, `serve` on
//! loopback ports, against moto, OpenBao and (with `SECRETSTORE_TEST_DB=postgres`)
//! PostgreSQL as `scripts/test.sh` starts them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "the helpers outside #[test] fns (which clippy.toml's allow-*-in-tests does not cover): a failed step fails the test"
)]

mod aws_identity;
mod backends;
mod boot;
mod browser;
mod cli_accounts;
mod cli_errors;
mod cli_flow;
mod cluster;
mod common;
mod faults;
mod files;
mod generators;
mod leaks;
mod probes;
mod regression;
mod run_and_rekey;
mod scan_leaks;
mod serve;
mod soak;
mod vault_login;
mod vault_tls;
mod wire;
