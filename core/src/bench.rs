//! `qcall bench`: measures a real `qcall serve` over loopback against an HTTP floor and a
//! naive SQLite baseline, in one run on one machine. Prints a table, then one JSON line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use qcall_wire as wire;
use serde::Deserialize;
use serde_json::json;

use crate::server::{AppError, JsonBody, MAX_BODY};

const HALLS: [&str; 3] = ["east", "west", "central"];
const SERVICES: [&str; 4] = ["filing", "invoice", "registration", "consulting"];
const CLIENTS: [usize; 4] = [1, 8, 32, 128];

pub struct Options {
    pub duration: Duration,
    pub exe: PathBuf,
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
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    loop {
        if let Ok(r) = http.get(&url).send().await {
            if r.status().is_success() {
                return Ok((Proc { child, port }, t0.elapsed()));
            }
        }
        if t0.elapsed() > Duration::from_secs(60) {
            bail!("server on port {port} did not become healthy");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn serve(exe: &Path, dir: &Path) -> anyhow::Result<(Proc, Duration)> {
    let port = free_port()?;
    let args = vec![
        "serve".into(),
        "--config".into(),
        dir.join("qcall.toml").display().to_string(),
        "--db".into(),
        dir.join("qcall.db").display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ];
    spawn(exe, &args, port).await
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Load {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: u64,
}

/// `clients` tasks POST tickets for `duration`, spread over halls and services.
async fn load(base: &str, clients: usize, duration: Duration) -> anyhow::Result<Load> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = http.clone();
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = c;
            while Instant::now() < deadline {
                let hall = HALLS[i % 3];
                let body = json!({ "service": SERVICES[(i / 3) % 4] }).to_string();
                i += clients;
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/halls/{hall}/tickets"))
                    .bearer_auth(format!("demo-kiosk-{hall}"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
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

async fn metrics(base: &str) -> anyhow::Result<serde_json::Value> {
    Ok(reqwest::Client::new()
        .get(format!("{base}/api/v1/metrics"))
        .bearer_auth("demo-supervisor")
        .send()
        .await?
        .json()
        .await?)
}

/// A plain rusqlite loop: one ticket row, one commit, same pragmas.
fn baseline(path: &Path, duration: Duration) -> anyhow::Result<f64> {
    let conn = crate::store::open_connection(path)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, day TEXT, hall TEXT, service TEXT, seq INTEGER,
            number TEXT, state TEXT, issued_at INTEGER, request_id TEXT)",
    )?;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        n += 1;
        conn.execute("BEGIN", [])?;
        conn.prepare_cached(
            "INSERT INTO tickets (day, hall, service, seq, number, state, issued_at, request_id) VALUES (?1, ?2, ?3, ?4, ?5, 'waiting', ?6, NULL)",
        )?
        .execute(rusqlite::params!["2026-01-01", HALLS[n as usize % 3], SERVICES[n as usize % 4], n, format!("A{n:03}"), n as i64])?;
        conn.execute("COMMIT", [])?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

#[derive(Deserialize)]
struct CallMsg {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    counter: Option<String>,
}

struct Fanout {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    samples: usize,
    calls: usize,
}

/// 100 hall-stream subscribers, 24 clerks calling and finishing with short random pauses.
async fn fanout(base: &str, port: u16, duration: Duration) -> anyhow::Result<Fanout> {
    let cfg = crate::config::Config::embedded()?;
    let topo = cfg.topology.clone();
    let http = reqwest::Client::new();
    // Sign a clerk in at every counter.
    let mut clerks = Vec::new();
    for (i, c) in topo.counters.iter().enumerate() {
        let r: wire::SessionResponse = http
            .post(format!("{base}/api/v1/sessions"))
            .json(&json!({ "clerk": format!("clerk{:02}", i + 1), "pin": "1234", "counter": c.id }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        clerks.push((c.id.clone(), r.token));
    }
    let sent: Arc<parking_lot::Mutex<HashMap<String, Instant>>> = Arc::default();
    let samples: Arc<parking_lot::Mutex<Vec<f64>>> = Arc::default();
    let mut subs = Vec::new();
    for i in 0..100 {
        let hall = HALLS[i % 3];
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/api/v1/halls/{hall}/events")).await?;
        // Wait for the snapshot so every subscriber is live before the clock starts.
        ws.next().await;
        let sent = sent.clone();
        let samples = samples.clone();
        subs.push(tokio::spawn(async move {
            while let Some(Ok(m)) = ws.next().await {
                let tokio_tungstenite::tungstenite::Message::Text(t) = m else { continue };
                let now = Instant::now();
                let Ok(msg) = serde_json::from_str::<CallMsg>(&t) else { continue };
                if msg.kind == "ticket_called" {
                    if let Some(at) = msg.counter.and_then(|c| sent.lock().get(&c).copied()) {
                        samples.lock().push(now.duration_since(at).as_secs_f64() * 1000.0);
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for (n, (counter, token)) in clerks.into_iter().enumerate() {
        let http = http.clone();
        let base = base.to_string();
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut calls = 0usize;
            let mut x = n as u64 * 7919 + 17;
            while Instant::now() < deadline {
                sent.lock().insert(counter.clone(), Instant::now());
                let r = http.post(format!("{base}/api/v1/counters/{counter}/call-next")).bearer_auth(&token).send().await;
                let called = matches!(&r, Ok(r) if r.status().is_success());
                if let Ok(r) = r {
                    let _ = r.bytes().await;
                }
                if called {
                    calls += 1;
                    let _ = http.post(format!("{base}/api/v1/counters/{counter}/finish")).bearer_auth(&token).send().await;
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

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let d = opts.duration;
    let tmp = std::env::temp_dir().join(format!("qcall-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    // The demo deployment without its daily cap, so the load never sells out.
    let cfg_text: String =
        crate::config::EMBEDDED_CONFIG.lines().filter(|l| !l.trim_start().starts_with("daily_cap")).collect::<Vec<_>>().join("\n");
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
    for clients in CLIENTS {
        let before = metrics(&server.url()).await?;
        let l = load(&server.url(), clients, d).await?;
        let after = metrics(&server.url()).await?;
        let commits = after["commits"].as_u64().unwrap_or(0) - before["commits"].as_u64().unwrap_or(0);
        let busy = after["writer_busy_us"].as_u64().unwrap_or(0) - before["writer_busy_us"].as_u64().unwrap_or(0);
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

    let fo = fanout(&server.url(), server.port, d).await?;
    println!(
        "fan-out: 100 subscribers, 24 clerks, {} calls, {} deliveries: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        fo.calls, fo.samples, fo.p50_ms, fo.p99_ms, fo.max_ms
    );
    server.stop();

    // Size: 100 000 tickets, then RSS and a cold start.
    let (sized, _) = serve(&opts.exe, &size_dir).await?;
    let mut issued = 0u64;
    while issued < 100_000 {
        let l = load_count(&sized.url(), 64, 100_000 - issued).await?;
        issued += l;
    }
    let rss = sized.rss_mb();
    sized.stop();
    let (again, cold) = serve(&opts.exe, &size_dir).await?;
    let halls: wire::HallsResponse = reqwest::get(format!("{}/api/v1/halls", again.url())).await?.json().await?;
    let waiting: u32 = halls.halls.iter().flat_map(|h| h.services.iter().map(|s| s.waiting)).sum();
    again.stop();
    println!("size: RSS {rss:.1} MB after {issued} tickets; cold start {:.0} ms ({waiting} waiting tickets restored)", cold.as_secs_f64() * 1000.0);
    let _ = std::fs::remove_dir_all(&tmp);

    let out = json!({
        "issue": issue,
        "fanout": { "subscribers": 100, "p50_ms": round(fo.p50_ms), "p99_ms": round(fo.p99_ms), "max_ms": round(fo.max_ms) },
        "rss_mb": round(rss),
        "cold_start_ms": round(cold.as_secs_f64() * 1000.0),
    });
    println!("{out}");
    Ok(())
}

/// Issue exactly `n` tickets with `clients` tasks; returns how many succeeded.
async fn load_count(base: &str, clients: usize, n: u64) -> anyhow::Result<u64> {
    let http = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, base, next) = (http.clone(), base.to_string(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break ok;
                }
                let hall = HALLS[i as usize % 3];
                let r = http
                    .post(format!("{base}/api/v1/halls/{hall}/tickets"))
                    .bearer_auth(format!("demo-kiosk-{hall}"))
                    .json(&json!({ "service": SERVICES[(i as usize / 3) % 4] }))
                    .send()
                    .await;
                if matches!(r, Ok(r) if r.status().as_u16() == 201) {
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
        counter: None,
        counter_number: None,
        call_count: 0,
        transferred: false,
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
    axum::serve(axum::serve::ListenerExt::tap_io(listener, crate::server::no_delay), app).await?;
    Ok(())
}
