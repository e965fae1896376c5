//! Leak detection and rotation on the command line (issue #17): `scan` of files, folders
//! and a git history with the real binary; `secret due`, `--rotate-every` and `rotation`.
//! The values never appear in any output.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const VALUE: &str = "sk-live-4f1c9a7e2b";
const V2: &str = "sk-live-second-8d3e";

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// Asserts that none of `values` (nor their base64 or hex) is in the run's output.
#[track_caller]
fn no_value(r: &Run, values: &[&str]) {
    for v in values {
        for form in [v.to_string(), b64(v.as_bytes()), hex(v.as_bytes())] {
            assert!(
                !r.stdout.contains(&form) && !r.stderr.contains(&form),
                "a value leaked as {form:?}\nstdout: {}\nstderr: {}",
                r.stdout,
                r.stderr
            );
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn b64(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, x)| n | u32::from(*x) << (16 - 8 * i));
        for i in 0..=c.len() {
            s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A folder with `acme` and API_KEY (version 1: VALUE) at acme.
fn env_with_key() -> Env {
    let env = Env::new();
    env.run(&["org", "create", "acme"]).ok();
    env.set("API_KEY", "acme", "provider", VALUE).ok();
    env
}

#[test]
fn a_value_removed_from_git_history_is_found_at_its_commit_and_not_in_the_work_tree() {
    let env = env_with_key();
    // A later version: the history holds version 1's value, which is still searched.
    env.set("API_KEY", "acme", "provider", V2).ok();
    let repo = env.path("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("README"), "nothing here\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "first"]);
    std::fs::create_dir(repo.join("config")).unwrap();
    std::fs::write(
        repo.join("config/app.env"),
        format!("# settings\nAPI_KEY={VALUE}\n"),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "add config"]);
    let added = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["rm", "-q", "config/app.env"]);
    git(&repo, &["commit", "-qm", "remove the key"]);

    let r = env.run(&["scan", "--git", "repo"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout.trim(),
        format!("{added}:config/app.env:2: API_KEY (scope acme, version 1) as exact"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("1 finding in 2 blobs of 3 commits"),
        "{}",
        r.stderr
    );
    no_value(&r, &[VALUE, V2]);

    let r = env.run(&["scan", "--git", "repo", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    no_value(&r, &[VALUE, V2]);
    let j = json(&r);
    let f = &j["findings"][0];
    assert_eq!(j["findings"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(f["commit"], added.as_str(), "{j}");
    assert_eq!(f["path"], "config/app.env");
    assert_eq!(f["line"], 2);
    assert_eq!(f["offset"], 19);
    assert_eq!(
        (&f["name"], &f["scope"], &f["version"]),
        (&"API_KEY".into(), &"acme".into(), &1.into())
    );
    assert_eq!(f["encoding"], "exact");
    assert_eq!(j["commits"], 3);
    assert_eq!(j["files"], 2);

    // The work tree (its .git folder left out) holds nothing.
    let r = env.run(&["scan", "repo"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("0 findings in 1 file"), "{}", r.stderr);

    // Not a repository: an error, not "nothing found".
    std::fs::create_dir(env.path("plain")).unwrap();
    env.run(&["scan", "--git", "plain"])
        .fails(1, "not a git repository");
    // The scan is audited, with its counts only.
    let audit = env.run(&["audit", "--action", "scan", "--json"]);
    let records = json(&audit);
    assert_eq!(records.as_array().unwrap().len(), 3, "{records}");
    assert!(!audit.stdout.contains("config/app.env"), "{}", audit.stdout);
    no_value(&audit, &[VALUE, V2]);
}

#[test]
fn a_value_under_eight_bytes_is_skipped_and_counted_not_found() {
    let env = env_with_key();
    env.set("PIN", "acme", "provider", "4711abc").ok();
    std::fs::write(env.path("notes.txt"), "the pin is 4711abc\n").unwrap();
    let r = env.run(&["scan", "notes.txt"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("0 findings in 1 file (19 bytes), 2 values searched for; 1 value under 8 bytes was skipped"),
        "{}",
        r.stderr
    );
    let r = env.run(&["scan", "notes.txt", "--json"]);
    assert_eq!(r.code, 0);
    let j = json(&r);
    assert_eq!(
        (&j["skipped"], &j["values"], &j["files"]),
        (&1.into(), &2.into(), &1.into())
    );
    assert_eq!(j["findings"], serde_json::json!([]));
    no_value(&r, &["4711abc"]);
}

#[test]
fn encoded_forms_are_found_with_their_encoding_and_line() {
    let env = env_with_key();
    let url_value = "p@ss/word+8chars";
    env.set("DB_PASSWORD", "acme", "infrastructure", url_value)
        .ok();
    let dir = env.path("tree/sub");
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "line one\nb64: {}\nhex: {}\nHEX: {}\nurl: {}\n",
        b64(VALUE.as_bytes()),
        hex(VALUE.as_bytes()),
        hex(VALUE.as_bytes()).to_uppercase(),
        "p%40ss%2Fword%2B8chars",
    );
    std::fs::write(dir.join("log.txt"), &text).unwrap();
    // Binary files are searched too.
    let mut bin = vec![0u8, 159, 146, 150, 255];
    bin.extend_from_slice(VALUE.as_bytes());
    bin.push(0);
    std::fs::write(env.path("tree/blob.bin"), &bin).unwrap();
    // A symbolic link inside the folder is not followed.
    std::os::unix::fs::symlink(env.path("tree/blob.bin"), env.path("tree/sub/link")).unwrap();

    let r = env.run(&["scan", "tree"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    no_value(&r, &[VALUE, url_value]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "tree/blob.bin:1: API_KEY (scope acme, version 1) as exact",
            "tree/sub/log.txt:2: API_KEY (scope acme, version 1) as base64",
            "tree/sub/log.txt:3: API_KEY (scope acme, version 1) as hex",
            "tree/sub/log.txt:4: API_KEY (scope acme, version 1) as hex_upper",
            "tree/sub/log.txt:5: DB_PASSWORD (scope acme, version 1) as url_encoded",
        ],
        "{}",
        r.stderr
    );
    let r = env.run(&["scan", "tree", "--json"]);
    assert_eq!(r.code, 1);
    no_value(&r, &[VALUE, url_value]);
    let j = json(&r);
    let encodings: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["encoding"].as_str().unwrap())
        .collect();
    assert_eq!(
        encodings,
        ["exact", "base64", "hex", "hex_upper", "url_encoded"]
    );
    assert_eq!(j["files"], 2, "{j}");
    assert!(j["findings"][0].get("commit").is_none(), "{j}");

    // A path that does not exist is an error, not "nothing found".
    env.run(&["scan", "tree", "no-such-file"])
        .fails(1, "cannot read no-such-file");
    // No path at all: wrong usage.
    assert_eq!(env.run(&["scan"]).code, 2);
}

/// `secret list --scope acme --json`, the entry of `name`.
fn listed(env: &Env, name: &str) -> Value {
    let r = env.run(&["secret", "list", "--scope", "acme", "--json"]);
    json(&r)
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .cloned()
        .unwrap()
}

#[test]
fn rotate_every_is_kept_by_a_later_write_and_bad_durations_change_nothing() {
    let env = Env::new();
    env.run(&["org", "create", "acme"]).ok();
    env.run_stdin(
        &[
            "secret",
            "set",
            "API_KEY",
            "--scope",
            "acme",
            "--category",
            "provider",
            "--rotate-every",
            "90d",
        ],
        VALUE.as_bytes(),
    )
    .ok();
    assert_eq!(listed(&env, "API_KEY")["rotate_every_secs"], 90 * 86_400);
    // A later write without it keeps it.
    env.set("API_KEY", "acme", "provider", V2).ok();
    let m = listed(&env, "API_KEY");
    assert_eq!(
        (&m["rotate_every_secs"], &m["version"]),
        (&(90 * 86_400).into(), &2.into())
    );
    let plain = env
        .run(&["secret", "list", "--scope", "acme"])
        .ok()
        .to_string();
    assert!(plain.lines().next().unwrap().contains("ROTATE"), "{plain}");
    assert!(plain.lines().nth(1).unwrap().contains(" 90d"), "{plain}");

    for (bad, needle) in [
        ("10s", "from 30s to 365d"),
        ("400d", "from 30s to 365d"),
        ("abc", "--rotate-every abc"),
        ("0s", "--rotate-every 0s"),
    ] {
        let r = env.run_stdin(
            &[
                "secret",
                "set",
                "API_KEY",
                "--scope",
                "acme",
                "--rotate-every",
                bad,
            ],
            b"sk-live-never-written-77",
        );
        r.fails(1, needle);
        no_value(&r, &["sk-live-never-written-77"]);
        let m = listed(&env, "API_KEY");
        assert_eq!(
            (&m["rotate_every_secs"], &m["version"]),
            (&(90 * 86_400).into(), &2.into()),
            "{bad}"
        );
    }
    // `off` removes it.
    env.run_stdin(
        &[
            "secret",
            "set",
            "API_KEY",
            "--scope",
            "acme",
            "--rotate-every",
            "off",
        ],
        VALUE.as_bytes(),
    )
    .ok();
    assert!(listed(&env, "API_KEY").get("rotate_every_secs").is_none());

    // Policies: bad ones refused, nothing set.
    for bad in ["10s", "400d", "abc", "off"] {
        env.run(&[
            "rotation",
            "set",
            "--scope",
            "acme",
            "--category",
            "provider",
            "--every",
            bad,
        ])
        .fails(1, "--every");
    }
    env.run(&[
        "rotation",
        "set",
        "--scope",
        "acme",
        "--category",
        "nope",
        "--every",
        "1d",
    ])
    .fails(1, "nope");
    assert_eq!(
        json(&env.run(&["rotation", "list", "--json"])),
        serde_json::json!([])
    );
}

#[test]
fn secret_due_lists_the_old_and_the_leaked_oldest_first_and_list_marks_the_leaked() {
    let env = Env::new();
    for (kind, path) in [("org", "acme"), ("team", "acme/platform")] {
        env.run(&[kind, "create", path]).ok();
    }
    env.set("OLD_KEY", "acme", "provider", VALUE).ok();
    env.set("LEAKED_KEY", "acme/platform", "integration", V2)
        .ok();
    env.set("FRESH_KEY", "acme", "provider", "sk-live-fresh-1234")
        .ok();
    // Nothing is due yet: no policy, no maximum age, nothing leaked.
    let r = env.run(&["secret", "due"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert!(
        r.stderr.contains("no secret is due for rotation"),
        "{}",
        r.stderr
    );

    let set = env.run(&[
        "rotation",
        "set",
        "--scope",
        "acme",
        "--category",
        "provider",
        "--every",
        "30d",
    ]);
    assert_eq!(
        set.ok().trim(),
        "provider secrets at acme and below: rotate every 30d"
    );
    let policies = json(&env.run(&["rotation", "list", "--json"]));
    assert_eq!(
        policies,
        serde_json::json!([{"scope": "acme", "category": "provider", "every_secs": 2_592_000}])
    );
    // The product has no way to age a secret, nor (without a server and an agent) to mark
    // one leaked: the database is told directly.
    env.sql("UPDATE secrets SET updated_at = '2020-01-01T00:00:00Z' WHERE name = 'OLD_KEY'");
    env.sql(
        "UPDATE secrets SET updated_at = '2021-06-01T00:00:00Z', leaked_at = '2021-06-02T00:00:00Z' WHERE name = 'LEAKED_KEY'",
    );

    let r = env.run(&["secret", "due", "--json"]);
    let due = json(&r);
    let due = due.as_array().unwrap();
    assert_eq!(due.len(), 2, "{due:?}");
    assert_eq!(due[0]["name"], "OLD_KEY");
    assert_eq!(due[0]["reasons"], serde_json::json!(["age"]));
    assert_eq!(due[0]["policy"], "acme");
    assert_eq!(due[0]["max_age_secs"], 2_592_000);
    assert_eq!(due[0]["due_at"], "2020-01-31T00:00:00Z");
    assert_eq!(due[1]["name"], "LEAKED_KEY");
    assert_eq!(due[1]["reasons"], serde_json::json!(["leaked"]));
    assert_eq!(due[1]["leaked_at"], "2021-06-02T00:00:00Z");
    no_value(&r, &[VALUE, V2]);

    let plain = env.run(&["secret", "due"]).ok().to_string();
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines.len(), 3, "{plain}");
    assert!(
        lines[0].starts_with("SCOPE") && lines[0].contains("MAX AGE"),
        "{plain}"
    );
    assert!(
        lines[1].starts_with("acme ") && lines[1].contains("OLD_KEY"),
        "{plain}"
    );
    assert!(
        lines[1].contains("30d (acme policy)") && lines[1].ends_with("too old"),
        "{plain}"
    );
    assert!(
        lines[2].contains("LEAKED_KEY") && lines[2].ends_with("leaked 2021-06-02T00:00:00Z"),
        "{plain}"
    );

    // Only under a scope.
    let under = json(&env.run(&["secret", "due", "--scope", "acme/platform", "--json"]));
    assert_eq!(under.as_array().unwrap().len(), 1, "{under}");
    assert_eq!(under[0]["name"], "LEAKED_KEY");

    // `secret list` marks the leaked one, plain and JSON.
    let list = env
        .run(&["secret", "list", "--scope", "acme/platform"])
        .ok()
        .to_string();
    assert!(list.lines().next().unwrap().ends_with("LEAKED"), "{list}");
    assert!(list.contains("LEAKED 2021-06-02T00:00:00Z"), "{list}");
    let list = json(&env.run(&["secret", "list", "--scope", "acme/platform", "--json"]));
    assert_eq!(list[0]["leaked_at"], "2021-06-02T00:00:00Z");

    // A new version ends the leaked mark; the policy removed, the old one is no longer due.
    env.set(
        "LEAKED_KEY",
        "acme/platform",
        "integration",
        "sk-live-rotated-5678",
    )
    .ok();
    env.run(&[
        "rotation",
        "unset",
        "--scope",
        "acme",
        "--category",
        "provider",
    ])
    .ok();
    let r = env.run(&["secret", "due", "--json"]);
    assert_eq!(json(&r), serde_json::json!([]));
}

#[test]
fn a_members_scan_over_http_found_another_teams_value() {
    let env = Env::new().with_tree();
    env.set("OWN_KEY", "acme/platform", "provider", VALUE).ok();
    env.set("THEIR_KEY", "acme/other", "provider", V2).ok();
    env.run(&["account", "create", "mo"]).ok();
    env.run(&["grant", "mo", "member", "acme/platform"]).ok();
    let mo = env.run(&["token", "create", "mo"]).ok().trim().to_owned();
    env.run(&["account", "create", "ada"]).ok();
    env.run(&["grant", "ada", "admin", "acme"]).ok();
    let ada = env.run(&["token", "create", "ada"]).ok().trim().to_owned();
    let server = server::Server::start(&env, &[]);
    let text = format!(
        "own={} theirs={} theirs-hex={}",
        b64(VALUE.as_bytes()),
        V2,
        hex(V2.as_bytes())
    );
    let body = serde_json::json!({ "text": text }).to_string();
    let (code, answer, raw) = server.call("POST", "/api/v1/scan", Some(&mo), Some(&body));
    assert_eq!(code, 200, "{raw}");
    let names: Vec<&str> = answer["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["OWN_KEY"], "{raw}");
    assert!(!raw.contains(VALUE) && !raw.contains(V2), "{raw}");
    // The organization's admin finds both.
    let (_, all, raw) = server.call("POST", "/api/v1/scan", Some(&ada), Some(&body));
    assert_eq!(all["findings"].as_array().unwrap().len(), 3, "{raw}");
    let (_, log) = server.terminate();
    assert!(!log.contains(VALUE) && !log.contains(V2), "{log}");
}
