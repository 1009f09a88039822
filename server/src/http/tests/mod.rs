//! The router in-process: `tower::ServiceExt::oneshot` on a temporary database and a manual
//! clock. Every error answer is checked to be a JSON body whose code is a known
//! [`ErrorCode`] sent with that code's status.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request as HttpRequest, StatusCode};
use qcall_wire::{self as wire, ErrorCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::App;
use crate::clock::ManualClock;
use crate::config::Config;

mod access;
mod api;
mod booking;
mod duty;
mod edges;
mod estimates;
mod store;
mod remote;
mod texts;

/// 2026-11-26 09:00 in Asia/Shanghai.
const T0: i64 = 1_795_654_800_000;

struct Rig {
    _dir: tempfile::TempDir,
    app: App,
    clock: Arc<ManualClock>,
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn code(&self) -> Option<ErrorCode> {
        serde_json::from_slice::<wire::ErrorBody>(&self.body).ok().map(|b| b.error.code)
    }
}

impl Rig {
    fn new() -> Rig {
        Rig::with(|_, _| {})
    }

    /// A rig whose config `edit` changes (given the rig's directory).
    fn with(edit: impl FnOnce(&mut Config, &std::path::Path)) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::embedded().unwrap();
        cfg.db = dir.path().join("qcall.db");
        if let crate::store::StoreAt::Postgres(pg) = crate::store::scratch::test_store(dir.path()) {
            cfg.postgres = Some(pg);
        }
        cfg.public_base_url = "https://q.example".into();
        edit(&mut cfg, dir.path());
        let clock = Arc::new(ManualClock::new(T0));
        let app = Rig::build(cfg, clock.clone());
        Rig { _dir: dir, app, clock }
    }

    /// Builds the app off the test's runtime (PostgreSQL's driver runs a runtime of its own).
    fn build(cfg: Config, clock: Arc<ManualClock>) -> App {
        std::thread::scope(|s| s.spawn(|| App::build(cfg, clock)).join().unwrap()).unwrap()
    }

    /// Runs `f` on the read connection.
    fn db<T: Send>(&self, f: impl FnOnce(&mut crate::store::Db) -> T + Send) -> T {
        let reader = self.app.state.reader.clone();
        std::thread::scope(|s| s.spawn(move || f(&mut reader.lock())).join().unwrap())
    }

    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut req = HttpRequest::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.router().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec();
        let a = Answer { status, content_type, body };
        if !status.is_success() {
            let err: wire::ErrorBody = serde_json::from_slice(&a.body)
                .unwrap_or_else(|e| panic!("{method} {path}: {status} without a JSON error body ({e}): {}", a.text()));
            assert_ne!(err.error.code, ErrorCode::Unknown, "{method} {path}: unknown code in {}", a.text());
            assert_eq!(err.error.code.status(), status.as_u16(), "{method} {path}: {} sent with {status}", err.error.code);
            assert!(!err.error.message.is_empty(), "{method} {path}: empty message");
        }
        a
    }

    async fn ok(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        let a = self.send(method, path, token, body).await;
        assert!(a.status.is_success(), "{method} {path}: {} {}", a.status, a.text());
        a.json()
    }

    async fn issue(&self, hall: &str, service: &str) -> wire::Ticket {
        let v = self.ok("POST", &format!("/api/v1/halls/{hall}/tickets"), Some(&format!("demo-kiosk-{hall}")), Some(json!({"service": service}))).await;
        serde_json::from_value(v).unwrap()
    }

    /// Has a one-time code sent to `phone` and reads it as the phone would.
    async fn phone_code(&self, phone: &str) -> String {
        self.ok("POST", "/api/v1/appointments/phone-code", None, Some(json!({"phone": phone}))).await;
        self.app.state.phone_codes.lock().peek(phone).expect("a code was sent")
    }

    async fn sign_in(&self, clerk: &str, counter: &str) -> String {
        let v = self.ok("POST", "/api/v1/sessions", None, Some(json!({"clerk": clerk, "pin": "1234", "counter": counter}))).await;
        v["token"].as_str().unwrap().to_string()
    }
}
