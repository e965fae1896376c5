//! Runs the real `secretstore` binary in a temporary folder of its own.

pub(crate) mod lock;
pub(crate) mod server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary working directory with its own `.env`, database and brief folder. With
/// `SECRETSTORE_TEST_DB=postgres`, its database is a fresh one on the test PostgreSQL server
/// (`SECRETSTORE_TEST_PG_URL`) instead of `secretstore.db`.
pub(crate) struct Env {
    pub(crate) dir: tempfile::TempDir,
    /// Extra environment for every command.
    pub(crate) vars: Vec<(String, String)>,
    /// The PostgreSQL database of this folder, in postgres mode.
    pub(crate) pg_url: Option<String>,
}

pub(crate) use secretstore_testkit::db::{new_pg_database, postgres_mode};
pub(crate) use secretstore_testkit::need;

/// What one run of the binary did.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) raw_stdout: Vec<u8>,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts a failure with this exit code and a single `error: …` line containing `needle`.
    #[track_caller]
    pub(crate) fn fails(&self, code: i32, needle: &str) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with("error: ") && l.contains(needle)),
            "stderr lacks an `error:` line with {needle:?}:\n{}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        self
    }
}

pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_secretstore"))
}

impl Env {
    /// A fresh folder with `secretstore init` run in it.
    pub(crate) fn new() -> Env {
        let e = Env::bare();
        e.run(&["init"]).ok();
        e
    }

    /// A fresh, empty folder.
    pub(crate) fn bare() -> Env {
        let mut vars = vec![("USER".to_string(), "tester".to_string())];
        let pg_url = postgres_mode().then(new_pg_database);
        if let Some(u) = &pg_url {
            vars.push(("DATABASE_URL".into(), u.clone()));
        }
        Env {
            dir: secretstore_testkit::scratch(),
            vars,
            pg_url,
        }
    }

    pub(crate) fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args).current_dir(self.dir.path());
        for k in [
            "FERNET_SECRET_KEY",
            "FERNET_SECRET_KEYS",
            "DATABASE_URL",
            "SECRET_BACKEND",
            "BRIEF_STORE_URL",
            "SECRETSTORE_CALLBACK_TTL",
        ] {
            c.env_remove(k);
        }
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Runs with empty stdin.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, b"")
    }

    /// Runs with `stdin` piped in.
    pub(crate) fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut c = self.command(args);
        run_with(&mut c, stdin)
    }

    /// Creates org `acme`, team `acme/platform`, workspace `acme/platform/dev`, project
    /// `acme/platform/dev/agent-x`, and a second team `acme/other` with workspace `acme/other/dev`
    /// and project `acme/other/dev/bot`.
    pub(crate) fn with_tree(self) -> Env {
        for (kind, path) in [
            ("org", "acme"),
            ("team", "acme/platform"),
            ("workspace", "acme/platform/dev"),
            ("project", "acme/platform/dev/agent-x"),
            ("team", "acme/other"),
            ("workspace", "acme/other/dev"),
            ("project", "acme/other/dev/bot"),
        ] {
            self.run(&[kind, "create", path]).ok();
        }
        self
    }

    /// `secret set NAME --scope SCOPE --category CAT` with the value on stdin (no newline added).
    pub(crate) fn set(&self, name: &str, scope: &str, category: &str, value: &str) -> Run {
        self.run_stdin(
            &[
                "secret",
                "set",
                name,
                "--scope",
                scope,
                "--category",
                category,
            ],
            value.as_bytes(),
        )
    }

    /// Every byte under the folder (database, WAL, briefs, env files…), for leak checks;
    /// in postgres mode also a full dump of the database, as `secretstore.db`.
    pub(crate) fn all_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        if let Some(u) = &self.pg_url {
            let dump = Command::new("pg_dump").arg(u).output().expect("pg_dump");
            assert!(
                dump.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&dump.stderr)
            );
            out.push((self.path("secretstore.db"), dump.stdout));
        }
        out
    }

    /// Runs SQL on this folder's database; rows as `a|b|c` lines.
    pub(crate) fn sql(&self, query: &str) -> String {
        let out = match &self.pg_url {
            Some(u) => Command::new("psql")
                .args([u.as_str(), "-At", "-F", "|", "-c", query])
                .output(),
            None => Command::new("sqlite3")
                .arg(self.path("secretstore.db"))
                .arg(query)
                .output(),
        }
        .expect("sqlite3 or psql (scripts/test.sh installs them)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out);
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
}

pub(crate) fn run_with(c: &mut Command, stdin: &[u8]) -> Run {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        let mut i = child.stdin.take().unwrap();
        // The binary may exit before reading (a usage error): ignore a broken pipe.
        let _ = i.write_all(stdin);
    }
    let out: Output = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw_stdout: out.stdout,
    }
}

/// True if `needle` occurs in `hay`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
