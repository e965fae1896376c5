//! The PostgreSQL generator's provider: a role per dispatch, with a random password,
//! `VALID UNTIL` the lease's end, created in one transaction with its grants, and dropped
//! at revocation (its sessions terminated, what it owns reassigned to the admin).
//!
//! Names and literals are quoted by PostgreSQL itself (`quote_ident`, `quote_literal`, on
//! bound parameters), never by hand; the quoted values fill the statements' `{{name}}`,
//! `{{password}}` and `{{expiration}}` (the shape of Vault's database engine). No error
//! holds the password, the admin URL's password or a statement's text: PostgreSQL's own
//! messages (a syntax error quotes the text near it) are scrubbed of every secret first.
//! Statement logging is off on these connections (sqlx logs slow statements by default).
//!
//! The admin URL needs a role that may create roles and grant what the statements grant;
//! the default revocation also terminates sessions (`pg_signal_backend`, or a superuser)
//! and reassigns what the role owns (membership of the role, which PostgreSQL gives the
//! creator of a role with `CREATEROLE` only when `createrole_self_grant` says so). `REASSIGN
//! OWNED` and `DROP OWNED` act on the admin URL's database only: a role that owns objects
//! in another database cannot be dropped, and its revocation fails (it can no longer log in
//! by then) until they are removed.

use secretstore_core::error::BackendError;
use secretstore_core::generator::{
    self, GeneratorKind, GeneratorSpec, MintRequest, Minted, Minter, PostgresSpec, RevokeRequest,
};
use secretstore_core::ports::BoxFuture;
use secretstore_core::{SecretValue, timestamp};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a connection to the admin URL may take before the provider is unavailable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole mint or revocation may take (a frozen server, a statement that waits).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Each transaction's `statement_timeout` (`SET LOCAL`: it ends with the transaction).
const SET_STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = '30s'";

/// The creation statement when a spec gives none.
pub const DEFAULT_CREATION: &str =
    "CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}";
/// The first step of the default revocation: no more logins (committed on its own, so the
/// role cannot log in again even when dropping it fails).
const REVOKE_LOGIN: &str = "ALTER ROLE {{name}} NOLOGIN";
/// The rest of the default revocation, in one transaction, after its sessions end.
const DEFAULT_REVOCATION: [&str; 3] = [
    "REASSIGN OWNED BY {{name}} TO CURRENT_USER",
    "DROP OWNED BY {{name}}",
    "DROP ROLE IF EXISTS {{name}}",
];

/// What replaces a secret in an error message.
const REDACTED: &str = "[REDACTED]";

/// The PostgreSQL provider of per-task credentials ([`Minter`], kind
/// [`GeneratorKind::Postgres`]): one connection to the admin URL per mint or revocation.
///
/// ```
/// use secretstore_core::generator::{GeneratorKind, Minter};
/// use secretstore_store::PostgresMinter;
///
/// let minter = PostgresMinter::new();
/// assert_eq!(minter.kind(), GeneratorKind::Postgres);
/// ```
#[derive(Debug, Clone)]
pub struct PostgresMinter {
    connect_timeout: Duration,
    operation_timeout: Duration,
}

impl Default for PostgresMinter {
    fn default() -> Self {
        PostgresMinter::new()
    }
}

impl PostgresMinter {
    /// The provider with the default timeouts ([`CONNECT_TIMEOUT`], [`OPERATION_TIMEOUT`]).
    pub fn new() -> Self {
        PostgresMinter {
            connect_timeout: CONNECT_TIMEOUT,
            operation_timeout: OPERATION_TIMEOUT,
        }
    }

    /// The same provider with other timeouts: for connecting, and for a whole mint or
    /// revocation.
    pub fn with_timeouts(self, connect: Duration, operation: Duration) -> Self {
        PostgresMinter {
            connect_timeout: connect,
            operation_timeout: operation,
        }
    }

    async fn mint_role(
        &self,
        request: &MintRequest<'_>,
        spec: &PostgresSpec,
        admin: &Admin,
    ) -> Result<Minted, BackendError> {
        let password = generator::password();
        let mut scrub = admin.scrub();
        scrub.add(password.expose_secret());
        let op = Op {
            at: &admin.at,
            scrub: &scrub,
        };

        let mut conn = self.connect(admin, &op).await?;
        let expiration = timestamp::format(request.expires_at);
        let row = sqlx::query("SELECT quote_ident($1), quote_literal($2), quote_literal($3)")
            .bind(request.principal)
            .bind(password.expose_secret())
            .bind(&expiration)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| op.error("could not quote the role's name and password", e))?;
        let name: String = row.try_get(0).map_err(|e| op.error("quote_ident", e))?;
        let quoted_password = Zeroizing::new(
            row.try_get::<String, _>(1)
                .map_err(|e| op.error("quote_literal", e))?,
        );
        let quoted_expiration: String = row.try_get(2).map_err(|e| op.error("quote_literal", e))?;
        drop(row);
        scrub.add(&quoted_password);
        let op = Op {
            at: &admin.at,
            scrub: &scrub,
        };

        let creation: Vec<&str> = if spec.creation.is_empty() {
            vec![DEFAULT_CREATION]
        } else {
            spec.creation.iter().map(String::as_str).collect()
        };
        let mut tx = conn
            .begin()
            .await
            .map_err(|e| op.error("could not begin the role's transaction", e))?;
        sqlx::raw_sql(SET_STATEMENT_TIMEOUT)
            .execute(&mut *tx)
            .await
            .map_err(|e| op.error("could not set the statement timeout", e))?;
        for (i, template) in creation.iter().enumerate() {
            let statement = fill(
                template,
                &name,
                Some(&quoted_password),
                Some(&quoted_expiration),
            );
            sqlx::raw_sql(AssertSqlSafe(&**statement))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    op.error(
                        &format!("refused creation statement {} of {}", i + 1, creation.len()),
                        e,
                    )
                })?;
        }
        for (i, template) in spec.grants.iter().enumerate() {
            let statement = fill(template, &name, None, None);
            sqlx::raw_sql(AssertSqlSafe(&**statement))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    op.error(
                        &format!(
                            "refused grant statement {} of {} (the role was not created)",
                            i + 1,
                            spec.grants.len()
                        ),
                        e,
                    )
                })?;
        }
        tx.commit()
            .await
            .map_err(|e| op.error("could not commit the role's creation", e))?;
        let _ = conn.close().await;

        let url = admin.url_for(request.principal, &password)?;
        Ok(Minted {
            principal: request.principal.to_owned(),
            env: vec![(request.name.to_string(), url)],
            expires_at: request.expires_at,
        })
    }

    async fn revoke_role(
        &self,
        request: &RevokeRequest<'_>,
        spec: &PostgresSpec,
        admin: &Admin,
    ) -> Result<(), BackendError> {
        let scrub = admin.scrub();
        let op = Op {
            at: &admin.at,
            scrub: &scrub,
        };

        let mut conn = self.connect(admin, &op).await?;
        let found: Option<String> = sqlx::query_scalar(
            "SELECT quote_ident(rolname::text) FROM pg_roles WHERE rolname = $1",
        )
        .bind(request.principal)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| op.error("could not look the role up", e))?;
        let Some(name) = found else {
            // Already gone: a revocation is idempotent.
            let _ = conn.close().await;
            return Ok(());
        };

        if spec.revocation.is_empty() {
            run_in_transaction(&mut conn, &op, &[REVOKE_LOGIN], &name, "revocation").await?;
            terminate_sessions(&mut conn, &op, request.principal).await?;
            run_in_transaction(&mut conn, &op, &DEFAULT_REVOCATION, &name, "revocation").await?;
        } else {
            terminate_sessions(&mut conn, &op, request.principal).await?;
            let custom: Vec<&str> = spec.revocation.iter().map(String::as_str).collect();
            run_in_transaction(&mut conn, &op, &custom, &name, "revocation").await?;
        }
        let _ = conn.close().await;
        Ok(())
    }

    /// A connection to the admin URL, within the connect timeout.
    async fn connect(&self, admin: &Admin, op: &Op<'_>) -> Result<PgConnection, BackendError> {
        match tokio::time::timeout(
            self.connect_timeout,
            PgConnection::connect_with(&admin.options),
        )
        .await
        {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(op.error("could not be reached with the admin URL", e)),
            Err(_) => Err(BackendError::Unavailable(format!(
                "PostgreSQL ({}) did not accept a connection within {} s",
                op.at,
                self.connect_timeout.as_secs_f32()
            ))),
        }
    }

    /// `work` within the operation timeout.
    async fn bounded<T>(
        &self,
        what: &str,
        at: &str,
        work: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        match tokio::time::timeout(self.operation_timeout, work).await {
            Ok(done) => done,
            Err(_) => Err(BackendError::Unavailable(format!(
                "PostgreSQL ({at}) did not finish {what} within {} s",
                self.operation_timeout.as_secs_f32()
            ))),
        }
    }
}

impl Minter for PostgresMinter {
    fn kind(&self) -> GeneratorKind {
        GeneratorKind::Postgres
    }

    fn mint<'a>(&'a self, request: MintRequest<'a>) -> BoxFuture<'a, Result<Minted, BackendError>> {
        Box::pin(async move {
            let spec = postgres_spec(request.spec)?;
            check_principal(request.principal)?;
            let admin = Admin::parse(request.admin)?;
            let work = self.mint_role(&request, spec, &admin);
            self.bounded("the role's creation", &admin.at, work).await
        })
    }

    fn revoke<'a>(&'a self, request: RevokeRequest<'a>) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let spec = postgres_spec(request.spec)?;
            check_principal(request.principal)?;
            let admin = Admin::parse(request.admin)?;
            let work = self.revoke_role(&request, spec, &admin);
            self.bounded("the role's revocation", &admin.at, work).await
        })
    }

    /// The admin URL connects, and its role may create roles (`CREATEROLE` or superuser).
    fn check<'a>(
        &'a self,
        spec: &'a GeneratorSpec,
        admin: Option<&'a SecretValue>,
    ) -> BoxFuture<'a, Result<String, BackendError>> {
        Box::pin(async move {
            postgres_spec(spec)?;
            let admin = Admin::parse(admin)?;
            let work = async {
                let scrub = admin.scrub();
                let op = Op {
                    at: &admin.at,
                    scrub: &scrub,
                };
                let mut conn = self.connect(&admin, &op).await?;
                let may: Option<bool> = sqlx::query_scalar(
                    "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user",
                )
                .fetch_optional(&mut conn)
                .await
                .map_err(|e| op.error("could not look its own role up", e))?;
                let _ = conn.close().await;
                match may {
                    Some(true) => Ok(format!(
                        "the admin URL connects ({}) and its role may create roles",
                        admin.at
                    )),
                    _ => Err(BackendError::Refused(format!(
                        "the admin URL connects ({}), but its role may not create roles (it needs CREATEROLE)",
                        admin.at
                    ))),
                }
            };
            self.bounded("the check", &admin.at, work).await
        })
    }
}

/// The postgres spec of a request, or why there is none.
fn postgres_spec(spec: &GeneratorSpec) -> Result<&PostgresSpec, BackendError> {
    match spec {
        GeneratorSpec::Postgres(p) => Ok(p),
        other => Err(BackendError::Refused(format!(
            "the postgres provider was given a {} generator",
            other.kind()
        ))),
    }
}

/// Refuses a principal that is not a role name secretstore makes (`ss_` and lower-case
/// letters, digits or `_`, at most 63 bytes): a lease record gone wrong must never make a
/// revocation drop the admin or any other role.
fn check_principal(principal: &str) -> Result<(), BackendError> {
    let ok = principal.len() <= 63
        && principal.len() > 3
        && principal.starts_with("ss_")
        && principal
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(BackendError::Refused(format!(
            "{} is not a role name secretstore makes (ss_ and lower-case letters or digits): nothing was done",
            secretstore_core::name::short_echo(principal)
        )))
    }
}

/// The admin URL, parsed: for connecting, for the minted URL and for messages.
struct Admin {
    url: url::Url,
    options: PgConnectOptions,
    /// `host H:P, database D`: what messages name (never a user's password).
    at: String,
}

impl Admin {
    fn parse(admin: Option<&SecretValue>) -> Result<Admin, BackendError> {
        let admin = admin.ok_or_else(|| {
            BackendError::Refused("the postgres generator was given no admin URL".into())
        })?;
        let url = url::Url::parse(admin.expose_secret())
            .map_err(|e| BackendError::Refused(format!("the admin URL is not a URL: {e}")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(BackendError::Refused(
                "the admin URL is not a postgres:// or postgresql:// URL".into(),
            ));
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(BackendError::Refused(
                "the admin URL names no host (a socket folder cannot be handed to a task)".into(),
            ));
        };
        let database = url.path().trim_start_matches('/');
        let at = format!(
            "host {host}:{}, database {}",
            url.port().unwrap_or(5432),
            if database.is_empty() {
                "(default)"
            } else {
                database
            }
        );
        let mut scrub = Scrub::default();
        if let Some(p) = url.password() {
            scrub.add(p);
            scrub.add(&percent_encoding::percent_decode_str(p).decode_utf8_lossy());
        }
        let options = PgConnectOptions::from_url(&url)
            .map_err(|e| {
                BackendError::Refused(scrub.clean(&format!("the admin URL is refused: {e}")))
            })?
            .disable_statement_logging();
        Ok(Admin { url, options, at })
    }

    /// What must never appear in a message: the admin URL's password, as written and
    /// decoded.
    fn scrub(&self) -> Scrub {
        let mut scrub = Scrub::default();
        if let Some(p) = self.url.password() {
            scrub.add(p);
            scrub.add(&percent_encoding::percent_decode_str(p).decode_utf8_lossy());
        }
        scrub
    }

    /// The admin URL with the role's name and password instead of the admin's.
    fn url_for(&self, role: &str, password: &SecretValue) -> Result<SecretValue, BackendError> {
        let mut url = self.url.clone();
        let set = url
            .set_username(role)
            .and_then(|()| url.set_password(Some(password.expose_secret())));
        let text = Zeroizing::new(String::from(url));
        match set {
            Ok(()) => SecretValue::new(text.to_string())
                .map_err(|_| BackendError::Refused("the role's URL is not a valid value".into())),
            Err(()) => Err(BackendError::Refused(
                "the admin URL cannot carry a user and password".into(),
            )),
        }
    }
}

/// Secrets to take out of a message: the generated password, its quoted form, the admin
/// URL's password.
#[derive(Default)]
struct Scrub(Vec<Zeroizing<String>>);

impl Scrub {
    fn add(&mut self, secret: &str) {
        if !secret.is_empty() && !self.0.iter().any(|s| s.as_str() == secret) {
            self.0.push(Zeroizing::new(secret.to_owned()));
            // The longest first: a quoted password goes whole, quotes and all.
            self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    fn clean(&self, text: &str) -> String {
        let mut text = Cow::Borrowed(text);
        for secret in &self.0 {
            if text.contains(secret.as_str()) {
                text = Cow::Owned(text.replace(secret.as_str(), REDACTED));
            }
        }
        text.into_owned()
    }
}

/// Where an operation runs and what its messages must not hold.
struct Op<'a> {
    at: &'a str,
    scrub: &'a Scrub,
}

impl Op<'_> {
    /// A backend error of the kind `e` is: SQL errors and refused credentials are
    /// `Refused` (with PostgreSQL's message, scrubbed; never the statement), what a retry
    /// may cure is `Unavailable`.
    fn error(&self, doing: &str, e: sqlx::Error) -> BackendError {
        match e {
            sqlx::Error::Database(db) => {
                let code = db.code().map(Cow::into_owned).unwrap_or_default();
                let text = self.scrub.clean(&format!(
                    "PostgreSQL ({}) {doing}: {} (SQLSTATE {code})",
                    self.at,
                    db.message()
                ));
                if transient(&code) {
                    BackendError::Unavailable(text)
                } else {
                    BackendError::Refused(text)
                }
            }
            sqlx::Error::Configuration(_) => BackendError::Refused(
                self.scrub
                    .clean(&format!("PostgreSQL ({}) {doing}: {e}", self.at)),
            ),
            other => BackendError::Unavailable(
                self.scrub
                    .clean(&format!("PostgreSQL ({}) {doing}: {other}", self.at)),
            ),
        }
    }
}

/// Whether an SQLSTATE is a fault a retry may cure: a connection exception (08), too
/// many connections or no space (53), a cancelled statement or a server shutting down
/// (57), a serialization failure or deadlock (40), a lock not granted in time (55P03), a
/// system error (58), an internal error (XX).
fn transient(code: &str) -> bool {
    ["08", "53", "57", "40", "58", "XX"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "55P03"
}

/// Runs `templates` (`{{name}}` filled) in one transaction under the statement timeout.
async fn run_in_transaction(
    conn: &mut PgConnection,
    op: &Op<'_>,
    templates: &[&str],
    name: &str,
    what: &str,
) -> Result<(), BackendError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(|e| op.error(&format!("could not begin the {what}"), e))?;
    sqlx::raw_sql(SET_STATEMENT_TIMEOUT)
        .execute(&mut *tx)
        .await
        .map_err(|e| op.error("could not set the statement timeout", e))?;
    for (i, template) in templates.iter().enumerate() {
        let statement = fill(template, name, None, None);
        sqlx::raw_sql(AssertSqlSafe(&**statement))
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                op.error(
                    &format!("refused {what} statement {} of {}", i + 1, templates.len()),
                    e,
                )
            })?;
    }
    tx.commit()
        .await
        .map_err(|e| op.error(&format!("could not commit the {what}"), e))
}

/// Ends every session of the role (`pg_terminate_backend`; the role is named by a bound
/// parameter).
async fn terminate_sessions(
    conn: &mut PgConnection,
    op: &Op<'_>,
    role: &str,
) -> Result<(), BackendError> {
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
        .bind(role)
        .fetch_all(&mut *conn)
        .await
        .map(drop)
        .map_err(|e| op.error("could not terminate the role's sessions", e))
}

/// `template` with `{{name}}`, `{{password}}` and `{{expiration}}` replaced by the quoted
/// values given, in one pass (a value is never searched for placeholders). A placeholder
/// whose value is not given stays as written. The result is zeroized when dropped, and
/// is allocated once at its full length (no copy is left behind by a reallocation).
fn fill(
    template: &str,
    name: &str,
    password: Option<&str>,
    expiration: Option<&str>,
) -> Zeroizing<String> {
    let pieces = |emit: &mut dyn FnMut(&str)| {
        let mut rest = template;
        while let Some(at) = rest.find("{{") {
            emit(&rest[..at]);
            let tail = &rest[at..];
            let hit = [
                ("{{name}}", Some(name)),
                ("{{password}}", password),
                ("{{expiration}}", expiration),
            ]
            .into_iter()
            .find_map(|(placeholder, value)| {
                value
                    .filter(|_| tail.starts_with(placeholder))
                    .map(|v| (placeholder.len(), v))
            });
            match hit {
                Some((len, value)) => {
                    emit(value);
                    rest = &tail[len..];
                }
                None => {
                    emit("{{");
                    rest = &tail[2..];
                }
            }
        }
        emit(rest);
    };
    let mut len = 0;
    pieces(&mut |s| len += s.len());
    let mut out = Zeroizing::new(String::with_capacity(len));
    pieces(&mut |s| out.push_str(s));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]
    use super::*;

    #[test]
    fn fill_replaces_each_placeholder_once_and_never_inside_a_value() {
        let out = fill(
            "CREATE ROLE {{name}} PASSWORD {{password}} VALID UNTIL {{expiration}}; {{other}} {{",
            "ss_ab",
            Some("'{{name}}'"),
            Some("'2030-01-01T00:00:00Z'"),
        );
        assert_eq!(
            out.as_str(),
            "CREATE ROLE ss_ab PASSWORD '{{name}}' VALID UNTIL '2030-01-01T00:00:00Z'; {{other}} {{"
        );
        // Grants and revocations get the name only.
        let out = fill("GRANT x TO {{name}} {{password}}", "ss_ab", None, None);
        assert_eq!(out.as_str(), "GRANT x TO ss_ab {{password}}");
    }

    #[test]
    fn a_principal_that_is_not_a_secretstore_role_is_refused() {
        assert!(check_principal(&generator::role_name()).is_ok());
        for bad in [
            "postgres",
            "ss_",
            "ss_A",
            "ss_a;DROP",
            "admin",
            &"ss_a".repeat(20),
        ] {
            assert!(
                matches!(check_principal(bad), Err(BackendError::Refused(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn scrub_takes_out_every_secret_longest_first_and_ignores_empty_ones() {
        let mut s = Scrub::default();
        s.add("");
        s.add("pw");
        s.add("'pw'");
        assert_eq!(
            s.clean("near \"'pw'\" and pw, not p w"),
            "near \"[REDACTED]\" and [REDACTED], not p w"
        );
    }

    #[test]
    fn the_admin_password_never_reaches_a_parse_message_and_the_role_url_keeps_the_rest() {
        let admin = SecretValue::new(
            "postgres://admin:s%40cret@db.example:6543/app?sslmode=disable".into(),
        )
        .unwrap();
        let a = Admin::parse(Some(&admin)).unwrap();
        assert_eq!(a.at, "host db.example:6543, database app");
        let scrub = a.scrub();
        assert_eq!(scrub.clean("s@cret s%40cret"), "[REDACTED] [REDACTED]");
        let pw = SecretValue::new("Abc123".into()).unwrap();
        let url = a.url_for("ss_0123456789ab", &pw).unwrap();
        assert_eq!(
            url.expose_secret(),
            "postgres://ss_0123456789ab:Abc123@db.example:6543/app?sslmode=disable"
        );
        for bad in ["mysql://a:b@h/d", "not a url", "postgres:///db?host=/run"] {
            let v = SecretValue::new(bad.into()).unwrap();
            assert!(matches!(
                Admin::parse(Some(&v)),
                Err(BackendError::Refused(_))
            ));
        }
    }
}
