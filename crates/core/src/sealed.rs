//! Sealed delivery: a brief's env kept encrypted under a key that only its boot token
//! gives.
//!
//! At dispatch the env (and the file-delivered secrets) is encrypted with ChaCha20-Poly1305
//! under a key derived from the boot token by HKDF-SHA256 (both from `ring`), with the
//! brief's id as the associated data, so a sealed env moved to another brief's row does not
//! open. The database keeps the ciphertext and the SHA-256 of the token, never the token:
//! neither the hash nor the master key opens it. The token is handed to the controller
//! once; `secretstore boot` redeems it once.

use crate::error::{Error, Result};
use crate::model::BriefId;
use crate::value::SecretValue;
use base64::Engine;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroizing;

/// The recognisable prefix of boot tokens.
pub const BOOT_TOKEN_PREFIX: &str = "ssbt_";

/// The version tag of a sealed env's text form: `v1.` then url-safe base64 (no padding) of
/// the 12-byte nonce followed by the ciphertext and its tag.
const SEALED_TAG: &str = "v1.";

/// HKDF's `info`: binds the derived key to this use.
const HKDF_INFO: &[u8] = b"secretstore sealed env v1";

/// A new boot token: the prefix and 32 bytes from the OS CSPRNG, url-safe base64.
pub fn new_boot_token() -> SecretValue {
    let mut raw = Zeroizing::new([0u8; 32]);
    crate::random::fill(raw.as_mut());
    let token = format!(
        "{BOOT_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref())
    );
    #[allow(
        clippy::expect_used,
        reason = "a 48-byte ASCII token always passes the value checks"
    )]
    SecretValue::new(token).expect("boot token is a valid value")
}

/// What a sealed brief delivers: the env (the secrets delivered as variables, then
/// `SECRETSTORE_BRIEF_ID` and `SECRETSTORE_CALLBACK_TOKEN`) and the secrets delivered as
/// files, each in the order of the task's refs. Its `Debug` shows names only.
#[derive(Clone, Default)]
pub struct SealedEnv {
    /// Environment variables.
    pub env: Vec<(String, SecretValue)>,
    /// Secrets delivered as files, by name.
    pub files: Vec<(String, SecretValue)>,
}

impl fmt::Debug for SealedEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |v: &[(String, SecretValue)]| v.iter().map(|(k, _)| k.clone()).collect();
        let (env, files): (Vec<String>, Vec<String>) = (names(&self.env), names(&self.files));
        f.debug_struct("SealedEnv")
            .field("env", &env)
            .field("files", &files)
            .finish()
    }
}

/// The plaintext's shape: names and values, in order.
#[derive(Serialize, Deserialize)]
struct Plain {
    env: Vec<(String, Zeroizing<String>)>,
    files: Vec<(String, Zeroizing<String>)>,
}

impl Plain {
    fn of(sealed: &SealedEnv) -> Plain {
        let copy = |v: &[(String, SecretValue)]| {
            v.iter()
                .map(|(k, v)| (k.clone(), Zeroizing::new(v.expose_secret().to_owned())))
                .collect()
        };
        Plain {
            env: copy(&sealed.env),
            files: copy(&sealed.files),
        }
    }

    fn into_sealed(self) -> Result<SealedEnv> {
        let back = |v: Vec<(String, Zeroizing<String>)>| {
            v.into_iter()
                .map(|(k, v)| {
                    SecretValue::from_backend(v.as_bytes().to_vec())
                        .map(|v| (k, v))
                        .ok_or_else(|| {
                            Error::Crypto("a sealed env holds a value that is not text".into())
                        })
                })
                .collect::<Result<Vec<_>>>()
        };
        Ok(SealedEnv {
            env: back(self.env)?,
            files: back(self.files)?,
        })
    }
}

/// The AEAD key for one token.
fn key_of(token: &str, brief_id: &BriefId) -> Result<LessSafeKey> {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, brief_id.as_str().as_bytes());
    let prk = salt.extract(token.as_bytes());
    let info = [HKDF_INFO];
    let okm = prk
        .expand(&info, &aead::CHACHA20_POLY1305)
        .map_err(|_| Error::Crypto("cannot derive the sealing key".into()))?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

/// Encrypts `contents` for the holder of `token`, bound to `brief_id`.
pub fn seal(token: &str, brief_id: &BriefId, contents: &SealedEnv) -> Result<String> {
    let key = key_of(token, brief_id)?;
    let mut nonce = [0u8; aead::NONCE_LEN];
    crate::random::fill(&mut nonce);
    let mut buf = Zeroizing::new(
        serde_json::to_vec(&Plain::of(contents))
            .map_err(|_| Error::Crypto("cannot encode the env to seal".into()))?,
    );
    // The plaintext buffer becomes the ciphertext in place; it is zeroized on drop anyway.
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(brief_id.as_str().as_bytes()),
        &mut *buf,
    )
    .map_err(|_| Error::Crypto("cannot seal the env".into()))?;
    let mut out = Vec::with_capacity(nonce.len() + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(format!(
        "{SEALED_TAG}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
    ))
}

/// Decrypts what [`seal`] made with the same token and brief id. Any other token, brief or
/// a changed byte is an error that says only that it does not open.
pub fn open(token: &str, brief_id: &BriefId, sealed: &str) -> Result<SealedEnv> {
    let refused = || Error::Crypto("the sealed env does not open with this boot token".into());
    let text = sealed.strip_prefix(SEALED_TAG).ok_or_else(refused)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| refused())?;
    if raw.len() < aead::NONCE_LEN + aead::CHACHA20_POLY1305.tag_len() {
        return Err(refused());
    }
    let (nonce, ciphertext) = raw.split_at(aead::NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let key = key_of(token, brief_id)?;
    let plain = key
        .open_in_place(nonce, Aad::from(brief_id.as_str().as_bytes()), &mut buf)
        .map_err(|_| refused())?;
    let parsed: Plain = serde_json::from_slice(plain).map_err(|_| refused())?;
    parsed.into_sealed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SecretValue {
        SecretValue::new(s.to_owned()).unwrap()
    }

    fn contents() -> SealedEnv {
        SealedEnv {
            env: vec![
                ("DB_URL".into(), v("postgres://u:p@h/db")),
                ("MULTI".into(), v("line one\nline two\n")),
            ],
            files: vec![(
                "TLS_KEY".into(),
                v("-----BEGIN KEY-----\nabc\n-----END KEY-----\n"),
            )],
        }
    }

    #[test]
    fn a_sealed_env_opens_with_its_token_and_brief_only() {
        let token = new_boot_token();
        let brief = BriefId::generate();
        let sealed = seal(token.expose_secret(), &brief, &contents()).unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("postgres"));
        let opened = open(token.expose_secret(), &brief, &sealed).unwrap();
        let pairs = |v: &[(String, SecretValue)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
                .collect()
        };
        assert_eq!(pairs(&opened.env), pairs(&contents().env));
        assert_eq!(pairs(&opened.files), pairs(&contents().files));

        // Another token, another brief, a flipped byte, another shape: none opens.
        let other = new_boot_token();
        assert!(open(other.expose_secret(), &brief, &sealed).is_err());
        assert!(open(token.expose_secret(), &BriefId::generate(), &sealed).is_err());
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(
            open(
                token.expose_secret(),
                &brief,
                &String::from_utf8(bytes).unwrap()
            )
            .is_err()
        );
        assert!(open(token.expose_secret(), &brief, "v1.").is_err());
        assert!(open(token.expose_secret(), &brief, "nonsense").is_err());
    }

    #[test]
    fn the_sealed_env_debug_output_names_only() {
        let shown = format!("{:?}", contents());
        assert!(shown.contains("DB_URL") && shown.contains("TLS_KEY"));
        assert!(!shown.contains("postgres") && !shown.contains("BEGIN"));
    }

    #[test]
    fn boot_tokens_are_prefixed_random_and_long() {
        let t = new_boot_token();
        let s = t.expose_secret();
        assert!(s.starts_with(BOOT_TOKEN_PREFIX));
        assert_eq!(s.len(), BOOT_TOKEN_PREFIX.len() + 43);
        assert_ne!(new_boot_token().expose_secret(), s);
    }
}
