//! `qcall bench`: measures a real `qcall serve` over loopback against an HTTP floor and a
//! naive SQLite baseline, in one run on one machine. Prints a table, then one JSON line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use qcall_client::{Client, ClientOptions};
use qcall_wire as wire;
use serde_json::json;

use crate::http::{AppError, JsonBody, MAX_BODY};

const HALLS: [&str; 3] = ["east", "west", "central"];
const SERVICES: [&str; 4] = ["filing", "invoice", "registration", "consulting"];
const CLIENTS: [usize; 4] = [1, 8, 32, 128];
/// Tickets waiting when the fan-out's clerks start calling, at least (fewer for a short run).
const FANOUT_WAITING: u64 = 3000;

pub struct Options {
    pub duration: Duration,
    pub exe: PathBuf,
    /// Tickets issued before the memory and cold-start measurement.
    pub size_tickets: u64,
    /// One client count (8) and no estimator comparison: every measurement runs, briefly
    /// (the tests' check that the benchmark works end to end).
    pub quick: bool,
    /// Instead: issuing at 32 clients on SQLite, on PostgreSQL, and on PostgreSQL with a
    /// synchronous standby (scratch servers on loopback).
    pub postgres: bool,
}

struct Proc {
    child: Child,
    port: u16,
}

impl Proc {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    /// A bench that stops early (an error, a closed pipe) leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Start `qcall serve` (or the floor) and wait for `/healthz`; returns the time that took.
async fn spawn(exe: &Path, args: &[String], port: u16) -> anyhow::Result<(Proc, Duration)> {
    let t0 = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("start server")?;
    // Killed on every way out, a failed start included.
    let mut proc = Proc { child, port };
    let client = Client::new(&format!("http://127.0.0.1:{port}"), &ClientOptions::default())?;
    loop {
        // The floor answers a plain `ok`, the server JSON: any 200 will do.
        if client.raw("GET", "/healthz", &[], None).await.is_ok_and(|r| r.status == 200) {
            return Ok((proc, t0.elapsed()));
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            bail!("server on port {port} exited with {status}");
        }
        if t0.elapsed() > Duration::from_secs(60) {
            bail!("server on port {port} did not become healthy");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A client of the server at `base` (one connection pool for all its callers).
fn client(base: &str) -> anyhow::Result<Client> {
    Ok(Client::new(base, &ClientOptions { timeout: None, ..ClientOptions::default() })?)
}

fn kiosk(c: &Client, hall: &str) -> Client {
    c.with_token(&format!("demo-kiosk-{hall}"))
}

/// `qcall serve` with `dir/qcall.toml`, on the SQLite file `dir/qcall.db`.
async fn serve(exe: &Path, dir: &Path) -> anyhow::Result<(Proc, Duration)> {
    serve_config(exe, dir, true).await
}

/// `qcall serve` with `dir/qcall.toml`; `sqlite`: on the file `dir/qcall.db` (else the
/// config's store).
async fn serve_config(exe: &Path, dir: &Path, sqlite: bool) -> anyhow::Result<(Proc, Duration)> {
    let port = free_port()?;
    let mut args = vec!["serve".into(), "--config".into(), dir.join("qcall.toml").display().to_string()];
    if sqlite {
        args.extend(["--db".into(), dir.join("qcall.db").display().to_string()]);
    }
    args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    spawn(exe, &args, port).await
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[derive(Default)]
struct Load {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: u64,
}

/// `clients` tasks POST tickets for `duration`, spread over halls and services.
async fn load(base: &str, clients: usize, duration: Duration) -> anyhow::Result<Load> {
    let c = client(base)?;
    let kiosks: Arc<Vec<Client>> = Arc::new(HALLS.iter().map(|h| kiosk(&c, h)).collect());
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let kiosks = kiosks.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = c;
            while Instant::now() < deadline {
                let hall = i % 3;
                let req = wire::IssueRequest { service: SERVICES[(i / 3) % 4].into(), priority: None, request_id: None };
                i += clients;
                let t = Instant::now();
                match kiosks[hall].issue(HALLS[hall], &req).await {
                    Ok(_) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    if errors > 0 {
        eprintln!("  ({errors} failed requests at {clients} clients)");
    }
    all.sort_by(f64::total_cmp);
    Ok(Load { rate: all.len() as f64 / secs, p50_ms: pct(&all, 0.5), p99_ms: pct(&all, 0.99), ok: all.len() as u64 })
}

async fn metrics(base: &str) -> anyhow::Result<wire::MetricsResponse> {
    Ok(client(base)?.with_token("demo-supervisor").metrics().await?)
}

/// A plain rusqlite loop: one ticket row, one commit, same pragmas.
fn baseline(path: &Path, duration: Duration) -> anyhow::Result<f64> {
    let mut conn = crate::store::open_connection(path)?;
    conn.batch(
        "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, day TEXT, hall TEXT, service TEXT, seq INTEGER,
            number TEXT, state TEXT, issued_at INTEGER, request_id TEXT)",
    )?;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        n += 1;
        conn.transaction(|c| {
            c.execute(
                "INSERT INTO tickets (day, hall, service, seq, number, state, issued_at, request_id) VALUES (?1, ?2, ?3, ?4, ?5, 'waiting', ?6, NULL)",
                crate::vals!["2026-01-01", HALLS[n as usize % 3], SERVICES[n as usize % 4], n, format!("A{n:03}"), n as i64],
            )
        })?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

struct Fanout {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    samples: usize,
    calls: usize,
}

/// 100 hall-stream subscribers (the halls' TVs, with their display tokens, as hall TVs
/// connect), 24 clerks calling and finishing with short random pauses.
async fn fanout(base: &str, duration: Duration) -> anyhow::Result<Fanout> {
    let cfg = crate::config::Config::embedded()?;
    let topo = cfg.topology.clone();
    let anon = client(base)?;
    // Sign a clerk in at every counter.
    let mut clerks = Vec::new();
    for (i, c) in topo.counters.iter().enumerate() {
        let req = wire::SessionRequest { clerk: format!("clerk{:02}", i + 1), pin: "1234".into(), counter: c.id.clone(), take_over: true };
        let r = anon.sign_in(&req).await?;
        clerks.push((c.id.clone(), anon.with_token(&r.token)));
    }
    // Enough waiting for the clerks: the load before left plenty, unless the business day
    // turned since (its tickets expired then).
    let waiting: u64 = anon.halls().await?.halls.iter().flat_map(|h| h.services.iter().map(|s| u64::from(s.waiting))).sum();
    // About what 24 clerks call in `duration` (a call and a finish every ~150 ms each).
    let want = (duration.as_secs().max(1) * 24 * 7).min(FANOUT_WAITING);
    if waiting < want {
        load_count(base, 16, want - waiting).await?;
    }
    let sent: Arc<parking_lot::Mutex<HashMap<String, Instant>>> = Arc::default();
    let samples: Arc<parking_lot::Mutex<Vec<f64>>> = Arc::default();
    let mut subs = Vec::new();
    for i in 0..100 {
        let hall = HALLS[i % 3];
        let tv = anon.with_token(&format!("demo-display-{hall}"));
        let mut stream = tv.connect_events(&wire::EventScope::Hall(hall.into()), None).await?;
        // Wait for the snapshot so every subscriber is live before the clock starts.
        stream.next_message().await;
        let sent = sent.clone();
        let samples = samples.clone();
        subs.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next_message().await {
                let now = Instant::now();
                if let wire::EventKind::TicketCalled { counter, .. } = &msg.kind {
                    if let Some(at) = sent.lock().get(counter).copied() {
                        samples.lock().push(now.duration_since(at).as_secs_f64() * 1000.0);
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for (n, (counter, clerk)) in clerks.into_iter().enumerate() {
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut calls = 0usize;
            let mut x = n as u64 * 7919 + 17;
            while Instant::now() < deadline {
                sent.lock().insert(counter.clone(), Instant::now());
                if clerk.call_next(&counter).await.is_ok() {
                    calls += 1;
                    let _ = clerk.finish(&counter).await;
                }
                // A clerk's pace: 0-200 ms between calls (deterministic per clerk).
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                tokio::time::sleep(Duration::from_millis((x >> 33) % 200)).await;
            }
            calls
        }));
    }
    let mut calls = 0;
    for t in tasks {
        calls += t.await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in subs {
        s.abort();
    }
    let mut all = std::mem::take(&mut *samples.lock());
    all.sort_by(f64::total_cmp);
    Ok(Fanout {
        p50_ms: pct(&all, 0.5),
        p99_ms: pct(&all, 0.99),
        max_ms: all.last().copied().unwrap_or(0.0),
        samples: all.len(),
        calls,
    })
}

/// Issuing at 32 clients with the store on SQLite, on PostgreSQL (fsync on), and on
/// PostgreSQL whose commits wait for a synchronous standby; one run on this machine.
async fn run_stores(opts: &Options, tmp: &Path, cfg_text: &str) -> anyhow::Result<()> {
    use crate::store::scratch::ScratchPostgres;
    let d = opts.duration;
    let clients = if opts.quick { 8 } else { 32 };
    eprintln!("qcall bench --postgres: {} s per store, {clients} clients", d.as_secs_f64());
    let sqlite_dir = tmp.join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    std::fs::write(sqlite_dir.join("qcall.toml"), cfg_text)?;
    let on_postgres = |url: &str| -> anyhow::Result<String> {
        anyhow::ensure!(cfg_text.contains("db = \"data/qcall.db\"\n"), "the demo config names its SQLite file");
        Ok(format!("{}\n[store]\nkind = \"postgres\"\nurl = \"{url}\"\n", cfg_text.replace("db = \"data/qcall.db\"\n", "")))
    };
    let single = tokio::task::spawn_blocking(|| ScratchPostgres::start(true)).await?.map_err(anyhow::Error::msg)?;
    let pair = tokio::task::spawn_blocking(ScratchPostgres::start_with_sync_standby).await?.map_err(anyhow::Error::msg)?;
    let mut rows = vec![];
    println!("{:<34} {:>10} {:>8} {:>8} {:>12}", "store", "tickets/s", "p50 ms", "p99 ms", "commits/tkt");
    for (name, url) in [("sqlite", None), ("postgres", Some(single.url("postgres"))), ("postgres + synchronous standby", Some(pair.0.url("postgres")))] {
        let (proc, _) = match &url {
            None => serve(&opts.exe, &sqlite_dir).await?,
            Some(url) => {
                let dir = tmp.join(name.replace([' ', '+'], ""));
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("qcall.toml"), on_postgres(url)?)?;
                serve_config(&opts.exe, &dir, false).await?
            }
        };
        let before = metrics(&proc.url()).await?;
        let l = load(&proc.url(), clients, d).await?;
        let after = metrics(&proc.url()).await?;
        proc.stop();
        let cpt = (after.commits - before.commits) as f64 / l.ok.max(1) as f64;
        println!("{name:<34} {:>10.0} {:>8.2} {:>8.2} {:>12.3}", l.rate, l.p50_ms, l.p99_ms, cpt);
        rows.push(json!({"store": name, "clients": clients, "rate": round(l.rate), "p50_ms": round(l.p50_ms), "p99_ms": round(l.p99_ms), "commits_per_ticket": round(cpt)}));
    }
    drop((single, pair));
    println!("{}", json!({ "stores": rows }));
    Ok(())
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let d = opts.duration;
    let tmp = std::env::temp_dir().join(format!("qcall-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    // The demo deployment without its daily cap and opening hours, so the load never sells
    // out and runs at any hour.
    let cfg_text: String = crate::config::always_open(crate::config::EMBEDDED_CONFIG)
        .lines()
        .filter(|l| !l.trim_start().starts_with("daily_cap"))
        .collect::<Vec<_>>()
        .join("\n");
    if opts.postgres {
        let r = run_stores(&opts, &tmp, &cfg_text).await;
        let _ = std::fs::remove_dir_all(&tmp);
        return r;
    }
    let srv_dir = tmp.join("server");
    let size_dir = tmp.join("size");
    for dir in [&srv_dir, &size_dir] {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("qcall.toml"), &cfg_text)?;
    }

    eprintln!("qcall bench: {} s per measurement, database under {}", d.as_secs_f64(), tmp.display());
    let (server, _) = serve(&opts.exe, &srv_dir).await?;
    let floor_port = free_port()?;
    let (floor, _) = spawn(&opts.exe, &["serve-floor".into(), "--listen".into(), format!("127.0.0.1:{floor_port}")], floor_port).await?;

    let mut issue = Vec::new();
    println!("{:>8} {:>10} {:>8} {:>8} {:>12} {:>10} {:>11} {:>10}", "clients", "tickets/s", "p50 ms", "p99 ms", "commits/tkt", "floor/s", "vs floor", "naive/s");
    let naive = {
        let p = tmp.join("naive.db");
        tokio::task::spawn_blocking(move || baseline(&p, d)).await??
    };
    let levels: &[usize] = if opts.quick { &[8] } else { &CLIENTS };
    for &clients in levels {
        let before = metrics(&server.url()).await?;
        let l = load(&server.url(), clients, d).await?;
        let after = metrics(&server.url()).await?;
        let commits = after.commits - before.commits;
        let busy = after.writer_busy_us - before.writer_busy_us;
        eprintln!("  writer busy {:.0}% of the run at {clients} clients", busy as f64 / d.as_micros() as f64 * 100.0);
        let f = load(&floor.url(), clients, d).await?;
        let cpt = commits as f64 / l.ok.max(1) as f64;
        println!(
            "{clients:>8} {:>10.0} {:>8.2} {:>8.2} {:>12.3} {:>10.0} {:>10.0}% {:>10.0}",
            l.rate,
            l.p50_ms,
            l.p99_ms,
            cpt,
            f.rate,
            100.0 * l.rate / f.rate.max(1.0),
            naive
        );
        issue.push(json!({
            "clients": clients, "rate": round(l.rate), "p50_ms": round(l.p50_ms), "p99_ms": round(l.p99_ms),
            "commits_per_ticket": round(cpt), "floor_rate": round(f.rate), "baseline_rate": round(naive),
        }));
    }
    floor.stop();

    // Estimates: what a recompute of a whole hall costs, the forward run and the forked
    // forecast (off the writer's path); and issuing at 32 clients with the configured
    // estimator against the forward one on a server of its own in this run.
    let recompute: Vec<(usize, f64, f64)> = [50, 300, 1000].into_iter().map(|n| (n, forward_recompute_us(n), forecast_cpu_ms(n))).collect();
    println!(
        "estimates: recompute of a hall with {}",
        recompute.iter().map(|(n, us, ms)| format!("{n} waiting: forward {us:.0} µs, forked {ms:.1} ms CPU")).collect::<Vec<_>>().join("; ")
    );
    let forward_dir = tmp.join("forward");
    std::fs::create_dir_all(&forward_dir)?;
    std::fs::write(forward_dir.join("qcall.toml"), with_estimator(&cfg_text, "forward")?)?;
    let (configured, forward) = if opts.quick {
        (Load::default(), Load::default())
    } else {
        let configured = load(&server.url(), 32, d).await?;
        let (forward_server, _) = serve(&opts.exe, &forward_dir).await?;
        let forward = load(&forward_server.url(), 32, d).await?;
        forward_server.stop();
        (configured, forward)
    };
    let estimator = crate::config::Config::parse(&cfg_text, "bench").map(|c| c.topology.estimates.estimator.name()).unwrap_or("?");
    if !opts.quick {
        println!(
            "estimates: issuing at 32 clients: {estimator} {:.0}/s p99 {:.2} ms; forward {:.0}/s p99 {:.2} ms",
            configured.rate, configured.p99_ms, forward.rate, forward.p99_ms
        );
    }

    let fo = fanout(&server.url(), d).await?;
    println!(
        "fan-out: 100 subscribers, 24 clerks, {} calls, {} deliveries: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        fo.calls, fo.samples, fo.p50_ms, fo.p99_ms, fo.max_ms
    );
    server.stop();

    // Size: 100 000 tickets, then RSS and a cold start.
    let (sized, _) = serve(&opts.exe, &size_dir).await?;
    let mut issued = 0u64;
    while issued < opts.size_tickets {
        let l = load_count(&sized.url(), 64, opts.size_tickets - issued).await?;
        issued += l;
    }
    let rss = sized.rss_mb();
    sized.stop();
    let (again, cold) = serve(&opts.exe, &size_dir).await?;
    let halls = client(&again.url())?.halls().await?;
    let waiting: u32 = halls.halls.iter().flat_map(|h| h.services.iter().map(|s| s.waiting)).sum();
    again.stop();
    println!("size: RSS {rss:.1} MB after {issued} tickets; cold start {:.0} ms ({waiting} waiting tickets restored)", cold.as_secs_f64() * 1000.0);
    let _ = std::fs::remove_dir_all(&tmp);

    let out = json!({
        "issue": issue,
        "fanout": { "subscribers": 100, "p50_ms": round(fo.p50_ms), "p99_ms": round(fo.p99_ms), "max_ms": round(fo.max_ms) },
        "estimates": {
            "recompute": recompute.iter().map(|(n, us, ms)| json!({"waiting": n, "forward_us": round(*us), "forked_cpu_ms": round(*ms)})).collect::<Vec<_>>(),
            "estimator": estimator,
            "rate_32": round(configured.rate), "p99_ms_32": round(configured.p99_ms),
            "rate_32_forward": round(forward.rate), "p99_ms_32_forward": round(forward.p99_ms),
        },
        "rss_mb": round(rss),
        "cold_start_ms": round(cold.as_secs_f64() * 1000.0),
    });
    println!("{out}");
    Ok(())
}

/// `cfg_text` with `estimator` chosen instead of the configured one.
fn with_estimator(cfg_text: &str, estimator: &str) -> anyhow::Result<String> {
    let line = cfg_text.lines().filter(|l| l.trim_start().starts_with("estimator =")).collect::<Vec<_>>();
    anyhow::ensure!(line.len() == 1, "the config must choose its estimator exactly once");
    Ok(cfg_text.replace(line[0], &format!("estimator = \"{estimator}\"")))
}

/// Mean µs of one forward run over the east hall of the demo deployment (always open, every
/// counter signed in and serving) with `waiting` tickets spread over its services.
fn forward_recompute_us(waiting: usize) -> f64 {
    let Some((st, east, at)) = bench_hall(waiting) else { return f64::NAN };
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(st.forward(east, at, None));
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
}

/// Mean CPU ms of one forked forecast ([`crate::forecast`]'s round: the hall's tickets, a new
/// ticket of each service, the what-if) of the same hall, on this thread.
fn forecast_cpu_ms(waiting: usize) -> f64 {
    let Some((st, east, at)) = bench_hall(waiting) else { return f64::NAN };
    let rounds = 5;
    let started = thread_cpu_s();
    for i in 0..rounds {
        std::hint::black_box(st.forecast(east, at + i, true, Some(20)));
    }
    (thread_cpu_s() - started) * 1000.0 / rounds as f64
}

/// CPU seconds this thread has used (Linux: the first figure of its `schedstat`, ns on a CPU).
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()))
        .map_or(f64::NAN, |ns| ns / 1e9)
}

/// The east hall of the demo deployment (always open, every counter but the last signed in and
/// serving: the what-if opens that one) with `waiting` tickets spread over its services, taken
/// over the last two hours.
fn bench_hall(waiting: usize) -> Option<(crate::domain::State, usize, crate::domain::Millis)> {
    use crate::domain::{Command, Priority, State};
    let cfg = crate::config::Config::parse(&crate::config::always_open(crate::config::EMBEDDED_CONFIG), "bench").ok()?;
    let topo = cfg.topology.clone();
    let now = topo.day_start(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()) + 9 * 3_600_000;
    let mut st = State::new(topo.clone(), now);
    let east = topo.hall_ix("east").unwrap_or(0);
    let mine: Vec<usize> = (0..topo.counters.len()).filter(|&c| topo.counters[c].hall == east).collect();
    for &c in &mine[..mine.len().saturating_sub(1)] {
        let _ = st.apply(Command::SignIn { counter: c, clerk: format!("bench{c}"), take_over: true }, now);
        let _ = st.apply(Command::CallNext { counter: c }, now);
    }
    // Taken evenly over two hours (a busy hall's rate), nobody called yet.
    let span: i64 = 2 * 3_600_000;
    for i in 0..waiting {
        let service = i % topo.services.len();
        let priority = if i % 25 == 0 { Priority::Priority } else { Priority::Normal };
        let _ = st.apply(Command::Issue { hall: east, service, priority, request_id: None }, now + i as i64 * span / waiting as i64);
    }
    Some((st, east, now + span))
}

/// Issue exactly `n` tickets with `clients` tasks; returns how many succeeded.
async fn load_count(base: &str, clients: usize, n: u64) -> anyhow::Result<u64> {
    let c = client(base)?;
    let kiosks: Arc<Vec<Client>> = Arc::new(HALLS.iter().map(|h| kiosk(&c, h)).collect());
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (kiosks, next) = (kiosks.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break ok;
                }
                let hall = i as usize % 3;
                let req = wire::IssueRequest { service: SERVICES[(i as usize / 3) % 4].into(), priority: None, request_id: None };
                if kiosks[hall].issue(HALLS[hall], &req).await.is_ok() {
                    ok += 1;
                }
            }
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await?;
    }
    Ok(ok)
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The HTTP floor: the same server stack (router, body limit, tracing layer, strict JSON and
/// bearer parsing) answering a fixed ticket-shaped JSON without touching the domain or store.
pub async fn serve_floor(listen: &str) -> anyhow::Result<()> {
    use axum::routing::{get, post};
    let ticket = wire::Ticket {
        id: 1,
        number: "A001".into(),
        hall: "east".into(),
        service: "filing".into(),
        priority: wire::Priority::Normal,
        state: wire::TicketState::Waiting,
        day: "2026-01-01".into(),
        issued_at: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
        waiting_ahead: 0,
        est_wait_s: 0,
        est_wait_range_s: None,
        counter: None,
        counter_number: None,
        call_count: 0,
        transferred: false,
        appointment: None,
        overtime: false,
        unstaffed: false,
        remote: None,
        page: None,
    };
    let ticket = Arc::new(ticket);
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/api/v1/halls/{hall}/tickets",
            post(move |headers: axum::http::HeaderMap, JsonBody(_req): JsonBody<wire::IssueRequest>| {
                let ticket = ticket.clone();
                async move {
                    if !headers.contains_key(axum::http::header::AUTHORIZATION) {
                        return Err(AppError::unauthorized());
                    }
                    Ok((axum::http::StatusCode::CREATED, axum::Json((*ticket).clone())))
                }
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(axum::serve::ListenerExt::tap_io(listener, |t: &mut tokio::net::TcpStream| crate::http::no_delay(t)), app).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_comparison_server_runs_the_forward_estimator() {
        let text = super::with_estimator(&crate::config::always_open(crate::config::EMBEDDED_CONFIG), "forward").unwrap();
        let cfg = crate::config::Config::parse(&text, "bench").unwrap();
        assert_eq!(cfg.topology.estimates.estimator, crate::domain::estimate::Estimator::Forward);
    }
}
