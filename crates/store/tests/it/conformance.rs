//! The backend conformance suite against the local Fernet backend.

use secretstore_core::conformance::{Fixture, run};
use secretstore_store::{Keyring, LocalBackend};
use std::sync::Arc;

#[tokio::test(flavor = "current_thread")]
async fn local_backend_conforms() {
    let key = || Keyring::parse(&Keyring::generate_key()).unwrap();
    run(&Fixture {
        backend: Arc::new(LocalBackend::new(key())),
        // Another key cannot open the tokens: the local form of refused credentials.
        refused: Some(Arc::new(LocalBackend::new(key()))),
        unavailable: None,
        missing_reference: None,
        external: None,
    })
    .await;
}

/// The database conformance suite: what every port promises, on SQLite and (in postgres
/// mode) on PostgreSQL.
mod database {
    use crate::common::{audit, databases, scope, scopes};
    use secretstore_core::{
        AccountKind, AccountStore, AuditStore, BackendKind, Category, Error, Expected, NewVersion,
        Role, ScopeStore, SecretName, SecretStore, StoredMaterial,
    };
    use secretstore_store::SqlStore;

    fn write(s: &str, name: &str, expected: Option<Expected>, token: &str) -> NewVersion {
        let sc = scope(s);
        let n = SecretName::parse(name).unwrap();
        NewVersion {
            audit: audit("secret.write").secret(&sc, &n),
            scope: sc,
            name: n,
            category: Some(Category::Provider),
            backend: BackendKind::Local,
            material: StoredMaterial {
                ciphertext: Some(token.into()),
                ..StoredMaterial::default()
            },
            expected,
            rollback_of: None,
            by: "tester".into(),
            reservation: None,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn scopes_need_their_parent_and_are_unique() {
        for db in databases() {
            let store = db.open().await;
            let team = scope("acme/platform");
            assert!(
                matches!(
                    store.create_scope(&team, audit("scope.create")).await,
                    Err(Error::ParentMissing { .. })
                ),
                "{}",
                db.kind
            );
            scopes(&store, "acme/platform").await;
            assert!(matches!(
                store.create_scope(&team, audit("scope.create")).await,
                Err(Error::AlreadyExists(_))
            ));
            assert!(store.scope_exists(&team).await.unwrap());
            let all: Vec<String> = store
                .list_scopes()
                .await
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(all, ["acme", "acme/platform"], "{}", db.kind);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn versions_have_one_winner_and_read_back() {
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/platform").await;
            let v = store
                .write_versions(vec![write(
                    "acme/platform",
                    "DB_URL",
                    Some(Expected::Absent),
                    "t1",
                )])
                .await
                .unwrap();
            assert_eq!(v, [1], "{}", db.kind);
            let v = store
                .write_versions(vec![write(
                    "acme/platform",
                    "DB_URL",
                    Some(Expected::Version(1)),
                    "t2",
                )])
                .await
                .unwrap();
            assert_eq!(v, [2]);
            // A stale expected version is a conflict, and changes nothing.
            assert!(matches!(
                store
                    .write_versions(vec![write(
                        "acme/platform",
                        "DB_URL",
                        Some(Expected::Version(1)),
                        "t3"
                    )])
                    .await,
                Err(Error::Conflict(_))
            ));
            let (sc, name) = (scope("acme/platform"), SecretName::parse("DB_URL").unwrap());
            let versions = store.versions(&sc, &name).await.unwrap();
            assert_eq!(
                versions
                    .iter()
                    .map(|v| (v.version, v.current))
                    .collect::<Vec<_>>(),
                [(2, true), (1, false)]
            );
            let (_, at, material) = store.material(&sc, &name, Some(1)).await.unwrap();
            assert_eq!((at, material.ciphertext.as_deref()), (1, Some("t1")));
            let candidates = store
                .candidates(&[scope("acme"), sc.clone()], std::slice::from_ref(&name))
                .await
                .unwrap();
            assert_eq!(candidates.len(), 1);
            assert_eq!(candidates[0].material.ciphertext.as_deref(), Some("t2"));
            store
                .delete_secret(&sc, &name, audit("secret.delete"))
                .await
                .unwrap();
            assert!(
                store.secret(&sc, &name).await.unwrap().is_none(),
                "{}",
                db.kind
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn secrets_of_several_scopes_are_listed_by_scope_then_name() {
        for db in databases() {
            let store: SqlStore = db.open().await;
            scopes(&store, "acme/platform").await;
            scopes(&store, "acme/other").await;
            for (s, n) in [
                ("acme/platform", "B"),
                ("acme", "Z"),
                ("acme/platform", "A"),
                ("acme/other", "C"),
            ] {
                store
                    .write_versions(vec![write(s, n, None, "t")])
                    .await
                    .unwrap();
            }
            let listed: Vec<(String, String)> = store
                .list_secrets_in(&[scope("acme/platform"), scope("acme")])
                .await
                .unwrap()
                .into_iter()
                .map(|m| (m.scope.to_string(), m.name))
                .collect();
            let want = [
                ("acme", "Z"),
                ("acme/platform", "A"),
                ("acme/platform", "B"),
            ];
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(s, n)| (s.to_string(), n.to_string()))
                .collect();
            assert_eq!(listed, want, "{}", db.kind);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn accounts_are_listed_with_their_roles() {
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/platform").await;
            assert!(
                store
                    .bootstrap_root("tid0", "h0", audit("root"))
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .bootstrap_root("tid1", "h1", audit("root"))
                    .await
                    .unwrap()
            );
            store
                .create_account("ci", AccountKind::Service, audit("account.create"))
                .await
                .unwrap();
            assert!(matches!(
                store
                    .create_account("ci", AccountKind::Service, audit("account.create"))
                    .await,
                Err(Error::AlreadyExists(_))
            ));
            store
                .grant("ci", &Role::Dispatcher(scope("acme")), audit("grant"))
                .await
                .unwrap();
            store
                .grant("ci", &Role::Member(scope("acme/platform")), audit("grant"))
                .await
                .unwrap();
            let all = store.list_accounts().await.unwrap();
            let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(names, ["ci", "root"], "{}", db.kind);
            assert_eq!(all[0].roles, store.account("ci").await.unwrap().roles);
            assert_eq!(all[0].roles.len(), 2);
            assert_eq!(all[1].roles, [Role::Root]);
            assert!(matches!(
                store
                    .revoke_grant("ci", &Role::Admin(scope("acme")), audit("revoke"))
                    .await,
                Err(Error::NotFound(_))
            ));
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_audit_log_keeps_to_the_roots_asked_for() {
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/platform").await;
            scopes(&store, "acme/other_team").await;
            scopes(&store, "acme/otherxteam").await;
            let log = store
                .audit_log(Some(&[scope("acme/other_team")]), 100)
                .await
                .unwrap();
            let scopes: Vec<_> = log.iter().filter_map(|e| e.scope.clone()).collect();
            // `_` is no wildcard: acme/otherxteam is not under acme/other_team.
            assert_eq!(scopes, ["acme/other_team"], "{}", db.kind);
            let all = store.audit_log(None, 2).await.unwrap();
            assert_eq!(all.len(), 2);
            assert!(all[0].id < all[1].id, "oldest first");
        }
    }

    /// Lone audit records (a reveal's) are group-committed: many callers at once share
    /// transactions, and each is answered only once its record is committed — every
    /// record there, each once, when the callers go on.
    #[tokio::test(flavor = "current_thread")]
    async fn audit_records_appended_at_once_are_each_committed_before_their_caller_goes_on() {
        for db in databases() {
            let store = db.open().await;
            let before = store.audit_log(None, 10_000).await.unwrap().len();
            let writers: Vec<_> = (0..300)
                .map(|n| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let mut a = audit("secret.reveal");
                        a.target = Some(format!("reveal-{n}"));
                        store.append_audit(a).await
                    })
                })
                .collect();
            for w in writers {
                w.await.unwrap().unwrap();
            }
            // Read on another connection: committed, not only written.
            let log = store.audit_log(None, 10_000).await.unwrap();
            assert_eq!(log.len() - before, 300, "{}", db.kind);
            let mut targets: Vec<_> = log.iter().filter_map(|e| e.target.clone()).collect();
            targets.sort();
            targets.dedup();
            assert_eq!(targets.len(), 300, "each record once ({})", db.kind);
        }
    }
}
