//! Per-task credentials (issue #16): a dispatch of a task with one postgres generator
//! beside one stored secret, against a dispatch of the stored secret alone, in process on
//! SQLite with the real PostgreSQL provider and a real PostgreSQL server (the test
//! command's); and the revocation of the minted role that the task's end does.

use crate::inproc::{open, operator, scopes};
use crate::stats::{self, Summary};
use secretstore_core::generator::{GeneratorSpec, PostgresSpec};
use secretstore_core::{Category, SecretValue};
use secretstore_store::Keyring;
use std::sync::Arc;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What one run measured, milliseconds.
pub(crate) struct Figures {
    /// A dispatch of the stored secret alone.
    pub(crate) static_only: Summary,
    /// A dispatch of the stored secret and the generator (a role created with its grant).
    pub(crate) with_generator: Summary,
    /// Revoking the brief's lease (sessions terminated, the role dropped).
    pub(crate) revoke: Summary,
}

/// Measures `rounds` dispatches of each task, the generator's against the admin URL
/// `admin` (its database gets a table to grant on).
pub(crate) async fn measure(admin: &str, rounds: usize) -> Res<Figures> {
    let work = tempfile::Builder::new()
        .prefix("secretstore-bench-generators.")
        .tempdir()?;
    let keys = Keyring::parse(&Keyring::generate_key())?;
    let url = format!("sqlite://{}", work.path().join("bench.db").display());
    let mut svc = open(&url, 4, &keys, &work.path().join("briefs")).await?;
    svc.backends = std::mem::take(&mut svc.backends)
        .with_minter(Arc::new(secretstore_store::PostgresMinter::new()));
    let who = operator();
    let [_, team, _, project] = scopes(&svc).await?;
    let team = team.to_string();
    let value = |s: &str| SecretValue::new(s.to_owned());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS bench_items (id int)")
        .execute(&mut conn)
        .await?;
    svc.set_secret(
        &who,
        &team,
        "STATIC",
        &value("a stored value")?,
        Some(Category::Provider),
        None,
    )
    .await?;
    svc.set_secret(
        &who,
        &team,
        "PG_ADMIN_URL",
        &value(admin)?,
        Some(Category::Infrastructure),
        None,
    )
    .await?;
    let spec = GeneratorSpec::Postgres(PostgresSpec {
        admin_ref: "PG_ADMIN_URL".into(),
        grants: vec!["GRANT SELECT ON bench_items TO {{name}}".into()],
        creation: vec![],
        revocation: vec![],
        ttl_secs: 600,
    });
    svc.define_generator(&who, &team, "APP_DB", spec, None, None, None)
        .await?;
    let project = project.to_string();
    let alone = svc
        .create_task(&who, &project, &["STATIC".into()], None)
        .await?;
    let both = svc
        .create_task(&who, &project, &["STATIC".into(), "APP_DB".into()], None)
        .await?;
    let (mut s, mut g, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t0 = Instant::now();
        svc.dispatch(&who, alone.id.as_str()).await?;
        s.push(t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        let d = svc.dispatch(&who, both.id.as_str()).await?;
        g.push(t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        let ended = svc
            .revoke_brief_leases(&who, d.brief.brief_id.as_str())
            .await?;
        r.push(t0.elapsed().as_secs_f64() * 1e3);
        if ended.revoked.len() != 1 {
            return Err(format!("revoked {} leases, not 1", ended.revoked.len()).into());
        }
    }
    sqlx::raw_sql("DROP TABLE IF EXISTS bench_items")
        .execute(&mut conn)
        .await?;
    Ok(Figures {
        static_only: stats::summary(&mut s),
        with_generator: stats::summary(&mut g),
        revoke: stats::summary(&mut r),
    })
}
