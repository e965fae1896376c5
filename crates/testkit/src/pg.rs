//! A PostgreSQL server of a test's own, for the tests that stop and restart the database
//! under a running secretstore (the shared server of `scripts/services.sh` must keep
//! running for every other test). Debian's binaries, found with `pg_config --bindir`; run
//! as the `postgres` user when the tests run as root (PostgreSQL refuses root).

use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL server in a throwaway folder on a free loopback port, stopped (immediate
/// shutdown) and removed when dropped, also when the test fails.
pub struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_root: bool,
}

impl PrivatePostgres {
    /// Creates the cluster (`initdb`, trust authentication on loopback) and starts it.
    pub fn start() -> PrivatePostgres {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .unwrap_or_else(|| panic!("pg_config --bindir failed (scripts/setup.sh installs it)"));
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let dir = std::env::temp_dir().join(format!("secretstore-private-pg-{}", crate::unique()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let pg = PrivatePostgres {
            dir,
            bin,
            port: crate::free_port(),
            as_root,
        };
        if as_root {
            pg.run_plain("chown", &["postgres", &pg.dir.display().to_string()]);
        }
        let data = pg.data();
        pg.run_pg(&format!(
            "{} -D {data} -U postgres -A trust >{}/initdb.log 2>&1",
            pg.bin.join("initdb").display(),
            pg.dir.display()
        ));
        pg.resume();
        pg
    }

    /// The administrator's URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast shutdown: open connections are closed), and waits for it.
    pub fn stop(&self) {
        self.run_pg(&format!(
            "{} -D {} -w -m fast stop >/dev/null",
            self.bin.join("pg_ctl").display(),
            self.data()
        ));
    }

    /// Starts it again on the same port and data, and waits until it accepts connections.
    pub fn resume(&self) {
        self.run_pg(&format!(
            "{} -D {data} -w -l {dir}/server.log -o \"-c listen_addresses=127.0.0.1 -p {port} -k {dir}\" start >/dev/null",
            self.bin.join("pg_ctl").display(),
            data = self.data(),
            dir = self.dir.display(),
            port = self.port
        ));
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// A shell running `script` as the user PostgreSQL runs as.
    fn as_pg(&self, script: &str) -> Command {
        let mut c = if self.as_root {
            let mut c = Command::new("su");
            c.args(["postgres", "-s", "/bin/sh"]);
            c
        } else {
            Command::new("sh")
        };
        c.args(["-c", script]);
        c
    }

    fn run_pg(&self, script: &str) {
        let status = self.as_pg(script).status();
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "{script}: {status:?}\n{log}"
        );
    }

    fn run_plain(&self, program: &str, args: &[&str]) {
        let status = Command::new(program).args(args).status();
        assert!(status.is_ok_and(|s| s.success()), "{program} {args:?}");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let script = format!(
            "{} -D {} -m immediate stop >/dev/null 2>&1",
            self.bin.join("pg_ctl").display(),
            self.data()
        );
        let _ = self.as_pg(&script).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
