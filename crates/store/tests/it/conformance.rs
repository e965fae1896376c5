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
}
