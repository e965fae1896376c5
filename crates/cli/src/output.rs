//! Printing for people (aligned tables, role lists) and for scripts (JSON), and the
//! zeroizing of JSON documents that held values.

use crate::error::{CliError, Result};
use secretstore_core::Role;

/// `println!` that returns a failed write to stdout (a closed pipe, a full disk) as
/// [`CliError::WriteStdout`] instead of panicking: `secretstore audit | head -1` ends
/// quietly.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::error::CliError::WriteStdout)
    }};
}
pub(crate) use outln;

/// `print!` that returns a failed write to stdout as [`CliError::WriteStdout`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*).map_err($crate::error::CliError::WriteStdout)
    }};
}
pub(crate) use out;

/// An account's roles, comma-separated, or `(no roles)`.
pub(crate) fn roles_text(roles: &[Role]) -> String {
    if roles.is_empty() {
        "(no roles)".into()
    } else {
        roles
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A number of seconds as the shortest of `d`, `h`, `m`, `s` that shows it exactly
/// (`90d`, `36h`, `45s`), as durations are written on the command line.
pub(crate) fn duration_text(secs: i64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs != 0 && secs % n == 0 {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// An age, rounded down to its largest unit: `95d`, `3h`, `12m`, `40s`.
pub(crate) fn age_text(secs: i64) -> String {
    let secs = secs.max(0);
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= n {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// Pretty-printed JSON, as `--json` prints it.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(CliError::Json)
}

/// One-line JSON.
pub(crate) fn to_json_line<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(CliError::JsonLine)
}

/// Prints a table: the header, then one line per row, each column as wide as its widest
/// cell (the last one unpadded), two spaces apart, trailing blanks trimmed.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        outln!("{}", s.trim_end())
    };
    line(header.to_vec())?;
    for r in rows {
        line(r.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

/// Overwrites the strings of a JSON document before it is dropped.
pub(crate) fn zeroize_json(v: serde_json::Value) {
    use zeroize::Zeroize;
    if let serde_json::Value::Object(map) = v {
        for (_, x) in map {
            match x {
                serde_json::Value::String(mut s) => s.zeroize(),
                other => zeroize_json(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ages() {
        assert_eq!(duration_text(90 * 86_400), "90d");
        assert_eq!(duration_text(36 * 3600), "36h");
        assert_eq!(duration_text(90), "90s");
        assert_eq!(duration_text(120), "2m");
        assert_eq!(age_text(95 * 86_400 + 7), "95d");
        assert_eq!(age_text(3 * 3600 + 59), "3h");
        assert_eq!(age_text(-5), "0s");
    }
}
