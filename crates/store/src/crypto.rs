//! The Fernet keyring of the local backend.
//!
//! Tokens are standard Fernet (version 0x80, padded url-safe base64), the same that
//! Python's `cryptography` makes and reads. Several keys, newest first: the first
//! encrypts, all decrypt (`MultiFernet` semantics).
//!
//! Decryption takes no TTL, like Python's `Fernet.decrypt(token)`: a token stamped in
//! the future (a writer with a fast clock) is accepted. The `fernet` crate's own
//! `decrypt` refuses tokens more than 60 s ahead, so we hand it the token's own
//! timestamp as "now".

use base64::Engine;
use zeroize::Zeroizing;

/// Why a key list could not be used. Never contains key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The list holds no key.
    #[error("no Fernet key given")]
    Empty,
    #[error(
        "Fernet key #{0} is not a valid key: it must be the url-safe base64 of 32 bytes (as `secretstore keygen` prints)"
    )]
    /// The key at this position (from 1) is not a Fernet key.
    Invalid(usize),
}

/// A token that no key of the ring opens, or that is malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the Fernet token cannot be decrypted with the configured key(s)")]
pub struct DecryptError;

/// One or more Fernet keys, newest first. No `Debug`: keys never print. The keys are
/// zeroized on drop (by the `fernet` crate).
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<fernet::Fernet>,
}

impl Keyring {
    /// Parses a comma-separated list of keys, newest first (one key is a list of one).
    pub fn parse(list: &str) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for (i, k) in list.split(',').map(str::trim).enumerate() {
            if k.is_empty() {
                continue;
            }
            // The fernet crate also accepts unpadded keys; refuse any other alphabet.
            if !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
            {
                return Err(KeyError::Invalid(i + 1));
            }
            keys.push(fernet::Fernet::new(k).ok_or(KeyError::Invalid(i + 1))?);
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Keyring { keys })
    }

    /// A new random key, as text.
    pub fn generate_key() -> String {
        fernet::Fernet::generate_key()
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a keyring has at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Encrypts under the first (newest) key.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        self.keys[0].encrypt(plaintext)
    }

    /// Decrypts with whichever key opens the token. No TTL; future timestamps accepted.
    pub fn decrypt(&self, token: &str) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        self.decrypt_with_index(token).map(|(p, _)| p)
    }

    /// Decrypts and tells which key (0 = newest) opened the token.
    pub fn decrypt_with_index(
        &self,
        token: &str,
    ) -> Result<(Zeroizing<Vec<u8>>, usize), DecryptError> {
        let ts = token_timestamp(token).ok_or(DecryptError)?;
        for (i, k) in self.keys.iter().enumerate() {
            if let Ok(p) = k.decrypt_at_time(token, None, ts) {
                return Ok((Zeroizing::new(p), i));
            }
        }
        Err(DecryptError)
    }
}

/// The timestamp field of a Fernet token, if the token starts like one.
pub fn token_timestamp(token: &str) -> Option<u64> {
    // 12 base64 characters are exactly the first 9 bytes: version and timestamp.
    let head = token.get(..12)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .ok()?;
    if bytes.len() != 9 || bytes[0] != 0x80 {
        return None;
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&bytes[1..9]);
    Some(u64::from_be_bytes(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        let k = Keyring::parse(&Keyring::generate_key()).unwrap();
        let t = k.encrypt(b"hello\nworld");
        assert!(t.len().is_multiple_of(4), "token must be padded: {t}");
        assert_eq!(k.decrypt(&t).unwrap().as_slice(), b"hello\nworld");
    }

    #[test]
    fn first_key_encrypts_all_decrypt() {
        let old = Keyring::generate_key();
        let new = Keyring::generate_key();
        let ring_old = Keyring::parse(&old).unwrap();
        let ring = Keyring::parse(&format!("{new},{old}")).unwrap();
        let t_old = ring_old.encrypt(b"x");
        assert_eq!(ring.decrypt_with_index(&t_old).unwrap().1, 1);
        let t_new = ring.encrypt(b"y");
        assert_eq!(ring.decrypt_with_index(&t_new).unwrap().1, 0);
        assert!(ring_old.decrypt(&t_new).is_err());
    }

    #[test]
    fn bad_keys_are_refused_without_echo() {
        assert_eq!(Keyring::parse("").err(), Some(KeyError::Empty));
        assert_eq!(Keyring::parse("short").err(), Some(KeyError::Invalid(1)));
        let std_b64 = "cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=";
        let e = Keyring::parse(std_b64).err().unwrap();
        assert!(!e.to_string().contains("cw"));
    }

    #[test]
    fn future_timestamp_is_accepted_without_ttl() {
        // A token stamped a day ahead of now, as a writer with a fast clock makes it.
        let key = Keyring::generate_key();
        let f = fernet::Fernet::new(&key).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let t = f.encrypt_at_time(b"from the future", now + 86_400);
        assert!(f.decrypt(&t).is_err(), "the crate itself refuses it");
        let ring = Keyring::parse(&key).unwrap();
        assert_eq!(ring.decrypt(&t).unwrap().as_slice(), b"from the future");
    }

    #[test]
    fn garbage_tokens_fail_cleanly() {
        let ring = Keyring::parse(&Keyring::generate_key()).unwrap();
        for t in [
            "",
            "gAAAA",
            "%%%%%%%%%%%%%%%%%%%%%%%%",
            "gAAAAAAdwJ6wAAECAwQFBgcI",
            "é".repeat(20).as_str(),
        ] {
            assert!(ring.decrypt(t).is_err(), "{t}");
        }
    }
}
