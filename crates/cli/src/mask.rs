//! `secretstore run`: the injected values (env and files) masked in the child's output
//! (the signals passed on to the child are [`crate::exec`]'s).
//!
//! Masking is streamed: a value split across two reads is still caught, because bytes
//! that could be the start of a value are held back until the next read decides. Each
//! value is masked whole, and each line of a multi-line value on its own (a PEM key is
//! often printed line by line). Values shorter than [`MIN_MASKED_LEN`] bytes are not
//! masked: replacing every "1" or "on" in the output would garble it and reveal little
//! (`run` says so on stderr when it happens).
//!
//! The encoded forms of each value (and line) of at least
//! [`secretstore_core::leaks::MIN_VALUE_BYTES`] bytes are masked too, those the leak
//! detection searches for ([`secretstore_core::leaks::encoded_forms`]): hex in either case,
//! base64 and base64url at every alignment, padded or not (by the part that depends on the
//! value alone: at most two characters at each end of the encoded text stay), URL-encoded,
//! JSON-escaped.

use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

/// The shortest value (or line of a value) that is masked.
pub(crate) const MIN_MASKED_LEN: usize = 4;

const MASK: &[u8] = b"***";

/// The values to mask, longest first.
#[derive(Clone)]
pub(crate) struct Masker {
    patterns: Arc<Vec<Zeroizing<Vec<u8>>>>,
    /// For each byte, the patterns (indices into `patterns`, longest first) that begin with
    /// it: only those can match or be undecided where it is.
    by_first: Arc<[Vec<usize>; 256]>,
}

impl Masker {
    pub(crate) fn new(values: &[&str]) -> Self {
        let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut add = |p: &[u8]| {
            if p.len() >= MIN_MASKED_LEN && !patterns.iter().any(|q| q.as_slice() == p) {
                patterns.push(Zeroizing::new(p.to_vec()));
            }
        };
        for v in values {
            add(v.as_bytes());
            if v.contains('\n') {
                for line in v.split('\n') {
                    add(line.trim_end_matches('\r').as_bytes());
                }
            }
            for form in secretstore_core::leaks::encoded_forms(v.as_bytes()) {
                add(&form);
            }
        }
        patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let mut by_first: [Vec<usize>; 256] = std::array::from_fn(|_| Vec::new());
        for (i, p) in patterns.iter().enumerate() {
            if let Some(&b) = p.first() {
                by_first[usize::from(b)].push(i);
            }
        }
        Masker {
            patterns: Arc::new(patterns),
            by_first: Arc::new(by_first),
        }
    }

    /// Masks what can be decided in `pending` and returns it; what could still be the
    /// start of a value stays in `pending` (unless `eof`).
    pub(crate) fn process(
        &self,
        pending: &mut Zeroizing<Vec<u8>>,
        eof: bool,
    ) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(pending.len()));
        let mut i = 0;
        'scan: while i < pending.len() {
            let rest = &pending[i..];
            // Only the patterns that begin with this byte (longest first).
            let here = self.by_first[usize::from(pending[i])]
                .iter()
                .map(|&k| &self.patterns[k]);
            // Undecided first: while a longer value could still begin here, a shorter one
            // that already matches must wait too (masking it would print the rest of the
            // longer value once the next read brings it).
            if !eof
                && here
                    .clone()
                    .any(|p| p.len() > rest.len() && p.starts_with(rest))
            {
                break;
            }
            for p in here {
                if rest.starts_with(p) {
                    out.extend_from_slice(MASK);
                    i += p.len();
                    continue 'scan;
                }
            }
            out.push(pending[i]);
            i += 1;
        }
        let kept = Zeroizing::new(pending[i..].to_vec());
        pending.clear();
        pending.extend_from_slice(&kept);
        out
    }
}

/// Copies `from` to `to`, masking the values.
pub(crate) async fn copy_masked(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    masker: Masker,
) -> std::io::Result<()> {
    let mut buf = Zeroizing::new(vec![0u8; 8192]);
    let mut pending = Zeroizing::new(Vec::new());
    loop {
        let n = from.read(&mut buf).await?;
        pending.extend_from_slice(&buf[..n]);
        let out = masker.process(&mut pending, n == 0);
        to.write_all(&out).await?;
        to.flush().await?;
        if n == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(masker: &Masker, chunks: &[&[u8]]) -> Vec<u8> {
        let mut pending = Zeroizing::new(Vec::new());
        let mut out = Vec::new();
        for c in chunks {
            pending.extend_from_slice(c);
            out.extend_from_slice(&masker.process(&mut pending, false));
        }
        out.extend_from_slice(&masker.process(&mut pending, true));
        out
    }

    #[test]
    fn masks_whole_values_and_values_split_across_reads() {
        let m = Masker::new(&["s3cr3t-value", "abc"]);
        assert_eq!(run(&m, &[b"x s3cr3t-value y"]), b"x *** y");
        assert_eq!(run(&m, &[b"x s3cr", b"3t-va", b"lue y"]), b"x *** y");
        assert_eq!(
            run(&m, &[b"s3cr3t-valu"]),
            b"s3cr3t-valu",
            "a prefix alone is flushed at the end"
        );
        assert_eq!(
            run(&m, &[b"abc is short"]),
            b"abc is short",
            "short values are not masked"
        );
        assert_eq!(run(&m, &[b"s3cr3t-values3cr3t-value"]), b"******");
    }

    #[test]
    fn masks_each_line_of_a_multi_line_value() {
        let pem = "-----BEGIN KEY-----\r\nMIIBVQIBADANBg\n-----END KEY-----";
        let m = Masker::new(&[pem]);
        assert_eq!(run(&m, &[b"line: MIIBVQIBADANBg\n"]), b"line: ***\n");
        assert_eq!(run(&m, &[pem.as_bytes()]), b"***");
    }

    /// Regression (found by the property test below): with one value a prefix of another,
    /// a read that ended right after the shorter one masked it at once, and the next read
    /// printed the rest of the longer value (`***5678!` for `token-12345678!`).
    #[test]
    fn a_read_ending_after_a_shorter_value_waits_for_a_longer_one() {
        let m = Masker::new(&["token-1234", "token-12345678"]);
        assert_eq!(run(&m, &[b"token-1234", b"5678!"]), b"***!");
        assert_eq!(run(&m, &[b"token-1234", b"!"]), b"***!");
    }

    /// Any chunking of any output gives what one read of the whole output gives, and no
    /// value is left in it. Values and text come from a small alphabet so that values
    /// overlap, share prefixes and repeat; `*` is left out (the mask is made of it).
    mod props {
        use super::*;
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = String> {
            "[ab\\n-]{1,9}"
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_chunking_masks_like_one_read_and_leaves_no_value(
                values in proptest::collection::vec(value(), 1..4),
                parts in proptest::collection::vec(
                    prop_oneof![value().prop_map(Ok), (0usize..4).prop_map(Err)],
                    0..12,
                ),
                cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
            ) {
                // The output: filler text and values (by index), glued together.
                let mut text = Vec::new();
                for p in &parts {
                    match p {
                        Ok(filler) => text.extend_from_slice(filler.as_bytes()),
                        Err(k) => text.extend_from_slice(values[k % values.len()].as_bytes()),
                    }
                }
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                let m = Masker::new(&refs);
                let whole = run(&m, &[&text]);
                let mut at: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
                at.sort_unstable();
                let mut chunks: Vec<&[u8]> = Vec::new();
                let mut from = 0;
                for c in at {
                    chunks.push(&text[from..c]);
                    from = c;
                }
                chunks.push(&text[from..]);
                prop_assert_eq!(run(&m, &chunks), whole.clone());
                for v in &values {
                    if v.len() >= MIN_MASKED_LEN {
                        let v = v.as_bytes();
                        prop_assert!(
                            !whole.windows(v.len()).any(|w| w == v),
                            "{:?} left in {:?}", v, whole
                        );
                    }
                }
            }
        }
    }

    /// base64 by the `base64` crate, not the core's encoding that the masker uses.
    fn b64(data: &[u8], url: bool, pad: bool) -> Vec<u8> {
        use base64::Engine;
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let engine = match (url, pad) {
            (false, true) => &STANDARD,
            (false, false) => &STANDARD_NO_PAD,
            (true, true) => &URL_SAFE,
            (true, false) => &URL_SAFE_NO_PAD,
        };
        engine.encode(data).into_bytes()
    }

    fn hex(v: &[u8], digits: &[u8; 16]) -> Vec<u8> {
        v.iter()
            .flat_map(|b| [digits[usize::from(b >> 4)], digits[usize::from(b & 15)]])
            .collect()
    }

    /// What is left of `out` once the masks are taken out, and how many masks there were.
    fn residue(out: &[u8]) -> (usize, String) {
        let s = String::from_utf8_lossy(out);
        (s.matches("***").count(), s.replace("***", ""))
    }

    /// Regression (#17): only a value's exact bytes were masked; printed base64-, hex-, URL-
    /// or JSON-encoded (a logged `Authorization: Basic` header, a hex dump, a query string, a
    /// JSON log line) it went through whole.
    #[test]
    fn a_values_encoded_forms_went_through_unmasked() {
        let value = "sk-live-R2d2/C3po+Leia?&Han=\"Solo\"\\x";
        let m = Masker::new(&[value]);
        let v = value.as_bytes();
        // What is printed, and how many of its characters may stay unmasked.
        let mut printed: Vec<(String, Vec<u8>, usize)> = Vec::new();
        // Base64 of the value after 0 … 5 other bytes (every alignment, twice), both
        // alphabets, padded and not.
        for prefix in ["", "a", "ab", "abc", "abcd", "abcde"] {
            let mut data = prefix.as_bytes().to_vec();
            data.extend_from_slice(v);
            for (url, pad) in [(false, true), (false, false), (true, true), (true, false)] {
                let form = b64(&data, url, pad);
                // Those of the bytes before, one holding bits of the value's last byte
                // and of what follows, and the padding.
                let pads = form.iter().filter(|c| **c == b'=').count();
                let allowed = (8 * prefix.len()).div_ceil(6) + 1 + pads;
                printed.push((
                    format!("base64 {prefix:?} url {url} pad {pad}"),
                    form,
                    allowed,
                ));
            }
        }
        printed.push(("hex".into(), hex(v, b"0123456789abcdef"), 0));
        printed.push(("HEX".into(), hex(v, b"0123456789ABCDEF"), 0));
        for digits in [b"0123456789ABCDEF", b"0123456789abcdef"] {
            let mut url = Vec::new();
            for &b in v {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    url.push(b);
                } else {
                    url.extend([
                        b'%',
                        digits[usize::from(b >> 4)],
                        digits[usize::from(b & 15)],
                    ]);
                }
            }
            printed.push(("url-encoded".into(), url, 0));
        }
        let json = serde_json::to_string(value).unwrap();
        // The string's quotes stay.
        printed.push(("json".into(), json.as_bytes().to_vec(), 2));
        for (what, form, allowed) in printed {
            let mut text = b"log: ".to_vec();
            text.extend_from_slice(&form);
            text.extend_from_slice(b" end\n");
            let (masks, left) = residue(&run(&m, &[&text]));
            assert_eq!(masks, 1, "{what}: {left}");
            assert!(
                left.len() <= "log:  end\n".len() + allowed,
                "{what}: {left:?} left of {:?}",
                String::from_utf8_lossy(&form)
            );
            // Split at every byte, streamed, the same.
            let split: Vec<&[u8]> = text.chunks(1).collect();
            assert_eq!(run(&m, &split), run(&m, &[&text]), "{what}");
        }
    }

    /// Each line of a multi-line value, encoded, is masked too (a PEM key's base64 body
    /// line is itself base64, but its hex or JSON escape is another form).
    #[test]
    fn the_encoded_forms_of_each_line_of_a_multi_line_value_are_masked() {
        let pem = "-----BEGIN KEY-----\nMIIBVQIBADANBg\n-----END KEY-----";
        let m = Masker::new(&[pem]);
        let line = hex(b"MIIBVQIBADANBg", b"0123456789abcdef");
        let mut text = b"x ".to_vec();
        text.extend_from_slice(&line);
        assert_eq!(run(&m, &[&text]), b"x ***");
        let json = serde_json::to_string(pem).unwrap();
        assert_eq!(residue(&run(&m, &[json.as_bytes()])), (1, "\"\"".into()));
    }

    /// Values too short to mean anything encoded (under 8 bytes) get no encoded forms: the
    /// hex of "1234" is "31323334", a number an output may well hold.
    #[test]
    fn short_values_get_no_encoded_forms() {
        let m = Masker::new(&["1234", "1234567"]);
        assert_eq!(run(&m, &[b"31323334 MTIzNA"]), b"31323334 MTIzNA");
    }

    #[test]
    fn overlapping_prefixes_are_resolved_longest_first() {
        let m = Masker::new(&["token-1234", "token-12345678"]);
        assert_eq!(run(&m, &[b"token-12", b"345678!"]), b"***!");
        assert_eq!(run(&m, &[b"token-1234!"]), b"***!");
    }
}
