//! Issue 10, item 1: links to another team's secrets.

use super::*;

/// Issue 10, item 1: `link` was a confused deputy. A member of one team could link another team's
/// AWS secret (`secretstore/<other team>/…`, which the server's AWS identity reads) and then read,
/// overwrite and roll back that team's value through the link.
#[test]
fn link_to_another_teams_aws_secret_is_refused() {
    let w = link_world("aws_sm");
    let prefix = sm_prefix(&w.e);
    // Team b's secret, which secretstore created in AWS for acme/other.
    let (s, _, t) = w.put(&w.bob, "acme/other", "DB_PW", "team-b-canary-7781");
    assert_eq!(s, 200, "{t}");
    let b_name = format!("{prefix}acme/other/DB_PW");
    let b_arn = w
        .e
        .sql("SELECT backend_ref FROM secret_versions WHERE backend_ref LIKE '%acme/other/DB_PW%'")
        .trim()
        .to_string();
    assert!(b_arn.starts_with("arn:aws:secretsmanager:"), "{b_arn}");
    // The exploit: a member of acme/platform links it by name, by ARN, by a partial ARN.
    let partial = b_arn[..b_arn.len() - 7].to_string();
    for reference in [&b_name, &b_arn, &partial] {
        let a = w.link(&w.alice, "acme/platform", "STOLEN", "aws_arn", reference);
        refused(&a, reference, &[&b_arn, "team-b-canary"]);
    }
    // Nothing was written: nothing to read.
    assert_eq!(w.value(&w.alice, "acme/platform", "STOLEN").0, 404);
    // Not even an allowed prefix that covers secretstore's own names lets another scope in.
    w.e.run(&["org", "allow-links", "acme", "--aws-prefix", &prefix])
        .ok();
    let a = w.link(&w.alice, "acme/platform", "STOLEN", "aws_arn", &b_arn);
    refused(&a, &b_arn, &["team-b-canary"]);
    // Nor an admin of the organization.
    let a = w.link(&w.ada, "acme/platform", "STOLEN", "aws_arn", &b_name);
    refused(&a, &b_name, &[&b_arn]);
    assert_eq!(w.value(&w.alice, "acme/platform", "STOLEN").0, 404);
    // The AWS value was not changed by anyone.
    let (s, v, t) = w.value(&w.bob, "acme/other", "DB_PW");
    assert_eq!(
        (s, v["value"].as_str()),
        (200, Some("team-b-canary-7781")),
        "{t}"
    );
    // Every refused attempt is audited, who and where, never the reference.
    let audit = w.e.run(&["audit", "--json"]).ok().to_string();
    let records: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r["action"] == "secret.link_refused")
        .collect();
    assert_eq!(refused.len(), 5, "{audit}");
    assert!(refused.iter().all(|r| r["scope"] == "acme/platform"
        && r["name"] == "STOLEN"
        && r["detail"]["backend"] == "aws_sm"));
    assert_eq!(
        refused.iter().filter(|r| r["actor"] == "alice").count(),
        4,
        "{audit}"
    );
    assert!(
        !audit.contains(&b_arn) && !audit.contains("acme/other/DB_PW"),
        "{audit}"
    );
}

/// Issue 10, item 1: the same confused deputy through Vault (`secret/secretstore/<other team>/…#value`).
#[test]
fn link_to_another_teams_vault_secret_is_refused() {
    let w = link_world("vault");
    let t = tag(&w.e);
    let name = format!("DB_PW_{t}");
    let (s, _, txt) = w.put(&w.bob, "acme/other", &name, "vault-b-canary-3391");
    assert_eq!(s, 200, "{txt}");
    let own = format!("secret/secretstore/acme/other/{name}");
    // Every spelling of team b's own path, and another field of it.
    for reference in [format!("{own}#value"), format!("{own}#other")] {
        let a = w.link(
            &w.alice,
            "acme/platform",
            "STOLEN",
            "vault_path",
            &reference,
        );
        refused(&a, &reference, &["vault-b-canary"]);
    }
    assert_eq!(w.value(&w.alice, "acme/platform", "STOLEN").0, 404);
    // Even with secretstore's whole tree allowed.
    w.e.run(&[
        "org",
        "allow-links",
        "acme",
        "--vault-prefix",
        "secret/secretstore",
    ])
    .ok();
    let a = w.link(
        &w.alice,
        "acme/platform",
        "STOLEN",
        "vault_path",
        &format!("{own}#value"),
    );
    refused(&a, &own, &["vault-b-canary"]);
    let a = w.link(
        &w.ada,
        "acme/platform",
        "STOLEN",
        "vault_path",
        &format!("{own}#value"),
    );
    refused(&a, &own, &["vault-b-canary"]);
    // Prefixes: segments, not strings; no `..`.
    let apps = format!("h4apps{}", t.to_lowercase());
    vault_put(
        &format!("{apps}/a/db"),
        serde_json::json!({"password": "in-a"}),
    );
    vault_put(
        &format!("{apps}/ab/db"),
        serde_json::json!({"password": "in-ab"}),
    );
    w.e.run(&[
        "org",
        "allow-links",
        "acme",
        "--vault-prefix",
        &format!("secret/{apps}/a"),
    ])
    .ok();
    let (s, _, txt) = w.link(
        &w.alice,
        "acme/platform",
        "IN_A",
        "vault_path",
        &format!("secret/{apps}/a/db#password"),
    );
    assert_eq!(s, 200, "{txt}");
    let (s, v, _) = w.value(&w.alice, "acme/platform", "IN_A");
    assert_eq!((s, v["value"].as_str()), (200, Some("in-a")));
    for r in [
        format!("secret/{apps}/ab/db#password"),
        format!("secret/{apps}/a/../ab/db#password"),
    ] {
        let a = w.link(&w.alice, "acme/platform", "IN_AB", "vault_path", &r);
        assert!(a.0 == 403 || a.0 == 400, "{r}: {}", a.2);
        assert!(!a.2.contains("in-ab"));
    }
    // Another organization's admin: nothing allowed for globex.
    let a = w.link(
        &w.gus,
        "globex",
        "IN_A",
        "vault_path",
        &format!("secret/{apps}/a/db#password"),
    );
    refused(&a, &apps, &[]);
    // Root: anywhere.
    let (s, _, txt) = w.link(
        &w.root,
        "acme/platform",
        "ROOT_B",
        "vault_path",
        &format!("{own}#value"),
    );
    assert_eq!(s, 200, "{txt}");
    let (s, v, _) = w.value(&w.alice, "acme/platform", "ROOT_B");
    assert_eq!((s, v["value"].as_str()), (200, Some("vault-b-canary-3391")));
    // Narrowed: the member's link is refused on reveal and write; root's approved one is not.
    w.e.run(&["org", "allow-links", "acme", "--none"]).ok();
    refused(
        &w.value(&w.alice, "acme/platform", "IN_A"),
        "",
        &["in-a", &apps],
    );
    refused(
        &w.put(&w.alice, "acme/platform", "IN_A", "overwritten"),
        "",
        &[&apps],
    );
    assert_eq!(w.value(&w.alice, "acme/platform", "ROOT_B").0, 200);
    let doctor = w.e.run(&["doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("acme/platform IN_A"),
        "{}",
        doctor.stdout
    );
    assert!(
        !doctor.stdout.contains("acme/platform ROOT_B"),
        "{}",
        doctor.stdout
    );
}
