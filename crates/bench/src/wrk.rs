//! The same closed-loop loads through wrk (Debian's package), with `--wrk`: a second load
//! generator, independent of this harness's own (hyper's client), to check its figures
//! against; the first figures were taken with `wrk -t2 -c32`. Measured here both
//! give the same rates within the machine's noise, for secretstore and OpenBao alike.
//!
//! A load is a list of paths, asked for in turn (each of wrk's threads from another
//! place in the list), with the same headers and body each time, through a Lua script
//! written next to the other files of the run.

use crate::Res;
use crate::load::Load;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `wrk` on PATH, if it is there and runs.
pub(crate) fn find() -> Option<PathBuf> {
    let ok = Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    ok.then(|| PathBuf::from("wrk"))
}

/// One load: what to ask for.
pub(crate) struct Spec<'a> {
    /// `GET` or `POST`.
    pub(crate) method: &'a str,
    /// The paths, asked for in turn.
    pub(crate) paths: &'a [String],
    /// Headers of every request.
    pub(crate) headers: &'a [(&'a str, &'a str)],
}

/// A Lua string literal of `s` (the paths and headers here are ASCII without quotes,
/// but every byte that is not plain is escaped all the same).
fn lua(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b" /?=&%-_.:,;+".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out.push('"');
    out
}

fn script(spec: &Spec<'_>) -> String {
    let paths: Vec<String> = spec.paths.iter().map(|p| lua(p)).collect();
    let headers: Vec<String> = spec
        .headers
        .iter()
        .map(|(k, v)| format!("[{}] = {}", lua(k), lua(v)))
        .collect();
    // Every request is formatted once, in each thread's `init`: `request` only picks the
    // next one (formatting it anew each time would cost wrk more than the server).
    format!(
        "local paths = {{ {} }}\n\
         local headers = {{ {} }}\n\
         local n = #paths\n\
         local k = 0\n\
         local reqs = {{}}\n\
         function setup(thread) thread:set(\"at\", k * 7919); k = k + 1 end\n\
         function init(args)\n\
           for i = 1, n do reqs[i] = wrk.format({}, paths[i], headers) end\n\
         end\n\
         function request()\n\
           at = ((at or 0) + 7919) % n\n\
           return reqs[at + 1]\n\
         end\n",
        paths.join(", "),
        headers.join(", "),
        lua(spec.method),
    )
}

/// Runs `spec` against `addr` with `conns` connections on two threads for `duration`.
pub(crate) fn run(
    wrk: &Path,
    work: &Path,
    addr: SocketAddr,
    conns: usize,
    duration: Duration,
    spec: &Spec<'_>,
) -> Res<Load> {
    let file = work.join("load.lua");
    std::fs::write(&file, script(spec))?;
    let out = Command::new(wrk)
        .args(["-t2", "--latency"])
        .arg(format!("-c{conns}"))
        .arg(format!("-d{}s", duration.as_secs_f64().ceil().max(1.0)))
        .arg("-s")
        .arg(&file)
        .arg(format!("http://{addr}"))
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    parse(&text)
}

/// A latency as wrk prints it (`812.00us`, `1.20ms`, `2.00s`), in microseconds.
fn micros(s: &str) -> Option<f64> {
    let (num, factor) = if let Some(v) = s.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * factor)
}

/// The figures of wrk's summary.
fn parse(text: &str) -> Res<Load> {
    let mut requests = None;
    let mut seconds = None;
    let (mut p50, mut p99) = (0.0, 0.0);
    let mut errors = 0u64;
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            [n, "requests", "in", s, ..] => {
                requests = n.parse::<u64>().ok();
                seconds = s
                    .trim_end_matches(',')
                    .strip_suffix('s')
                    .and_then(|v| v.parse::<f64>().ok());
            }
            ["50%", v] => p50 = micros(v).unwrap_or(0.0),
            ["99%", v] => p99 = micros(v).unwrap_or(0.0),
            _ if line.trim_start().starts_with("Non-2xx or 3xx responses:") => {
                errors += w.last().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
            _ if line.trim_start().starts_with("Socket errors:") => {
                errors += w
                    .iter()
                    .filter_map(|v| v.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    let (Some(all), Some(seconds)) = (requests, seconds) else {
        return Err(format!("no figures in wrk's output: {text}").into());
    };
    let ok = all.saturating_sub(errors);
    Ok(Load {
        ok,
        answered: ok,
        errors,
        rps: ok as f64 / seconds.max(f64::MIN_POSITIVE),
        p50_us: p50,
        p99_us: p99,
        first_error: (errors > 0).then(|| format!("wrk counted {errors} failed requests")),
        server_cpu_us: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_of_wrk_4_reads() {
        let text = "Running 3s test @ http://127.0.0.1:1\n  2 threads and 32 connections\n  \
            Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     1.23ms  400.00us   9.00ms   80.00%\n  \
            Latency Distribution\n     50%  812.00us\n     75%    1.50ms\n     90%    2.00ms\n     99%    4.10ms\n  \
            60000 requests in 3.00s, 10.00MB read\n  Non-2xx or 3xx responses: 3\n  \
            Socket errors: connect 0, read 1, write 0, timeout 2\nRequests/sec:  20000.00\n";
        let l = parse(text).unwrap();
        assert_eq!(l.errors, 6);
        assert_eq!(l.ok, 59_994);
        assert!((l.p50_us - 812.0).abs() < 1e-9);
        assert!((l.p99_us - 4_100.0).abs() < 1e-9);
        assert!((l.rps - 19_998.0).abs() < 1e-6);
        assert!(parse("nothing").is_err());
    }

    #[test]
    fn lua_strings_escape_what_is_not_plain() {
        assert_eq!(lua("/a?scope=b/c"), "\"/a?scope=b/c\"");
        assert_eq!(lua("x\"y\\"), "\"x\\034y\\092\"");
    }
}
