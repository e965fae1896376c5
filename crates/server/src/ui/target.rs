//! Parses the URLs under `/ui/scopes/`: which scope, secret or action of a secret a path
//! names.

use axum::http::Uri;

/// What a URL under `/ui/scopes/` names. Scope segments are lower case and secret names
/// upper case, so a name is never mistaken for a scope (and `secrets` as a segment is
/// only special where a name follows it, or at the end of a POST).
#[derive(Debug, PartialEq)]
pub(crate) enum Target<'a> {
    /// A scope's page: `acme/platform`.
    Scope(&'a str),
    /// A scope's secrets, where a new one is posted: `acme/platform/secrets`.
    Collection(&'a str),
    /// A secret's page: `acme/platform/secrets/DB_URL` (scope, name).
    Secret(&'a str, &'a str),
    /// A secret's action: `…/secrets/DB_URL/rotate` (scope, name, action).
    SecretAction(&'a str, &'a str, &'a str),
}

fn looks_like_name(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
}

pub(crate) fn parse_target(rest: &str, post: bool) -> Option<Target<'_>> {
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let prefix = |k: usize| -> Option<&str> {
        let len: usize = segs[..k].iter().map(|s| s.len()).sum::<usize>() + k.saturating_sub(1);
        (k > 0).then(|| &rest[..len])
    };
    if n >= 4
        && segs[n - 3] == "secrets"
        && looks_like_name(segs[n - 2])
        && let Some(a @ ("rotate" | "reveal" | "rollback" | "delete")) = segs.get(n - 1).copied()
    {
        return Some(Target::SecretAction(prefix(n - 3)?, segs[n - 2], a));
    }
    if n >= 3 && segs[n - 2] == "secrets" && looks_like_name(segs[n - 1]) {
        return Some(Target::Secret(prefix(n - 2)?, segs[n - 1]));
    }
    if post {
        return (n >= 2 && segs[n - 1] == "secrets")
            .then(|| Target::Collection(&rest[..rest.len() - "/secrets".len()]));
    }
    Some(Target::Scope(rest))
}

pub(crate) fn rest_of(uri: &Uri) -> &str {
    uri.path().strip_prefix("/ui/scopes/").unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        use Target::*;
        assert_eq!(parse_target("acme", false), Some(Scope("acme")));
        assert_eq!(
            parse_target("acme/secrets", false),
            Some(Scope("acme/secrets"))
        );
        assert_eq!(parse_target("acme/secrets", true), Some(Collection("acme")));
        assert_eq!(
            parse_target("acme/secrets/secrets", true),
            Some(Collection("acme/secrets"))
        );
        assert_eq!(parse_target("acme/p", true), None);
        assert_eq!(
            parse_target("acme/p/secrets/DB_URL", false),
            Some(Secret("acme/p", "DB_URL"))
        );
        assert_eq!(
            parse_target("acme/p/secrets/DB_URL/rotate", true),
            Some(SecretAction("acme/p", "DB_URL", "rotate"))
        );
        assert_eq!(
            parse_target("acme/secrets/DB_URL/delete", false),
            Some(SecretAction("acme", "DB_URL", "delete"))
        );
        assert_eq!(
            parse_target("secrets/DB_URL", false),
            Some(Scope("secrets/DB_URL"))
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// A scope path: lower-case segments, now and then the word `secrets`.
        fn scope() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![4 => "[a-z0-9][a-z0-9-]{0,8}", 1 => Just("secrets".to_string())],
                1..5,
            )
            .prop_map(|segs| segs.join("/"))
        }

        fn name() -> impl Strategy<Value = String> {
            "[A-Z_][A-Z0-9_]{0,12}"
        }

        fn action() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec!["rotate", "reveal", "rollback", "delete"])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Every URL the pages link to names what it was built from.
            #[test]
            fn built_urls_parse_back(sc in scope(), n in name(), a in action(), post: bool) {
                prop_assert_eq!(parse_target(&sc, false), Some(Target::Scope(&sc)));
                let collection = format!("{sc}/secrets");
                prop_assert_eq!(parse_target(&collection, true), Some(Target::Collection(&sc)));
                let secret = format!("{sc}/secrets/{n}");
                prop_assert_eq!(parse_target(&secret, post), Some(Target::Secret(&sc, &n)));
                let act = format!("{sc}/secrets/{n}/{a}");
                prop_assert_eq!(
                    parse_target(&act, post),
                    Some(Target::SecretAction(&sc, &n, a))
                );
            }

            /// Any path (any bytes of UTF-8, empty segments, `secrets` anywhere) parses
            /// without a panic into parts that put together give the path again.
            #[test]
            fn any_path_parses_into_parts_of_itself(
                rest in "([a-zA-Z_/é]|secrets|/secrets/|rotate|delete){0,12}",
                post: bool,
            ) {
                let again = match parse_target(&rest, post) {
                    None => return Ok(()),
                    Some(Target::Scope(s)) => s.to_string(),
                    Some(Target::Collection(s)) => format!("{s}/secrets"),
                    Some(Target::Secret(s, n)) => format!("{s}/secrets/{n}"),
                    Some(Target::SecretAction(s, n, a)) => format!("{s}/secrets/{n}/{a}"),
                };
                prop_assert_eq!(again, rest);
            }
        }
    }
}
