//! Reading secret values: from stdin, a file or an environment variable, never argv.

use crate::error::{CliError, Result};
use secretstore_core::{SecretValue, value::MAX_VALUE_BYTES};
use std::io::{IsTerminal, Read};
use std::path::Path;
use zeroize::Zeroizing;

/// Reads at most a little more than the limit, so an oversized input is reported, not slurped.
fn read_limited(r: impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    r.take(MAX_VALUE_BYTES as u64 + 3).read_to_end(&mut buf)?;
    Ok(buf)
}

/// How far an input past the limit is counted (and thrown away) to report its size; past
/// this, it is reported as at least this large and not read further (`yes | secret set`).
const COUNTED_BYTES: u64 = 64 << 20;

/// The size of an input past the limit, for its error.
struct Oversized {
    /// The bytes counted.
    bytes: u64,
    /// Counting stopped at [`COUNTED_BYTES`]: there may be more.
    at_least: bool,
    /// The last two bytes counted (a trailing newline of stdin is not part of the value).
    last: [u8; 2],
}

impl Oversized {
    /// The error of a value this large: its size (with `strip_newline`, less the one
    /// trailing newline that stdin's value drops) and the limit, never a byte of the value.
    fn error(&self, strip_newline: bool) -> CliError {
        let mut bytes = self.bytes;
        if strip_newline && !self.at_least && self.last[1] == b'\n' {
            bytes -= 1;
            if self.last[0] == b'\r' {
                bytes -= 1;
            }
        }
        let at_least = if self.at_least { "at least " } else { "" };
        CliError::Core(secretstore_core::Error::Invalid(format!(
            "secret value is {at_least}{bytes} bytes; the limit is {MAX_VALUE_BYTES}"
        )))
    }
}

/// Reads a value of at most the limit plus `slack` bytes (a trailing newline that will be
/// dropped); past that, counts the rest without keeping it, so that the error states the
/// input's real size.
fn read_value(
    mut r: impl Read,
    slack: usize,
) -> std::io::Result<Result<Zeroizing<Vec<u8>>, Oversized>> {
    let cap = (MAX_VALUE_BYTES + slack) as u64;
    let mut buf = Zeroizing::new(Vec::new());
    (&mut r).take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 <= cap {
        return Ok(Ok(buf));
    }
    let mut bytes = buf.len() as u64;
    let mut last = [buf[buf.len() - 2], buf[buf.len() - 1]];
    drop(buf);
    let mut chunk = Zeroizing::new(vec![0u8; 64 * 1024]);
    while bytes < COUNTED_BYTES {
        let n = match r.read(&mut chunk) {
            Ok(0) => {
                return Ok(Err(Oversized {
                    bytes,
                    at_least: false,
                    last,
                }));
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes += n as u64;
        last = match n {
            1 => [last[1], chunk[0]],
            _ => [chunk[n - 2], chunk[n - 1]],
        };
    }
    Ok(Err(Oversized {
        bytes,
        at_least: true,
        last,
    }))
}

/// The value of `--from-file`: the bytes exactly.
pub(crate) fn from_file(path: &Path) -> Result<SecretValue> {
    let unreadable = |source: std::io::Error| CliError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(unreadable)?;
    // A regular file says how large it is: no need to read past the limit.
    if let Ok(m) = f.metadata()
        && m.is_file()
        && m.len() > MAX_VALUE_BYTES as u64
    {
        let too_large = Oversized {
            bytes: m.len(),
            at_least: false,
            last: [0, 0],
        };
        return Err(too_large.error(false));
    }
    match read_value(f, 0).map_err(unreadable)? {
        Ok(bytes) => Ok(SecretValue::from_bytes(bytes.to_vec())?),
        Err(too_large) => Err(too_large.error(false)),
    }
}

/// The value of `--from-env VAR`.
pub(crate) fn from_env(var: &str) -> Result<SecretValue> {
    match std::env::var_os(var) {
        None => Err(CliError::EnvVarUnset(var.to_owned())),
        Some(v) => {
            let v = v
                .into_string()
                .map_err(|_| CliError::EnvVarNotUtf8(var.to_owned()))?;
            Ok(SecretValue::new(v)?)
        }
    }
}

/// The value on stdin, with one trailing newline (`\n` or `\r\n`) dropped.
pub(crate) fn from_stdin(name: &str) -> Result<SecretValue> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Enter the value of {name}, then press Ctrl-D on a new line:");
    }
    let mut bytes = match read_value(stdin.lock(), 2).map_err(CliError::ReadStdin)? {
        Ok(bytes) => bytes,
        Err(too_large) => return Err(too_large.error(true)),
    };
    strip_one_newline(&mut bytes);
    Ok(SecretValue::from_bytes(bytes.to_vec())?)
}

/// Reads a token from stdin (for `callback verify`), trimmed of one trailing newline.
pub(crate) fn token_from_stdin() -> Result<Zeroizing<String>> {
    let mut bytes = read_limited(std::io::stdin().lock()).map_err(CliError::ReadStdin)?;
    strip_one_newline(&mut bytes);
    let s = std::str::from_utf8(&bytes).map_err(|_| CliError::TokenNotUtf8)?;
    Ok(Zeroizing::new(s.to_owned()))
}

fn strip_one_newline(bytes: &mut Vec<u8>) {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_newline_only() {
        for (inp, out) in [
            (&b"a\n"[..], &b"a"[..]),
            (b"a\n\n", b"a\n"),
            (b"a\r\n", b"a"),
            (b"a", b"a"),
            (b"\n", b""),
        ] {
            let mut v = inp.to_vec();
            super::strip_one_newline(&mut v);
            assert_eq!(v, out);
        }
    }
}
