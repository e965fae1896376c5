//! Secret values: a redacting, zeroizing newtype.
//!
//! `SecretValue` has no `Display` and no `Serialize`; its `Debug` prints `[REDACTED]`.
//! The only way to read it is [`SecretValue::expose_secret`], a call that is easy to grep for.

use crate::error::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use zeroize::Zeroizing;

/// The largest value accepted, in bytes.
pub const MAX_VALUE_BYTES: usize = 65_536;

/// A secret value: UTF-8 text of 1 to 65,536 bytes with no NUL byte.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Validates and wraps a value. The error never contains the value.
    pub fn new(value: String) -> Result<Self> {
        let value = Zeroizing::new(value);
        check(value.as_bytes())?;
        Ok(SecretValue(SecretString::from(value.as_str())))
    }

    /// Validates bytes as a value: they must be UTF-8. The input is zeroized.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let bytes = Zeroizing::new(bytes);
        check(&bytes)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::Invalid("secret value is not valid UTF-8 text".into()))?;
        Ok(SecretValue(SecretString::from(text)))
    }

    /// Wraps a value that a backend handed back, without the size checks of new input
    /// (a value written by another tool may be larger); it must still be UTF-8.
    pub fn from_backend(bytes: Vec<u8>) -> Option<Self> {
        let bytes = Zeroizing::new(bytes);
        let text = std::str::from_utf8(&bytes).ok()?;
        Some(SecretValue(SecretString::from(text)))
    }

    /// The plaintext. Every call site is a place where a value leaves the vault.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.expose_secret().len()
    }

    /// Always false for a validated value; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }
}

fn check(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Err(Error::Invalid("secret value is empty".into()));
    }
    if bytes.len() > MAX_VALUE_BYTES {
        return Err(Error::Invalid(format!(
            "secret value is {} bytes; the limit is {MAX_VALUE_BYTES}",
            bytes.len()
        )));
    }
    if bytes.contains(&0) {
        return Err(Error::Invalid("secret value contains a NUL byte".into()));
    }
    Ok(())
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.expose_secret()
            .as_bytes()
            .ct_eq(other.expose_secret().as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-Zx81-value";

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::new(CANARY.into()).unwrap();
        let dbg = format!("{v:?} {v:#?} {:?}", Some(&v));
        assert!(!dbg.contains(CANARY), "{dbg}");
        assert!(dbg.contains("[REDACTED]"));
        assert_eq!(v.expose_secret(), CANARY);
    }

    #[test]
    fn limits() {
        assert!(SecretValue::new(String::new()).is_err());
        assert!(SecretValue::new("a".repeat(MAX_VALUE_BYTES)).is_ok());
        assert!(SecretValue::new("a".repeat(MAX_VALUE_BYTES + 1)).is_err());
        assert!(SecretValue::new("a\0b".into()).is_err());
        assert!(SecretValue::from_bytes(vec![0xff, 0xfe]).is_err());
        let pem = "-----BEGIN KEY-----\nabc\r\n\tü€😀\n-----END KEY-----\n";
        assert_eq!(SecretValue::new(pem.into()).unwrap().expose_secret(), pem);
    }

    #[test]
    fn errors_never_contain_the_value() {
        let big = format!("{CANARY}{}", "x".repeat(MAX_VALUE_BYTES));
        let nul = format!("{CANARY}\0");
        for e in [
            SecretValue::new(big).unwrap_err(),
            SecretValue::new(nul).unwrap_err(),
        ] {
            assert!(!e.to_string().contains(CANARY));
            assert!(!format!("{e:?}").contains(CANARY));
        }
    }
}
