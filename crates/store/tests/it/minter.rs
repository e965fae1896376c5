//! The PostgreSQL generator's provider against a real server: each test in a scratch
//! database of its own on the test server (`SECRETSTORE_TEST_PG_URL`), dropped at the end;
//! the password-authentication test on a private server.

use secretstore_core::generator::{
    GeneratorSpec, LeaseId, MintRequest, Minted, Minter, PostgresSpec, RevokeRequest, role_name,
};
use secretstore_core::timestamp::OffsetDateTime;
use secretstore_core::{BackendError, BriefId, ScopePath, SecretName, SecretValue, timestamp};
use secretstore_store::PostgresMinter;
use sqlx::{Connection, PgConnection, Row};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A scratch database on the test server: dropped (its sessions ended) with every role
/// the test names, also when the test fails.
struct Scratch {
    server: String,
    name: String,
    url: String,
    roles: Mutex<Vec<String>>,
}

impl Scratch {
    fn new() -> Scratch {
        let server = secretstore_testkit::need("SECRETSTORE_TEST_PG_URL");
        let url = secretstore_testkit::db::new_pg_database();
        let name = url.rsplit_once('/').unwrap().1.to_owned();
        Scratch {
            server,
            name,
            url,
            roles: Mutex::new(Vec::new()),
        }
    }

    /// The admin URL of the scratch database, as a generator's admin secret holds it.
    fn admin(&self) -> SecretValue {
        SecretValue::new(self.url.clone()).unwrap()
    }

    /// A new role name, dropped at the end if a test leaves it behind.
    fn role(&self) -> String {
        let r = role_name();
        self.roles.lock().unwrap().push(r.clone());
        r
    }

    async fn admin_conn(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    /// Runs `sql` (several statements) as the admin.
    async fn setup(&self, sql: &'static str) {
        let mut c = self.admin_conn().await;
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    }

    async fn role_exists(&self, role: &str) -> bool {
        let mut c = self.admin_conn().await;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = $1")
            .bind(role)
            .fetch_one(&mut c)
            .await
            .unwrap();
        n == 1
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mut sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE);", self.name);
        for r in self.roles.lock().map(|r| r.clone()).unwrap_or_default() {
            sql.push_str(&format!("DROP ROLE IF EXISTS {r};"));
        }
        let _ = Command::new("psql")
            .args([self.server.as_str(), "-q", "-c", &sql])
            .output();
    }
}

fn spec(grants: &[&str], creation: &[&str], revocation: &[&str]) -> GeneratorSpec {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    let spec = GeneratorSpec::Postgres(PostgresSpec {
        admin_ref: "PG_ADMIN_URL".into(),
        grants: owned(grants),
        creation: owned(creation),
        revocation: owned(revocation),
        ttl_secs: 3600,
    });
    spec.check().unwrap();
    spec
}

async fn mint(
    minter: &PostgresMinter,
    spec: &GeneratorSpec,
    admin: &SecretValue,
    role: &str,
    expires_at: OffsetDateTime,
) -> Result<Minted, BackendError> {
    let lease = LeaseId::generate();
    let brief = BriefId::generate();
    let project = ScopePath::parse("acme/data/dev/bot").unwrap();
    let name = SecretName::parse("DATABASE_URL").unwrap();
    minter
        .mint(MintRequest {
            lease_id: &lease,
            principal: role,
            name: &name,
            brief_id: &brief,
            project: &project,
            spec,
            admin: Some(admin),
            expires_at,
        })
        .await
}

async fn revoke(
    minter: &PostgresMinter,
    spec: &GeneratorSpec,
    admin: &SecretValue,
    role: &str,
) -> Result<(), BackendError> {
    minter
        .revoke(RevokeRequest {
            principal: role,
            spec,
            admin: Some(admin),
        })
        .await
}

/// The minted URL (the one variable of a postgres generator).
fn minted_url(minted: &Minted) -> &str {
    assert_eq!(minted.env.len(), 1, "{minted:?}");
    assert_eq!(minted.env[0].0, "DATABASE_URL");
    minted.env[0].1.expose_secret()
}

/// The SQLSTATE of a failed query.
fn sqlstate(e: &sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
        .unwrap_or_else(|| panic!("not a database error: {e}"))
}

#[tokio::test]
async fn a_minted_role_can_do_what_its_grants_allow_nothing_else_and_is_valid_until_the_lease_ends()
{
    let db = Scratch::new();
    db.setup(
        "CREATE SCHEMA granted; CREATE TABLE granted.t (x int); INSERT INTO granted.t VALUES (42);
         CREATE TABLE granted.hidden (x int); CREATE SCHEMA other;
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
    )
    .await;
    let spec = spec(
        &[
            "GRANT USAGE ON SCHEMA granted TO {{name}}",
            "GRANT SELECT ON granted.t TO {{name}}",
        ],
        &[],
        &[],
    );
    let role = db.role();
    let expires_at = timestamp::in_secs(1800);
    let minter = PostgresMinter::new();
    let minted = mint(&minter, &spec, &db.admin(), &role, expires_at)
        .await
        .unwrap();
    assert_eq!(minted.principal, role);
    assert_eq!(minted.expires_at, expires_at);
    let url = minted_url(&minted);
    let parsed = url::Url::parse(url).unwrap();
    let admin = url::Url::parse(&db.url).unwrap();
    assert_eq!(parsed.username(), role);
    assert_eq!(
        parsed.password().map(str::len),
        Some(32),
        "a generated password"
    );
    assert_eq!(
        (parsed.host_str(), parsed.port(), parsed.path()),
        (admin.host_str(), admin.port(), admin.path()),
        "the admin URL's server and database"
    );

    let mut c = PgConnection::connect(url).await.unwrap();
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(who, role);
    let x: i32 = sqlx::query_scalar("SELECT x FROM granted.t")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(x, 42);
    let denied = sqlx::query("SELECT x FROM granted.hidden")
        .fetch_all(&mut c)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&denied), "42501", "{denied}");
    for create in [
        "CREATE TABLE other.t (x int)",
        "CREATE TABLE public.t (x int)",
    ] {
        let denied = sqlx::raw_sql(create).execute(&mut c).await.unwrap_err();
        assert_eq!(sqlstate(&denied), "42501", "{create}: {denied}");
    }
    c.close().await.unwrap();

    let mut a = db.admin_conn().await;
    let row = sqlx::query(
        "SELECT extract(epoch FROM rolvaliduntil)::bigint, rolcanlogin, rolsuper, rolcreaterole
         FROM pg_roles WHERE rolname = $1",
    )
    .bind(&role)
    .fetch_one(&mut a)
    .await
    .unwrap();
    assert_eq!(row.get::<i64, _>(0), expires_at.unix_timestamp());
    assert!(row.get::<bool, _>(1));
    assert!(!row.get::<bool, _>(2) && !row.get::<bool, _>(3));
    a.close().await.unwrap();

    revoke(&minter, &spec, &db.admin(), &role).await.unwrap();
    assert!(!db.role_exists(&role).await);
}

#[tokio::test]
async fn revoke_ends_the_roles_open_sessions_stops_new_logins_drops_it_and_is_idempotent() {
    let db = Scratch::new();
    db.setup("CREATE TABLE t (x int); INSERT INTO t VALUES (1);")
        .await;
    let spec = spec(&["GRANT SELECT ON t TO {{name}}"], &[], &[]);
    let role = db.role();
    let minter = PostgresMinter::new();
    let minted = mint(&minter, &spec, &db.admin(), &role, timestamp::in_secs(600))
        .await
        .unwrap();
    let url = minted_url(&minted).to_owned();
    let mut open = PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT x FROM t")
        .fetch_all(&mut open)
        .await
        .unwrap();

    revoke(&minter, &spec, &db.admin(), &role).await.unwrap();

    assert!(
        sqlx::query("SELECT x FROM t")
            .fetch_all(&mut open)
            .await
            .is_err(),
        "the open session still answers after the revocation"
    );
    let refused = PgConnection::connect(&url).await.unwrap_err();
    assert_eq!(sqlstate(&refused), "28000", "{refused}");
    assert!(!db.role_exists(&role).await);
    revoke(&minter, &spec, &db.admin(), &role)
        .await
        .expect("a second revocation is no error");
    // A role that was never made: nothing to do either.
    revoke(&minter, &spec, &db.admin(), &role_name())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failing_grant_fails_the_mint_as_refused_and_leaves_no_role_behind() {
    let db = Scratch::new();
    db.setup("CREATE TABLE t (x int);").await;
    let minter = PostgresMinter::new();
    for (grants, expect) in [
        (
            &[
                "GRANT SELECT ON t TO {{name}}",
                "GRANT SELECT ON no_such_table TO {{name}}",
            ][..],
            "no_such_table",
        ),
        (&["GRANT SELECT ON t TO {{name}} ,,"][..], "syntax error"),
    ] {
        let role = db.role();
        let spec = spec(grants, &[], &[]);
        let e = mint(&minter, &spec, &db.admin(), &role, timestamp::in_secs(600))
            .await
            .unwrap_err();
        let BackendError::Refused(message) = &e else {
            panic!("{grants:?}: {e:?}");
        };
        assert!(message.contains(expect), "{message}");
        assert!(message.contains("grant statement"), "{message}");
        assert!(!message.contains("GRANT"), "no statement text: {message}");
        assert!(
            !db.role_exists(&role).await,
            "{grants:?} left {role} behind"
        );
    }
}

#[tokio::test]
async fn an_admin_database_that_is_down_is_unavailable_fast() {
    let port = secretstore_testkit::closed_port();
    let admin = SecretValue::new(format!(
        "postgres://admin:down-admin-pw@127.0.0.1:{port}/db"
    ))
    .unwrap();
    let spec = spec(&[], &[], &[]);
    let minter = PostgresMinter::new();
    let started = Instant::now();
    let e = mint(
        &minter,
        &spec,
        &admin,
        &role_name(),
        timestamp::in_secs(600),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, BackendError::Unavailable(_)), "{e:?}");
    assert!(!e.to_string().contains("down-admin-pw"), "{e}");
    let e = revoke(&minter, &spec, &admin, &role_name())
        .await
        .unwrap_err();
    assert!(matches!(e, BackendError::Unavailable(_)), "{e:?}");
    assert!(!e.to_string().contains("down-admin-pw"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_admin_that_does_not_answer_is_unavailable_within_the_connect_timeout() {
    // A listener that accepts and never answers (a frozen server).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let admin = SecretValue::new(format!("postgres://admin:pw@127.0.0.1:{port}/db")).unwrap();
    let minter =
        PostgresMinter::new().with_timeouts(Duration::from_millis(300), Duration::from_secs(30));
    let started = Instant::now();
    let e = mint(
        &minter,
        &spec(&[], &[], &[]),
        &admin,
        &role_name(),
        timestamp::in_secs(600),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, BackendError::Unavailable(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_password_never_reaches_an_error_or_a_debug_output() {
    let db = Scratch::new();
    // The admin URL's password (ignored by the test server's trust authentication).
    let admin = {
        let mut u = url::Url::parse(&db.url).unwrap();
        u.set_password(Some("admin-pw-never-shown")).unwrap();
        SecretValue::new(String::from(u)).unwrap()
    };
    let minter = PostgresMinter::new();
    // PostgreSQL's syntax error quotes the text near it: here, the password literal.
    let bad = spec(&[], &["CREATE ROLE {{name}} {{password}}"], &[]);
    let role = db.role();
    let e = mint(&minter, &bad, &admin, &role, timestamp::in_secs(600))
        .await
        .unwrap_err();
    let BackendError::Refused(message) = &e else {
        panic!("{e:?}")
    };
    assert!(
        message.contains("syntax error at or near \"[REDACTED]\""),
        "{message}"
    );
    assert!(!message.contains("CREATE ROLE"), "no statement: {message}");
    assert!(
        !has_password_like_run(message),
        "a 32-letter run in {message}"
    );
    assert!(!db.role_exists(&role).await);

    let good = spec(&[], &[], &[]);
    let minted = mint(&minter, &good, &admin, &role, timestamp::in_secs(600))
        .await
        .unwrap();
    let password = url::Url::parse(minted_url(&minted))
        .unwrap()
        .password()
        .unwrap()
        .to_owned();
    for shown in [
        format!("{minted:?}"),
        format!("{minter:?}"),
        format!("{e:?}"),
        e.to_string(),
    ] {
        assert!(!shown.contains(&password), "{shown}");
        assert!(!shown.contains("admin-pw-never-shown"), "{shown}");
    }
    // A role that exists already: PostgreSQL's message names the role, never a password.
    let again = mint(&minter, &good, &admin, &role, timestamp::in_secs(600))
        .await
        .unwrap_err();
    assert!(matches!(again, BackendError::Refused(_)), "{again:?}");
    assert!(!again.to_string().contains("admin-pw-never-shown"));
    revoke(&minter, &good, &admin, &role).await.unwrap();
}

/// Whether `text` holds 32 letters and digits in a row (a generated password's shape).
fn has_password_like_run(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_alphanumeric() {
            run + 1
        } else {
            0
        };
        if run >= 32 {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn revoke_reassigns_what_the_role_created_to_the_admin_and_drops_the_role() {
    let db = Scratch::new();
    db.setup("CREATE SCHEMA work;").await;
    let spec = spec(
        &["GRANT USAGE, CREATE ON SCHEMA work TO {{name}}"],
        &[],
        &[],
    );
    let role = db.role();
    let minter = PostgresMinter::new();
    let minted = mint(&minter, &spec, &db.admin(), &role, timestamp::in_secs(600))
        .await
        .unwrap();
    let mut c = PgConnection::connect(minted_url(&minted)).await.unwrap();
    sqlx::raw_sql("CREATE TABLE work.made (x int); INSERT INTO work.made VALUES (7);")
        .execute(&mut c)
        .await
        .unwrap();
    // The session stays open: the revocation ends it.

    let admin_user = url::Url::parse(&db.url).unwrap().username().to_owned();
    let owner = |db: &Scratch| {
        let url = db.url.clone();
        async move {
            let mut a = PgConnection::connect(&url).await.unwrap();
            let o: String = sqlx::query_scalar(
                "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'work' AND tablename = 'made'",
            )
            .fetch_one(&mut a)
            .await
            .unwrap();
            o
        }
    };
    assert_eq!(owner(&db).await, role);
    revoke(&minter, &spec, &db.admin(), &role).await.unwrap();
    assert_eq!(owner(&db).await, admin_user);
    assert!(!db.role_exists(&role).await);
    let mut a = db.admin_conn().await;
    let x: i32 = sqlx::query_scalar("SELECT x FROM work.made")
        .fetch_one(&mut a)
        .await
        .unwrap();
    assert_eq!(x, 7, "the table and its rows were kept");
}

#[tokio::test]
async fn custom_creation_and_revocation_statements_replace_the_defaults() {
    let db = Scratch::new();
    let custom = spec(
        &[],
        &[
            "CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}} CONNECTION LIMIT 2",
            "COMMENT ON ROLE {{name}} IS 'minted'",
        ],
        &[
            "ALTER ROLE {{name}} NOLOGIN",
            "COMMENT ON ROLE {{name}} IS 'revoked'",
        ],
    );
    let role = db.role();
    let expires_at = timestamp::in_secs(900);
    let minter = PostgresMinter::new();
    let minted = mint(&minter, &custom, &db.admin(), &role, expires_at)
        .await
        .unwrap();
    let state = |db: &Scratch, role: String| {
        let url = db.url.clone();
        async move {
            let mut a = PgConnection::connect(&url).await.unwrap();
            let row = sqlx::query(
                "SELECT rolcanlogin, rolconnlimit, shobj_description(oid, 'pg_authid'),
                        extract(epoch FROM rolvaliduntil)::bigint
                 FROM pg_roles WHERE rolname = $1",
            )
            .bind(role)
            .fetch_one(&mut a)
            .await
            .unwrap();
            (
                row.get::<bool, _>(0),
                row.get::<i32, _>(1),
                row.get::<Option<String>, _>(2),
                row.get::<i64, _>(3),
            )
        }
    };
    assert_eq!(
        state(&db, role.clone()).await,
        (true, 2, Some("minted".into()), expires_at.unix_timestamp())
    );
    let mut open = PgConnection::connect(minted_url(&minted)).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut open).await.unwrap();

    revoke(&minter, &custom, &db.admin(), &role).await.unwrap();
    // The custom statements ran instead of the default (the role is kept), after the
    // role's sessions were terminated.
    assert_eq!(
        state(&db, role.clone()).await,
        (
            false,
            2,
            Some("revoked".into()),
            expires_at.unix_timestamp()
        )
    );
    assert!(sqlx::query("SELECT 1").execute(&mut open).await.is_err());

    // The default revocation drops it.
    revoke(&minter, &spec(&[], &[], &[]), &db.admin(), &role)
        .await
        .unwrap();
    assert!(!db.role_exists(&role).await);
}

#[tokio::test]
async fn a_principal_that_is_not_a_secretstore_role_is_never_touched() {
    let db = Scratch::new();
    let admin_user = url::Url::parse(&db.url).unwrap().username().to_owned();
    let e = revoke(
        &PostgresMinter::new(),
        &spec(&[], &[], &[]),
        &db.admin(),
        &admin_user,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, BackendError::Refused(_)), "{e:?}");
    assert!(db.role_exists(&admin_user).await);
}

/// With password authentication (the test server trusts every loopback login), on a
/// private server: the minted password is the role's, a wrong one is refused, and a wrong
/// admin password makes the mint `Refused` without showing it.
#[tokio::test]
async fn with_password_authentication_the_minted_password_logs_in_and_a_wrong_admin_password_is_refused()
 {
    let pg = secretstore_testkit::pg::PrivatePostgres::start();
    let trusted = pg.url();
    let mut a = PgConnection::connect(&trusted).await.unwrap();
    sqlx::raw_sql(
        "ALTER ROLE postgres PASSWORD 'right-admin-pw';
         DO $$ BEGIN
           EXECUTE format('COPY (SELECT unnest(ARRAY[%L, %L])) TO %L',
             'host all all 127.0.0.1/32 scram-sha-256', 'local all all trust',
             current_setting('hba_file'));
         END $$;
         SELECT pg_reload_conf();",
    )
    .execute(&mut a)
    .await
    .unwrap();
    a.close().await.unwrap();
    // The reload takes effect for new connections once the postmaster has read the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    while PgConnection::connect(&trusted).await.is_ok() {
        assert!(Instant::now() < deadline, "pg_hba.conf was not reloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let with_pw = |pw: &str| {
        let mut u = url::Url::parse(&trusted).unwrap();
        u.set_password(Some(pw)).unwrap();
        SecretValue::new(String::from(u)).unwrap()
    };
    let minter = PostgresMinter::new();
    let spec = spec(&[], &[], &[]);
    let role = role_name();
    let e = mint(
        &minter,
        &spec,
        &with_pw("wrong-admin-pw"),
        &role,
        timestamp::in_secs(600),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, BackendError::Refused(_)), "{e:?}");
    assert!(e.to_string().contains("28P01"), "{e}");
    assert!(!e.to_string().contains("wrong-admin-pw"), "{e}");

    let admin = with_pw("right-admin-pw");
    let minted = mint(&minter, &spec, &admin, &role, timestamp::in_secs(600))
        .await
        .unwrap();
    let url = minted_url(&minted).to_owned();
    let mut c = PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut c).await.unwrap();
    let mut wrong = url::Url::parse(&url).unwrap();
    wrong.set_password(Some("not-the-password")).unwrap();
    let refused = PgConnection::connect(wrong.as_str()).await.unwrap_err();
    assert_eq!(sqlstate(&refused), "28P01", "{refused}");

    revoke(&minter, &spec, &admin, &role).await.unwrap();
    assert!(PgConnection::connect(&url).await.is_err());
}
