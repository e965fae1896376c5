//! Secret names: the environment variable a secret becomes.
//!
//! A name is `[A-Z_][A-Z0-9_]{0,127}`, not starting with `SECRETSTORE_` (reserved), and not
//! one of the **unsafe environment names**: variables that change how a program starts —
//! which loader, libraries, modules, start-up files, options or helper commands it uses —
//! rather than carrying data. A secret becomes a variable in an agent's environment (and in
//! the child of `secretstore run`, on the operator's host), so whoever may write a secret
//! named `BASH_ENV` or `LD_PRELOAD` could run code of their choice in every process that
//! receives it. Those names are refused for new secrets and every write ([`SecretName::parse`]);
//! secrets stored under such a name before the rule existed can still be listed, read and
//! deleted ([`SecretName::parse_existing`]), are reported by `secretstore doctor`, and are
//! refused at dispatch.
//!
//! The list starts from sudo's `initial_badenv_table` (plugins/sudoers/env.c), which sudo
//! removes from every environment it passes on, and glibc's `UNSECURE_ENVVARS`
//! (sysdeps/generic/unsecvars.h), which the dynamic loader drops for set-uid programs, and
//! adds the interpreters, runtimes and tools an agent is likely to start (Node, Java, Python,
//! Ruby, Perl, Git, OpenSSL, npm) and the variables that name a command to run (`EDITOR`,
//! `PAGER`, `*_ASKPASS`…). The criterion: the value is code, options, a command, or a search
//! path for code or start-up files. Variables that only carry data or select a target
//! (`AWS_*`, `DATABASE_URL`, CA bundles, `KUBECONFIG`) are allowed: a task may need them.

use crate::error::{Error, Result};
use std::fmt;

/// The prefix reserved for variables that secretstore itself sets.
pub const RESERVED_PREFIX: &str = "SECRETSTORE_";

/// How many characters of an input that failed validation an error may quote: enough to
/// recognise a typo, too few to carry a secret that was pasted into the wrong field (the
/// error reaches a response, a terminal and the request log).
pub const ECHO_LIMIT: usize = 8;

/// At most [`ECHO_LIMIT`] characters of an input that failed validation, then `…`,
/// quoted; control characters are shown as `?`.
pub fn short_echo(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars
        .by_ref()
        .take(ECHO_LIMIT)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if chars.next().is_some() {
        format!("\"{head}…\"")
    } else {
        format!("\"{head}\"")
    }
}

/// Exact names refused as secret names, each with what it changes.
pub const UNSAFE_ENV_NAMES: &[(&str, &str)] = &[
    // sudo's initial_badenv_table
    (
        "IFS",
        "shells: the field separator used to split every command",
    ),
    ("CDPATH", "shells: where cd looks for directories"),
    ("LOCALDOMAIN", "resolver: the DNS search domains"),
    ("RES_OPTIONS", "resolver: resolver options"),
    ("HOSTALIASES", "resolver: a file of host name aliases"),
    ("NLSPATH", "libc: where message catalogs are loaded from"),
    ("PATH_LOCALE", "libc (BSD): where locales are loaded from"),
    ("SHLIB_PATH", "HP-UX loader: the library search path"),
    ("LIBPATH", "AIX loader: the library search path"),
    ("AUTHSTATE", "AIX: the authentication method"),
    ("KRB5_KTNAME", "Kerberos: the keytab file"),
    ("VAR_ACE", "SecurID: the configuration folder"),
    ("USR_ACE", "SecurID: the configuration folder"),
    ("DLC_ACE", "SecurID: the configuration folder"),
    ("TERMINFO", "curses: the terminfo folder"),
    ("TERMINFO_DIRS", "curses: the terminfo folders"),
    ("TERMPATH", "termcap: the termcap files"),
    ("TERMCAP", "termcap: the terminal description or its file"),
    (
        "ENV",
        "sh, ksh: a file every shell runs at start (its value is expanded)",
    ),
    (
        "BASH_ENV",
        "bash: a file every script runs at start (its value is expanded)",
    ),
    ("PS4", "bash: the xtrace prefix (its value is expanded)"),
    ("GLOBIGNORE", "bash: the patterns globbing ignores"),
    ("BASHOPTS", "bash: the shopt options at start"),
    ("SHELLOPTS", "bash: the set -o options at start"),
    (
        "JAVA_TOOL_OPTIONS",
        "Java: options every JVM starts with (-javaagent)",
    ),
    ("PERLIO_DEBUG", "Perl: a debugging output file"),
    ("PERLLIB", "Perl: the module search path"),
    ("PERL5LIB", "Perl: the module search path"),
    (
        "PERL5OPT",
        "Perl: options every perl starts with (-M loads a module)",
    ),
    ("PERL5DB", "Perl: the debugger command"),
    ("FPATH", "ksh, zsh: the function search path"),
    ("NULLCMD", "zsh: the command run for a null redirection"),
    ("READNULLCMD", "zsh: the command run for a null redirection"),
    ("ZDOTDIR", "zsh: the folder of its start-up files"),
    ("TMPPREFIX", "zsh: the prefix of temporary files"),
    ("PYTHONHOME", "Python: the standard library's location"),
    ("PYTHONPATH", "Python: the module search path"),
    (
        "PYTHONINSPECT",
        "Python: enter interactive mode after the script",
    ),
    ("PYTHONUSERBASE", "Python: the user site-packages folder"),
    ("RUBYLIB", "Ruby: the library search path"),
    (
        "RUBYOPT",
        "Ruby: options every ruby starts with (-r loads a library)",
    ),
    // glibc's UNSECURE_ENVVARS (the LD_ names are covered by the LD_ prefix)
    (
        "GCONV_PATH",
        "glibc: where iconv modules (shared libraries) are loaded from",
    ),
    ("GETCONF_DIR", "glibc: getconf's helper folder"),
    ("GLIBC_TUNABLES", "glibc: allocator and loader tunables"),
    ("LOCPATH", "glibc: where locales are loaded from"),
    ("NIS_PATH", "glibc: the NIS+ search path"),
    (
        "RESOLV_HOST_CONF",
        "glibc: the resolver's host configuration file",
    ),
    (
        "TMPDIR",
        "libc and most tools: where temporary files are made",
    ),
    ("TZDIR", "glibc: where time zone files are loaded from"),
    // Program search and start-up files
    ("PATH", "every shell and exec*p: where commands are found"),
    (
        "HOME",
        "every program: where its start-up and configuration files are read",
    ),
    (
        "XDG_CONFIG_HOME",
        "many programs (git, …): where configuration files are read",
    ),
    ("SHELL", "many programs: the shell they start for commands"),
    ("PROMPT_COMMAND", "bash: a command run before every prompt"),
    ("PS0", "bash: expanded before every command"),
    ("PS1", "shells: the prompt (its value is expanded)"),
    (
        "PS2",
        "shells: the continuation prompt (its value is expanded)",
    ),
    ("PS3", "shells: the select prompt (its value is expanded)"),
    ("HISTFILE", "shells: the file the history is written to"),
    ("INPUTRC", "readline: its start-up file"),
    // Interpreters and runtimes
    (
        "NODE_OPTIONS",
        "Node.js: options every node starts with (--require loads code)",
    ),
    ("NODE_PATH", "Node.js: the module search path"),
    (
        "NODE_REPL_EXTERNAL_MODULE",
        "Node.js: a module loaded instead of the REPL",
    ),
    ("_JAVA_OPTIONS", "Java: options every JVM starts with"),
    (
        "JDK_JAVA_OPTIONS",
        "Java: options the java launcher starts with",
    ),
    ("JAVA_HOME", "Java tools: which JVM is started"),
    ("CLASSPATH", "Java: where classes are loaded from"),
    ("PYTHONSTARTUP", "Python: a file run at interactive start"),
    (
        "PYTHONWARNINGS",
        "Python: warning filters (a category imports a module)",
    ),
    ("PYTHONBREAKPOINT", "Python: the callable breakpoint() runs"),
    ("PYTHONEXECUTABLE", "Python (macOS): the interpreter's path"),
    ("PYTHONPLATLIBDIR", "Python: the platform library folder"),
    ("GEM_HOME", "Ruby: where gems are loaded from"),
    ("GEM_PATH", "Ruby: where gems are loaded from"),
    ("PERL5SHELL", "Perl (Windows): the shell for system()"),
    // Git: commands it runs and configuration it reads
    ("GIT_SSH", "git: the ssh command it runs"),
    ("GIT_SSH_COMMAND", "git: the ssh command line it runs"),
    ("GIT_EXEC_PATH", "git: where its sub-commands are found"),
    ("GIT_CONFIG", "git: an extra configuration file"),
    ("GIT_ASKPASS", "git: the command it runs for a password"),
    ("GIT_EDITOR", "git: the editor command it runs"),
    (
        "GIT_SEQUENCE_EDITOR",
        "git: the editor command of rebase -i",
    ),
    ("GIT_PAGER", "git: the pager command it runs"),
    ("GIT_PROXY_COMMAND", "git: the proxy command it runs"),
    ("GIT_EXTERNAL_DIFF", "git: the diff command it runs"),
    (
        "GIT_TEMPLATE_DIR",
        "git: the templates (hooks) new repositories get",
    ),
    (
        "GIT_DIR",
        "git: which repository (with its hooks and configuration) is used",
    ),
    // Commands that programs start on their own
    ("EDITOR", "many programs: the editor command they run"),
    ("VISUAL", "many programs: the editor command they run"),
    ("PAGER", "many programs: the pager command they run"),
    ("MANPAGER", "man: the pager command it runs"),
    ("BROWSER", "many programs: the browser command they run"),
    ("SSH_ASKPASS", "ssh: the command it runs for a passphrase"),
    ("SUDO_ASKPASS", "sudo: the command it runs for a password"),
    // Libraries loaded through configuration
    (
        "OPENSSL_CONF",
        "OpenSSL: its configuration file (which can load engines)",
    ),
    (
        "OPENSSL_ENGINES",
        "OpenSSL: where engines (shared libraries) are loaded from",
    ),
    (
        "OPENSSL_MODULES",
        "OpenSSL: where providers (shared libraries) are loaded from",
    ),
    (
        "SSLKEYLOGFILE",
        "TLS libraries: a file every session key is written to",
    ),
];

/// Name prefixes refused as secret names, each with what it changes.
pub const UNSAFE_ENV_PREFIXES: &[(&str, &str)] = &[
    (
        "LD_",
        "the dynamic loader (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, …)",
    ),
    ("_RLD", "the IRIX dynamic loader"),
    ("LDR_", "the AIX dynamic loader"),
    (
        "DYLD_",
        "the macOS dynamic loader (DYLD_INSERT_LIBRARIES, …)",
    ),
    (
        "BASH_FUNC_",
        "bash: functions imported from the environment",
    ),
    ("KRB5_CONFIG", "Kerberos: its configuration files"),
    ("MALLOC_", "glibc's allocator (MALLOC_TRACE writes a file)"),
    (
        "GIT_CONFIG_",
        "git: configuration given in the environment (GIT_CONFIG_COUNT, …)",
    ),
    (
        "NPM_CONFIG_",
        "npm: any setting, including the shell that runs scripts",
    ),
];

/// Why a name is refused as an unsafe environment name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsafeRule {
    /// The name is on [`UNSAFE_ENV_NAMES`].
    Name(&'static str, &'static str),
    /// The name starts with one of [`UNSAFE_ENV_PREFIXES`].
    Prefix(&'static str, &'static str),
}

impl fmt::Display for UnsafeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnsafeRule::Name(n, why) => write!(
                f,
                "{n} is an unsafe environment name [{why}], refused as a secret name; see \"Refused names\" in the README"
            ),
            UnsafeRule::Prefix(p, why) => write!(
                f,
                "names starting with {p} are unsafe environment names [{why}], refused as secret names; see \"Refused names\" in the README"
            ),
        }
    }
}

/// The rule that makes `name` an unsafe environment name, if one does.
pub fn unsafe_env_rule(name: &str) -> Option<UnsafeRule> {
    if let Some((n, why)) = UNSAFE_ENV_NAMES.iter().find(|(n, _)| *n == name) {
        return Some(UnsafeRule::Name(n, why));
    }
    UNSAFE_ENV_PREFIXES
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map(|(p, why)| UnsafeRule::Prefix(p, why))
}

/// A validated secret name: `[A-Z_][A-Z0-9_]{0,127}`, not starting with `SECRETSTORE_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName(String);

impl SecretName {
    /// Parses and validates a name for a new secret, a write or a task ref: the shape, the
    /// reserved prefix, and the unsafe environment names ([`unsafe_env_rule`]).
    pub fn parse(s: &str) -> Result<Self> {
        let name = Self::parse_existing(s)?;
        match unsafe_env_rule(name.as_str()) {
            Some(rule) => Err(Error::Invalid(format!("refused secret name: {rule}"))),
            None => Ok(name),
        }
    }

    /// Parses a name that may already be stored: the shape and the reserved prefix only,
    /// so that a secret stored under an unsafe environment name before that rule existed
    /// can still be read, listed and deleted.
    pub fn parse_existing(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        let shape_ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_uppercase() || b[0] == b'_')
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
        if !shape_ok {
            let hint = if s.bytes().any(|c| c.is_ascii_lowercase()) {
                " (names are upper case, like environment variables)"
            } else {
                ""
            };
            return Err(Error::Invalid(format!(
                "invalid secret name {}: must match [A-Z_][A-Z0-9_]{{0,127}}{hint}",
                short_echo(s)
            )));
        }
        if s.starts_with(RESERVED_PREFIX) {
            return Err(Error::Invalid(format!(
                "invalid secret name {}: the prefix {RESERVED_PREFIX} is reserved",
                short_echo(s)
            )));
        }
        Ok(SecretName(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule that would refuse this name today, for a name stored before it existed.
    pub fn unsafe_rule(&self) -> Option<UnsafeRule> {
        unsafe_env_rule(&self.0)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_env_names() {
        for ok in [
            "A",
            "_",
            "DB_URL",
            "OPENAI_API_KEY",
            "X1",
            "AWS_ACCESS_KEY_ID",
            "GIT_TOKEN",
            "PATHS",
            "MY_PATH",
            "NODE_ENV",
            "FERNET_SECRET_KEY",
            &"A".repeat(128),
        ] {
            assert!(SecretName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "db_url",
            "1ABC",
            "A-B",
            "A B",
            "SECRETSTORE_X",
            "SECRETSTORE_",
            "Ä",
            &"A".repeat(129),
        ] {
            assert!(SecretName::parse(bad).is_err(), "{bad:?}");
            assert!(SecretName::parse_existing(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lower_case_gets_a_hint() {
        let e = SecretName::parse("db_url").unwrap_err().to_string();
        assert!(e.contains("upper case"), "{e}");
    }

    #[test]
    fn unsafe_environment_names_are_refused_naming_the_rule() {
        for (bad, rule) in [
            ("BASH_ENV", "BASH_ENV is an unsafe environment name"),
            ("LD_PRELOAD", "names starting with LD_"),
            ("LD_LIBRARY_PATH", "names starting with LD_"),
            ("DYLD_INSERT_LIBRARIES", "names starting with DYLD_"),
            ("PATH", "PATH is an unsafe"),
            ("NODE_OPTIONS", "NODE_OPTIONS is an unsafe"),
            ("JAVA_TOOL_OPTIONS", "JAVA_TOOL_OPTIONS is an unsafe"),
            ("GIT_SSH_COMMAND", "GIT_SSH_COMMAND is an unsafe"),
            ("GIT_CONFIG_COUNT", "names starting with GIT_CONFIG_"),
            ("IFS", "IFS is"),
            ("PYTHONPATH", "PYTHONPATH is"),
            ("PERL5OPT", "PERL5OPT is"),
        ] {
            let e = SecretName::parse(bad).unwrap_err().to_string();
            assert!(e.contains(rule), "{bad}: {e}");
            assert!(e.contains("Refused names"), "{bad}: {e}");
            // Still a name that may already be stored: readable and deletable.
            let n = SecretName::parse_existing(bad).unwrap();
            assert!(n.unsafe_rule().is_some());
        }
    }

    #[test]
    fn every_listed_name_has_the_shape_of_a_name_and_a_reason() {
        for (n, why) in UNSAFE_ENV_NAMES.iter().chain(UNSAFE_ENV_PREFIXES) {
            assert!(SecretName::parse_existing(n).is_ok(), "{n}");
            assert!(SecretName::parse(n).is_err(), "{n}");
            assert!(!why.is_empty(), "{n}");
        }
    }

    #[test]
    fn invalid_names_are_echoed_only_as_a_short_prefix() {
        let pasted = "sk-live-0123456789abcdefghijklmnopqrstuvwxyz";
        let e = SecretName::parse(pasted).unwrap_err().to_string();
        assert!(e.contains("\"sk-live-…\""), "{e}");
        assert!(!e.contains("0123456789"), "{e}");
        let e = SecretName::parse("SECRETSTORE_CALLBACK_TOKEN_XYZ")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("CALLBACK"), "{e}");
        assert_eq!(short_echo("a\nb"), "\"a?b\"");
        assert_eq!(short_echo("12345678"), "\"12345678\"");
        assert_eq!(short_echo("123456789"), "\"12345678…\"");
        assert_eq!(short_echo("ééééééééé"), "\"éééééééé…\"");
    }
}
