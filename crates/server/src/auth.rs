//! Authentication: `Authorization: Bearer <api token>` → the caller. Authorization is
//! decided by the service for every operation (`secretstore_core::authz`), so no route can
//! forget it.

use crate::AppState;
use crate::error::ApiError;
use crate::limit::{ClientKey, Failure};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use secretstore_core::Principal;
use std::net::{IpAddr, SocketAddr};

/// The authenticated caller of a request (an API token's account). Handlers bind it by its
/// content, `Caller(who): Caller`: the caller is `who` everywhere (see [`Principal`]).
pub struct Caller(pub Principal);

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Where a request came from: the client's address (see [`client`]).
pub fn source(parts: &Parts, st: &AppState) -> String {
    client(parts, &st.proxies).source
}

/// The client of a request: its address (when known), as audit records show it and as
/// the brute-force limiter counts it.
#[derive(Clone, Debug)]
pub struct Client {
    /// The client's address, when the connection's peer is known.
    pub ip: Option<IpAddr>,
    /// The address as audit records show it (`unknown` without one).
    pub source: String,
    /// What the brute-force limiter counts the client as.
    pub key: ClientKey,
}

/// The one place that decides a request's client address: the peer of the connection;
/// when that peer is a trusted proxy (`SECRETSTORE_TRUSTED_PROXIES`), the rightmost
/// address of `X-Forwarded-For` that is not itself a trusted proxy. Anyone else's
/// `X-Forwarded-For` is ignored.
pub fn client(parts: &Parts, proxies: &Networks) -> Client {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| unmap(c.0.ip()));
    let ip = match peer {
        Some(p) if proxies.contains(p) => Some(forwarded_client(&parts.headers, proxies, p)),
        other => other,
    };
    Client {
        ip,
        source: ip.map_or_else(|| "unknown".into(), |ip| ip.to_string()),
        key: ClientKey::of(ip),
    }
}

/// Walks `X-Forwarded-For` from the right, through trusted proxies: the first address
/// that is not one is the client. A malformed entry stops the walk at the last trusted
/// hop (it cannot vouch for what lies beyond).
fn forwarded_client(headers: &HeaderMap, proxies: &Networks, peer: IpAddr) -> IpAddr {
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else {
            return peer;
        };
        hops.extend(v.split(','));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop.trim()) else {
            break;
        };
        client = ip;
        if !proxies.contains(ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, or an address with a port.
fn parse_hop(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(unmap)
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A list of addresses and networks (CIDR): `SECRETSTORE_TRUSTED_PROXIES` (whose
/// `X-Forwarded-For` is believed) and `SECRETSTORE_METRICS_ALLOW` (who may scrape
/// `/metrics`). Empty: none.
#[derive(Clone, Debug, Default)]
pub struct Networks(Vec<(IpAddr, u8)>);

/// The most entries a list of networks may hold.
pub const MAX_NETWORKS: usize = 256;

impl Networks {
    /// A comma-separated list of addresses (`10.0.0.1`, `::1`) and networks
    /// (`10.0.0.0/8`, `fd00::/8`). The error names the entry's position, not its text.
    pub fn parse(text: &str) -> Result<Networks, String> {
        let mut out = Vec::new();
        if text.trim().is_empty() {
            return Ok(Networks(out));
        }
        for (i, entry) in text.split(',').enumerate() {
            let bad = || {
                format!(
                    "entry {} is not an IP address or network (like 10.0.0.1 or 10.0.0.0/8)",
                    i + 1
                )
            };
            let entry = entry.trim();
            let (addr, len) = match entry.split_once('/') {
                Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
                None => (entry, None),
            };
            let ip = unmap(addr.parse::<IpAddr>().map_err(|_| bad())?);
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = len.unwrap_or(max);
            if len > max {
                return Err(bad());
            }
            out.push((ip, len));
            if out.len() > MAX_NETWORKS {
                return Err(format!("more than {MAX_NETWORKS} entries"));
            }
        }
        Ok(Networks(out))
    }

    /// Whether the list is empty (no proxy trusted: `X-Forwarded-For` is then ignored).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of the addresses or in one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        self.0.iter().any(|&(net, len)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }
}

/// What a failed authentication tried, for its audit record.
#[derive(Clone, Copy, Debug)]
pub enum Credential {
    /// An API token (`Authorization: Bearer`).
    ApiToken,
    /// An API token given to the web UI's sign-in form.
    SessionSignIn,
    /// A brief's callback token.
    CallbackToken,
    /// A sealed brief's boot token.
    BootToken,
}

impl Credential {
    /// The credential's name in audit records (`api_token`, `session_sign_in`, `callback_token`).
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::ApiToken => "api_token",
            Credential::SessionSignIn => "session_sign_in",
            Credential::CallbackToken => "callback_token",
            Credential::BootToken => "boot_token",
        }
    }
}

/// The client of a request, or `Err(Retry-After seconds)` while it is locked out after
/// too many failed authentications. Every authenticating route calls it first.
pub fn admit(parts: &Parts, st: &AppState) -> Result<Client, u64> {
    let c = client(parts, &st.proxies);
    st.limiter.check(c.key)?;
    Ok(c)
}

/// Counts and audits one failed authentication of `client` (never the token). An audit
/// that cannot be written is logged; the answer stays the same.
pub async fn failed(st: &AppState, client: &Client, what: Credential, brief: Option<&str>) {
    st.metrics.auth_failure(what.as_str());
    let lockout = match st.limiter.fail(client.key) {
        Failure::LockedOut => Some(st.limiter.limits().lockout.as_secs()),
        Failure::Counted => None,
    };
    if lockout.is_some() {
        tracing::warn!(
            source = %client.source,
            credential = what.as_str(),
            "too many failed authentications: locked out"
        );
    }
    if let Err(e) = st
        .svc
        .audit_auth_failure(&client.source, what.as_str(), brief, lockout)
        .await
    {
        tracing::error!(error = %e, "cannot audit a failed authentication");
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing Authorization: Bearer <api token>",
            ));
        };
        let client = admit(parts, state).map_err(ApiError::too_many_requests)?;
        match state.svc.authenticate(token, &client.source).await {
            Ok(who) => Ok(Caller(who)),
            Err(e @ secretstore_core::Error::Unauthorized(_)) => {
                failed(state, &client, Credential::ApiToken, None).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The source address of a request, for unauthenticated routes (the callback).
pub struct Source(pub String);

impl FromRequestParts<AppState> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Source(source(parts, st)))
    }
}

/// The client of a request on a route that authenticates by itself (the callback): 429
/// while it is locked out.
impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        admit(parts, st).map_err(ApiError::too_many_requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_match_addresses_and_networks() {
        let p = Networks::parse("127.0.0.1, 10.0.0.0/8, fd00::/8, 0.0.0.0/0").unwrap();
        assert!(p.contains("127.0.0.1".parse().unwrap()));
        assert!(p.contains("::ffff:10.9.9.9".parse().unwrap()));
        assert!(p.contains("fd12::1".parse().unwrap()));
        assert!(!p.contains("fe80::1".parse().unwrap()));
        let q = Networks::parse("10.0.0.0/8").unwrap();
        assert!(!q.contains("11.0.0.1".parse().unwrap()));
        assert!(Networks::parse("  ").unwrap().is_empty());
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let p = Networks::parse("10.0.0.0/8").unwrap();
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "1.1.1.1, 2.2.2.2".parse().unwrap());
        h.append("x-forwarded-for", "10.0.0.5:443".parse().unwrap());
        let peer = "10.0.0.1".parse().unwrap();
        assert_eq!(
            forwarded_client(&h, &p, peer),
            "2.2.2.2".parse::<IpAddr>().unwrap()
        );
        let mut bad = HeaderMap::new();
        bad.append(
            "x-forwarded-for",
            "2.2.2.2, junk, 10.0.0.7".parse().unwrap(),
        );
        assert_eq!(
            forwarded_client(&bad, &p, peer),
            "10.0.0.7".parse::<IpAddr>().unwrap()
        );
    }
}
