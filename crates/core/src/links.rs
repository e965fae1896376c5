//! Which backend references a link may point to (SPEC §7: nobody reaches, through
//! secretstore, a value outside their organization's allowed prefixes).
//!
//! The rule, decided in one place ([`crate::Service`]'s `authorize_reference`):
//!
//! - root may link (and use a link to) any reference;
//! - a reference that secretstore itself created for a scope (`AWS_SM_PREFIX` followed by
//!   `SCOPE/NAME` in AWS; `MOUNT/secretstore/SCOPE/NAME` in Vault's configured mount) is
//!   usable at that same scope, and at no other scope unless root made the link;
//! - any other reference is usable when root made the link (the approval is recorded with
//!   the secret), or when one of the prefixes that root allowed for the organization of the
//!   secret's scope covers it: checked again at every use, against the current list.
//!
//! References and prefixes are compared in a normal form that the backends produce: the AWS
//! secret *name* (an ARN and a bare name of one secret compare the same; account and region
//! are not part of it), and Vault's `MOUNT/PATH#FIELD`. A prefix covers a reference on
//! `/`-separated segment boundaries only: `secret/apps/a` covers `secret/apps/a` and
//! `secret/apps/a/db#password`, never `secret/apps/ab`.

use crate::error::{Error, Result};
use crate::model::BackendKind;
use serde::{Deserialize, Serialize};

/// The longest prefix accepted, in bytes.
const MAX_PREFIX_BYTES: usize = 512;
/// The most prefixes per backend and organization.
pub const MAX_PREFIXES: usize = 100;

/// What root allowed an organization to link, per backend. Normalised and sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPrefixes {
    /// The prefixes of AWS Secrets Manager ARNs the organization's members may link.
    pub aws_prefixes: Vec<String>,
    /// The prefixes of Vault paths (`mount/path`) the organization's members may link.
    pub vault_prefixes: Vec<String>,
}

impl LinkPrefixes {
    /// Checks and normalises prefixes as a caller wrote them (duplicates removed).
    pub fn parse(aws: &[String], vault: &[String]) -> Result<LinkPrefixes> {
        let list = |kind: BackendKind, raw: &[String]| -> Result<Vec<String>> {
            if raw.len() > MAX_PREFIXES {
                return Err(Error::Invalid(format!(
                    "at most {MAX_PREFIXES} {kind} link prefixes per organization"
                )));
            }
            let mut out = raw
                .iter()
                .map(|p| normalise_prefix(kind, p))
                .collect::<Result<Vec<_>>>()?;
            out.sort();
            out.dedup();
            Ok(out)
        };
        Ok(LinkPrefixes {
            aws_prefixes: list(BackendKind::AwsSm, aws)?,
            vault_prefixes: list(BackendKind::Vault, vault)?,
        })
    }

    /// The prefixes of one backend.
    pub fn of(&self, kind: BackendKind) -> &[String] {
        match kind {
            BackendKind::AwsSm => &self.aws_prefixes,
            BackendKind::Vault => &self.vault_prefixes,
            BackendKind::Local => &[],
        }
    }

    /// True when nothing may be linked by members.
    pub fn is_empty(&self) -> bool {
        self.aws_prefixes.is_empty() && self.vault_prefixes.is_empty()
    }

    /// Whether one of the prefixes of `kind` covers the normalised `reference`.
    pub fn allows(&self, kind: BackendKind, reference: &str) -> bool {
        self.of(kind).iter().any(|p| covers(p, reference))
    }
}

/// Checks a prefix and returns it in the form it is compared in. The error never repeats
/// the prefix (it may be a pasted value).
///
/// AWS: a secret-name prefix (`A-Z a-z 0-9 / _ + = . @ -`), never an ARN: the account and
/// region are those of the server's AWS identity. Vault: `MOUNT[/PATH]` without `#FIELD`,
/// no empty, `.` or `..` segment. A trailing `/` is dropped: the match is on segments.
pub fn normalise_prefix(kind: BackendKind, prefix: &str) -> Result<String> {
    let bad = |why: &str| Err(Error::Invalid(format!("a {kind} link prefix {why}")));
    let p = prefix.strip_suffix('/').unwrap_or(prefix);
    if p.is_empty() {
        return bad("is empty (to allow nothing, give no prefixes)");
    }
    if p.ends_with('/') {
        return bad("ends in more than one / (the match is on segments: give PREFIX or PREFIX/)");
    }
    if p.len() > MAX_PREFIX_BYTES {
        return bad(&format!("is longer than {MAX_PREFIX_BYTES} bytes"));
    }
    match kind {
        BackendKind::AwsSm => {
            if p.starts_with("arn:") || p.contains(':') {
                return bad(
                    "is a secret name prefix, not an ARN (the account and region are the server's)",
                );
            }
            if !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
            {
                return bad("may hold only A-Z a-z 0-9 / _ + = . @ -");
            }
        }
        BackendKind::Vault => {
            if p.contains('#') {
                return bad("is MOUNT/PATH, without #FIELD");
            }
            if p.chars().any(char::is_control) {
                return bad("contains a control character");
            }
            if p.split('/').any(|s| matches!(s, "" | "." | "..")) {
                return bad("has an empty, . or .. segment");
            }
        }
        BackendKind::Local => return bad("makes no sense: local values are never linked"),
    }
    Ok(p.to_owned())
}

/// Whether `prefix` (normalised) covers `reference` (normalised): equal, or followed by `/`,
/// on the part before `#FIELD`.
pub fn covers(prefix: &str, reference: &str) -> bool {
    let location = reference.split_once('#').map_or(reference, |(l, _)| l);
    match location.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Why a link is refused, for every caller alike: it names nothing of the reference (no
/// hint whether it exists, or whose it is).
pub fn refusal(scope: &impl std::fmt::Display) -> Error {
    Error::Forbidden(format!(
        "this reference may not be linked or used at {scope}: only root may link it, or root must allow its prefix for the organization"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_on_segments() {
        assert!(covers("secret/apps/a", "secret/apps/a#f"));
        assert!(covers("secret/apps/a", "secret/apps/a/db#password"));
        assert!(!covers("secret/apps/a", "secret/apps/ab#f"));
        assert!(!covers("secret/apps/a", "secret/apps#f"));
        assert!(covers("secret/apps/a", "secret/apps/a#f/x"));
        assert!(covers("team/x", "team/x/DB"));
        assert!(!covers("team/x", "team/x-y/DB"));
        assert!(!covers("team/x", "team"));
    }

    /// Found by fuzzing (fuzz/fuzz_targets/names.rs): `//` was normalised to `/`, a prefix
    /// that normalising refuses, and `apps//` to `apps/`, a prefix that covers no `apps/x`.
    #[test]
    fn an_aws_prefix_ending_in_two_slashes_was_normalised_to_one_normalising_refuses() {
        for bad in ["//", "apps//", "apps///"] {
            assert!(
                normalise_prefix(BackendKind::AwsSm, bad).is_err(),
                "{bad:?} gave {:?}",
                normalise_prefix(BackendKind::AwsSm, bad)
            );
        }
        let p = normalise_prefix(BackendKind::AwsSm, "apps/").unwrap();
        assert_eq!(normalise_prefix(BackendKind::AwsSm, &p).unwrap(), p);
    }

    #[test]
    fn prefixes_are_checked_and_normalised() {
        let p = LinkPrefixes::parse(
            &["apps/".into(), "apps".into(), "b".into()],
            &["secret/apps/".into()],
        )
        .unwrap();
        assert_eq!(p.aws_prefixes, ["apps", "b"]);
        assert_eq!(p.vault_prefixes, ["secret/apps"]);
        assert!(p.allows(BackendKind::AwsSm, "apps/x"));
        assert!(!p.allows(BackendKind::Vault, "apps/x#f"));
        assert!(!p.allows(BackendKind::Local, "apps"));
        for bad in [
            "",
            "/",
            "arn:aws:secretsmanager:us-east-1:1:secret:x",
            "a b",
            "a:b",
        ] {
            assert!(
                normalise_prefix(BackendKind::AwsSm, bad).is_err(),
                "{bad:?}"
            );
        }
        for bad in [
            "",
            "secret//a",
            "secret/../a",
            "secret/./a",
            "/secret",
            "secret/a#f",
            "a\nb",
        ] {
            assert!(
                normalise_prefix(BackendKind::Vault, bad).is_err(),
                "{bad:?}"
            );
        }
        let e = normalise_prefix(BackendKind::AwsSm, "canary value 99").unwrap_err();
        assert!(!e.to_string().contains("canary"), "{e}");
    }

    #[test]
    fn the_refusal_names_nothing_of_the_reference() {
        let e = refusal(&"acme/a");
        assert!(matches!(e, Error::Forbidden(_)));
        assert!(!e.to_string().contains("secretstore/"));
    }
}
