//! Running a command with an agent's env and files: what `secretstore run` does after its
//! dispatch (and what `secretstore boot` does after its redemption).
//!
//! [`exec`] writes the file-delivered secrets, each to a file (mode 0600) of a private
//! folder (mode 0700, a random name) on a memory-backed filesystem, and sets `NAME_FILE` to
//! its path instead of `NAME`; starts the command from secretstore's environment minus its
//! own settings (or a clean one), with the env applied on top; masks every value in the
//! command's output unless told not to; passes SIGTERM, SIGINT and SIGHUP on to it; and
//! removes the folder once the command has exited, however it exited. The signal handlers
//! are in place before the first file is written, so a signal never ends secretstore
//! between writing the files and removing them; an error on the way (the command cannot
//! be started) removes them too (the folder's guard, on drop). Only SIGKILL, which no
//! process can catch, leaves the folder behind (on a memory-backed filesystem: gone at the
//! next reboot at the latest).

use secretstore_core::{Delivery, SecretValue};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Prefixes of the settings that secretstore, the AWS SDK and the Vault client read: a
/// child never inherits them from secretstore's environment (its brief may still set such
/// a name, on purpose). `.env` is never loaded into the process environment, so what it
/// holds cannot reach a child that way.
const PRIVATE_SETTING_PREFIXES: &[&str] = &[
    "FERNET_",
    "DATABASE_",
    "VAULT_",
    "AWS_",
    "BRIEF_",
    "SECRETSTORE_",
];

/// Other settings secretstore reads: its backend, and the libpq variables that its
/// PostgreSQL driver reads.
const PRIVATE_SETTINGS: &[&str] = &[
    "SECRET_BACKEND",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGAPPNAME",
    "PGOPTIONS",
];

/// What `--clean-env` keeps of secretstore's own environment (those that are set).
const CLEAN_ENV_KEEP: &[&str] = &["PATH", "HOME", "LANG", "TERM", "TZ"];

/// The variables that are not secrets, and so not masked: the brief's id, and the
/// server's address that `boot` passes on for the agent's callback.
const NOT_SECRET_VARS: &[&str] = &["SECRETSTORE_BRIEF_ID", "SECRETSTORE_URL"];

/// The memory-backed folder used when neither `--files-dir` nor `$XDG_RUNTIME_DIR` is.
const SHM: &str = "/dev/shm";

/// What the command is given: the env (`NAME` to value) and the file-delivered secrets
/// (`NAME` to value: written to a file, `NAME_FILE` set to its path).
pub(crate) struct ChildEnv {
    /// Variables set on top of the base environment.
    pub(crate) env: Vec<(String, SecretValue)>,
    /// Secrets written to files; the command gets `NAME_FILE`.
    pub(crate) files: Vec<(String, SecretValue)>,
}

/// How the command is run.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecOptions {
    /// Replace the values with `***` in the command's stdout and stderr.
    pub(crate) mask: bool,
    /// Start from `PATH`, `HOME`, `LANG`, `TERM` and `TZ` alone (those set) instead of
    /// secretstore's environment minus its own settings.
    pub(crate) clean_env: bool,
    /// Where the private folder of the files is made (default: `$XDG_RUNTIME_DIR`, else
    /// `/dev/shm`).
    pub(crate) files_dir: Option<PathBuf>,
}

/// Why the command was not run to its end. None carries a value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExecError {
    /// secretstore cannot listen for the signals it passes on.
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
    /// No private folder for the files could be made.
    #[error("{0}")]
    FilesDir(String),
    /// A file of a file-delivered secret cannot be written.
    #[error("cannot write the file of {name} in {}: {source}", .dir.display())]
    WriteFile {
        /// The secret's name.
        name: String,
        /// The private folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The command cannot be started.
    #[error("cannot run {}: {source}", .program.to_string_lossy())]
    Spawn {
        /// The program.
        program: OsString,
        /// Why it did not start.
        source: std::io::Error,
    },
    /// secretstore lost track of the running command.
    #[error("waiting for the command failed: {0}")]
    Wait(std::io::Error),
}

impl ExecError {
    /// True when the command never started (nothing used the env).
    pub(crate) fn not_started(&self) -> bool {
        !matches!(self, ExecError::Wait(_))
    }
}

/// Runs `program` with `args` and `child_env` as described in the module's documentation,
/// and returns its exit code (128 + the signal that ended it, if one did). The folder of
/// the files is gone when this returns, whatever happened.
pub(crate) async fn exec(
    program: &OsStr,
    args: &[OsString],
    child_env: ChildEnv,
    opts: ExecOptions,
) -> Result<ExitCode, ExecError> {
    // First of all: from here on, SIGTERM, SIGINT and SIGHUP no longer end secretstore
    // (they are passed on to the command), so the files are always removed.
    let mut signals = Signals::listen().map_err(ExecError::Signals)?;
    let ChildEnv { env, files } = child_env;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    child_base_env(&mut cmd, opts.clean_env);
    for (k, v) in &env {
        cmd.env(k, v.expose_secret());
    }
    let folder = match files.is_empty() {
        true => None,
        false => Some(FilesFolder::create(opts.files_dir.as_deref(), &files)?),
    };
    if let Some(folder) = &folder {
        for (name, path) in &folder.paths {
            // `NAME_FILE` instead of `NAME`, even one inherited from secretstore's own
            // environment.
            cmd.env_remove(name);
            cmd.env(Delivery::File.env_name(name), path);
        }
    }
    let masker = {
        // The callback token is a secret too; the brief id is not.
        let secrets: Vec<&str> = env
            .iter()
            .filter(|(k, _)| !NOT_SECRET_VARS.contains(&k.as_str()))
            .chain(&files)
            .map(|(_, v)| v.expose_secret())
            .collect();
        crate::mask::Masker::new(&secrets)
    };
    if opts.mask {
        for (name, v) in env.iter().chain(&files) {
            if v.len() < crate::mask::MIN_MASKED_LEN {
                eprintln!(
                    "secretstore: {name} is shorter than {} bytes and is not masked in the output",
                    crate::mask::MIN_MASKED_LEN
                );
            }
        }
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    let spawned = cmd.spawn();
    // The values leave this process's keeping: the command has its copy, the masker its own.
    drop(cmd);
    drop(env);
    drop(files);
    let mut child = spawned.map_err(|source| ExecError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    let mut copies = Vec::new();
    if opts.mask {
        if let Some(o) = child.stdout.take() {
            copies.push(tokio::spawn(crate::mask::copy_masked(
                o,
                tokio::io::stdout(),
                masker.clone(),
            )));
        }
        if let Some(e) = child.stderr.take() {
            copies.push(tokio::spawn(crate::mask::copy_masked(
                e,
                tokio::io::stderr(),
                masker.clone(),
            )));
        }
    }
    drop(masker);
    let status = signals.wait_forwarding(&mut child).await;
    for c in copies {
        let _ = c.await;
    }
    if let Some(folder) = folder {
        folder.remove();
    }
    Ok(exit_code(status.map_err(ExecError::Wait)?))
}

/// True for a variable of secretstore's own configuration, whatever its `_FILE` form.
fn is_private_setting(name: &str) -> bool {
    PRIVATE_SETTING_PREFIXES.iter().any(|p| name.starts_with(p)) || PRIVATE_SETTINGS.contains(&name)
}

/// The environment a child starts from, before its env is applied: secretstore's own
/// minus its settings, or with `clean` only [`CLEAN_ENV_KEEP`].
fn child_base_env(cmd: &mut tokio::process::Command, clean: bool) {
    if clean {
        cmd.env_clear();
        for k in CLEAN_ENV_KEEP {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
    } else {
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(is_private_setting) {
                cmd.env_remove(&k);
            }
        }
    }
}

/// The child's exit code as ours: its code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    if let Some(c) = status.code() {
        return ExitCode::from(u8::try_from(c & 0xff).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return ExitCode::from(u8::try_from(128 + sig).unwrap_or(1));
        }
    }
    ExitCode::from(1)
}

/// The private folder of the file-delivered secrets. Dropping it removes it with its
/// files (an error path); [`FilesFolder::remove`] does so and says when it cannot.
struct FilesFolder {
    dir: tempfile::TempDir,
    /// Each secret's name and the absolute path of its file.
    paths: Vec<(String, PathBuf)>,
}

impl FilesFolder {
    /// Makes the folder (under `chosen`, else `$XDG_RUNTIME_DIR`, else `/dev/shm`: the
    /// first that works) and writes every file into it.
    fn create(chosen: Option<&Path>, files: &[(String, SecretValue)]) -> Result<Self, ExecError> {
        let dir = private_dir(chosen)?;
        let root = std::fs::canonicalize(dir.path())
            .or_else(|_| std::path::absolute(dir.path()))
            .unwrap_or_else(|_| dir.path().to_owned());
        let mut paths = Vec::with_capacity(files.len());
        for (name, value) in files {
            let path = root.join(name);
            write_private_file(&path, value.expose_secret().as_bytes()).map_err(|source| {
                ExecError::WriteFile {
                    name: name.clone(),
                    dir: root.clone(),
                    source,
                }
            })?;
            paths.push((name.clone(), path));
        }
        Ok(FilesFolder { dir, paths })
    }

    /// Removes the folder and everything in it; says so on stderr when it cannot.
    fn remove(self) {
        let shown = self.dir.path().display().to_string();
        if let Err(e) = self.dir.close() {
            eprintln!(
                "secretstore: warning: cannot remove {shown}, the folder of the file-delivered secrets ({e}); remove it by hand"
            );
        }
    }
}

/// A new folder with a random name and mode 0700 under the first base that works.
fn private_dir(chosen: Option<&Path>) -> Result<tempfile::TempDir, ExecError> {
    let bases: Vec<PathBuf> = match chosen {
        Some(d) => vec![d.to_owned()],
        None => default_bases(),
    };
    if bases.is_empty() {
        return Err(ExecError::FilesDir(format!(
            "no memory-backed folder for the file-delivered secrets: XDG_RUNTIME_DIR is not set and {SHM} does not exist; choose one with --files-dir D"
        )));
    }
    let mut failures = Vec::new();
    for base in &bases {
        match make_private_dir(base) {
            Ok(d) => return Ok(d),
            Err(e) => failures.push(format!("{}: {e}", base.display())),
        }
    }
    Err(ExecError::FilesDir(format!(
        "cannot make a private folder for the file-delivered secrets ({}); choose another place with --files-dir D",
        failures.join("; ")
    )))
}

/// `$XDG_RUNTIME_DIR` (when set to an absolute path), then `/dev/shm` (when it exists).
fn default_bases() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && x.is_absolute()
    {
        out.push(x);
    }
    let shm = PathBuf::from(SHM);
    if shm.is_dir() && !out.contains(&shm) {
        out.push(shm);
    }
    out
}

fn make_private_dir(base: &Path) -> std::io::Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix("secretstore-files-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = b.tempdir_in(base)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// Writes `bytes` to a new file at `path` (mode 0600; never an existing file, never
/// through a symbolic link).
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits());
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.flush()
}

/// The signals passed on to the command, listened for from before the files are written.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    /// Stdin is a terminal: SIGINT and SIGHUP reach the whole foreground process group
    /// (the command too) from the terminal already, and are not sent twice.
    from_terminal: bool,
}

impl Signals {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            from_terminal: std::io::IsTerminal::is_terminal(&std::io::stdin()),
        })
    }

    /// Waits for the child, passing SIGTERM on to it, and SIGINT and SIGHUP too unless
    /// the terminal already delivered them.
    async fn wait_forwarding(
        &mut self,
        child: &mut tokio::process::Child,
    ) -> std::io::Result<std::process::ExitStatus> {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let forward = |child: &tokio::process::Child, sig: Signal| {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = kill(Pid::from_raw(pid), sig);
            }
        };
        let from_terminal = self.from_terminal;
        loop {
            tokio::select! {
                s = child.wait() => return s,
                _ = self.int.recv() => if !from_terminal { forward(child, Signal::SIGINT) },
                _ = self.hup.recv() => if !from_terminal { forward(child, Signal::SIGHUP) },
                _ = self.term.recv() => forward(child, Signal::SIGTERM),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_settings_are_recognised_in_every_form() {
        for k in [
            "FERNET_SECRET_KEY",
            "DATABASE_URL_FILE",
            "AWS_PROFILE",
            "PGPASSWORD",
        ] {
            assert!(is_private_setting(k), "{k}");
        }
        for k in ["PATH", "DB_URL", "MY_AWS_KEY"] {
            assert!(!is_private_setting(k), "{k}");
        }
    }

    #[test]
    fn the_folder_is_private_its_files_exact_and_it_is_gone_on_drop() {
        let base = tempfile::tempdir().unwrap();
        let value = SecretValue::new("line 1\nline 2\n".into()).unwrap();
        let folder = FilesFolder::create(Some(base.path()), &[("PEM".into(), value)]).unwrap();
        let root = folder.dir.path().to_owned();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        let (name, path) = &folder.paths[0];
        assert_eq!(name, "PEM");
        assert!(path.is_absolute());
        assert_eq!(mode(path), 0o600);
        assert_eq!(std::fs::read(path).unwrap(), b"line 1\nline 2\n");
        drop(folder);
        assert!(!root.exists(), "the guard removes the folder");
    }

    #[test]
    fn a_files_dir_that_does_not_exist_is_named_with_the_flag() {
        let base = tempfile::tempdir().unwrap();
        let missing = base.path().join("nope");
        let value = SecretValue::new("v".into()).unwrap();
        let e = FilesFolder::create(Some(&missing), &[("A".into(), value)])
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(
            text.contains("--files-dir") && text.contains("nope"),
            "{text}"
        );
        assert!(e.not_started());
    }
}
