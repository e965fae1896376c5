//! The one error type of secretstore.
//!
//! Variants keep "not found" apart from "unavailable" and "refused": a resolver that
//! confused them would let a backend outage fall through to a broader scope's value.
//! No variant ever carries a secret value: messages name scopes, names and versions only.

use std::fmt;

/// Why one ref of a dispatch could not be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFailure {
    /// The secret name as written in the task's `secret_refs`.
    pub name: String,
    /// What went wrong, without any value.
    pub reason: RefFailureReason,
}

/// The reason one ref failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefFailureReason {
    /// No secret of that name at any scope of the project's chain.
    Missing,
    /// The winning secret's backend failed (the scope is named; broader scopes were not tried).
    Backend {
        /// The scope whose secret won.
        scope: String,
        /// What its backend answered.
        error: BackendError,
    },
    /// The winning secret's backend is not configured on this server (the scope is named;
    /// broader scopes were not tried): a fault of the settings, not of the backend.
    NotConfigured {
        /// The scope whose secret won.
        scope: String,
        /// Why the backend is missing.
        message: String,
    },
    /// The ref is an unsafe environment name (the rule is given): refused, never fetched.
    UnsafeName(String),
    /// A file-delivered secret `X` (its path goes in `X_FILE`) and an env-delivered ref
    /// `X_FILE` of the same task would set the same variable: refused, never fetched.
    Collision {
        /// The other ref of the pair.
        with: String,
        /// True for the file-delivered one (`X`), false for the env-delivered `X_FILE`.
        file_delivered: bool,
    },
    /// Two refs of the task would set the same variable (an `aws_sts` generator's
    /// `AWS_*` and another ref): refused, never fetched or minted.
    Clash {
        /// The other ref.
        with: String,
        /// The variable both would set.
        variable: String,
    },
}

impl fmt::Display for RefFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            RefFailureReason::Missing => write!(f, "{} (missing)", self.name),
            RefFailureReason::Backend { scope, error } => {
                write!(f, "{} (at {scope}: {error})", self.name)
            }
            RefFailureReason::NotConfigured { scope, message } => {
                write!(f, "{} (at {scope}: not configured: {message})", self.name)
            }
            RefFailureReason::UnsafeName(rule) => write!(f, "{} (refused: {rule})", self.name),
            RefFailureReason::Collision {
                with,
                file_delivered: true,
            } => write!(
                f,
                "{} (delivered as a file, its path goes in {with}, which the task's ref {with} sets too)",
                self.name
            ),
            RefFailureReason::Clash { with, variable } => write!(
                f,
                "{} (sets {variable}, which the task's ref {with} sets too)",
                self.name
            ),
            RefFailureReason::Collision {
                with,
                file_delivered: false,
            } => write!(
                f,
                "{} (the same variable as the path of the file-delivered {with})",
                self.name
            ),
        }
    }
}

/// An error from a value backend. Three kinds that must never collapse into one another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The backend answered that the value does not exist (deleted, destroyed, missing field).
    #[error("not found in backend: {0}")]
    NotFound(String),
    /// The backend refused the credentials or the key (bad token, 403, wrong Fernet key).
    #[error("refused: {0}")]
    Refused(String),
    /// The backend could not be reached or failed (connection refused, timeout, 5xx).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The error type of every secretstore operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// A task names more secret refs than a task may hold: nothing was changed.
    #[error("a task may name at most {limit} secret refs; this one names {given}")]
    TooManyRefs {
        /// How many refs the task names.
        given: usize,
        /// The limit ([`crate::MAX_REFS`]).
        limit: usize,
    },
    /// The thing named does not exist (or the caller may not see it).
    #[error("{0}")]
    NotFound(String),
    /// The caller sees the thing but may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No valid credentials (401). The message is the same for unknown and revoked tokens.
    #[error("{0}")]
    Unauthorized(String),
    /// A create of something that already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// An optimistic-concurrency check failed: another write came first.
    #[error("{0}")]
    Conflict(String),
    /// A new secret was written without its category (nothing was changed). Each front
    /// end words how to give one.
    #[error(
        "{name} is a new secret at {scope}: a category is required (provider, infrastructure, integration or agent)"
    )]
    CategoryRequired {
        /// The scope written to.
        scope: String,
        /// The secret's name.
        name: String,
    },
    /// A scope was created under a parent that does not exist (or that the caller may not
    /// see). Each front end words how to create it.
    #[error("unknown {level} {parent}: create it first")]
    ParentMissing {
        /// The parent's level (`organization`, `team`, `workspace`).
        level: String,
        /// The parent's path.
        parent: String,
    },
    /// A setting is missing or wrong.
    #[error("{message}")]
    Config {
        /// What is wrong.
        message: String,
        /// What to do about it, for the person who runs secretstore.
        hint: Option<String>,
    },
    /// The backend a secret needs is not configured on this server (a 503: the operator,
    /// not the caller, can fix it).
    #[error("{message}")]
    NotConfigured {
        /// Which backend, and why it is missing.
        message: String,
        /// What the operator can do about it.
        hint: Option<String>,
    },
    /// What was named is no longer there (410): a boot token already redeemed, expired,
    /// or whose brief ended. `code` is the machine-readable reason (`already_used`,
    /// `expired`, `ended`).
    #[error("{message}")]
    Gone {
        /// `already_used`, `expired` or `ended`.
        code: &'static str,
        /// What happened, in the product's words.
        message: String,
    },
    /// The encryption key does not open what is stored.
    #[error("{0}")]
    Crypto(String),
    /// A value backend failed.
    #[error("{0}")]
    Backend(#[from] BackendError),
    /// A dispatch failed as a whole; every failing ref is named.
    #[error("dispatch failed: {}", join_failures(.0))]
    Dispatch(Vec<RefFailure>),
    /// The database or the brief store failed; the source says how (a database error,
    /// an I/O error, or a message). Its text never holds a secret value.
    #[error("{0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The brief store could not store a brief (S3 down or frozen, a folder that cannot be
    /// written): the dispatch failed whole, nothing was handed out. The message names the
    /// store and says why; it never holds a secret value.
    #[error("{0}")]
    BriefStore(String),
    /// The database cannot be reached (refused, closed, shutting down, or no connection
    /// came free in time): a retry later may succeed, nothing was changed. The source says
    /// how; its text never holds a secret value.
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

fn join_failures(failures: &[RefFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// A hint for the person at the keyboard, where one helps.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Config { hint, .. } | Error::NotConfigured { hint, .. } => hint.as_deref(),
            Error::Invalid(_)
            | Error::TooManyRefs { .. }
            | Error::NotFound(_)
            | Error::Forbidden(_)
            | Error::Unauthorized(_)
            | Error::AlreadyExists(_)
            | Error::Conflict(_)
            | Error::Gone { .. }
            | Error::CategoryRequired { .. }
            | Error::ParentMissing { .. }
            | Error::Crypto(_)
            | Error::Backend(_)
            | Error::Dispatch(_)
            | Error::Storage(_)
            | Error::BriefStore(_)
            | Error::DatabaseUnavailable(_) => None,
        }
    }

    /// The same error with `note` appended to its message (what was done about it).
    pub fn with_note(self, note: &str) -> Error {
        let add = |m: String| format!("{m}{note}");
        match self {
            Error::Invalid(m) => Error::Invalid(add(m)),
            Error::NotFound(m) => Error::NotFound(add(m)),
            Error::Forbidden(m) => Error::Forbidden(add(m)),
            Error::Unauthorized(m) => Error::Unauthorized(add(m)),
            Error::AlreadyExists(m) => Error::AlreadyExists(add(m)),
            Error::Conflict(m) => Error::Conflict(add(m)),
            Error::Gone { code, message } => Error::Gone {
                code,
                message: add(message),
            },
            Error::Config { message, hint } => Error::Config {
                message: add(message),
                hint,
            },
            Error::NotConfigured { message, hint } => Error::NotConfigured {
                message: add(message),
                hint,
            },
            e @ (Error::CategoryRequired { .. } | Error::TooManyRefs { .. }) => {
                Error::Invalid(add(e.to_string()))
            }
            e @ Error::ParentMissing { .. } => Error::NotFound(add(e.to_string())),
            Error::Crypto(m) => Error::Crypto(add(m)),
            Error::Backend(b) => Error::Backend(match b {
                BackendError::NotFound(m) => BackendError::NotFound(add(m)),
                BackendError::Refused(m) => BackendError::Refused(add(m)),
                BackendError::Unavailable(m) => BackendError::Unavailable(add(m)),
            }),
            Error::Storage(source) => Error::Storage(Box::new(Noted {
                text: add(source.to_string()),
                source,
            })),
            Error::DatabaseUnavailable(source) => Error::DatabaseUnavailable(Box::new(Noted {
                text: add(source.to_string()),
                source,
            })),
            Error::Dispatch(f) => Error::Dispatch(f),
            Error::BriefStore(m) => Error::BriefStore(add(m)),
        }
    }

    /// A storage error that is only a message.
    pub fn storage(message: impl Into<String>) -> Self {
        Error::Storage(message.into().into())
    }

    /// Shorthand for a configuration error with a hint.
    pub fn config(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// A storage error with a note appended to its text ([`Error::with_note`]), keeping the
/// error it notes as its source.
#[derive(Debug)]
struct Noted {
    text: String,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl fmt::Display for Noted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Noted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The result type of secretstore operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
