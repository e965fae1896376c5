//! Every bad input to the real `secretstore` binary gets one clear `error: …` line, the
//! right exit code (1 for ours, 2 for wrong usage), no panic, no secret value in any
//! output, and changes nothing.

use crate::common::*;

const PROJECT: &str = "acme/platform/dev/agent-x";

/// Asserts that `canary` is in neither stdout nor stderr.
#[track_caller]
fn no_leak(r: &Run, canary: &str) {
    assert!(
        !r.stdout.contains(canary) && !r.stderr.contains(canary),
        "the value {canary:?} leaked\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
}

/// `secret list --scope SCOPE --json`, trimmed.
fn list_json(env: &Env, scope: &str) -> String {
    env.run(&["secret", "list", "--scope", scope, "--json"])
        .ok()
        .trim()
        .to_string()
}

#[track_caller]
fn assert_no_secrets(env: &Env, scope: &str) {
    assert_eq!(list_json(env, scope), "[]", "secrets appeared at {scope}");
}

/// `secret history NAME --scope SCOPE --json`.
fn history(env: &Env, name: &str, scope: &str) -> String {
    env.run(&["secret", "history", name, "--scope", scope, "--json"])
        .ok()
        .to_string()
}

/// `secret get NAME --scope SCOPE`.
fn get(env: &Env, name: &str, scope: &str) -> String {
    env.run(&["secret", "get", name, "--scope", scope])
        .ok()
        .to_string()
}

/// Runs with extra environment variables set on this command only.
pub(crate) fn run_vars(env: &Env, vars: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> Run {
    let mut c = env.command(args);
    for (k, v) in vars {
        c.env(k, v);
    }
    run_with(&mut c, stdin)
}

/// A value of exactly `len` bytes that starts with `canary`.
fn padded(canary: &str, len: usize) -> Vec<u8> {
    let mut v = canary.as_bytes().to_vec();
    v.resize(len, b'x');
    v
}

#[test]
fn invalid_names_are_refused() {
    let env = Env::new().with_tree();
    let long = "A".repeat(129);
    let cases: &[(&str, &str)] = &[
        ("db_url", "upper case"),
        ("1ABC", "invalid secret name"),
        ("A-B", "invalid secret name"),
        ("", "invalid secret name"),
        (&long, "invalid secret name"),
        ("SECRETSTORE_X", "reserved"),
    ];
    for (i, (name, needle)) in cases.iter().enumerate() {
        let canary = format!("CANARY-name-{i}-4410");
        let r = env.run_stdin(
            &[
                "secret",
                "set",
                name,
                "--scope",
                "acme",
                "--category",
                "provider",
            ],
            canary.as_bytes(),
        );
        r.fails(1, needle);
        no_leak(&r, &canary);
        for sub in ["get", "history", "delete"] {
            env.run(&["secret", sub, name, "--scope", "acme"])
                .fails(1, needle);
        }
        env.run(&["task", "create", "--project", PROJECT, "--ref", name])
            .fails(1, needle);
    }
    assert_no_secrets(&env, "acme");
    // The boundary: 128 characters is a valid name.
    env.set(&"A".repeat(128), "acme", "provider", "v").ok();
}

#[test]
fn malformed_and_unknown_scopes_are_refused() {
    let env = Env::new().with_tree();
    let long = "a".repeat(64);
    let cases: &[(&str, &str)] = &[
        ("", "scope path is empty"),
        ("Acme", "invalid scope path"),
        ("acme/", "invalid scope path"),
        ("acme//x", "invalid scope path"),
        ("a/b/c/d/e", "too deep"),
        ("../x", "invalid scope path"),
        (&long, "invalid scope path"),
        ("nope", "unknown organization nope"),
        ("acme/nope", "unknown team acme/nope"),
        ("acme/platform/nope", "unknown workspace acme/platform/nope"),
        (PROJECT, "project path"),
    ];
    for (i, (scope, needle)) in cases.iter().enumerate() {
        let canary = format!("CANARY-scope-{i}-9902");
        let r = env.run_stdin(
            &[
                "secret",
                "set",
                "X",
                "--scope",
                scope,
                "--category",
                "provider",
            ],
            canary.as_bytes(),
        );
        r.fails(1, needle);
        no_leak(&r, &canary);
        env.run(&["secret", "list", "--scope", scope])
            .fails(1, needle);
        env.run(&["secret", "get", "X", "--scope", scope])
            .fails(1, needle);
    }
    for scope in ["acme", "acme/platform", "acme/platform/dev"] {
        assert_no_secrets(&env, scope);
    }
}

#[test]
fn scope_creation_errors() {
    let env = Env::new().with_tree();
    let cases = [
        ("org", "acme", "already exists"),
        ("project", PROJECT, "already exists"),
        ("team", "nope/x", "unknown organization nope"),
        ("workspace", "acme/nope/ws", "unknown team acme/nope"),
        ("team", "acme", "expected a team path"),
        ("team", "acme/platform/dev", "expected a team path"),
        ("project", "acme/platform/dev", "expected a project path"),
        ("org", "Acme", "invalid scope path"),
        ("org", "../x", "invalid scope path"),
    ];
    for (kind, path, needle) in cases {
        env.run(&[kind, "create", path]).fails(1, needle);
    }
    // The failed creates left nothing behind: `nope` and `acme/nope` are still free.
    env.run(&["org", "create", "nope"]).ok();
    env.run(&["team", "create", "acme/nope"]).ok();
}

/// Arguments after `secret set X --scope acme`, stdin, exit code, needle, canary.
type ValueCase<'a> = (Vec<&'a str>, &'a [u8], i32, &'a str, &'a str);

#[test]
fn bad_values_are_refused_and_nothing_is_written() {
    let env = Env::new().with_tree();
    let dir = secretstore_testkit::scratch();
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let bad_utf8 = file("bad-utf8", b"CANARY-utf8-5120\xff\xfe");
    let big_file = file("big", &padded("CANARY-bigfile-5121", 65_537));
    let ok_file = file("ok", b"CANARY-okfile-5122");
    let missing = dir.path().join("missing").to_str().unwrap().to_string();
    let big = padded("CANARY-big-5123", 65_537);
    let p = "provider";
    let cases: Vec<ValueCase> = vec![
        (vec!["--category", p], b"", 1, "empty", ""),
        (vec!["--category", p], b"\n", 1, "empty", ""),
        (
            vec!["--category", p],
            &big,
            1,
            "65537 bytes",
            "CANARY-big-5123",
        ),
        (
            vec!["--category", p],
            b"CANARY-nul-5124\0tail",
            1,
            "NUL",
            "CANARY-nul-5124",
        ),
        (
            vec!["--category", p, "--from-file", &bad_utf8],
            b"",
            1,
            "UTF-8",
            "CANARY-utf8-5120",
        ),
        (
            vec!["--category", p, "--from-file", &big_file],
            b"",
            1,
            "65537 bytes",
            "CANARY-bigfile-5121",
        ),
        (
            vec!["--category", p, "--from-env", "SECRETSTORE_TEST_UNSET_VAR"],
            b"",
            1,
            "SECRETSTORE_TEST_UNSET_VAR is not set",
            "",
        ),
        (
            vec!["--category", p, "--from-file", &missing],
            b"",
            1,
            "cannot read",
            "",
        ),
        (
            vec![
                "--category",
                p,
                "--from-file",
                &ok_file,
                "--from-env",
                "HOME",
            ],
            b"",
            2,
            "cannot be used with",
            "CANARY-okfile-5122",
        ),
        (
            vec!["--category", p, "CANARY-argv-5125"],
            b"",
            2,
            "command line",
            "CANARY-argv-5125",
        ),
        (
            vec!["--category", p, "--", "CANARY-argv-5128"],
            b"",
            2,
            "command line",
            "CANARY-argv-5128",
        ),
        (
            vec!["--category", p, "-CANARY-argv-5129"],
            b"",
            2,
            "command line",
            "CANARY-argv-5129",
        ),
        (
            vec!["--category", p, "--value=CANARY-argv-5130"],
            b"",
            2,
            "'--value'",
            "CANARY-argv-5130",
        ),
        // A mistyped flag is still named (it is not a value).
        (
            vec!["--catgory", p],
            b"CANARY-typo-5131",
            2,
            "--catgory",
            "CANARY-typo-5131",
        ),
        (
            vec![],
            b"CANARY-nocat-5126",
            1,
            "--category is required",
            "CANARY-nocat-5126",
        ),
        (
            vec!["--category", "bogus"],
            b"CANARY-badcat-5127",
            1,
            "unknown category",
            "CANARY-badcat-5127",
        ),
    ];
    for (extra, stdin, code, needle, canary) in &cases {
        let mut args = vec!["secret", "set", "X", "--scope", "acme"];
        args.extend(extra);
        let r = env.run_stdin(&args, stdin);
        r.fails(*code, needle);
        if !canary.is_empty() {
            no_leak(&r, canary);
        }
    }
    assert_no_secrets(&env, "acme");

    // The limit itself is accepted, from stdin and from a file, and kept exactly.
    let max = padded("max", 65_536);
    env.run_stdin(
        &[
            "secret",
            "set",
            "MAX",
            "--scope",
            "acme",
            "--category",
            "provider",
        ],
        &max,
    )
    .ok();
    assert_eq!(get(&env, "MAX", "acme").as_bytes(), &max[..]);
    let max_file = file("max", &padded("maxfile", 65_536));
    env.run(&[
        "secret",
        "set",
        "MAX_FILE",
        "--scope",
        "acme",
        "--category",
        "provider",
        "--from-file",
        &max_file,
    ])
    .ok();
    assert_eq!(get(&env, "MAX_FILE", "acme").len(), 65_536);
}

#[test]
fn stale_expect_version_conflicts_and_changes_nothing() {
    let env = Env::new().with_tree();
    env.set("X", "acme", "provider", "CANARY-v1-6601").ok();
    env.set("X", "acme", "provider", "CANARY-v2-6602").ok();
    let before = history(&env, "X", "acme");
    for expect in ["1", "0", "99"] {
        let canary = format!("CANARY-stale-{expect}-6603");
        let r = env.run_stdin(
            &[
                "secret",
                "set",
                "X",
                "--scope",
                "acme",
                "--expect-version",
                expect,
            ],
            canary.as_bytes(),
        );
        r.fails(1, "conflict");
        no_leak(&r, &canary);
        no_leak(&r, "CANARY-v2-6602");
    }
    assert_eq!(get(&env, "X", "acme"), "CANARY-v2-6602");
    assert_eq!(history(&env, "X", "acme"), before);
    let versions: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2);

    // A new secret that is expected to exist already is a conflict too.
    env.run_stdin(
        &[
            "secret",
            "set",
            "Y",
            "--scope",
            "acme",
            "--category",
            "provider",
            "--expect-version",
            "3",
        ],
        b"CANARY-y-6604",
    )
    .fails(1, "conflict");
    env.run(&["secret", "get", "Y", "--scope", "acme"])
        .fails(1, "no secret Y");
}

#[test]
fn unknown_secrets_and_versions() {
    let env = Env::new().with_tree();
    env.set("X", "acme", "provider", "CANARY-x-7701").ok();
    let before = history(&env, "X", "acme");
    let cases: &[(&[&str], &str)] = &[
        (
            &["secret", "get", "NOPE", "--scope", "acme"],
            "no secret NOPE",
        ),
        (
            &["secret", "get", "X", "--scope", "acme", "--version", "99"],
            "no version 99",
        ),
        (
            &["secret", "get", "X", "--scope", "acme", "--version", "0"],
            "no version 0",
        ),
        (
            &["secret", "rollback", "X", "--scope", "acme", "--to", "99"],
            "no version 99",
        ),
        (
            &["secret", "rollback", "NOPE", "--scope", "acme", "--to", "1"],
            "no secret NOPE",
        ),
        (
            &["secret", "delete", "NOPE", "--scope", "acme"],
            "no secret NOPE",
        ),
        (
            &["secret", "history", "NOPE", "--scope", "acme"],
            "no secret NOPE",
        ),
        // X lives at acme, not at the team.
        (
            &["secret", "get", "X", "--scope", "acme/platform"],
            "no secret X",
        ),
    ];
    for (args, needle) in cases {
        let r = env.run(args);
        r.fails(1, needle);
        no_leak(&r, "CANARY-x-7701");
    }
    assert_eq!(history(&env, "X", "acme"), before);
    assert_eq!(get(&env, "X", "acme"), "CANARY-x-7701");
}

#[test]
fn task_creation_errors() {
    let env = Env::new().with_tree();
    let cases: &[(&str, &str, &str)] = &[
        (PROJECT, "bad-name", "invalid secret name"),
        (PROJECT, "lower", "upper case"),
        (PROJECT, "SECRETSTORE_TOKEN", "reserved"),
        (
            "acme/platform/dev/nope",
            "A",
            "unknown project acme/platform/dev/nope",
        ),
        ("acme/platform/dev", "A", "expected a project path"),
        ("acme", "A", "expected a project path"),
        ("acme/platform/dev/Agent", "A", "invalid scope path"),
        ("acme/../dev/agent-x", "A", "invalid scope path"),
    ];
    for (project, r, needle) in cases {
        let run = env.run(&["task", "create", "--project", project, "--ref", r]);
        run.fails(1, needle);
        assert!(
            run.stdout.is_empty(),
            "a task id was printed: {}",
            run.stdout
        );
    }
    // --ref is required.
    env.run(&["task", "create", "--project", PROJECT])
        .fails(2, "required arguments");
}

#[test]
fn unknown_and_malformed_task_and_brief_ids() {
    let mut env = Env::new().with_tree();
    // Briefs two levels down, so `../../x` would land in the test folder itself.
    env.vars
        .push(("BRIEF_STORE_URL".into(), "store/briefs".into()));
    std::fs::create_dir_all(env.path("store/briefs")).unwrap();
    let planted = r#"{"brief_id":"CANARY-outside-8801"}"#;
    for p in ["x.json", "x.json.json", "store/x.json", "store/x.json.json"] {
        std::fs::write(env.path(p), planted).unwrap();
    }
    let unknown = "01234567-89ab-4cde-8f01-23456789abcd";
    env.run(&["dispatch", unknown]).fails(1, "no task");
    env.run(&["run", "--task", unknown, "--", "true"])
        .fails(1, "no task");
    for bad in [
        "notauuid",
        "../x",
        "01234567-89AB-4CDE-8F01-23456789ABCD",
        "",
    ] {
        env.run(&["dispatch", bad]).fails(1, "invalid task id");
    }
    env.run(&["brief", "show", unknown]).fails(1, "no brief");
    for bad in [
        "../etc/passwd",
        "../../x.json",
        "../../x",
        "../x",
        "%2e%2e",
        "..",
        "/etc/passwd",
        "",
    ] {
        let r = env.run(&["brief", "show", bad]);
        r.fails(1, "invalid brief id");
        assert!(r.stdout.is_empty(), "printed: {}", r.stdout);
        no_leak(&r, "CANARY-outside-8801");
        no_leak(&r, "root:");
    }
    let r = env.run_stdin(&["callback", "verify", unknown], b"CANARY-token-8802\n");
    r.fails(1, "no brief");
    no_leak(&r, "CANARY-token-8802");
    env.run_stdin(&["callback", "verify", "../x"], b"tok")
        .fails(1, "invalid brief id");
    // Nothing was dispatched: the brief folder holds no brief.
    assert_eq!(
        std::fs::read_dir(env.path("store/briefs")).unwrap().count(),
        0
    );
}

#[test]
fn import_is_all_or_nothing() {
    let env = Env::new().with_tree();
    let canary = "CANARY-imp-7731";
    let cases: &[(&str, &str)] = &[
        (
            "FIRST=CANARY-imp-7731\nSECOND=two\nlower=CANARY-imp-7731\n",
            "upper case",
        ),
        ("FIRST=CANARY-imp-7731\nEMPTY=\n", "EMPTY in"),
        (
            "FIRST=CANARY-imp-7731\nBAD=\"CANARY-imp-7731\n",
            "malformed",
        ),
        (
            "FIRST=CANARY-imp-7731\njust some text CANARY-imp-7731\n",
            "malformed",
        ),
        (
            "FIRST=CANARY-imp-7731\nSECRETSTORE_X=CANARY-imp-7731\n",
            "reserved",
        ),
        (
            "FIRST=CANARY-imp-7731\nFIRST=CANARY-imp-7731\n",
            "appears twice",
        ),
        ("", "nothing to import"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let name = format!("bad{i}.env");
        std::fs::write(env.path(&name), text).unwrap();
        let r = env.run(&[
            "secret",
            "import",
            &name,
            "--scope",
            "acme/platform",
            "--category",
            "provider",
        ]);
        r.fails(1, needle);
        no_leak(&r, canary);
        assert_no_secrets(&env, "acme/platform");
    }
    std::fs::write(env.path("good.env"), "FIRST=CANARY-imp-7731\n").unwrap();
    for (args, code, needle) in [
        (
            [
                "missing.env",
                "--scope",
                "acme/platform",
                "--category",
                "provider",
            ],
            1,
            "cannot read",
        ),
        (
            [
                "good.env",
                "--scope",
                "acme/platform",
                "--category",
                "bogus",
            ],
            1,
            "unknown category",
        ),
        (
            ["good.env", "--scope", "acme/nope", "--category", "provider"],
            1,
            "unknown team acme/nope",
        ),
        (
            ["good.env", "--scope", PROJECT, "--category", "provider"],
            1,
            "project path",
        ),
    ] {
        let mut a = vec!["secret", "import"];
        a.extend(args);
        let r = env.run(&a);
        r.fails(code, needle);
        no_leak(&r, canary);
    }
    assert_no_secrets(&env, "acme/platform");
}

#[test]
fn missing_key_gives_a_hint() {
    let env = Env::bare();
    // A database without a key: `init` makes both, then the key is taken away. Scopes
    // need no key, so the key is the only thing missing for a write.
    env.run(&["init"]).ok();
    std::fs::remove_file(env.path(".env")).unwrap();
    env.run(&["org", "create", "acme"]).ok();
    let r = env.set("X", "acme", "provider", "CANARY-nokey-3301");
    r.fails(1, "FERNET_SECRET_KEY");
    no_leak(&r, "CANARY-nokey-3301");
    assert!(
        r.stderr.lines().any(|l| l.starts_with("hint: ")
            && (l.contains("secretstore keygen") || l.contains("secretstore init"))),
        "no hint: {}",
        r.stderr
    );
    assert!(!env.path(".env").exists(), "a .env was written");
    assert_no_secrets(&env, "acme");
}

#[test]
fn wrong_key_is_refused_and_changes_nothing() {
    let env = Env::new().with_tree();
    env.set("X", "acme", "provider", "CANARY-right-2201").ok();
    let before = history(&env, "X", "acme");
    let other = env.run(&["keygen"]).ok().trim().to_string();
    assert!(!other.is_empty());
    let key = [("FERNET_SECRET_KEY", other.as_str())];
    // The environment wins over .env: the other key is used, and refused.
    let r = run_vars(
        &env,
        &key,
        &[
            "secret",
            "set",
            "X",
            "--scope",
            "acme",
            "--category",
            "provider",
        ],
        b"CANARY-wrong-2202",
    );
    r.fails(1, "does not match");
    no_leak(&r, "CANARY-wrong-2202");
    no_leak(&r, &other);
    let r = run_vars(
        &env,
        &key,
        &[
            "secret",
            "set",
            "NEW",
            "--scope",
            "acme",
            "--category",
            "provider",
        ],
        b"CANARY-wrong-2203",
    );
    r.fails(1, "does not match");
    let r = run_vars(&env, &key, &["secret", "get", "X", "--scope", "acme"], b"");
    r.fails(1, "does not match");
    assert!(r.stdout.is_empty(), "printed: {}", r.stdout);
    no_leak(&r, "CANARY-right-2201");
    assert!(r.stderr.contains("hint: "), "no hint: {}", r.stderr);
    // Nothing changed.
    assert_eq!(history(&env, "X", "acme"), before);
    assert_eq!(get(&env, "X", "acme"), "CANARY-right-2201");
    env.run(&["secret", "get", "NEW", "--scope", "acme"])
        .fails(1, "no secret NEW");
}

#[test]
fn malformed_key_is_refused_without_echo() {
    let env = Env::new().with_tree();
    env.set("X", "acme", "provider", "CANARY-mk-1101").ok();
    let before = history(&env, "X", "acme");
    let real = env.run(&["keygen"]).ok().trim().to_string();
    let truncated = real[..real.len() - 4].to_string();
    let std_alphabet = "cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=";
    for (var, key) in [
        ("FERNET_SECRET_KEY", "notakey"),
        ("FERNET_SECRET_KEY", truncated.as_str()),
        ("FERNET_SECRET_KEY", std_alphabet),
    ] {
        for args in [
            &["secret", "get", "X", "--scope", "acme"][..],
            &["secret", "set", "X", "--scope", "acme"][..],
        ] {
            let r = run_vars(&env, &[(var, key)], args, b"CANARY-mk-1102");
            r.fails(1, var);
            no_leak(&r, key);
            no_leak(&r, "CANARY-mk-1101");
            no_leak(&r, "CANARY-mk-1102");
            assert!(r.stderr.contains("secretstore keygen"), "{}", r.stderr);
        }
    }
    assert_eq!(history(&env, "X", "acme"), before);
}

#[test]
fn dispatch_is_all_or_nothing() {
    let env = Env::new().with_tree();
    env.set("A", "acme/platform/dev", "provider", "CANARY-a-4401")
        .ok();
    let task = env
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "A",
            "--ref",
            "B",
            "--ref",
            "C",
        ])
        .ok()
        .trim()
        .to_string();
    let r = env.run(&["dispatch", &task, "--env-file", "out.env"]);
    r.fails(1, "B (missing), C (missing)");
    assert!(!r.stderr.contains("A (missing)"), "{}", r.stderr);
    no_leak(&r, "CANARY-a-4401");
    assert!(r.stdout.is_empty(), "printed: {}", r.stdout);
    let r = env.run(&["dispatch", &task, "--json"]);
    r.fails(1, "B (missing), C (missing)");
    no_leak(&r, "CANARY-a-4401");
    env.run(&["run", "--task", &task, "--", "touch", "ran.txt"])
        .fails(1, "B (missing), C (missing)");
    assert!(!env.path("out.env").exists(), "the env file was written");
    assert!(!env.path("ran.txt").exists(), "the command was run");
    let briefs = std::fs::read_dir(env.path("briefs"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(briefs, 0, "a brief was stored");
}

#[test]
fn values_never_reach_disk_in_plaintext() {
    let env = Env::new().with_tree();
    let outside = secretstore_testkit::scratch();
    let from_file = outside.path().join("v");
    std::fs::write(&from_file, "CANARY-disk-file-0003").unwrap();
    let canaries = [
        "CANARY-disk-stdin-0001",
        "CANARY-disk-update-0002",
        "CANARY-disk-file-0003",
        "CANARY-disk-env-0004",
        "CANARY-disk-stale-0005",
    ];
    env.set("A", "acme/platform/dev", "provider", canaries[0])
        .ok();
    env.set("A", "acme/platform/dev", "provider", canaries[1])
        .ok();
    env.run(&[
        "secret",
        "set",
        "B",
        "--scope",
        "acme/platform",
        "--category",
        "infrastructure",
        "--from-file",
        from_file.to_str().unwrap(),
    ])
    .ok();
    run_vars(
        &env,
        &[("SECRETSTORE_TEST_VALUE", canaries[3])],
        &[
            "secret",
            "set",
            "C",
            "--scope",
            "acme",
            "--category",
            "agent",
            "--from-env",
            "SECRETSTORE_TEST_VALUE",
        ],
        b"",
    )
    .ok();
    let r = env.run_stdin(
        &[
            "secret",
            "set",
            "A",
            "--scope",
            "acme/platform/dev",
            "--expect-version",
            "1",
        ],
        canaries[4].as_bytes(),
    );
    r.fails(1, "conflict");
    no_leak(&r, canaries[4]);
    env.run(&[
        "secret",
        "rollback",
        "A",
        "--scope",
        "acme/platform/dev",
        "--to",
        "1",
    ])
    .ok();
    let task = env
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "A",
            "--ref",
            "B",
            "--ref",
            "C",
        ])
        .ok()
        .trim()
        .to_string();
    let brief_id = env.run(&["dispatch", &task]).ok().trim().to_string();
    let brief = env.run(&["brief", "show", &brief_id]).ok().to_string();
    for c in canaries {
        assert!(!brief.contains(c), "{c} in the brief");
    }
    let files = env.all_bytes();
    assert!(
        files.iter().any(|(p, _)| p.starts_with(env.path("briefs"))),
        "no brief file was scanned"
    );
    assert!(
        files.iter().any(|(p, _)| p.ends_with("secretstore.db")),
        "no database was scanned"
    );
    for (path, bytes) in &files {
        for c in canaries {
            assert!(
                !contains(bytes, c.as_bytes()),
                "{c} in plaintext in {}",
                path.display()
            );
        }
    }
}

#[test]
fn malformed_trusted_proxies_and_auth_limits_are_clear_start_up_errors() {
    let env = Env::new();
    for (k, v, needle) in [
        (
            "SECRETSTORE_TRUSTED_PROXIES",
            "10.0.0.0/33",
            "SECRETSTORE_TRUSTED_PROXIES: entry 1",
        ),
        (
            "SECRETSTORE_TRUSTED_PROXIES",
            "127.0.0.1, CANARY-proxy",
            "entry 2",
        ),
        (
            "SECRETSTORE_AUTH_FAILURES_PER_MINUTE",
            "0",
            "SECRETSTORE_AUTH_FAILURES_PER_MINUTE",
        ),
        (
            "SECRETSTORE_AUTH_FAILURES_PER_MINUTE",
            "99999999999",
            "SECRETSTORE_AUTH_FAILURES_PER_MINUTE must be between 1 and 10000",
        ),
        (
            "SECRETSTORE_AUTH_LOCKOUT",
            "9223372036854775807",
            "SECRETSTORE_AUTH_LOCKOUT",
        ),
        (
            "SECRETSTORE_AUTH_LOCKOUT",
            "2d",
            "SECRETSTORE_AUTH_LOCKOUT must be between 1s and 1d",
        ),
    ] {
        let mut c = env.command(&["serve"]);
        c.env(k, v).env("SECRETSTORE_LISTEN", "127.0.0.1:0");
        let r = run_with(&mut c, b"");
        r.fails(1, needle);
        no_leak(&r, "CANARY-proxy");
    }
}

#[test]
fn brief_revoke_of_an_unknown_or_malformed_brief_fails_and_changes_nothing() {
    let env = Env::new().with_tree();
    env.run(&["brief", "revoke", "00000000-0000-4000-8000-000000000000"])
        .fails(1, "no brief");
    env.run(&["brief", "revoke", "../etc/passwd"])
        .fails(1, "brief");
    env.run(&["brief", "revoke"]).fails(2, "");
}

/// Renames a stored secret (and every task ref) through the database, as a database from
/// before unsafe environment names were refused would hold it.
fn rename_in_database(env: &Env, from: &str, to: &str) {
    env.sql(&format!(
        "UPDATE secrets SET name = '{to}' WHERE name = '{from}'"
    ));
    env.sql(&format!(
        "UPDATE tasks SET secret_refs = REPLACE(secret_refs, '\"{from}\"', '\"{to}\"')"
    ));
}

#[test]
fn unsafe_environment_names_are_refused_as_secret_names_on_every_cli_path() {
    let env = Env::new().with_tree();
    let cases: &[(&str, &str)] = &[
        ("BASH_ENV", "BASH_ENV is an unsafe environment name"),
        ("LD_PRELOAD", "names starting with LD_ are unsafe"),
        ("PATH", "PATH is an unsafe environment name"),
        ("NODE_OPTIONS", "NODE_OPTIONS is an unsafe environment name"),
        ("JAVA_TOOL_OPTIONS", "JAVA_TOOL_OPTIONS is an unsafe"),
        ("GIT_SSH_COMMAND", "GIT_SSH_COMMAND is an unsafe"),
        ("PYTHONPATH", "PYTHONPATH is an unsafe"),
        ("IFS", "IFS is an unsafe"),
        ("DYLD_INSERT_LIBRARIES", "names starting with DYLD_"),
    ];
    for (name, rule) in cases {
        let canary = format!("CANARY-unsafe-{name}-7731");
        let r = env.run_stdin(
            &[
                "secret",
                "set",
                name,
                "--scope",
                "acme",
                "--category",
                "agent",
            ],
            canary.as_bytes(),
        );
        r.fails(1, rule);
        no_leak(&r, &canary);
        env.run(&[
            "secret",
            "link",
            name,
            "--scope",
            "acme",
            "--aws-arn",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:x",
            "--category",
            "agent",
        ])
        .fails(1, rule);
        env.run(&[
            "secret",
            "link",
            name,
            "--scope",
            "acme",
            "--vault-path",
            "secret/x#v",
            "--category",
            "agent",
        ])
        .fails(1, rule);
        env.run(&["task", "create", "--project", PROJECT, "--ref", name])
            .fails(1, rule);
        // An import holding one such name imports nothing.
        std::fs::write(
            env.path("unsafe.env"),
            format!("FINE_ONE=ok\n{name}={canary}\n"),
        )
        .unwrap();
        let r = env.run(&[
            "secret",
            "import",
            "unsafe.env",
            "--scope",
            "acme",
            "--category",
            "agent",
        ]);
        r.fails(1, rule);
        no_leak(&r, &canary);
    }
    assert_no_secrets(&env, "acme");
    // Names that merely look alike are fine.
    for ok in [
        "PATHS",
        "MY_PATH",
        "GIT_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "NODE_ENV",
    ] {
        env.set(ok, "acme", "agent", "v").ok();
    }
}

#[test]
fn secrets_stored_under_unsafe_names_before_the_rule_are_listed_reported_refused_at_dispatch_and_deletable()
 {
    let env = Env::new().with_tree();
    env.set("XBASH_ENV", "acme/platform", "agent", "echo pwned")
        .ok();
    env.set("OK_ONE", "acme", "agent", "fine").ok();
    let t = env
        .run(&[
            "task",
            "create",
            "--project",
            PROJECT,
            "--ref",
            "OK_ONE",
            "--ref",
            "XBASH_ENV",
        ])
        .ok()
        .trim()
        .to_string();
    rename_in_database(&env, "XBASH_ENV", "BASH_ENV");
    // Listed, readable, with their history.
    assert!(
        list_json(&env, "acme/platform").contains("\"BASH_ENV\""),
        "listed"
    );
    assert_eq!(get(&env, "BASH_ENV", "acme/platform"), "echo pwned");
    assert!(history(&env, "BASH_ENV", "acme/platform").contains("\"version\": 1"));
    // But no new version can be written under that name.
    env.set("BASH_ENV", "acme/platform", "agent", "again")
        .fails(1, "BASH_ENV is an unsafe environment name");
    env.run(&[
        "secret",
        "rollback",
        "BASH_ENV",
        "--scope",
        "acme/platform",
        "--to",
        "1",
    ])
    .fails(1, "BASH_ENV is an unsafe environment name");
    // doctor names it, with the rule, and fails.
    let d = env.run(&["doctor"]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    assert!(
        d.stdout.contains("acme/platform BASH_ENV")
            && d.stdout.contains("BASH_ENV is an unsafe environment name"),
        "{}",
        d.stdout
    );
    // Dispatch and run refuse the task, naming the ref and the reason; nothing is issued.
    env.run(&["dispatch", &t, "--json"]).fails(
        1,
        "BASH_ENV (refused: BASH_ENV is an unsafe environment name",
    );
    let r = env.run(&["run", "--task", &t, "--", "sh", "-c", "echo started"]);
    r.fails(1, "BASH_ENV (refused");
    assert!(!r.stdout.contains("started"), "{}", r.stdout);
    assert_eq!(env.sql("SELECT COUNT(*) FROM briefs").trim(), "0");
    // It can be deleted; then doctor is clean again.
    env.run(&["secret", "delete", "BASH_ENV", "--scope", "acme/platform"])
        .ok();
    let d = env.run(&["doctor"]);
    assert!(!d.stdout.contains("BASH_ENV"), "{}", d.stdout);
}

/// A copy of `env` with no `DATABASE_URL` (in postgres mode it has one): a folder with no
/// database at all.
fn without_database_url(mut env: Env) -> Env {
    env.vars.retain(|(k, _)| k != "DATABASE_URL");
    env
}

/// Issue 14: a command other than `init` and `serve` in a folder without a database created
/// `secretstore.db` (and its -wal and -shm) there and went on, on an empty database.
#[test]
fn commands_in_a_folder_without_a_database_created_one_instead_of_failing() {
    let env = without_database_url(Env::bare());
    let commands: &[&[&str]] = &[
        &["org", "create", "acme"],
        &["team", "create", "acme/platform"],
        &["secret", "list", "--scope", "acme"],
        &["secret", "get", "X", "--scope", "acme"],
        &[
            "secret",
            "import",
            "prod.env",
            "--scope",
            "acme",
            "--category",
            "agent",
        ],
        &["task", "create", "--project", PROJECT, "--ref", "X"],
        &["resolve", "--project", PROJECT, "--ref", "X"],
        &["dispatch", "00000000-0000-0000-0000-000000000000"],
        &["brief", "show", "00000000-0000-0000-0000-000000000000"],
        &["callback", "verify", "00000000-0000-0000-0000-000000000000"],
        &["account", "list"],
        &["token", "create", "root"],
        &["audit"],
        &["doctor"],
        &["rekey", "--dry-run"],
    ];
    for args in commands {
        let r = env.run_stdin(args, b"CANARY-nodb-7701");
        r.fails(1, "no database at ./secretstore.db");
        assert!(
            r.stderr.lines().any(|l| l.starts_with("hint: ")
                && l.contains("secretstore init")
                && l.contains("DATABASE_URL")),
            "{args:?}: no hint: {}",
            r.stderr
        );
        no_leak(&r, "CANARY-nodb-7701");
    }
    let r = env.run_stdin(
        &[
            "secret",
            "set",
            "X",
            "--scope",
            "acme",
            "--category",
            "agent",
        ],
        b"CANARY-nodb-7702",
    );
    r.fails(1, "no database at ./secretstore.db");
    no_leak(&r, "CANARY-nodb-7702");
    // Another SQLite file that does not exist is named as it is.
    let other = [("DATABASE_URL", "sqlite://other.db")];
    run_vars(&env, &other, &["org", "create", "acme"], b"").fails(1, "no database at ./other.db");
    let left: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files were created: {left:?}");
    // `keygen` needs no database; `init` creates it, and then the commands work.
    env.run(&["keygen"]).ok();
    env.run(&["init"]).ok();
    env.run(&["org", "create", "acme"]).ok();
}

/// Issue 14: `callback verify` with nothing on stdin said the token was not valid, as if
/// one had been given, instead of saying that none was.
#[test]
fn callback_verify_with_empty_stdin_said_not_valid_instead_of_token_missing() {
    let env = Env::new().with_tree();
    env.set("A", "acme", "agent", "CANARY-cbempty-7711").ok();
    let task = env
        .run(&["task", "create", "--project", PROJECT, "--ref", "A"])
        .ok()
        .trim()
        .to_string();
    let d: serde_json::Value =
        serde_json::from_str(env.run(&["dispatch", &task, "--json"]).ok()).unwrap();
    let brief = d["brief_id"].as_str().unwrap().to_string();
    let token = d["env"]["SECRETSTORE_CALLBACK_TOKEN"].as_str().unwrap();
    for empty in [&b""[..], b"\n", b"\r\n"] {
        let r = env.run_stdin(&["callback", "verify", &brief], empty);
        r.fails(1, "no callback token on stdin");
        assert!(!r.stderr.contains("not valid"), "{}", r.stderr);
        assert!(
            r.stderr.lines().any(|l| l.starts_with("hint: ")),
            "no hint: {}",
            r.stderr
        );
        no_leak(&r, token);
    }
    // Nothing changed: the token still verifies.
    env.run_stdin(&["callback", "verify", &brief], token.as_bytes())
        .ok();
}

/// Issue 14: a value from stdin or `--from-file` past the limit was reported as 65539 bytes
/// (as much as was read), not its real size.
#[test]
fn size_errors_named_the_bytes_read_instead_of_the_real_size() {
    let env = Env::new().with_tree();
    let set = [
        "secret",
        "set",
        "BIG",
        "--scope",
        "acme",
        "--category",
        "agent",
    ];
    let big = padded("CANARY-size-7721", 70_000);
    let r = env.run_stdin(&set, &big);
    r.fails(1, "secret value is 70000 bytes; the limit is 65536");
    no_leak(&r, "CANARY-size-7721");
    // One trailing newline of stdin is not part of the value.
    let mut with_newline = big.clone();
    with_newline.extend_from_slice(b"\r\n");
    env.run_stdin(&set, &with_newline)
        .fails(1, "secret value is 70000 bytes; the limit is 65536");
    std::fs::write(env.path("big.pem"), padded("CANARY-size-7722", 100_000)).unwrap();
    let mut from_file = set.to_vec();
    from_file.extend(["--from-file", "big.pem"]);
    let r = env.run(&from_file);
    r.fails(1, "secret value is 100000 bytes; the limit is 65536");
    no_leak(&r, "CANARY-size-7722");
    // A dotenv file to import: the entry's real size.
    let mut dotenv = b"SMALL=ok\nBIG=".to_vec();
    dotenv.extend(padded("CANARY-size-7723", 80_000));
    dotenv.push(b'\n');
    std::fs::write(env.path("prod.env"), dotenv).unwrap();
    let r = env.run(&[
        "secret",
        "import",
        "prod.env",
        "--scope",
        "acme",
        "--category",
        "agent",
    ]);
    r.fails(1, "secret value is 80000 bytes; the limit is 65536");
    no_leak(&r, "CANARY-size-7723");
    assert_no_secrets(&env, "acme");
}
