//! `secretstore run`: the injected values (env and files) masked in the child's output
//! (the signals passed on to the child are [`crate::exec`]'s).
//!
//! Masking is streamed: a value split across two reads is still caught, because bytes
//! that could be the start of a value are held back until the next read decides. Each
//! value is masked whole, and each line of a multi-line value on its own (a PEM key is
//! often printed line by line). Values shorter than [`MIN_MASKED_LEN`] bytes are not
//! masked: replacing every "1" or "on" in the output would garble it and reveal little
//! (`run` says so on stderr when it happens).

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
        }
        patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Masker {
            patterns: Arc::new(patterns),
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
            // Undecided first: while a longer value could still begin here, a shorter one
            // that already matches must wait too (masking it would print the rest of the
            // longer value once the next read brings it).
            if !eof
                && self
                    .patterns
                    .iter()
                    .any(|p| p.len() > rest.len() && p.starts_with(rest))
            {
                break;
            }
            for p in self.patterns.iter() {
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

    #[test]
    fn overlapping_prefixes_are_resolved_longest_first() {
        let m = Masker::new(&["token-1234", "token-12345678"]);
        assert_eq!(run(&m, &[b"token-12", b"345678!"]), b"***!");
        assert_eq!(run(&m, &[b"token-1234!"]), b"***!");
    }
}
