//! `doctor` for Vault: is the token valid, is the mount a KV v2 mount the token may use,
//! and may the token write where new secrets go. Each failure names what to fix.

use crate::http::{Client, secret_body};
use crate::reference;
use crate::wire::{CapsReply, MountReply};
use hyper::{Method, StatusCode};
use secretstore_core::BackendError;
use zeroize::Zeroizing;

/// Checks the token, the mount and the token's capabilities under `mount/secretstore/`;
/// the `Ok` line says what was found (the policies, the capabilities, a missing one as a
/// hint, since a deployment that only links needs no write access).
pub(crate) async fn check(
    client: &Client,
    mount: &str,
    namespace: Option<&str>,
) -> Result<String, BackendError> {
    let addr = client.addr();
    let what = format!("Vault at {addr}");

    // The login (when none was made yet) and what the token is: never the token itself.
    let status = client.session.status(client).await.map_err(|e| match e {
        BackendError::Refused(m) => BackendError::Refused(format!(
            "{what}: the token is not valid (unknown, expired or revoked), or its policies deny auth/token/lookup-self: {m}"
        )),
        e => e,
    })?;
    let policies = status.policies.clone();

    let mount_path = format!(
        "/v1/sys/internal/ui/mounts/{}",
        reference::encode_path(mount)
    );
    let reply = client.send(Method::GET, &mount_path, None, &what).await?;
    match reply.status {
        s if s.is_success() => {}
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
            return Err(BackendError::NotFound(format!(
                "{what}: token valid, but there is no mount {mount}/ that the token may use (VAULT_KV_MOUNT)"
            )));
        }
        _ => return Err(reply.error(&what)),
    }
    let info: MountReply = reply.json(&what)?;
    let info = info.data.unwrap_or_default();
    if info.path.trim_end_matches('/') != mount {
        return Err(BackendError::NotFound(format!(
            "{what}: {mount}/ is not a mount (it lies inside the mount {})",
            info.path
        )));
    }
    let version = info.options.and_then(|o| o.version).unwrap_or_default();
    if info.kind != "kv" || version != "2" {
        let found = match (info.kind.as_str(), version.as_str()) {
            ("kv", "") => "kv version 1".to_owned(),
            ("kv", v) => format!("kv version {v}"),
            (k, _) => k.to_owned(),
        };
        return Err(BackendError::NotFound(format!(
            "{what}: mount {mount}/ is {found}, not KV version 2"
        )));
    }

    // What the token may do where new secrets go (a hint, not a failure: a deployment
    // that only links existing secrets needs no write access).
    let probe = format!("{mount}/data/secretstore/doctor-check");
    let body = serde_json::to_vec(&serde_json::json!({ "paths": [probe] }))
        .map(|b| secret_body(Zeroizing::new(b)))
        .map_err(|_| BackendError::Unavailable(format!("{what}: could not build a request")))?;
    let caps = match client
        .send(
            Method::POST,
            "/v1/sys/capabilities-self",
            Some(("application/json", body)),
            &what,
        )
        .await
    {
        Ok(reply) if reply.status.is_success() => reply
            .json::<CapsReply>(&what)
            .ok()
            .and_then(|c| c.data)
            .map(|d| d.capabilities),
        _ => None,
    };
    let caps = match caps {
        None => String::new(),
        Some(c) if c.iter().any(|c| c == "root") => {
            format!(", all capabilities under {mount}/secretstore/ (root)")
        }
        Some(c) => {
            let missing: Vec<&str> = ["read", "create", "update", "patch"]
                .into_iter()
                .filter(|need| !c.iter().any(|have| have == need))
                .collect();
            if missing.is_empty() {
                format!(", can read and write under {mount}/secretstore/")
            } else {
                format!(
                    ", under {mount}/secretstore/ the token lacks {} (needed to write new secrets)",
                    missing.join(", ")
                )
            }
        }
    };
    let ns = match namespace {
        Some(ns) => format!(" (namespace {ns})"),
        None => String::new(),
    };
    let policies = if policies.is_empty() {
        String::new()
    } else {
        format!(", policies: {}", policies.join(", "))
    };
    let ttl = match status.ttl {
        None => "does not expire".to_owned(),
        Some(t) => format!(
            "expires in {}{}",
            crate::http::describe(std::time::Duration::from_secs(t.as_secs())),
            if status.renewable {
                ", renewable"
            } else {
                ", not renewable"
            }
        ),
    };
    Ok(format!(
        "Vault at {addr}{ns}: login {}, token valid ({ttl}{policies}), mount {mount}/ (kv v2){caps}",
        status.method
    ))
}
