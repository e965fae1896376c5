//! Leak detection (issue #17): `secretstore_core::leaks::Matcher` built of 10,000 random
//! values (16–64 printable bytes) in every encoding, scanning log-like text (100 MB; 10 MB
//! with `--quick`) with values planted in each encoding; beside it an automaton of the
//! exact forms only, built the same way, and `grep -F -c -f` of the same 10,000 literals on
//! the same input (as files in a temporary folder), for the like-for-like comparison.
//!
//! Every figure is checked first: the matcher must find each planted value, in its
//! encoding, inside the text planted, and nothing else; the exact automaton and grep must
//! count the exact plants. A wrong answer is an error, not a figure.

use crate::Res;
use aho_corasick::{AhoCorasickBuilder, MatchKind};
use secretstore_core::SecretValue;
use secretstore_core::leaks::{Encoding, Finding, Matcher};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to measure.
pub(crate) struct Plan {
    /// Values in the matcher.
    pub(crate) values: usize,
    /// Bytes of input scanned.
    pub(crate) input_bytes: usize,
    /// Scans timed (the median is the figure).
    pub(crate) rounds: usize,
}

/// What one run measured. Throughputs in MB/s (10^6 bytes a second).
pub(crate) struct Figures {
    pub(crate) patterns: usize,
    pub(crate) planted: usize,
    pub(crate) build_s: f64,
    pub(crate) find_mb_s: f64,
    /// The growth of this process's resident set over the matcher's build.
    pub(crate) matcher_rss_mib: f64,
    pub(crate) exact_build_ms: f64,
    pub(crate) exact_find_mb_s: f64,
    pub(crate) grep: Option<Grep>,
}

/// `grep -F` on the same input and literals.
pub(crate) struct Grep {
    pub(crate) version: String,
    /// Whole runs (process start, reading both files, the literals compiled, the scan).
    pub(crate) mb_s: f64,
    /// A run on an empty input: the start and the literals' compilation, in every run above.
    pub(crate) startup_ms: f64,
}

/// SplitMix64: a seeded generator of its own, so that every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n small: the modulo bias is negligible).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// How a value is planted (the encoders are this file's own, not the matcher's).
#[derive(Clone, Copy, Debug)]
enum Plant {
    Exact,
    /// Base64 of the value after `k` other bytes; padded or not.
    Base64 {
        url: bool,
        k: usize,
        pad: bool,
    },
    Hex {
        upper: bool,
    },
    Url {
        upper: bool,
    },
    Json,
}

const PLANTS: [Plant; 14] = [
    Plant::Exact,
    Plant::Base64 {
        url: false,
        k: 0,
        pad: true,
    },
    Plant::Base64 {
        url: false,
        k: 1,
        pad: true,
    },
    Plant::Base64 {
        url: false,
        k: 2,
        pad: false,
    },
    Plant::Base64 {
        url: true,
        k: 0,
        pad: false,
    },
    Plant::Base64 {
        url: true,
        k: 1,
        pad: false,
    },
    Plant::Base64 {
        url: true,
        k: 2,
        pad: true,
    },
    Plant::Hex { upper: false },
    Plant::Hex { upper: true },
    Plant::Url { upper: true },
    Plant::Url { upper: false },
    Plant::Json,
    Plant::Exact,
    Plant::Json,
];

/// Each kind of plant this many times (different values).
const PLANTS_PER_KIND: usize = 3;

impl Plant {
    /// The encodings a finding of this plant may name: where both base64 alphabets give
    /// the same text, the matcher names the standard one.
    fn accepts(self, e: Encoding) -> bool {
        match self {
            Plant::Exact => e == Encoding::Exact,
            Plant::Base64 { url: false, .. } => e == Encoding::Base64,
            Plant::Base64 { url: true, .. } => matches!(e, Encoding::Base64 | Encoding::Base64Url),
            Plant::Hex { upper: false } => e == Encoding::Hex,
            Plant::Hex { upper: true } => e == Encoding::HexUpper,
            Plant::Url { .. } => e == Encoding::UrlEncoded,
            Plant::Json => e == Encoding::JsonEscaped,
        }
    }

    /// Whether `v` is a fair value for this plant: one whose form differs from it.
    fn fits(self, v: &[u8]) -> bool {
        match self {
            Plant::Json => v.iter().any(|b| matches!(b, b'"' | b'\\')),
            Plant::Url { .. } => v.iter().any(|b| !unreserved(*b)),
            _ => true,
        }
    }

    fn encode(self, v: &[u8]) -> Vec<u8> {
        match self {
            Plant::Exact => v.to_vec(),
            Plant::Base64 { url, k, pad } => {
                let mut data = b"xy"[..k].to_vec();
                data.extend_from_slice(v);
                base64(&data, url, pad)
            }
            Plant::Hex { upper } => {
                let digits = if upper { HEX_UPPER } else { HEX_LOWER };
                v.iter()
                    .flat_map(|b| [digits[usize::from(b >> 4)], digits[usize::from(b & 15)]])
                    .collect()
            }
            Plant::Url { upper } => {
                let digits = if upper { HEX_UPPER } else { HEX_LOWER };
                let mut out = Vec::new();
                for &b in v {
                    if unreserved(b) {
                        out.push(b);
                    } else {
                        out.extend([
                            b'%',
                            digits[usize::from(b >> 4)],
                            digits[usize::from(b & 15)],
                        ]);
                    }
                }
                out
            }
            Plant::Json => {
                let mut out = Vec::new();
                for &b in v {
                    if matches!(b, b'"' | b'\\') {
                        out.push(b'\\');
                    }
                    out.push(b);
                }
                out
            }
        }
    }
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn base64(data: &[u8], url: bool, pad: bool) -> Vec<u8> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let engine = match (url, pad) {
        (false, true) => &STANDARD,
        (false, false) => &STANDARD_NO_PAD,
        (true, true) => &URL_SAFE,
        (true, false) => &URL_SAFE_NO_PAD,
    };
    engine.encode(data).into_bytes()
}

/// 10,000 values, or `n`: 16–64 bytes each of `!`..`~` (printable, no space).
fn values(rng: &mut Rng, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let len = 16 + rng.below(49);
            (0..len)
                .map(|_| char::from(b'!' + rng.below(94) as u8))
                .collect()
        })
        .collect()
}

/// One log line of an ordinary service (no value in it).
fn log_line(rng: &mut Rng, out: &mut Vec<u8>, n: usize) {
    const LEVELS: [&str; 4] = ["INFO ", "INFO ", "DEBUG", "WARN "];
    const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
    const PATHS: [&str; 6] = [
        "/api/v1/items",
        "/api/v1/users",
        "/healthz",
        "/api/v1/orders/search",
        "/static/app.js",
        "/api/v1/tasks",
    ];
    const WORDS: [&str; 10] = [
        "request",
        "completed",
        "cache",
        "miss",
        "retrying",
        "upstream",
        "connection",
        "pool",
        "handler",
        "served",
    ];
    let t = n as u64;
    let line = format!(
        "2026-12-08T{:02}:{:02}:{:02}.{:03}Z {} {} {}/{} req={:016x} status={} dur_ms={} user=u{} msg=\"{} {} {}\"\n",
        (t / 3_600_000) % 24,
        (t / 60_000) % 60,
        (t / 1000) % 60,
        t % 1000,
        rng.pick(&LEVELS),
        rng.pick(&METHODS),
        rng.pick(&PATHS),
        rng.below(100_000),
        rng.next(),
        [200, 200, 200, 201, 304, 404, 500][rng.below(7)],
        rng.below(2000),
        rng.below(5000),
        rng.pick(&WORDS),
        rng.pick(&WORDS),
        rng.pick(&WORDS),
    );
    out.extend_from_slice(line.as_bytes());
}

/// Where a value was planted: its index, how, and the bytes of input its form covers.
struct Planted {
    value: usize,
    plant: Plant,
    start: usize,
    end: usize,
}

/// The input: log lines, with plants spread evenly through it.
fn input(rng: &mut Rng, values: &[String], bytes: usize) -> (Vec<u8>, Vec<Planted>) {
    let mut wanted: Vec<(usize, Plant)> = Vec::new();
    let mut next = 0;
    for _ in 0..PLANTS_PER_KIND {
        for plant in PLANTS {
            // The next value that fits, a stride apart so that the plants use distinct
            // values spread over the set.
            let mut i = next;
            while !plant.fits(values[i % values.len()].as_bytes()) {
                i += 1;
            }
            wanted.push((i % values.len(), plant));
            next = i + values.len() / (PLANTS.len() * PLANTS_PER_KIND);
        }
    }
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut planted = Vec::new();
    let every = bytes / (wanted.len() + 1);
    let mut line = 0;
    while out.len() < bytes {
        log_line(rng, &mut out, line);
        line += 1;
        let k = planted.len();
        if k < wanted.len() && out.len() >= every * (k + 1) {
            let (value, plant) = wanted[k];
            let form = plant.encode(values[value].as_bytes());
            let head = format!("2026-12-08T00:00:00.000Z WARN  worker={k} leaked=\"");
            out.extend_from_slice(head.as_bytes());
            let start = out.len();
            out.extend_from_slice(&form);
            planted.push(Planted {
                value,
                plant,
                start,
                end: out.len(),
            });
            out.extend_from_slice(b"\" end\n");
        }
    }
    (out, planted)
}

/// Fails unless `found` is exactly the plants: each found in its encoding within its text,
/// nothing found elsewhere.
fn check(found: &[Finding], planted: &[Planted]) -> Res<()> {
    for p in planted {
        if !found.iter().any(|f| {
            f.value == p.value
                && p.plant.accepts(f.encoding)
                && (p.start..p.end).contains(&f.offset)
        }) {
            return Err(format!(
                "leaks: the matcher missed value {} planted as {:?} at {}",
                p.value, p.plant, p.start
            )
            .into());
        }
    }
    for f in found {
        if !planted
            .iter()
            .any(|p| f.value == p.value && (p.start..p.end).contains(&f.offset))
        {
            return Err(format!(
                "leaks: the matcher found value {} as {} at {}, where none was planted",
                f.value,
                f.encoding.as_str(),
                f.offset
            )
            .into());
        }
    }
    Ok(())
}

/// The median of `rounds` runs of `f` (which must give `expect` each time).
fn median_time<T: PartialEq + std::fmt::Debug>(
    rounds: usize,
    expect: &T,
    what: &str,
    mut f: impl FnMut() -> Res<T>,
) -> Res<Duration> {
    let mut times = Vec::new();
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let got = f()?;
        times.push(t.elapsed());
        if &got != expect {
            return Err(format!("leaks: {what} gave {got:?}, not {expect:?}").into());
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn mb_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// This process's resident set, MiB.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(crate) fn measure(plan: &Plan) -> Res<Figures> {
    let mut rng = Rng(0x5EC2_E75E_0017);
    let values = values(&mut rng, plan.values);
    let secrets = values
        .iter()
        .map(|v| SecretValue::new(v.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (input, planted) = input(&mut rng, &values, plan.input_bytes);
    let exact_plants = planted
        .iter()
        .filter(|p| matches!(p.plant, Plant::Exact))
        .count();

    // Every encoding.
    let rss = rss_mib();
    let t = Instant::now();
    let matcher = Matcher::new(&secrets);
    let build = t.elapsed();
    let matcher_rss_mib = rss_mib() - rss;
    if matcher.skipped() != 0 {
        return Err(format!("leaks: {} values skipped", matcher.skipped()).into());
    }
    // The count of patterns is in the matcher's Debug (counts only, never a pattern).
    let shown = format!("{matcher:?}");
    let patterns = shown
        .split("patterns: ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let found = matcher.find(&input);
    check(&found, &planted)?;
    let find = median_time(plan.rounds, &found.len(), "the matcher", || {
        Ok(matcher.find(&input).len())
    })?;
    drop(matcher);

    // Exact forms only: the values' bytes, one automaton built as the matcher builds its
    // own, searched as it searches (every overlapping match).
    let t = Instant::now();
    let exact = AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .build(&values)?;
    let exact_build = t.elapsed();
    let exact_find = median_time(plan.rounds, &exact_plants, "the exact automaton", || {
        Ok(exact.find_overlapping_iter(&input).count())
    })?;
    drop(exact);

    let grep = grep(plan, &values, &input, exact_plants)?;
    Ok(Figures {
        patterns,
        planted: planted.len(),
        build_s: build.as_secs_f64(),
        find_mb_s: mb_s(input.len(), find),
        matcher_rss_mib,
        exact_build_ms: exact_build.as_secs_f64() * 1e3,
        exact_find_mb_s: mb_s(input.len(), exact_find),
        grep,
    })
}

/// `LC_ALL=C grep -F -c -f literals.txt input` (the count of matching lines: one per exact
/// plant), the files in a temporary folder removed after; `None` when there is no grep.
fn grep(plan: &Plan, values: &[String], input: &[u8], expect: usize) -> Res<Option<Grep>> {
    let version = match Command::new("grep")
        .arg("--version")
        .stderr(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("grep")
            .to_string(),
        _ => return Ok(None),
    };
    let dir = tempfile::Builder::new()
        .prefix("secretstore-bench-leaks.")
        .tempdir()?;
    let literals = dir.path().join("literals.txt");
    let file = dir.path().join("input");
    let empty = dir.path().join("empty");
    std::fs::write(&literals, values.join("\n") + "\n")?;
    std::fs::write(&file, input)?;
    std::fs::write(&empty, b"")?;
    let run = |on: &std::path::Path| -> Res<usize> {
        let out = Command::new("grep")
            .env("LC_ALL", "C")
            .args(["-F", "-c", "-f"])
            .arg(&literals)
            .arg(on)
            .stderr(Stdio::inherit())
            .output()?;
        // 0: lines matched; 1: none.
        if !matches!(out.status.code(), Some(0 | 1)) {
            return Err(format!("leaks: grep failed: {}", out.status).into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    };
    let startup = median_time(plan.rounds, &0, "grep on an empty file", || run(&empty))?;
    let whole = median_time(plan.rounds, &expect, "grep -F -c", || run(&file))?;
    dir.close()?;
    Ok(Some(Grep {
        version,
        mb_s: mb_s(input.len(), whole),
        startup_ms: startup.as_secs_f64() * 1e3,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_its_own_agrees_with_the_known_answers() {
        assert_eq!(base64(b"", false, true), b"");
        assert_eq!(base64(b"f", false, true), b"Zg==");
        assert_eq!(base64(b"fo", false, false), b"Zm8");
        assert_eq!(base64(b"foobar", false, true), b"Zm9vYmFy");
        assert_eq!(base64(&[0xfb, 0xff], false, true), b"+/8=");
        assert_eq!(base64(&[0xfb, 0xff], true, false), b"-_8");
    }

    #[test]
    fn a_wrong_answer_is_an_error() {
        let p = [Planted {
            value: 1,
            plant: Plant::Exact,
            start: 10,
            end: 30,
        }];
        let ok = Finding {
            value: 1,
            encoding: Encoding::Exact,
            offset: 10,
            line: false,
        };
        assert!(check(&[ok], &p).is_ok());
        assert!(check(&[], &p).is_err(), "missed");
        assert!(
            check(&[ok, Finding { offset: 40, ..ok }], &p).is_err(),
            "found elsewhere"
        );
        assert!(
            check(&[Finding { value: 2, ..ok }], &p).is_err(),
            "another value"
        );
        let hex = Finding {
            encoding: Encoding::Hex,
            ..ok
        };
        assert!(check(&[hex], &p).is_err(), "another encoding");
    }

    #[test]
    fn a_small_run_finds_every_plant_and_nothing_else() {
        let f = measure(&Plan {
            values: 500,
            input_bytes: 400_000,
            rounds: 1,
        })
        .unwrap();
        assert_eq!(f.planted, PLANTS.len() * PLANTS_PER_KIND);
        // Hex twice, base64 at least thrice, URL-encoded mostly twice, JSON sometimes.
        assert!(f.patterns > 500 * 8, "{}", f.patterns);
    }
}
