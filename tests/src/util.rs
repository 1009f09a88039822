//! Helpers shared by the end-to-end tests: start the real `qcall` binary on a free loopback
//! port with a fresh SQLite file, talk to it over HTTP and WebSocket.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use qcall_wire as wire;
use serde_json::Value;

/// Path of a workspace binary (built by `cargo build --workspace` before the tests run).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/e2e-xxxx -> target/debug/NAME
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(p.exists(), "{} is missing: run `cargo build --workspace` first", p.display());
    p
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
    child: Option<Child>,
}

impl Server {
    /// Start on the embedded demo config with a fresh database.
    pub fn start() -> Server {
        Server::start_with(None)
    }

    /// Start with a config file (`None`: the embedded demo config).
    pub fn start_with(config: Option<PathBuf>) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("qcall.db");
        let port = free_port();
        let mut s = Server { url: format!("http://127.0.0.1:{port}"), port, dir, db, config, child: None };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(bin("qcall"));
        cmd.arg("serve").arg("--db").arg(&self.db).arg("--listen").arg(format!("127.0.0.1:{}", self.port));
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
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
        Api { base: self.url.clone(), http: reqwest::Client::new() }
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

/// A tiny HTTP client for the API: every call returns (status, JSON body).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    pub async fn raw(&self, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        // A fresh connection each time: the server may close one after refusing a body.
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header("connection", "close").body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
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

    pub async fn act(&self, token: &str, counter: &str, action: &str) -> (u16, Value) {
        self.call("POST", &format!("/api/v1/counters/{counter}/{action}"), Some(token), None).await
    }

    pub async fn halls(&self) -> wire::HallsResponse {
        let (s, v) = self.get("/api/v1/halls").await;
        assert_eq!(s, 200);
        serde_json::from_value(v).expect("halls")
    }
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws_connect(url: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connect");
    ws
}

/// Next stream message (skipping pings), or panic after 10 s.
pub async fn ws_next(ws: &mut Ws) -> wire::StreamMessage {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a stream message within 10 s")
            .expect("stream open")
            .expect("websocket message");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("stream message");
        }
    }
}

pub fn hall<'a>(h: &'a wire::HallsResponse, id: &str) -> &'a wire::HallInfo {
    h.halls.iter().find(|x| x.id == id).expect("hall")
}

pub fn waiting(h: &wire::HallInfo, service: &str) -> u32 {
    h.services.iter().find(|s| s.id == service).expect("service").waiting
}
