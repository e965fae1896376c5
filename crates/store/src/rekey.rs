//! Re-encrypting every stored local value under the first key of the keyring, so that
//! older keys can be dropped from `FERNET_SECRET_KEYS`.
//!
//! Safe against a crash at any moment: values are rewritten in small batches, each in a
//! short transaction, and each row holds either its old token or its new one — both
//! readable with the key list. Running it again finishes the job (rows already under the
//! first key are left alone). At the end the database is compacted so that no copy of a
//! token under a retired key is left in its files (free pages, the WAL).

use crate::crypto::Keyring;
use crate::sql::SqlStore;
use secretstore_core::Result;

/// What a run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Stored local values (every version).
    pub total: u64,
    /// How many values each key opened (index 0 is the first, the newest key).
    pub per_key: Vec<u64>,
    /// Values no key of the list opens (left untouched).
    pub unreadable: u64,
    /// Values re-encrypted under the first key by this run.
    pub rewritten: u64,
}

/// Walks every stored token. With `dry_run`, only counts rows per key. `progress` is
/// called with the number of rows seen so far (and the total first).
pub async fn rekey(
    store: &SqlStore,
    keys: &Keyring,
    dry_run: bool,
    batch_size: i64,
    mut progress: impl FnMut(u64, u64),
) -> Result<RekeyReport> {
    let total = store.count_ciphertexts().await?.max(0) as u64;
    let mut report = RekeyReport {
        total,
        per_key: vec![0; keys.len()],
        ..RekeyReport::default()
    };
    progress(0, total);
    let mut seen = 0u64;
    let mut after = None;
    loop {
        let page = store.ciphertext_page(after, batch_size.max(1)).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.0, last.1));
        let mut rewrites = Vec::new();
        for (sid, ver, token) in &page {
            match keys.decrypt_with_index(token) {
                Ok((plain, idx)) => {
                    report.per_key[idx] += 1;
                    if idx != 0 && !dry_run {
                        rewrites.push((*sid, *ver, token.clone(), keys.encrypt(&plain)));
                    }
                }
                Err(_) => report.unreadable += 1,
            }
        }
        if !rewrites.is_empty() {
            report.rewritten += store.replace_ciphertexts(&rewrites).await?;
        }
        seen += page.len() as u64;
        progress(seen, total);
    }
    if !dry_run {
        store.rekey_key_check(keys).await?;
        // When rekey reports done, no token under a retired key is left in the files.
        store.compact_after_rekey().await?;
    }
    Ok(report)
}
