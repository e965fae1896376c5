//! Leak detection (issue #17): one matcher for every value handed out, in every encoding an
//! agent's output may carry it in — exactly, base64 (standard and URL-safe, padded or not,
//! at every alignment), hex (either case), URL-encoded and JSON-escaped, and each line of a
//! multi-line value — compiled into one Aho-Corasick automaton, so that a scan is linear in
//! the size of its input whatever the number of values.
//!
//! The automaton holds the values: it lives in memory only, is dropped after use, and its
//! `Debug` shows counts, never a pattern. A finding names the value by its index among
//! those given, the encoding and the offset: never the value.
//!
//! ```
//! use secretstore_core::leaks::{Encoding, Matcher};
//! use secretstore_core::SecretValue;
//!
//! let v = SecretValue::new("sk-live-0123456789".into()).unwrap();
//! let m = Matcher::new([&v]);
//! let found = m.find(b"log: c2stbGl2ZS0wMTIzNDU2Nzg5 done");
//! assert_eq!(found[0].encoding, Encoding::Base64);
//! assert_eq!(found[0].value, 0);
//! assert!(!format!("{m:?}").contains("sk-live"));
//! ```

use crate::value::SecretValue;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use zeroize::Zeroizing;

/// Values (and lines of values) shorter than this are not searched: too short to mean
/// anything, they would match by chance.
pub const MIN_VALUE_BYTES: usize = 8;

/// The shortest encoded pattern searched (a base64 alignment's stable part of a short line
/// may be shorter; it is then left out, the other forms still searched).
const MIN_PATTERN_BYTES: usize = 8;

/// How a value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// The value's bytes as they are.
    Exact,
    /// Standard base64 (`+/`), padded or not, at any alignment.
    Base64,
    /// URL-safe base64 (`-_`), padded or not, at any alignment (where both alphabets give
    /// the same text, a finding names the standard one).
    Base64Url,
    /// Lower-case hex.
    Hex,
    /// Upper-case hex.
    HexUpper,
    /// Percent-encoded (every byte outside the unreserved set, in either case of hex).
    UrlEncoded,
    /// Escaped as in a JSON string.
    JsonEscaped,
}

impl Encoding {
    /// The name shown in findings.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Exact => "exact",
            Encoding::Base64 => "base64",
            Encoding::Base64Url => "base64url",
            Encoding::Hex => "hex",
            Encoding::HexUpper => "hex_upper",
            Encoding::UrlEncoded => "url_encoded",
            Encoding::JsonEscaped => "json_escaped",
        }
    }
}

/// One place where a value was found. Never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// The index of the value among those the matcher was made of.
    pub value: usize,
    /// How it was encoded there.
    pub encoding: Encoding,
    /// The byte offset in the input where the match starts.
    pub offset: usize,
    /// True when one line of a multi-line value matched (not the whole value).
    pub line: bool,
}

/// What one pattern of the automaton stands for.
#[derive(Clone, Copy)]
struct Pattern {
    value: usize,
    encoding: Encoding,
    line: bool,
}

/// Every value in every encoding, in one automaton.
pub struct Matcher {
    automaton: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
    values: usize,
    skipped: usize,
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("values", &self.values)
            .field("patterns", &self.patterns.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl Matcher {
    /// Compiles `values` (each with every line of a multi-line one) in every encoding.
    /// Values shorter than [`MIN_VALUE_BYTES`] are skipped and counted.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a SecretValue>) -> Matcher {
        let mut texts: Vec<Vec<u8>> = Vec::new();
        let mut patterns = Vec::new();
        let mut seen: BTreeSet<(Vec<u8>, usize)> = BTreeSet::new();
        let mut count = 0;
        let mut skipped = 0;
        for (i, v) in values.into_iter().enumerate() {
            count += 1;
            let bytes = v.expose_secret().as_bytes();
            if bytes.len() < MIN_VALUE_BYTES {
                skipped += 1;
                continue;
            }
            for (part, line) in parts(bytes) {
                for (encoding, form) in forms(part) {
                    if form.len() < MIN_PATTERN_BYTES {
                        continue;
                    }
                    // One pattern per distinct form of a value (an ASCII value's JSON
                    // escape is itself, its URL encoding often too).
                    if seen.insert((form.clone(), i)) {
                        texts.push(form);
                        patterns.push(Pattern {
                            value: i,
                            encoding,
                            line,
                        });
                    }
                }
            }
        }
        let automaton = if texts.is_empty() {
            None
        } else {
            #[allow(
                clippy::expect_used,
                reason = "the patterns are bounded (values of at most 64 KiB, in a few forms each): far below the automaton's size limits"
            )]
            // The default kind (a contiguous NFA here: a DFA is only chosen for a few
            // patterns). Measured with secretstore-bench --quick --only leaks (10,000 values,
            // 95,764 patterns, 10 MB of log lines, 2 loaded cores; ±15 % between runs):
            // default 77–87 MB/s, 2.4–3.0 s to build, 60 MiB; a DFA 99 MB/s but 10.7 s and
            // 2,463 MiB; a noncontiguous NFA 36 MB/s, 156 MiB; byte classes off 83–94 MB/s
            // (no better); no prefilter 66 MB/s (none helps at this many patterns anyway);
            // dense_depth 0: 40 MB/s, 6: 76 MB/s with 146 MiB. So the default is kept.
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(&texts)
                .expect("an automaton of the values");
            Some(ac)
        };
        // `texts` (the values in clear) is dropped here; only the automaton keeps them.
        drop(texts);
        Matcher {
            automaton,
            patterns,
            values: count,
            skipped,
        }
    }

    /// How many values were too short to be searched.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Every place in `input` where a value appears in one of its forms, by offset; one
    /// finding per value, encoding and offset (whole values before their lines).
    pub fn find(&self, input: &[u8]) -> Vec<Finding> {
        let Some(ac) = &self.automaton else {
            return Vec::new();
        };
        let mut out: BTreeSet<Finding> = BTreeSet::new();
        for m in ac.find_overlapping_iter(input) {
            let p = self.patterns[m.pattern().as_usize()];
            out.insert(Finding {
                value: p.value,
                encoding: p.encoding,
                offset: m.start(),
                line: p.line,
            });
        }
        let mut found: Vec<Finding> = out.into_iter().collect();
        // A whole value found at an offset makes a line of it found there redundant.
        let wholes: BTreeSet<(usize, usize)> = found
            .iter()
            .filter(|f| !f.line)
            .map(|f| (f.value, f.offset))
            .collect();
        found.retain(|f| !f.line || !wholes.contains(&(f.value, f.offset)));
        found.sort_by_key(|f| (f.offset, f.value, f.encoding));
        found
    }
}

/// The encoded forms of one value to mask in a command's output (issue #17: `run` and
/// `boot` mask them as well as the exact bytes): every form [`Matcher`] searches for but the
/// exact one, of the value and of each line of a multi-line value, each once — hex in
/// either case, the stable inner part of its base64 and base64url at each of three
/// alignments (so at most two characters at each end of an encoded value stay), URL-encoded
/// in either case, JSON-escaped. Nothing for a value (or line) shorter than
/// [`MIN_VALUE_BYTES`], and no form shorter than that either.
///
/// ```
/// let forms = secretstore_core::leaks::encoded_forms(b"sk-live-0123456789");
/// assert!(forms.iter().any(|f| f.as_slice() == b"736b2d6c6976652d30313233343536373839"));
/// assert!(forms.iter().any(|f| f.as_slice() == b"c2stbGl2ZS0wMTIzNDU2Nzg5"));
/// assert!(!forms.iter().any(|f| f.as_slice() == b"sk-live-0123456789"));
/// assert!(secretstore_core::leaks::encoded_forms(b"1234567").is_empty());
/// ```
pub fn encoded_forms(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    if value.len() < MIN_VALUE_BYTES {
        return out;
    }
    for (part, _) in parts(value) {
        for (encoding, form) in forms(part) {
            let form = Zeroizing::new(form);
            if encoding != Encoding::Exact
                && form.len() >= MIN_PATTERN_BYTES
                && form.as_slice() != value
                && !out.contains(&form)
            {
                out.push(form);
            }
        }
    }
    out
}

/// A value (at least [`MIN_VALUE_BYTES`] long) and, for a multi-line one, each of its lines
/// (without a trailing `\r`) at least that long: `true` marks a line.
fn parts(bytes: &[u8]) -> Vec<(&[u8], bool)> {
    let mut parts: Vec<(&[u8], bool)> = vec![(bytes, false)];
    if bytes.contains(&b'\n') {
        for line in bytes.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() >= MIN_VALUE_BYTES && line != bytes {
                parts.push((line, true));
            }
        }
    }
    parts
}

/// The forms of one value (or line) to search for.
fn forms(v: &[u8]) -> Vec<(Encoding, Vec<u8>)> {
    let mut out = vec![(Encoding::Exact, v.to_vec())];
    out.push((Encoding::Hex, hex::encode(v).into_bytes()));
    out.push((Encoding::HexUpper, hex::encode_upper(v).into_bytes()));
    for (encoding, engine) in [
        (
            Encoding::Base64,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
        ),
        (
            Encoding::Base64Url,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        for k in 0..3 {
            out.push((encoding, base64_inner(engine, v, k)));
        }
    }
    let url = percent_encode(v, b"0123456789ABCDEF");
    if url != v {
        out.push((Encoding::UrlEncoded, url));
        out.push((Encoding::UrlEncoded, percent_encode(v, b"0123456789abcdef")));
    }
    if let Ok(json) = std::str::from_utf8(v).map(serde_json::to_string) {
        let json = Zeroizing::new(json.unwrap_or_default());
        let inner = json
            .as_bytes()
            .get(1..json.len().saturating_sub(1))
            .unwrap_or_default();
        if inner != v {
            out.push((Encoding::JsonEscaped, inner.to_vec()));
        }
    }
    out
}

/// The part of the base64 of `v` preceded by `k` unknown bytes (0, 1 or 2) that does not
/// depend on those bytes nor on what follows `v`: the characters whose six bits all fall
/// inside `v`. Padding is never part of it, so padded and unpadded text match alike.
fn base64_inner(engine: &base64::engine::GeneralPurpose, v: &[u8], k: usize) -> Vec<u8> {
    let mut padded = Zeroizing::new(vec![0u8; k]);
    padded.extend_from_slice(v);
    let text = Zeroizing::new(engine.encode(padded.as_slice()));
    let first = (8 * k).div_ceil(6);
    let end = (8 * (k + v.len())) / 6;
    text.as_bytes()
        .get(first..end.min(text.len()))
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// `v` percent-encoded: every byte outside RFC 3986's unreserved set as `%XX`, with the
/// hex digits of `digits` (upper or lower case).
fn percent_encode(v: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 3);
    for &b in v {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(digits[usize::from(b >> 4)]);
            out.push(digits[usize::from(b & 15)]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};

    fn v(s: &str) -> SecretValue {
        SecretValue::new(s.to_owned()).unwrap()
    }

    fn encodings(m: &Matcher, input: &[u8]) -> Vec<Encoding> {
        m.find(input).iter().map(|f| f.encoding).collect()
    }

    #[test]
    fn a_value_is_found_in_every_encoding_at_every_alignment() {
        let value = "ghp_R2d2C3po/+Leia?&Han=Solo";
        let m = Matcher::new([&v(value)]);
        assert!(encodings(&m, format!("x {value} y").as_bytes()).contains(&Encoding::Exact));
        assert!(encodings(&m, hex::encode(value).as_bytes()).contains(&Encoding::Hex));
        assert!(encodings(&m, hex::encode_upper(value).as_bytes()).contains(&Encoding::HexUpper));
        // Base64 of the value after 0, 1, 2 … 5 other bytes, padded and unpadded, both
        // alphabets: always found.
        for prefix in ["", "a", "ab", "abc", "abcd", "abcde"] {
            let text = format!("{prefix}{value}");
            for (engine, enc) in [
                (&STANDARD, Encoding::Base64),
                (&URL_SAFE, Encoding::Base64Url),
                (&URL_SAFE_NO_PAD, Encoding::Base64Url),
            ] {
                let b = engine.encode(&text);
                let found = encodings(&m, format!("log: {b} end").as_bytes());
                // Where both alphabets give the same text, the standard one is named.
                let same = !b.contains(['-', '_', '+', '/']);
                assert!(
                    found.contains(&enc) || (same && found.contains(&Encoding::Base64)),
                    "{prefix:?} {enc:?} {found:?}"
                );
            }
        }
        let url: String = percent_encode(value.as_bytes(), b"0123456789abcdef")
            .into_iter()
            .map(char::from)
            .collect();
        assert!(encodings(&m, url.as_bytes()).contains(&Encoding::UrlEncoded));
        let json = serde_json::to_string("say \"x\"\npw=a\\b\"c/d\te").unwrap();
        let m2 = Matcher::new([&v("pw=a\\b\"c/d\te")]);
        assert!(encodings(&m2, json.as_bytes()).contains(&Encoding::JsonEscaped));
    }

    #[test]
    fn each_line_of_a_multi_line_value_is_found_on_its_own() {
        let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0\nAAECggEBAKj34GkxFhD\n-----END KEY-----\n";
        let m = Matcher::new([&v(pem)]);
        let found = m.find(b"the agent printed AAECggEBAKj34GkxFhD only");
        assert_eq!(found.len(), 1);
        assert!(found[0].line);
        assert_eq!(found[0].offset, 18);
        // The whole value is one finding, not one per line.
        let whole = m.find(pem.as_bytes());
        assert!(whole.iter().any(|f| !f.line && f.offset == 0));
        assert!(!whole.iter().any(|f| f.line && f.offset == 0));
    }

    #[test]
    fn the_encoded_forms_for_masking_are_the_matchers_but_the_exact_one() {
        let value = "ghp_R2d2C3po/+Leia?&Han=\"Solo\"";
        let forms = encoded_forms(value.as_bytes());
        let m = Matcher::new([&v(value)]);
        // 2 hex, 3 to 6 base64 (an alignment's two alphabets agree when its text has no
        // `+/`; here two alignments agree), 2 URL-encoded, 1 JSON-escaped; no two alike.
        assert_eq!(forms.len(), 9);
        let distinct: BTreeSet<&[u8]> = forms.iter().map(|f| f.as_slice()).collect();
        assert_eq!(distinct.len(), forms.len());
        for f in &forms {
            let found = m.find(f);
            assert!(
                found
                    .iter()
                    .any(|x| x.offset == 0 && x.encoding != Encoding::Exact),
                "{found:?}"
            );
            assert!(!found.iter().any(|x| x.encoding == Encoding::Exact));
        }
        // Each line of a multi-line value as well; short values and lines get none.
        let pem = encoded_forms(b"-----BEGIN-----\nMIIBVQIBADANBg\nshort\n");
        assert!(
            pem.iter()
                .any(|f| f.as_slice() == hex::encode("MIIBVQIBADANBg").as_bytes())
        );
        assert!(
            !pem.iter()
                .any(|f| f.as_slice() == hex::encode("short").as_bytes())
        );
        assert!(encoded_forms(b"1234567").is_empty());
    }

    #[test]
    fn short_values_are_skipped_and_counted() {
        let m = Matcher::new([&v("1234567"), &v("12345678")]);
        assert_eq!(m.skipped(), 1);
        let found = m.find(b"1234567 12345678");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].value, found[0].offset), (1, 8));
    }

    #[test]
    fn nothing_of_a_value_shows_in_debug_or_findings() {
        let secret = "hunter2-hunter2-hunter2";
        let m = Matcher::new([&v(secret)]);
        let shown = format!("{m:?} {:?}", m.find(secret.as_bytes()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains(&hex::encode(secret)), "{shown}");
    }

    #[test]
    fn an_input_without_values_finds_nothing() {
        let m = Matcher::new([&v("a-long-enough-value")]);
        assert!(
            m.find(b"nothing to see here, a long enough line of text")
                .is_empty()
        );
        assert!(
            Matcher::new(std::iter::empty::<&SecretValue>())
                .find(b"x")
                .is_empty()
        );
    }
}
