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
        AccountKind, AccountStore, AuditCursor, AuditEntry, AuditFilter, AuditPage, AuditStore,
        BackendKind, Category, Error, Expected, NewVersion, PageFrom, Role, ScopePath, ScopeStore,
        SecretName, SecretStore, StoredMaterial, timestamp,
    };
    use secretstore_store::{Keyring, SqlStore};

    fn write(s: &str, name: &str, expected: Option<Expected>, token: &str) -> NewVersion {
        let sc = scope(s);
        let n = SecretName::parse(name).unwrap();
        NewVersion {
            rotate_every_secs: None,
            audit: audit("secret.write").secret(&sc, &n),
            scope: sc,
            name: n,
            category: Some(Category::Provider),
            backend: BackendKind::Local,
            delivery: None,
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

    /// Search: a part of a name or a glob, in either case, only at the scopes given, `_`
    /// and `%` taken literally, ordered by name then scope, and the limit applied in SQL.
    #[tokio::test(flavor = "current_thread")]
    async fn search_finds_names_among_the_scopes_seen_and_nowhere_else() {
        use secretstore_core::{HitKind, Pattern, SearchStore, Visible};
        for db in databases() {
            let store = db.open().await;
            for s in [
                "acme/pay/prod/bot",
                "acme/ops/dev",
                "acme_x/pay",
                "acmex/pay",
            ] {
                scopes(&store, s).await;
            }
            let put = [
                ("acme", "OLD_STRIPE"),
                ("acme/pay", "STRIPE_KEY"),
                ("acme/pay/prod", "STRIPE_KEY"),
                ("acme/ops", "A_B"),
                ("acme/ops", "AXB"),
                ("acme_x/pay", "STRIPE_KEY"),
                ("acmex/pay", "STRIPE_KEY"),
            ];
            for (sc, name) in put {
                store
                    .write_versions(vec![write(sc, name, None, "gAAAA-token")])
                    .await
                    .unwrap();
            }
            let t = crate::common::task(&store, "acme/pay/prod/bot").await;
            let b = crate::common::dispatch(
                &store,
                &t,
                "acme/pay/prod/bot",
                "2026-12-01T00:00:00Z",
                vec![],
            )
            .await;
            let p = |s: &str| Pattern::parse(s).unwrap();
            let names = |hits: Vec<secretstore_core::SearchHit>| -> Vec<String> {
                hits.iter()
                    .map(|h| format!("{} {}", h.scope, h.name))
                    .collect()
            };
            let all = store
                .search(None, &p("stripe"), HitKind::Secret, 100)
                .await
                .unwrap();
            assert_eq!(
                names(all),
                [
                    "acme OLD_STRIPE",
                    "acme/pay STRIPE_KEY",
                    "acme/pay/prod STRIPE_KEY",
                    "acme_x/pay STRIPE_KEY",
                    "acmex/pay STRIPE_KEY",
                ],
                "{}",
                db.kind
            );
            let glob = store
                .search(None, &p("Stripe_*"), HitKind::Secret, 100)
                .await
                .unwrap();
            assert_eq!(glob.len(), 4, "{}: {glob:?}", db.kind);
            let literal = store
                .search(None, &p("A_B"), HitKind::Secret, 100)
                .await
                .unwrap();
            assert_eq!(names(literal), ["acme/ops A_B"], "{}", db.kind);
            // A member of acme/pay: its team, under it, and its organization's own secrets;
            // not acme_x (whose path an unescaped `_` would match), not acme/ops.
            let member = Visible {
                subtrees: vec![scope("acme/pay")],
                exact: vec![scope("acme")],
            };
            let seen = store
                .search(Some(&member), &p("stripe"), HitKind::Secret, 100)
                .await
                .unwrap();
            assert_eq!(
                names(seen),
                [
                    "acme OLD_STRIPE",
                    "acme/pay STRIPE_KEY",
                    "acme/pay/prod STRIPE_KEY"
                ],
                "{}",
                db.kind
            );
            let limited = store
                .search(Some(&member), &p("stripe"), HitKind::Secret, 2)
                .await
                .unwrap();
            assert_eq!(limited.len(), 2, "{}", db.kind);
            let metas = store
                .find_secrets(Some(&member), &p("KEY"), 100)
                .await
                .unwrap();
            assert_eq!(metas.len(), 2, "{}", db.kind);
            assert!(metas.iter().all(|m| m.name.as_str() == "STRIPE_KEY"));
            let scopes_found = store
                .search(Some(&member), &p("PAY"), HitKind::Scope, 100)
                .await
                .unwrap();
            assert_eq!(
                names(scopes_found),
                [
                    "acme/pay acme/pay",
                    "acme/pay/prod acme/pay/prod",
                    "acme/pay/prod/bot acme/pay/prod/bot"
                ],
                "{}",
                db.kind
            );
            let ops = Visible {
                subtrees: vec![scope("acme/ops")],
                exact: vec![scope("acme")],
            };
            let prefix = &t.to_string()[..8];
            for (v, want) in [(Some(&member), 1), (Some(&ops), 0), (None, 1)] {
                let tasks = store
                    .search(v, &p(prefix), HitKind::Task, 100)
                    .await
                    .unwrap();
                assert_eq!(tasks.len(), want, "{}: {tasks:?}", db.kind);
            }
            let briefs = store
                .search(Some(&member), &p(&b.to_string()[..8]), HitKind::Brief, 100)
                .await
                .unwrap();
            assert_eq!(briefs.len(), 1, "{}", db.kind);
            assert_eq!(briefs[0].scope, scope("acme/pay/prod/bot"));
            let none = store
                .search(
                    Some(&Visible::default()),
                    &p("stripe"),
                    HitKind::Secret,
                    100,
                )
                .await
                .unwrap();
            assert!(none.is_empty());
        }
    }

    /// A secret's delivery: `env` for a new secret written without one, as given
    /// otherwise; kept by a later write without one, changed by a write with one; the
    /// same through every read (metadata, lists, material, the candidates of a dispatch).
    #[tokio::test(flavor = "current_thread")]
    async fn delivery_is_stored_kept_without_one_and_changed_with_one() {
        use secretstore_core::Delivery;
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/platform").await;
            let sc = scope("acme/platform");
            let name = SecretName::parse("TLS_KEY").unwrap();
            let plain = SecretName::parse("PLAIN").unwrap();
            let with = |name: &str, d: Option<Delivery>, token: &str| NewVersion {
                delivery: d,
                ..write("acme/platform", name, None, token)
            };
            let reads = async |n: &SecretName| -> Vec<Delivery> {
                let meta = store.secret(&sc, n).await.unwrap().unwrap();
                let listed = store.list_secrets(&sc).await.unwrap();
                let listed = listed.iter().find(|m| m.name == n.as_str()).unwrap();
                let (material_meta, _, _) = store.material(&sc, n, None).await.unwrap();
                let candidates = store
                    .candidates(&[sc.clone(), scope("acme")], std::slice::from_ref(n))
                    .await
                    .unwrap();
                vec![
                    meta.delivery,
                    listed.delivery,
                    material_meta.delivery,
                    candidates[0].meta.delivery,
                ]
            };
            store
                .write_versions(vec![
                    with("TLS_KEY", Some(Delivery::File), "t1"),
                    with("PLAIN", None, "p1"),
                ])
                .await
                .unwrap();
            assert_eq!(reads(&name).await, [Delivery::File; 4], "{}", db.kind);
            assert_eq!(reads(&plain).await, [Delivery::Env; 4], "{}", db.kind);
            // A later write without a delivery keeps the stored one.
            store
                .write_versions(vec![with("TLS_KEY", None, "t2")])
                .await
                .unwrap();
            assert_eq!(reads(&name).await, [Delivery::File; 4], "{}", db.kind);
            // A later write with one changes it.
            store
                .write_versions(vec![
                    with("TLS_KEY", Some(Delivery::Env), "t3"),
                    with("PLAIN", Some(Delivery::File), "p2"),
                ])
                .await
                .unwrap();
            assert_eq!(reads(&name).await, [Delivery::Env; 4], "{}", db.kind);
            assert_eq!(reads(&plain).await, [Delivery::File; 4], "{}", db.kind);
            let meta = store.secret(&sc, &name).await.unwrap().unwrap();
            assert_eq!(meta.version, 3, "{}", db.kind);
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
                .audit_log(Some(&[scope("acme/other_team")]), &first(100))
                .await
                .unwrap();
            let scopes: Vec<_> = log.records.iter().filter_map(|e| e.scope.clone()).collect();
            // `_` is no wildcard: acme/otherxteam is not under acme/other_team.
            assert_eq!(scopes, ["acme/other_team"], "{}", db.kind);
            let all = store.audit_log(None, &first(2)).await.unwrap();
            assert_eq!(all.records.len(), 2);
            assert!(all.records[0].id > all.records[1].id, "newest first");
            assert!(all.older.is_some() && all.newer.is_none());
        }
    }

    /// The first page of `limit` records, unfiltered.
    fn first(limit: i64) -> AuditFilter {
        AuditFilter {
            limit,
            ..AuditFilter::default()
        }
    }

    /// Every page of `filter`, walked older from the newest, then newer back from the
    /// oldest: the same records both ways, each once, newest first.
    async fn walk(
        store: &SqlStore,
        roots: Option<&[ScopePath]>,
        filter: &AuditFilter,
    ) -> Vec<String> {
        let target = |p: &AuditPage| -> Vec<String> {
            p.records
                .iter()
                .map(|e| {
                    e.target
                        .clone()
                        .unwrap_or_else(|| format!("#{}", e.id.unwrap()))
                })
                .collect()
        };
        let mut older = Vec::new();
        let mut f = filter.clone();
        let mut last = None;
        loop {
            let page = store.audit_log(roots, &f).await.unwrap();
            assert!(page.records.len() as i64 <= f.limit);
            older.extend(target(&page));
            last = page.records.last().cloned().or(last);
            match page.older {
                Some(c) => f.from = PageFrom::Before(c),
                None => break,
            }
        }
        // Back from the oldest: the pages newer than it, then the oldest itself.
        let mut newer = Vec::new();
        if let Some(last) = last {
            let mut f = filter.clone();
            f.from = PageFrom::After(AuditCursor::of(&last).unwrap());
            loop {
                let page = store.audit_log(roots, &f).await.unwrap();
                let mut t = target(&page);
                t.extend(newer);
                newer = t;
                match page.newer {
                    Some(c) => f.from = PageFrom::After(c),
                    None => break,
                }
            }
            newer.extend(target(&AuditPage {
                records: vec![last],
                ..AuditPage::default()
            }));
        }
        assert_eq!(older, newer, "the pages walked both ways");
        older
    }

    /// Each filter narrows the log in SQL, they all hold at once, and the pages of any
    /// of them walk the whole answer in order (time, then id: records of one second keep
    /// their order) with no record twice, forwards and backwards.
    #[tokio::test(flavor = "current_thread")]
    async fn audit_filters_narrow_the_log_and_its_pages_walk_it_both_ways() {
        for db in databases() {
            let store = db.open().await;
            let who = ["alice", "bob", "cli:ops"];
            let actions = ["secret.reveal", "secret.set", "task.dispatch"];
            let places = ["acme/platform", "acme/platform/dev", "acme/other", "globex"];
            let mut all = Vec::new();
            for n in 0..60u32 {
                let mut a = audit(actions[n as usize % 3]);
                a.actor = who[n as usize % 3 / 2 + (n as usize / 3) % 2].into();
                a.scope = Some(places[n as usize % 4].into());
                a.name = (n % 5 != 0).then(|| if n % 2 == 0 { "API_KEY" } else { "DB_URL" }.into());
                // Three records a second: ties broken by id.
                a.at = timestamp::parse(&crate::common::at(1000 + n / 3)).unwrap();
                a.target = Some(format!("r{n:02}"));
                store.append_audit(a.clone()).await.unwrap();
                all.push(a);
            }
            let want = |keep: &dyn Fn(&AuditEntry) -> bool| -> Vec<String> {
                all.iter()
                    .rev()
                    .filter(|a| keep(a))
                    .map(|a| a.target.clone().unwrap())
                    .collect()
            };
            let mut f = first(7);
            assert_eq!(walk(&store, None, &f).await, want(&|_| true), "{}", db.kind);
            f.name = Some("API_KEY".into());
            assert_eq!(
                walk(&store, None, &f).await,
                want(&|a| a.name.as_deref() == Some("API_KEY")),
                "{}",
                db.kind
            );
            f.actor = Some("bob".into());
            f.action = Some("secret.".into());
            f.since = Some(timestamp::parse(&crate::common::at(1003)).unwrap());
            f.until = Some(timestamp::parse(&crate::common::at(1015)).unwrap());
            let (since, until) = (f.since.unwrap(), f.until.unwrap());
            let got = walk(&store, None, &f).await;
            assert!(!got.is_empty());
            assert_eq!(
                got,
                want(&|a| a.name.as_deref() == Some("API_KEY")
                    && a.actor == "bob"
                    && a.action.starts_with("secret.")
                    && a.at >= since
                    && a.at <= until),
                "{}",
                db.kind
            );
            let roots = [scope("acme/platform")];
            let mut f = first(4);
            f.action = Some("task.dispatch".into());
            assert_eq!(
                walk(&store, Some(&roots), &f).await,
                want(&|a| a.action == "task.dispatch"
                    && a.scope
                        .as_deref()
                        .is_some_and(|s| s.starts_with("acme/platform"))),
                "{}",
                db.kind
            );
            // An action prefix is no wildcard for `_` or `%`.
            f.action = Some("secret_".into());
            assert!(walk(&store, None, &f).await.is_empty());
            f.action = Some("%.".into());
            assert!(walk(&store, None, &f).await.is_empty());
        }
    }

    /// A secret's access list: its reveals and the dispatches that handed it out, newest
    /// first and paged, each with the version handed out and the dispatch's brief — and
    /// nothing of a secret of the same name in another scope.
    #[tokio::test(flavor = "current_thread")]
    async fn a_secrets_access_lists_its_reveals_and_dispatches_newest_first() {
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/platform/dev/agent-x").await;
            let task = crate::common::task(&store, "acme/platform/dev/agent-x").await;
            let name = SecretName::parse("API_KEY").unwrap();
            let team = scope("acme/platform");
            let mut want = Vec::new();
            for n in 0..9u32 {
                let at = crate::common::at(2000 + n);
                if n % 3 == 0 {
                    let s = if n == 6 {
                        "acme/platform/dev"
                    } else {
                        "acme/platform"
                    };
                    let brief = crate::common::dispatch(
                        &store,
                        &task,
                        "acme/platform/dev/agent-x",
                        &at,
                        vec![(s.into(), "API_KEY".into(), i64::from(n), None)],
                    )
                    .await;
                    if n != 6 {
                        want.push((
                            "task.dispatch".to_owned(),
                            i64::from(n),
                            Some(brief.to_string()),
                        ));
                    }
                } else {
                    let mut a = audit("secret.reveal")
                        .secret(&team, &name)
                        .version(i64::from(n));
                    a.at = timestamp::parse(&at).unwrap();
                    store.append_audit(a).await.unwrap();
                    want.push(("secret.reveal".to_owned(), i64::from(n), None));
                }
            }
            // A reveal of another secret, and another action on this one: not accesses.
            let other = SecretName::parse("DB_URL").unwrap();
            store
                .append_audit(audit("secret.reveal").secret(&team, &other))
                .await
                .unwrap();
            store
                .append_audit(audit("secret.set").secret(&team, &name))
                .await
                .unwrap();
            want.reverse();
            let mut got = Vec::new();
            let mut f = first(2);
            loop {
                let page = store.secret_access(&team, &name, &f).await.unwrap();
                got.extend(page.records.iter().map(|e| {
                    assert_eq!(e.scope.as_deref(), Some("acme/platform"));
                    assert_eq!(e.name.as_deref(), Some("API_KEY"));
                    (e.action.clone(), e.version.unwrap(), e.target.clone())
                }));
                match page.older {
                    Some(c) => f.from = PageFrom::Before(c),
                    None => break,
                }
            }
            assert_eq!(got, want, "{}", db.kind);
            // A time range: reveals by their time, dispatches by theirs (n = 3 to 7).
            let mut f = first(100);
            f.since = Some(timestamp::parse(&crate::common::at(2003)).unwrap());
            f.until = Some(timestamp::parse(&crate::common::at(2007)).unwrap());
            let page = store.secret_access(&team, &name, &f).await.unwrap();
            let versions: Vec<i64> = page.records.iter().map(|e| e.version.unwrap()).collect();
            assert_eq!(versions, [7, 5, 4, 3], "{}", db.kind);
        }
    }

    /// The lists of the object pages: a project's tasks and a task's or a project's briefs,
    /// newest first, limited in SQL, exactly that task or project (not one whose path
    /// starts the same); stale marks on running briefs only, here as in the briefs page.
    #[tokio::test(flavor = "current_thread")]
    async fn a_projects_tasks_and_a_tasks_or_projects_briefs_come_newest_first_and_limited() {
        use secretstore_core::{BriefStatus, BriefsOf, DispatchStore, Task, TaskId};
        for db in databases() {
            let store = db.open().await;
            let (x, x2) = ("acme/platform/dev/agent-x", "acme/platform/dev/agent-x2");
            scopes(&store, x).await;
            scopes(&store, x2).await;
            let mut tasks = Vec::new();
            for (n, project) in [(1, x), (2, x), (3, x), (4, x2), (5, x)] {
                let t = Task {
                    id: TaskId::generate(),
                    project: scope(project),
                    secret_refs: vec!["DB_URL".into()],
                    payload: None,
                    created_at: timestamp::parse(&crate::common::at(n)).unwrap(),
                    created_by: "tester".into(),
                };
                store.create_task(&t, audit("task.create")).await.unwrap();
                tasks.push(t.id);
            }
            let ids = |v: Vec<Task>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
            let got = ids(store.project_tasks(&scope(x), 3).await.unwrap());
            assert_eq!(
                got,
                vec![tasks[4].clone(), tasks[2].clone(), tasks[1].clone()],
                "{}",
                db.kind
            );
            assert_eq!(store.project_tasks(&scope(x), 100).await.unwrap().len(), 4);
            assert_eq!(
                ids(store.project_tasks(&scope(x2), 100).await.unwrap()),
                vec![tasks[3].clone()]
            );
            let nowhere = scope("acme/platform/dev/none");
            assert!(store.project_tasks(&nowhere, 10).await.unwrap().is_empty());

            // DB_URL is not stored at acme/platform: every brief that handed it out is stale.
            let handed = || vec![("acme/platform".into(), "DB_URL".into(), 1, None)];
            let mut briefs = Vec::new();
            for (n, t, project) in [(10, 0, x), (11, 0, x), (12, 0, x), (13, 1, x), (14, 3, x2)] {
                let at = crate::common::at(n);
                briefs
                    .push(crate::common::dispatch(&store, &tasks[t], project, &at, handed()).await);
            }
            let done = store
                .complete_brief(&briefs[1], BriefStatus::Completed, audit("brief.callback"))
                .await
                .unwrap();
            assert!(done);
            let of_task = store.briefs_of(BriefsOf::Task(&tasks[0]), 2).await.unwrap();
            let got: Vec<&str> = of_task.iter().map(|b| b.brief_id.as_str()).collect();
            assert_eq!(
                got,
                vec![briefs[2].as_str(), briefs[1].as_str()],
                "{}",
                db.kind
            );
            assert_eq!(of_task[0].stale, vec!["DB_URL".to_owned()], "{}", db.kind);
            assert_eq!(of_task[1].status, BriefStatus::Completed);
            assert!(
                of_task[1].stale.is_empty(),
                "{}: completed, not stale",
                db.kind
            );
            let all = store
                .briefs_of(BriefsOf::Task(&tasks[0]), 100)
                .await
                .unwrap();
            assert_eq!(all.len(), 3);
            let of_project = store
                .briefs_of(BriefsOf::Project(&scope(x)), 100)
                .await
                .unwrap();
            let got: Vec<&str> = of_project.iter().map(|b| b.brief_id.as_str()).collect();
            let want: Vec<&str> = briefs[..4].iter().rev().map(|b| b.as_str()).collect();
            assert_eq!(got, want, "{}: agent-x2's brief is not agent-x's", db.kind);
            assert!(
                store
                    .briefs_of(BriefsOf::Task(&TaskId::generate()), 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
            // The briefs page: the same stale rule.
            let recent = store.recent_briefs(None, 100).await.unwrap();
            for b in &recent {
                let running = b.status == BriefStatus::Running;
                assert_eq!(!b.stale.is_empty(), running, "{}: {b:?}", db.kind);
            }
        }
    }

    /// Lone audit records (a reveal's) are group-committed: many callers at once share
    /// transactions, and each is answered only once its record is committed — every
    /// record there, each once, when the callers go on.
    #[tokio::test(flavor = "current_thread")]
    async fn audit_records_appended_at_once_are_each_committed_before_their_caller_goes_on() {
        for db in databases() {
            let store = db.open().await;
            let before = walk(&store, None, &first(1000)).await.len();
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
            let mut targets = walk(&store, None, &first(1000)).await;
            assert_eq!(targets.len() - before, 300, "{}", db.kind);
            targets.retain(|t| t.starts_with("reveal-"));
            targets.sort();
            targets.dedup();
            assert_eq!(targets.len(), 300, "each record once ({})", db.kind);
        }
    }

    /// A sealed dispatch of a new task in `acme/pay/prod/bot` whose boot token (hash
    /// `hash`) expires at `expires` (RFC 3339).
    async fn sealed_dispatch(
        store: &SqlStore,
        hash: &str,
        expires: &str,
    ) -> secretstore_core::BriefId {
        use secretstore_core::{
            BootRecord, BriefDelivery, BriefId, BriefStatus, DispatchRecord, DispatchStore,
        };
        scopes(store, "acme/pay/prod/bot").await;
        let task = crate::common::task(store, "acme/pay/prod/bot").await;
        let rec = DispatchRecord {
            leaked_at: None,
            brief_id: BriefId::generate(),
            task_id: task,
            project: scope("acme/pay/prod/bot"),
            created_at: timestamp::now(),
            token_hash: "0".repeat(64),
            expires_at: timestamp::parse("2999-01-01T00:00:00Z").unwrap(),
            status: BriefStatus::Running,
            completed_at: None,
            revoked_at: None,
            secrets: Vec::new(),
            delivery: BriefDelivery::Sealed,
            boot: Some(BootRecord {
                token_hash: hash.into(),
                expires_at: timestamp::parse(expires).unwrap(),
                sealed: Some(format!("v1.sealed-for-{hash}")),
                redeemed: None,
                replayed: None,
            }),
        };
        store
            .record_dispatch(&rec, audit("task.dispatch"))
            .await
            .unwrap();
        rec.brief_id
    }

    /// Sealed delivery: of concurrent redemptions of one boot token through two stores on
    /// one database (two servers), exactly one gets the sealed env, which is then gone;
    /// the others see it used. A replay revokes the brief; an expired token is closed and
    /// its sealed env deleted by the sweep.
    #[tokio::test(flavor = "current_thread")]
    async fn two_servers_redeeming_one_boot_token_both_opened_it() {
        use secretstore_core::{BootState, BriefStatus, DispatchStore, Redemption};
        for db in databases() {
            let (one, two) = (db.open().await, db.open().await);
            let hash = "a".repeat(64);
            let id = sealed_dispatch(&one, &hash, "2999-01-01T00:00:00Z").await;
            assert_eq!(
                two.boot_brief(&hash).await.unwrap(),
                Some(id.clone()),
                "{}",
                db.kind
            );
            assert_eq!(two.boot_brief(&"b".repeat(64)).await.unwrap(), None);
            let tries = (0..8).map(|i| {
                let store = if i % 2 == 0 { &one } else { &two };
                let (id, hash) = (id.clone(), hash.clone());
                async move {
                    let mut a = audit("brief.boot");
                    a.target = Some(id.to_string());
                    store
                        .redeem_boot(&id, &hash, &format!("10.0.0.{i}"), a)
                        .await
                }
            });
            let answers = futures_util::future::join_all(tries).await;
            let opened: Vec<&Redemption> = answers
                .iter()
                .map(|a| a.as_ref().unwrap())
                .filter(|a| matches!(a, Redemption::Opened(_)))
                .collect();
            assert_eq!(opened.len(), 1, "{}: {answers:?}", db.kind);
            assert_eq!(
                opened[0],
                &Redemption::Opened(format!("v1.sealed-for-{hash}"))
            );
            assert!(
                answers
                    .iter()
                    .all(|a| matches!(a, Ok(Redemption::Opened(_) | Redemption::AlreadyUsed))),
                "{}: {answers:?}",
                db.kind
            );
            let rec = one.dispatch_record(&id).await.unwrap();
            let boot = rec.boot.clone().unwrap();
            assert_eq!(boot.state(timestamp::now()), BootState::Redeemed);
            assert!(boot.redeemed.unwrap().1.starts_with("10.0.0."));
            assert_eq!(
                boot.sealed, None,
                "a record never carries the sealed env back"
            );

            // A replay: recorded once, the brief revoked with its audit record.
            let replay = audit("brief.boot_replay");
            let revoke = audit("brief.revoke");
            assert!(
                one.boot_replayed(&id, "192.0.2.1", replay, revoke)
                    .await
                    .unwrap()
            );
            let again = two
                .boot_replayed(
                    &id,
                    "192.0.2.2",
                    audit("brief.boot_replay"),
                    audit("brief.revoke"),
                )
                .await
                .unwrap();
            assert!(!again, "revoked once");
            let rec = two.dispatch_record(&id).await.unwrap();
            assert_eq!(rec.status, BriefStatus::Revoked);
            let boot = rec.boot.unwrap();
            assert_eq!(boot.state(timestamp::now()), BootState::Replayed);
            assert_eq!(boot.replayed.unwrap().1, "192.0.2.1");

            // An expired token: closed, its sealed env deleted by the sweep, once.
            let old = "c".repeat(64);
            let expired = sealed_dispatch(&one, &old, "2000-01-01T00:00:00Z").await;
            let r = one
                .redeem_boot(&expired, &old, "10.0.0.1", audit("brief.boot"))
                .await
                .unwrap();
            assert_eq!(r, Redemption::Closed, "{}", db.kind);
            assert_eq!(one.expire_boots(timestamp::now()).await.unwrap(), 1);
            assert_eq!(two.expire_boots(timestamp::now()).await.unwrap(), 0);
            let rec = one.dispatch_record(&expired).await.unwrap();
            assert_eq!(
                rec.boot.unwrap().state(timestamp::now()),
                BootState::Expired
            );
            // The redeemed one is untouched by the sweep, and nothing was audited for
            // the losers and the closed one.
            let booted = one.audit_log(None, &first(1000)).await.unwrap();
            let n = booted
                .records
                .iter()
                .filter(|r| r.action == "brief.boot")
                .count();
            assert_eq!(n, 1, "{}", db.kind);
        }
    }

    /// The sealed-only policy of an organization: off by default, set and cleared, an
    /// unknown organization refused.
    #[tokio::test(flavor = "current_thread")]
    async fn an_org_policy_was_not_kept() {
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme").await;
            let acme = scope("acme");
            assert!(!store.sealed_only(&acme).await.unwrap());
            store
                .set_sealed_only(&acme, true, audit("org.policy"))
                .await
                .unwrap();
            assert!(store.sealed_only(&acme).await.unwrap(), "{}", db.kind);
            store
                .set_sealed_only(&acme, false, audit("org.policy"))
                .await
                .unwrap();
            assert!(!store.sealed_only(&acme).await.unwrap());
            let nowhere = scope("nowhere");
            assert!(matches!(
                store
                    .set_sealed_only(&nowhere, true, audit("org.policy"))
                    .await,
                Err(Error::NotFound(_))
            ));
            assert!(!store.sealed_only(&nowhere).await.unwrap());
        }
    }

    // Per-task credentials (#16): the leases of what a dispatch minted, their claims
    // (of several servers exactly one revokes each lease), and generators stored as
    // secret versions.

    /// `n` seconds into 2030 (see [`crate::common::at`]).
    fn t(n: u32) -> timestamp::OffsetDateTime {
        timestamp::parse(&crate::common::at(n)).unwrap()
    }

    /// A lease about to be minted: of `brief` in `project`, of the generator `secret`
    /// (scope, name), created at `created` and ending at `expires` (seconds into 2030).
    fn new_lease(
        brief: &secretstore_core::BriefId,
        project: &str,
        secret: (&str, &str),
        created: u32,
        expires: u32,
    ) -> secretstore_core::Lease {
        use secretstore_core::{GeneratorKind, Lease, LeaseId};
        Lease {
            id: LeaseId::generate(),
            brief_id: brief.clone(),
            project: scope(project),
            scope: scope(secret.0),
            name: secret.1.into(),
            version: 1,
            provider: GeneratorKind::Postgres,
            principal: secretstore_core::generator::role_name(),
            admin_scope: Some(scope("acme")),
            created_at: t(created),
            expires_at: t(expires),
            revoked_at: None,
            revoke_reason: None,
            last_error: None,
        }
    }

    /// The ids of `leases`, sorted.
    fn lease_ids(leases: &[secretstore_core::Lease]) -> Vec<String> {
        let mut ids: Vec<String> = leases.iter().map(|l| l.id.to_string()).collect();
        ids.sort();
        ids
    }

    /// The audit records of `action` whose target is `target`.
    async fn audited(store: &SqlStore, action: &str, target: &str) -> usize {
        let log = store.audit_log(None, &first(10_000)).await.unwrap();
        log.records
            .iter()
            .filter(|r| r.action == action && r.target.as_deref() == Some(target))
            .count()
    }

    /// The attempts counted on a lease (not part of [`secretstore_core::Lease`]).
    async fn attempts(store: &SqlStore, id: &secretstore_core::LeaseId) -> i64 {
        sqlx::query_scalar("SELECT attempts FROM leases WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    /// Opened leases read back as opened, one by one and in lists: at or under the
    /// projects asked for (`_` taken literally, not a project whose path starts the
    /// same), of one brief, of one generator, only the open ones; newest first; limited.
    #[tokio::test(flavor = "current_thread")]
    async fn opened_leases_are_listed_newest_first_by_project_brief_secret_and_openness() {
        use secretstore_core::{BriefId, LeaseFilter, LeaseId, LeaseStore, RevokeReason};
        for db in databases() {
            let store = db.open().await;
            let (b1, b2, b3) = (
                BriefId::generate(),
                BriefId::generate(),
                BriefId::generate(),
            );
            let pg = ("acme/pay", "PG_RO");
            let other = ("acme", "PG_RW");
            let all = vec![
                new_lease(&b1, "acme/pay/prod/bot", pg, 1, 3600),
                new_lease(&b1, "acme/pay/prod/bot", other, 2, 3600),
                new_lease(&b2, "acme/pay", pg, 3, 3600),
                new_lease(&b2, "acme_x/pay", pg, 4, 3600),
                new_lease(&b3, "acmex/pay", other, 5, 3600),
                new_lease(&b3, "acme/payx", pg, 6, 3600),
            ];
            store.open_leases(&[]).await.unwrap();
            store.open_leases(&all[..3]).await.unwrap();
            store.open_leases(&all[3..]).await.unwrap();
            // A batch with an id already recorded is refused whole.
            let again = vec![new_lease(&b3, "acme/pay", pg, 7, 3600), all[0].clone()];
            assert!(store.open_leases(&again).await.is_err(), "{}", db.kind);
            assert!(matches!(
                store.lease(&again[0].id).await,
                Err(Error::NotFound(_))
            ));
            for l in &all {
                assert_eq!(&store.lease(&l.id).await.unwrap(), l, "{}", db.kind);
            }
            assert!(matches!(
                store.lease(&LeaseId::generate()).await,
                Err(Error::NotFound(_))
            ));
            let list = async |filter: LeaseFilter<'_>, limit: i64| -> Vec<String> {
                store
                    .leases(filter, limit)
                    .await
                    .unwrap()
                    .iter()
                    .map(|l| l.id.to_string())
                    .collect()
            };
            let want = |idx: &[usize]| -> Vec<String> {
                idx.iter().map(|&i| all[i].id.to_string()).collect()
            };
            assert_eq!(
                list(LeaseFilter::default(), 100).await,
                want(&[5, 4, 3, 2, 1, 0]),
                "{}: newest first",
                db.kind
            );
            assert_eq!(list(LeaseFilter::default(), 2).await, want(&[5, 4]));
            let roots = [scope("acme/pay")];
            let under = LeaseFilter {
                projects: Some(&roots),
                ..LeaseFilter::default()
            };
            assert_eq!(list(under, 100).await, want(&[2, 1, 0]), "{}", db.kind);
            let roots = [scope("acme_x"), scope("acme/pay/prod/bot")];
            let two = LeaseFilter {
                projects: Some(&roots),
                ..LeaseFilter::default()
            };
            assert_eq!(list(two, 100).await, want(&[3, 1, 0]), "{}", db.kind);
            let nowhere = LeaseFilter {
                projects: Some(&[]),
                ..LeaseFilter::default()
            };
            assert!(list(nowhere, 100).await.is_empty());
            let of_brief = LeaseFilter {
                brief: Some(&b2),
                ..LeaseFilter::default()
            };
            assert_eq!(list(of_brief, 100).await, want(&[3, 2]), "{}", db.kind);
            let pg_scope = scope(pg.0);
            let of_secret = LeaseFilter {
                secret: Some((&pg_scope, pg.1)),
                ..LeaseFilter::default()
            };
            assert_eq!(
                list(of_secret, 100).await,
                want(&[5, 3, 2, 0]),
                "{}",
                db.kind
            );
            let of_secret_under = LeaseFilter {
                projects: Some(&roots),
                secret: Some((&pg_scope, pg.1)),
                ..LeaseFilter::default()
            };
            assert_eq!(list(of_secret_under, 100).await, want(&[3, 0]));

            // Revoke one: the open ones leave it out, the others keep it.
            let claimed = store
                .claim_leases(
                    secretstore_core::LeasesOf::Lease(&all[2].id),
                    RevokeReason::Revoked,
                    "h1",
                    t(10),
                    t(130),
                    10,
                )
                .await
                .unwrap();
            assert_eq!(lease_ids(&claimed), lease_ids(&all[2..3]));
            assert!(
                store
                    .lease_revoked(&all[2].id, "h1", audit("lease.revoke"))
                    .await
                    .unwrap()
            );
            let open = LeaseFilter {
                open_only: true,
                ..LeaseFilter::default()
            };
            assert_eq!(list(open, 100).await, want(&[5, 4, 3, 1, 0]), "{}", db.kind);
            let open_of_brief = LeaseFilter {
                brief: Some(&b2),
                open_only: true,
                ..LeaseFilter::default()
            };
            assert_eq!(list(open_of_brief, 100).await, want(&[3]));
            assert_eq!(list(of_brief, 100).await, want(&[3, 2]));
        }
    }

    /// A mint that succeeded: the lease's principal and expiry become the minted ones,
    /// with its `lease.mint` record; an unknown (or revoked) lease is a `Conflict` and nothing is
    /// written.
    #[tokio::test(flavor = "current_thread")]
    async fn lease_minted_sets_the_principal_and_expiry_with_its_audit_record() {
        use secretstore_core::{BriefId, LeaseId, LeaseStore};
        for db in databases() {
            let store = db.open().await;
            let mut l = new_lease(&BriefId::generate(), "acme/pay", ("acme", "AWS"), 1, 3600);
            l.principal = "ss-session-name".into();
            store.open_leases(std::slice::from_ref(&l)).await.unwrap();
            let arn = "arn:aws:sts::123456789012:assumed-role/r/ss-session-name";
            let record = audit("lease.mint").target(l.id.to_string());
            store
                .lease_minted(&l.id, arn, t(900), record)
                .await
                .unwrap();
            let got = store.lease(&l.id).await.unwrap();
            assert_eq!(got.principal, arn, "{}", db.kind);
            assert_eq!(got.expires_at, t(900));
            assert_eq!(got.created_at, l.created_at);
            assert_eq!(audited(&store, "lease.mint", l.id.as_str()).await, 1);

            let ghost = LeaseId::generate();
            let record = audit("lease.mint").target(ghost.to_string());
            assert!(
                matches!(
                    store.lease_minted(&ghost, arn, t(900), record).await,
                    Err(Error::Conflict(_))
                ),
                "{}",
                db.kind
            );
            assert_eq!(
                audited(&store, "lease.mint", ghost.as_str()).await,
                0,
                "{}: no record of a mint of no lease",
                db.kind
            );
        }
    }

    /// Claims of one lease or of a brief's: a claimed lease is not claimed again until its
    /// claim lapses; the first reason stays; only the holder records the revocation (with
    /// its audit record); a failed revocation keeps its error, counts its attempts and
    /// holds the claim until its retry, when the sweeper takes it again; a brief's claim
    /// takes at most `limit` leases and leaves the rest claimable.
    #[tokio::test(flavor = "current_thread")]
    async fn claimed_leases_have_one_holder_until_the_claim_lapses_and_only_it_revokes() {
        use secretstore_core::{BriefId, LeaseStore, LeasesOf, RevokeReason};
        for db in databases() {
            let store = db.open().await;
            let b = BriefId::generate();
            let l = new_lease(&b, "acme/pay", ("acme", "PG"), 1, 7200);
            store.open_leases(std::slice::from_ref(&l)).await.unwrap();
            let claim = async |of: LeasesOf<'_>, reason, holder: &str, now: u32| {
                store
                    .claim_leases(of, reason, holder, t(now), t(now + 120), 10)
                    .await
                    .unwrap()
            };
            let got = claim(LeasesOf::Lease(&l.id), RevokeReason::Revoked, "h1", 100).await;
            assert_eq!(lease_ids(&got), lease_ids(std::slice::from_ref(&l)));
            assert_eq!(got[0].revoke_reason, Some(RevokeReason::Revoked));
            assert_eq!(got[0].revoked_at, None);
            assert_eq!(got[0].state(t(100)), "revoking");
            // Held: not claimed again before the claim lapses, by any claim.
            for now in [100, 150, 219] {
                let r = RevokeReason::Callback;
                assert!(claim(LeasesOf::Lease(&l.id), r, "h2", now).await.is_empty());
                assert!(claim(LeasesOf::Brief(&b), r, "h2", now).await.is_empty());
                assert!(claim(LeasesOf::Due, r, "h2", now).await.is_empty());
            }
            // Another holder records nothing.
            assert!(
                !store
                    .lease_revoked(&l.id, "h2", audit("lease.revoke").target(l.id.to_string()))
                    .await
                    .unwrap(),
                "{}",
                db.kind
            );
            assert_eq!(store.lease(&l.id).await.unwrap().revoked_at, None);
            assert_eq!(audited(&store, "lease.revoke", l.id.as_str()).await, 0);
            // The claim lapses: taken over, the first reason kept.
            let got = claim(LeasesOf::Brief(&b), RevokeReason::Callback, "h2", 220).await;
            assert_eq!(
                lease_ids(&got),
                lease_ids(std::slice::from_ref(&l)),
                "{}",
                db.kind
            );
            assert_eq!(
                got[0].revoke_reason,
                Some(RevokeReason::Revoked),
                "first wins"
            );
            assert!(
                !store
                    .lease_revoked(&l.id, "h1", audit("lease.revoke").target(l.id.to_string()))
                    .await
                    .unwrap(),
                "{}: the lapsed holder",
                db.kind
            );
            let record = audit("lease.revoke").target(l.id.to_string());
            let at = record.at;
            assert!(store.lease_revoked(&l.id, "h2", record).await.unwrap());
            let done = store.lease(&l.id).await.unwrap();
            assert_eq!(done.revoked_at, Some(at), "{}", db.kind);
            assert_eq!(done.revoke_reason, Some(RevokeReason::Revoked));
            assert_eq!(done.state(t(0)), "revoked");
            assert_eq!(audited(&store, "lease.revoke", l.id.as_str()).await, 1);
            assert!(
                !store
                    .lease_revoked(&l.id, "h2", audit("lease.revoke").target(l.id.to_string()))
                    .await
                    .unwrap(),
                "revoked once"
            );
            assert_eq!(audited(&store, "lease.revoke", l.id.as_str()).await, 1);
            // Revoked: never claimed again.
            for of in [LeasesOf::Lease(&l.id), LeasesOf::Brief(&b), LeasesOf::Due] {
                assert!(
                    claim(of, RevokeReason::Callback, "h3", 9000)
                        .await
                        .is_empty()
                );
            }

            // A failed revocation: the error kept, the attempts counted, the claim held
            // until the retry; then the sweeper's, with the reason it had.
            let b2 = BriefId::generate();
            let m = new_lease(&b2, "acme/pay", ("acme", "PG"), 1, 7200);
            store.open_leases(std::slice::from_ref(&m)).await.unwrap();
            let got = claim(LeasesOf::Brief(&b2), RevokeReason::BriefRevoked, "h1", 100).await;
            assert_eq!(got.len(), 1);
            let long = "x".repeat(2000);
            store
                .lease_revoke_failed(&m.id, "h1", &long, t(110))
                .await
                .unwrap();
            let failed = store.lease(&m.id).await.unwrap();
            assert_eq!(failed.last_error.as_deref().map(str::len), Some(500));
            assert_eq!(
                (failed.revoked_at, failed.state(t(100))),
                (None, "revoking")
            );
            assert_eq!(attempts(&store, &m.id).await, 1, "{}", db.kind);
            store
                .lease_revoke_failed(&m.id, "h1", "connection refused", t(110))
                .await
                .unwrap();
            assert_eq!(attempts(&store, &m.id).await, 2, "{}", db.kind);
            // Not the holder: nothing changes.
            store
                .lease_revoke_failed(&m.id, "h9", "not mine", t(5000))
                .await
                .unwrap();
            let failed = store.lease(&m.id).await.unwrap();
            assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
            assert_eq!(attempts(&store, &m.id).await, 2);
            // Held until the retry (not the claim's own end: 220)…
            for now in [101, 109] {
                assert!(
                    claim(LeasesOf::Due, RevokeReason::Expired, "h2", now)
                        .await
                        .is_empty()
                );
                let r = RevokeReason::Revoked;
                assert!(claim(LeasesOf::Lease(&m.id), r, "h2", now).await.is_empty());
            }
            // … then due (its brief is not recorded and it has not expired: its reason
            // makes it due), with its reason.
            let got = claim(LeasesOf::Due, RevokeReason::Expired, "h2", 110).await;
            assert_eq!(
                lease_ids(&got),
                lease_ids(std::slice::from_ref(&m)),
                "{}",
                db.kind
            );
            assert_eq!(got[0].revoke_reason, Some(RevokeReason::BriefRevoked));
            assert_eq!(got[0].last_error.as_deref(), Some("connection refused"));
            store
                .lease_revoke_failed(&m.id, "h2", "timed out", t(300))
                .await
                .unwrap();
            assert_eq!(attempts(&store, &m.id).await, 3);
            let got = claim(LeasesOf::Due, RevokeReason::Expired, "h3", 300).await;
            assert_eq!(got.len(), 1, "{}", db.kind);
            assert!(
                store
                    .lease_revoked(&m.id, "h3", audit("lease.revoke"))
                    .await
                    .unwrap()
            );
            let done = store.lease(&m.id).await.unwrap();
            assert!(done.revoked_at.is_some() && done.last_error.is_none());

            // A brief's claim takes at most `limit` leases; the others stay claimable.
            let b3 = BriefId::generate();
            let three: Vec<_> = (0..3)
                .map(|i| new_lease(&b3, "acme/pay", ("acme", "PG"), 10 + i, 7200))
                .collect();
            store.open_leases(&three).await.unwrap();
            let r = RevokeReason::Callback;
            let firsts = store
                .claim_leases(LeasesOf::Brief(&b3), r, "h1", t(100), t(220), 2)
                .await
                .unwrap();
            assert_eq!(firsts.len(), 2, "{}", db.kind);
            let rest = store
                .claim_leases(LeasesOf::Brief(&b3), r, "h2", t(100), t(220), 2)
                .await
                .unwrap();
            assert_eq!(rest.len(), 1, "{}: the lease beyond the limit", db.kind);
            let mut both = lease_ids(&firsts);
            both.extend(lease_ids(&rest));
            both.sort();
            assert_eq!(both, lease_ids(&three));
        }
    }

    /// The sweeper's claim: the leases past their expiry (`expired`), those of briefs
    /// that ended (`brief_ended`), never a running brief's before its expiry, never
    /// those of a brief not recorded yet (its dispatch is minting) before theirs; the
    /// soonest to expire first, at most `limit`.
    #[tokio::test(flavor = "current_thread")]
    async fn due_leases_are_the_expired_and_those_of_ended_briefs_only() {
        use secretstore_core::RevokeReason;
        use secretstore_core::{BriefId, BriefStatus, DispatchStore, LeaseStore, LeasesOf};
        for db in databases() {
            let store = db.open().await;
            let project = "acme/pay/prod/bot";
            scopes(&store, project).await;
            let task = crate::common::task(&store, project).await;
            let brief = async || {
                crate::common::dispatch(&store, &task, project, "2030-01-01T00:00:00Z", vec![])
                    .await
            };
            let (running, completed, revoked) = (brief().await, brief().await, brief().await);
            let minting = BriefId::generate();
            assert!(
                store
                    .complete_brief(&completed, BriefStatus::Completed, audit("brief.callback"))
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .revoke_brief(&revoked, audit("brief.revoke"))
                    .await
                    .unwrap()
            );
            let now = 1000;
            let g = ("acme", "PG");
            let l = |b: &BriefId, expires: u32| new_lease(b, project, g, 1, expires);
            let running_open = l(&running, now + 1);
            let running_expired = l(&running, now);
            let minting_open = l(&minting, now + 3600);
            let minting_expired = l(&minting, now - 10);
            let completed_open = l(&completed, now + 20);
            let revoked_open = l(&revoked, now + 30);
            let completed_expired = l(&completed, now - 5);
            let gone = l(&completed, now - 100);
            store
                .open_leases(&[
                    running_open.clone(),
                    running_expired.clone(),
                    minting_open.clone(),
                    minting_expired.clone(),
                    completed_open.clone(),
                    revoked_open.clone(),
                    completed_expired.clone(),
                    gone.clone(),
                ])
                .await
                .unwrap();
            let got = store
                .claim_leases(
                    LeasesOf::Lease(&gone.id),
                    RevokeReason::Callback,
                    "h0",
                    t(1),
                    t(2),
                    1,
                )
                .await
                .unwrap();
            assert_eq!(got.len(), 1);
            assert!(
                store
                    .lease_revoked(&gone.id, "h0", audit("lease.revoke"))
                    .await
                    .unwrap()
            );

            let due = |limit| {
                store.claim_leases(
                    LeasesOf::Due,
                    RevokeReason::Expired,
                    "sweeper",
                    t(now),
                    t(now + 120),
                    limit,
                )
            };
            // At most `limit`, the soonest to expire first.
            let first_two = due(2).await.unwrap();
            assert_eq!(
                lease_ids(&first_two),
                lease_ids(&[minting_expired.clone(), completed_expired.clone()]),
                "{}",
                db.kind
            );
            let rest = due(100).await.unwrap();
            assert_eq!(
                lease_ids(&rest),
                lease_ids(&[
                    running_expired.clone(),
                    completed_open.clone(),
                    revoked_open.clone()
                ]),
                "{}: not a running brief's before its expiry, not a minting one's",
                db.kind
            );
            let reasons: std::collections::BTreeMap<String, Option<RevokeReason>> = first_two
                .iter()
                .chain(&rest)
                .map(|l| (l.id.to_string(), l.revoke_reason))
                .collect();
            let reason = |l: &secretstore_core::Lease| reasons[l.id.as_str()];
            assert_eq!(
                reason(&minting_expired),
                Some(RevokeReason::Expired),
                "{}",
                db.kind
            );
            assert_eq!(reason(&running_expired), Some(RevokeReason::Expired));
            assert_eq!(reason(&completed_expired), Some(RevokeReason::Expired));
            assert_eq!(reason(&completed_open), Some(RevokeReason::BriefEnded));
            assert_eq!(reason(&revoked_open), Some(RevokeReason::BriefEnded));
            // The reason is stored, not only returned.
            assert_eq!(
                store.lease(&revoked_open.id).await.unwrap().revoke_reason,
                Some(RevokeReason::BriefEnded)
            );
            assert!(due(100).await.unwrap().is_empty(), "{}: claimed", db.kind);
            for l in [&running_open, &minting_open] {
                let l = store.lease(&l.id).await.unwrap();
                assert_eq!((l.revoke_reason, l.state(t(now))), (None, "active"));
            }
            // Past their expiry, the rest are due (the others revoked first: a claim
            // that lapsed is claimable again).
            for l in first_two.iter().chain(&rest) {
                assert!(
                    store
                        .lease_revoked(&l.id, "sweeper", audit("lease.revoke"))
                        .await
                        .unwrap()
                );
            }
            let later = store
                .claim_leases(
                    LeasesOf::Due,
                    RevokeReason::Expired,
                    "sweeper",
                    t(now + 3600),
                    t(now + 3720),
                    100,
                )
                .await
                .unwrap();
            assert_eq!(
                lease_ids(&later),
                lease_ids(&[running_open, minting_open]),
                "{}",
                db.kind
            );
            assert!(
                later
                    .iter()
                    .all(|l| l.revoke_reason == Some(RevokeReason::Expired))
            );
        }
    }

    /// Two servers on one database sweeping at once: of concurrent claims of the due
    /// leases, exactly one gets each lease.
    #[tokio::test(flavor = "current_thread")]
    async fn two_servers_sweeping_at_once_claim_each_due_lease_exactly_once() {
        use secretstore_core::{BriefId, LeaseStore, LeasesOf, RevokeReason};
        for db in databases() {
            let (one, two) = (db.open().await, db.open().await);
            for limit in [200, 3] {
                let leases: Vec<_> = (0..20)
                    .map(|i| {
                        let b = BriefId::generate();
                        new_lease(&b, "acme/pay", ("acme", "PG"), i, 100 + i % 4)
                    })
                    .collect();
                one.open_leases(&leases).await.unwrap();
                let sweeps = (0..8).map(|i| {
                    let store = if i % 2 == 0 { &one } else { &two };
                    async move {
                        store
                            .claim_leases(
                                LeasesOf::Due,
                                RevokeReason::Expired,
                                &format!("server-{i}"),
                                t(1000),
                                t(1120),
                                limit,
                            )
                            .await
                    }
                });
                let answers = futures_util::future::join_all(sweeps).await;
                let mut claimed = Vec::new();
                for a in answers {
                    let a = a.unwrap_or_else(|e| panic!("{}: a sweep failed: {e}", db.kind));
                    assert!(a.len() as i64 <= limit);
                    claimed.extend(lease_ids(&a));
                }
                // With a small limit, what the first round left is claimed afterwards.
                loop {
                    let more = two
                        .claim_leases(
                            LeasesOf::Due,
                            RevokeReason::Expired,
                            "late",
                            t(1000),
                            t(1120),
                            limit,
                        )
                        .await
                        .unwrap();
                    if more.is_empty() {
                        break;
                    }
                    claimed.extend(lease_ids(&more));
                }
                claimed.sort();
                assert_eq!(
                    claimed,
                    lease_ids(&leases),
                    "{} (limit {limit}): each lease once",
                    db.kind
                );
                // Revoke them, so that the next round sees only its own.
                for l in &leases {
                    let holder: String =
                        sqlx::query_scalar("SELECT claimed_by FROM leases WHERE id = $1")
                            .bind(l.id.to_string())
                            .fetch_one(one.pool())
                            .await
                            .unwrap();
                    assert!(
                        two.lease_revoked(&l.id, &holder, audit("lease.revoke"))
                            .await
                            .unwrap()
                    );
                }
            }
        }
    }

    /// A postgres generator's spec reading `admin`.
    fn pg_spec(admin: &str, ttl_secs: u64) -> secretstore_core::GeneratorSpec {
        use secretstore_core::generator::{GeneratorSpec, PostgresSpec};
        GeneratorSpec::Postgres(PostgresSpec {
            admin_ref: admin.into(),
            grants: vec!["GRANT SELECT ON ALL TABLES IN SCHEMA public TO {{name}}".into()],
            creation: vec![],
            revocation: vec!["DROP ROLE {{name}}".into()],
            ttl_secs,
        })
    }

    /// A write of a generator version: no value, the spec.
    fn generator_write(
        s: &str,
        name: &str,
        spec: secretstore_core::GeneratorSpec,
        rollback_of: Option<i64>,
    ) -> NewVersion {
        NewVersion {
            category: Some(Category::Agent),
            material: StoredMaterial {
                generator: Some(spec),
                ..StoredMaterial::default()
            },
            rollback_of,
            ..write(s, name, None, "unused")
        }
    }

    /// Generators are versions of their secret: the spec reads back (metadata, material,
    /// candidates) with no value; a stored value is never written over a generator nor a
    /// generator over a stored value (409, nothing changed); later versions and a
    /// rollback-style one are versions like any; rekey leaves them alone.
    #[tokio::test(flavor = "current_thread")]
    async fn generator_versions_read_back_and_never_turn_into_stored_values() {
        use secretstore_core::generator::{AwsStsSpec, GeneratorKind, GeneratorSpec};
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/platform").await;
            let sc = scope("acme/platform");
            let gen_name = SecretName::parse("PG_RO").unwrap();
            let stored = SecretName::parse("PG_ADMIN_URL").unwrap();
            let old_key = Keyring::generate_key();
            let old = Keyring::parse(&old_key).unwrap();
            let v1 = pg_spec("PG_ADMIN_URL", 3600);
            let v = store
                .write_versions(vec![
                    write(
                        "acme/platform",
                        "PG_ADMIN_URL",
                        None,
                        &old.encrypt(b"postgres://a"),
                    ),
                    generator_write("acme/platform", "PG_RO", v1.clone(), None),
                ])
                .await
                .unwrap();
            assert_eq!(v, [1, 1], "{}", db.kind);
            let reads = async |want: &GeneratorSpec| {
                let meta = store.secret(&sc, &gen_name).await.unwrap().unwrap();
                assert_eq!(meta.generator, Some(want.kind()), "{}", db.kind);
                let (m, _, material) = store.material(&sc, &gen_name, None).await.unwrap();
                assert_eq!(m.generator, Some(want.kind()));
                assert_eq!(material.generator.as_ref(), Some(want), "{}", db.kind);
                assert_eq!(material.ciphertext, None);
                let c = store
                    .candidates(
                        &[scope("acme"), sc.clone()],
                        &[gen_name.clone(), stored.clone()],
                    )
                    .await
                    .unwrap();
                let g = c.iter().find(|c| c.meta.name == "PG_RO").unwrap();
                assert_eq!(g.meta.generator, Some(want.kind()), "{}", db.kind);
                assert_eq!(g.material.generator.as_ref(), Some(want));
                assert_eq!(g.material.ciphertext, None);
                let s = c.iter().find(|c| c.meta.name == "PG_ADMIN_URL").unwrap();
                assert_eq!((s.meta.generator, &s.material.generator), (None, &None));
                let listed = store.list_secrets(&sc).await.unwrap();
                let l = listed.iter().find(|m| m.name == "PG_RO").unwrap();
                assert_eq!(l.generator, Some(want.kind()));
            };
            reads(&v1).await;

            // A stored value over the generator, and a generator over a stored value:
            // conflicts, with or without an expected version; nothing changes.
            for expected in [None, Some(Expected::Version(1)), Some(Expected::Absent)] {
                let over = store
                    .write_versions(vec![write("acme/platform", "PG_RO", expected, "gAAAA-v")])
                    .await;
                assert!(
                    matches!(over, Err(Error::Conflict(_))),
                    "{}: a value over a generator ({expected:?}): {over:?}",
                    db.kind
                );
                let mut w = generator_write("acme/platform", "PG_ADMIN_URL", v1.clone(), None);
                w.expected = expected;
                let over = store.write_versions(vec![w]).await;
                assert!(
                    matches!(over, Err(Error::Conflict(_))),
                    "{}: a generator over a value ({expected:?}): {over:?}",
                    db.kind
                );
            }
            reads(&v1).await;
            let (meta, _, material) = store.material(&sc, &stored, None).await.unwrap();
            assert_eq!((meta.version, meta.generator), (1, None), "{}", db.kind);
            assert!(material.ciphertext.is_some() && material.generator.is_none());
            assert_eq!(store.versions(&sc, &gen_name).await.unwrap().len(), 1);

            // A second version (another provider), then one that restores the first.
            let v2 = GeneratorSpec::AwsSts(AwsStsSpec {
                role_arn: "arn:aws:iam::123456789012:role/deploy".into(),
                session_policy: None,
                ttl_secs: 900,
            });
            let mut w = generator_write("acme/platform", "PG_RO", v2.clone(), None);
            w.expected = Some(Expected::Version(1));
            assert_eq!(store.write_versions(vec![w]).await.unwrap(), [2]);
            reads(&v2).await;
            let (_, _, material) = store.material(&sc, &gen_name, Some(1)).await.unwrap();
            assert_eq!(material.generator, Some(v1.clone()), "{}: v1 kept", db.kind);
            let back = generator_write("acme/platform", "PG_RO", v1.clone(), Some(1));
            assert_eq!(store.write_versions(vec![back]).await.unwrap(), [3]);
            reads(&v1).await;
            let versions = store.versions(&sc, &gen_name).await.unwrap();
            let shape: Vec<_> = versions
                .iter()
                .map(|v| (v.version, v.current, v.rollback_of))
                .collect();
            assert_eq!(
                shape,
                [(3, true, Some(1)), (2, false, None), (1, false, None)]
            );
            assert_eq!(
                store
                    .secret(&sc, &gen_name)
                    .await
                    .unwrap()
                    .unwrap()
                    .generator,
                Some(GeneratorKind::Postgres)
            );

            // Rekey: only the stored value is a token; the generator's versions are left
            // as they are.
            let new = Keyring::parse(&format!("{},{old_key}", Keyring::generate_key())).unwrap();
            let report = secretstore_store::rekey::rekey(&store, &new, false, 2, |_, _| {})
                .await
                .unwrap();
            assert_eq!(
                (report.total, report.rewritten, report.unreadable),
                (1, 1, 0),
                "{}: {report:?}",
                db.kind
            );
            let (_, _, material) = store.material(&sc, &stored, None).await.unwrap();
            let token = material.ciphertext.unwrap();
            assert_eq!(
                new.decrypt_with_index(&token).unwrap().1,
                0,
                "under the new key"
            );
            reads(&v1).await;
            for (version, spec) in [(1, &v1), (2, &v2), (3, &v1)] {
                let (_, _, m) = store.material(&sc, &gen_name, Some(version)).await.unwrap();
                assert_eq!((m.generator.as_ref(), m.ciphertext), (Some(spec), None));
            }
            let again = secretstore_store::rekey::rekey(&store, &new, false, 2, |_, _| {})
                .await
                .unwrap();
            assert_eq!((again.total, again.rewritten), (1, 0), "{}", db.kind);
        }
    }

    /// The leaked mark of every read of a secret's metadata (metadata, lists, material,
    /// the candidates of a dispatch, the search), for each of `names` at `sc`.
    async fn leaked_marks(
        store: &SqlStore,
        sc: &ScopePath,
        names: &[&str],
    ) -> Vec<Vec<Option<timestamp::OffsetDateTime>>> {
        use secretstore_core::{Pattern, SearchStore};
        let mut out = Vec::new();
        for name in names {
            let n = SecretName::parse(name).unwrap();
            let meta = store.secret(sc, &n).await.unwrap().unwrap();
            let listed = store.list_secrets(sc).await.unwrap();
            let listed = listed.iter().find(|m| m.name == *name).unwrap();
            let (material_meta, _, _) = store.material(sc, &n, None).await.unwrap();
            let candidates = store
                .candidates(std::slice::from_ref(sc), std::slice::from_ref(&n))
                .await
                .unwrap();
            let found = store
                .find_secrets(None, &Pattern::parse(name).unwrap(), 10)
                .await
                .unwrap();
            let found = found.iter().find(|m| m.scope == *sc).unwrap();
            out.push(vec![
                meta.leaked_at,
                listed.leaked_at,
                material_meta.leaked_at,
                candidates[0].meta.leaked_at,
                found.leaked_at,
            ]);
        }
        out
    }

    /// A leak marks a secret only where the version found is still its current one (not
    /// an earlier version, not a secret that is gone), through every read; the next
    /// version written ends the mark; a brief keeps the time of its first leak; every
    /// audit record given is appended, whatever was marked.
    #[tokio::test(flavor = "current_thread")]
    async fn a_leak_marks_the_current_version_only_until_the_next_write_and_a_brief_once() {
        use secretstore_core::ports::{FoundVersion, LeakStore};
        use secretstore_core::{BriefsOf, DispatchStore};
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/pay/bot").await;
            let sc = scope("acme/pay");
            store
                .write_versions(vec![
                    write("acme/pay", "API_KEY", None, "gAAAA-k1"),
                    write("acme/pay", "OTHER", None, "gAAAA-o1"),
                ])
                .await
                .unwrap();
            store
                .write_versions(vec![write("acme/pay", "API_KEY", None, "gAAAA-k2")])
                .await
                .unwrap();
            let none = vec![None; 5];
            assert_eq!(
                leaked_marks(&store, &sc, &["API_KEY", "OTHER"]).await,
                [none.clone(), none.clone()],
                "{}",
                db.kind
            );
            let task = crate::common::task(&store, "acme/pay/bot").await;
            let brief = crate::common::dispatch(
                &store,
                &task,
                "acme/pay/bot",
                "2030-01-01T00:00:00Z",
                vec![("acme/pay".into(), "API_KEY".into(), 2, None)],
            )
            .await;
            let other_brief = crate::common::dispatch(
                &store,
                &task,
                "acme/pay/bot",
                "2030-01-01T00:00:01Z",
                vec![],
            )
            .await;
            let found = |name: &str, version| FoundVersion {
                scope: sc.clone(),
                name: SecretName::parse(name).unwrap(),
                version,
            };
            let leak_audits = |n: usize, target: &str| -> Vec<AuditEntry> {
                (0..n)
                    .map(|_| audit("secret.leaked").target(target.to_owned()))
                    .collect()
            };
            let marked = store
                .record_leaks(
                    &[
                        found("API_KEY", 1),
                        found("API_KEY", 2),
                        found("OTHER", 1),
                        found("GONE", 1),
                    ],
                    Some(&brief),
                    t(100),
                    leak_audits(3, "first-scan"),
                )
                .await
                .unwrap();
            assert_eq!(marked, [false, true, true, false], "{}", db.kind);
            let leaked = vec![Some(t(100)); 5];
            assert_eq!(
                leaked_marks(&store, &sc, &["API_KEY", "OTHER"]).await,
                [leaked.clone(), leaked.clone()],
                "{}",
                db.kind
            );
            assert_eq!(audited(&store, "secret.leaked", "first-scan").await, 3);
            // The brief's mark, in its record and in every list; not the other brief's.
            let brief_marks = async |id: &secretstore_core::BriefId| {
                let rec = store.dispatch_record(id).await.unwrap();
                let recent = store.recent_briefs(None, 100).await.unwrap();
                let of_task = store.briefs_of(BriefsOf::Task(&task), 100).await.unwrap();
                let of_project = store
                    .briefs_of(BriefsOf::Project(&scope("acme/pay/bot")), 100)
                    .await
                    .unwrap();
                let pick = |l: &[secretstore_core::BriefSummary]| {
                    l.iter()
                        .find(|b| b.brief_id == id.as_str())
                        .unwrap()
                        .leaked_at
                };
                vec![
                    rec.leaked_at,
                    pick(&recent),
                    pick(&of_task),
                    pick(&of_project),
                ]
            };
            assert_eq!(brief_marks(&brief).await, [Some(t(100)); 4], "{}", db.kind);
            assert_eq!(brief_marks(&other_brief).await, [None; 4], "{}", db.kind);

            // Found again later: still marked; the brief keeps its first leak's time.
            let marked = store
                .record_leaks(
                    &[found("API_KEY", 2)],
                    Some(&brief),
                    t(200),
                    leak_audits(1, "second-scan"),
                )
                .await
                .unwrap();
            assert_eq!(marked, [true], "{}", db.kind);
            assert_eq!(brief_marks(&brief).await, [Some(t(100)); 4], "{}", db.kind);
            assert!(
                leaked_marks(&store, &sc, &["API_KEY"]).await[0]
                    .iter()
                    .all(Option::is_some)
            );
            assert_eq!(audited(&store, "secret.leaked", "second-scan").await, 1);

            // The next version ends the mark (the other secret keeps its own).
            store
                .write_versions(vec![write("acme/pay", "API_KEY", None, "gAAAA-k3")])
                .await
                .unwrap();
            let marks = leaked_marks(&store, &sc, &["API_KEY", "OTHER"]).await;
            assert_eq!(marks[0], none, "{}", db.kind);
            assert_eq!(marks[1], leaked, "{}", db.kind);
            // The version that leaked is no longer current: nothing is marked, and the
            // audit records are still appended.
            let marked = store
                .record_leaks(
                    &[found("API_KEY", 2)],
                    None,
                    t(300),
                    leak_audits(2, "stale-scan"),
                )
                .await
                .unwrap();
            assert_eq!(marked, [false], "{}", db.kind);
            assert_eq!(
                leaked_marks(&store, &sc, &["API_KEY"]).await[0],
                none,
                "{}",
                db.kind
            );
            assert_eq!(audited(&store, "secret.leaked", "stale-scan").await, 2);
            // Nothing found, no brief: nothing to mark.
            let marked = store
                .record_leaks(&[], None, t(400), Vec::new())
                .await
                .unwrap();
            assert!(marked.is_empty());
        }
    }

    /// A secret's maximum age: none for a new secret written without one, as given
    /// otherwise; kept by a later write without one, changed by a write with one, cleared
    /// by `Some(0)`; the same through every read.
    #[tokio::test(flavor = "current_thread")]
    async fn a_maximum_age_is_kept_without_one_set_with_one_and_cleared_by_zero() {
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/platform").await;
            let sc = scope("acme/platform");
            let with = |name: &str, every: Option<i64>, token: &str| NewVersion {
                rotate_every_secs: every,
                ..write("acme/platform", name, None, token)
            };
            let reads = async |name: &str| -> Vec<Option<i64>> {
                let n = SecretName::parse(name).unwrap();
                let meta = store.secret(&sc, &n).await.unwrap().unwrap();
                let listed = store.list_secrets(&sc).await.unwrap();
                let listed = listed.iter().find(|m| m.name == name).unwrap();
                let (material_meta, _, _) = store.material(&sc, &n, None).await.unwrap();
                let candidates = store
                    .candidates(&[scope("acme"), sc.clone()], std::slice::from_ref(&n))
                    .await
                    .unwrap();
                vec![
                    meta.rotate_every_secs,
                    listed.rotate_every_secs,
                    material_meta.rotate_every_secs,
                    candidates[0].meta.rotate_every_secs,
                ]
            };
            store
                .write_versions(vec![
                    with("AGED", Some(3600), "a1"),
                    with("PLAIN", None, "p1"),
                    with("ZERO", Some(0), "z1"),
                ])
                .await
                .unwrap();
            assert_eq!(reads("AGED").await, [Some(3600); 4], "{}", db.kind);
            assert_eq!(reads("PLAIN").await, [None; 4], "{}", db.kind);
            assert_eq!(reads("ZERO").await, [None; 4], "{}", db.kind);
            // Kept without one.
            store
                .write_versions(vec![with("AGED", None, "a2")])
                .await
                .unwrap();
            assert_eq!(reads("AGED").await, [Some(3600); 4], "{}", db.kind);
            // Changed with one, set on a secret that had none.
            store
                .write_versions(vec![
                    with("AGED", Some(86_400), "a3"),
                    with("PLAIN", Some(30), "p2"),
                ])
                .await
                .unwrap();
            assert_eq!(reads("AGED").await, [Some(86_400); 4], "{}", db.kind);
            assert_eq!(reads("PLAIN").await, [Some(30); 4], "{}", db.kind);
            // Cleared by zero, and stays cleared by a write without one.
            store
                .write_versions(vec![with("AGED", Some(0), "a4")])
                .await
                .unwrap();
            assert_eq!(reads("AGED").await, [None; 4], "{}", db.kind);
            store
                .write_versions(vec![with("AGED", None, "a5")])
                .await
                .unwrap();
            assert_eq!(reads("AGED").await, [None; 4], "{}", db.kind);
            let meta = store
                .secret(&sc, &SecretName::parse("AGED").unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(meta.version, 5, "{}", db.kind);
        }
    }

    /// A scan reads every version (current and earlier) of every stored secret at or
    /// under its roots, with its material and backend, by scope, name and version: not a
    /// sibling's (nor one whose path merely starts the same), not a generator's.
    #[tokio::test(flavor = "current_thread")]
    async fn a_scan_reads_every_version_under_its_roots_and_no_generator() {
        use secretstore_core::ports::LeakStore;
        for db in databases() {
            let store = db.open().await;
            for s in ["acme/pay/prod", "acme/payroll", "acme/ops"] {
                scopes(&store, s).await;
            }
            store
                .write_versions(vec![
                    write("acme", "ORG_KEY", None, "gAAAA-org"),
                    write("acme/pay", "A_KEY", None, "gAAAA-a1"),
                    write("acme/pay/prod", "B_KEY", None, "gAAAA-b1"),
                    write("acme/payroll", "C_KEY", None, "gAAAA-c1"),
                    write("acme/ops", "D_KEY", None, "gAAAA-d1"),
                    generator_write("acme/pay", "PG_RO", pg_spec("A_KEY", 3600), None),
                    NewVersion {
                        backend: BackendKind::AwsSm,
                        material: StoredMaterial {
                            backend_ref: Some("arn:aws:secretsmanager:x:1:secret:l".into()),
                            backend_version: Some("v-1".into()),
                            ..StoredMaterial::default()
                        },
                        ..write("acme/pay", "LINKED", None, "unused")
                    },
                ])
                .await
                .unwrap();
            store
                .write_versions(vec![
                    write("acme/pay", "A_KEY", None, "gAAAA-a2"),
                    generator_write("acme/pay", "PG_RO", pg_spec("A_KEY", 900), None),
                ])
                .await
                .unwrap();
            let shape = |all: Vec<secretstore_core::ports::ScanMaterial>| -> Vec<String> {
                all.iter()
                    .map(|m| {
                        assert!(m.material.generator.is_none());
                        format!(
                            "{} {} v{}{} {} {}",
                            m.scope,
                            m.name,
                            m.version,
                            if m.current { " current" } else { "" },
                            m.backend.as_str(),
                            m.material
                                .ciphertext
                                .as_deref()
                                .or(m.material.backend_ref.as_deref())
                                .unwrap_or("-"),
                        )
                    })
                    .collect()
            };
            let pay = store
                .scan_materials(Some(&[scope("acme/pay")]))
                .await
                .unwrap();
            assert_eq!(
                shape(pay),
                [
                    "acme/pay A_KEY v1 local gAAAA-a1",
                    "acme/pay A_KEY v2 current local gAAAA-a2",
                    "acme/pay LINKED v1 current aws_sm arn:aws:secretsmanager:x:1:secret:l",
                    "acme/pay/prod B_KEY v1 current local gAAAA-b1",
                ],
                "{}",
                db.kind
            );
            let two = store
                .scan_materials(Some(&[scope("acme/ops"), scope("acme/pay/prod")]))
                .await
                .unwrap();
            assert_eq!(
                shape(two),
                [
                    "acme/ops D_KEY v1 current local gAAAA-d1",
                    "acme/pay/prod B_KEY v1 current local gAAAA-b1",
                ],
                "{}",
                db.kind
            );
            let all = shape(store.scan_materials(None).await.unwrap());
            assert_eq!(all.len(), 7, "{}: {all:?}", db.kind);
            assert_eq!(all[0], "acme ORG_KEY v1 current local gAAAA-org");
            assert!(all.iter().any(|m| m.starts_with("acme/payroll C_KEY v1")));
            assert!(!all.iter().any(|m| m.contains("PG_RO")), "{all:?}");
            assert!(store.scan_materials(Some(&[])).await.unwrap().is_empty());
            // The linked version keeps the backend version it was written with.
            let linked = store
                .scan_materials(Some(&[scope("acme/pay")]))
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.name.as_str() == "LINKED")
                .unwrap();
            assert_eq!(linked.material.backend_version.as_deref(), Some("v-1"));
        }
    }

    /// Rotation policies: set, replaced, removed (removing none is no error), listed by
    /// scope then category, each change audited; at an unknown scope, not found and
    /// nothing recorded.
    #[tokio::test(flavor = "current_thread")]
    async fn rotation_policies_are_set_replaced_and_removed_with_their_audit_records() {
        use secretstore_core::ports::{LeakStore, RotationPolicy};
        for db in databases() {
            let store = db.open().await;
            scopes(&store, "acme/pay").await;
            assert!(store.rotation_policies().await.unwrap().is_empty());
            let set = async |s: &str, c: Category, every: Option<i64>| {
                store
                    .set_rotation_policy(
                        &scope(s),
                        c,
                        every,
                        audit("rotation.set").target(format!("{s} {}", c.as_str())),
                    )
                    .await
            };
            let listed = async || -> Vec<(String, Category, i64)> {
                store
                    .rotation_policies()
                    .await
                    .unwrap()
                    .into_iter()
                    .map(
                        |RotationPolicy {
                             scope,
                             category,
                             every_secs,
                         }| { (scope.to_string(), category, every_secs) },
                    )
                    .collect()
            };
            set("acme/pay", Category::Provider, Some(3600))
                .await
                .unwrap();
            set("acme", Category::Infrastructure, Some(86_400))
                .await
                .unwrap();
            set("acme/pay", Category::Agent, Some(60)).await.unwrap();
            assert_eq!(
                listed().await,
                [
                    ("acme".into(), Category::Infrastructure, 86_400),
                    ("acme/pay".into(), Category::Agent, 60),
                    ("acme/pay".into(), Category::Provider, 3600),
                ],
                "{}",
                db.kind
            );
            // Replaced: one policy per scope and category.
            set("acme/pay", Category::Provider, Some(7200))
                .await
                .unwrap();
            assert_eq!(
                listed().await,
                [
                    ("acme".into(), Category::Infrastructure, 86_400),
                    ("acme/pay".into(), Category::Agent, 60),
                    ("acme/pay".into(), Category::Provider, 7200),
                ],
                "{}",
                db.kind
            );
            assert_eq!(
                audited(&store, "rotation.set", "acme/pay provider").await,
                2,
                "{}",
                db.kind
            );
            // Removed; removing one that is not there changes nothing.
            set("acme/pay", Category::Agent, None).await.unwrap();
            set("acme/pay", Category::Integration, None).await.unwrap();
            assert_eq!(
                listed().await,
                [
                    ("acme".into(), Category::Infrastructure, 86_400),
                    ("acme/pay".into(), Category::Provider, 7200),
                ],
                "{}",
                db.kind
            );
            assert_eq!(audited(&store, "rotation.set", "acme/pay agent").await, 2);
            // An unknown scope: not found, nothing recorded.
            let unknown = set("acme/nope", Category::Provider, Some(3600)).await;
            assert!(
                matches!(unknown, Err(Error::NotFound(_))),
                "{}: {unknown:?}",
                db.kind
            );
            assert_eq!(
                audited(&store, "rotation.set", "acme/nope provider").await,
                0
            );
            assert_eq!(listed().await.len(), 2);
        }
    }
}
