//! Table-driven authorization (SPEC §6): every caller × every route × (own team, other
//! team, organization-wide, another organization, missing) → the expected HTTP status.
//!
//! Every row runs; every mismatch is collected and the test fails once, listing them all.
//! Besides the status, each answer is checked for the error shape, for secret values in
//! answers that must not carry them, and for unknown and revoked tokens getting the same
//! body. Hidden scopes are compared with never-created ones, body for body.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

const OK: u16 = 200;
const NEW: u16 = 201;
const GONE: u16 = 204;
const UNAUTH: u16 = 401;
const DENY: u16 = 403;
const NF: u16 = 404;
/// A backend's answer (here: Vault has no such entry).
const BAD_GW: u16 = 502;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Root,
    /// admin acme
    Admin,
    /// member acme/platform
    Member,
    /// dispatcher acme (a service account)
    Dispatcher,
    /// member globex/sales
    Outsider,
    /// an account without any role
    Nobody,
    /// no Authorization header
    NoToken,
    /// `sst_` and garbage
    Unknown,
    /// a revoked token of the admin
    Revoked,
}
use Who::*;

/// The callers with a valid token, in the order of every expectation array below:
/// `[root, admin, member, dispatcher, outsider, nobody]`.
const ROLES: [Who; 6] = [Root, Admin, Member, Dispatcher, Outsider, Nobody];
/// Added to every route with 401.
const UNAUTHENTICATED: [Who; 3] = [NoToken, Unknown, Revoked];

type Expect = [u16; 6];

impl Who {
    fn slug(self) -> &'static str {
        match self {
            Root => "root",
            Admin => "admin",
            Member => "member",
            Dispatcher => "dispatcher",
            Outsider => "outsider",
            Nobody => "nobody",
            NoToken => "notoken",
            Unknown => "unknown",
            Revoked => "revoked",
        }
    }
}

// The fixture's scopes.
const ORG: &str = "acme";
const TEAM: &str = "acme/platform";
const WS: &str = "acme/platform/dev";
const PROJECT: &str = "acme/platform/dev/agent-x";
const OTHER_TEAM: &str = "acme/other";
const OTHER_WS: &str = "acme/other/dev";
const OTHER_PROJECT: &str = "acme/other/dev/bot";
/// A team whose path starts with the member's team path: still another team.
const LOOKALIKE_TEAM: &str = "acme/platform-x";
const GLOBEX: &str = "globex";
const GLOBEX_TEAM: &str = "globex/sales";
const GLOBEX_WS: &str = "globex/sales/dev";
const GLOBEX_PROJECT: &str = "globex/sales/dev/g-proj";
// Never created.
const MISSING_ORG: &str = "initech";
const MISSING_TEAM: &str = "acme/nonexistent";
const MISSING_WS: &str = "acme/platform/nope";
const MISSING_OTHER_WS: &str = "acme/other/nope";
const MISSING_PROJECT: &str = "acme/platform/dev/nope";
const MISSING_ID: &str = "00000000-0000-4000-8000-000000000000";

/// Where the fixture holds a `DB_URL` (and a throwaway `DEL_<CALLER>` per caller).
const SECRET_SCOPES: [&str; 7] = [ORG, TEAM, WS, OTHER_TEAM, OTHER_WS, LOOKALIKE_TEAM, GLOBEX];

/// The value of `DB_URL` at a scope: distinct, so a leak names its scope.
fn value_at(scope: &str) -> String {
    format!("db-url-value-of-{}", scope.replace('/', "-"))
}

/// `@who` and `@WHO` become the caller's name, so rows that create something do not
/// collide and every caller deletes its own throwaway secret.
fn fill(s: &str, who: Who) -> String {
    s.replace("@who", who.slug())
        .replace("@WHO", &who.slug().to_uppercase())
}

struct Row {
    /// Which `Table::add` made it: the rows of one route for every caller.
    route: usize,
    who: Who,
    method: &'static str,
    uri: String,
    body: Option<Value>,
    expect: u16,
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
    routes: usize,
}

impl Table {
    /// One route for every caller: `expect` for [`ROLES`], 401 for [`UNAUTHENTICATED`].
    fn add(&mut self, method: &'static str, uri: &str, body: Option<Value>, expect: Expect) {
        self.add_per_caller(method, |who| fill(uri, who), body, expect);
    }

    /// [`add`](Self::add) with a URI of each caller's own (a thing each one acts on).
    fn add_per_caller(
        &mut self,
        method: &'static str,
        uri: impl Fn(Who) -> String,
        body: Option<Value>,
        expect: Expect,
    ) {
        let callers = ROLES
            .into_iter()
            .zip(expect)
            .chain(UNAUTHENTICATED.into_iter().map(|w| (w, UNAUTH)));
        for (who, expect) in callers {
            self.rows.push(Row {
                route: self.routes,
                who,
                method,
                uri: uri(who),
                body: body
                    .as_ref()
                    .map(|b| serde_json::from_str(&fill(&b.to_string(), who)).unwrap()),
                expect,
            });
        }
        self.routes += 1;
    }
}

struct Fixture {
    h: Harness,
    tokens: HashMap<Who, String>,
    own_task: String,
    other_task: String,
    globex_task: String,
    own_brief: String,
    other_brief: String,
    globex_brief: String,
    /// A lease minted for a brief of each project (own, other team's, globex's): (lease,
    /// brief).
    own_lease: (String, String),
    other_lease: (String, String),
    globex_lease: (String, String),
    /// A token of the `spare` account, revoked by root in the table.
    spare_token_id: String,
    /// Per caller, a web UI session of the member that this caller tries to end.
    member_sessions: HashMap<Who, String>,
    /// Per caller, a web UI session of the admin that this caller tries to end.
    admin_sessions: HashMap<Who, String>,
    /// secretstore's own Vault reference of a secret of acme/other (made in the fixture).
    other_teams_vault_ref: String,
    /// A Vault reference outside secretstore's paths that does not exist.
    nowhere_vault_ref: String,
}

impl Fixture {
    fn token(&self, who: Who) -> Option<&str> {
        self.tokens.get(&who).map(String::as_str)
    }

    async fn call(&self, who: Who, method: &str, uri: &str, body: Option<Value>) -> Answer {
        self.h.call(method, uri, self.token(who), body).await
    }
}

async fn fixture() -> Fixture {
    let mut h = Harness::with_minters(vec![
        FakeMinter::new(secretstore_core::GeneratorKind::Postgres),
        FakeMinter::new(secretstore_core::GeneratorKind::AwsSts),
    ])
    .await;
    // The table tries unknown and revoked tokens on every route, far past the brute-force
    // limit (tested in api.rs): here the limit is out of the way.
    h.state = h
        .state
        .clone()
        .with_limits(secretstore_server::limit::Limits {
            failures: u32::MAX,
            ..Default::default()
        });
    h.app = secretstore_server::app(h.state.clone());
    for s in [
        ORG,
        TEAM,
        WS,
        PROJECT,
        OTHER_TEAM,
        OTHER_WS,
        OTHER_PROJECT,
        LOOKALIKE_TEAM,
        GLOBEX,
        GLOBEX_TEAM,
        GLOBEX_WS,
        GLOBEX_PROJECT,
    ] {
        h.scope(s).await;
    }
    for s in SECRET_SCOPES {
        h.secret(s, "DB_URL", &value_at(s)).await;
        for who in ROLES.into_iter().chain(UNAUTHENTICATED) {
            h.secret(s, &fill("DEL_@WHO", who), "throwaway").await;
        }
    }

    let root = h.root.clone();
    let r = Some(root.as_str());
    let mut tokens = HashMap::new();
    tokens.insert(Root, root.clone());
    tokens.insert(Admin, h.account("admin", Some(("admin", Some(ORG)))).await);
    tokens.insert(
        Member,
        h.account("member", Some(("member", Some(TEAM)))).await,
    );
    tokens.insert(
        Outsider,
        h.account("outsider", Some(("member", Some(GLOBEX_TEAM))))
            .await,
    );
    tokens.insert(Nobody, h.account("nobody", None).await);

    // The dispatcher is a service account.
    let a = h
        .call(
            "POST",
            "/api/v1/accounts",
            r,
            Some(json!({"name": "dispatcher", "kind": "service"})),
        )
        .await;
    assert_eq!(a.status.as_u16(), NEW, "{}", a.text);
    assert_eq!(a.json["kind"], "service", "{}", a.text);
    let a = h
        .call(
            "POST",
            "/api/v1/accounts/dispatcher/grants",
            r,
            Some(json!({"role": "dispatcher", "scope": ORG})),
        )
        .await;
    assert_eq!(a.status.as_u16(), OK, "{}", a.text);
    let a = h
        .call("POST", "/api/v1/accounts/dispatcher/tokens", r, None)
        .await;
    assert_eq!(a.status.as_u16(), NEW, "{}", a.text);
    tokens.insert(Dispatcher, a.json["token"].as_str().unwrap().to_string());

    tokens.insert(
        Unknown,
        "sst_bm90LWEtcmVhbC10b2tlbi1qdXN0LWdhcmJhZ2UtMDAwMDAw".to_string(),
    );

    // A second token of the admin, revoked: it must be worth nothing.
    let a = h
        .call("POST", "/api/v1/accounts/admin/tokens", r, None)
        .await;
    assert_eq!(a.status.as_u16(), NEW, "{}", a.text);
    let revoked = a.json["token"].as_str().unwrap().to_string();
    let listed = h
        .call("GET", "/api/v1/accounts/admin/tokens", r, None)
        .await;
    assert_eq!(listed.status.as_u16(), OK, "{}", listed.text);
    let tokens_of_admin = listed.json["tokens"].as_array().unwrap();
    assert_eq!(tokens_of_admin.len(), 2, "{}", listed.text);
    let id = a.json["id"].as_str().unwrap();
    assert!(
        tokens_of_admin.iter().any(|t| t["id"] == id),
        "{}",
        listed.text
    );
    let a = h
        .call("DELETE", &format!("/api/v1/tokens/{id}"), r, None)
        .await;
    assert_eq!(a.status.as_u16(), GONE, "{}", a.text);
    let listed = h
        .call("GET", "/api/v1/accounts/admin/tokens", r, None)
        .await;
    let entry = listed.json["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap();
    assert!(entry["revoked_at"].is_string(), "{}", listed.text);
    tokens.insert(Revoked, revoked);

    // `spare`: the target of the grant and token rows.
    let a = h
        .call(
            "POST",
            "/api/v1/accounts",
            r,
            Some(json!({"name": "spare"})),
        )
        .await;
    assert_eq!(a.status.as_u16(), NEW, "{}", a.text);
    let a = h
        .call("POST", "/api/v1/accounts/spare/tokens", r, None)
        .await;
    assert_eq!(a.status.as_u16(), NEW, "{}", a.text);
    let spare_token_id = a.json["id"].as_str().unwrap().to_string();

    // One task per project, each dispatched once by root.
    let mut ids = Vec::new();
    for project in [PROJECT, OTHER_PROJECT, GLOBEX_PROJECT] {
        let a = h
            .call(
                "POST",
                "/api/v1/tasks",
                r,
                Some(json!({"project": project, "secret_refs": ["DB_URL"]})),
            )
            .await;
        assert_eq!(a.status.as_u16(), NEW, "{}", a.text);
        let task = a.json["id"].as_str().unwrap().to_string();
        let d = h
            .call("POST", &format!("/api/v1/tasks/{task}/dispatch"), r, None)
            .await;
        assert_eq!(d.status.as_u16(), OK, "{}", d.text);
        ids.push((task, d.json["brief_id"].as_str().unwrap().to_string()));
    }
    let [
        (own_task, own_brief),
        (other_task, other_brief),
        (globex_task, globex_brief),
    ] = <[(String, String); 3]>::try_from(ids).unwrap();

    // An aws_sts generator at each organization, and a brief per project that minted a
    // lease of it.
    for org in [ORG, GLOBEX] {
        let a = h
            .call(
                "PUT",
                &format!("/api/v1/secrets/GEN_STS/generator?scope={org}"),
                r,
                Some(json!({"generator": "aws_sts", "role_arn": "arn:aws:iam::123456789012:role/authz"})),
            )
            .await;
        assert_eq!(a.status.as_u16(), OK, "{}", a.text);
    }
    let mut minted = Vec::new();
    for project in [PROJECT, OTHER_PROJECT, GLOBEX_PROJECT] {
        let a = h
            .call(
                "POST",
                "/api/v1/tasks",
                r,
                Some(json!({"project": project, "secret_refs": ["GEN_STS"]})),
            )
            .await;
        assert_eq!(a.status.as_u16(), NEW, "{}", a.text);
        let task = a.json["id"].as_str().unwrap().to_string();
        let d = h
            .call("POST", &format!("/api/v1/tasks/{task}/dispatch"), r, None)
            .await;
        assert_eq!(d.status.as_u16(), OK, "{}", d.text);
        let brief = d.json["brief_id"].as_str().unwrap().to_string();
        let l = h
            .call("GET", &format!("/api/v1/leases?brief={brief}"), r, None)
            .await;
        assert_eq!(l.status.as_u16(), OK, "{}", l.text);
        let lease = l.json["leases"][0]["id"].as_str().unwrap().to_string();
        minted.push((lease, brief));
    }
    let [own_lease, other_lease, globex_lease] = <[(String, String); 3]>::try_from(minted).unwrap();

    // Web UI sessions, signed in as the UI does, one per caller that will try to end it.
    let mut member_sessions = HashMap::new();
    let mut admin_sessions = HashMap::new();
    for who in ROLES.into_iter().chain(UNAUTHENTICATED) {
        for (account, map) in [(Member, &mut member_sessions), (Admin, &mut admin_sessions)] {
            let s = h
                .state
                .svc
                .login(&tokens[&account], "test", 3600)
                .await
                .unwrap();
            map.insert(who, s.public_id);
        }
    }
    // A Vault value that secretstore wrote for acme/other, straight through the backend
    // (unique per run: the OpenBao server is shared).
    let unique = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let vault = h
        .state
        .svc
        .backends
        .get(secretstore_core::BackendKind::Vault)
        .expect("SECRETSTORE_TEST_VAULT_ADDR is not set: run the tests with scripts/test.sh")
        .clone();
    let scope = secretstore_core::ScopePath::parse(OTHER_TEAM).unwrap();
    let name = secretstore_core::SecretName::parse(&format!("LINK_SRC_{unique}")).unwrap();
    let value = secretstore_core::SecretValue::new(value_at("vault-of-acme-other")).unwrap();
    let m = vault.write(&scope, &name, &value, None).await.unwrap();
    let other_teams_vault_ref = m.material.backend_ref.unwrap();
    let nowhere_vault_ref = format!("secret/authz-nowhere-{unique}/x#v");

    Fixture {
        h,
        tokens,
        member_sessions,
        admin_sessions,
        other_teams_vault_ref,
        nowhere_vault_ref,
        own_task,
        other_task,
        globex_task,
        own_brief,
        other_brief,
        globex_brief,
        own_lease,
        other_lease,
        globex_lease,
        spare_token_id,
    }
}

/// The whole table.
fn table(f: &Fixture) -> Table {
    let mut t = Table::default();
    let ok_to = |e: Expect, to: u16| e.map(|s| if s == OK { to } else { s });

    // ── Scopes ──────────────────────────────────────────────────────────────────────
    //                                                     root  admin member disp outsider nobody
    #[rustfmt::skip]
    let scopes: [(&str, Expect); 17] = [
        ("/api/v1/orgs/org-@who",                          [NEW, DENY, DENY, DENY, DENY, DENY]),
        ("/api/v1/orgs/acme",                              [OK,  DENY, DENY, DENY, DENY, DENY]),
        ("/api/v1/orgs/globex",                            [OK,  DENY, DENY, DENY, DENY, DENY]),
        ("/api/v1/teams/acme/team-@who",                   [NEW, NEW,  DENY, DENY, NF,   NF]),
        ("/api/v1/teams/acme/platform",                    [OK,  OK,   DENY, DENY, NF,   NF]),
        ("/api/v1/teams/acme/other",                       [OK,  OK,   DENY, DENY, NF,   NF]),
        ("/api/v1/teams/globex/team-@who",                 [NEW, NF,   NF,   NF,   DENY, NF]),
        ("/api/v1/teams/initech/team-@who",                [NF,  NF,   NF,   NF,   NF,   NF]),
        ("/api/v1/workspaces/acme/platform/ws-@who",       [NEW, NEW,  NEW,  DENY, NF,   NF]),
        ("/api/v1/workspaces/acme/platform/dev",           [OK,  OK,   OK,   DENY, NF,   NF]),
        ("/api/v1/workspaces/acme/other/ws-@who",          [NEW, NEW,  NF,   DENY, NF,   NF]),
        ("/api/v1/workspaces/acme/platform-x/ws-@who",     [NEW, NEW,  NF,   DENY, NF,   NF]),
        ("/api/v1/workspaces/globex/sales/ws-@who",        [NEW, NF,   NF,   NF,   NEW,  NF]),
        ("/api/v1/workspaces/acme/nonexistent/ws-@who",    [NF,  NF,   NF,   DENY, NF,   NF]),
        ("/api/v1/projects/acme/platform/dev/p-@who",      [NEW, NEW,  NEW,  DENY, NF,   NF]),
        ("/api/v1/projects/acme/other/dev/p-@who",         [NEW, NEW,  NF,   DENY, NF,   NF]),
        ("/api/v1/projects/acme/platform/nope/p-@who",     [NF,  NF,   NF,   DENY, NF,   NF]),
    ];
    for (uri, expect) in scopes {
        t.add("PUT", uri, None, expect);
    }
    t.add("GET", "/api/v1/scopes", None, [OK; 6]);
    t.add("GET", "/api/v1/secrets", None, [OK; 6]);
    t.add("GET", "/api/v1/whoami", None, [OK; 6]);

    // ── Secrets, per scope ──────────────────────────────────────────────────────────
    // Metadata (list, get, versions); a value; a write (put, roll back, delete).
    //                         root admin member disp outsider nobody
    #[rustfmt::skip]
    let secrets: [(&str, Expect, Expect, Expect); 10] = [
        // Organization-wide: a member reads it, values too, but does not write it.
        (ORG,              [OK, OK, OK, OK, NF, NF], [OK, OK, OK, DENY, NF, NF], [OK, OK, DENY, DENY, NF, NF]),
        // Own team and workspace.
        (TEAM,             [OK, OK, OK, OK, NF, NF], [OK, OK, OK, DENY, NF, NF], [OK, OK, OK,   DENY, NF, NF]),
        (WS,               [OK, OK, OK, OK, NF, NF], [OK, OK, OK, DENY, NF, NF], [OK, OK, OK,   DENY, NF, NF]),
        // Another team of the same organization.
        (OTHER_TEAM,       [OK, OK, NF, OK, NF, NF], [OK, OK, NF, DENY, NF, NF], [OK, OK, NF,   DENY, NF, NF]),
        (OTHER_WS,         [OK, OK, NF, OK, NF, NF], [OK, OK, NF, DENY, NF, NF], [OK, OK, NF,   DENY, NF, NF]),
        (LOOKALIKE_TEAM,   [OK, OK, NF, OK, NF, NF], [OK, OK, NF, DENY, NF, NF], [OK, OK, NF,   DENY, NF, NF]),
        // Another organization: the outsider's organization-wide scope.
        (GLOBEX,           [OK, NF, NF, NF, OK, NF], [OK, NF, NF, NF,   OK, NF], [OK, NF, NF,   NF, DENY, NF]),
        // Never created: 404 for all who could see it, and for all who could not; a
        // dispatcher is refused a value or a write before existence is looked at.
        (MISSING_ORG,      [NF, NF, NF, NF, NF, NF], [NF, NF, NF, NF,   NF, NF], [NF, NF, NF,   NF,   NF, NF]),
        (MISSING_TEAM,     [NF, NF, NF, NF, NF, NF], [NF, NF, NF, DENY, NF, NF], [NF, NF, NF,   DENY, NF, NF]),
        (MISSING_WS,       [NF, NF, NF, NF, NF, NF], [NF, NF, NF, DENY, NF, NF], [NF, NF, NF,   DENY, NF, NF]),
    ];
    for (s, meta, value, write) in secrets {
        t.add("GET", &format!("/api/v1/secrets?scope={s}"), None, meta);
        t.add(
            "GET",
            &format!("/api/v1/secrets/DB_URL?scope={s}"),
            None,
            meta,
        );
        t.add(
            "GET",
            &format!("/api/v1/secrets/DB_URL/versions?scope={s}"),
            None,
            meta,
        );
        t.add(
            "GET",
            &format!("/api/v1/secrets/DB_URL/value?scope={s}"),
            None,
            value,
        );
        t.add(
            "GET",
            &format!("/api/v1/secrets/DB_URL/value?scope={s}&version=1"),
            None,
            value,
        );
        // A new secret (the scope must exist) and a new version of an existing one.
        t.add(
            "PUT",
            &format!("/api/v1/secrets/NEW_@WHO?scope={s}"),
            Some(json!({"value": "written-by-@who", "category": "agent"})),
            write,
        );
        t.add(
            "PUT",
            &format!("/api/v1/secrets/DEL_@WHO?scope={s}"),
            Some(json!({"value": "rewritten-by-@who"})),
            write,
        );
        t.add(
            "POST",
            &format!("/api/v1/secrets/DB_URL/rollback?scope={s}"),
            Some(json!({"to": 1})),
            write,
        );
        t.add(
            "DELETE",
            &format!("/api/v1/secrets/DEL_@WHO?scope={s}"),
            None,
            ok_to(write, GONE),
        );
    }

    // ── Links (SPEC §7): nobody but root links another scope's own reference, nor one
    // outside the organization's allowed prefixes (none here); the refusal comes before
    // the backend is asked, so a reference that does not exist is refused the same way.
    //                                  root admin member disp outsider nobody
    #[rustfmt::skip]
    let links: [(&str, &str, &str, Expect); 6] = [
        (TEAM,        "LINKO", &f.other_teams_vault_ref, [OK, DENY, DENY, DENY, NF, NF]),
        (WS,          "LINKO", &f.other_teams_vault_ref, [OK, DENY, DENY, DENY, NF, NF]),
        // The owner's own scope may link its own reference.
        (OTHER_TEAM,  "LINKO", &f.other_teams_vault_ref, [OK, OK,   NF,   DENY, NF, NF]),
        (GLOBEX_TEAM, "LINKO", &f.other_teams_vault_ref, [OK, NF,   NF,   NF,   DENY, NF]),
        (TEAM,        "LINKN", &f.nowhere_vault_ref,     [BAD_GW, DENY, DENY, DENY, NF, NF]),
        (MISSING_WS,  "LINKN", &f.nowhere_vault_ref,     [NF, NF,   NF,   DENY, NF, NF]),
    ];
    for (scope, name, reference, expect) in links {
        t.add(
            "POST",
            &format!("/api/v1/secrets/{name}_@WHO/link?scope={scope}"),
            Some(json!({"vault_path": reference, "category": "agent"})),
            expect,
        );
    }
    // Which references an organization may link: root writes, root and its admins read.
    //                                               root  admin member disp outsider nobody
    #[rustfmt::skip]
    let prefixes: [(&str, Expect, Expect); 3] = [
        ("/api/v1/orgs/acme/link-prefixes",    [OK, OK, DENY, DENY, NF, NF],   [OK, DENY, DENY, DENY, NF, NF]),
        ("/api/v1/orgs/globex/link-prefixes",  [OK, NF, NF,   NF,   DENY, NF], [OK, NF,   NF,   NF,   DENY, NF]),
        ("/api/v1/orgs/initech/link-prefixes", [NF; 6],                         [NF; 6]),
    ];
    for (uri, read, write) in prefixes {
        t.add("GET", uri, None, read);
        t.add(
            "PUT",
            uri,
            Some(json!({"aws_prefixes": [], "vault_prefixes": []})),
            write,
        );
    }

    // An organization's delivery policy: whoever sees it reads it; its admins and root
    // set it (set to what it is, so the rows after it dispatch as before).
    //                                       root  admin member disp outsider nobody
    #[rustfmt::skip]
    let policies: [(&str, Expect, Expect); 3] = [
        ("/api/v1/orgs/acme/policy",    [OK, OK, OK, OK, NF, NF],   [OK, OK, DENY, DENY, NF, NF]),
        ("/api/v1/orgs/globex/policy",  [OK, NF, NF, NF, OK, NF],   [OK, NF, NF,   NF,   DENY, NF]),
        ("/api/v1/orgs/initech/policy", [NF; 6],                    [NF; 6]),
    ];
    for (uri, read, write) in policies {
        t.add("GET", uri, None, read);
        t.add("PUT", uri, Some(json!({"sealed_only": false})), write);
    }

    // ── Tasks, dispatch, briefs, per project ────────────────────────────────────────
    //                          root admin member disp outsider nobody
    #[rustfmt::skip]
    let projects: [(&str, &str, &str, Expect); 4] = [
        (PROJECT,         &f.own_task,    &f.own_brief,    [OK, OK, OK, OK, NF, NF]),
        (OTHER_PROJECT,   &f.other_task,  &f.other_brief,  [OK, OK, NF, OK, NF, NF]),
        (GLOBEX_PROJECT,  &f.globex_task, &f.globex_brief, [OK, NF, NF, NF, OK, NF]),
        (MISSING_PROJECT, MISSING_ID,     MISSING_ID,      [NF, NF, NF, NF, NF, NF]),
    ];
    for (project, task, brief, expect) in projects {
        t.add(
            "POST",
            "/api/v1/tasks",
            Some(json!({"project": project, "secret_refs": ["DB_URL"]})),
            ok_to(expect, NEW),
        );
        t.add("GET", &format!("/api/v1/tasks/{task}"), None, expect);
        t.add(
            "POST",
            &format!("/api/v1/tasks/{task}/dispatch"),
            None,
            expect,
        );
        t.add(
            "POST",
            &format!("/api/v1/tasks/{task}/dispatch"),
            Some(json!({"delivery": "sealed"})),
            expect,
        );
        t.add("GET", &format!("/api/v1/briefs/{brief}"), None, expect);
        // Whoever may dispatch in the project may revoke its briefs.
        t.add(
            "POST",
            &format!("/api/v1/briefs/{brief}/revoke"),
            None,
            expect,
        );
        // Its transcripts searched for its values: whoever may dispatch there.
        t.add(
            "POST",
            &format!("/api/v1/briefs/{brief}/scan"),
            Some(json!({"text": "nothing here"})),
            expect,
        );
    }
    // ── Leak scans and due rotations (issue #17): any caller, over what it may reveal
    // (or see); a scope it cannot see is missing. ───────────────────────────────────
    t.add(
        "POST",
        "/api/v1/scan",
        Some(json!({"text": "nothing here"})),
        [OK; 6],
    );
    t.add("GET", "/api/v1/due", None, [OK; 6]);
    //                                                root admin member disp outsider nobody
    t.add(
        "GET",
        &format!("/api/v1/due?scope={TEAM}"),
        None,
        [OK, OK, OK, OK, NF, NF],
    );
    t.add(
        "GET",
        &format!("/api/v1/due?scope={OTHER_TEAM}"),
        None,
        [OK, OK, NF, OK, NF, NF],
    );
    // ── Generators (SPEC §6): writing at the scope, and (postgres) reading the value
    // of its admin ref as it resolves there (here `DB_URL` of the same scope). ─────────
    //                          root admin member disp outsider nobody
    #[rustfmt::skip]
    let generators: [(&str, &str, Expect); 7] = [
        (ORG,          "postgres", [OK, OK, DENY, DENY, NF,   NF]),
        (TEAM,         "postgres", [OK, OK, OK,   DENY, NF,   NF]),
        (WS,           "aws_sts",  [OK, OK, OK,   DENY, NF,   NF]),
        (OTHER_TEAM,   "postgres", [OK, OK, NF,   DENY, NF,   NF]),
        (GLOBEX,       "postgres", [OK, NF, NF,   NF,   DENY, NF]),
        (MISSING_ORG,  "aws_sts",  [NF, NF, NF,   NF,   NF,   NF]),
        (MISSING_WS,   "aws_sts",  [NF, NF, NF,   DENY, NF,   NF]),
    ];
    for (scope, kind, expect) in generators {
        let body = match kind {
            "postgres" => {
                json!({"generator": "postgres", "admin_ref": "DB_URL", "grants": ["GRANT SELECT ON t TO {{name}}"]})
            }
            _ => json!({"generator": "aws_sts", "role_arn": "arn:aws:iam::123456789012:role/r"}),
        };
        t.add(
            "PUT",
            &format!("/api/v1/secrets/GEN_@WHO/generator?scope={scope}"),
            Some(body),
            expect,
        );
    }

    // ── Leases: whoever may dispatch in the lease's project sees and revokes it; to
    // anyone else it is missing. ────────────────────────────────────────────────────
    //                                                root admin member disp outsider nobody
    t.add("GET", "/api/v1/leases", None, [OK; 6]);
    t.add("GET", "/api/v1/leases?open=true&limit=5", None, [OK; 6]);
    #[rustfmt::skip]
    let lease_projects: [(&str, Expect); 4] = [
        (PROJECT,         [OK, OK, OK, OK, NF, NF]),
        (OTHER_PROJECT,   [OK, OK, NF, OK, NF, NF]),
        (GLOBEX_PROJECT,  [OK, NF, NF, NF, OK, NF]),
        (MISSING_PROJECT, [OK, OK, OK, OK, NF, NF]),
    ];
    for (project, expect) in lease_projects {
        t.add(
            "GET",
            &format!("/api/v1/leases?project={project}"),
            None,
            expect,
        );
    }
    let missing = (MISSING_ID.to_owned(), MISSING_ID.to_owned());
    #[rustfmt::skip]
    let leases: [(&(String, String), Expect); 4] = [
        (&f.own_lease,    [OK, OK, OK, OK, NF, NF]),
        (&f.other_lease,  [OK, OK, NF, OK, NF, NF]),
        (&f.globex_lease, [OK, NF, NF, NF, OK, NF]),
        (&missing,        [NF; 6]),
    ];
    for ((lease, brief), expect) in leases {
        t.add("GET", &format!("/api/v1/leases/{lease}"), None, expect);
        t.add("DELETE", &format!("/api/v1/leases/{lease}"), None, expect);
        t.add(
            "POST",
            &format!("/api/v1/briefs/{brief}/leases/revoke"),
            None,
            expect,
        );
    }

    // An API token is never a callback token, not even root's; nor a boot token.
    t.add(
        "POST",
        &format!("/api/v1/briefs/{}/callback", f.own_brief),
        None,
        [UNAUTH; 6],
    );
    t.add("POST", "/api/v1/boot", None, [UNAUTH; 6]);

    // ── Audit ───────────────────────────────────────────────────────────────────────
    //                                                   root admin member disp outsider nobody
    // Search: any caller, over what it sees (visible_lists checks what is found).
    for uri in ["/api/v1/search?q=db", "/api/v1/secrets?name=db"] {
        t.add("GET", uri, None, [OK, OK, OK, OK, OK, OK]);
    }
    #[rustfmt::skip]
    let audit: [(&str, Expect); 13] = [
        ("/api/v1/audit",                                [OK, OK, OK,   DENY, OK,   DENY]),
        ("/api/v1/audit?scope=acme",                     [OK, OK, DENY, DENY, NF,   NF]),
        ("/api/v1/audit?scope=acme/platform",            [OK, OK, OK,   DENY, NF,   NF]),
        ("/api/v1/audit?scope=acme/platform/dev",        [OK, OK, OK,   DENY, NF,   NF]),
        ("/api/v1/audit?scope=acme/platform/dev/agent-x",[OK, OK, OK,   DENY, NF,   NF]),
        ("/api/v1/audit?scope=acme/other",               [OK, OK, NF,   DENY, NF,   NF]),
        ("/api/v1/audit?scope=acme/other/dev/bot",       [OK, OK, NF,   DENY, NF,   NF]),
        ("/api/v1/audit?scope=acme/platform-x",          [OK, OK, NF,   DENY, NF,   NF]),
        ("/api/v1/audit?scope=globex",                   [OK, NF, NF,   NF,   DENY, NF]),
        ("/api/v1/audit?scope=globex/sales",             [OK, NF, NF,   NF,   OK,   NF]),
        ("/api/v1/audit?scope=initech",                  [NF, NF, NF,   NF,   NF,   NF]),
        ("/api/v1/audit?scope=acme/nonexistent",         [NF, NF, NF,   DENY, NF,   NF]),
        ("/api/v1/audit?scope=acme/platform/nope",       [NF, NF, NF,   DENY, NF,   NF]),
    ];
    for (uri, expect) in audit {
        t.add("GET", uri, None, expect);
    }
    // Who was handed a secret: whoever may read the audit log of its scope.
    #[rustfmt::skip]
    let access: [(&str, Expect); 7] = [
        ("/api/v1/secrets/DB_URL/access?scope=acme",                     [OK, OK, DENY, DENY, NF,   NF]),
        ("/api/v1/secrets/DB_URL/access?scope=acme/platform",            [OK, OK, OK,   DENY, NF,   NF]),
        ("/api/v1/secrets/DB_URL/access?scope=acme/platform/dev",        [OK, OK, OK,   DENY, NF,   NF]),
        ("/api/v1/secrets/DB_URL/access?scope=acme/other",               [OK, OK, NF,   DENY, NF,   NF]),
        ("/api/v1/secrets/DB_URL/access?scope=globex/sales",             [OK, NF, NF,   NF,   OK,   NF]),
        ("/api/v1/secrets/DB_URL/access?scope=initech",                  [NF, NF, NF,   NF,   NF,   NF]),
        ("/api/v1/secrets/DB_URL/access?scope=acme/nonexistent",         [NF, NF, NF,   DENY, NF,   NF]),
    ];
    for (uri, expect) in access {
        t.add("GET", uri, None, expect);
    }

    // ── Accounts, grants, tokens: root only ─────────────────────────────────────────
    const ROOT_ONLY: Expect = [OK, DENY, DENY, DENY, DENY, DENY];
    let accounts: [(&'static str, String, Option<Value>, Expect); 11] = [
        (
            "POST",
            "/api/v1/accounts".into(),
            Some(json!({"name": "new-@who"})),
            ok_to(ROOT_ONLY, NEW),
        ),
        ("GET", "/api/v1/accounts".into(), None, ROOT_ONLY),
        ("GET", "/api/v1/accounts/spare".into(), None, ROOT_ONLY),
        (
            "POST",
            "/api/v1/accounts/spare/grants".into(),
            Some(json!({"role": "member", "scope": TEAM})),
            ROOT_ONLY,
        ),
        (
            "DELETE",
            format!("/api/v1/accounts/spare/grants?role=member&scope={TEAM}"),
            None,
            ROOT_ONLY,
        ),
        // Nobody but root hands out root, not even to itself.
        (
            "POST",
            "/api/v1/accounts/spare/grants".into(),
            Some(json!({"role": "root"})),
            ROOT_ONLY,
        ),
        (
            "POST",
            "/api/v1/accounts/@who/grants".into(),
            Some(json!({"role": "admin", "scope": GLOBEX})),
            ROOT_ONLY,
        ),
        (
            "DELETE",
            "/api/v1/accounts/spare/grants?role=root".into(),
            None,
            ROOT_ONLY,
        ),
        (
            "POST",
            "/api/v1/accounts/spare/tokens".into(),
            None,
            ok_to(ROOT_ONLY, NEW),
        ),
        (
            "GET",
            "/api/v1/accounts/spare/tokens".into(),
            None,
            ROOT_ONLY,
        ),
        (
            "DELETE",
            format!("/api/v1/tokens/{}", f.spare_token_id),
            None,
            ok_to(ROOT_ONLY, GONE),
        ),
    ];
    for (method, uri, body, expect) in accounts {
        t.add(method, &uri, body, expect);
    }

    // ── Web UI sessions: root lists and ends any; others their own, and another's is
    // 404 as if missing. ─────────────────────────────────────────────────────────────
    //                                      root  admin member disp outsider nobody
    t.add("GET", "/api/v1/sessions", None, [OK; 6]);
    t.add_per_caller(
        "DELETE",
        |who| format!("/api/v1/sessions/{}", f.member_sessions[&who]),
        None,
        [GONE, NF, GONE, NF, NF, NF],
    );
    t.add_per_caller(
        "DELETE",
        |who| format!("/api/v1/sessions/{}", f.admin_sessions[&who]),
        None,
        [GONE, GONE, NF, NF, NF, NF],
    );
    t.add(
        "DELETE",
        &format!("/api/v1/sessions/{MISSING_ID}"),
        None,
        [NF; 6],
    );
    t.add("DELETE", "/api/v1/sessions/not-an-id", None, [NF; 6]);
    t
}

/// The error code that goes with a status.
fn code_of(status: u16) -> Option<&'static str> {
    Some(match status {
        UNAUTH => "unauthorized",
        DENY => "forbidden",
        NF => "not_found",
        _ => return None,
    })
}

/// Problems with the shape of an answer: `{"error": {"code", "message"}}` on every error,
/// with the code of its status; never an `error` on a success.
fn shape_problems(a: &Answer) -> Option<String> {
    let status = a.status.as_u16();
    if status < 400 {
        return a
            .json
            .get("error")
            .map(|_| format!("a success with an error body: {}", a.text));
    }
    let e = &a.json["error"];
    let keys: BTreeSet<&str> = e
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let shaped = a.json.as_object().is_some_and(|o| o.len() == 1)
        && e["code"].is_string()
        && e["message"].as_str().is_some_and(|m| !m.is_empty())
        && keys.iter().all(|k| ["code", "message", "refs"].contains(k));
    if !shaped {
        return Some(format!(
            "not {{\"error\":{{\"code\",\"message\"}}}}: {}",
            a.text
        ));
    }
    match code_of(status) {
        Some(code) if e["code"] != code => Some(format!("code is not {code:?}: {}", a.text)),
        _ => None,
    }
}

fn short(text: &str) -> String {
    let t: String = text.chars().take(240).collect();
    if t.len() < text.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// Runs every row, collecting every disagreement.
async fn run(f: &Fixture, t: &Table, bad: &mut Vec<String>) {
    let values: Vec<String> = SECRET_SCOPES.iter().map(|s| value_at(s)).collect();
    // The 401 body of an unknown and of a revoked token, per route.
    let mut unauth: HashMap<(usize, Who), String> = HashMap::new();
    for row in &t.rows {
        let a = f
            .call(row.who, row.method, &row.uri, row.body.clone())
            .await;
        let status = a.status.as_u16();
        let what = format!("{:<10} {} {}", row.who.slug(), row.method, row.uri);
        if status != row.expect {
            bad.push(format!(
                "{what} → {status}, expected {}: {}",
                row.expect,
                short(&a.text)
            ));
        }
        if let Some(p) = shape_problems(&a) {
            bad.push(format!("{what}: {p}"));
        }
        // Values come back from a reveal and a dispatch, never from anything else.
        let may_carry_values =
            status == OK && (row.uri.contains("/value?") || row.uri.ends_with("/dispatch"));
        if !may_carry_values {
            for v in &values {
                if a.text.contains(v.as_str()) {
                    bad.push(format!(
                        "{what} → {status}: the answer holds the value {v:?}"
                    ));
                }
            }
        }
        if matches!(row.who, Unknown | Revoked) {
            unauth.insert((row.route, row.who), a.text);
        }
    }
    for route in 0..t.routes {
        let (u, r) = (&unauth[&(route, Unknown)], &unauth[&(route, Revoked)]);
        if u != r {
            let uri = &t.rows.iter().find(|x| x.route == route).unwrap().uri;
            bad.push(format!(
                "{uri}: an unknown token gets {u}, a revoked one {r}: they must be the same"
            ));
        }
    }
}

/// A hidden scope must answer exactly as a never-created one: the same status and the
/// same body once each answer's own path (or id) is replaced by a placeholder.
#[allow(clippy::too_many_arguments, reason = "one comparison, spelled out")]
async fn same_as_missing(
    f: &Fixture,
    bad: &mut Vec<String>,
    who: Who,
    method: &str,
    uri: &str,
    body: Option<Value>,
    hidden: &str,
    missing: &str,
) {
    let h = f
        .call(who, method, &uri.replace("{}", hidden), body.clone())
        .await;
    let m = f.call(who, method, &uri.replace("{}", missing), body).await;
    let ht = h.text.replace(hidden, "{}");
    let mt = m.text.replace(missing, "{}");
    if h.status.as_u16() != NF || m.status != h.status || ht != mt {
        bad.push(format!(
            "{} {method} {uri}: hidden {hidden} → {} {}, missing {missing} → {} {}",
            who.slug(),
            h.status.as_u16(),
            h.text,
            m.status.as_u16(),
            m.text
        ));
    }
}

async fn hidden_is_missing(f: &Fixture, bad: &mut Vec<String>) {
    let put = || Some(json!({"value": "x", "category": "agent"}));
    let to1 = || Some(json!({"to": 1}));
    // (caller, hidden existing scope, never-created scope of the same level): the second
    // is hidden too, or (own-team workspaces) visible to the caller but missing.
    let pairs: [(Who, &str, &str); 9] = [
        (Member, OTHER_TEAM, MISSING_TEAM),
        (Member, LOOKALIKE_TEAM, MISSING_TEAM),
        (Member, OTHER_WS, MISSING_OTHER_WS),
        (Member, OTHER_WS, MISSING_WS),
        (Member, GLOBEX, MISSING_ORG),
        (Admin, GLOBEX, MISSING_ORG),
        (Dispatcher, GLOBEX, MISSING_ORG),
        (Outsider, ORG, MISSING_ORG),
        (Nobody, TEAM, MISSING_TEAM),
    ];
    for (who, hidden, missing) in pairs {
        let link = Some(json!({"vault_path": f.other_teams_vault_ref, "category": "agent"}));
        let cases: [(&str, &str, Option<Value>); 10] = [
            ("POST", "/api/v1/secrets/LINKH/link?scope={}", link),
            ("GET", "/api/v1/secrets?scope={}", None),
            ("GET", "/api/v1/secrets/DB_URL?scope={}", None),
            ("GET", "/api/v1/secrets/DB_URL/versions?scope={}", None),
            ("GET", "/api/v1/secrets/DB_URL/value?scope={}", None),
            ("PUT", "/api/v1/secrets/DB_URL?scope={}", put()),
            ("POST", "/api/v1/secrets/DB_URL/rollback?scope={}", to1()),
            ("DELETE", "/api/v1/secrets/DB_URL?scope={}", None),
            ("GET", "/api/v1/audit?scope={}", None),
            ("GET", "/api/v1/secrets/DB_URL/access?scope={}", None),
        ];
        for (method, uri, body) in cases {
            same_as_missing(f, bad, who, method, uri, body, hidden, missing).await;
        }
    }
    // Creating a scope under a hidden parent and under a never-created one the caller
    // could not see either. (Under a never-created parent it could see, the store's
    // message names the parent: "unknown workspace …: create it first …".)
    for (who, uri, hidden, missing) in [
        (
            Member,
            "/api/v1/workspaces/{}/ws-new",
            OTHER_TEAM,
            MISSING_TEAM,
        ),
        (
            Member,
            "/api/v1/projects/{}/p-new",
            OTHER_WS,
            MISSING_OTHER_WS,
        ),
        (Admin, "/api/v1/teams/{}/team-new", GLOBEX, MISSING_ORG),
        (Outsider, "/api/v1/teams/{}/team-new", ORG, MISSING_ORG),
    ] {
        same_as_missing(f, bad, who, "PUT", uri, None, hidden, missing).await;
    }
    // The link prefixes of an organization the caller does not see.
    for (who, hidden) in [(Admin, GLOBEX), (Outsider, ORG), (Nobody, ORG)] {
        let uri = "/api/v1/orgs/{}/link-prefixes";
        same_as_missing(f, bad, who, "GET", uri, None, hidden, MISSING_ORG).await;
        let body = Some(json!({"aws_prefixes": []}));
        same_as_missing(f, bad, who, "PUT", uri, body, hidden, MISSING_ORG).await;
    }
    // Tasks in a hidden project and in a missing one (the member's own, so visible).
    for (who, hidden) in [(Member, OTHER_PROJECT), (Admin, GLOBEX_PROJECT)] {
        let h = f
            .call(
                who,
                "POST",
                "/api/v1/tasks",
                Some(json!({"project": hidden, "secret_refs": ["DB_URL"]})),
            )
            .await;
        let m = f
            .call(
                who,
                "POST",
                "/api/v1/tasks",
                Some(json!({"project": MISSING_PROJECT, "secret_refs": ["DB_URL"]})),
            )
            .await;
        if h.status.as_u16() != NF
            || m.status != h.status
            || h.text.replace(hidden, "{}") != m.text.replace(MISSING_PROJECT, "{}")
        {
            bad.push(format!(
                "{} POST /api/v1/tasks: hidden {hidden} → {}, missing → {}",
                who.slug(),
                h.text,
                m.text
            ));
        }
    }
    // A task, its dispatch and its brief in a hidden project, and unknown ids.
    for (who, task, brief) in [
        (Member, &f.other_task, &f.other_brief),
        (Dispatcher, &f.globex_task, &f.globex_brief),
        (Outsider, &f.own_task, &f.own_brief),
        (Nobody, &f.own_task, &f.own_brief),
    ] {
        for (method, uri, hidden) in [
            ("GET", "/api/v1/tasks/{}", task),
            ("POST", "/api/v1/tasks/{}/dispatch", task),
            ("GET", "/api/v1/briefs/{}", brief),
            ("POST", "/api/v1/briefs/{}/revoke", brief),
        ] {
            same_as_missing(f, bad, who, method, uri, None, hidden, MISSING_ID).await;
        }
    }
    // A lease, and a brief's leases, in a hidden project, and unknown ids.
    for (who, (lease, brief)) in [
        (Member, &f.other_lease),
        (Dispatcher, &f.globex_lease),
        (Outsider, &f.own_lease),
        (Nobody, &f.own_lease),
    ] {
        for (method, uri, hidden) in [
            ("GET", "/api/v1/leases/{}", lease),
            ("DELETE", "/api/v1/leases/{}", lease),
            ("POST", "/api/v1/briefs/{}/leases/revoke", brief),
        ] {
            same_as_missing(f, bad, who, method, uri, None, hidden, MISSING_ID).await;
        }
    }
    // The leases of a hidden project, and of a never-created one the caller cannot see.
    for (who, hidden, missing) in [
        (Member, OTHER_PROJECT, "acme/other/dev/nope"),
        (Outsider, PROJECT, MISSING_PROJECT),
        (Admin, GLOBEX_PROJECT, "globex/sales/dev/nope"),
    ] {
        let uri = "/api/v1/leases?project={}";
        same_as_missing(f, bad, who, "GET", uri, None, hidden, missing).await;
    }
}

/// Which leases each caller lists: those of the projects where it may dispatch.
async fn leases_in_bounds(f: &Fixture, bad: &mut Vec<String>) {
    let (own, other, globex) = (&f.own_lease.0, &f.other_lease.0, &f.globex_lease.0);
    let expected: [(Who, &[&String]); 6] = [
        (Root, &[own, other, globex]),
        (Admin, &[own, other]),
        (Member, &[own]),
        (Dispatcher, &[own, other]),
        (Outsider, &[globex]),
        (Nobody, &[]),
    ];
    for (who, want) in expected {
        let a = f.call(who, "GET", "/api/v1/leases", None).await;
        let got = paths(&a, "leases", "id");
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        if a.status.as_u16() != OK || got != want {
            bad.push(format!(
                "{} GET /api/v1/leases → {got:?}, expected {want:?}",
                who.slug()
            ));
        }
    }
}

/// The scopes in a list answer, as a set.
fn paths(a: &Answer, list: &str, field: &str) -> BTreeSet<String> {
    a.json[list]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|x| x[field].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

/// What each caller finds in `GET /scopes` and `GET /secrets` (without a scope).
async fn visible_lists(f: &Fixture, bad: &mut Vec<String>) {
    let acme = [
        ORG,
        TEAM,
        WS,
        PROJECT,
        OTHER_TEAM,
        OTHER_WS,
        OTHER_PROJECT,
        LOOKALIKE_TEAM,
    ];
    let globex = [GLOBEX, GLOBEX_TEAM, GLOBEX_WS, GLOBEX_PROJECT];
    let everything: Vec<&str> = acme.iter().chain(&globex).copied().collect();
    let acme_secrets = [ORG, TEAM, WS, OTHER_TEAM, OTHER_WS, LOOKALIKE_TEAM];
    let own = [ORG, TEAM, WS, PROJECT];
    let expected: [(Who, &[&str], &[&str]); 6] = [
        (Root, &everything, &SECRET_SCOPES),
        (Admin, &acme, &acme_secrets),
        (Member, &own, &[ORG, TEAM, WS]),
        (Dispatcher, &acme, &acme_secrets),
        (Outsider, &globex, &[GLOBEX]),
        (Nobody, &[], &[]),
    ];
    for (who, scopes, secrets) in expected {
        let a = f.call(who, "GET", "/api/v1/scopes", None).await;
        if a.status.as_u16() != OK || paths(&a, "scopes", "path") != set(scopes) {
            bad.push(format!(
                "{} GET /api/v1/scopes → {}, expected {scopes:?}",
                who.slug(),
                a.text
            ));
        }
        let a = f.call(who, "GET", "/api/v1/secrets", None).await;
        if a.status.as_u16() != OK || paths(&a, "secrets", "scope") != set(secrets) {
            bad.push(format!(
                "{} GET /api/v1/secrets → secrets at {:?}, expected {secrets:?}",
                who.slug(),
                paths(&a, "secrets", "scope")
            ));
        }
    }
    // Search finds exactly what the lists show: secrets by name, scopes by path (every
    // path of the fixture holds an `e`), tasks and briefs by id, in the caller's scopes.
    for (who, scopes, secrets) in expected {
        let hits = |a: &Answer, kind: &str| -> BTreeSet<String> {
            a.json["hits"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter(|h| h["kind"] == kind)
                        .filter_map(|h| h["scope"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let a = f.call(who, "GET", "/api/v1/search?q=db_url", None).await;
        if a.status.as_u16() != OK || hits(&a, "secret") != set(secrets) {
            bad.push(format!(
                "{} GET /api/v1/search?q=db_url → secrets at {:?}, expected {secrets:?}",
                who.slug(),
                hits(&a, "secret")
            ));
        }
        let a = f.call(who, "GET", "/api/v1/search?q=e", None).await;
        if a.status.as_u16() != OK || hits(&a, "scope") != set(scopes) {
            bad.push(format!(
                "{} GET /api/v1/search?q=e → scopes {:?}, expected {scopes:?}",
                who.slug(),
                hits(&a, "scope")
            ));
        }
        let a = f.call(who, "GET", "/api/v1/secrets?name=DB_*", None).await;
        if a.status.as_u16() != OK || paths(&a, "secrets", "scope") != set(secrets) {
            bad.push(format!(
                "{} GET /api/v1/secrets?name=DB_* → secrets at {:?}, expected {secrets:?}",
                who.slug(),
                paths(&a, "secrets", "scope")
            ));
        }
        for (id, kind, project) in [
            (&f.own_task, "task", PROJECT),
            (&f.other_task, "task", OTHER_PROJECT),
            (&f.globex_task, "task", GLOBEX_PROJECT),
            (&f.own_brief, "brief", PROJECT),
            (&f.other_brief, "brief", OTHER_PROJECT),
            (&f.globex_brief, "brief", GLOBEX_PROJECT),
        ] {
            let a = f
                .call(who, "GET", &format!("/api/v1/search?q={id}"), None)
                .await;
            let want = if scopes.contains(&project) {
                set(&[project])
            } else {
                BTreeSet::new()
            };
            if a.status.as_u16() != OK || hits(&a, kind) != want {
                bad.push(format!(
                    "{} GET /api/v1/search?q=<{kind} in {project}> → {}, expected {want:?}",
                    who.slug(),
                    short(&a.text)
                ));
            }
        }
    }
    // Sessions: root sees everyone's, the others only their own (before the table ends
    // any).
    for who in ROLES {
        let a = f.call(who, "GET", "/api/v1/sessions", None).await;
        let accounts: BTreeSet<String> = paths(&a, "sessions", "account");
        let want: BTreeSet<String> = match who {
            Root => set(&["admin", "member"]),
            Admin => set(&["admin"]),
            Member => set(&["member"]),
            _ => BTreeSet::new(),
        };
        if a.status.as_u16() != OK || accounts != want {
            bad.push(format!(
                "{} GET /api/v1/sessions → sessions of {accounts:?}, expected {want:?}",
                who.slug()
            ));
        }
    }
    let a = f.call(Nobody, "GET", "/api/v1/scopes", None).await;
    if a.json != json!({"scopes": []}) {
        bad.push(format!("nobody GET /api/v1/scopes → {}", a.text));
    }
}

/// The audit log each caller reads holds only records of its own scopes (none without a
/// scope, such as account changes, unless root).
async fn audit_stays_in_bounds(f: &Fixture, bad: &mut Vec<String>) {
    let under = |s: &str, root: &str| s == root || s.starts_with(&format!("{root}/"));
    for (who, uri, root) in [
        (Admin, "/api/v1/audit", ORG),
        (Member, "/api/v1/audit", TEAM),
        (Member, "/api/v1/audit?scope=acme/platform", TEAM),
        (Member, "/api/v1/audit?scope=acme/platform/dev", WS),
        (Outsider, "/api/v1/audit", GLOBEX_TEAM),
        (Admin, "/api/v1/audit?scope=acme/other", OTHER_TEAM),
    ] {
        let a = f.call(who, "GET", uri, None).await;
        let records = a.json["records"].as_array().cloned().unwrap_or_default();
        if a.status.as_u16() != OK || records.is_empty() {
            bad.push(format!("{} GET {uri} → {}", who.slug(), short(&a.text)));
        }
        for r in records {
            match r["scope"].as_str() {
                Some(s) if under(s, root) => {}
                other => bad.push(format!(
                    "{} GET {uri}: a record at {other:?}, outside {root}: {r}",
                    who.slug()
                )),
            }
        }
    }
}

#[tokio::test]
async fn every_role_on_every_route() {
    let f = fixture().await;
    let mut bad = Vec::new();
    visible_lists(&f, &mut bad).await;
    leases_in_bounds(&f, &mut bad).await;
    hidden_is_missing(&f, &mut bad).await;
    let t = table(&f);
    run(&f, &t, &mut bad).await;
    audit_stays_in_bounds(&f, &mut bad).await;
    println!("{} rows over {} routes", t.rows.len(), t.routes);
    assert!(
        bad.is_empty(),
        "{} problems ({} rows over {} routes):\n{}",
        bad.len(),
        t.rows.len(),
        t.routes,
        bad.join("\n")
    );
}
