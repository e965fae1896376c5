//! In process: the service on its store, seeded through the fast path, and a 20-ref
//! resolution and dispatch on the local backend measured against its floor in the same
//! run, on the same database and through the same sqlx driver.
//!
//! - resolve: [`Service::resolve`] (the authorization, the scope check and the one
//!   candidates query of a dispatch) and the local backend's fetch of the 20 winners
//!   (their Fernet decrypts): a dispatch's reading half, without its writes.
//! - dispatch: [`Service::dispatch`] whole: the task read, the same resolution and fetch,
//!   the brief written to the folder brief store (fsync) and the dispatch recorded with
//!   its audit record in one transaction (fsync).
//! - floor: 20 × (one primary-key read of `secret_versions` + one Fernet decrypt with the
//!   store's `Keyring`), the 20 reads in one statement on a held connection of the same
//!   database through the driver the store's dispatch reads use: on SQLite rusqlite on the
//!   calling thread (as `sql/lite.rs` reads), on PostgreSQL sqlx. The least a dispatch's
//!   reading half can do. Also the same statement through sqlx (`floor_sqlx`), and as 20
//!   sqlx statements one after the other (`floor_sequential`), which shows what one
//!   statement's round trip through sqlx costs.

use crate::Res;
use crate::seed::{self, REFS, Seeded};
use crate::stats::{self, Summary};
use secretstore_core::{
    AuditFilter, BackendKind, Backends, Fetch, Level, Principal, ScopePath, Service, ServiceConfig,
    StoredMaterial,
};
use secretstore_store::{Dialect, FolderBriefStore, Keyring, LocalBackend, SqlStore};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The four scopes of the harness, organization first; secrets live at the first three,
/// tasks run in the project.
pub(crate) const SCOPES: [(&str, Level); 4] = [
    ("bench", Level::Organization),
    ("bench/team", Level::Team),
    ("bench/team/ws", Level::Workspace),
    ("bench/team/ws/agent", Level::Project),
];

/// The caller of the in-process service: the operator (root), as the command line is.
pub(crate) fn operator() -> Principal {
    Principal::operator("bench")
}

/// The service as `serve` builds it for the local backend: the store with `connections`
/// connections, the local backend under `keys`, briefs in `briefs`.
pub(crate) async fn open(
    url: &str,
    connections: u32,
    keys: &Keyring,
    briefs: &Path,
) -> Res<Service<SqlStore>> {
    let store = SqlStore::open(url, connections).await?;
    store.check_key(keys).await?;
    Ok(Service {
        store,
        backends: Backends::new().with(Arc::new(LocalBackend::new(keys.clone()))),
        briefs: Arc::new(FolderBriefStore::new(briefs)),
        config: ServiceConfig {
            default_backend: BackendKind::Local,
            callback_ttl_secs: 3600,
            boot_ttl_secs: 600,
        },
    })
}

/// Creates the four scopes (through the service, audited) and returns them.
pub(crate) async fn scopes(svc: &Service<SqlStore>) -> Res<[ScopePath; 4]> {
    let who = operator();
    let mut out = Vec::with_capacity(4);
    for (path, level) in SCOPES {
        out.push(svc.create_scope(&who, path, level).await?);
    }
    out.try_into().map_err(|_| "four scopes expected".into())
}

/// Figures of one data set.
#[derive(Debug, Clone)]
pub(crate) struct Figures {
    /// Secrets seeded (the refs' shadowing copies included).
    pub(crate) rows: usize,
    /// Seconds the seeding took.
    pub(crate) seed_seconds: f64,
    /// Resolution + fetch of 20 refs, microseconds.
    pub(crate) resolve: Summary,
    /// A whole dispatch of 20 refs, microseconds.
    pub(crate) dispatch: Summary,
    /// The floor: the 20 primary-key reads in one statement + 20 decrypts, microseconds.
    pub(crate) floor: Summary,
    /// The same through sqlx (on PostgreSQL, the floor itself), microseconds.
    pub(crate) floor_sqlx: Summary,
    /// The same reads as 20 statements, one after the other + 20 decrypts, microseconds.
    pub(crate) floor_sequential: Summary,
    /// One acquire + release of a pooled connection (sqlx's defaults), median, µs.
    pub(crate) acquire_us: f64,
    /// The same without the liveness test before acquire, median, µs.
    pub(crate) acquire_untested_us: f64,
    /// One Fernet decrypt alone, mean, microseconds.
    pub(crate) decrypt_us: f64,
    /// The newest page of 100 audit records (as many records as secrets), µs.
    pub(crate) audit_page: Summary,
    /// The newest page of 100 records about one secret name, µs.
    pub(crate) audit_name: Summary,
    /// The newest page of one secret's access list, µs.
    pub(crate) audit_access: Summary,
    /// A search whose first 50 hits of each kind are all there is room for (a part of
    /// every seeded name), µs.
    pub(crate) search_page: Summary,
    /// A search for a part of one name only: every name is checked, µs.
    pub(crate) search_rare: Summary,
}

/// How many times each thing is measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Iterations {
    /// Resolutions (and floor rounds).
    pub(crate) resolve: usize,
    /// Whole dispatches.
    pub(crate) dispatch: usize,
}

/// Seeds `n` secrets into the fresh database at `url` and measures.
pub(crate) async fn measure(
    url: &str,
    dialect: Dialect,
    work: &Path,
    n: usize,
    it: Iterations,
) -> Res<Figures> {
    let keys = Keyring::parse(&Keyring::generate_key())?;
    let svc = open(url, 4, &keys, &work.join("briefs")).await?;
    let chain = scopes(&svc).await?;
    let pool = seed::pool(url).await?;
    let secret_scopes = [chain[0].clone(), chain[1].clone(), chain[2].clone()];
    let seeded: Seeded = seed::secrets(&pool, dialect, &keys, &secret_scopes, n).await?;
    let who = operator();
    let project = chain[3].as_str();
    let refs: Vec<String> = seeded.refs.iter().map(|r| r.as_str().to_string()).collect();
    let task = svc.create_task(&who, project, &refs, None).await?;
    let local = svc.backends.get(BackendKind::Local)?.clone();

    let resolve_once = async || -> Res<f64> {
        let t0 = Instant::now();
        let resolutions = svc.resolve(&who, project, &refs).await?;
        let items: Vec<&StoredMaterial> = resolutions
            .iter()
            .filter_map(|r| r.winner.as_ref().map(|c| &c.material))
            .collect();
        let values = local.fetch(&items, Fetch::Current).await;
        let us = t0.elapsed().as_secs_f64() * 1e6;
        if items.len() != REFS || values.iter().any(Result::is_err) {
            return Err(format!("resolution found {} of {REFS} refs", items.len()).into());
        }
        // The shadowing copies lost, as the narrowest scope must win.
        for (r, k) in resolutions.iter().zip(0..) {
            let scope = r.winner.as_ref().map(|c| c.meta.scope.as_str());
            if scope != Some(chain[seed::ref_index(k, n) % 3].as_str()) {
                return Err(format!("{} resolved to {scope:?}", r.name).into());
            }
        }
        Ok(us)
    };
    // The floor's connections, held: no pool hand-off in it.
    let mut conn = pool.acquire().await?;
    let lite = match (dialect, url.strip_prefix("sqlite://")) {
        (Dialect::Sqlite, Some(path)) => Some(rusqlite::Connection::open(path)?),
        _ => None,
    };
    let ids: Vec<i64> = seeded.winners.iter().map(|w| w.0).collect();
    // Warm-up: the statements prepared, the pages in the cache.
    for _ in 0..it.resolve.min(50) {
        resolve_once().await?;
        floor_batch(&mut conn, &keys, &ids).await?;
        if let Some(lite) = &lite {
            floor_batch_lite(lite, &keys, &ids)?;
        }
        floor_sequential(&mut conn, &keys, &ids).await?;
    }
    // Interleaved, so that all of them see the same machine.
    let mut resolve = Vec::with_capacity(it.resolve);
    let mut floor = Vec::with_capacity(it.resolve);
    let mut floor_sqlx = Vec::with_capacity(it.resolve);
    let mut sequential = Vec::with_capacity(it.resolve);
    for _ in 0..it.resolve {
        resolve.push(resolve_once().await?);
        let through_sqlx = floor_batch(&mut conn, &keys, &ids).await?;
        floor_sqlx.push(through_sqlx);
        floor.push(match &lite {
            Some(lite) => floor_batch_lite(lite, &keys, &ids)?,
            None => through_sqlx,
        });
        sequential.push(floor_sequential(&mut conn, &keys, &ids).await?);
    }
    drop(conn);
    drop(lite);
    // What a pool hand-off costs (every store method takes one): acquire and release, on
    // a pool with sqlx's defaults as the store's (a liveness test before each acquire),
    // and on one without that test.
    let acquire = acquire_cost(&pool, it.resolve).await?;
    let untested = AnyPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect(url)
        .await?;
    let acquire_untested = acquire_cost(&untested, it.resolve).await?;
    untested.close().await;
    let mut dispatch = Vec::with_capacity(it.dispatch);
    for _ in 0..it.dispatch {
        let t0 = Instant::now();
        let d = svc.dispatch(&who, task.id.as_str()).await?;
        dispatch.push(t0.elapsed().as_secs_f64() * 1e6);
        if d.env.len() != REFS + 2 {
            return Err(format!("dispatch handed out {} variables", d.env.len()).into());
        }
    }
    let decrypt_us = decrypt_cost(&keys);
    // The audit log's questions, on as many records as there are secrets: a page of 100
    // newest first, unfiltered and by one secret's name, and a page of 10 of a secret's
    // access list.
    seed::audit(&pool, &secret_scopes, n).await?;
    let page = |name: Option<String>| AuditFilter {
        name,
        limit: 100,
        ..AuditFilter::default()
    };
    let (mut audit_page, mut audit_name, mut audit_access) = (Vec::new(), Vec::new(), Vec::new());
    let asked = seed::name(7);
    let (mut search_page, mut search_rare) = (Vec::new(), Vec::new());
    let rare = seed::name(n / 2);
    for round in 0..it.resolve.min(300) + 20 {
        let t0 = Instant::now();
        let all = svc.audit_log(&who, page(None)).await?;
        let t1 = Instant::now();
        let named = svc.audit_log(&who, page(Some(asked.clone()))).await?;
        let t2 = Instant::now();
        let access = svc
            .secret_access(
                &who,
                chain[1].as_str(),
                &asked,
                AuditFilter {
                    // A sixth of a name's records are its reveals at one scope: a full page
                    // on the smallest log too.
                    limit: 10,
                    ..AuditFilter::default()
                },
            )
            .await?;
        let t3 = Instant::now();
        let page_hits = svc.search(&who, "bench_0", Some(50)).await?;
        let t4 = Instant::now();
        let rare_hits = svc.search(&who, &rare, Some(50)).await?;
        let t5 = Instant::now();
        if page_hits.len() != 50 || rare_hits.len() != 1 {
            return Err(format!(
                "searches found {} and {} names",
                page_hits.len(),
                rare_hits.len()
            )
            .into());
        }
        if all.records.len() != 100 || named.records.len() != 100 {
            return Err(format!(
                "audit pages of {} and {} records",
                all.records.len(),
                named.records.len()
            )
            .into());
        }
        drop(access);
        // The first rounds warm the statements and pages.
        if round >= 20 {
            audit_page.push((t1 - t0).as_secs_f64() * 1e6);
            audit_name.push((t2 - t1).as_secs_f64() * 1e6);
            audit_access.push((t3 - t2).as_secs_f64() * 1e6);
            search_page.push((t4 - t3).as_secs_f64() * 1e6);
            search_rare.push((t5 - t4).as_secs_f64() * 1e6);
        }
    }
    pool.close().await;
    Ok(Figures {
        rows: seeded.rows,
        seed_seconds: seeded.seconds,
        resolve: stats::summary(&mut resolve),
        dispatch: stats::summary(&mut dispatch),
        floor: stats::summary(&mut floor),
        floor_sqlx: stats::summary(&mut floor_sqlx),
        floor_sequential: stats::summary(&mut sequential),
        acquire_us: acquire,
        acquire_untested_us: acquire_untested,
        decrypt_us,
        audit_page: stats::summary(&mut audit_page),
        audit_name: stats::summary(&mut audit_name),
        audit_access: stats::summary(&mut audit_access),
        search_page: stats::summary(&mut search_page),
        search_rare: stats::summary(&mut search_rare),
    })
}

/// The floor: the winners' 20 rows of `secret_versions` by primary key, in one statement
/// on a held connection, and their 20 decrypts. Microseconds.
async fn floor_batch(conn: &mut AnyConnection, keys: &Keyring, ids: &[i64]) -> Res<f64> {
    let t0 = Instant::now();
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT ciphertext FROM secret_versions WHERE version = 1 AND secret_id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(*id);
    }
    let tokens = q.fetch_all(&mut *conn).await?;
    decrypt_all(keys, &tokens, ids)?;
    Ok(t0.elapsed().as_secs_f64() * 1e6)
}

/// The floor's second half: every winner read, each token decrypted.
fn decrypt_all(keys: &Keyring, tokens: &[String], ids: &[i64]) -> Res<()> {
    if tokens.len() != ids.len() {
        return Err(format!("the floor read {} of {} rows", tokens.len(), ids.len()).into());
    }
    for t in tokens {
        keys.decrypt(t)
            .map_err(|_| "a seeded token does not decrypt")?;
    }
    Ok(())
}

/// [`floor_batch`] through rusqlite on the calling thread (SQLite). Microseconds.
fn floor_batch_lite(conn: &rusqlite::Connection, keys: &Keyring, ids: &[i64]) -> Res<f64> {
    let t0 = Instant::now();
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT ciphertext FROM secret_versions WHERE version = 1 AND secret_id IN ({marks})"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let tokens = stmt
        .query_map(rusqlite::params_from_iter(ids), |row| {
            row.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    decrypt_all(keys, &tokens, ids)?;
    Ok(t0.elapsed().as_secs_f64() * 1e6)
}

/// The floor as 20 statements, one primary-key read each, on a held connection (what
/// one statement costs through sqlx shows in the difference). Microseconds.
async fn floor_sequential(conn: &mut AnyConnection, keys: &Keyring, ids: &[i64]) -> Res<f64> {
    let t0 = Instant::now();
    for id in ids {
        let token: String = sqlx::query_scalar(
            "SELECT ciphertext FROM secret_versions WHERE secret_id = $1 AND version = $2",
        )
        .bind(*id)
        .bind(1i64)
        .fetch_one(&mut *conn)
        .await?;
        keys.decrypt(&token)
            .map_err(|_| "a seeded token does not decrypt")?;
    }
    Ok(t0.elapsed().as_secs_f64() * 1e6)
}

/// Median microseconds of one acquire and release of a connection of `pool`.
async fn acquire_cost(pool: &AnyPool, rounds: usize) -> Res<f64> {
    let mut xs = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = Instant::now();
        let conn = pool.acquire().await?;
        drop(conn);
        xs.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    Ok(stats::summary(&mut xs).p50)
}

/// Mean microseconds of one Fernet decrypt of a seeded-size value, over about 0.3 s.
pub(crate) fn decrypt_cost(keys: &Keyring) -> f64 {
    let token = keys.encrypt(seed::value(0).as_bytes());
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < 0.3 {
        for _ in 0..1000 {
            if keys.decrypt(&token).is_err() {
                return f64::NAN;
            }
        }
        n += 1000;
    }
    t0.elapsed().as_secs_f64() * 1e6 / n as f64
}
