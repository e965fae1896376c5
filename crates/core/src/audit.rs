//! Questions to the audit log: which records ([`AuditFilter`]), newest first, a page at a
//! time ([`AuditPage`], continued by an [`AuditCursor`]).
//!
//! The log is ordered by time, then by record id (many records share a second). A cursor
//! is the position of one record in that order, `SECONDS.ID` (`1795000000.1234`): the
//! next page holds the records after it, in either direction. It is not secret and not
//! signed — it only says where to go on — and every page is filtered by what the caller
//! may read, whatever the cursor says.

use crate::error::{Error, Result};
use crate::model::AuditEntry;
use crate::name::short_echo;
use crate::timestamp::{self, OffsetDateTime};
use std::fmt;

/// The most records one page holds (and the default of the API and the command line).
pub const MAX_PAGE: i64 = 1000;

/// The longest actor or action a filter may name (no stored one is longer).
const MAX_FILTER_LEN: usize = 256;

/// Which audit records, and which page of them. Every filter given must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only records at or under this scope.
    pub scope: Option<String>,
    /// Only records about a secret of this name.
    pub name: Option<String>,
    /// Only records by this actor (`alice`, `cli:ops`, `anonymous`).
    pub actor: Option<String>,
    /// Only records of this action (`secret.reveal`), or of every action under a prefix
    /// that ends with a dot (`secret.`).
    pub action: Option<String>,
    /// Only records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only records at or before this time.
    pub until: Option<OffsetDateTime>,
    /// Where the page starts.
    pub from: PageFrom,
    /// At most this many records (at least 1; more than [`MAX_PAGE`] reads as it).
    pub limit: i64,
}

impl Default for AuditFilter {
    fn default() -> Self {
        AuditFilter {
            scope: None,
            name: None,
            actor: None,
            action: None,
            since: None,
            until: None,
            from: PageFrom::Newest,
            limit: MAX_PAGE,
        }
    }
}

impl AuditFilter {
    /// Checks what a caller wrote: a limit of at least one (at most a page), filters of a sane length, a time
    /// range that is not upside down. An empty filter is refused: leaving it out matches everything.
    pub fn checked(mut self) -> Result<Self> {
        if self.limit < 1 {
            return Err(Error::Invalid(format!(
                "limit must be at least 1, not {}",
                self.limit
            )));
        }
        // More than a page asks for as much as there is, a page at a time.
        self.limit = self.limit.min(MAX_PAGE);
        for (what, v) in [
            ("scope", &mut self.scope),
            ("name", &mut self.name),
            ("actor", &mut self.actor),
            ("action", &mut self.action),
        ] {
            if v.as_deref().is_some_and(str::is_empty) {
                return Err(Error::Invalid(format!(
                    "the {what} filter is empty; leave it out to match every {what}"
                )));
            }
            if let Some(s) = v
                && s.len() > MAX_FILTER_LEN
            {
                return Err(Error::Invalid(format!(
                    "the {what} filter is {} bytes; at most {MAX_FILTER_LEN}",
                    s.len()
                )));
            }
        }
        if let (Some(s), Some(u)) = (self.since, self.until)
            && s > u
        {
            return Err(Error::Invalid(format!(
                "since ({}) is after until ({})",
                timestamp::format(s),
                timestamp::format(u)
            )));
        }
        Ok(self)
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageFrom {
    /// The newest records.
    #[default]
    Newest,
    /// The records older than this one (the next page).
    Before(AuditCursor),
    /// The records newer than this one (the previous page).
    After(AuditCursor),
}

/// The position of one record in the log's order (time, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    /// The record's time.
    pub at: OffsetDateTime,
    /// The record's id.
    pub id: i64,
}

impl AuditCursor {
    /// The position of a record read back from the log (which has an id).
    pub fn of(e: &AuditEntry) -> Option<Self> {
        e.id.map(|id| AuditCursor { at: e.at, id })
    }

    /// Reads `SECONDS.ID`, as [`Display`](fmt::Display) writes it.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || bad_cursor(s);
        let (secs, id) = s.split_once('.').ok_or_else(bad)?;
        let digits =
            |t: &str| !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(secs) || !digits(id) {
            return Err(bad());
        }
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        let at = OffsetDateTime::from_unix_timestamp(secs).map_err(|_| bad())?;
        Ok(AuditCursor { at, id })
    }
}

impl fmt::Display for AuditCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.at.unix_timestamp(), self.id)
    }
}

impl PageFrom {
    /// Reads a page's `next_cursor` or `prev_cursor` as [`AuditPage::next_cursor`] and
    /// [`AuditPage::prev_cursor`] write them: `o` (older than) or `n` (newer than), then
    /// the position.
    pub fn parse_cursor(s: &str) -> Result<Self> {
        match s.split_at_checked(1) {
            Some(("o", c)) => Ok(PageFrom::Before(
                AuditCursor::parse(c).map_err(|_| bad_cursor(s))?,
            )),
            Some(("n", c)) => Ok(PageFrom::After(
                AuditCursor::parse(c).map_err(|_| bad_cursor(s))?,
            )),
            _ => Err(bad_cursor(s)),
        }
    }
}

fn bad_cursor(s: &str) -> Error {
    Error::Invalid(format!(
        "invalid cursor {}: pass on the next_cursor or prev_cursor of a page as it is",
        short_echo(s)
    ))
}

/// One page of the log, newest first, with where the pages beside it start.
pub type AuditPage = Page<AuditEntry>;

/// One page of records in the log's order, newest first, with where the pages beside it
/// start.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The records, newest first.
    pub records: Vec<T>,
    /// Where the next (older) page starts, if there are older records.
    pub older: Option<AuditCursor>,
    /// Where the previous (newer) page starts, if this is not the newest page.
    pub newer: Option<AuditCursor>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            records: Vec::new(),
            older: None,
            newer: None,
        }
    }
}

impl<T> Page<T> {
    /// The cursor of the next (older) page, if there is one.
    pub fn next_cursor(&self) -> Option<String> {
        self.older.map(|c| format!("o{c}"))
    }

    /// The cursor of the previous (newer) page, if there is one.
    pub fn prev_cursor(&self) -> Option<String> {
        self.newer.map(|c| format!("n{c}"))
    }
}

/// Reads a time bound of a filter: a time in the one format (`2026-11-29T14:00:00Z`), a
/// day (`2026-11-29`, its first second), or an age (`90s`, `15m`, `24h`, `7d`: that long
/// before now).
pub fn parse_time_bound(s: &str) -> Result<OffsetDateTime> {
    let s = s.trim();
    if let Some(secs) = timestamp::parse_duration(s) {
        return Ok(timestamp::in_secs(secs.saturating_neg()));
    }
    if s.len() == 10 {
        return timestamp::parse(&format!("{s}T00:00:00Z"));
    }
    timestamp::parse(s).map_err(|_| {
        Error::Invalid(format!(
            "invalid time {}: expected 2026-11-29T14:00:00Z, 2026-11-29, or an age like 15m, 24h or 7d",
            short_echo(s)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn time_bounds_in_each_spelling() {
        assert_eq!(
            timestamp::format(parse_time_bound("2026-11-29").unwrap()),
            "2026-11-29T00:00:00Z"
        );
        assert_eq!(
            timestamp::format(parse_time_bound("2026-11-29T14:00:05Z").unwrap()),
            "2026-11-29T14:00:05Z"
        );
        let hour_ago = parse_time_bound("1h").unwrap();
        let drift = (timestamp::now() - hour_ago).whole_seconds() - 3600;
        assert!((0..=2).contains(&drift), "{drift}");
        for bad in [
            "",
            "yesterday",
            "-1h",
            "0",
            "2026-13-01",
            "2026-11-29T14:00:00+01:00",
        ] {
            let e = parse_time_bound(bad).unwrap_err().to_string();
            assert!(e.contains("invalid time"), "{bad}: {e}");
        }
    }

    #[test]
    fn filters_out_of_range_are_refused() {
        let f = |limit| {
            AuditFilter {
                limit,
                ..Default::default()
            }
            .checked()
        };
        assert!(f(0).is_err());
        assert!(f(-1).is_err());
        assert_eq!(f(MAX_PAGE + 1).unwrap().limit, MAX_PAGE);
        assert!(f(1).is_ok());
        let t = |s| Some(parse_time_bound(s).unwrap());
        let upside_down = AuditFilter {
            since: t("2026-11-30"),
            until: t("2026-11-29"),
            ..Default::default()
        };
        assert!(
            upside_down
                .checked()
                .unwrap_err()
                .to_string()
                .contains("after until")
        );
        let empty = AuditFilter {
            name: Some(String::new()),
            ..Default::default()
        };
        assert!(
            empty
                .checked()
                .unwrap_err()
                .to_string()
                .contains("name filter is empty")
        );
        let long = AuditFilter {
            actor: Some("a".repeat(257)),
            ..Default::default()
        };
        assert!(long.checked().is_err());
    }

    #[test]
    fn cursors_refused_in_any_other_spelling() {
        for bad in [
            "",
            ".",
            "1.",
            ".1",
            "1",
            "a.1",
            "1.-1",
            "+1.1",
            "1.1.1",
            "99999999999999999999.1",
        ] {
            assert!(AuditCursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_cursors_name_their_direction() {
        let c = AuditCursor {
            at: OffsetDateTime::from_unix_timestamp(7).unwrap(),
            id: 3,
        };
        let page = AuditPage {
            records: Vec::new(),
            older: Some(c),
            newer: Some(c),
        };
        assert_eq!(page.next_cursor().unwrap(), "o7.3");
        assert_eq!(PageFrom::parse_cursor("o7.3").unwrap(), PageFrom::Before(c));
        assert_eq!(
            PageFrom::parse_cursor(&page.prev_cursor().unwrap()).unwrap(),
            PageFrom::After(c)
        );
        for bad in ["7.3", "x7.3", "o", "n7", "é7.3"] {
            assert!(PageFrom::parse_cursor(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// A cursor reads back as it was written.
        #[test]
        fn cursors_round_trip(secs in 0i64..253_402_300_799, id in 0i64..i64::MAX) {
            let c = AuditCursor { at: OffsetDateTime::from_unix_timestamp(secs).unwrap(), id };
            prop_assert_eq!(AuditCursor::parse(&c.to_string()).unwrap(), c);
        }
    }
}
