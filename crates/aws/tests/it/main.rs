//! The integration tests of the AWS backends, as one test binary: Secrets Manager, the S3
//! brief store and the STS minter against real moto servers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "the helpers outside #[test] fns (which clippy.toml's allow-*-in-tests does not cover): a failed step fails the test"
)]

mod common;
mod regression;
mod s3_briefs;
mod secrets_manager;
mod sts;
