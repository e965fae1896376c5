//! Dotenv text: reading a file for `secret import`, literally, and writing one (an env
//! for `dispatch --env-file`) that this reader, `dotenvy` and a POSIX shell read back
//! exactly.
//!
//! Unlike a shell (or dotenvy), nothing is expanded: `$HOME` in a value is the five
//! characters `$HOME`, never the operator's environment — an import must store what the
//! file says. Supported: `NAME=value`, `export NAME=value`, `# comments`, blank lines,
//! single quotes (literal, may span lines), double quotes (may span lines; escapes `\n`,
//! `\r`, `\t`, `\"`, `\\`, `\$`), and unquoted values (up to a ` #` comment, trimmed).
//! Errors never quote the file: they name the entry after which parsing failed.

use crate::value::SecretValue;
use zeroize::Zeroizing;

/// Where parsing failed: after this entry (or at the start).
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The last entry read before the error (`None`: the error is in the first).
    pub after: Option<String>,
}

/// The entries of a dotenv text, in order.
pub fn parse(text: &str) -> Result<Vec<(String, Zeroizing<String>)>, ParseError> {
    let mut out: Vec<(String, Zeroizing<String>)> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let fail = |out: &Vec<(String, Zeroizing<String>)>| ParseError {
        after: out.last().map(|(k, _)| k.clone()),
    };
    let skip_line = |i: &mut usize| {
        while *i < chars.len() && chars[*i] != '\n' {
            *i += 1;
        }
    };
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(out);
        }
        if chars[i] == '#' {
            skip_line(&mut i);
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
        if rest.starts_with("export ") || rest.starts_with("export\t") {
            i += 7;
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '-'))
        {
            i += 1;
        }
        if i == start {
            return Err(fail(&out));
        }
        let key: String = chars[start..i].iter().collect();
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= chars.len() || chars[i] != '=' {
            return Err(fail(&out));
        }
        i += 1;
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        let mut value = Zeroizing::new(String::new());
        match chars.get(i) {
            Some('\'') => {
                // Shell-style: 'it'\''s' is one value (as `dispatch --env-file` writes it).
                loop {
                    i += 1;
                    while i < chars.len() && chars[i] != '\'' {
                        value.push(chars[i]);
                        i += 1;
                    }
                    if i >= chars.len() {
                        return Err(fail(&out));
                    }
                    i += 1;
                    if chars.get(i) == Some(&'\\') && chars.get(i + 1) == Some(&'\'') {
                        value.push('\'');
                        i += 2;
                        if chars.get(i) == Some(&'\'') {
                            continue;
                        }
                    }
                    break;
                }
            }
            Some('"') => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(fail(&out)),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let esc = chars.get(i + 1).copied();
                            match esc {
                                Some('n') => value.push('\n'),
                                Some('r') => value.push('\r'),
                                Some('t') => value.push('\t'),
                                Some(c @ ('"' | '\\' | '$')) => value.push(c),
                                Some(c) => {
                                    value.push('\\');
                                    value.push(c);
                                }
                                None => return Err(fail(&out)),
                            }
                            i += 2;
                        }
                        Some(c) => {
                            value.push(*c);
                            i += 1;
                        }
                    }
                }
            }
            _ => {
                while i < chars.len() && chars[i] != '\n' {
                    if chars[i] == '#' && value.ends_with([' ', '\t']) {
                        break;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                let trimmed = Zeroizing::new(value.trim_end().to_string());
                value = trimmed;
                skip_line(&mut i);
                out.push((key, value));
                continue;
            }
        }
        // After a quoted value: only blanks or a comment until the end of the line.
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t' || chars[i] == '\r') {
            i += 1;
        }
        match chars.get(i) {
            None | Some('\n') => {}
            Some('#') => skip_line(&mut i),
            Some(_) => return Err(fail(&out)),
        }
        out.push((key, value));
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    }

    #[test]
    fn reads_the_usual_forms_literally() {
        let got = kv(
            "# c\n\nA=plain value  # comment\nexport B='single $HOME'\nC=\"d\\nq \\\"x\\\" $HOME \\$ \\\\\"\nD=with#hash\nE=\"multi\nline\"\n  F = spaced\r\n",
        );
        assert_eq!(
            got,
            [
                ("A".into(), "plain value".into()),
                ("B".into(), "single $HOME".into()),
                ("C".into(), "d\nq \"x\" $HOME $ \\".into()),
                ("D".into(), "with#hash".into()),
                ("E".into(), "multi\nline".into()),
                ("F".into(), "spaced".into()),
            ]
        );
    }

    #[test]
    fn reads_what_dispatch_env_file_writes() {
        assert_eq!(kv(r"A='it'\''s'")[0].1, "it's");
        assert_eq!(kv(r"A=''\'''")[0].1, "'");
        assert_eq!(kv(r"A='a'\''b'\''c'")[0].1, "a'b'c");
        for v in ["plain", "it's", "'", "a\nb 'q' $X", "''"] {
            let env = vec![("K".to_string(), SecretValue::new(v.to_string()).unwrap())];
            let text = render(&env);
            assert_eq!(kv(&text)[0].1, v, "round trip of {v:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// What `dispatch --env-file` writes (`envfile::render`), `secret import` reads
        /// back exactly: any names, any values (quotes, `$`, backslashes, newlines, CR,
        /// `#`, `=`, any Unicode), in order.
        #[test]
        fn any_env_the_writer_renders_reads_back_exactly(
            env in proptest::collection::vec(
                ("[A-Z_][A-Z0-9_]{0,12}", "[^\\x00]{1,40}"),
                0..6,
            ),
        ) {
            let values: Vec<(String, SecretValue)> = env
                .iter()
                .map(|(k, v)| (k.clone(), SecretValue::new(v.clone()).unwrap()))
                .collect();
            let text = render(&values);
            proptest::prop_assert_eq!(kv(&text), env);
        }
    }

    #[test]
    fn never_expands_the_environment() {
        assert_eq!(kv("A=$HOME\nB=${PATH}\n")[0].1, "$HOME");
        assert_eq!(kv("A=$HOME\nB=${PATH}\n")[1].1, "${PATH}");
    }

    #[test]
    fn malformed_entries_name_the_entry_before_never_the_text() {
        assert_eq!(
            parse("A=1\nB=\"open\n").unwrap_err().after.as_deref(),
            Some("A")
        );
        assert_eq!(parse("just text\n").unwrap_err().after, None);
        assert_eq!(
            parse("A=1\nB='x' trailing\n").unwrap_err().after.as_deref(),
            Some("A")
        );
        assert!(parse("=value\n").is_err());
        assert_eq!(kv(""), []);
        assert_eq!(kv("EMPTY=\n")[0].1, "");
    }
}
