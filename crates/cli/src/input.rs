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

/// The value of `--from-file`: the bytes exactly.
pub(crate) fn from_file(path: &Path) -> Result<SecretValue> {
    let unreadable = |source: std::io::Error| CliError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(unreadable)?;
    let bytes = read_limited(f).map_err(unreadable)?;
    Ok(SecretValue::from_bytes(bytes.to_vec())?)
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
    let mut bytes = read_limited(stdin.lock()).map_err(CliError::ReadStdin)?;
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
