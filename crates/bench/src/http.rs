//! Over HTTP: the real `secretstore serve` in a folder of its own (made by
//! `secretstore init`, seeded through the fast path before it starts), and OpenBao's dev
//! server, each under the same closed-loop load.

use crate::inproc::{self, operator};
use crate::load::{self, Load, MakeRequest};
use crate::procs::{self, Guard};
use crate::{Res, seed, wrk};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use secretstore_store::{Dialect, Keyring};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which loads to run against `serve`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phases {
    /// `GET /healthz`.
    pub(crate) healthz: bool,
    /// `GET /api/v1/secrets/{name}/value`.
    pub(crate) read: bool,
    /// `POST /api/v1/tasks/{id}/dispatch`.
    pub(crate) dispatch: bool,
}

/// How to load a server.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Concurrent connections.
    pub(crate) connections: usize,
    /// Not counted, at the start of each load.
    pub(crate) warmup: Duration,
    /// Counted.
    pub(crate) measure: Duration,
    /// Secrets seeded into the server's database.
    pub(crate) secrets: usize,
    /// A command put before `secretstore serve` (e.g. valgrind), split on spaces.
    pub(crate) wrap: Option<String>,
    /// `strace -c -f` attached to the server during the loads, its summary to this file.
    pub(crate) strace: Option<PathBuf>,
    /// wrk, to generate the loads with instead of this harness's own client.
    pub(crate) wrk: Option<PathBuf>,
}

/// What the server runs measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServeFigures {
    /// `/healthz`.
    pub(crate) healthz: Option<Load>,
    /// Secret reads.
    pub(crate) read: Option<Load>,
    /// 20-ref dispatches.
    pub(crate) dispatch: Option<Load>,
    /// Peak resident set of the server, MiB.
    pub(crate) peak_rss_mib: f64,
}

/// Waits until `file` holds `marker`, while `guard` lives; returns the file's text.
async fn wait_for(file: &Path, marker: &str, guard: &mut Guard, limit: Duration) -> Res<String> {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.contains(marker) {
            return Ok(text);
        }
        guard.alive()?;
        if t0.elapsed() > limit {
            return Err(format!("no {marker:?} in {} after {limit:?}", file.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn check(what: &str, load: &Load) -> Res<()> {
    if load.ok == 0 {
        return Err(format!(
            "{what}: no successful answer ({} errors; first: {})",
            load.errors,
            load.first_error.as_deref().unwrap_or("none")
        )
        .into());
    }
    if load.errors > 0 {
        eprintln!(
            "  warning: {what}: {} failed answers (first: {})",
            load.errors,
            load.first_error.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

/// Runs `serve` on `database` (`None`: SQLite in its folder) and loads it.
pub(crate) async fn serve(
    bin: &Path,
    database: Option<&str>,
    dialect: Dialect,
    plan: &Plan,
    phases: Phases,
) -> Res<ServeFigures> {
    let dir = tempfile::Builder::new()
        .prefix("secretstore-bench-serve.")
        .tempdir()?;
    let home = dir.path();
    let db_url = match database {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", home.join("secretstore.db").display()),
    };
    let status = procs::clean_command(bin, home)
        .current_dir(home)
        .env("DATABASE_URL", &db_url)
        .arg("init")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("{} init failed: {status}", bin.display()).into());
    }
    let env = std::fs::read_to_string(home.join(".env"))?;
    let key = env
        .lines()
        .find_map(|l| l.strip_prefix("FERNET_SECRET_KEY="))
        .ok_or("no FERNET_SECRET_KEY in the .env that init wrote")?;
    let keys = Keyring::parse(key.trim())?;

    // Seeded before the server starts, through the same fast path as in process; the
    // tasks through the service (audited), one per connection.
    eprintln!(
        "  seeding {} secrets into the server's database",
        plan.secrets
    );
    let tasks = {
        let svc = inproc::open(&db_url, 2, &keys, &home.join("briefs")).await?;
        let chain = inproc::scopes(&svc).await?;
        let pool = seed::pool(&db_url).await?;
        let secret_scopes = [chain[0].clone(), chain[1].clone(), chain[2].clone()];
        let seeded = seed::secrets(&pool, dialect, &keys, &secret_scopes, plan.secrets).await?;
        pool.close().await;
        let refs: Vec<String> = seeded.refs.iter().map(|r| r.as_str().to_string()).collect();
        let mut tasks = Vec::with_capacity(plan.connections);
        for _ in 0..plan.connections {
            let t = svc
                .create_task(&operator(), chain[3].as_str(), &refs, None)
                .await?;
            tasks.push(t.id.as_str().to_string());
        }
        svc.store.pool().close().await;
        tasks
    };

    let port = procs::free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut cmd = match &plan.wrap {
        Some(w) => {
            let mut parts = w.split_whitespace();
            let program = parts.next().ok_or("--wrap is empty")?;
            let mut c = procs::clean_command(Path::new(program), home);
            c.args(parts).arg(bin);
            c
        }
        None => procs::clean_command(bin, home),
    };
    cmd.current_dir(home)
        .arg("serve")
        .env("DATABASE_URL", &db_url)
        .env("SECRETSTORE_LISTEN", addr.to_string())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(home.join("serve.out"))?)
        .stderr(std::fs::File::create(home.join("serve.err"))?);
    let wrapped = plan.wrap.is_some();
    let grace = Duration::from_secs(if wrapped { 120 } else { 10 });
    let mut guard = if wrapped {
        Guard::spawn_group("secretstore serve (wrapped)", &mut cmd, grace)?
    } else {
        Guard::spawn("secretstore serve", &mut cmd, grace)?
    };
    let limit = Duration::from_secs(if wrapped { 300 } else { 60 });
    let out = wait_for(&home.join("serve.out"), "listening on", &mut guard, limit).await?;
    let token = out
        .split_whitespace()
        .find(|w| w.starts_with("sst_"))
        .ok_or("serve printed no root token")?
        .to_string();
    eprintln!("  serve pid {} on {addr}", guard.pid());

    // Attached after start-up: only the loads are counted.
    let mut strace = match &plan.strace {
        Some(file) => {
            let mut cmd = std::process::Command::new("strace");
            cmd.args(["-c", "-f", "-o"])
                .arg(file)
                .arg("-p")
                .arg(guard.pid().to_string())
                .stdin(Stdio::null())
                .stderr(Stdio::null());
            let g = Guard::spawn("strace", &mut cmd, Duration::from_secs(10))?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            Some(g)
        }
        None => None,
    };
    let mut figures = ServeFigures::default();
    let bearer: Arc<str> = format!("Bearer {token}").into();
    if phases.healthz {
        let make: MakeRequest =
            Arc::new(move |_, _| load::request(addr, Method::GET, "/healthz", &[], Bytes::new()));
        let paths = ["/healthz".to_string()];
        let spec = wrk::Spec {
            method: "GET",
            paths: &paths,
            headers: &[],
        };
        let l = drive(plan, &guard, home, addr, make, &spec).await?;
        check("healthz", &l)?;
        figures.healthz = Some(l);
    }
    if phases.read {
        // Every seeded secret at its scope, for both load generators.
        let paths: Arc<Vec<String>> = Arc::new(
            (0..plan.secrets)
                .map(|i| {
                    let scope = inproc::SCOPES[i % 3].0;
                    format!("/api/v1/secrets/{}/value?scope={scope}", seed::name(i))
                })
                .collect(),
        );
        let n = plan.secrets as u64;
        let auth = bearer.clone();
        let own = paths.clone();
        let make: MakeRequest = Arc::new(move |c, seq| {
            let i = ((c as u64 * 1_000_003 + seq * 7_919) % n) as usize;
            load::request(
                addr,
                Method::GET,
                &own[i],
                &[("authorization", &auth)],
                Bytes::new(),
            )
        });
        let spec = wrk::Spec {
            method: "GET",
            paths: &paths,
            headers: &[("Authorization", &bearer)],
        };
        let l = drive(plan, &guard, home, addr, make, &spec).await?;
        check("secret reads", &l)?;
        figures.read = Some(l);
    }
    if phases.dispatch {
        let auth = bearer.clone();
        let paths: Arc<Vec<String>> = Arc::new(
            tasks
                .iter()
                .map(|t| format!("/api/v1/tasks/{t}/dispatch"))
                .collect(),
        );
        let own = paths.clone();
        let make: MakeRequest = Arc::new(move |c, _| {
            load::request(
                addr,
                Method::POST,
                &own[c % own.len()],
                &[("authorization", &auth)],
                Bytes::new(),
            )
        });
        let spec = wrk::Spec {
            method: "POST",
            paths: &paths,
            headers: &[("Authorization", &bearer)],
        };
        let l = drive(plan, &guard, home, addr, make, &spec).await?;
        check("dispatches", &l)?;
        figures.dispatch = Some(l);
    }
    if let Some(s) = strace.as_mut() {
        // SIGTERM: strace detaches and writes its summary.
        s.stop();
    }
    figures.peak_rss_mib = guard.peak_rss_kib()? as f64 / 1024.0;
    guard.stop();
    Ok(figures)
}

/// One load against `server` at `addr`: through wrk when the plan has it (`spec`), else
/// through this harness's client (`make`); with the server's CPU time per answer.
async fn drive(
    plan: &Plan,
    server: &Guard,
    work: &Path,
    addr: SocketAddr,
    make: MakeRequest,
    spec: &wrk::Spec<'_>,
) -> Res<Load> {
    match &plan.wrk {
        Some(w) => {
            if !plan.warmup.is_zero() {
                wrk::run(w, work, addr, plan.connections, plan.warmup, spec)?;
            }
            let measure = async { wrk::run(w, work, addr, plan.connections, plan.measure, spec) };
            measured(server, measure).await
        }
        None => {
            measured(
                server,
                load::run(addr, plan.connections, plan.warmup, plan.measure, make),
            )
            .await
        }
    }
}

/// A load run with the server's CPU time per answer.
async fn measured(server: &Guard, run: impl Future<Output = Res<Load>>) -> Res<Load> {
    let before = server.cpu_us()?;
    let mut l = run.await?;
    let used = server.cpu_us()? - before;
    l.server_cpu_us = (l.answered > 0).then(|| used / l.answered as f64);
    Ok(l)
}

/// Where `bao` is: `--bao`, else `bao` on PATH, else the test venv's (scripts/setup.sh)
/// of the workspace or of the working folder.
pub(crate) fn find_bao(given: Option<PathBuf>, workspace: &Path) -> Option<PathBuf> {
    if given.is_some() {
        return given;
    }
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("bao"))
            .find(|b| b.is_file())
    });
    let cwd = std::env::current_dir().unwrap_or_default();
    on_path.or_else(|| {
        [workspace, cwd.as_path()]
            .iter()
            .map(|d| d.join("target/test-venv/bin/bao"))
            .find(|b| b.is_file())
    })
}

/// What the OpenBao run measured.
pub(crate) struct BaoFigures {
    /// KV v2 reads.
    pub(crate) read: Load,
    /// Its peak resident set, MiB.
    pub(crate) peak_rss_mib: f64,
    /// `bao version`.
    pub(crate) version: String,
}

/// Starts `bao server -dev` on a free port, writes one KV v2 secret and reads it under
/// the plan's load.
pub(crate) async fn openbao(bao: &Path, plan: &Plan) -> Res<BaoFigures> {
    let dir = tempfile::Builder::new()
        .prefix("secretstore-bench-bao.")
        .tempdir()?;
    let home = dir.path();
    let version = procs::clean_command(bao, home)
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let port = procs::free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let root = "bench-root";
    let mut cmd = procs::clean_command(bao, home);
    cmd.current_dir(home)
        .args(["server", "-dev", "-dev-no-store-token"])
        .arg(format!("-dev-listen-address={addr}"))
        .arg(format!("-dev-root-token-id={root}"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(home.join("bao.out"))?)
        .stderr(std::fs::File::create(home.join("bao.err"))?);
    let mut guard = Guard::spawn("bao server -dev", &mut cmd, Duration::from_secs(10))?;
    let t0 = Instant::now();
    loop {
        guard.alive()?;
        let health = load::request(addr, Method::GET, "/v1/sys/health", &[], Bytes::new());
        if matches!(load::call(addr, health).await, Ok((StatusCode::OK, _))) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            return Err("OpenBao did not become healthy within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let path = "/v1/secret/data/bench/db";
    let body = serde_json::json!({ "data": { "DB_URL": seed::value(0) } }).to_string();
    let put = load::request(
        addr,
        Method::POST,
        path,
        &[("x-vault-token", root)],
        Bytes::from(body),
    );
    let (status, answer) = load::call(addr, put).await?;
    if !status.is_success() {
        return Err(format!(
            "OpenBao refused the seed write: {status} {}",
            String::from_utf8_lossy(&answer)
        )
        .into());
    }
    let make: MakeRequest = Arc::new(move |_, _| {
        load::request(
            addr,
            Method::GET,
            path,
            &[("x-vault-token", root)],
            Bytes::new(),
        )
    });
    let paths = [path.to_string()];
    let spec = wrk::Spec {
        method: "GET",
        paths: &paths,
        headers: &[("X-Vault-Token", root)],
    };
    let read = drive(plan, &guard, home, addr, make, &spec).await?;
    check("OpenBao reads", &read)?;
    let peak_rss_mib = guard.peak_rss_kib()? as f64 / 1024.0;
    guard.stop();
    Ok(BaoFigures {
        read,
        peak_rss_mib,
        version,
    })
}
