//! Writing an env as a dotenv file that `dotenvy` and a POSIX shell read back exactly.

use secretstore_core::SecretValue;
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

/// Quotes a value for a dotenv file the way a POSIX shell reads it too: single quotes,
/// each `'` written as `'\''`. Inside single quotes nothing is special (no `$` expansion,
/// no command substitution, newlines kept), so the file is safe to `source` as well.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The dotenv text of an env.
pub fn render(env: &[(String, SecretValue)]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::new());
    for (k, v) in env {
        let q = Zeroizing::new(quote(v.expose_secret()));
        text.push_str(k);
        text.push('=');
        text.push_str(&q);
        text.push('\n');
    }
    text
}

/// Writes the env to `path` with mode 0600 (also when the file already existed).
pub fn write(path: &Path, env: &[(String, SecretValue)]) -> std::io::Result<()> {
    let text = render(env);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_dotenvy() {
        let values = [
            "plain",
            "with space and \"quotes\" and 'single'",
            "-----BEGIN KEY-----\nline2\nline3\n-----END KEY-----\n",
            "dollar $HOME ${PATH} \\ backslash \\n literal",
            "tab\tü€😀",
            "=leading equals#hash",
            "it's `date` $(id) 'quoted'",
            "crlf\r\nline",
            "'",
        ];
        let env: Vec<(String, SecretValue)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("K{i}"), SecretValue::new(v.to_string()).unwrap()))
            .collect();
        let text = render(&env);
        let parsed: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parsed.len(), values.len());
        for (i, (k, v)) in parsed.iter().enumerate() {
            assert_eq!(k, &format!("K{i}"));
            assert_eq!(v, values[i]);
        }
    }
}
