//! The load generator: hyper's own HTTP/1.1 client, one kept-alive connection per
//! simulated client, each sending its next request as soon as the last answer is read
//! (a closed loop, as `wrk -c32` does). Requests finished during the warm-up are not
//! counted; throughput is answers with a 2xx status per second of the measured window.

use crate::Res;
use crate::stats;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A request body.
pub(crate) type Body = Full<Bytes>;

/// Makes the request of connection `conn`, its `seq`-th.
pub(crate) type MakeRequest = Arc<dyn Fn(usize, u64) -> Request<Body> + Send + Sync>;

async fn connect(addr: SocketAddr) -> Res<SendRequest<Body>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A request to `addr` (with its Host header: Go's server, OpenBao's, requires one).
pub(crate) fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string());
    if !body.is_empty() {
        b = b.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    // The parts above are all valid: a method, a path of ours, ASCII header values.
    b.body(Full::new(body))
        .unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
}

/// One request on a connection of its own: the status and the whole body.
pub(crate) async fn call(addr: SocketAddr, req: Request<Body>) -> Res<(StatusCode, Bytes)> {
    let mut sender = connect(addr).await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// 2xx answers in the measured window.
    pub(crate) ok: u64,
    /// 2xx answers in the whole run, warm-up included (to divide a profile's counts by).
    pub(crate) answered: u64,
    /// Other answers and transport errors in the whole run.
    pub(crate) errors: u64,
    /// 2xx answers per second of the measured window.
    pub(crate) rps: f64,
    /// Median latency of the 2xx answers, microseconds.
    pub(crate) p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub(crate) p99_us: f64,
    /// The first failure, for the message.
    pub(crate) first_error: Option<String>,
    /// The server's CPU time (user + system) per 2xx answer over the whole run,
    /// microseconds, when measured: steadier than the rate on a shared machine.
    pub(crate) server_cpu_us: Option<f64>,
}

struct PerConn {
    lat_us: Vec<f64>,
    ok: u64,
    answered: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `conns` closed-loop clients against `addr` for `warmup` + `measure`.
pub(crate) async fn run(
    addr: SocketAddr,
    conns: usize,
    warmup: Duration,
    measure: Duration,
    make: MakeRequest,
) -> Res<Load> {
    let start = Instant::now();
    let from = start + warmup;
    let end = from + measure;
    let mut tasks = Vec::with_capacity(conns);
    for c in 0..conns {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = PerConn {
                lat_us: Vec::with_capacity(65_536),
                ok: 0,
                answered: 0,
                errors: 0,
                first_error: None,
            };
            let mut sender: Option<SendRequest<Body>> = None;
            let mut seq = 0u64;
            while Instant::now() < end {
                let s = match sender.take() {
                    Some(s) => s,
                    None => match connect(addr).await {
                        Ok(s) => s,
                        Err(e) => {
                            out.errors += 1;
                            out.first_error.get_or_insert(format!("connect: {e}"));
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    },
                };
                let mut s = s;
                let req = make(c, seq);
                seq += 1;
                let t0 = Instant::now();
                let answer = async {
                    s.ready().await?;
                    let resp = s.send_request(req).await?;
                    let status = resp.status();
                    let body = resp.into_body().collect().await?.to_bytes();
                    Ok::<_, hyper::Error>((status, body))
                }
                .await;
                let done = Instant::now();
                match answer {
                    Ok((status, body)) => {
                        sender = Some(s);
                        if status.is_success() {
                            out.answered += 1;
                            if done >= from && done <= end {
                                out.ok += 1;
                                out.lat_us.push((done - t0).as_secs_f64() * 1e6);
                            }
                        } else {
                            out.errors += 1;
                            out.first_error.get_or_insert_with(|| {
                                let text = String::from_utf8_lossy(&body);
                                format!("{status}: {}", text.chars().take(300).collect::<String>())
                            });
                        }
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(format!("transport: {e}"));
                    }
                }
            }
            out
        }));
    }
    let mut lat = Vec::new();
    let (mut ok, mut answered, mut errors, mut first_error) = (0, 0, 0, None);
    for t in tasks {
        let r = t.await?;
        ok += r.ok;
        answered += r.answered;
        errors += r.errors;
        lat.extend(r.lat_us);
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    let s = stats::summary(&mut lat);
    Ok(Load {
        ok,
        answered,
        errors,
        rps: ok as f64 / measure.as_secs_f64(),
        p50_us: s.p50,
        p99_us: s.p99,
        first_error,
        server_cpu_us: None,
    })
}
