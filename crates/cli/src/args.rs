//! The command line's shape (clap). Values are never arguments: they come from stdin,
//! a file or an environment variable.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "secretstore",
    version,
    about = "Scoped secrets for agent dispatch: stored encrypted, resolved narrowest-scope-first, handed out as environment variables.",
    after_help = "Values are read from stdin, --from-file or --from-env; never from the command line."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Print a new Fernet key.
    Keygen,
    /// Write .env (mode 0600) with a new key if none is set, and create the database.
    Init,
    /// Organizations.
    Org {
        #[command(subcommand)]
        cmd: OrgCmd,
    },
    /// Teams (ORG/TEAM).
    Team {
        #[command(subcommand)]
        cmd: ScopeCmd,
    },
    /// Workspaces (ORG/TEAM/WS).
    Workspace {
        #[command(subcommand)]
        cmd: ScopeCmd,
    },
    /// Projects (ORG/TEAM/WS/PROJECT).
    Project {
        #[command(subcommand)]
        cmd: ScopeCmd,
    },
    /// Secrets: set, get, list, history, rollback, delete, link, import, due.
    Secret {
        #[command(subcommand)]
        cmd: SecretCmd,
    },
    /// Tasks.
    Task {
        #[command(subcommand)]
        cmd: TaskCmd,
    },
    /// Show which secret each ref resolves to for a project (no values).
    Resolve {
        #[arg(long)]
        project: String,
        #[arg(long = "ref", value_name = "NAME", required = true)]
        refs: Vec<String>,
        /// Also show what each winner shadows.
        #[arg(long)]
        explain: bool,
        #[arg(long)]
        json: bool,
    },
    /// Dispatch a task: assemble and store its brief, print the brief id.
    ///
    /// With --sealed, no value is handed out: the env is kept sealed under a single-use
    /// boot token (printed on a second line, or in --json), which `secretstore boot`
    /// redeems once inside the agent's container (SECRETSTORE_BOOT_TTL, default 10m).
    Dispatch {
        task_id: String,
        /// Write the env to this file (mode 0600), and each file-delivered secret to
        /// PATH.files/NAME (folder 0700, files 0600) with NAME_FILE in the env file.
        #[arg(long, value_name = "PATH", conflicts_with = "sealed")]
        env_file: Option<PathBuf>,
        /// Print {"brief_id", "task_id", "env", "files"} as JSON ({"brief_id", "task_id",
        /// "boot_token", "expires_at"} with --sealed).
        #[arg(long)]
        json: bool,
        /// Hand out a boot token instead of the env.
        #[arg(long)]
        sealed: bool,
    },
    /// Dispatch a task, then run COMMAND with its env; exits with COMMAND's code.
    Run {
        #[arg(long = "task", value_name = "TASK_ID")]
        task: String,
        /// Do not replace the injected values with *** in the command's output.
        #[arg(long)]
        no_mask: bool,
        /// Start COMMAND with only PATH, HOME, LANG, TERM and TZ (those set) plus the
        /// brief's env, instead of secretstore's environment minus its own settings.
        #[arg(long)]
        clean_env: bool,
        /// Where the private folder of the file-delivered secrets is made (default:
        /// $XDG_RUNTIME_DIR, else /dev/shm); it is removed when COMMAND exits.
        #[arg(long, value_name = "D")]
        files_dir: Option<PathBuf>,
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Briefs.
    Brief {
        #[command(subcommand)]
        cmd: BriefCmd,
    },
    /// Per-task credentials: what generators minted, and revoking it.
    Lease {
        #[command(subcommand)]
        cmd: LeaseCmd,
    },
    /// Callback tokens.
    Callback {
        #[command(subcommand)]
        cmd: CallbackCmd,
    },
    /// Inside the agent's container: redeem the boot token of a sealed dispatch once, then
    /// run COMMAND with the brief's env (file-delivered secrets as private files named by
    /// NAME_FILE); exits with COMMAND's code.
    ///
    /// Needs only SECRETSTORE_URL and SECRETSTORE_BOOT_TOKEN (or
    /// SECRETSTORE_BOOT_TOKEN_FILE), and SECRETSTORE_CACERT for a server whose certificate
    /// a private CA signed: no database, no key, no .env. The boot token is not passed on
    /// to COMMAND.
    Boot {
        /// Do not replace the injected values with *** in the command's output.
        #[arg(long)]
        no_mask: bool,
        /// Where to write file-delivered secrets (default $XDG_RUNTIME_DIR, else /dev/shm).
        #[arg(long, value_name = "D")]
        files_dir: Option<PathBuf>,
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Accounts: people and services (the controller).
    Account {
        #[command(subcommand)]
        cmd: AccountCmd,
    },
    /// Grant a role: root | admin ORG | member ORG/TEAM | dispatcher ORG.
    Grant {
        name: String,
        role: String,
        scope: Option<String>,
        /// Take the role away instead.
        #[arg(long)]
        revoke: bool,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Read the audit log, newest first: every filter given must hold.
    Audit {
        /// Only records at or under this scope.
        #[arg(long)]
        scope: Option<String>,
        /// Only records about a secret of this name.
        #[arg(long)]
        name: Option<String>,
        /// Only records by this actor (an account, `cli:<os user>`, anonymous).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action (secret.reveal), or every action under a prefix ending in a
        /// dot (secret.).
        #[arg(long)]
        action: Option<String>,
        /// Only records at or after: 2026-11-29T14:00:00Z, 2026-11-29, or an age (15m,
        /// 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Only records at or before, spelled as --since.
        #[arg(long)]
        until: Option<String>,
        /// At most this many of the newest records (default 1000; with --jsonl, all).
        #[arg(long)]
        limit: Option<u64>,
        /// One JSON array.
        #[arg(long, conflicts_with = "jsonl")]
        json: bool,
        /// One JSON object per line, for a SIEM: every matching record unless --limit.
        #[arg(long)]
        jsonl: bool,
    },
    /// Search files and folders (with --git, every blob in a git repository's history) for
    /// every value you may reveal, current and earlier versions, in every encoding the
    /// leak detector knows; prints where (`path:line`, or `commit:path:line`), the
    /// secret's name, scope and version and the encoding, never a value.
    ///
    /// Exit 0: nothing found; 1: something found, or the scan failed (an `error:` line);
    /// 2: wrong usage. Values under 8 bytes are not searched (the summary counts them);
    /// `.git` folders and symbolic links inside a folder are not followed; files over
    /// 64 MiB and unreadable files are reported and left out.
    Scan {
        /// Files and folders (with --git: git repositories).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Search every blob of the history of every ref (`git log --all`), each once, at
        /// the first commit and path that brought it in; not the work tree.
        #[arg(long)]
        git: bool,
        /// Print {"findings": […], "values", "skipped", "files", "bytes", "not_scanned"}.
        #[arg(long)]
        json: bool,
    },
    /// Rotation policies: a maximum age for the secrets of a category at a scope and below
    /// (a secret's own --rotate-every comes first).
    Rotation {
        #[command(subcommand)]
        cmd: RotationCmd,
    },
    /// Serve the HTTP API (SECRETSTORE_LISTEN, default 127.0.0.1:8080).
    Serve,
    /// Check every configured backend and the brief store: one line each (exit 1 when
    /// one failed).
    Doctor {
        /// Print {"ok", "checks": [{"name", "ok", "detail"}]} as JSON, for scripts and
        /// probes.
        #[arg(long)]
        json: bool,
    },
    /// Re-encrypt every stored local value (every version) under the first key of
    /// FERNET_SECRET_KEYS, so older keys can be dropped. Safe to interrupt and re-run.
    Rekey {
        /// Only count the values each key opens.
        #[arg(long)]
        dry_run: bool,
        /// Values per transaction.
        #[arg(long, default_value_t = 500, value_name = "N")]
        batch_size: i64,
    },
}

#[derive(Subcommand)]
pub(crate) enum AccountCmd {
    /// Create an account (a person unless --service).
    Create {
        name: String,
        /// A service account (for the controller), not a person.
        #[arg(long)]
        service: bool,
    },
    /// List accounts and their roles.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum TokenCmd {
    /// Issue a new API token for an account; printed once.
    Create { name: String },
    /// List an account's tokens (ids, never the tokens).
    List {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id.
    Revoke { id: String },
}

#[derive(Subcommand)]
pub(crate) enum ScopeCmd {
    /// Create it; its parent must exist.
    Create { path: String },
}

#[derive(Subcommand)]
pub(crate) enum OrgCmd {
    /// Create it.
    Create { path: String },
    /// Which backend references the organization's admins and members may link (root).
    ///
    /// With prefixes, replaces both lists with exactly those given; with `--none`, allows
    /// nothing (only root links); with neither, shows the lists. A prefix matches on
    /// `/`-separated segments: `secret/apps/a` allows `secret/apps/a/db#password`, never
    /// `secret/apps/ab/…`. AWS prefixes are secret names (no ARN: the account and region
    /// are the server's). secretstore's own references of another scope are never allowed.
    #[command(name = "allow-links")]
    AllowLinks {
        org: String,
        /// An AWS Secrets Manager secret-name prefix (repeatable).
        #[arg(long = "aws-prefix", value_name = "P")]
        aws: Vec<String>,
        /// A Vault KV `MOUNT/PATH` prefix (repeatable).
        #[arg(long = "vault-prefix", value_name = "P")]
        vault: Vec<String>,
        /// Allow nothing: only root links.
        #[arg(long, conflicts_with_all = ["aws", "vault"])]
        none: bool,
        #[arg(long)]
        json: bool,
    },
    /// The organization's delivery policy (its admins and root): with --sealed-only, every
    /// dispatch must be sealed (one that would hand out the env is refused); with
    /// --no-sealed-only, env dispatches are allowed again; with neither, shows it.
    Policy {
        org: String,
        /// Require sealed delivery.
        #[arg(long, conflicts_with = "no_sealed_only")]
        sealed_only: bool,
        /// Allow env delivery again.
        #[arg(long)]
        no_sealed_only: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct At {
    pub(crate) name: String,
    /// The organization, team or workspace path.
    #[arg(long)]
    pub(crate) scope: String,
}

#[derive(Subcommand)]
pub(crate) enum SecretCmd {
    /// Write a new version; the value comes from stdin (one trailing newline dropped),
    /// --from-file (bytes kept exactly) or --from-env.
    Set {
        #[command(flatten)]
        at: At,
        /// provider, infrastructure, integration or agent; required for a new secret.
        #[arg(long)]
        category: Option<String>,
        /// env (the value as the variable NAME; the default for a new secret) or file (the
        /// value in a private file, its path in NAME_FILE); kept when omitted.
        #[arg(long, value_name = "env|file")]
        delivery: Option<String>,
        #[arg(long, value_name = "F", conflicts_with = "from_env")]
        from_file: Option<PathBuf>,
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
        /// Refuse the write unless the current version is N (0: must not exist).
        #[arg(long, value_name = "N")]
        expect_version: Option<i64>,
        /// The secret's maximum age (30s to 365d, e.g. 90d): `secret due` lists it once
        /// its current version is older; `off` (or 0) removes it; kept when omitted.
        #[arg(long, value_name = "D")]
        rotate_every: Option<String>,
    },
    /// Print the value exactly: nothing added, but a newline when stdout is a terminal.
    Get {
        #[command(flatten)]
        at: At,
        #[arg(long, value_name = "N")]
        version: Option<i64>,
    },
    /// Who was handed a secret's value, newest first: its reveals and the dispatches that
    /// handed it out (which version, which brief, who, when, from where), each dispatch
    /// with its brief's status, and `old version` where a running agent still holds an
    /// older version than the current one.
    Access {
        name: String,
        #[arg(long)]
        scope: String,
        /// Only accesses at or after: 2026-11-29T14:00:00Z, 2026-11-29, or an age (15m,
        /// 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Only accesses at or before, spelled as --since.
        #[arg(long)]
        until: Option<String>,
        /// At most this many of the newest accesses (default 1000).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Find secrets by name at every scope you may see (metadata only): a part of a name
    /// in either case (`stripe` finds STRIPE_KEY and OLD_STRIPE), or a whole name with `*`
    /// for any run of characters (`'STRIPE_*'`).
    Find {
        pattern: String,
        /// Only at this scope.
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the secrets of a scope (metadata only).
    List {
        #[arg(long)]
        scope: String,
        #[arg(long)]
        json: bool,
    },
    /// Show every version of a secret.
    History {
        #[command(flatten)]
        at: At,
        #[arg(long)]
        json: bool,
    },
    /// Write a new version holding version N's value.
    Rollback {
        #[command(flatten)]
        at: At,
        #[arg(long, value_name = "N")]
        to: i64,
    },
    /// Delete a secret and its history.
    Delete {
        #[command(flatten)]
        at: At,
    },
    /// Register a secret that already lives in AWS Secrets Manager or Vault; no value
    /// passes through secretstore.
    Link {
        #[command(flatten)]
        at: At,
        /// The secret's ARN (or name) in AWS Secrets Manager.
        #[arg(
            long,
            value_name = "ARN",
            required_unless_present = "vault_path",
            conflicts_with = "vault_path"
        )]
        aws_arn: Option<String>,
        /// MOUNT/PATH#FIELD in Vault KV v2.
        #[arg(long, value_name = "MOUNT/PATH#FIELD")]
        vault_path: Option<String>,
        /// Required when the secret is new.
        #[arg(long)]
        category: Option<String>,
        /// env (the value as the variable NAME; the default for a new secret) or file (the
        /// value in a private file, its path in NAME_FILE); kept when omitted.
        #[arg(long, value_name = "env|file")]
        delivery: Option<String>,
        /// The secret's maximum age (30s to 365d, e.g. 90d); `off` (or 0) removes it; kept
        /// when omitted.
        #[arg(long, value_name = "D")]
        rotate_every: Option<String>,
    },
    /// The secrets whose rotation is due, oldest first: older than their maximum age
    /// (their own --rotate-every, else their category's `rotation set` policy at the
    /// nearest scope), or marked leaked (found in an agent's output).
    Due {
        /// Only secrets at this scope and below.
        #[arg(long, value_name = "PATH")]
        scope: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Define (or redefine, as a new version) a generator: a secret whose value is minted
    /// for each dispatch and revoked when the task ends. --postgres ADMIN_REF: a
    /// PostgreSQL role per dispatch (ADMIN_REF names the secret holding the admin
    /// connection URL, resolved from this scope's chain); --aws-role-arn: an AWS STS
    /// session per dispatch (sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    /// AWS_SESSION_TOKEN).
    Generator {
        #[command(flatten)]
        at: At,
        /// agent (the only category of a generator; the default).
        #[arg(long)]
        category: Option<String>,
        /// The secret holding the admin connection URL of the PostgreSQL server.
        #[arg(
            long,
            value_name = "ADMIN_REF",
            required_unless_present = "aws_role_arn",
            conflicts_with = "aws_role_arn"
        )]
        postgres: Option<String>,
        /// A statement run after the role is created ({{name}}: the role, quoted).
        #[arg(long = "grant", value_name = "SQL", requires = "postgres")]
        grants: Vec<String>,
        /// Replaces the default CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}}
        /// VALID UNTIL {{expiration}} (repeatable).
        #[arg(long = "creation-statement", value_name = "SQL", requires = "postgres")]
        creation: Vec<String>,
        /// Replaces the default revocation (no login, sessions terminated, what it owns
        /// reassigned, the role dropped) (repeatable).
        #[arg(
            long = "revocation-statement",
            value_name = "SQL",
            requires = "postgres"
        )]
        revocation: Vec<String>,
        /// The IAM role to assume for each dispatch.
        #[arg(long, value_name = "ARN")]
        aws_role_arn: Option<String>,
        /// A JSON file with a session policy that narrows the role.
        #[arg(long, value_name = "FILE", requires = "aws_role_arn")]
        session_policy: Option<PathBuf>,
        /// The longest a credential lives (never longer than its task): 1m to 12h;
        /// default 1h for postgres, 15m for aws_sts.
        #[arg(long, value_name = "D")]
        ttl: Option<String>,
        /// env (the URL as NAME) or file (its path in NAME_FILE): postgres only.
        #[arg(long, value_name = "env|file")]
        delivery: Option<String>,
        /// Refuse the write unless the current version is N (0: must not exist).
        #[arg(long, value_name = "N")]
        expect_version: Option<i64>,
    },
    /// Import every variable of a dotenv file, all or nothing.
    Import {
        dotenv_file: PathBuf,
        #[arg(long)]
        scope: String,
        #[arg(long)]
        category: String,
        /// env or file, set on every imported secret; without it each keeps its own
        /// (env for a new one).
        #[arg(long, value_name = "env|file")]
        delivery: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum RotationCmd {
    /// Set the maximum age of CAT's secrets at PATH and below (30s to 365d, e.g. 90d).
    Set {
        #[arg(long, value_name = "PATH")]
        scope: String,
        /// provider, infrastructure, integration or agent.
        #[arg(long, value_name = "CAT")]
        category: String,
        #[arg(long, value_name = "D")]
        every: String,
    },
    /// Remove the policy of CAT at PATH.
    Unset {
        #[arg(long, value_name = "PATH")]
        scope: String,
        #[arg(long, value_name = "CAT")]
        category: String,
    },
    /// The policies you may see, by scope and category.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum LeaseCmd {
    /// The leases of projects where you may dispatch, newest first.
    List {
        /// Only leases of this project (or of every project under this scope).
        #[arg(long, value_name = "PATH")]
        project: Option<String>,
        /// Only the leases of this brief.
        #[arg(long, value_name = "BRIEF_ID")]
        brief: Option<String>,
        /// Only leases not yet revoked.
        #[arg(long)]
        open: bool,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one lease, or every lease of a brief, now.
    Revoke {
        #[arg(required_unless_present = "brief", conflicts_with = "brief")]
        lease_id: Option<String>,
        #[arg(long, value_name = "BRIEF_ID")]
        brief: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum TaskCmd {
    /// Create a task; prints its id.
    Create {
        #[arg(long)]
        project: String,
        #[arg(long = "ref", value_name = "NAME", required = true)]
        refs: Vec<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum BriefCmd {
    /// Show a brief: its task, project, status (running, completed or revoked), when it
    /// completed, and the secrets it handed out (never a value).
    Show {
        brief_id: String,
        /// Print the stored brief JSON, with "status" and "completed_at".
        #[arg(long)]
        json: bool,
    },
    /// Revoke a brief: its callback token stops working at once.
    Revoke { brief_id: String },
}

#[derive(Subcommand)]
pub(crate) enum CallbackCmd {
    /// Check a callback token (read from stdin): exit 0 if valid, 1 if not.
    Verify { brief_id: String },
}
