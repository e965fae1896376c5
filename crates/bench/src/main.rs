//! secretstore's benchmark harness (issue #13; BENCHMARKS.md has the method and figures).
//!
//! ```text
//! cargo run --release -p secretstore-bench -- [--quick] [--json] [--postgres [URL]]
//! ```
//!
//! In process, for 1,000 and 1,000,000 secrets (100,000 with `--quick`): a 20-ref
//! resolution and whole dispatch on the local backend through `secretstore_core::Service`
//! (p50, p99) against its floor measured in the same run, 20 × (one primary-key read +
//! one Fernet decrypt). Over HTTP, against the real `secretstore serve` it starts in a
//! folder of its own: `/healthz`, secret reads and 20-ref dispatches with 32 connections,
//! the server's peak RSS; and OpenBao's KV v2 reads under the same load when `bao` is
//! there. With `--postgres`, the same figures on PostgreSQL. Leak detection (#17): the
//! matcher of 10,000 values in every encoding over 100 MB of log lines (10 MB with
//! `--quick`) beside `grep -F` of the same literals. With `--json` the last line of the
//! output is one JSON object of every figure. Figures are printed, never asserted (but a
//! leak scan that misses a planted value, or finds one not planted, fails the run).

mod generators;
mod http;
mod inproc;
mod leaks;
mod load;
mod pg;
mod procs;
mod seed;
mod stats;
mod wrk;

use clap::{Parser, ValueEnum};
use secretstore_store::Dialect;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The harness's error: a message for the terminal.
pub(crate) type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Parser, Debug)]
#[command(
    name = "secretstore-bench",
    about = "secretstore's benchmark harness: in-process dispatch against its floor, serve under load beside OpenBao"
)]
struct Args {
    /// Under five minutes on two cores: 100,000 secrets instead of 1,000,000, shorter loads.
    #[arg(long)]
    quick: bool,
    /// End the output with one line of JSON holding every figure.
    #[arg(long)]
    json: bool,
    /// Also on PostgreSQL: an administrator's URL (rights to CREATE DATABASE); without a
    /// value, SECRETSTORE_TEST_PG_URL (`scripts/services.sh start` prints it).
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "URL")]
    postgres: Option<String>,
    /// Only this part.
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// The `secretstore` binary (default: the one beside this harness, built if missing).
    #[arg(long, value_name = "PATH")]
    secretstore_bin: Option<PathBuf>,
    /// The `bao` binary (default: on PATH, else target/test-venv/bin/bao).
    #[arg(long, value_name = "PATH")]
    bao: Option<PathBuf>,
    /// Seconds each HTTP load is counted (default 8; 3 with --quick).
    #[arg(long)]
    seconds: Option<f64>,
    /// Seconds of warm-up before each HTTP load is counted (default 2; 1 with --quick).
    #[arg(long)]
    warmup: Option<f64>,
    /// Concurrent connections of each HTTP load.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Secrets of the large in-process data set (default 1,000,000; 100,000 with --quick).
    #[arg(long)]
    large: Option<usize>,
    /// Secrets seeded into the server's database.
    #[arg(long, default_value_t = 20_000)]
    http_secrets: usize,
    /// A command put before `secretstore serve`, split on spaces (for profiling, e.g.
    /// "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out").
    #[arg(long, value_name = "CMD")]
    wrap: Option<String>,
    /// Generate the HTTP loads with wrk (Debian's package, on PATH) instead of this
    /// harness's own client, for every server alike.
    #[arg(long)]
    wrk: bool,
    /// Attach `strace -c -f` to the server for its loads; the summary goes to FILE.
    #[arg(long, value_name = "FILE")]
    strace: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    /// The in-process figures.
    Inproc,
    /// Every HTTP figure (serve and OpenBao).
    Http,
    /// serve's /healthz.
    Healthz,
    /// serve's secret reads.
    Read,
    /// serve's dispatches.
    Dispatch,
    /// OpenBao's reads.
    Openbao,
    /// Leak detection: the matcher's build and scan beside `grep -F`.
    Leaks,
}

/// The small data set.
const SMALL: usize = 1_000;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate is crates/bench).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `secretstore` binary: given, or beside this one (the same profile), built if missing.
fn secretstore_bin(given: Option<PathBuf>) -> Res<PathBuf> {
    if let Some(b) = given {
        return Ok(b);
    }
    let me = std::env::current_exe()?;
    let dir = me.parent().ok_or("the harness's own folder is unknown")?;
    let bin = dir.join("secretstore");
    if !bin.is_file() {
        eprintln!(
            "building {} (cargo build --release -p secretstore)",
            bin.display()
        );
        let status =
            std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
                .current_dir(workspace())
                .args(["build", "--release", "-p", "secretstore", "--locked"])
                .status()?;
        if !status.success() || !bin.is_file() {
            return Err(format!("cannot build {}", bin.display()).into());
        }
    }
    Ok(bin)
}

struct Report {
    figures: Map<String, Value>,
}

impl Report {
    fn set(&mut self, key: &str, v: impl Into<Value>) {
        self.figures.insert(key.to_string(), v.into());
    }
}

/// Rounded for print and JSON: one decimal.
fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounded to two decimals (ratios).
fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

async fn run(args: Args) -> Res<()> {
    let started = Instant::now();
    let wants = |o: Only| match args.only {
        None => true,
        Some(Only::Http) => matches!(
            o,
            Only::Healthz | Only::Read | Only::Dispatch | Only::Openbao
        ),
        Some(x) => x == o,
    };
    let large = args
        .large
        .unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
    let measure =
        Duration::from_secs_f64(args.seconds.unwrap_or(if args.quick { 3.0 } else { 8.0 }));
    let warmup = Duration::from_secs_f64(args.warmup.unwrap_or(if args.quick { 1.0 } else { 2.0 }));
    let iterations = if args.quick {
        inproc::Iterations {
            resolve: 300,
            dispatch: 100,
        }
    } else {
        inproc::Iterations {
            resolve: 2_000,
            dispatch: 500,
        }
    };
    let postgres = match &args.postgres {
        None => None,
        Some(u) if !u.is_empty() => Some(u.clone()),
        Some(_) => Some(std::env::var("SECRETSTORE_TEST_PG_URL").map_err(|_| {
            "--postgres without a URL reads SECRETSTORE_TEST_PG_URL, which is not set (scripts/services.sh start prints it)"
        })?),
    };
    let mut report = Report {
        figures: Map::new(),
    };
    report.set("quick", args.quick);
    report.set("connections", args.connections as u64);
    report.set("small_secrets", SMALL as u64);
    report.set("large_secrets", large as u64);
    report.set("http_secrets", args.http_secrets as u64);
    println!(
        "secretstore-bench{}: in process {SMALL} and {large} secrets{}; HTTP {} connections, {:.0} s warm-up + {:.0} s each, {} secrets",
        if args.quick { " --quick" } else { "" },
        if args.quick {
            " (1,000,000 without --quick)"
        } else {
            ""
        },
        args.connections,
        warmup.as_secs_f64(),
        measure.as_secs_f64(),
        args.http_secrets,
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} cores; {}; load average at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let dialects: Vec<(Dialect, &str, Option<&str>)> = std::iter::once((Dialect::Sqlite, "", None))
        .chain(
            postgres
                .as_deref()
                .map(|u| (Dialect::Postgres, "pg_", Some(u))),
        )
        .collect();

    if wants(Only::Inproc) {
        for (dialect, prefix, admin) in &dialects {
            inprocess(&mut report, *dialect, prefix, *admin, large, iterations).await?;
        }
    }

    // Per-task credentials: a real PostgreSQL server is needed for the role it mints.
    if wants(Only::Inproc) {
        match postgres
            .clone()
            .or_else(|| std::env::var("SECRETSTORE_TEST_PG_URL").ok())
        {
            Some(admin) => {
                let rounds = if args.quick { 30 } else { 200 };
                let f = generators::measure(&admin, rounds).await?;
                println!(
                    "per-task credentials (SQLite, a real PostgreSQL, {rounds} rounds): dispatch of 1 stored secret p50 {:.2} ms p99 {:.2} ms; of 1 stored + 1 postgres generator p50 {:.2} ms p99 {:.2} ms; revoking its role p50 {:.2} ms p99 {:.2} ms",
                    f.static_only.p50,
                    f.static_only.p99,
                    f.with_generator.p50,
                    f.with_generator.p99,
                    f.revoke.p50,
                    f.revoke.p99,
                );
                report.set("generator_static_dispatch_p50_ms", r1(f.static_only.p50));
                report.set("generator_dispatch_p50_ms", r1(f.with_generator.p50));
                report.set("generator_dispatch_p99_ms", r1(f.with_generator.p99));
                report.set("generator_revoke_p50_ms", r1(f.revoke.p50));
            }
            None => println!(
                "per-task credentials: skipped (no PostgreSQL: --postgres URL or SECRETSTORE_TEST_PG_URL)"
            ),
        }
    }

    if wants(Only::Leaks) {
        leak_scan(&mut report, args.quick)?;
    }

    let plan = http::Plan {
        connections: args.connections,
        warmup,
        measure,
        secrets: args.http_secrets,
        wrap: args.wrap.clone(),
        strace: args.strace.clone(),
        wrk: if args.wrk {
            Some(wrk::find().ok_or("--wrk: no wrk on PATH (apt-get install wrk)")?)
        } else {
            None
        },
    };
    report.set(
        "load_generator",
        if plan.wrk.is_some() { "wrk" } else { "own" },
    );
    println!(
        "HTTP loads generated by {}",
        if plan.wrk.is_some() {
            "wrk -t2 (--wrk)"
        } else {
            "this harness's client (hyper; --wrk for wrk)"
        }
    );
    let phases = http::Phases {
        healthz: wants(Only::Healthz),
        read: wants(Only::Read),
        dispatch: wants(Only::Dispatch),
    };
    if phases.healthz || phases.read || phases.dispatch {
        let bin = secretstore_bin(args.secretstore_bin.clone())?;
        for (dialect, prefix, admin) in &dialects {
            let db = match admin {
                Some(a) => Some(pg::Database::create(a, "serve").await?),
                None => None,
            };
            println!("serve on {} ({}):", name(*dialect), bin.display());
            let result = http::serve(
                &bin,
                db.as_ref().map(|d| d.url.as_str()),
                *dialect,
                &plan,
                phases,
            )
            .await;
            if let Some(db) = db {
                db.drop_now().await?;
            }
            let f = result?;
            let mut put = |what: &str, key: &str, l: &Option<load::Load>| {
                if let Some(l) = l {
                    println!(
                        "  {what:<22} {:>9.0} /s   p50 {:>7.0} µs   p99 {:>7.0} µs   ({} answers counted, {} in all, {} errors)",
                        l.rps, l.p50_us, l.p99_us, l.ok, l.answered, l.errors
                    );
                    report.set(&format!("{prefix}{key}_rps"), r1(l.rps));
                    report.set(&format!("{prefix}{key}_p50_us"), r1(l.p50_us));
                    report.set(&format!("{prefix}{key}_p99_us"), r1(l.p99_us));
                    report.set(&format!("{prefix}{key}_errors"), l.errors);
                    if let Some(cpu) = l.server_cpu_us {
                        println!("  {:<22} {cpu:>9.0} µs of server CPU per answer", "");
                        report.set(&format!("{prefix}{key}_server_cpu_us"), r1(cpu));
                    }
                }
            };
            put("/healthz", "healthz", &f.healthz);
            put("secret reads", "read", &f.read);
            put("20-ref dispatches", "dispatch", &f.dispatch);
            println!("  peak RSS (VmHWM)       {:>9.1} MiB", f.peak_rss_mib);
            report.set(&format!("{prefix}peak_rss_mib"), r1(f.peak_rss_mib));
            if let (Some(read), Some(h)) = (&f.read, &f.healthz) {
                report.set(&format!("{prefix}read_vs_healthz"), r2(read.rps / h.rps));
            }
        }
    }

    if wants(Only::Openbao) && args.wrap.is_none() {
        match http::find_bao(args.bao.clone(), &workspace()) {
            None => {
                println!("OpenBao: no bao binary (scripts/setup.sh installs one); not measured")
            }
            Some(bao) => {
                println!("OpenBao dev server, KV v2 ({}):", bao.display());
                let b = http::openbao(&bao, &plan).await?;
                println!(
                    "  KV v2 reads            {:>9.0} /s   p50 {:>7.0} µs   p99 {:>7.0} µs   ({} answers, {} errors); peak RSS {:.1} MiB; {}",
                    b.read.rps,
                    b.read.p50_us,
                    b.read.p99_us,
                    b.read.ok,
                    b.read.errors,
                    b.peak_rss_mib,
                    b.version
                );
                if let Some(cpu) = b.read.server_cpu_us {
                    println!("  {:<22} {cpu:>9.0} µs of server CPU per answer", "");
                    report.set("openbao_read_server_cpu_us", r1(cpu));
                }
                report.set("openbao_read_rps", r1(b.read.rps));
                report.set("openbao_read_p50_us", r1(b.read.p50_us));
                report.set("openbao_read_p99_us", r1(b.read.p99_us));
                report.set("openbao_peak_rss_mib", r1(b.peak_rss_mib));
                report.set("openbao_version", b.version);
                for (_, prefix, _) in &dialects {
                    let get = |k: &str| {
                        report
                            .figures
                            .get(&format!("{prefix}{k}"))
                            .and_then(Value::as_f64)
                    };
                    let (read, dispatch) = (get("read_rps"), get("dispatch_rps"));
                    if let Some(read) = read {
                        report.set(&format!("{prefix}read_vs_openbao"), r2(read / b.read.rps));
                    }
                    if let Some(d) = dispatch {
                        report.set(
                            &format!("{prefix}dispatch_vs_openbao_20_reads"),
                            r2(d / (b.read.rps / seed::REFS as f64)),
                        );
                    }
                }
            }
        }
    }

    summary(&report);
    report.set("seconds", r1(started.elapsed().as_secs_f64()));
    if args.json {
        println!("{}", Value::Object(report.figures));
    }
    Ok(())
}

/// The leak matcher's figures (issue #17).
fn leak_scan(report: &mut Report, quick: bool) -> Res<()> {
    let plan = leaks::Plan {
        values: 10_000,
        input_bytes: if quick { 10_000_000 } else { 100_000_000 },
        rounds: if quick { 3 } else { 5 },
    };
    let mb = plan.input_bytes as f64 / 1e6;
    eprintln!(
        "  leak detection: {} values, {mb:.0} MB of log lines",
        plan.values
    );
    let f = leaks::measure(&plan)?;
    println!(
        "leak detection ({} values of 16–64 bytes, {mb:.0} MB of log lines, {} plants all found and nothing else; median of {} scans):",
        plan.values, f.planted, plan.rounds
    );
    println!(
        "  every encoding         {:>8.1} MB/s   build {:.2} s, {} patterns, +{:.0} MiB resident",
        f.find_mb_s, f.build_s, f.patterns, f.matcher_rss_mib
    );
    println!(
        "  exact forms only       {:>8.1} MB/s   build {:.1} ms (one automaton of the values, as the matcher builds its own)",
        f.exact_find_mb_s, f.exact_build_ms
    );
    report.set("leaks_values", plan.values as u64);
    report.set("leaks_input_mb", r1(mb));
    report.set("leaks_patterns", f.patterns as u64);
    report.set("leaks_build_s", r2(f.build_s));
    report.set("leaks_find_mb_s", r1(f.find_mb_s));
    report.set("leaks_matcher_rss_mib", r1(f.matcher_rss_mib));
    report.set("leaks_exact_build_ms", r1(f.exact_build_ms));
    report.set("leaks_exact_find_mb_s", r1(f.exact_find_mb_s));
    match f.grep {
        Some(g) => {
            println!(
                "  grep -F (exact forms)  {:>8.1} MB/s   whole runs, of which {:.0} ms start and compile the literals (LC_ALL=C grep -F -c -f; {})",
                g.mb_s, g.startup_ms, g.version
            );
            report.set("leaks_grep_mb_s", r1(g.mb_s));
            report.set("leaks_grep_startup_ms", r1(g.startup_ms));
            report.set("leaks_grep_version", g.version);
        }
        None => println!("  grep -F: no grep on PATH; not measured"),
    }
    Ok(())
}

fn name(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "SQLite",
        Dialect::Postgres => "PostgreSQL",
    }
}

/// The in-process figures of one database, for both data sets.
async fn inprocess(
    report: &mut Report,
    dialect: Dialect,
    prefix: &str,
    admin: Option<&str>,
    large: usize,
    it: inproc::Iterations,
) -> Res<()> {
    println!("in process on {} (local backend, 20 refs):", name(dialect));
    let mut p50 = Vec::new();
    let mut audit = Vec::new();
    let mut search = Vec::new();
    for (label, n) in [("small", SMALL), ("large", large)] {
        let work = tempfile::Builder::new()
            .prefix("secretstore-bench-inproc.")
            .tempdir()?;
        let db = match admin {
            Some(a) => Some(pg::Database::create(a, label).await?),
            None => None,
        };
        let url = match &db {
            Some(d) => d.url.clone(),
            None => format!("sqlite://{}", work.path().join("bench.db").display()),
        };
        eprintln!("  seeding {n} secrets ({})", name(dialect));
        let result = inproc::measure(&url, dialect, work.path(), n, it).await;
        if let Some(db) = db {
            db.drop_now().await?;
        }
        let f = result?;
        println!(
            "  {n:>9} secrets: seeded in {:.1} s ({:.0}/s); resolve p50 {:.0} µs p99 {:.0} µs; dispatch p50 {:.0} µs p99 {:.0} µs; floor {:.0} µs (20 pk reads in one statement + 20 decrypts of {:.2} µs; through sqlx {:.0} µs; as 20 sqlx statements {:.0} µs); pool acquire {:.1} µs ({:.1} µs untested)",
            f.seed_seconds,
            f.rows as f64 / f.seed_seconds,
            f.resolve.p50,
            f.resolve.p99,
            f.dispatch.p50,
            f.dispatch.p99,
            f.floor.p50,
            f.decrypt_us,
            f.floor_sqlx.p50,
            f.floor_sequential.p50,
            f.acquire_us,
            f.acquire_untested_us,
        );
        let k = |s: &str| format!("{prefix}{label}_{s}");
        report.set(&k("resolve_p50_us"), r1(f.resolve.p50));
        report.set(&k("resolve_p99_us"), r1(f.resolve.p99));
        report.set(&k("dispatch_p50_us"), r1(f.dispatch.p50));
        report.set(&k("dispatch_p99_us"), r1(f.dispatch.p99));
        report.set(&k("floor_us"), r1(f.floor.p50));
        report.set(&k("seed_rows_per_s"), r1(f.rows as f64 / f.seed_seconds));
        report.set(&k("audit_page_p50_us"), r1(f.audit_page.p50));
        report.set(&k("audit_name_page_p50_us"), r1(f.audit_name.p50));
        report.set(&k("audit_access_page_p50_us"), r1(f.audit_access.p50));
        report.set(&k("search_page_p50_us"), r1(f.search_page.p50));
        report.set(&k("search_rare_p50_us"), r1(f.search_rare.p50));
        if label == "small" {
            // The headline figures are those of the small data set.
            report.set(&format!("{prefix}resolve_p50_us"), r1(f.resolve.p50));
            report.set(&format!("{prefix}resolve_p99_us"), r1(f.resolve.p99));
            report.set(
                &format!("{prefix}inproc_dispatch_p50_us"),
                r1(f.dispatch.p50),
            );
            report.set(
                &format!("{prefix}inproc_dispatch_p99_us"),
                r1(f.dispatch.p99),
            );
            report.set(&format!("{prefix}floor_us"), r1(f.floor.p50));
            report.set(&format!("{prefix}floor_sqlx_us"), r1(f.floor_sqlx.p50));
            report.set(&format!("{prefix}pool_acquire_us"), r1(f.acquire_us));
            report.set(
                &format!("{prefix}pool_acquire_untested_us"),
                r1(f.acquire_untested_us),
            );
            report.set(
                &format!("{prefix}floor_sequential_us"),
                r1(f.floor_sequential.p50),
            );
            report.set(&format!("{prefix}decrypt_us"), r2(f.decrypt_us));
            report.set(
                &format!("{prefix}resolve_vs_floor"),
                r2(f.resolve.p50 / f.floor.p50),
            );
            report.set(
                &format!("{prefix}inproc_dispatch_vs_floor"),
                r2(f.dispatch.p50 / f.floor.p50),
            );
            if dialect == Dialect::Sqlite {
                report.set("fernet_decrypts_per_s", (1e6 / f.decrypt_us).round());
            }
        }
        p50.push((f.resolve.p50, f.dispatch.p50));
        audit.push([f.audit_page.p50, f.audit_name.p50, f.audit_access.p50]);
        search.push([f.search_page.p50, f.search_rare.p50]);
    }
    if let [lo, hi] = search[..] {
        // A search of the four kinds stops at its page: flat while hits are common; a part
        // of one name only walks every name (a scan of the name index, not a seek).
        report.set(
            &format!("{prefix}search_page_scaling_ratio"),
            r2(hi[0] / lo[0]),
        );
        report.set(
            &format!("{prefix}search_rare_scaling_ratio"),
            r2(hi[1] / lo[1]),
        );
        println!(
            "  searches (p50 µs, {SMALL} → {large} secrets): a page of hits {:.0} → {:.0} (ratio {:.2}); a part of one name {:.0} → {:.0} (ratio {:.2}, a scan)",
            lo[0],
            hi[0],
            hi[0] / lo[0],
            lo[1],
            hi[1],
            hi[1] / lo[1]
        );
    }
    if let [lo, hi] = audit[..] {
        // How much dearer a page is on the large log than on the small one (each kind).
        let ratio = (0..3).map(|i| hi[i] / lo[i]).fold(0.0, f64::max);
        report.set(&format!("{prefix}audit_scaling_ratio"), r2(ratio));
        println!(
            "  audit pages (p50 µs, {SMALL} → {large} records): newest 100 {:.0} → {:.0}, 100 by name {:.0} → {:.0}, 10 of an access list {:.0} → {:.0}; worst ratio {ratio:.2}",
            lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]
        );
    }
    if let [(rs, ds), (rl, dl)] = p50[..] {
        report.set(&format!("{prefix}scaling_ratio"), r2(rl / rs));
        report.set(&format!("{prefix}dispatch_scaling_ratio"), r2(dl / ds));
        println!(
            "  resolve_vs_floor {:.2}; scaling_ratio {:.2} (resolve p50 at {large} / at {SMALL}); dispatch {:.2}",
            report.figures[&format!("{prefix}resolve_vs_floor")]
                .as_f64()
                .unwrap_or(f64::NAN),
            rl / rs,
            dl / ds
        );
    }
    Ok(())
}

/// The targets of issue #13 beside the figures (printed, never asserted).
fn summary(report: &Report) {
    let f = |k: &str| report.figures.get(k).and_then(Value::as_f64);
    let line = |what: &str, value: Option<f64>, target: &str, ok: fn(f64) -> bool| {
        if let Some(v) = value {
            println!(
                "  {what:<44} {v:>8.2}   target {target:<8} {}",
                if ok(v) { "met" } else { "NOT met" }
            );
        }
    };
    println!("targets (issue #13):");
    for prefix in ["", "pg_"] {
        let k = |s: &str| f(&format!("{prefix}{s}"));
        let db = if prefix.is_empty() {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        line(
            &format!("{db}: reads ÷ OpenBao reads"),
            k("read_vs_openbao"),
            "≥ 3",
            |v| v >= 3.0,
        );
        line(
            &format!("{db}: reads ÷ own /healthz"),
            k("read_vs_healthz"),
            "≥ 0.25",
            |v| v >= 0.25,
        );
        line(
            &format!("{db}: dispatches ÷ (OpenBao reads ÷ 20)"),
            k("dispatch_vs_openbao_20_reads"),
            "≥ 10",
            |v| v >= 10.0,
        );
        line(
            &format!("{db}: resolve_vs_floor"),
            k("resolve_vs_floor"),
            "≤ 3",
            |v| v <= 3.0,
        );
        line(
            &format!("{db}: scaling_ratio"),
            k("scaling_ratio"),
            "≤ 1.5",
            |v| v <= 1.5,
        );
        line(
            &format!("{db}: peak RSS, MiB"),
            k("peak_rss_mib"),
            "≤ 64",
            |v| v <= 64.0,
        );
    }
}

/// The CPU's model name, from /proc/cpuinfo.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
