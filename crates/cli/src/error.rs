//! The binary's own errors: its configuration, its files, stdin and stdout, the commands
//! it runs, the address it listens on. What the domain refuses arrives as [`CliError::Core`].
//!
//! Like the domain's errors, none carries a secret value: they name files, settings,
//! variables and ids, and quote an I/O error's reason, never the content read or written.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The hint for a certificate or key that cannot be used.
pub(crate) const TLS_HINT: &str = "SECRETSTORE_TLS_CERT: the PEM certificate chain (server certificate first); SECRETSTORE_TLS_KEY: its PEM private key (PKCS#8, PKCS#1 or SEC1)";

/// Why a command of the binary failed. `main` prints `error: <message>` and, when there is
/// one, `hint: <hint>`, and exits with 1.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A setting (environment, `.env`, a `_FILE`) is missing or wrong.
    #[error("{message}")]
    Config {
        /// What is wrong, naming the setting (never its value when that may be a secret).
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// Arguments that clap cannot check together.
    #[error("{0}")]
    Usage(&'static str),
    /// A file the command was given cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file cannot be written.
    #[error("cannot write {}: {source}", .path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime cannot be started (no threads left, say).
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// Stdin cannot be read.
    #[error("cannot read stdin: {0}")]
    ReadStdin(std::io::Error),
    /// `callback verify` found nothing on stdin.
    #[error("no callback token on stdin: nothing to verify")]
    TokenMissing,
    /// The token given on stdin is not text.
    #[error("the token on stdin is not UTF-8")]
    TokenNotUtf8,
    /// Stdout cannot be written (a closed pipe, a full disk).
    #[error("cannot write to stdout: {0}")]
    WriteStdout(std::io::Error),
    /// `--from-env VAR` names a variable that is not set.
    #[error("environment variable {0} is not set")]
    EnvVarUnset(String),
    /// `--from-env VAR` names a variable whose value is not text.
    #[error("environment variable {0} is not valid UTF-8")]
    EnvVarNotUtf8(String),
    /// A dotenv file to import is malformed; `after` is the entry before the bad one.
    #[error(
        "cannot parse {}: the entry {} is malformed; nothing was imported",
        .path.display(),
        entry_position(.after)
    )]
    DotenvSyntax {
        /// The file.
        path: PathBuf,
        /// The name of the last good entry, if any.
        after: Option<String>,
    },
    /// An entry of a dotenv file to import holds a value the domain refuses.
    #[error("{name} in {}: {source}; nothing was imported", .path.display())]
    DotenvValue {
        /// The entry's name.
        name: String,
        /// The file.
        path: PathBuf,
        /// Why the value is refused (never the value).
        source: secretstore_core::Error,
    },
    /// `--env-file` is a path that is never written (a symbolic link).
    #[error("--env-file: {0}; nothing was dispatched")]
    EnvFileRefused(std::io::Error),
    /// The brief was stored but its env file could not be written.
    #[error("brief {brief_id} was stored, but writing {} failed: {source}", .path.display())]
    EnvFileWrite {
        /// The brief that was stored.
        brief_id: String,
        /// The env file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Output cannot be encoded as JSON.
    #[error("cannot encode JSON: {0}")]
    Json(serde_json::Error),
    /// Output cannot be encoded as one-line JSON (`org allow-links --json`).
    #[error("{0}")]
    JsonLine(serde_json::Error),
    /// `resolve` found no secret for some refs.
    #[error("missing for {project}: {}", .names.join(", "))]
    Missing {
        /// The project.
        project: String,
        /// The refs with no secret.
        names: Vec<String>,
    },
    /// `rekey` met values that no configured key opens.
    #[error(
        "{0} values cannot be decrypted with any configured key (left untouched); add the key they were written with"
    )]
    Undecryptable(u64),
    /// `run` could not start its command (no folder for the files, no such program);
    /// `revoked` says what became of the brief.
    #[error("{source}; {revoked}")]
    NotStarted {
        /// Why it did not start.
        source: crate::exec::ExecError,
        /// What was done about the brief's callback token.
        revoked: String,
    },
    /// `run` lost track of its command.
    #[error("{0}")]
    Exec(crate::exec::ExecError),
    /// `boot` could not redeem its token or run its command (the message never holds the
    /// token or a value).
    #[error("{0}")]
    Boot(String),
    /// `scan --git` cannot read a repository's history.
    #[error("{}: {message}", .repo.display())]
    Git {
        /// The repository as given.
        repo: PathBuf,
        /// What went wrong (git's own first line of error, never a blob's content).
        message: String,
    },
    /// `serve` cannot use its TLS certificate or key.
    #[error("{0}")]
    Tls(String),
    /// `serve` cannot listen on its address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// `SECRETSTORE_LISTEN`.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// What the domain (the service, the store, a backend) refused or failed at, with
    /// the fix worded in the command line's flags and commands where the domain leaves
    /// that to its front ends ([`cli_words`]).
    #[error("{}", cli_words(.0))]
    Core(#[from] secretstore_core::Error),
}

impl CliError {
    /// A configuration error with a hint.
    pub(crate) fn config(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError::Config {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A hint for the person at the keyboard, where one helps.
    pub(crate) fn hint(&self) -> Option<&str> {
        match self {
            CliError::Config { hint, .. } => Some(hint),
            CliError::Tls(_) => Some(TLS_HINT),
            CliError::Listen { .. } => Some("set SECRETSTORE_LISTEN to a free address"),
            CliError::TokenMissing => Some(
                "pipe the token in: printf '%s' \"$SECRETSTORE_CALLBACK_TOKEN\" | secretstore callback verify BRIEF_ID",
            ),
            CliError::Core(e) => e.hint(),
            _ => None,
        }
    }
}

/// The domain says what went wrong in its own words; the command line words how to fix it
/// with its own flags and commands.
fn cli_words(e: &secretstore_core::Error) -> String {
    use secretstore_core::Error;
    match e {
        Error::CategoryRequired { scope, name } => format!(
            "{name} is a new secret at {scope}: --category is required (provider, infrastructure, integration or agent)"
        ),
        Error::ParentMissing { level, parent } => {
            let command = if level == "organization" {
                "org"
            } else {
                level
            };
            format!(
                "unknown {level} {parent}: create it first with `secretstore {command} create {parent}`"
            )
        }
        other => other.to_string(),
    }
}

/// Where a malformed dotenv entry is: `after NAME`, or `at the start`.
fn entry_position(after: &Option<String>) -> String {
    match after {
        Some(n) => format!("after {n}"),
        None => "at the start".to_string(),
    }
}

/// The result of the binary's commands.
pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_hints() {
        let e = CliError::DotenvSyntax {
            path: "x.env".into(),
            after: Some("A".into()),
        };
        assert_eq!(
            e.to_string(),
            "cannot parse x.env: the entry after A is malformed; nothing was imported"
        );
        let e = CliError::DotenvSyntax {
            path: "x.env".into(),
            after: None,
        };
        assert_eq!(
            e.to_string(),
            "cannot parse x.env: the entry at the start is malformed; nothing was imported"
        );
        let e = CliError::Missing {
            project: "a/b/c/d".into(),
            names: vec!["X".into(), "Y".into()],
        };
        assert_eq!(e.to_string(), "missing for a/b/c/d: X, Y");
        assert_eq!(e.hint(), None);
        let e = CliError::from(secretstore_core::Error::config("m", "h"));
        assert_eq!((e.to_string().as_str(), e.hint()), ("m", Some("h")));
        assert_eq!(CliError::Tls("t".into()).hint(), Some(TLS_HINT));
        let e = CliError::from(secretstore_core::Error::ParentMissing {
            level: "organization".into(),
            parent: "acme".into(),
        });
        assert_eq!(
            e.to_string(),
            "unknown organization acme: create it first with `secretstore org create acme`"
        );
        let e = CliError::from(secretstore_core::Error::CategoryRequired {
            scope: "acme".into(),
            name: "X".into(),
        });
        assert!(e.to_string().contains("--category is required"), "{e}");
    }
}
