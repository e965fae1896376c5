//! Brute-force protection: failed authentications are counted per client, in memory, per
//! server process.
//!
//! - A client is an IPv4 address, or the /64 network of an IPv6 address (one host usually
//!   holds a whole /64). An IPv4-mapped IPv6 address is its IPv4 address.
//! - Past [`Limits::failures`] failed authentications (wrong API token, wrong token at the
//!   web UI's sign-in, wrong callback token) within one minute, the client is locked out for
//!   [`Limits::lockout`]: every authenticated route answers 429 with `Retry-After`, even
//!   with a correct token.
//! - The table holds at most [`Limits::capacity`] clients. When it is full, entries that no
//!   longer matter are dropped, then the one that would expire first,
//!   a merely counted client before a locked-out one: an attacker with many
//!   addresses cannot grow memory without bound (it can only make its own counters forget).
//! - The success path (every authenticated request) takes one atomic load when no client
//!   has failed recently, and a shared read lock otherwise; expired entries are swept out
//!   once a minute, at the next failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The window in which failures are counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The default number of failures per minute before a lockout.
pub const FAILURES_PER_MINUTE: u32 = 10;
/// The default length of a lockout.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// The default number of clients tracked at once.
pub const CAPACITY: usize = 65_536;

/// The limiter's numbers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Failures per minute that are answered normally; the next attempt gets 429.
    pub failures: u32,
    /// How long a locked-out client gets 429.
    pub lockout: Duration,
    /// The most clients tracked at once.
    pub capacity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            failures: FAILURES_PER_MINUTE,
            lockout: LOCKOUT,
            capacity: CAPACITY,
        }
    }
}

/// Who is counted: an IPv4 address, an IPv6 /64, or "unknown" (no peer address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An IPv4 address (an IPv4-mapped IPv6 address counts as its IPv4 one).
    V4(u32),
    /// The /64 network of an IPv6 address (one host usually holds a whole /64).
    V6Net(u64),
    /// No peer address: every such request shares one count.
    Unknown,
}

impl ClientKey {
    /// The key that counts the client at `ip`.
    pub fn of(ip: Option<IpAddr>) -> ClientKey {
        match ip {
            None => ClientKey::Unknown,
            Some(IpAddr::V4(v4)) => ClientKey::V4(u32::from(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(u32::from(v4)),
                None => ClientKey::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

impl Entry {
    /// When this entry stops mattering.
    fn expires(&self) -> Instant {
        let window_end = self.window_start + WINDOW;
        match self.locked_until {
            Some(l) if l > window_end => l,
            _ => window_end,
        }
    }
}

/// The clients, and when expired entries were last swept out.
struct Table {
    map: HashMap<ClientKey, Entry>,
    swept: Instant,
}

/// What a failure did.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// Counted; the client may try again.
    Counted,
    /// This failure used up the allowance: the client is now locked out.
    LockedOut,
}

/// The per-process limiter.
pub struct Limiter {
    limits: Limits,
    entries: RwLock<Table>,
    /// The number of entries, for the lock-free fast path.
    len: AtomicUsize,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(Limits::default())
    }
}

impl Limiter {
    /// A limiter with these limits (each raised to at least 1, and a lockout of at least 1 s).
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits: Limits {
                failures: limits.failures.max(1),
                lockout: limits.lockout.max(Duration::from_secs(1)),
                capacity: limits.capacity.max(1),
            },
            entries: RwLock::new(Table {
                map: HashMap::new(),
                swept: Instant::now(),
            }),
            len: AtomicUsize::new(0),
        }
    }

    /// The limits in force (after [`Limiter::new`] raised them to their minimums).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// `Err(seconds)` while `key` is locked out: the `Retry-After` to answer.
    pub fn check(&self, key: ClientKey) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: ClientKey, now: Instant) -> Result<(), u64> {
        if self.len.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.map.get(&key).and_then(|e| e.locked_until) {
            Some(until) if until > now => {
                let left = until - now;
                Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failed authentication of `key`.
    pub fn fail(&self, key: ClientKey) -> Failure {
        self.fail_at(key, Instant::now())
    }

    fn fail_at(&self, key: ClientKey, now: Instant) -> Failure {
        let mut table = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Once a minute, forget what no longer matters (so that the success path is back to
        // one atomic load once an attack is over).
        if now >= table.swept + WINDOW {
            table.map.retain(|_, e| e.expires() > now);
            table.swept = now;
        }
        let entries = &mut table.map;
        if !entries.contains_key(&key) && entries.len() >= self.limits.capacity {
            entries.retain(|_, e| e.expires() > now);
            if entries.len() >= self.limits.capacity
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| (e.locked_until.is_some_and(|l| l > now), e.expires()))
                    .map(|(k, _)| *k)
            {
                entries.remove(&oldest);
            }
        }
        let e = entries.entry(key).or_insert(Entry {
            window_start: now,
            failures: 0,
            locked_until: None,
        });
        if now >= e.window_start + WINDOW && e.locked_until.is_none_or(|l| l <= now) {
            *e = Entry {
                window_start: now,
                failures: 0,
                locked_until: None,
            };
        }
        e.failures = e.failures.saturating_add(1);
        let out = if e.failures >= self.limits.failures && e.locked_until.is_none_or(|l| l <= now) {
            e.locked_until = Some(now + self.limits.lockout);
            // A new lockout starts a new count.
            e.window_start = now;
            e.failures = 0;
            Failure::LockedOut
        } else {
            Failure::Counted
        };
        self.len.store(entries.len(), Ordering::Relaxed);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> ClientKey {
        ClientKey::of(Some(s.parse().unwrap()))
    }

    fn small(n: u32) -> Limiter {
        Limiter::new(Limits {
            failures: n,
            lockout: Duration::from_secs(60),
            capacity: 4,
        })
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_and_mapped_ipv4_by_its_address() {
        assert_eq!(ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff::9"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_eq!(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
        assert_ne!(ip("192.0.2.1"), ip("192.0.2.2"));
    }

    #[test]
    fn the_nth_failure_locks_out_for_the_lockout_then_it_ends() {
        let l = small(3);
        let t0 = Instant::now();
        let k = ip("192.0.2.1");
        assert_eq!(l.fail_at(k, t0), Failure::Counted);
        assert_eq!(l.fail_at(k, t0), Failure::Counted);
        assert_eq!(l.check_at(k, t0), Ok(()));
        assert_eq!(l.fail_at(k, t0), Failure::LockedOut);
        assert_eq!(l.check_at(k, t0), Err(60));
        assert_eq!(l.check_at(k, t0 + Duration::from_millis(30_500)), Err(30));
        assert_eq!(l.check_at(ip("192.0.2.2"), t0), Ok(()));
        // Failures during the lockout do not lengthen it nor audit a second lockout.
        assert_eq!(l.fail_at(k, t0 + Duration::from_secs(1)), Failure::Counted);
        assert_eq!(l.check_at(k, t0 + Duration::from_secs(60)), Ok(()));
        // Long after, the next failure sweeps the expired entry out.
        l.fail_at(ip("192.0.2.3"), t0 + Duration::from_secs(200));
        assert_eq!(l.len.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn failures_older_than_a_minute_are_forgotten() {
        let l = small(3);
        let t0 = Instant::now();
        let k = ip("192.0.2.1");
        l.fail_at(k, t0);
        l.fail_at(k, t0);
        assert_eq!(l.fail_at(k, t0 + WINDOW), Failure::Counted);
        assert_eq!(l.check_at(k, t0 + WINDOW), Ok(()));
    }

    #[test]
    fn many_addresses_never_grow_the_table_past_its_capacity() {
        let l = small(3);
        let t0 = Instant::now();
        for i in 0..1000u32 {
            l.fail_at(ClientKey::V4(i), t0 + Duration::from_millis(i.into()));
            assert!(l.entries.read().unwrap().map.len() <= 4);
        }
        // A locked-out client survives eviction by newer, merely counted ones first.
        let k = ip("198.51.100.1");
        for _ in 0..3 {
            l.fail_at(k, t0 + Duration::from_secs(2));
        }
        assert!(l.check_at(k, t0 + Duration::from_secs(2)).is_err());
        for i in 0..3u32 {
            l.fail_at(ClientKey::V4(5000 + i), t0 + Duration::from_secs(3));
        }
        assert!(l.check_at(k, t0 + Duration::from_secs(3)).is_err());
    }
}
