//! What the store's tests share: fresh databases and ready-made records.

use secretstore_core::{
    AuditEntry, BriefDelivery, BriefId, BriefStatus, DispatchRecord, DispatchStore,
    DispatchedSecret, Principal, Role, ScopePath, ScopeStore, Task, TaskId, timestamp,
};
use secretstore_store::SqlStore;
use std::process::Command;

/// True when the suite runs against PostgreSQL too (`SECRETSTORE_TEST_DB=postgres`).
pub fn postgres_mode() -> bool {
    std::env::var("SECRETSTORE_TEST_DB").is_ok_and(|v| v == "postgres")
}

/// A new, empty database on the test PostgreSQL server (`SECRETSTORE_TEST_PG_URL`); its URL.
pub fn new_pg_database() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let admin = std::env::var("SECRETSTORE_TEST_PG_URL")
        .expect("SECRETSTORE_TEST_PG_URL is not set: run the tests with scripts/test.sh");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "s{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("psql")
        .args([
            admin.as_str(),
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = admin.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

/// A fresh database: where it lives (kept alive as long as the value) and its URL.
pub struct Db {
    /// Which database this is, for messages.
    pub kind: &'static str,
    /// The `DATABASE_URL`.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    /// A fresh SQLite file in a scratch folder.
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        Db {
            kind: "sqlite",
            url,
            _dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL database.
    pub fn postgres() -> Db {
        Db {
            kind: "postgres",
            url: new_pg_database(),
            _dir: None,
        }
    }

    /// The store on this database, migrated.
    pub async fn open(&self) -> SqlStore {
        SqlStore::open(&self.url, 4).await.unwrap()
    }
}

/// The store at `url` with a busy timeout (SQLite) or lock timeout (PostgreSQL) of `ms`
/// milliseconds, and four connections.
pub async fn with_busy_timeout(url: &str, ms: u64) -> SqlStore {
    let mut settings = secretstore_store::PoolSettings::with_connections(4);
    settings.busy_timeout = std::time::Duration::from_millis(ms);
    SqlStore::open_with(url, &settings).await.unwrap()
}

/// The databases a conformance test runs on: SQLite always, PostgreSQL in postgres mode.
pub fn databases() -> Vec<Db> {
    let mut out = vec![Db::sqlite()];
    if postgres_mode() {
        out.push(Db::postgres());
    }
    out
}

/// The database of a test that runs on one only: PostgreSQL in postgres mode, else SQLite.
pub fn database() -> Db {
    if postgres_mode() {
        Db::postgres()
    } else {
        Db::sqlite()
    }
}

pub fn scope(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap()
}

pub fn audit(action: &str) -> AuditEntry {
    let who = Principal {
        account: "tester".into(),
        roles: Vec::new(),
        source: "test".into(),
    };
    AuditEntry::new(&who, action)
}

/// Creates `path` and every missing ancestor.
pub async fn scopes(store: &SqlStore, path: &str) {
    let mut at = String::new();
    for part in path.split('/') {
        if !at.is_empty() {
            at.push('/');
        }
        at.push_str(part);
        let p = scope(&at);
        if !store.scope_exists(&p).await.unwrap() {
            store
                .create_scope(&p, audit("scope.create").scope(&p))
                .await
                .unwrap();
        }
    }
}

/// A stored task in `project`.
pub async fn task(store: &SqlStore, project: &str) -> TaskId {
    let t = Task {
        id: TaskId::generate(),
        project: scope(project),
        secret_refs: vec!["DB_URL".into()],
        payload: None,
        created_at: timestamp::now(),
        created_by: "tester".into(),
    };
    store.create_task(&t, audit("task.create")).await.unwrap();
    t.id
}

/// Records a running dispatch of `task` at `created_at`, handing out `secrets`.
pub async fn dispatch(
    store: &SqlStore,
    task: &TaskId,
    project: &str,
    created_at: &str,
    secrets: Vec<(String, String, i64, Option<String>)>,
) -> BriefId {
    let rec = DispatchRecord {
        leaked_at: None,
        brief_id: BriefId::generate(),
        task_id: task.clone(),
        project: scope(project),
        created_at: timestamp::parse(created_at).unwrap(),
        token_hash: "0".repeat(64),
        expires_at: timestamp::parse("2999-01-01T00:00:00Z").unwrap(),
        status: BriefStatus::Running,
        completed_at: None,
        revoked_at: None,
        secrets: secrets
            .into_iter()
            .map(|(s, name, version, backend_version)| DispatchedSecret {
                scope: scope(&s),
                name,
                version,
                backend_version,
            })
            .collect(),
        delivery: BriefDelivery::Env,
        boot: None,
    };
    let mut record = audit("task.dispatch")
        .scope(&rec.project)
        .target(rec.brief_id.to_string());
    record.at = rec.created_at;
    store.record_dispatch(&rec, record).await.unwrap();
    rec.brief_id
}

/// An RFC 3339 time `n` seconds into 2030, so that records sort by `n`.
pub fn at(n: u32) -> String {
    format!(
        "2030-01-01T{:02}:{:02}:{:02}Z",
        n / 3600,
        (n / 60) % 60,
        n % 60
    )
}

pub fn caller(roles: Vec<Role>) -> Principal {
    Principal {
        account: "someone".into(),
        roles,
        source: "test".into(),
    }
}
