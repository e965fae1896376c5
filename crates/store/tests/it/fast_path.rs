//! SQLite's reads on the calling thread and its group commit on a thread of its own
//! (`sql/lite.rs`): another process's write lock holds up neither the reads nor, beyond
//! the lock, the group commit; what one driver commits the other reads at once.

use crate::common::{Db, at, audit, dispatch, scope, scopes, task, with_busy_timeout};
use secretstore_core::{
    AuditFilter, AuditStore, DispatchStore, ScopeStore, SecretName, SecretStore, TaskId,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Another process's write transaction on the file (what `sqlite3` holding `BEGIN
/// IMMEDIATE` does), held on a thread of its own until `release` is dropped or sent to.
struct WriteLock {
    release: Option<std::sync::mpsc::Sender<()>>,
    holder: Option<std::thread::JoinHandle<()>>,
    released: Arc<AtomicBool>,
}

impl WriteLock {
    fn take(url: &str) -> WriteLock {
        let path = url.strip_prefix("sqlite://").unwrap().to_owned();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(AtomicBool::new(false));
        let flag = released.clone();
        let holder = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE; UPDATE scopes SET path = path WHERE 0;")
                .unwrap();
            locked.send(()).unwrap();
            let _ = wait.recv_timeout(Duration::from_secs(30));
            flag.store(true, Ordering::SeqCst);
            conn.execute_batch("COMMIT").unwrap();
        });
        is_locked.recv().unwrap();
        WriteLock {
            release: Some(release),
            holder: Some(holder),
            released,
        }
    }

    fn released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }

    /// Releases the lock after `after`, from another thread (so that a writer waiting for
    /// it on this one gets it).
    fn release_after(&mut self, after: Duration) {
        let release = self.release.take().unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let _ = release.send(());
        });
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(h) = self.holder.take() {
            let _ = h.join();
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn reads_are_not_held_up_by_another_process_holding_the_write_lock() {
    let db = Db::sqlite();
    let store = db.open().await;
    scopes(&store, "acme/platform/dev/agent-x").await;
    let id = task(&store, "acme/platform/dev/agent-x").await;
    let lock = WriteLock::take(&db.url);
    assert!(store.scope_exists(&scope("acme/platform")).await.unwrap());
    let t = store.task(&id).await.unwrap();
    assert_eq!(t.project, "acme/platform/dev/agent-x");
    let found = store
        .candidates(
            &[scope("acme/platform")],
            &[SecretName::parse("DB_URL").unwrap()],
        )
        .await
        .unwrap();
    assert!(found.is_empty());
    assert!(!lock.released(), "the reads waited for the write lock");
}

#[tokio::test(flavor = "current_thread")]
async fn a_group_commit_waits_for_another_process_holding_the_write_lock() {
    let db = Db::sqlite();
    let store = db.open().await;
    scopes(&store, "acme/platform/dev/agent-x").await;
    let id = task(&store, "acme/platform/dev/agent-x").await;
    let mut lock = WriteLock::take(&db.url);
    lock.release_after(Duration::from_millis(300));
    let secrets = vec![("acme/platform".into(), "DB_URL".into(), 1, None)];
    let brief = dispatch(&store, &id, "acme/platform/dev/agent-x", &at(0), secrets).await;
    assert!(
        lock.released(),
        "the dispatch was committed under another's write lock"
    );
    store.append_audit(audit("secret.reveal")).await.unwrap();
    drop(lock);
    let rec = store.dispatch_record(&brief).await.unwrap();
    assert_eq!(rec.secrets.len(), 1);
    let all = store
        .audit_log(None, &AuditFilter::default())
        .await
        .unwrap()
        .records;
    assert!(all.iter().any(|a| a.action == "task.dispatch"));
    assert!(all.iter().any(|a| a.action == "secret.reveal"));
}

#[tokio::test(flavor = "current_thread")]
async fn what_the_pool_commits_the_inline_reads_see_at_once() {
    let db = Db::sqlite();
    let store = db.open().await;
    // Warm the inline readers on an absent task and scope, then commit both through the
    // pool: the next inline read must see them (no cached page or snapshot).
    let missing = TaskId::generate();
    assert!(store.task(&missing).await.is_err());
    assert!(!store.scope_exists(&scope("acme")).await.unwrap());
    store
        .create_scope(&scope("acme"), audit("scope.create"))
        .await
        .unwrap();
    assert!(store.scope_exists(&scope("acme")).await.unwrap());
    for n in 0..50 {
        let p = format!("acme/t{n}");
        store
            .create_scope(&scope(&p), audit("scope.create"))
            .await
            .unwrap();
        assert!(store.scope_exists(&scope(&p)).await.unwrap(), "{p}");
    }
}

/// A batch whose write lock was never granted (another process held it past the busy
/// timeout) was retried record by record, each waiting the whole busy timeout again: eight
/// reveals behind a held lock took nine timeouts instead of about one or two.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_refused_the_write_lock_was_retried_record_by_record_each_waiting_again() {
    let db = Db::sqlite();
    let store = with_busy_timeout(&db.url, 400).await;
    let lock = WriteLock::take(&db.url);
    let started = std::time::Instant::now();
    let mut reveals = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        reveals.spawn(async move { store.append_audit(audit("secret.reveal")).await });
    }
    let mut failed = 0;
    while let Some(done) = reveals.join_next().await {
        let e = done.unwrap().unwrap_err();
        assert!(
            matches!(e, secretstore_core::Error::DatabaseUnavailable(_)),
            "{e:?}"
        );
        failed += 1;
    }
    let took = started.elapsed();
    assert_eq!(failed, 8);
    assert!(!lock.released(), "the lock was let go during the test");
    assert!(
        took < Duration::from_millis(400 * 5),
        "eight records behind a held lock took {took:?} (busy timeout 400 ms)"
    );
    drop(lock);
    // Once the lock is free, the writer works again.
    store.append_audit(audit("secret.reveal")).await.unwrap();
}

/// A write through the pool (a scope created, a secret set) behind another process's
/// write lock held past the busy timeout was a storage error (500 "internal error"), where
/// PostgreSQL's `lock_timeout` and both group commits answer 503 `database_unavailable`
/// (nothing was written, try again); and a secret's write waited the whole timeout five
/// times over (its retries of a lost race also retried the lock).
#[tokio::test(flavor = "current_thread")]
async fn a_sqlite_write_behind_a_held_lock_was_a_storage_error_not_database_unavailable() {
    use secretstore_core::{BackendKind, Category, Error, NewVersion, StoredMaterial};
    let db = Db::sqlite();
    let store = with_busy_timeout(&db.url, 300).await;
    scopes(&store, "acme").await;
    let lock = WriteLock::take(&db.url);

    let started = std::time::Instant::now();
    let e = store
        .create_scope(&scope("acme/platform"), audit("scope.create"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::DatabaseUnavailable(_)), "{e:?}");

    let name = SecretName::parse("API_KEY").unwrap();
    let write = NewVersion {
        rotate_every_secs: None,
        audit: audit("secret.write").secret(&scope("acme"), &name),
        scope: scope("acme"),
        name: name.clone(),
        category: Some(Category::Provider),
        backend: BackendKind::Local,
        delivery: None,
        material: StoredMaterial {
            ciphertext: Some("token".into()),
            ..StoredMaterial::default()
        },
        expected: None,
        rollback_of: None,
        by: "tester".into(),
        reservation: None,
    };
    let set_started = std::time::Instant::now();
    let e = store.write_versions(vec![write]).await.unwrap_err();
    assert!(matches!(e, Error::DatabaseUnavailable(_)), "{e:?}");
    let took = set_started.elapsed();
    assert!(
        took < Duration::from_millis(300 * 3),
        "a secret's write behind a held lock took {took:?} (busy timeout 300 ms)"
    );
    assert!(!lock.released(), "the lock was let go during the test");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(lock);
    // Nothing was written, and with the lock gone both writes go through.
    assert!(!store.scope_exists(&scope("acme/platform")).await.unwrap());
    store
        .create_scope(&scope("acme/platform"), audit("scope.create"))
        .await
        .unwrap();
}
