//! `secretstore run`: the injected values masked in the child's output, and signals
//! passed on to the child.
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
            for p in self.patterns.iter() {
                if rest.starts_with(p) {
                    out.extend_from_slice(MASK);
                    i += p.len();
                    continue 'scan;
                }
            }
            if !eof
                && self
                    .patterns
                    .iter()
                    .any(|p| p.len() > rest.len() && p.starts_with(rest))
            {
                break;
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

/// Waits for the child, passing SIGTERM on to it, and SIGINT too unless the terminal
/// already delivered it (a Ctrl-C reaches the whole foreground process group).
pub(crate) async fn wait_forwarding_signals(
    child: &mut tokio::process::Child,
) -> std::io::Result<std::process::ExitStatus> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let from_terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let forward = |child: &tokio::process::Child, sig: Signal| {
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    };
    loop {
        tokio::select! {
            s = child.wait() => return s,
            _ = int.recv() => if !from_terminal { forward(child, Signal::SIGINT) },
            _ = term.recv() => forward(child, Signal::SIGTERM),
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

    #[test]
    fn overlapping_prefixes_are_resolved_longest_first() {
        let m = Masker::new(&["token-1234", "token-12345678"]);
        assert_eq!(run(&m, &[b"token-12", b"345678!"]), b"***!");
        assert_eq!(run(&m, &[b"token-1234!"]), b"***!");
    }
}
