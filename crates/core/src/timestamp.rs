//! Timestamps: [`OffsetDateTime`] in UTC, to the second, in every record of the domain;
//! compared as times. One text format, `2026-11-29T14:00:00Z` (RFC 3339, UTC, no
//! fraction: fixed width, so it also sorts as text), for the database, every JSON answer
//! and every line the command line prints: [`format()`] writes it, [`parse`] reads it, and
//! [`rfc3339`] (with [`rfc3339::option`]) is the `serde(with = …)` module of record fields.
//!
//! ```
//! use secretstore_core::timestamp;
//!
//! let t = timestamp::parse("2026-11-29T14:00:00Z").unwrap();
//! assert_eq!(timestamp::format(t), "2026-11-29T14:00:00Z");
//! assert!(t < timestamp::parse("2026-11-29T14:00:01Z").unwrap());
//! ```

use crate::error::{Error, Result};
pub use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::{datetime, format_description};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// The first second the format holds (year 1).
const FIRST: OffsetDateTime = datetime!(0001-01-01 00:00:00 UTC);
/// The last second the format holds (year 9999).
const LAST: OffsetDateTime = datetime!(9999-12-31 23:59:59 UTC);

/// Now, in UTC, to the second (what the format keeps: a time read back compares equal to
/// the one written).
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// Now plus `secs` seconds. Never panics: a time past what the format holds is the last
/// second of year 9999 (before year 1: its first second).
pub fn in_secs(secs: i64) -> OffsetDateTime {
    match now().checked_add(time::Duration::seconds(secs)) {
        Some(t) => t.clamp(FIRST, LAST),
        None if secs > 0 => LAST,
        None => FIRST,
    }
}

/// A time in the one text format, `2026-11-29T14:00:00Z` (converted to UTC; the fraction
/// of a second dropped; outside years 1 to 9999, the nearest end of that range).
pub fn format(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .clamp(FIRST, LAST)
        .replace_nanosecond(0)
        .unwrap_or(FIRST);
    t.format(FORMAT)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Reads a time in the one text format (nothing else: no fraction, no other offset).
pub fn parse(s: &str) -> Result<OffsetDateTime> {
    if let Some(t) = parse_fixed(s.as_bytes()) {
        return Ok(t);
    }
    time::PrimitiveDateTime::parse(s, FORMAT)
        .map(|t| t.assume_utc())
        .map_err(|_| {
            Error::Invalid(format!(
                "invalid timestamp {}: expected a UTC time like 2026-11-29T14:00:00Z",
                crate::name::short_echo(s)
            ))
        })
}

/// `90`, `90s`, `15m`, `24h`, `7d` → seconds (positive). A number too large for the
/// type reads as `i64::MAX` (so that it is reported as out of bounds, not unreadable).
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1),
        (i, 'm') => (&s[..i], 60),
        (i, 'h') => (&s[..i], 3600),
        (i, 'd') => (&s[..i], 86_400),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = num.parse().unwrap_or(i64::MAX);
    (n > 0).then(|| n.saturating_mul(mult))
}

/// The one format read by position (`YYYY-MM-DDTHH:MM:SSZ`, 20 bytes): every row of a
/// dispatch's candidates holds two of these, and the general parser costs ten times as
/// much. `None` for anything else (the general parser then decides, and words the
/// error); the date and time are still checked by `time` (no 31 April, no 24:00).
fn parse_fixed(b: &[u8]) -> Option<OffsetDateTime> {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        b'Z',
    ] = *b
    else {
        return None;
    };
    let digit = |c: u8| c.is_ascii_digit().then(|| c - b'0');
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let year = i32::from(two(y0, y1)?) * 100 + i32::from(two(y2, y3)?);
    let month = time::Month::try_from(two(mo0, mo1)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, two(d0, d1)?).ok()?;
    let time = time::Time::from_hms(two(h0, h1)?, two(mi0, mi1)?, two(s0, s1)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

/// `serde(with = "crate::timestamp::rfc3339")`: a field serialized in the one text format.
pub mod rfc3339 {
    use super::OffsetDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the time as text.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*t))
    }

    /// Reads the time from text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).map_err(serde::de::Error::custom)
    }

    /// The same for an `Option` field (`null` for `None`).
    pub mod option {
        use super::super::OffsetDateTime;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes the time as text, or `null`.
        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::format(*t)),
                None => s.serialize_none(),
            }
        }

        /// Reads the time from text, or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| super::super::parse(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_secs_never_overflows() {
        assert_eq!(format(in_secs(i64::MAX)), "9999-12-31T23:59:59Z");
        assert_eq!(format(in_secs(i64::MIN)), "0001-01-01T00:00:00Z");
        assert!(in_secs(3600) > now());
        assert!(format(in_secs(3600)) > format(now()));
    }

    #[test]
    fn the_format_round_trips_and_is_the_only_one_read() {
        let s = "2026-11-29T14:00:00Z";
        assert_eq!(format(parse(s).unwrap()), s);
        assert_eq!(format(now()).len(), s.len());
        let t = now();
        assert_eq!(parse(&format(t)).unwrap(), t);
        for bad in [
            "2026-11-29T14:00:00.5Z",
            "2026-11-29T14:00:00+01:00",
            "2026-11-29",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// The read by position agrees with the general parser: what it reads, the general
    /// parser reads the same; what the general parser refuses, `parse` refuses.
    #[test]
    fn the_fixed_read_agrees_with_the_format() {
        for s in [
            "2026-11-29T14:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T23:59:59Z",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-29T24:00:00Z",
            "2026-11-29T14:60:00Z",
            "2026-11-29T14:00:60Z",
            "2026-11-29t14:00:00Z",
            "2026-11-29T14:00:00z",
            "2026-1a-29T14:00:00Z",
            "+026-11-29T14:00:00Z",
            "2026-11-29T14:00:0\u{e9}",
        ] {
            let general = time::PrimitiveDateTime::parse(s, FORMAT)
                .map(|t| t.assume_utc())
                .ok();
            assert_eq!(parse_fixed(s.as_bytes()), general, "{s}");
            assert_eq!(parse(s).ok(), general, "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fixed_read_agrees_with_the_format_on_any_text(s in "[0-9T:Z-]{20}") {
            let general = time::PrimitiveDateTime::parse(&s, FORMAT)
                .map(|t| t.assume_utc())
                .ok();
            let fixed = parse_fixed(s.as_bytes());
            proptest::prop_assert!(fixed.is_none() || fixed == general, "{}", s);
            proptest::prop_assert_eq!(parse(&s).ok(), general);
        }
    }

    #[test]
    fn serde_writes_the_same_text() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct R {
            #[serde(with = "rfc3339")]
            at: OffsetDateTime,
            #[serde(with = "rfc3339::option")]
            done: Option<OffsetDateTime>,
        }
        let r = R {
            at: parse("2026-11-29T14:00:00Z").unwrap(),
            done: None,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"at":"2026-11-29T14:00:00Z","done":null}"#);
        assert_eq!(serde_json::from_str::<R>(&json).unwrap(), r);
    }
}
