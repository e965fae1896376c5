//! Secret names: the environment variable a secret becomes.

use crate::error::{Error, Result};
use std::fmt;

/// The prefix reserved for variables that secretstore itself sets.
pub const RESERVED_PREFIX: &str = "SECRETSTORE_";

/// A validated secret name: `[A-Z_][A-Z0-9_]{0,127}`, not starting with `SECRETSTORE_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName(String);

impl SecretName {
    /// Parses and validates a name.
    pub fn parse(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        let shape_ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_uppercase() || b[0] == b'_')
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
        if !shape_ok {
            let hint = if s.bytes().any(|c| c.is_ascii_lowercase()) {
                " (names are upper case, like environment variables)"
            } else {
                ""
            };
            return Err(Error::Invalid(format!(
                "invalid secret name {:?}: must match [A-Z_][A-Z0-9_]{{0,127}}{hint}",
                truncate(s)
            )));
        }
        if s.starts_with(RESERVED_PREFIX) {
            return Err(Error::Invalid(format!(
                "invalid secret name {s:?}: the prefix {RESERVED_PREFIX} is reserved"
            )));
        }
        Ok(SecretName(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(140).collect()
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_env_names() {
        for ok in ["A", "_", "DB_URL", "OPENAI_API_KEY", "X1", &"A".repeat(128)] {
            assert!(SecretName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "db_url",
            "1ABC",
            "A-B",
            "A B",
            "SECRETSTORE_X",
            "SECRETSTORE_",
            "Ä",
            &"A".repeat(129),
        ] {
            assert!(SecretName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lower_case_gets_a_hint() {
        let e = SecretName::parse("db_url").unwrap_err().to_string();
        assert!(e.contains("upper case"), "{e}");
    }
}
