//! `scan PATH… [--git] [--json]`: files and folders, or every blob of a git history,
//! searched for every value the operator may reveal (current and earlier versions) with
//! the service's one scanner. A finding says where (`path:line`, `commit:path:line`),
//! which secret, scope and version, and the encoding: never the value. Nothing is marked
//! leaked (the operator decides); the scan is audited as `scan`, with its counts.
//!
//! Exit codes: 0 nothing found, 1 something found (or the scan failed: an `error:` line,
//! no report), 2 wrong usage.

use crate::error::{CliError, Result};
use crate::output::{outln, to_json};
use crate::wiring::Svc;
use secretstore_core::leaks::Encoding;
use secretstore_core::{LeakFinding, Principal, ScanSummary, Scanner};
use serde::Serialize;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Files (and blobs) larger than this are left out, and reported: 64 MiB.
pub(crate) const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// One finding, where it is. Never the value.
#[derive(Serialize)]
struct Found {
    /// With --git: the repository as given on the command line.
    #[serde(skip_serializing_if = "Option::is_none")]
    repository: Option<String>,
    /// With --git: the first commit that brought the blob in.
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    /// With --git: the blob's id (`git log --all --find-object=BLOB` lists every commit
    /// that adds or removes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    blob: Option<String>,
    /// The file (with --git: its path in the repository, at that commit).
    path: String,
    /// The line where the match starts, from 1.
    line: usize,
    name: String,
    scope: String,
    version: i64,
    encoding: Encoding,
    /// The byte offset in the file where the match starts.
    offset: usize,
    /// One line of a multi-line value was found (not the whole value).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    partial: bool,
}

/// A file (or blob) that was not searched, and why.
#[derive(Serialize)]
struct NotScanned {
    #[serde(skip_serializing_if = "Option::is_none")]
    repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    path: String,
    reason: String,
}

/// What `scan --json` prints.
#[derive(Serialize, Default)]
struct Report {
    findings: Vec<Found>,
    /// How many values were searched for (the skipped ones included).
    values: usize,
    /// How many values were too short (under 8 bytes) to be searched.
    skipped: usize,
    /// How many files (with --git: distinct blobs) were searched.
    files: u64,
    /// How many bytes were searched.
    bytes: u64,
    /// With --git: how many commits were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    commits: Option<u64>,
    not_scanned: Vec<NotScanned>,
}

/// Where a text came from.
struct Place<'a> {
    repository: Option<&'a str>,
    commit: Option<&'a str>,
    blob: Option<&'a str>,
    path: &'a str,
}

impl Report {
    /// Searches `content`, from `place`, and records what was found.
    fn search(&mut self, scanner: &Scanner, place: &Place<'_>, content: &[u8]) {
        self.files += 1;
        self.bytes += content.len() as u64;
        let mut found: Vec<LeakFinding> = scanner.scan(content);
        found.sort_by_key(|f| f.offset);
        // Line numbers in one pass over the text, however many findings.
        let (mut at, mut line) = (0usize, 1usize);
        for f in found {
            let upto = f.offset.min(content.len());
            line += content
                .get(at..upto)
                .map_or(0, |s| s.iter().filter(|b| **b == b'\n').count());
            at = at.max(upto);
            self.findings.push(Found {
                repository: place.repository.map(str::to_owned),
                commit: place.commit.map(str::to_owned),
                blob: place.blob.map(str::to_owned),
                path: place.path.to_owned(),
                line,
                name: f.name,
                scope: f.scope.to_string(),
                version: f.version,
                encoding: f.encoding,
                offset: f.offset,
                partial: f.line,
            });
        }
    }

    fn left_out(&mut self, place: &Place<'_>, reason: String) {
        self.not_scanned.push(NotScanned {
            repository: place.repository.map(str::to_owned),
            commit: place.commit.map(str::to_owned),
            path: place.path.to_owned(),
            reason,
        });
    }
}

/// `scan PATH… [--git] [--json]`.
pub(super) async fn scan(
    svc: &Svc,
    who: &Principal,
    paths: &[PathBuf],
    git: bool,
    json: bool,
) -> Result<ExitCode> {
    // A path that does not exist is a mistake of the command line (a CI step that names
    // the wrong folder must not pass): refused before anything is fetched.
    for p in paths {
        std::fs::metadata(p).map_err(|source| CliError::ReadFile {
            path: p.clone(),
            source,
        })?;
        if git {
            check_repository(p)?;
        }
    }
    let scanner = svc.scanner(who).await?;
    let mut report = Report {
        values: scanner.values(),
        skipped: scanner.skipped(),
        ..Report::default()
    };
    for p in paths {
        if git {
            scan_git(&scanner, p, &mut report)?;
        } else {
            visit(&scanner, p, true, &mut report);
        }
    }
    drop(scanner);
    svc.audit_scan(
        who,
        ScanSummary {
            source: if git { "git" } else { "files" },
            files: report.files,
            bytes: report.bytes,
            values: report.values,
            skipped: report.skipped,
            findings: report.findings.len(),
            not_scanned: report.not_scanned.len() as u64,
        },
    )
    .await?;
    if json {
        outln!("{}", to_json(&report)?)?;
    } else {
        print_plain(&report)?;
    }
    Ok(match report.findings.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

/// One line per finding on stdout; what was left out and the summary on stderr.
fn print_plain(r: &Report) -> Result<()> {
    for f in &r.findings {
        let at = match &f.commit {
            Some(c) => format!("{c}:{}:{}", f.path, f.line),
            None => format!("{}:{}", f.path, f.line),
        };
        let part = if f.partial { " (one line of it)" } else { "" };
        outln!(
            "{at}: {} (scope {}, version {}) as {}{part}",
            f.name,
            f.scope,
            f.version,
            f.encoding.as_str()
        )?;
    }
    for n in &r.not_scanned {
        match &n.commit {
            Some(c) => eprintln!("not scanned: {c}:{}: {}", n.path, n.reason),
            None => eprintln!("not scanned: {}: {}", n.path, n.reason),
        }
    }
    let plural = |n: usize, one: &str, many: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    };
    let what = match r.commits {
        Some(c) => format!(
            "{} of {}",
            plural(r.files as usize, "blob", "blobs"),
            plural(c as usize, "commit", "commits")
        ),
        None => plural(r.files as usize, "file", "files"),
    };
    let skipped = match r.skipped {
        1 => "1 value under 8 bytes was skipped".to_owned(),
        n => format!("{n} values under 8 bytes were skipped"),
    };
    let left_out = match r.not_scanned.len() {
        0 => String::new(),
        n => format!("; {} not scanned", plural(n, "file", "files")),
    };
    eprintln!(
        "{} in {what} ({} bytes), {} searched for; {skipped}{left_out}",
        plural(r.findings.len(), "finding", "findings"),
        r.bytes,
        plural(r.values, "value", "values"),
    );
    Ok(())
}

/// The path shown for `name` inside the folder `dir`: `dir/name`, or `name` in `.`.
fn child(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    if dir == Path::new(".") {
        PathBuf::from(name)
    } else {
        dir.join(name)
    }
}

/// Searches a file, or every file under a folder. A path given on the command line is
/// followed if it is a symbolic link; inside a folder, symbolic links are not followed
/// (they could lead out of the tree, or round in a loop) and `.git` is left out.
fn visit(scanner: &Scanner, path: &Path, top: bool, report: &mut Report) {
    let shown = path.display().to_string();
    let place = Place {
        repository: None,
        commit: None,
        blob: None,
        path: &shown,
    };
    let meta = match top {
        true => std::fs::metadata(path),
        false => std::fs::symlink_metadata(path),
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => return report.left_out(&place, e.to_string()),
    };
    if meta.file_type().is_symlink() {
        return;
    }
    if meta.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(r) => r.collect::<std::io::Result<Vec<_>>>(),
            Err(e) => Err(e),
        };
        let mut entries = match entries {
            Ok(e) => e,
            Err(e) => return report.left_out(&place, e.to_string()),
        };
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_name() == ".git" {
                continue;
            }
            visit(scanner, &child(path, &e.file_name()), false, report);
        }
        return;
    }
    if !meta.is_file() {
        return report.left_out(&place, "not a regular file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return report.left_out(&place, too_large(meta.len()));
    }
    let mut content = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut content));
    match read {
        Err(e) => report.left_out(&place, e.to_string()),
        Ok(n) if n as u64 > MAX_FILE_BYTES => report.left_out(&place, too_large(n as u64)),
        Ok(_) => report.search(scanner, &place, &content),
    }
}

fn too_large(len: u64) -> String {
    format!("{len} bytes, larger than 64 MiB")
}

/// `git` run in `repo`, with the repository decided by `repo` alone (not by a `GIT_DIR`
/// of the caller's environment) and none of the settings that would change the output
/// read here.
fn git(repo: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(repo)
        .args([
            "-c",
            "log.showSignature=false",
            "-c",
            "core.quotePath=false",
        ])
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    c
}

fn git_error(repo: &Path, message: impl Into<String>) -> CliError {
    CliError::Git {
        repo: repo.to_owned(),
        message: message.into(),
    }
}

/// Refuses a path that is not (in) a git repository.
fn check_repository(repo: &Path) -> Result<()> {
    let out = git(repo)
        .args(["rev-parse", "--git-dir"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| git_error(repo, format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(git_error(repo, "not a git repository"));
    }
    Ok(())
}

/// A blob to search, where it first appeared.
struct Blob {
    id: String,
    commit: String,
    path: String,
}

/// Every blob in the history of every ref of `repo` (`git log --all --raw`, oldest commit
/// first, merges against each parent), each searched once (`git cat-file --batch`) and
/// reported at the first commit and path that brought it in. Linear in the size of the
/// history's changes and of its distinct blobs.
fn scan_git(scanner: &Scanner, repo: &Path, report: &mut Report) -> Result<()> {
    let (blobs, commits) = history_blobs(repo)?;
    *report.commits.get_or_insert(0) += commits;
    if blobs.is_empty() {
        return Ok(());
    }
    let repository = repo.display().to_string();
    let mut child = git(repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| git_error(repo, format!("cannot run git cat-file: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| git_error(repo, "git cat-file: no stdin"))?;
    let ids: Vec<String> = blobs.iter().map(|b| b.id.clone()).collect();
    // Written from a thread of its own: git answers while it reads, and a pipe full both
    // ways would stop both.
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        for id in ids {
            stdin.write_all(id.as_bytes())?;
            stdin.write_all(b"\n")?;
        }
        Ok(())
    });
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| git_error(repo, "git cat-file: no stdout"))?;
    let mut out = BufReader::with_capacity(1 << 16, stdout);
    let read = read_blobs(scanner, repo, &repository, &blobs, &mut out, report);
    drop(out);
    let written = writer.join();
    let status = child.wait();
    read?;
    match written {
        Ok(Ok(())) => {}
        _ => return Err(git_error(repo, "git cat-file stopped reading")),
    }
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => Err(git_error(repo, "git cat-file failed")),
    }
}

/// Reads `git cat-file --batch`'s answers, one per blob of `blobs`, in order.
fn read_blobs(
    scanner: &Scanner,
    repo: &Path,
    repository: &str,
    blobs: &[Blob],
    out: &mut impl BufRead,
    report: &mut Report,
) -> Result<()> {
    let broken = || git_error(repo, "git cat-file: unexpected output");
    let mut header = String::new();
    let mut content = Vec::new();
    for b in blobs {
        header.clear();
        out.read_line(&mut header)
            .map_err(|e| git_error(repo, format!("git cat-file: {e}")))?;
        let place = Place {
            repository: Some(repository),
            commit: Some(&b.commit),
            blob: Some(&b.id),
            path: &b.path,
        };
        let mut fields = header.split_whitespace();
        let (Some(id), Some(kind)) = (fields.next(), fields.next()) else {
            return Err(broken());
        };
        if id != b.id {
            return Err(broken());
        }
        if kind == "missing" {
            report.left_out(
                &place,
                "the blob is missing (a shallow or partial clone?)".into(),
            );
            continue;
        }
        let size: u64 = fields
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(broken)?;
        let mut body = out.by_ref().take(size);
        if kind != "blob" || size > MAX_FILE_BYTES {
            std::io::copy(&mut body, &mut std::io::sink())
                .map_err(|e| git_error(repo, format!("git cat-file: {e}")))?;
            if kind == "blob" {
                report.left_out(&place, too_large(size));
            }
        } else {
            content.clear();
            body.read_to_end(&mut content)
                .map_err(|e| git_error(repo, format!("git cat-file: {e}")))?;
            if content.len() as u64 != size {
                return Err(broken());
            }
            report.search(scanner, &place, &content);
        }
        // Each object ends with a newline.
        let mut nl = [0u8; 1];
        out.read_exact(&mut nl)
            .map_err(|e| git_error(repo, format!("git cat-file: {e}")))?;
    }
    Ok(())
}

/// The distinct blobs of the history of every ref, oldest commit first, each with the
/// first commit and path that brought it in; and how many commits were read.
fn history_blobs(repo: &Path) -> Result<(Vec<Blob>, u64)> {
    let mut child = git(repo)
        .args([
            "log",
            "--all",
            "--topo-order",
            "--reverse",
            "--no-color",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            "-m",
            "--root",
            "--raw",
            "--no-abbrev",
            "-z",
            "--format=%H",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| git_error(repo, format!("cannot run git log: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| git_error(repo, "git log: no stdout"))?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut commits: HashSet<String> = HashSet::new();
    let mut blobs = Vec::new();
    let mut commit = String::new();
    let mut tokens = BufReader::with_capacity(1 << 16, stdout).split(0);
    let broken = || git_error(repo, "git log: unexpected output");
    while let Some(token) = tokens.next() {
        let token = token.map_err(|e| git_error(repo, format!("git log: {e}")))?;
        let t = token.strip_prefix(b"\n").unwrap_or(&token);
        if t.is_empty() {
            continue;
        }
        if let Some(raw) = t.strip_prefix(b":") {
            // `:old_mode new_mode old_id new_id status`, then the path.
            let raw = String::from_utf8_lossy(raw);
            let fields: Vec<&str> = raw.split(' ').collect();
            let path = tokens
                .next()
                .ok_or_else(broken)?
                .map_err(|e| git_error(repo, format!("git log: {e}")))?;
            let [_, new_mode, _, new_id, status] = fields[..] else {
                return Err(broken());
            };
            // Deleted (nothing new), or a submodule's commit (not a blob of this one).
            if status.starts_with('D') || new_mode == "160000" || new_mode == "000000" {
                continue;
            }
            if seen.insert(new_id.to_owned()) {
                blobs.push(Blob {
                    id: new_id.to_owned(),
                    commit: commit.clone(),
                    path: String::from_utf8_lossy(&path).into_owned(),
                });
            }
        } else {
            commit = String::from_utf8_lossy(t).into_owned();
            commits.insert(commit.clone());
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| git_error(repo, format!("git log: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().next().unwrap_or("failed").trim().to_owned();
        return Err(git_error(repo, format!("git log: {why}")));
    }
    Ok((blobs, commits.len() as u64))
}
