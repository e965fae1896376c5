//! The verification of API tokens, remembered for at most [`TOKEN_CACHE_TTL`]: under
//! load, a request does not ask the database who its token belongs to when it asked
//! less than a second ago.
//!
//! A change of this server's tokens or grants (revoking a token, granting or revoking a
//! role) forgets everything at once, once its transaction has committed; a lookup that
//! was running across such a change is not remembered (the generation moved). Only what
//! another process changes (another server on the same PostgreSQL, the command line on
//! the same SQLite file) can be seen up to one TTL late. Only hits are remembered: an
//! unknown token always asks the database. Entries are keyed by the token's SHA-256,
//! never the token.

use secretstore_core::Role;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a verified token is remembered.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);
/// The most tokens remembered; past it, the cache starts again empty.
const MAX_ENTRIES: usize = 10_000;

/// An account and its roles, as a token's lookup gave them.
pub(super) type Holder = (String, Vec<Role>);

#[derive(Default)]
pub(super) struct TokenCache {
    entries: Mutex<HashMap<String, (Instant, Holder)>>,
    generation: AtomicU64,
}

impl TokenCache {
    /// The holder of the token whose hash is `hash`, if verified less than a TTL ago.
    pub(super) fn get(&self, hash: &str) -> Option<Holder> {
        let entries = self.entries.lock().ok()?;
        let (at, holder) = entries.get(hash)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| holder.clone())
    }

    /// The generation to hand back to [`put`](Self::put), taken before the lookup.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers a lookup that started at `generation`, unless a change came since.
    pub(super) fn put(&self, generation: u64, hash: &str, holder: Holder) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash.to_owned(), (Instant::now(), holder));
    }

    /// Forgets every token: a token or a grant changed (call after the commit).
    pub(super) fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_across_a_change_is_not_remembered_and_a_change_forgets_all() {
        let c = TokenCache::default();
        let g = c.generation();
        c.put(g, "h1", ("alice".into(), vec![Role::Root]));
        assert_eq!(c.get("h1").map(|h| h.0), Some("alice".to_string()));
        let before = c.generation();
        c.forget_all();
        assert!(c.get("h1").is_none());
        c.put(before, "h1", ("alice".into(), vec![Role::Root]));
        assert!(c.get("h1").is_none(), "a lookup from before the change");
    }
}
