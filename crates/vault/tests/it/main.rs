//! The integration tests of the Vault KV v2 backend, as one test binary, against a real
//! OpenBao dev server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "the helpers outside #[test] fns (which clippy.toml's allow-*-in-tests does not cover): a failed step fails the test"
)]

mod fetch_counts;
mod openbao;
mod regression;
