//! Helpers shared by the end-to-end tests: start the real `qcall` binary on a free loopback
//! port with a fresh SQLite file, talk to it over HTTP and WebSocket (through `qcall-client`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use qcall_client::{Client, ClientOptions, EventStream};
use qcall_wire as wire;
use serde_json::Value;

/// Path of a workspace binary, up to date: the first call builds the binaries of this
/// workspace with the cargo that runs the tests (same profile and target directory), so
/// `cargo test` works on a clean checkout and never runs a stale binary.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT.get_or_init(build_binaries).as_ref().unwrap_or_else(|e| panic!("building the binaries failed: {e}"));
    let p = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(p.exists(), "{} is missing after the build", p.display());
    p
}

fn build_binaries() -> Result<PathBuf, String> {
    // scripts/test-dates.sh runs the tests under a fake date and builds beforehand.
    if let Some(dir) = std::env::var_os("QCALL_TEST_BINARIES") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/e2e-xxxx -> target/<profile>
    let profile_dir = exe.parent().and_then(Path::parent).ok_or("no target dir")?.to_path_buf();
    let target_dir = profile_dir.parent().ok_or("no target dir")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(p) => p.to_string(),
        None => return Err("unnamed profile dir".into()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new(cargo);
    // What cargo sets for the test process (CARGO_PKG_*, CARGO_MANIFEST_DIR, …) would make the
    // inner build look different from the README's and rebuild everything.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_") && !matches!(k.as_ref(), "CARGO_HOME" | "CARGO_TARGET_DIR") {
            cmd.env_remove(k.as_ref());
        }
    }
    let out = cmd
        .current_dir(&workspace)
        // The same selection as the README's test command builds first: then this is a no-op.
        .args(["build", "--workspace", "--bins", "--profile", &profile])
        .arg("--target-dir")
        .arg(target_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(profile_dir)
}

/// Where every test server's clock starts unless the test chooses: a Wednesday morning in
/// Beijing, before December (from 1 December the demo calendar warns that next year's
/// holidays are missing).
pub const DEFAULT_CLOCK: &str = "2026-11-25T10:00:00+08:00";

fn default_clock() -> (chrono::DateTime<chrono::FixedOffset>, Instant) {
    (chrono::DateTime::parse_from_rfc3339(DEFAULT_CLOCK).expect("DEFAULT_CLOCK"), Instant::now())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A running `qcall serve`.
pub struct Server {
    pub url: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    config: Option<PathBuf>,
    /// Move the server's clock to this time (RFC 3339) at the next start. Without it, the
    /// clock goes on from where it was at the last stop, as if the server had kept running.
    pub clock_start: Option<String>,
    /// The server's clock at its last start and when that was (monotonic): every start passes
    /// `--clock-start`, so no test depends on the real date or time of day.
    clock: (chrono::DateTime<chrono::FixedOffset>, Instant),
    /// More arguments for `qcall serve`.
    pub serve_args: Vec<String>,
    /// Serving HTTPS with a certificate of this CA (PEM).
    pub tls_ca: Option<PathBuf>,
    child: Option<Child>,
}

impl Server {
    /// Start on the demo config without opening hours (halls always open, whatever the time)
    /// with a fresh database.
    pub fn start() -> Server {
        Server::start_edited(str::to_string)
    }

    /// As [`Server::start`], with the forward estimate instead of the forked one: no forecast
    /// is published on its own, so the events are exactly those the test makes.
    pub fn start_forward() -> Server {
        Server::start_edited(forward_estimates)
    }

    /// Start with this config text and the server's clock starting at `clock_start`
    /// (RFC 3339).
    pub fn start_at(config: &str, clock_start: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("qcall.db");
        let port = free_port();
        let path = dir.path().join("qcall.toml");
        std::fs::write(&path, config).expect("write config");
        let mut s = Server {
            url: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            db,
            config: Some(path),
            clock_start: Some(clock_start.to_string()),
            clock: default_clock(),
            serve_args: vec![],
            tls_ca: None,
            child: None,
        };
        s.spawn();
        s
    }

    /// Start with the always-open demo config ([`always_open_config_text`]) as `edit`
    /// changes it (written into the server's folder).
    pub fn start_edited(edit: impl Fn(&str) -> String) -> Server {
        let mut s = Server::unstarted(edit);
        s.spawn();
        s
    }

    /// [`Server::start`] with more arguments for `qcall serve`.
    pub fn start_args(args: &[&str]) -> Server {
        let mut s = Server::unstarted(str::to_string);
        s.serve_args = args.iter().map(|a| a.to_string()).collect();
        s.spawn();
        s
    }

    fn unstarted(edit: impl Fn(&str) -> String) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("qcall.db");
        let port = free_port();
        let config = dir.path().join("qcall.toml");
        std::fs::write(&config, edit(&always_open_config_text())).expect("write config");
        Server {
            url: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            db,
            config: Some(config),
            clock_start: None,
            clock: default_clock(),
            serve_args: vec![],
            tls_ca: None,
            child: None,
        }
    }

    /// [`Server::start`] serving HTTPS with this certificate and key (PEM files), issued by
    /// the CA in `ca` (which [`Server::client`] trusts).
    pub fn start_tls(cert: &Path, key: &Path, ca: &Path) -> Server {
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let mut s = Server::unstarted(|text| {
            text.replacen("[server]\n", &format!("[server]\ntls_cert = {cert:?}\ntls_key = {key:?}\n"), 1)
                .replace("public_base_url = \"http://", "public_base_url = \"https://")
        });
        s.url = format!("https://127.0.0.1:{}", s.port);
        s.tls_ca = Some(ca.to_path_buf());
        s.spawn();
        s
    }

    /// Replace the config file; the next start reads it.
    pub fn set_config_text(&mut self, text: &str) {
        let config = self.dir.path().join("qcall.toml");
        std::fs::write(&config, text).expect("write config");
        self.config = Some(config);
    }

    /// `qcall serve` with these extra arguments on this server's database, run until it exits
    /// (killed after `limit`): its exit code and what it wrote to stderr.
    pub fn serve_other(&self, args: &[&str], limit: Duration) -> (Option<i32>, String) {
        let mut cmd = Command::new(bin("qcall"));
        cmd.arg("serve").arg("--db").arg(&self.db).args(args);
        cmd.arg("--clock-start").arg(self.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false));
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        run_to_exit(cmd, limit)
    }

    /// The server's time now (its clock runs at normal speed from the chosen start).
    pub fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        let (at, since) = self.clock;
        at + chrono::Duration::from_std(since.elapsed()).expect("elapsed")
    }

    /// The server's business day today (`YYYY-MM-DD` in Beijing time, as the demo config has it).
    pub fn today(&self) -> String {
        self.now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset")).format("%Y-%m-%d").to_string()
    }

    /// The `--clock-start` of the next start: the time a test chose, else the clock going on.
    fn next_clock(&mut self) -> String {
        let at = match self.clock_start.take() {
            Some(t) => chrono::DateTime::parse_from_rfc3339(&t).unwrap_or_else(|e| panic!("clock_start {t}: {e}")),
            None => self.now(),
        };
        self.clock = (at, Instant::now());
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(bin("qcall"));
        cmd.arg("serve").arg("--db").arg(&self.db).arg("--listen").arg(format!("127.0.0.1:{}", self.port));
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.arg("--clock-start").arg(self.next_clock());
        cmd.args(&self.serve_args);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log file");
        cmd.stdout(Stdio::null()).stderr(log).env("RUST_LOG", "info");
        self.child = Some(cmd.spawn().expect("start qcall"));
        self.wait_healthy();
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        if let Some(ca) = self.tls_ca.clone() {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let client = Client::new(&self.url, &ClientOptions { ca_file: Some(ca), ..ClientOptions::default() }).expect("client");
            loop {
                if matches!(rt.block_on(client.healthz()), Ok(h) if h.status == "ok") {
                    return;
                }
                if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                    panic!("qcall exited with {status}; log:\n{}", self.log());
                }
                assert!(Instant::now() < deadline, "qcall did not become healthy; log:\n{}", self.log());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("qcall exited with {status}; log:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "qcall did not become healthy; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The one-time code the server sent to `phone` last (the demo's `log` SMS provider
    /// writes the message to the log, the phone masked).
    pub fn sms_code(&self, phone: &str) -> Option<String> {
        let masked = format!("{}****{}", &phone[..3], &phone[7..]);
        let log = self.log();
        let line = log.lines().rev().find(|l| l.contains("sms (log provider)") && l.contains(&masked))?;
        let at = line.find("验证码为 ")? + "验证码为 ".len();
        Some(line[at..].chars().take_while(char::is_ascii_digit).collect())
    }

    /// Asks for a one-time code to `phone` and reads it as the phone would.
    pub async fn phone_code(&self, phone: &str) -> String {
        let (s, v) = self.api().call("POST", "/api/v1/appointments/phone-code", None, Some(serde_json::json!({"phone": phone}))).await;
        assert_eq!(s, 200, "a code to {phone}: {v}");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(c) = self.sms_code(phone) {
                return c;
            }
            assert!(Instant::now() < deadline, "no code for {phone} in the log");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM and wait: a clean stop.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!("qcall did not stop on SIGTERM; log:\n{}", self.log());
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port and database.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Start again after [`Server::kill`] or [`Server::stop`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    pub fn api(&self) -> Api {
        Api { client: self.client() }
    }

    /// A client of this server, without a token.
    pub fn client(&self) -> Client {
        Client::new(&self.url, &ClientOptions { ca_file: self.tls_ca.clone(), ..ClientOptions::default() }).expect("client")
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The API as the tests drive it: every call returns (status, JSON body), error statuses
/// included (`qcall-client`'s raw calls; the typed calls are used where a test wants types).
#[derive(Clone)]
pub struct Api {
    pub client: Client,
}

impl Api {
    fn on(&self, token: Option<&str>) -> Client {
        match token {
            Some(t) => self.client.with_token(t),
            None => self.client.clone(),
        }
    }

    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let headers: &[(&str, &str)] = if body.is_some() { &[("content-type", "application/json")] } else { &[] };
        let r = self.on(token).raw(method, path, headers, body.map(|b| b.to_string().into_bytes())).await.expect("request");
        (r.status, r.json())
    }

    pub async fn raw(&self, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        // A fresh connection each time: the server may close one after refusing a body.
        let r = self.on(token).raw(method, path, &[("connection", "close")], Some(body)).await.expect("request");
        (r.status, r.json())
    }

    /// The answer as it came (status, content type, bytes).
    pub async fn get_raw(&self, path: &str, token: Option<&str>) -> qcall_client::RawResponse {
        self.on(token).raw("GET", path, &[], None).await.expect("request")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None, None).await
    }

    /// Issue a ticket at a hall's kiosk; panics unless 201.
    pub async fn issue(&self, hall: &str, service: &str) -> wire::Ticket {
        let (s, v) = self
            .call("POST", &format!("/api/v1/halls/{hall}/tickets"), Some(&format!("demo-kiosk-{hall}")), Some(serde_json::json!({ "service": service })))
            .await;
        assert_eq!(s, 201, "{v}");
        serde_json::from_value(v).expect("ticket")
    }

    /// Sign a demo clerk in at a counter; returns the session token.
    pub async fn sign_in(&self, clerk: &str, counter: &str) -> String {
        let (s, v) = self
            .call("POST", "/api/v1/sessions", None, Some(serde_json::json!({ "clerk": clerk, "pin": "1234", "counter": counter })))
            .await;
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().expect("token").to_string()
    }

    /// A counter action; a pause gives the reason 其他.
    pub async fn act(&self, token: &str, counter: &str, action: &str) -> (u16, Value) {
        let body = (action == "pause").then(|| serde_json::json!({"reason": "其他"}));
        self.call("POST", &format!("/api/v1/counters/{counter}/{action}"), Some(token), body).await
    }

    pub async fn halls(&self) -> wire::HallsResponse {
        self.client.halls().await.expect("halls")
    }
}

pub type Ws = EventStream;

/// Opens a WebSocket to a `ws://127.0.0.1:PORT/...` URL of a test server.
pub async fn ws_connect(url: &str) -> Ws {
    let http = url.replacen("ws://", "http://", 1);
    let base = http.find("/api/").map(|i| &http[..i]).unwrap_or(&http);
    Client::new(base, &ClientOptions::default()).expect("client").connect_ws(url).await.expect("websocket connect")
}

/// Opens a WebSocket as a device or a signed-in person (`token`): a staff stream.
pub async fn ws_connect_as(url: &str, token: &str) -> Ws {
    let http = url.replacen("ws://", "http://", 1);
    let base = http.find("/api/").map(|i| &http[..i]).unwrap_or(&http);
    Client::new(base, &ClientOptions::default()).expect("client").with_token(token).connect_ws(url).await.expect("websocket connect")
}

/// Next stream message (skipping pings), or panic after 10 s.
/// The next message on the stream, new estimates left out (the forecast worker publishes them
/// when it will: [`ws_next_any`] sees them).
pub async fn ws_next(ws: &mut Ws) -> wire::StreamMessage {
    loop {
        let m = ws_next_any(ws).await;
        if m.kind != wire::EventKind::EstimatesChanged {
            return m;
        }
    }
}

pub async fn ws_next_any(ws: &mut Ws) -> wire::StreamMessage {
    tokio::time::timeout(Duration::from_secs(10), ws.next_message())
        .await
        .expect("a stream message within 10 s")
        .expect("stream open")
        .expect("websocket message")
}

/// A config with the forward estimator where it chose the forked one.
pub fn forward_estimates(config: &str) -> String {
    assert!(config.contains("estimator = \"forked\""), "the config chooses the forked estimator");
    config.replace("estimator = \"forked\"", "estimator = \"forward\"")
}

pub fn hall<'a>(h: &'a wire::HallsResponse, id: &str) -> &'a wire::HallInfo {
    h.halls.iter().find(|x| x.id == id).expect("hall")
}

pub fn waiting(h: &wire::HallInfo, service: &str) -> u32 {
    h.services.iter().find(|s| s.id == service).expect("service").waiting
}

/// The demo deployment's config file.
pub fn demo_config_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/qcall.toml")).expect("config/qcall.toml")
}

/// The demo config without opening hours and appointments: the halls are always open, so a
/// test runs the same at any wall-clock time.
pub fn always_open_config_text() -> String {
    qcall_server::config::always_open(&demo_config_text())
}

/// Runs a command until it exits (killed after `limit`): its exit code and stderr.
pub fn run_to_exit(mut cmd: Command, limit: Duration) -> (Option<i32>, String) {
    let err = tempfile::NamedTempFile::new().expect("temp file");
    cmd.stdout(Stdio::null()).stderr(err.reopen().expect("reopen")).env("RUST_LOG", "info");
    let mut child = cmd.spawn().expect("spawn");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, std::fs::read_to_string(err.path()).unwrap_or_default())
}

/// Peak resident memory of a process (VmHWM), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    s.lines().find_map(|l| l.strip_prefix("VmHWM:")).expect("VmHWM").trim().trim_end_matches("kB").trim().parse().expect("number")
}

/// A stand-in HTTP service on `listener` (one request per connection, as a webhook or an SMS
/// provider gets them): `answer(head, body)` gives the status and the JSON body; the head is
/// lower-case.
pub fn http_stand_in(listener: TcpListener, answer: impl Fn(&str, &str) -> (u16, String) + Send + 'static) {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let got = loop {
                let Ok(n) = conn.read(&mut chunk) else { break None };
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize =
                    head.lines().find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break Some((head, String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned()));
                }
            };
            let Some((head, body)) = got else { continue };
            let (status, text) = answer(&head, &body);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
}
