//! The domain's messages, worded for the server's readers.
//!
//! The domain says what went wrong; each front end says what to do about it. An API
//! client is pointed at the API's routes, a person in the web UI is told in plain words,
//! and neither is told about a command-line flag or a `secretstore …` command.
//!
//! A few domain messages still carry command-line wording (issue #11: the domain is to
//! say what went wrong in its own words). They are reworded here; on a message that is
//! already neutral every rewrite is a no-op.

/// Who reads a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reader {
    /// A client of the JSON API: hints name the API's routes.
    Api,
    /// A person in the web UI: hints are plain words, without routes.
    Ui,
}

/// `message` as `reader` should read it: without command-line flags or commands.
pub(crate) fn reword(message: &str, reader: Reader) -> String {
    let mut m = message.replace("--category is required", "category is required");
    m = m.replace(
        "(to allow nothing, use --none)",
        "(to allow nothing, give empty lists)",
    );
    m = m.replace(
        " (secretstore org allow-links)",
        match reader {
            Reader::Api => " (PUT /api/v1/orgs/{org}/link-prefixes)",
            Reader::Ui => "",
        },
    );
    create_first(&m, reader)
}

/// The message of a setting that is missing or wrong on the server (a backend that is not
/// configured): the reader cannot fix it, the server's operator can.
pub(crate) fn not_configured(message: &str) -> String {
    format!("{message} (the server's operator must configure it)")
}

/// "unknown team acme/x: create it first with `secretstore team create acme/x`" →
/// "… create it first (PUT /api/v1/teams/acme/x)" for the API, "… create it first" for
/// the UI.
fn create_first(message: &str, reader: Reader) -> String {
    const START: &str = " with `secretstore ";
    let Some(at) = message.find(START) else {
        return message.to_owned();
    };
    let command_start = at + START.len();
    let Some(len) = message[command_start..].find('`') else {
        return message.to_owned();
    };
    let command = &message[command_start..command_start + len];
    let rest = &message[command_start + len + 1..];
    let route = command
        .split_once(" create ")
        .and_then(|(noun, path)| Some((collection(noun)?, path)));
    match (reader, route) {
        (Reader::Api, Some((collection, path))) => {
            format!("{} (PUT /api/v1/{collection}/{path}){rest}", &message[..at])
        }
        _ => format!("{}{rest}", &message[..at]),
    }
}

/// The API's collection for a scope noun of the command line.
fn collection(noun: &str) -> Option<&'static str> {
    Some(match noun {
        "org" => "orgs",
        "team" => "teams",
        "workspace" => "workspaces",
        "project" => "projects",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flag_nor_command_reaches_a_reader() {
        let cases = [
            (
                "DB_URL is a new secret at acme: --category is required (provider, infrastructure, integration or agent)",
                "DB_URL is a new secret at acme: category is required (provider, infrastructure, integration or agent)",
                "DB_URL is a new secret at acme: category is required (provider, infrastructure, integration or agent)",
            ),
            (
                "unknown organization acme: create it first with `secretstore org create acme`",
                "unknown organization acme: create it first (PUT /api/v1/orgs/acme)",
                "unknown organization acme: create it first",
            ),
            (
                "unknown team acme/platform: create it first with `secretstore team create acme/platform`",
                "unknown team acme/platform: create it first (PUT /api/v1/teams/acme/platform)",
                "unknown team acme/platform: create it first",
            ),
            (
                "this reference may not be linked or used at acme/p: only root may link it, or root must allow its prefix for the organization (secretstore org allow-links)",
                "this reference may not be linked or used at acme/p: only root may link it, or root must allow its prefix for the organization (PUT /api/v1/orgs/{org}/link-prefixes)",
                "this reference may not be linked or used at acme/p: only root may link it, or root must allow its prefix for the organization",
            ),
            (
                "a vault link prefix is empty (to allow nothing, use --none)",
                "a vault link prefix is empty (to allow nothing, give empty lists)",
                "a vault link prefix is empty (to allow nothing, give empty lists)",
            ),
        ];
        for (domain, api, ui) in cases {
            assert_eq!(reword(domain, Reader::Api), api);
            assert_eq!(reword(domain, Reader::Ui), ui);
        }
    }

    #[test]
    fn neutral_messages_are_left_alone() {
        for m in [
            "no such secret",
            "DB_URL at acme is now a vault secret; nothing was changed",
            "a `with` that is not a command",
            "odd with `secretstore unterminated",
        ] {
            assert_eq!(reword(m, Reader::Api), m);
            assert_eq!(reword(m, Reader::Ui), m);
        }
    }
}
