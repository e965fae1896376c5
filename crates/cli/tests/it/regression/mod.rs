//! Regression tests: each pins a defect that was found and fixed, and names it (most are
//! issue 10's, which a review that tried the code as an attacker reproduced). The test
//! bodies are the ones written with the fix; they moved here from the module of their
//! area, whose helpers they use.

use crate::backends::{
    assert_nowhere, aws_state, aws_vars, db_current, link_world, race_puts, refused, set_with,
    sm_prefix, tag, two_servers, uniq, vault_api, vault_put, vault_state, vault_token_writing_only,
    vault_vars,
};
use crate::browser::GroupChild;
use crate::cli_errors::run_vars;
use crate::cli_flow::{mode, umask0};
use crate::common::*;
use crate::run_and_rekey::{fernet_tokens, key_of, task};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "acme/platform/dev/agent-x";

mod bounds_and_echoes;
mod browser_guard;
mod closed_pipe;
mod external_writes;
mod files;
mod links;
mod run;
