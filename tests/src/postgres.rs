//! A bureau on PostgreSQL, through the real binaries and real PostgreSQL servers the tests
//! start (as the `postgres` user): two qcall servers on one database, the standby taking over
//! when the active one dies and a stopped old one unable to commit; HAProxy in front of the
//! two; a pg_auto_failover formation losing its primary under load.

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qcall_client::{Client, ClientError, ClientOptions};
use qcall_server::store::scratch::ScratchPostgres;
use qcall_wire as wire;

use crate::util::{always_open_config_text, bin, free_port};

/// The servers' shared clock: every one starts at the same virtual time from the same instant.
#[derive(Clone, Copy)]
pub struct Clock {
    at: chrono::DateTime<chrono::FixedOffset>,
    since: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock { at: chrono::DateTime::parse_from_rfc3339(crate::util::DEFAULT_CLOCK).expect("clock"), since: Instant::now() }
    }
    fn now(&self) -> String {
        (self.at + chrono::Duration::from_std(self.since.elapsed()).expect("elapsed")).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    }
}

/// The always-open demo config with its database on PostgreSQL at `url`.
pub fn config_on(url: &str, port: u16) -> String {
    let text = always_open_config_text();
    assert!(text.contains("db = \"data/qcall.db\"\n"), "the demo config names its SQLite file");
    format!(
        "{}\n[store]\nkind = \"postgres\"\nurl = \"{url}\"\nadvertise_url = \"http://127.0.0.1:{port}\"\n",
        text.replace("db = \"data/qcall.db\"\n", "")
    )
}

/// A `qcall serve` on PostgreSQL.
pub struct Qcall {
    pub child: Option<Child>,
    pub port: u16,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Qcall {
    /// Starts a server on `url` (it may become the active one or wait as the standby).
    pub fn spawn(url: &str, clock: Clock) -> Qcall {
        Qcall::spawn_config(|port| config_on(url, port), clock)
    }

    /// Starts a server with the config `text(port)`.
    pub fn spawn_config(text: impl Fn(u16) -> String, clock: Clock) -> Qcall {
        let dir = tempfile::tempdir().expect("dir");
        let port = free_port();
        let config = dir.path().join("qcall.toml");
        std::fs::write(&config, text(port)).expect("config");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
        let child = Command::new(bin("qcall"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--clock-start")
            .arg(clock.now())
            .stdout(Stdio::null())
            .stderr(log)
            .env("RUST_LOG", "info")
            .spawn()
            .expect("start qcall");
        Qcall { child: Some(child), port, url: format!("http://127.0.0.1:{port}"), dir }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn config(&self) -> std::path::PathBuf {
        self.dir.path().join("qcall.toml")
    }

    /// `/healthz` as JSON with its status code (`None`: no answer).
    pub fn health(&self, rt: &tokio::runtime::Runtime) -> Option<(u16, wire::HealthResponse)> {
        let c = Client::new(&self.url, &ClientOptions { timeout: Some(Duration::from_secs(2)), ..ClientOptions::default() }).ok()?;
        let r = rt.block_on(c.raw("GET", "/healthz", &[], None)).ok()?;
        Some((r.status, serde_json::from_slice(&r.body).ok()?))
    }

    /// Waits until `/healthz` says `role` (`active` and ok, or `standby`); how long it took.
    pub fn wait_role(&mut self, rt: &tokio::runtime::Runtime, role: &str, limit: Duration) -> Duration {
        let t0 = Instant::now();
        loop {
            if let Some((status, h)) = self.health(rt) {
                if h.role == role && (role != "active" || status == 200) {
                    return t0.elapsed();
                }
            }
            if let Some(Ok(Some(s))) = self.child.as_mut().map(Child::try_wait) {
                panic!("qcall exited with {s}; log:\n{}", self.log());
            }
            assert!(t0.elapsed() < limit, "{} not {role} within {limit:?}; log:\n{}", self.url, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            let pid = rustix::process::Pid::from_raw(c.id() as i32).expect("pid");
            let sig = rustix::process::Signal::from_named_raw(sig).expect("signal");
            let _ = rustix::process::kill_process(pid, sig);
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Qcall {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        self.kill();
    }
}

/// What a load of issuing clients saw.
#[derive(Debug, Default)]
pub struct Load {
    /// Acknowledged tickets: request id -> (ticket id, hall, number), and when (since the
    /// load began).
    pub acked: BTreeMap<String, (u64, String, String, Duration)>,
    /// Answers by status code that were not a success (each repeated attempt counts).
    pub errors: BTreeMap<String, u32>,
    /// Requests given up after their deadline.
    pub failed: Vec<String>,
}

/// `clients` taxpayers' kiosks issuing through `servers` (one URL or several) until `stop`,
/// each ticket with its own request id, repeated (same id) until acknowledged or 60 s passed.
pub fn issue_load(
    rt: &tokio::runtime::Runtime,
    servers: &str,
    clients: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Load> {
    let servers = servers.to_string();
    rt.spawn(async move {
        let load = Arc::new(Mutex::new(Load::default()));
        let t0 = Instant::now();
        let mut tasks = vec![];
        for k in 0..clients {
            let (servers, stop, load) = (servers.clone(), stop.clone(), load.clone());
            tasks.push(tokio::spawn(async move {
                let hall = ["east", "west", "central"][k % 3];
                let opts = ClientOptions { timeout: Some(Duration::from_secs(5)), connect_timeout: Duration::from_secs(1), ..ClientOptions::default() };
                let client = Client::new(&servers, &opts).expect("client").with_token(&format!("demo-kiosk-{hall}"));
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let id = format!("load-{k}-{n}");
                    let req = wire::IssueRequest { service: "filing".into(), priority: None, request_id: Some(id.clone()) };
                    let started = Instant::now();
                    loop {
                        match client.issue(hall, &req).await {
                            Ok(t) => {
                                load.lock().unwrap().acked.insert(id.clone(), (t.id, t.hall, t.number, t0.elapsed()));
                                break;
                            }
                            Err(e) => {
                                let key = match &e {
                                    ClientError::Server { status, code, .. } => format!("{status} {code}"),
                                    ClientError::Network(_) => "network".into(),
                                    other => other.to_string(),
                                };
                                *load.lock().unwrap().errors.entry(key).or_default() += 1;
                                if !e.worth_repeating() || started.elapsed() > Duration::from_secs(60) {
                                    load.lock().unwrap().failed.push(format!("{id}: {e}"));
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        Arc::try_unwrap(load).map(|m| m.into_inner().unwrap()).unwrap_or_default()
    })
}

/// The longest time between two acknowledgements after `from` (the write gap).
pub fn write_gap(load: &Load, from: Duration) -> Duration {
    let mut at: Vec<Duration> = load.acked.values().map(|v| v.3).collect();
    at.sort();
    let mut gap = Duration::ZERO;
    let mut last = at.iter().copied().filter(|&t| t <= from).max().unwrap_or(from);
    for &t in at.iter().filter(|&&t| t > from) {
        gap = gap.max(t - last);
        last = t;
    }
    gap
}

/// Every acknowledged ticket is in the database once, with its number; no number twice.
pub fn check_stored(url: &str, load: &Load) -> (usize, usize) {
    let settings = qcall_server::store::PgSettings {
        url: url.to_string(),
        password: None,
        ca_file: None,
        connect_timeout: Duration::from_secs(5),
    };
    let mut db = qcall_server::store::Db::postgres(&settings).expect("connect");
    let rows = db.query("SELECT request_id, id, hall, number FROM tickets WHERE request_id LIKE 'load-%'", &[]).expect("tickets");
    let stored: BTreeMap<String, (u64, String, String)> = rows
        .iter()
        .map(|r| (r.get::<String>(0).unwrap(), (r.get(1).unwrap(), r.get(2).unwrap(), r.get(3).unwrap())))
        .collect();
    let mut lost = 0;
    for (id, (ticket, hall, number, _)) in &load.acked {
        match stored.get(id) {
            Some((t, h, n)) if t == ticket && h == hall && n == number => {}
            other => {
                eprintln!("acknowledged {id} = ticket {ticket} {hall} {number}; stored: {other:?}");
                lost += 1;
            }
        }
    }
    let dup = db
        .query("SELECT COUNT(*) FROM (SELECT day, issued_hall, number FROM tickets GROUP BY day, issued_hall, number HAVING COUNT(*) > 1) AS d", &[])
        .expect("duplicates")[0]
        .get::<i64>(0)
        .unwrap() as usize;
    let ids: HashSet<u64> = stored.values().map(|v| v.0).collect();
    assert_eq!(ids.len(), stored.len(), "ticket ids are unique");
    (lost, dup)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// A PostgreSQL server of the test's own and two qcall servers on one database of it: `a`
/// the active one, `b` its standby.
struct Pair {
    _pg: ScratchPostgres,
    db: qcall_server::store::PgSettings,
    rt: tokio::runtime::Runtime,
    a: Qcall,
    b: Qcall,
}

fn pair() -> Pair {
    let pg = ScratchPostgres::start(true).expect("postgres");
    let db = pg.new_database().expect("database");
    let rt = runtime();
    let clock = Clock::new();
    let mut a = Qcall::spawn(&db.url, clock);
    a.wait_role(&rt, "active", Duration::from_secs(30));
    let mut b = Qcall::spawn(&db.url, clock);
    b.wait_role(&rt, "standby", Duration::from_secs(30));
    Pair { _pg: pg, db, rt, a, b }
}

/// Two servers on one database: the second waits as the standby (503 `standby` naming the
/// active one, which a client of both skips), takes over within 10 s of a SIGKILL of the
/// active one while 16 kiosks issue through both URLs, and nothing acknowledged is lost.
#[test]
fn the_standby_takes_over_within_ten_seconds_when_the_active_server_dies() {
    let Pair { _pg, db, rt, a, mut b } = pair();
    let (status, h) = b.health(&rt).expect("standby health");
    assert_eq!((status, h.status.as_str(), h.active.as_deref()), (503, "standby", Some(a.url.as_str())));
    // The standby's API answers 503 `standby` with where the active one is.
    let only_b = Client::new(&b.url, &ClientOptions::default()).unwrap();
    let r = rt.block_on(only_b.raw("GET", "/api/v1/halls", &[], None)).unwrap();
    let err: wire::ErrorBody = serde_json::from_slice(&r.body).unwrap();
    assert_eq!((r.status, err.error.code, err.error.active.as_deref()), (503, wire::ErrorCode::Standby, Some(a.url.as_str())));

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load_t0 = Instant::now();
    let load = issue_load(&rt, &format!("{},{}", a.url, b.url), 16, stop.clone());
    std::thread::sleep(Duration::from_secs(3));
    let killed_at = load_t0.elapsed();
    a.signal(libc::SIGKILL);
    let takeover = b.wait_role(&rt, "active", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let load = rt.block_on(load).expect("load");
    let gap = write_gap(&load, killed_at);
    let (lost, dup) = check_stored(&db.url, &load);
    let fives: u32 = load.errors.iter().filter(|(k, _)| k.starts_with("500")).map(|(_, n)| n).sum();
    println!(
        "MEASURE standby takeover: healthy after {:.2} s, write gap {:.2} s; {} tickets acknowledged, {lost} lost, {dup} duplicate numbers, {fives} answers 500, {} failed for good; errors {:?}",
        takeover.as_secs_f64(),
        gap.as_secs_f64(),
        load.acked.len(),
        load.failed.len(),
        load.errors
    );
    assert!(takeover <= Duration::from_secs(10), "takeover took {takeover:?}");
    assert!(load.acked.len() > 100, "the load ran: {}", load.acked.len());
    assert!(load.acked.values().any(|v| v.3 > killed_at + takeover), "tickets were issued after the takeover");
    assert_eq!((lost, dup, fives), (0, 0, 0));
    assert!(load.failed.is_empty(), "{:?}", load.failed);
    // check-db on PostgreSQL finds nothing wrong.
    let out = Command::new(bin("qcall")).arg("check-db").arg("--config").arg(b.config()).output().expect("check-db");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(": ok,"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    // The SQLite tools say what to use instead.
    let out = Command::new(bin("qcall")).arg("backup").arg("--config").arg(b.config()).arg("--out").arg("/tmp/never.db").output().expect("backup");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("pg_dump") && err.contains("pgBackRest"), "{err}");
}

/// A server stopped (SIGSTOP) long enough for the standby to take over can commit nothing
/// when it runs again: its next commit is refused inside the database, it answers 503, and it
/// stops.
#[test]
fn a_stopped_and_resumed_old_active_server_cannot_commit() {
    let Pair { _pg, db, rt, mut a, mut b } = pair();
    let kiosk = |url: &str| Client::new(url, &ClientOptions::default()).unwrap().with_token("demo-kiosk-east");
    let issue = |c: &Client, id: &str| {
        let req = wire::IssueRequest { service: "filing".into(), priority: None, request_id: Some(id.into()) };
        rt.block_on(c.issue("east", &req))
    };
    let first = issue(&kiosk(&a.url), "before-stop").expect("a issues");

    a.signal(libc::SIGSTOP);
    let t0 = Instant::now();
    b.wait_role(&rt, "active", Duration::from_secs(15));
    println!("MEASURE takeover after SIGSTOP: {:.2} s", t0.elapsed().as_secs_f64());
    let second = issue(&kiosk(&b.url), "on-b").expect("b issues");
    assert!(second.id > first.id && second.number != first.number, "{first:?} {second:?}");

    a.signal(libc::SIGCONT);
    let late = issue(&kiosk(&a.url), "late");
    match &late {
        Err(ClientError::Server { status: 503, code, .. }) => assert!(matches!(code, wire::ErrorCode::Standby | wire::ErrorCode::ShuttingDown), "{late:?}"),
        Err(ClientError::Network(_)) => {}
        other => panic!("the old active server answered {other:?}; log:\n{}", a.log()),
    }
    // It stops, saying why.
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = a.child.as_mut().unwrap().try_wait().unwrap() {
            break s;
        }
        assert!(t1.elapsed() < Duration::from_secs(15), "the fenced server did not stop; log:\n{}", a.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    assert!(a.log().contains("another server took over as the writer"), "{}", a.log());
    let settings = qcall_server::store::PgSettings { url: db.url.clone(), password: None, ca_file: None, connect_timeout: Duration::from_secs(5) };
    let mut conn = qcall_server::store::Db::postgres(&settings).unwrap();
    let ids: Vec<String> = conn.query("SELECT request_id FROM tickets ORDER BY id", &[]).unwrap().iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(ids, ["before-stop", "on-b"], "nothing of the old server after the takeover");
    // b goes on.
    issue(&kiosk(&b.url), "after").expect("b still issues");
}

/// `sslmode=require` with the bureau's CA (`[store] ca_file`): the server serves over TLS to
/// PostgreSQL; a plain connection and a certificate from another CA are refused, named.
#[test]
fn the_store_talks_to_postgres_over_tls_checked_against_the_bureaus_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = crate::tls::make_pki(dir.path(), "db");
    let other = crate::tls::make_pki(dir.path(), "other");
    let pg = ScratchPostgres::start(false).expect("postgres");
    let db = pg.new_database().expect("database");
    pg.require_tls(&pki.cert, &pki.key).expect("tls");
    let rt = runtime();
    let check = |url: &str, ca: Option<&std::path::Path>| {
        let config = dir.path().join(format!("check-{}.toml", rand_name()));
        let mut text = config_on(url, 8080);
        if let Some(ca) = ca {
            text = text.replace("[store]\n", &format!("[store]\nca_file = {:?}\n", ca.display().to_string()));
        }
        std::fs::write(&config, text).unwrap();
        let out = Command::new(bin("qcall")).arg("check-db").arg("--config").arg(&config).output().expect("check-db");
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    let tls_url = format!("{}?sslmode=require", db.url);
    // A fresh database is no qcall database yet: the connection itself is what is checked.
    let (_, plain) = check(&db.url, None);
    assert!(plain.contains("no pg_hba.conf entry") && plain.contains("no encryption"), "{plain}");
    let (_, wrong_ca) = check(&tls_url, Some(&other.ca));
    assert!(wrong_ca.contains("UnknownIssuer") || wrong_ca.contains("certificate"), "{wrong_ca}");
    let ca = pki.ca.clone();
    let mut srv = Qcall::spawn_config(
        |port| config_on(&tls_url, port).replace("[store]\n", &format!("[store]\nca_file = {:?}\n", ca.display().to_string())),
        Clock::new(),
    );
    srv.wait_role(&rt, "active", Duration::from_secs(30));
    let kiosk = Client::new(&srv.url, &ClientOptions::default()).unwrap().with_token("demo-kiosk-central");
    let req = wire::IssueRequest { service: "filing".into(), priority: None, request_id: Some("tls-1".into()) };
    rt.block_on(kiosk.issue("central", &req)).expect("issued over TLS to PostgreSQL");
    let (ok, text) = check(&tls_url, Some(&pki.ca));
    assert!(ok && text.contains(": ok, 1 tickets"), "{text}");
}

fn rand_name() -> u32 {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// HAProxy in front of the two servers, checking `/healthz`: browsers reach the active one,
/// and after it dies, the one that took over.
#[test]
fn haproxy_in_front_of_two_servers_follows_the_active_one() {
    let Pair { _pg, db: _, rt, a, b } = pair();
    let front = free_port();
    let cfg = a.dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(front, &[a.port, b.port])).unwrap();
    let mut haproxy = Command::new("haproxy").arg("-f").arg(&cfg).arg("-db").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("haproxy");
    let via = Client::new(&format!("http://127.0.0.1:{front}"), &ClientOptions::default()).unwrap();
    let get = |path: &str| rt.block_on(via.raw("GET", path, &[], None)).map(|r| r.status).unwrap_or(0);
    // Until its checks mark the standby down, HAProxy may send it a request (which it
    // sends again to the other server: `retry-on 503`).
    let t0 = Instant::now();
    let mut in_a_row = 0;
    while in_a_row < 10 {
        in_a_row = if get("/api/v1/halls") == 200 { in_a_row + 1 } else { 0 };
        assert!(t0.elapsed() < Duration::from_secs(10), "HAProxy does not reach the active server");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get("/supervisor"), 200, "the pages too");
    let kiosk = via.with_token("demo-kiosk-west");
    let req = wire::IssueRequest { service: "filing".into(), priority: None, request_id: Some("via-1".into()) };
    let t1 = rt.block_on(kiosk.issue("west", &req)).expect("issued through HAProxy");

    a.signal(libc::SIGKILL);
    let killed = Instant::now();
    while get("/api/v1/halls") != 200 {
        assert!(killed.elapsed() < Duration::from_secs(15), "HAProxy did not move to the standby that took over");
        std::thread::sleep(Duration::from_millis(100));
    }
    let moved = killed.elapsed();
    let req = wire::IssueRequest { service: "filing".into(), priority: None, request_id: Some("via-2".into()) };
    let t2 = rt.block_on(kiosk.issue("west", &req)).expect("issued through HAProxy after the takeover");
    assert!(t2.id > t1.id);
    println!("MEASURE HAProxy: the pages answer again {:.2} s after the active server died", moved.as_secs_f64());
    let _ = haproxy.kill();
    let _ = haproxy.wait();
    drop(b);
}

/// The README's HAProxy front, for `servers` on loopback.
pub fn haproxy_config(front: u16, servers: &[u16]) -> String {
    let mut s = format!(
        "global\n    maxconn 1024\n\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 1h\n    timeout server 1h\n    \
         timeout tunnel 1h\n    option redispatch\n    retries 2\n    retry-on conn-failure empty-response 503\n\nfrontend qcall\n    bind 127.0.0.1:{front}\n    default_backend qcall\n\n\
         backend qcall\n    option httpchk GET /healthz\n    http-check expect status 200\n    default-server inter 1s fall 2 rise 1\n"
    );
    for (i, p) in servers.iter().enumerate() {
        s.push_str(&format!("    server qcall{} 127.0.0.1:{p} check\n", i + 1));
    }
    s
}

/// A pg_auto_failover formation (monitor, primary, synchronous standby) on loopback, started
/// and stopped by `scripts/pg-formation.sh`.
struct Formation {
    dir: tempfile::TempDir,
    /// The multi-host URL (read-write target), without the password.
    url: String,
}

impl Formation {
    fn script() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-formation.sh")
    }

    fn start(tuned: bool) -> Formation {
        let dir = tempfile::tempdir().expect("dir");
        // Three free ports in a row.
        let base = (0..50)
            .map(|_| free_port())
            .find(|&p| p < 65_000 && (1..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()))
            .expect("three free ports");
        let mut cmd = Command::new(Formation::script());
        cmd.arg("start").arg(dir.path()).arg(base.to_string());
        if tuned {
            cmd.arg("--tuned");
        }
        let out = cmd.stdin(Stdio::null()).output().expect("pg-formation.sh");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "the formation did not start:\n{text}{}", String::from_utf8_lossy(&out.stderr));
        let url = text.lines().last().expect("the URL").trim().replace("qcall:qcall@", "qcall@");
        assert!(url.starts_with("postgresql://qcall@") && url.contains("target_session_attrs=read-write"), "{url}");
        Formation { dir, url }
    }

    /// SIGKILL of the primary's whole process tree (its keeper's process group and its
    /// postmaster).
    fn kill_primary(&self) -> u16 {
        let out = Command::new(Formation::script()).arg("primary").arg(self.dir.path()).output().expect("primary");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<i32> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        assert_eq!(v.len(), 3, "primary: {text}");
        let kill = |pid: rustix::process::Pid, group: bool| {
            let sig = rustix::process::Signal::KILL;
            let _ = if group { rustix::process::kill_process_group(pid, sig) } else { rustix::process::kill_process(pid, sig) };
        };
        kill(rustix::process::Pid::from_raw(v[0]).expect("keeper"), true);
        kill(rustix::process::Pid::from_raw(v[1]).expect("postmaster"), false);
        v[2] as u16
    }
}

impl Drop for Formation {
    fn drop(&mut self) {
        let _ = Command::new(Formation::script()).arg("stop").arg(self.dir.path()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// One qcall server on a pg_auto_failover formation through its multi-host URL; 16 kiosks
/// issue with request ids while the primary's whole process tree is SIGKILLed. The standby is
/// promoted, qcall follows it, and every acknowledged ticket is there once. Tuned timeouts
/// here; the defaults with `QCALL_SOAK=1`.
#[test]
fn the_database_primary_dies_under_load_and_no_acknowledged_ticket_is_lost() {
    let tuned = std::env::var("QCALL_SOAK").is_err();
    let t0 = Instant::now();
    let formation = Formation::start(tuned);
    let started = t0.elapsed();
    let rt = runtime();
    let clock = Clock::new();
    // The password from a file, never in the config.
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pg-password");
    std::fs::write(&pw, "qcall\n").unwrap();
    let with_password = |port| config_on(&formation.url, port).replace("[store]\n", &format!("[store]\npassword_file = {:?}\n", pw.display().to_string()));
    let mut srv = Qcall::spawn_config(with_password, clock);
    srv.wait_role(&rt, "active", Duration::from_secs(60));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load_t0 = Instant::now();
    let load = issue_load(&rt, &srv.url, 16, stop.clone());
    std::thread::sleep(Duration::from_secs(3));
    let killed_at = load_t0.elapsed();
    let port = formation.kill_primary();
    // Writes come back: wait for 3 s of acknowledgements after the kill's gap.
    let limit = Duration::from_secs(if tuned { 60 } else { 180 });
    let client = Client::new(&srv.url, &ClientOptions::default()).unwrap().with_token("demo-kiosk-east");
    let probe = |n: u32| {
        let req = wire::IssueRequest { service: "consulting".into(), priority: None, request_id: Some(format!("probe-{n}")) };
        rt.block_on(client.issue("east", &req)).is_ok()
    };
    let mut n = 0;
    loop {
        n += 1;
        if probe(n) {
            break;
        }
        assert!(load_t0.elapsed() - killed_at < limit, "no writes {limit:?} after the primary died; log:\n{}", srv.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let back = load_t0.elapsed() - killed_at;
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let load = rt.block_on(load).expect("load");
    let gap = write_gap(&load, killed_at);
    let url_with_password = formation.url.replace("qcall@", "qcall:qcall@");
    let (lost, dup) = check_stored(&url_with_password, &load);
    let fives: u32 = load.errors.iter().filter(|(k, _)| k.starts_with("500")).map(|(_, n)| n).sum();
    println!(
        "MEASURE database failover ({}): formation up in {:.1} s; primary on port {port} SIGKILLed; writes back after {:.1} s (write gap {:.1} s); {} tickets acknowledged, {lost} lost, {dup} duplicate numbers, {fives} answers 500, {} failed for good; errors {:?}",
        if tuned { "tuned timeouts" } else { "default timeouts" },
        started.as_secs_f64(),
        back.as_secs_f64(),
        gap.as_secs_f64(),
        load.acked.len(),
        load.failed.len(),
        load.errors
    );
    assert!(load.acked.values().any(|v| v.3 > killed_at + gap), "tickets were issued after the failover");
    assert_eq!((lost, dup, fives), (0, 0, 0));
    assert!(load.failed.is_empty(), "{:?}", load.failed);
    drop(srv);
}
