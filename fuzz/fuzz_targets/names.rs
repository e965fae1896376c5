//! Scope paths, secret names, account names, roles, categories and link prefixes: every
//! one reaches the service from outside (argv, a URL segment, a JSON body, a form field).
//! None may panic; what parses prints back to itself; an error quotes at most a few
//! characters of its input (short_echo), so a value pasted into the wrong field never
//! comes back in full.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secretstore_core::name::unsafe_env_rule;
use secretstore_core::{
    AccountKind, BackendKind, Category, Level, LinkPrefixes, Role, ScopePath, SecretName,
};
use std::str::FromStr;

/// The longest error any of these parsers may give, whatever the input's length.
const MAX_ERROR: usize = 400;

fn bounded(e: &secretstore_core::Error, input: &str) {
    let text = e.to_string();
    assert!(
        text.len() <= MAX_ERROR,
        "an error of {} bytes for an input of {} bytes",
        text.len(),
        input.len()
    );
}

fn scope(s: &str) {
    match ScopePath::parse(s) {
        Ok(p) => {
            assert_eq!(p.as_str(), s);
            assert_eq!(ScopePath::parse(&p.to_string()).ok(), Some(p.clone()));
            assert!((1..=4).contains(&p.depth()));
            let chain = p.resolution_chain();
            assert!(chain.len() <= 3);
            for (i, c) in chain.iter().enumerate() {
                assert!(c.contains(&p) || p.level() == Level::Project);
                assert!(c.as_str().starts_with(p.organization()));
                if let Some(next) = chain.get(i + 1) {
                    assert!(next.contains(c) && next != c);
                }
            }
            assert_eq!(
                ScopePath::parse_secret_scope(s).is_ok(),
                p.level() != Level::Project
            );
            for level in [
                Level::Organization,
                Level::Team,
                Level::Workspace,
                Level::Project,
            ] {
                assert_eq!(ScopePath::parse_level(s, level).is_ok(), p.level() == level);
            }
        }
        Err(e) => {
            bounded(&e, s);
            assert!(ScopePath::parse_secret_scope(s).is_err());
        }
    }
}

fn name(s: &str) {
    match SecretName::parse_existing(s) {
        Ok(n) => {
            assert_eq!(n.as_str(), s);
            assert!(!s.is_empty() && s.len() <= 128);
            assert!(!s.starts_with("SECRETSTORE_"));
            match SecretName::parse(s) {
                Ok(_) => assert!(unsafe_env_rule(s).is_none()),
                Err(e) => {
                    bounded(&e, s);
                    assert!(unsafe_env_rule(s).is_some());
                }
            }
        }
        Err(e) => {
            bounded(&e, s);
            assert!(SecretName::parse(s).is_err());
        }
    }
}

fn others(a: &str, b: &str) {
    if let Err(e) = secretstore_core::accounts::check_account_name(a) {
        bounded(&e, a);
    }
    if let Err(e) = AccountKind::parse(a) {
        bounded(&e, a);
    }
    for scope in [None, Some(b)] {
        match Role::parse(a, scope) {
            Ok(role) => {
                let _ = (role.name(), role.scope());
            }
            Err(e) => bounded(&e, a),
        }
    }
    if let Ok(c) = Category::from_str(a) {
        assert_eq!(Category::from_str(c.as_str()).ok(), Some(c));
    }
    for kind in [BackendKind::AwsSm, BackendKind::Vault, BackendKind::Local] {
        match secretstore_core::links::normalise_prefix(kind, a) {
            Ok(p) => {
                // Normalising is idempotent, and a prefix covers itself.
                assert_eq!(
                    secretstore_core::links::normalise_prefix(kind, &p).ok(),
                    Some(p.clone())
                );
                assert!(secretstore_core::links::covers(&p, &p));
                let _ = secretstore_core::links::covers(&p, b);
            }
            Err(e) => bounded(&e, a),
        }
    }
    let list = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
    if let Ok(prefixes) = LinkPrefixes::parse(&list(a), &list(b)) {
        for kind in [BackendKind::AwsSm, BackendKind::Vault, BackendKind::Local] {
            let _ = prefixes.allows(kind, b);
            let _ = prefixes.allows(kind, a);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    scope(s);
    name(s);
    let (a, b) = s.split_once('\n').unwrap_or((s, ""));
    others(a, b);
});
