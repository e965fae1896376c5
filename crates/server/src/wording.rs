//! The domain's errors, worded for the server's readers.
//!
//! The domain says what went wrong; each front end says what to do about it. An API
//! client is pointed at the API's routes, a person in the web UI is told in plain words,
//! and neither is told about a command-line flag or a `secretstore …` command.

/// Who reads a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reader {
    /// A client of the JSON API: hints name the API's routes.
    Api,
    /// A person in the web UI: hints are plain words, without routes.
    Ui,
}

/// The message of a setting that is missing or wrong on the server (a backend that is not
/// configured): the reader cannot fix it, the server's operator can.
pub(crate) fn not_configured(message: &str) -> String {
    format!("{message} (the server's operator must configure it)")
}

/// A scope created under a parent that does not exist: the API client is pointed at the
/// route that creates it.
pub(crate) fn parent_missing(level: &str, parent: &str, reader: Reader) -> String {
    let collection = match level {
        "organization" => Some("orgs"),
        "team" => Some("teams"),
        "workspace" => Some("workspaces"),
        _ => None,
    };
    match (reader, collection) {
        (Reader::Api, Some(c)) => {
            format!("unknown {level} {parent}: create it first (PUT /api/v1/{c}/{parent})")
        }
        _ => format!("unknown {level} {parent}: create it first"),
    }
}

/// The message of a request that failed because the database cannot be reached (its own
/// words go to the server's log).
pub(crate) const DATABASE_UNAVAILABLE: &str =
    "the database is unavailable; nothing was changed, try again shortly";

/// The message of a dispatch whose brief the brief store could not store (which store and
/// why go to the server's log: its paths and bucket are the operator's business).
pub(crate) const BRIEF_STORE_UNAVAILABLE: &str = concat!(
    "the brief store could not store the brief; ",
    "nothing was dispatched and no token was issued, try again shortly"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flag_nor_command_reaches_a_reader() {
        assert_eq!(
            parent_missing("organization", "acme", Reader::Api),
            "unknown organization acme: create it first (PUT /api/v1/orgs/acme)"
        );
        assert_eq!(
            parent_missing("team", "acme/platform", Reader::Api),
            "unknown team acme/platform: create it first (PUT /api/v1/teams/acme/platform)"
        );
        assert_eq!(
            parent_missing("team", "acme/platform", Reader::Ui),
            "unknown team acme/platform: create it first"
        );
        let e = secretstore_core::Error::CategoryRequired {
            scope: "acme".into(),
            name: "DB_URL".into(),
        };
        assert!(!e.to_string().contains("--"), "{e}");
        assert!(
            !secretstore_core::links::refusal(&"acme/p")
                .to_string()
                .contains("secretstore ")
        );
    }
}
