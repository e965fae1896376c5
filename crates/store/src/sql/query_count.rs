//! The pages people open every day cost a constant number of statements: the briefs
//! listing with 400 briefs as many as with 4, the account list with 400 accounts as
//! many as with 4. Counted from sqlx's own statement log (`sqlx::query` events), by a
//! process-wide subscriber: these are the only tests of the library's test binary that
//! touch a database, and they run one at a time.

use super::SqlStore;
use secretstore_core::{
    AccountKind, AccountStore, AuditEntry, BackendKind, Backends, BriefDelivery, BriefId,
    BriefStatus, DispatchRecord, DispatchStore, DispatchedSecret, Principal, Role, ScopePath,
    ScopeStore, Service, ServiceConfig, Task, TaskId, timestamp,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tracing::subscriber::Interest;
use tracing::{Event, Id, Metadata, span};

/// Counts sqlx's statement events.
struct Statements(AtomicU64);

impl tracing::Subscriber for Statements {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if self.enabled(m) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() == "sqlx::query"
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        if e.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn counter() -> &'static Arc<Statements> {
    static COUNTER: OnceLock<Arc<Statements>> = OnceLock::new();
    COUNTER.get_or_init(|| {
        let c = Arc::new(Statements(AtomicU64::new(0)));
        tracing::subscriber::set_global_default(Arc::clone(&c)).unwrap();
        c
    })
}

/// One counting test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The statements `f` runs on `store`.
async fn statements<T>(f: impl AsyncFnOnce() -> T) -> (u64, T) {
    let before = counter().0.load(Ordering::SeqCst);
    let out = f().await;
    (counter().0.load(Ordering::SeqCst) - before, out)
}

fn audit(action: &str) -> AuditEntry {
    let who = Principal {
        account: "tester".into(),
        roles: Vec::new(),
        source: "test".into(),
    };
    AuditEntry::new(&who, action)
}

fn scope(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap()
}

/// A store on a fresh SQLite file with one connection, already open (its pragmas run).
async fn store(dir: &std::path::Path) -> SqlStore {
    let url = format!("sqlite://{}", dir.join("q.db").display());
    SqlStore::open(&url, 1).await.unwrap()
}

fn run<T>(f: impl Future<Output = T>) -> T {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    counter();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The statements of a member's briefs page with `n` briefs (each handing out a secret
/// rotated since), and how many briefs it showed.
async fn briefs_page(n: usize) -> (u64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    for s in [
        "acme",
        "acme/platform",
        "acme/platform/dev",
        "acme/platform/dev/x",
    ] {
        store
            .create_scope(&scope(s), audit("scope.create"))
            .await
            .unwrap();
    }
    let task = Task {
        id: TaskId::generate(),
        project: scope("acme/platform/dev/x"),
        secret_refs: vec!["DB_URL".into()],
        payload: None,
        created_at: timestamp::now(),
        created_by: "tester".into(),
    };
    store
        .create_task(&task, audit("task.create"))
        .await
        .unwrap();
    for i in 0..n {
        let rec = DispatchRecord {
            leaked_at: None,
            brief_id: BriefId::generate(),
            task_id: task.id.clone(),
            project: task.project.clone(),
            // Whole seconds: the one format keeps no fraction.
            created_at: timestamp::parse(&format!("2030-01-01T00:00:{:02}Z", i % 60)).unwrap(),
            token_hash: "0".repeat(64),
            expires_at: timestamp::parse("2999-01-01T00:00:00Z").unwrap(),
            status: BriefStatus::Running,
            completed_at: None,
            revoked_at: None,
            secrets: vec![DispatchedSecret {
                scope: scope("acme/platform"),
                name: "DB_URL".into(),
                version: 1,
                backend_version: None,
            }],
            delivery: BriefDelivery::Env,
            boot: None,
        };
        store
            .record_dispatch(&rec, audit("brief.dispatch"))
            .await
            .unwrap();
    }
    let svc = Service {
        store,
        backends: Backends::new(),
        briefs: Arc::new(crate::FolderBriefStore::new(dir.path().join("briefs"))),
        config: ServiceConfig {
            default_backend: BackendKind::Local,
            callback_ttl_secs: 3600,
            boot_ttl_secs: 600,
        },
    };
    let member = Principal {
        account: "m".into(),
        roles: vec![Role::Member(scope("acme/platform"))],
        source: "test".into(),
    };
    let (count, shown) = statements(async || svc.recent_briefs(&member, 400).await.unwrap()).await;
    assert!(shown.iter().all(|b| b.stale == ["DB_URL"]));
    (count, shown.len())
}

#[test]
fn the_briefs_page_costs_the_same_statements_for_400_briefs_as_for_4() {
    let (few, shown_few) = run(briefs_page(4));
    let (many, shown_many) = run(briefs_page(400));
    assert_eq!((shown_few, shown_many), (4, 400));
    assert!(
        few > 0,
        "no statement was counted: is sqlx's statement log reaching the counter?"
    );
    assert_eq!(few, many, "4 briefs: {few} statements, 400 briefs: {many}");
    assert!(many <= 2, "{many} statements");
}

async fn account_list(n: usize) -> (u64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    store
        .create_scope(&scope("acme"), audit("scope.create"))
        .await
        .unwrap();
    for i in 0..n {
        let name = format!("user{i:03}");
        store
            .create_account(&name, AccountKind::Person, audit("account.create"))
            .await
            .unwrap();
        store
            .grant(&name, &Role::Admin(scope("acme")), audit("account.grant"))
            .await
            .unwrap();
    }
    let (count, accounts) = statements(async || store.list_accounts().await.unwrap()).await;
    assert!(
        accounts
            .iter()
            .all(|a| a.roles == [Role::Admin(scope("acme"))])
    );
    (count, accounts.len())
}

#[test]
fn the_account_list_costs_the_same_statements_for_400_accounts_as_for_4() {
    let (few, shown_few) = run(account_list(4));
    let (many, shown_many) = run(account_list(400));
    assert_eq!((shown_few, shown_many), (4, 400));
    assert!(few > 0, "no statement was counted");
    assert_eq!(
        few, many,
        "4 accounts: {few} statements, 400 accounts: {many}"
    );
    assert!(many <= 2, "{many} statements");
}
