//! Issue 10, items 2 and 4: what `run` hands its child, and its callback token.

use super::*;

/// Issue 10, item 2: a member set a secret named `BASH_ENV` to `$(cat .env > stolen.txt)`, and the
/// next `secretstore run` of a task that refs it wrote the master key to `stolen.txt`.
#[test]
fn a_secret_named_bash_env_cannot_make_run_copy_the_master_key() {
    let e = Env::new().with_tree();
    e.set("A", "acme", "agent", "value-a").ok();
    // The attack of the issue: the next `run` of a task that refs it would run it in bash.
    let attack = "$(cat .env > stolen.txt)";
    e.set("BASH_ENV", "acme/platform", "agent", attack)
        .fails(1, "BASH_ENV is an unsafe environment name");
    e.run(&[
        "task",
        "create",
        "--project",
        PROJECT,
        "--ref",
        "A",
        "--ref",
        "BASH_ENV",
    ])
    .fails(1, "BASH_ENV is an unsafe environment name");
    // Whatever the member could store, a run of a bash script copies nothing.
    let t = task(&e, &["A"]);
    let r = e.run(&["run", "--task", &t, "--", "bash", "-c", "true"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !e.path("stolen.txt").exists(),
        "the master key was copied by BASH_ENV"
    );
}

/// Issue 10, item 4: a `run` whose command failed to start left a live 24-hour callback token.
#[test]
fn run_whose_command_cannot_start_revokes_its_callback_token() {
    let env = Env::new().with_tree();
    env.set("A", "acme", "agent", "spawn-canary-value").ok();
    let task = env
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    let r = env.run(&["run", "--task", &task, "--", "/nonexistent/cmd"]);
    r.fails(1, "cannot run /nonexistent/cmd");
    assert!(
        r.stderr.contains("revoked"),
        "the error says the token was revoked: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("spawn-canary-value") && !r.stderr.contains("sscb_"));
    // The brief that was dispatched for it is revoked: its token is dead.
    let audit: serde_json::Value =
        serde_json::from_str(env.run(&["audit", "--json"]).ok()).unwrap();
    let records = audit.as_array().unwrap();
    let brief = records
        .iter()
        .find(|r| r["action"] == "task.dispatch")
        .and_then(|r| r["target"].as_str())
        .expect("a dispatch record")
        .to_string();
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "brief.revoke" && r["target"] == brief.as_str()),
        "{audit}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(env.run(&["brief", "show", &brief, "--json"]).ok()).unwrap();
    assert_eq!(shown["status"], "revoked");
    assert_eq!(
        env.sql(&format!(
            "SELECT status FROM briefs WHERE id = '{brief}' AND revoked_at IS NOT NULL"
        ))
        .trim(),
        "revoked"
    );
}
