//! Regression tests: each pins a defect that was found and fixed, and names it.
//!
//! None of this crate's own yet. The backend defects fixed so far (issue 10, items 1 and 5:
//! links to another team's secrets, external writes racing the version check) are pinned
//! through the real binary, in `crates/cli/tests/it/regression.rs`, against this backend.
