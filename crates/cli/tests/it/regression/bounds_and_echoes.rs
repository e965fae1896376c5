//! Issue 10, item 9: bounded settings and short echoes.

use super::*;

/// Issue 10, item 9: `SECRETSTORE_CALLBACK_TTL=9223372036854775807` panicked at every dispatch.
#[test]
fn a_huge_callback_ttl_is_a_start_up_error_not_a_panic_at_dispatch() {
    let env = Env::new().with_tree();
    env.set("A", "acme", "agent", "value-a").ok();
    let t = env
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    let cases: &[(&str, &str, &str)] = &[
        (
            "SECRETSTORE_CALLBACK_TTL",
            "9223372036854775807",
            "SECRETSTORE_CALLBACK_TTL must be between 1s and 30d",
        ),
        (
            "SECRETSTORE_CALLBACK_TTL",
            "106751991167300d",
            "SECRETSTORE_CALLBACK_TTL must be between 1s and 30d",
        ),
        (
            "SECRETSTORE_CALLBACK_TTL",
            "31d",
            "SECRETSTORE_CALLBACK_TTL must be between 1s and 30d",
        ),
        (
            "DATABASE_ACQUIRE_TIMEOUT",
            "9223372036854775807",
            "DATABASE_ACQUIRE_TIMEOUT must be between 1s and 10m",
        ),
        (
            "DATABASE_MAX_CONNECTIONS",
            "4294967295",
            "DATABASE_MAX_CONNECTIONS must be between 1 and 1000",
        ),
        (
            "DATABASE_MAX_CONNECTIONS",
            "0",
            "DATABASE_MAX_CONNECTIONS must be between 1 and 1000",
        ),
    ];
    for (k, v, needle) in cases {
        let r = run_vars(&env, &[(k, v)], &["dispatch", &t, "--json"], b"");
        r.fails(1, needle);
        assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
    assert_eq!(env.sql("SELECT COUNT(*) FROM briefs").trim(), "0");
    // The bounds themselves are accepted.
    for ttl in ["1s", "30d"] {
        run_vars(
            &env,
            &[("SECRETSTORE_CALLBACK_TTL", ttl)],
            &["dispatch", &t],
            b"",
        )
        .ok();
    }
}

/// Issue 10, item 9: invalid names and scope paths were echoed back whole in errors, so a value
/// pasted into the wrong field ended up in the output.
#[test]
fn invalid_names_and_scopes_are_echoed_only_as_a_short_prefix() {
    let env = Env::new().with_tree();
    // A value pasted into the name field, then into the scope field.
    let pasted = "SK_LIVE_0123456789ABCDEFGHIJ-klmnopqrstuvwxyz";
    let tail = "0123456789";
    let r = env.run_stdin(
        &[
            "secret",
            "set",
            pasted,
            "--scope",
            "acme",
            "--category",
            "agent",
        ],
        b"v",
    );
    r.fails(1, "invalid secret name \"SK_LIVE_…\"");
    assert!(!r.stderr.contains(tail), "{}", r.stderr);
    let scope_paste = "ghp_0123456789ABCDEFabcdef";
    for args in [
        vec!["secret", "list", "--scope", scope_paste],
        vec!["secret", "get", "A", "--scope", scope_paste],
        vec!["org", "create", scope_paste],
        vec!["task", "create", "--project", scope_paste, "--ref", "A"],
    ] {
        let r = env.run(&args);
        r.fails(1, "invalid scope path \"ghp_0123…\"");
        assert!(!r.stderr.contains(tail), "{args:?}: {}", r.stderr);
    }
    let r = env.run(&["task", "create", "--project", PROJECT, "--ref", pasted]);
    r.fails(1, "invalid secret name");
    assert!(!r.stderr.contains(tail), "{}", r.stderr);
}
