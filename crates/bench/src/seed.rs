//! The seeding fast path: secrets written straight into the store's tables (`secrets`,
//! `secret_versions`; schema in `crates/store/migrations`), values encrypted by the
//! store's own [`Keyring`], with prepared multi-row statements in large transactions.
//! A million secrets take seconds, not the hours a million audited writes would.
//!
//! The scopes themselves are made through the service (audited, as usual): only the bulk
//! of the secrets takes this path, and every row it writes is one the store itself would
//! write for a version-1 local secret (no audit record: nobody revealed or wrote it).

use crate::Res;
use secretstore_core::{ScopePath, SecretName, timestamp};
use secretstore_store::{Dialect, Keyring};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe};
use std::time::Instant;

/// Secrets per transaction: one commit (one fsync) per this many.
const PER_TX: usize = 10_000;
/// Rows per multi-row INSERT: 3 parameters a row, far below either database's limit.
const PER_STATEMENT: usize = 200;

/// How many refs a dispatch names in this harness.
pub(crate) const REFS: usize = 20;

/// What was seeded.
pub(crate) struct Seeded {
    /// Secrets written (the `n` asked for, plus the shadowing copies).
    pub(crate) rows: usize,
    /// The 20 refs of the measured dispatch, spread over the key space.
    pub(crate) refs: Vec<SecretName>,
    /// For each ref, the winner's (secret_id, version): the floor's primary-key reads.
    pub(crate) winners: Vec<(i64, i64)>,
    /// Seconds the seeding took.
    pub(crate) seconds: f64,
}

/// The name of seeded secret `i`.
pub(crate) fn name(i: usize) -> String {
    format!("BENCH_{i:07}")
}

/// The plaintext of seeded secret `i` (about 45 bytes, like a URL with a password).
pub(crate) fn value(i: usize) -> String {
    format!("postgres://app:bench-{i:07}-pw@db.internal:5432/app")
}

/// The index of ref `k` (of [`REFS`]) among `n` seeded secrets: spread evenly.
pub(crate) fn ref_index(k: usize, n: usize) -> usize {
    (k * n) / REFS + n / (2 * REFS)
}

/// Opens a one-connection pool of our own on the store's database (after the store has
/// migrated it).
pub(crate) async fn pool(url: &str) -> Res<AnyPool> {
    sqlx::any::install_default_drivers();
    Ok(AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?)
}

/// Seeds `n` secrets over the three secret scopes of `chain` (organization, team,
/// workspace): secret `i` at `chain[i % 3]`. Each of the 20 refs not already at the
/// organization gets a second copy there, which its winner shadows (so the measured
/// resolution has shadowing to do, as a real one does).
pub(crate) async fn secrets(
    pool: &AnyPool,
    dialect: Dialect,
    keys: &Keyring,
    chain: &[ScopePath; 3],
    n: usize,
) -> Res<Seeded> {
    let started = Instant::now();
    let mut scope_ids = [0i64; 3];
    for (slot, scope) in scope_ids.iter_mut().zip(chain) {
        *slot = sqlx::query_scalar("SELECT id FROM scopes WHERE path = $1")
            .bind(scope.as_str())
            .fetch_one(pool)
            .await?;
    }
    let first_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM secrets")
        .fetch_one(pool)
        .await?;
    let first_id = first_id + 1;
    let now = timestamp::format(timestamp::now());
    let by = "bench-seed";

    // (id, scope_id, name, plaintext index)
    let mut rows: Vec<(i64, i64, String, usize)> = Vec::with_capacity(PER_TX);
    let mut next_id = first_id;
    let mut written = 0;
    let flush = async |rows: &mut Vec<(i64, i64, String, usize)>| -> Res<()> {
        let mut tx = pool.begin().await?;
        for chunk in rows.chunks(PER_STATEMENT) {
            let (s_sql, v_sql) = statements(dialect, chunk.len());
            let mut q = sqlx::query(AssertSqlSafe(s_sql)).bind(&now).bind(by);
            for (id, scope, name, _) in chunk {
                q = q.bind(*id).bind(*scope).bind(name.as_str());
            }
            q.execute(&mut *tx).await?;
            let mut q = sqlx::query(AssertSqlSafe(v_sql)).bind(&now).bind(by);
            for (id, _, _, i) in chunk {
                q = q.bind(*id).bind(keys.encrypt(value(*i).as_bytes()));
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        rows.clear();
        Ok(())
    };
    for i in 0..n {
        rows.push((next_id, scope_ids[i % 3], name(i), i));
        next_id += 1;
        if rows.len() == PER_TX {
            written += rows.len();
            flush(&mut rows).await?;
        }
    }
    let mut refs = Vec::with_capacity(REFS);
    let mut winners = Vec::with_capacity(REFS);
    for k in 0..REFS {
        let i = ref_index(k, n);
        refs.push(SecretName::parse(&name(i))?);
        winners.push((first_id + i as i64, 1));
        if !i.is_multiple_of(3) {
            rows.push((next_id, scope_ids[0], name(i), i));
            next_id += 1;
        }
    }
    written += rows.len();
    flush(&mut rows).await?;
    if dialect == Dialect::Postgres {
        // Explicit ids went past the identity's sequence; later inserts must not collide.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('secrets', 'id'), (SELECT MAX(id) FROM secrets))",
        )
        .execute(pool)
        .await?;
        // Fresh statistics, as autovacuum would make them shortly after such a load.
        sqlx::query("ANALYZE secrets").execute(pool).await?;
        sqlx::query("ANALYZE secret_versions").execute(pool).await?;
    }
    Ok(Seeded {
        rows: written,
        refs,
        winners,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The actions of the seeded audit records: reveals most.
const ACTIONS: [&str; 4] = [
    "secret.reveal",
    "secret.reveal",
    "secret.set",
    "task.dispatch",
];

/// Seeds `n` audit records over `chain`, a second apart (the newest now): each by one of
/// 50 actors, about one of 10 secret names (`name(i % 10)`: a page of 100 by name is full on the
/// smallest log too), spread over the scopes.
pub(crate) async fn audit(pool: &AnyPool, chain: &[ScopePath; 3], n: usize) -> Res<()> {
    let start = timestamp::now().unix_timestamp() - n as i64;
    let mut done = 0;
    while done < n {
        let mut tx = pool.begin().await?;
        let end = (done + PER_TX).min(n);
        while done < end {
            let rows = PER_STATEMENT.min(end - done);
            let mut sql = String::from(
                "INSERT INTO audit (at, actor, action, scope, name, version, source) VALUES ",
            );
            for r in 0..rows {
                let p = 1 + 5 * r;
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${p}, ${}, ${}, ${}, ${}, 1, 'bench')",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4
                ));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for i in done..done + rows {
                let at = timestamp::OffsetDateTime::from_unix_timestamp(start + i as i64)?;
                q = q
                    .bind(timestamp::format(at))
                    .bind(format!("actor-{}", i % 50))
                    .bind(ACTIONS[i % ACTIONS.len()])
                    .bind(chain[i % 3].as_str().to_owned())
                    .bind(name(i % 10));
            }
            q.execute(&mut *tx).await?;
            done += rows;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// The two INSERTs of `rows` rows: `$1` is the timestamp, `$2` the writer, then three
/// parameters a row for `secrets` (id, scope, name) and two for `secret_versions` (id,
/// token). sqlx prepares each text once per connection and keeps it.
fn statements(dialect: Dialect, rows: usize) -> (String, String) {
    let overriding = match dialect {
        // The id column is GENERATED ALWAYS there.
        Dialect::Postgres => " OVERRIDING SYSTEM VALUE",
        Dialect::Sqlite => "",
    };
    let mut s = format!(
        "INSERT INTO secrets (id, scope_id, name, category, backend, current_version, \
         created_at, updated_at, updated_by){overriding} VALUES "
    );
    let mut v = String::from(
        "INSERT INTO secret_versions (secret_id, version, ciphertext, created_at, created_by) VALUES ",
    );
    for r in 0..rows {
        let p = 3 + 3 * r;
        let q = 3 + 2 * r;
        if r > 0 {
            s.push_str(", ");
            v.push_str(", ");
        }
        s.push_str(&format!(
            "(${p}, ${}, ${}, 'integration', 'local', 1, $1, $1, $2)",
            p + 1,
            p + 2
        ));
        v.push_str(&format!("(${q}, 1, ${}, $1, $2)", q + 1));
    }
    (s, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_distinct_and_in_range() {
        for n in [20, 1_000, 1_000_000] {
            let idx: Vec<usize> = (0..REFS).map(|k| ref_index(k, n)).collect();
            assert!(idx.iter().all(|&i| i < n));
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "{n}: {idx:?}");
        }
    }

    #[test]
    fn names_are_valid_secret_names() {
        assert!(SecretName::parse(&name(0)).is_ok());
        assert!(SecretName::parse(&name(999_999)).is_ok());
    }
}
