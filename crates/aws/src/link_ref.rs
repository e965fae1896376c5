//! AWS Secrets Manager references in the normal form the link rule compares
//! ([`secretstore_core::links`]): the secret's *name*. An ARN
//! (`arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`) and the bare name of
//! the same secret compare the same; the account and region are not part of the form
//! (they are those the server's AWS identity reaches).

use crate::sm::valid_name_char;
use secretstore_core::{Error, Result, ScopePath, StoredMaterial};

/// The longest reference `link` accepts.
const MAX_REF_LEN: usize = 2048;

/// Length of the random suffix AWS appends to a name in an ARN, with its `-`.
const SUFFIX_LEN: usize = 7;

/// The name part of a Secrets Manager ARN, or `None` when `s` is no such ARN.
fn arn_name(s: &str) -> Option<&str> {
    let mut parts = s.splitn(7, ':');
    let (arn, _partition, service, _region, _account, resource, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn" && service == "secretsmanager" && resource == "secret" && !name.is_empty())
        .then_some(name)
}

/// The name without AWS's `-XXXXXX` suffix, if it ends with one.
fn without_suffix(name: &str) -> Option<&str> {
    let cut = name.len().checked_sub(SUFFIX_LEN)?;
    let (head, tail) = name.split_at(cut);
    let ok = !head.is_empty()
        && tail.starts_with('-')
        && tail[1..].chars().all(|c| c.is_ascii_alphanumeric());
    ok.then_some(head)
}

/// Every name a reference as a caller wrote it may stand for: a bare name is itself; an
/// ARN's name may carry AWS's suffix or not (a partial ARN), so both forms are given.
/// The error never repeats the reference.
pub(crate) fn link_forms(reference: &str) -> Result<Vec<String>> {
    let invalid = || {
        Error::Invalid(
            "not an AWS Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or secret name"
                .into(),
        )
    };
    if reference.is_empty() || reference.len() > MAX_REF_LEN {
        return Err(invalid());
    }
    let name = if reference.contains(':') {
        arn_name(reference).ok_or_else(invalid)?
    } else {
        reference
    };
    if !name.chars().all(valid_name_char) {
        return Err(invalid());
    }
    let mut forms = vec![name.to_owned()];
    if reference.contains(':')
        && let Some(short) = without_suffix(name)
    {
        forms.push(short.to_owned());
    }
    Ok(forms)
}

/// The name a stored version points to: the ARN that AWS returned, without its suffix.
pub(crate) fn reference_of(material: &StoredMaterial) -> Option<String> {
    let r = material.backend_ref.as_deref()?;
    Some(match arn_name(r) {
        Some(name) => without_suffix(name).unwrap_or(name).to_owned(),
        None => r.to_owned(),
    })
}

/// The scope that secretstore created `name` for: `PREFIX` + scope path + `/NAME`.
pub(crate) fn owner_scope(prefix: &str, name: &str) -> Option<ScopePath> {
    let rest = name.strip_prefix(prefix)?;
    let (scope, secret) = rest.rsplit_once('/')?;
    // Exactly the shape of what secretstore creates: a secret scope and a secret name.
    let name_shape = secret.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && secret
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !name_shape {
        return None;
    }
    ScopePath::parse_secret_scope(scope).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:secretstore/acme/b/DB_PW-AbC123";

    #[test]
    fn an_arn_and_a_name_compare_the_same() {
        let m = StoredMaterial {
            backend_ref: Some(ARN.into()),
            ..Default::default()
        };
        assert_eq!(reference_of(&m).unwrap(), "secretstore/acme/b/DB_PW");
        assert_eq!(
            link_forms(ARN).unwrap(),
            [
                "secretstore/acme/b/DB_PW-AbC123",
                "secretstore/acme/b/DB_PW"
            ]
        );
        assert_eq!(
            link_forms("secretstore/acme/b/DB_PW").unwrap(),
            ["secretstore/acme/b/DB_PW"]
        );
        // A bare name that merely looks suffixed is its own secret.
        assert_eq!(link_forms("apps/x-abcdef").unwrap(), ["apps/x-abcdef"]);
        let partial = "arn:aws-cn:secretsmanager:cn-north-1:1:secret:apps/db";
        assert_eq!(link_forms(partial).unwrap(), ["apps/db"]);
    }

    #[test]
    fn malformed_references_are_refused_without_echo() {
        for bad in [
            "",
            "arn:aws:s3:::bucket/x",
            "arn:aws:secretsmanager:us-east-1:1:other:x",
            "arn:aws:secretsmanager:us-east-1:1:secret:",
            "a:b",
            "has space",
            "canary-value\n",
        ] {
            let e = link_forms(bad).unwrap_err();
            assert!(!e.to_string().contains("canary"), "{e}");
        }
    }

    #[test]
    fn secretstore_names_belong_to_their_scope() {
        let s = |p: &str| ScopePath::parse(p).unwrap();
        assert_eq!(
            owner_scope("secretstore/", "secretstore/acme/b/DB_PW"),
            Some(s("acme/b"))
        );
        assert_eq!(
            owner_scope("secretstore/", "secretstore/acme/DB"),
            Some(s("acme"))
        );
        assert_eq!(owner_scope("secretstore/", "apps/acme/b/DB"), None);
        assert_eq!(owner_scope("secretstore/", "secretstore/DB"), None);
        assert_eq!(
            owner_scope("secretstore/", "secretstore/Not A Scope/DB"),
            None
        );
        assert_eq!(owner_scope("p", "pacme/b/X"), Some(s("acme/b")));
        // Not the shape of anything secretstore creates: a lowercase name, a project.
        assert_eq!(
            owner_scope("secretstore/", "secretstore/ext/shared/api"),
            None
        );
        assert_eq!(owner_scope("secretstore/", "secretstore/a/b/c/d/DB"), None);
    }
}
