//! The processes the harness starts (`secretstore serve`, `bao server -dev`): each held by
//! a guard that stops it by its own pid when dropped, also on error or panic — SIGTERM,
//! then SIGKILL after a grace period — and free loopback ports for them.

use crate::Res;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A child process, stopped when dropped.
pub(crate) struct Guard {
    what: &'static str,
    child: Child,
    /// How long it may take to exit after SIGTERM (longer under valgrind).
    grace: Duration,
    /// Signal its process group (the child's own, pgid = its pid), not only the child: a
    /// wrapper such as `strace` does not pass SIGTERM on to the server it runs.
    group: bool,
}

impl Guard {
    /// Starts `cmd`.
    pub(crate) fn spawn(what: &'static str, cmd: &mut Command, grace: Duration) -> Res<Guard> {
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        Ok(Guard {
            what,
            child,
            grace,
            group: false,
        })
    }

    /// Starts `cmd` (a wrapper and what it runs) in a process group of its own, and stops
    /// the whole group.
    pub(crate) fn spawn_group(
        what: &'static str,
        cmd: &mut Command,
        grace: Duration,
    ) -> Res<Guard> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let mut g = Guard::spawn(what, cmd, grace)?;
        g.group = true;
        Ok(g)
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err` if it has exited already (with its status).
    pub(crate) fn alive(&mut self) -> Res<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!("{} exited early: {status}", self.what).into()),
        }
    }

    /// The CPU time it has used so far, user and system, in microseconds (`utime` and
    /// `stime` of `/proc/<pid>/stat`, in clock ticks of 1/100 s: Linux's `USER_HZ`).
    pub(crate) fn cpu_us(&self) -> Res<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let field = |n: usize| -> Res<f64> {
            rest.split_whitespace()
                .nth(n)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| format!("no field {n} in /proc/{}/stat", self.pid()).into())
        };
        // After ")": state is field 0, utime field 11, stime field 12.
        Ok((field(11)? + field(12)?) * 10_000.0)
    }

    /// Its peak resident set (`VmHWM` of `/proc/<pid>/status`), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> Res<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("no VmHWM in /proc/{}/status", self.pid()).into())
    }

    /// Stops it: SIGTERM, then SIGKILL if it has not exited within the grace period.
    pub(crate) fn stop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let Ok(pid) = i32::try_from(self.child.id()) else {
            return;
        };
        // The group's id is the child's pid (process_group(0)).
        let target = if self.group { -pid } else { pid };
        let _ = kill(Pid::from_raw(target), Signal::SIGTERM);
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing pid {pid}", self.what);
        if self.group {
            let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free port on 127.0.0.1 (bound, then released for the child to take).
pub(crate) fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A command with an empty environment but `PATH` (and `HOME` set to `home`): no setting
/// of the caller's shell (a DATABASE_URL, a VAULT_TOKEN) reaches the child.
pub(crate) fn clean_command(program: &std::path::Path, home: &std::path::Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home);
    cmd
}
