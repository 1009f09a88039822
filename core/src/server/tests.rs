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
        cfg.public_base_url = "https://q.example".into();
        edit(&mut cfg, dir.path());
        let clock = Arc::new(ManualClock::new(T0));
        let app = App::build(cfg, clock.clone()).unwrap();
        Rig { _dir: dir, app, clock }
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

#[tokio::test]
async fn every_endpoint_answers_its_happy_path() {
    let r = Rig::new();
    let health: wire::HealthResponse = serde_json::from_value(r.ok("GET", "/healthz", None, None).await).unwrap();
    assert_eq!(health.status, "ok");

    let halls: wire::HallsResponse = serde_json::from_value(r.ok("GET", "/api/v1/halls", None, None).await).unwrap();
    assert_eq!(halls.halls.len(), 3);
    assert_eq!(halls.halls[0].time_zone, "Asia/Shanghai", "devices take the time zone from the server");
    assert_eq!(halls.halls[0].public_base_url, "https://q.example", "and the ticket URL base");
    assert_eq!(halls.halls[0].ticket_url(17), "https://q.example/t/17");
    let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
    assert_eq!(east.day, "2026-11-26");

    // Issue, and the same request again.
    let body = json!({"service": "filing", "request_id": "tap-1"});
    let a = r.send("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(body.clone())).await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a1: wire::Ticket = serde_json::from_value(a.json()).unwrap();
    assert_eq!((a1.number.as_str(), a1.issued_at.timestamp_millis()), ("A001", T0), "time comes from the clock");
    let again = r.send("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(body)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["id"], a1.id);
    let a2 = r.issue("east", "filing").await;
    let b1 = r.issue("east", "invoice").await;
    let t: wire::Ticket = serde_json::from_value(r.ok("GET", &format!("/api/v1/tickets/{}", a2.id), None, None).await).unwrap();
    assert_eq!(t.waiting_ahead, 1);

    // A clerk's day at E01.
    let clerk = r.sign_in("clerk01", "E01").await;
    let c = Some(clerk.as_str());
    let q: wire::CounterQueue = serde_json::from_value(r.ok("GET", "/api/v1/counters/E01/queue", c, None).await).unwrap();
    assert_eq!(q.waiting.iter().map(|t| t.number.as_str()).collect::<Vec<_>>(), ["A001", "A002", "B001"]);
    assert_eq!(q.clerk.as_deref(), Some("clerk01"));
    r.clock.advance(60_000);
    let v: wire::CounterActionResponse = serde_json::from_value(r.ok("POST", "/api/v1/counters/E01/call-next", c, None).await).unwrap();
    assert_eq!(v.ticket.unwrap().number, "A001");
    let v = r.ok("POST", "/api/v1/counters/E01/recall", c, Some(json!({}))).await;
    assert_eq!(v["ticket"]["call_count"], 2);
    r.clock.advance(120_000);
    let v = r.ok("POST", "/api/v1/counters/E01/finish", c, None).await;
    assert_eq!(v["ticket"]["state"], "finished");
    let v = r.send("POST", &format!("/api/v1/tickets/{}/rating", a1.id), Some("demo-pad-e01"), Some(json!({"score": 5}))).await;
    assert_eq!(v.status, StatusCode::CREATED, "{}", v.text());
    let v = r.ok("POST", "/api/v1/counters/E01/call", c, Some(json!({"ticket": "B001"}))).await;
    assert_eq!(v["ticket"]["number"], "B001");
    let v = r.ok("POST", "/api/v1/counters/E01/no-show", c, None).await;
    assert_eq!(v["ticket"]["state"], "no_show");
    let v = r.ok("POST", &format!("/api/v1/tickets/{}/requeue", b1.id), c, None).await;
    assert_eq!(v["state"], "waiting");
    r.ok("POST", "/api/v1/counters/E01/call-next", c, None).await;
    let v = r.ok("POST", "/api/v1/counters/E01/transfer", c, Some(json!({"hall": "west"}))).await;
    assert_eq!(v["ticket"]["hall"], "west");
    let v = r.ok("POST", "/api/v1/counters/E01/pause", c, Some(json!({"reason": "午休"}))).await;
    assert_eq!(v["counter"]["state"], "paused");
    let v = r.ok("POST", "/api/v1/counters/E01/resume", c, None).await;
    assert_eq!(v["counter"]["state"], "open");

    // Devices and supervisors.
    let a = r.send("POST", "/api/v1/devices/kiosk-east-1/status", Some("demo-kiosk-east"), Some(json!({"ok": false, "code": "paper_end"}))).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let sup = Some("demo-supervisor");
    let v = r.ok("PUT", "/api/v1/halls/east/publicity", sup, Some(json!({"messages": ["依法纳税"]}))).await;
    assert_eq!(v["publicity"], json!(["依法纳税"]));
    assert_eq!(v["devices"][0]["code"], "paper_end");
    let m: wire::MetricsResponse = serde_json::from_value(r.ok("GET", "/api/v1/metrics", sup, None).await).unwrap();
    assert!(m.commits > 0 && m.seq > 0);
    let s: wire::TodayStats = serde_json::from_value(r.ok("GET", "/api/v1/stats/today?hall=east", sup, None).await).unwrap();
    let e01 = s.counters.iter().find(|c| c.counter == "E01").unwrap();
    // B001 was a no-show, then requeued and transferred: it no longer counts as one.
    assert_eq!((e01.stats.served, e01.stats.no_shows, e01.stats.ratings["5"]), (1, 0, 1));
    assert_eq!(e01.stats.mean_service_s, Some(120));
    let p: wire::PeriodStats = serde_json::from_value(r.ok("GET", "/api/v1/stats?from=2026-11-01&to=2026-11-30", sup, None).await).unwrap();
    assert_eq!(p.clerks[0].clerk, "clerk01");
    let rows: Vec<wire::TicketRow> =
        serde_json::from_value(r.ok("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", sup, None).await).unwrap();
    assert_eq!(rows.len(), 3);
    let csv = r.send("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26&format=csv&hall=east", sup, None).await;
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(csv.text().contains(",A001,east,filing,normal,finished,2026-11-26 09:00:00,2026-11-26 09:01:00,2026-11-26 09:03:00,60,120,E01,clerk01,2,false,5"), "{}", csv.text());

    // Pages.
    for (path, ct) in [("/counter", "text/html"), ("/screen/counter/E01", "text/html"), ("/rate/E01", "text/html"), ("/web/app.js", "text/javascript")] {
        let a = r.send("GET", path, None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert!(a.content_type.starts_with(ct), "{path}: {}", a.content_type);
    }
    let page = r.send("GET", &format!("/t/{}", a2.id), None, None).await;
    assert!(page.text().contains("A002") && page.text().contains("前面还有"), "{}", page.text());

    // Sign out: the session is gone.
    let a = r.send("DELETE", "/api/v1/sessions", c, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(r.send("GET", "/api/v1/counters/E01/queue", c, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn errors_are_json_with_the_code_and_its_status() {
    let r = Rig::new();
    let k = Some("demo-kiosk-east");
    let cases: Vec<(&str, &str, Option<&str>, Option<Value>, ErrorCode)> = vec![
        ("GET", "/api/v1/nothing", None, None, ErrorCode::NotFound),
        ("DELETE", "/api/v1/halls", None, None, ErrorCode::MethodNotAllowed),
        ("GET", "/api/v1/halls/north", None, None, ErrorCode::UnknownHall),
        ("GET", "/api/v1/tickets/abc", None, None, ErrorCode::UnknownTicket),
        ("GET", "/api/v1/tickets/42", None, None, ErrorCode::UnknownTicket),
        ("POST", "/api/v1/halls/east/tickets", None, Some(json!({"service": "filing"})), ErrorCode::Unauthorized),
        ("POST", "/api/v1/halls/east/tickets", k, Some(json!({"service": "lottery"})), ErrorCode::UnknownService),
        ("POST", "/api/v1/halls/east/tickets", k, Some(json!({"service": "filing", "x": 1})), ErrorCode::BadJson),
        ("POST", "/api/v1/halls/east/tickets", k, Some(json!({"service": "filing", "request_id": "a b"})), ErrorCode::BadRequestId),
        ("POST", "/api/v1/halls/west/tickets", k, Some(json!({"service": "filing"})), ErrorCode::Forbidden),
        ("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk01", "pin": "0000", "counter": "E01"})), ErrorCode::WrongCredentials),
        ("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk01", "pin": "1234", "counter": "X9"})), ErrorCode::UnknownCounter),
        ("POST", "/api/v1/counters/E02/call-next", Some("demo-supervisor"), None, ErrorCode::CounterClosed),
        ("POST", "/api/v1/counters/E02/explode", Some("demo-supervisor"), None, ErrorCode::NotFound),
        ("POST", "/api/v1/devices/toaster/status", k, Some(json!({"ok": true})), ErrorCode::UnknownDevice),
        ("GET", "/api/v1/stats?from=2026-13-01&to=2026-12-01", Some("demo-supervisor"), None, ErrorCode::BadQuery),
        ("GET", "/api/v1/reports/tickets?from=2026-11-01&to=2026-11-02&format=xml", Some("demo-supervisor"), None, ErrorCode::BadQuery),
        ("GET", "/api/v1/events", Some("demo-supervisor"), None, ErrorCode::WebsocketRequired),
        ("GET", "/api/v1/events?since=x", Some("demo-supervisor"), None, ErrorCode::BadQuery),
        ("PUT", "/api/v1/halls/east/publicity", Some("demo-supervisor"), Some(json!({"messages": ["x".repeat(501)]})), ErrorCode::TooLong),
    ];
    for (m, p, tok, body, want) in cases {
        let a = r.send(m, p, tok, body).await;
        assert_eq!(a.code(), Some(want), "{m} {p}: {} {}", a.status, a.text());
    }
    let clerk = r.sign_in("clerk02", "E02").await;
    let a = r.send("POST", "/api/v1/counters/E02/call-next", Some(&clerk), None).await;
    assert_eq!(a.code(), Some(ErrorCode::QueueEmpty));
    let a = r.send("POST", "/api/v1/counters/E02/finish", Some(&clerk), Some(json!({"x": 1}))).await;
    assert_eq!(a.code(), Some(ErrorCode::BadJson), "actions without parameters refuse a body");
    let big = "x".repeat(super::MAX_BODY + 10);
    let a = r.send("PUT", "/api/v1/halls/east/publicity", Some("demo-supervisor"), Some(json!({"messages": [big]}))).await;
    assert_eq!(a.code(), Some(ErrorCode::BodyTooLarge));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    BadToken,
    KioskEast,
    KioskWest,
    DisplayEast,
    PadE01,
    PadE02,
    ClerkE01,
    ClerkW01,
    Supervisor,
}

const ROLES: [Role; 10] = [
    Role::Anonymous,
    Role::BadToken,
    Role::KioskEast,
    Role::KioskWest,
    Role::DisplayEast,
    Role::PadE01,
    Role::PadE02,
    Role::ClerkE01,
    Role::ClerkW01,
    Role::Supervisor,
];

/// Every role against every endpoint: the roles allowed get past authorisation (whatever the
/// queue then says), everyone else gets 401 without a valid token and 403 with the wrong one.
#[tokio::test]
async fn authorisation_matrix() {
    use Role::*;
    let r = Rig::new();
    let a1 = r.issue("east", "filing").await;
    let a2 = r.issue("east", "filing").await;
    let clerk_e01 = r.sign_in("clerk01", "E01").await;
    let clerk_w01 = r.sign_in("clerk09", "W01").await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk_e01), None).await;
    r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk_e01), None).await;
    let token = |role: Role| -> Option<String> {
        match role {
            Anonymous => None,
            BadToken => Some("not-a-token".into()),
            KioskEast => Some("demo-kiosk-east".into()),
            KioskWest => Some("demo-kiosk-west".into()),
            DisplayEast => Some("demo-display-east".into()),
            PadE01 => Some("demo-pad-e01".into()),
            PadE02 => Some("demo-pad-e02".into()),
            ClerkE01 => Some(clerk_e01.clone()),
            ClerkW01 => Some(clerk_w01.clone()),
            Supervisor => Some("demo-supervisor".into()),
        }
    };
    const ALL: &[Role] = &ROLES;
    // Open to anyone, but a token that is given must be valid.
    const OPEN: &[Role] = &[Anonymous, KioskEast, KioskWest, DisplayEast, PadE01, PadE02, ClerkE01, ClerkW01, Supervisor];
    const SIGNED: &[Role] = &[KioskEast, KioskWest, DisplayEast, PadE01, PadE02, ClerkE01, ClerkW01, Supervisor];
    let day = "from=2026-11-26&to=2026-11-26";
    let endpoints: Vec<(&str, String, Option<Value>, &[Role])> = vec![
        ("GET", "/healthz".into(), None, ALL),
        ("GET", "/api/v1/halls".into(), None, OPEN),
        ("GET", "/api/v1/halls/east".into(), None, OPEN),
        ("GET", format!("/api/v1/tickets/{}", a1.id), None, ALL),
        ("GET", "/api/v1/events".into(), None, SIGNED),
        ("GET", "/api/v1/halls/east/events".into(), None, OPEN),
        ("GET", "/counter".into(), None, ALL),
        ("GET", format!("/t/{}", a1.id), None, ALL),
        ("POST", "/api/v1/sessions".into(), Some(json!({"clerk": "clerk03", "pin": "1234", "counter": "E03"})), ALL),
        ("GET", "/api/v1/metrics".into(), None, &[Supervisor]),
        ("GET", "/metrics".into(), None, &[Supervisor]),
        ("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26".into(), None, &[Supervisor]),
        ("POST", "/api/v1/halls/east/tickets".into(), Some(json!({"service": "filing"})), &[KioskEast, Supervisor]),
        ("PUT", "/api/v1/halls/east/publicity".into(), Some(json!({"messages": []})), &[Supervisor]),
        ("POST", format!("/api/v1/tickets/{}/requeue", a2.id), None, &[ClerkE01, Supervisor]),
        ("POST", format!("/api/v1/tickets/{}/rating", a1.id), Some(json!({"score": 4})), &[PadE01, Supervisor]),
        ("POST", "/api/v1/devices/kiosk-east-1/status".into(), Some(json!({"ok": true})), &[KioskEast, Supervisor]),
        ("POST", "/api/v1/devices/display-east-1/status".into(), Some(json!({"ok": true})), &[DisplayEast, Supervisor]),
        ("POST", "/api/v1/devices/pad-e01/status".into(), Some(json!({"ok": true})), &[PadE01, Supervisor]),
        ("GET", "/api/v1/counters/E01/queue".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/call-next".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/call".into(), Some(json!({"ticket": a2.id})), &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/recall".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/no-show".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/finish".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/transfer".into(), Some(json!({"service": "invoice"})), &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/pause".into(), Some(json!({"reason": "午休"})), &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/resume".into(), None, &[ClerkE01, Supervisor]),
        ("GET", "/api/v1/stats/today".into(), None, &[ClerkE01, ClerkW01, Supervisor]),
        ("GET", format!("/api/v1/stats?{day}"), None, &[ClerkE01, ClerkW01, Supervisor]),
        ("GET", format!("/api/v1/reports/tickets?{day}"), None, &[Supervisor]),
    ];
    let mut table = String::new();
    for (method, path, body, allowed) in &endpoints {
        for role in ROLES {
            let a = r.send(method, path, token(role).as_deref(), body.clone()).await;
            let s = a.status.as_u16();
            let ok = if allowed.contains(&role) {
                s != 401 && s != 403
            } else if matches!(role, Anonymous | BadToken) {
                s == 401
            } else {
                s == 403
            };
            assert!(ok, "{role:?} {method} {path}: {s} {} (allowed: {allowed:?})", a.text());
            table.push_str(&format!("{s} "));
        }
        table.push_str(&format!(" {method} {path}\n"));
    }
    println!("{:?}\n{table}", ROLES);
    // Signing out is for clerk sessions only (and ends them).
    for role in ROLES {
        let s = r.send("DELETE", "/api/v1/sessions", token(role).as_deref(), None).await.status.as_u16();
        let want = match role {
            Anonymous | BadToken => 401,
            ClerkE01 | ClerkW01 => 204,
            _ => 403,
        };
        assert_eq!(s, want, "{role:?} DELETE /api/v1/sessions");
    }
}

#[tokio::test]
async fn an_idle_session_ends_and_its_counter_closes() {
    let r = Rig::new();
    let clerk = r.sign_in("clerk01", "E01").await;
    r.clock.advance(r.app.state.cfg.session_idle_ms - 1000);
    assert_eq!(r.send("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "其他"}))).await.status, StatusCode::OK, "used in time");
    r.clock.advance(r.app.state.cfg.session_idle_ms + 1000);
    assert_eq!(r.send("POST", "/api/v1/counters/E01/resume", Some(&clerk), None).await.status, StatusCode::UNAUTHORIZED);
    // The sweep (the ticker's) closes the counter.
    r.app
        .state
        .engine
        .submit(crate::engine::Request::ExpireIdle { idle_ms: r.app.state.cfg.session_idle_ms })
        .await
        .unwrap();
    let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
    assert_eq!(east.counters[0].state, wire::CounterState::Closed);
}

#[tokio::test]
async fn the_health_check_reads_no_state_behind_the_lock() {
    let r = Rig::new();
    // Even while the writer holds the state, health answers from what the last commit left.
    let guard = r.app.state.engine.shared.core.write().await;
    let a = r.send("GET", "/healthz", None, None).await;
    drop(guard);
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["store"]["day"], "2026-11-26");
}

#[tokio::test]
async fn a_supervisor_signs_in_with_a_password_and_wrong_ones_lock_the_account() {
    let r = Rig::new();
    let login = |password: &str| json!({"supervisor": "duty", "password": password});
    let a = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let session: wire::SupervisorSessionResponse = serde_json::from_value(a.json()).unwrap();
    assert_eq!((session.supervisor.as_str(), session.name.as_str()), ("duty", "值班领导"));
    let token = session.token;
    // The session is a supervisor's: it may do what only supervisors may.
    r.ok("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", Some(&token), None).await;
    let clerk = r.sign_in("clerk01", "E01").await;
    let refused = r.send("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", Some(&clerk), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Wrong passwords and unknown supervisors get the same answer.
    let wrong = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("guess-guess-guess"))).await;
    assert_eq!(wrong.code(), Some(ErrorCode::WrongCredentials));
    let nobody = r.send("POST", "/api/v1/supervisor-sessions", None, Some(json!({"supervisor": "boss", "password": "x"}))).await;
    assert_eq!((nobody.code(), nobody.json()["error"]["message"].clone()), (wrong.code(), wrong.json()["error"]["message"].clone()));
    // Enough wrong ones lock the account, even against the right password, for a while.
    let limit = r.app.state.cfg.sign_in.account_failures;
    let mut locked = None;
    for _ in 1..limit + 1 {
        let a = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("guess-guess-guess"))).await;
        if a.code() == Some(ErrorCode::SigninLocked) {
            locked = Some(a);
            break;
        }
    }
    let locked = locked.expect("the account locks");
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let right = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await;
    assert_eq!(right.code(), Some(ErrorCode::SigninLocked), "locked means locked");
    r.clock.advance(r.app.state.cfg.sign_in.lock_ms + 1000);
    let again = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    let token = again.json()["token"].as_str().unwrap().to_string();

    // Sign-out ends the session; so does a long idle time.
    r.ok("GET", "/api/v1/metrics", Some(&token), None).await;
    let out = r.send("DELETE", "/api/v1/supervisor-sessions", Some(&token), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(r.send("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", Some(&token), None).await.status, StatusCode::UNAUTHORIZED);
    let idle = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await.json()["token"].as_str().unwrap().to_string();
    r.clock.advance(super::supervisors::IDLE_MS + 1000);
    assert_eq!(r.send("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", Some(&idle), None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_server_backs_up_daily_at_the_set_time_and_deletes_backups_past_keep_days() {
    let r = Rig::with(|cfg, dir| {
        cfg.backups = Some(crate::config::Backups { dir: dir.join("backups"), keep_days: 3, at_minute: 2 * 60 });
    });
    let dir = r._dir.path().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("qcall-2026-11-20.db"), "an old backup").unwrap();
    std::fs::write(dir.join("qcall-2026-11-24.db"), "three days ago").unwrap();
    std::fs::write(dir.join("notes.txt"), "the bureau's own file").unwrap();
    let ticket = r.issue("east", "filing").await;
    let files = || {
        let mut v: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    // 2026-11-26 09:00, past 02:00 and no backup of today yet: one now; the one of the 20th
    // is older than three days.
    super::daily_backup(&r.app.state).await;
    assert_eq!(files(), ["notes.txt", "qcall-2026-11-24.db", "qcall-2026-11-26.db"]);
    let check = crate::maintenance::check(&dir.join("qcall-2026-11-26.db")).unwrap();
    assert_eq!((check.problems.len(), check.summary.tickets), (0, 1), "{:?}", check.problems);
    let made = std::fs::metadata(dir.join("qcall-2026-11-26.db")).unwrap().modified().unwrap();
    super::daily_backup(&r.app.state).await;
    assert_eq!(std::fs::metadata(dir.join("qcall-2026-11-26.db")).unwrap().modified().unwrap(), made, "once a day");
    // The next night: nothing at 01:59, the day's backup at 02:00, and the 24th goes.
    r.clock.advance(17 * 3_600_000 - 60_000);
    super::daily_backup(&r.app.state).await;
    assert_eq!(files(), ["notes.txt", "qcall-2026-11-24.db", "qcall-2026-11-26.db"]);
    r.clock.advance(60_000);
    super::daily_backup(&r.app.state).await;
    assert_eq!(files(), ["notes.txt", "qcall-2026-11-26.db", "qcall-2026-11-27.db"]);
    let conn = rusqlite::Connection::open(dir.join("qcall-2026-11-27.db")).unwrap();
    let id: i64 = conn.query_row("SELECT id FROM tickets", [], |row| row.get(0)).unwrap();
    assert_eq!(id as u64, ticket.id);
}

/// The database files of every earlier schema version, kept in the repository.
fn schema_fixture(version: i64) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/schema-{version}.db"))
}

/// Columns of each table as schema `version` has them.
fn columns(table: &str, version: i64) -> &'static str {
    match (table, version) {
        ("tickets", 1 | 2) => {
            "id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, \
             called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating"
        }
        ("tickets", 3..=5) => {
            "id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, \
             called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating, slot_start"
        }
        ("sessions", 1) => "token_hash, clerk, counter, created_at",
        ("sessions", 2..=5) => "token_hash, clerk, counter, created_at, pin_fp",
        ("counters", _) => "id, state, clerk, current, last_finished, last_finished_at",
        ("events", _) => "seq, at, hall, type, body",
        ("meta", _) => "key, value",
        ("publicity", _) => "hall, messages",
        ("devices", _) => "device, body",
        other => panic!("no columns for {other:?}"),
    }
}

/// Writes the missing `core/tests/fixtures/schema-{k}.db` for schema versions k before the
/// current one (those kept in the repository are never rewritten): the schema made by the migrations up to k, holding a morning's work (a ticket served
/// and rated, one at the counter, three waiting, a clerk's session, publicity) in that
/// version's columns. Run when adding a migration, and commit the new fixture:
/// `cargo test -p qcall-core --lib write_schema_fixtures -- --ignored`
#[tokio::test]
#[ignore]
async fn write_schema_fixtures() {
    let r = Rig::new();
    let served = r.issue("east", "filing").await;
    for (hall, service) in [("east", "filing"), ("east", "invoice"), ("east", "consulting"), ("west", "filing")] {
        r.issue(hall, service).await;
    }
    let clerk = r.sign_in("clerk01", "E01").await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    r.clock.advance(240_000);
    r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
    r.ok("POST", &format!("/api/v1/tickets/{}/rating", served.id), Some("demo-pad-e01"), Some(json!({"score": 5}))).await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    r.ok("PUT", "/api/v1/halls/east/publicity", Some("demo-supervisor"), Some(json!({"messages": ["依法纳税 光荣"]}))).await;
    let src = r.app.state.cfg.db.clone();
    for version in 1..crate::store::schema_version_known() {
        let out = schema_fixture(version);
        if out.exists() {
            continue;
        }
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let conn = rusqlite::Connection::open(&out).unwrap();
        for sql in &crate::store::MIGRATIONS[..version as usize] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version).unwrap();
        conn.execute("ATTACH DATABASE ?1 AS src", [src.display().to_string()]).unwrap();
        for table in ["tickets", "counters", "events", "sessions", "meta", "publicity", "devices"] {
            let cols = columns(table, version);
            conn.execute_batch(&format!("INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table};")).unwrap();
        }
        conn.execute_batch("DETACH DATABASE src; VACUUM;").unwrap();
    }
}

/// A database made by every earlier schema version opens, migrates to the current one, loads
/// the day it holds and passes `check-db`.
#[tokio::test]
async fn a_database_of_every_earlier_schema_opens_migrates_and_loads() {
    for version in 1..crate::store::schema_version_known() {
        let fixture = schema_fixture(version);
        assert!(fixture.exists(), "{} is missing: a new migration needs the fixture of the version before it", fixture.display());
        let r = Rig::with(|cfg, _| {
            let _ = std::fs::copy(&fixture, &cfg.db).unwrap();
        });
        r.clock.advance(3_600_000);
        let db = r.app.state.cfg.db.clone();
        let store = crate::store::Store::open(&db, r.app.state.cfg.topology.clone()).unwrap();
        assert_eq!(store.schema_version().unwrap(), crate::store::schema_version_known(), "schema {version} migrated");
        let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
        let waiting: u32 = east.services.iter().map(|s| s.waiting).sum();
        assert_eq!(waiting, 2, "schema {version}: the waiting tickets are back");
        let e01 = east.counters.iter().find(|c| c.id == "E01").unwrap();
        assert_eq!(e01.current.as_ref().map(|t| t.number.as_str()), Some("A002"), "schema {version}: E01 still serves");
        assert_eq!(east.publicity, ["依法纳税 光荣"]);
        let check = crate::maintenance::check(&db).unwrap();
        assert!(check.problems.is_empty(), "schema {version}: {:?}", check.problems);
        // The day's statistics still name the clerk who served.
        let stats: Value = r.ok("GET", "/api/v1/stats/today?hall=east", Some("demo-supervisor"), None).await;
        assert!(stats.to_string().contains("clerk01"), "schema {version}: {stats}");
    }
}

#[tokio::test]
async fn supervisors_actions_and_failed_sign_ins_are_in_the_audit_trail_for_audit_days() {
    let r = Rig::new();
    let login = |password: &str| json!({"supervisor": "duty", "password": password});
    r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("not-the-password"))).await;
    let token = r.ok("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await["token"].as_str().unwrap().to_string();
    r.send("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk02", "pin": "9999", "counter": "E02"}))).await;
    r.ok("PUT", "/api/v1/halls/west/publicity", Some(&token), Some(json!({"messages": ["减税降费", "便民办税"]}))).await;
    let clerk = r.sign_in("clerk01", "E01").await;
    r.ok("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "业务学习"}))).await;
    r.ok("POST", "/api/v1/counters/E01/resume", Some(&token), None).await;
    r.ok("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26&format=csv", Some(&token), None).await;

    let trail: wire::AuditResponse = serde_json::from_value(r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some(&token), None).await).unwrap();
    let seen: Vec<(&str, &str, &str, &str)> =
        trail.entries.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str(), e.detail.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("supervisor:duty", "sign_in_failed", "", ""),
            ("supervisor:duty", "sign_in", "", ""),
            ("clerk:clerk02", "sign_in_failed", "", ""),
            ("supervisor:duty", "publicity_changed", "west", "减税降费 | 便民办税"),
            ("supervisor:duty", "counter_control", "E01", "Resume"),
            ("supervisor:duty", "report_exported", "tickets", "2026-11-26..2026-11-26 all halls Csv"),
        ],
        "the clerk's own pause is not a supervisor's action"
    );
    assert!(trail.entries.iter().all(|e| e.at == crate::view::time(T0)), "the manual clock stood still");
    let other_day = r.ok("GET", "/api/v1/audit?from=2026-11-25&to=2026-11-25", Some(&token), None).await;
    assert_eq!(other_day["entries"], json!([]));
    let refused = r.send("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some(&clerk), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Kept audit_days, then deleted by the hourly purge.
    let days = r.app.state.cfg.audit_days;
    r.clock.advance(i64::from(days) * 86_400_000 - 60_000);
    r.app.state.engine.submit(crate::engine::Request::Purge { audit_days: days, clerk_days: 3650 }).await.unwrap();
    let kept: wire::AuditResponse = serde_json::from_value(r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(kept.entries.len(), 6);
    r.clock.advance(120_000);
    r.app.state.engine.submit(crate::engine::Request::Purge { audit_days: days, clerk_days: 3650 }).await.unwrap();
    let gone = r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await;
    assert_eq!(gone["entries"], json!([]));
}

#[tokio::test]
async fn a_pause_names_its_reason_the_overview_shows_it_and_statistics_sum_it_per_clerk() {
    let r = Rig::new();
    let clerk = r.sign_in("clerk01", "E01").await;
    let queue: wire::CounterQueue = serde_json::from_value(r.ok("GET", "/api/v1/counters/E01/queue", Some(&clerk), None).await).unwrap();
    assert_eq!(queue.pause_reasons, ["午休", "业务学习", "临时离开", "系统故障", "其他"]);

    // No reason, or one not on the list: refused, and the counter stays open.
    let a = r.send("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({}))).await;
    assert_eq!(a.code(), Some(ErrorCode::BadJson), "{}", a.text());
    let a = r.send("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "喝茶"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::UnknownPauseReason), "{}", a.text());
    assert!(a.text().contains("午休、业务学习"), "{}", a.text());

    let mut events = r.app.state.engine.shared.events.subscribe();
    let v = r.ok("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "午休"}))).await;
    assert_eq!(v["counter"]["pause_reason"], "午休");
    let b = events.recv().await.unwrap();
    assert_eq!(b.msg.kind, wire::EventKind::CounterPaused { counter: "E01".into(), counter_number: 1, reason: "午休".into() });
    r.clock.advance(25 * 60_000);
    let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
    let e01 = east.counters.iter().find(|c| c.id == "E01").unwrap();
    assert_eq!((e01.state, e01.pause_reason.as_deref()), (wire::CounterState::Paused, Some("午休")));
    assert_eq!(e01.paused_since, Some(crate::view::time(T0)));
    // A pause still going counts until now.
    let today: wire::TodayStats = serde_json::from_value(r.ok("GET", "/api/v1/stats/today", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(today.pauses.len(), 1);
    assert_eq!((today.pauses[0].clerk.as_deref(), today.pauses[0].reason.as_str(), today.pauses[0].seconds), (Some("clerk01"), "午休", 1500));
    r.ok("POST", "/api/v1/counters/E01/resume", Some(&clerk), None).await;

    // A second pause, for another reason, ended by signing out; a clerk sees only their own.
    r.clock.advance(5 * 60_000);
    r.ok("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "业务学习"}))).await;
    r.clock.advance(10 * 60_000);
    r.ok("DELETE", "/api/v1/sessions", Some(&clerk), None).await;
    let other = r.sign_in("clerk02", "E02").await;
    r.ok("POST", "/api/v1/counters/E02/pause", Some(&other), Some(json!({"reason": "临时离开"}))).await;
    r.clock.advance(60_000);
    let today: wire::TodayStats = serde_json::from_value(r.ok("GET", "/api/v1/stats/today", Some("demo-supervisor"), None).await).unwrap();
    let got: Vec<(Option<&str>, &str, u32, u64)> =
        today.pauses.iter().map(|p| (p.clerk.as_deref(), p.reason.as_str(), p.pauses, p.seconds)).collect();
    assert_eq!(got, [(Some("clerk01"), "业务学习", 1, 600), (Some("clerk01"), "午休", 1, 1500), (Some("clerk02"), "临时离开", 1, 60)]);
    assert!(today.pauses.iter().all(|p| p.hall == "east" && !p.name.is_empty()));
    let mine: wire::TodayStats = serde_json::from_value(r.ok("GET", "/api/v1/stats/today", Some(&other), None).await).unwrap();
    assert_eq!(mine.pauses.len(), 1);

    // The reason and the time survive a restart.
    let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
    let e02 = east.counters.iter().find(|c| c.id == "E02").unwrap().clone();
    let Rig { _dir, app, clock } = r;
    let cfg = (*app.state.cfg).clone();
    app.shutdown().await;
    let app = App::build(cfg, clock).unwrap();
    let router = app.router();
    let resp = router.oneshot(HttpRequest::builder().uri("/api/v1/halls/east").body(Body::empty()).unwrap()).await.unwrap();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let east: wire::HallInfo = serde_json::from_slice(&body).unwrap();
    assert_eq!(east.counters.iter().find(|c| c.id == "E02").unwrap(), &e02);
}

#[tokio::test]
async fn alerts_are_raised_cleared_and_acknowledged_as_events_and_only_supervisors_see_them() {
    let r = Rig::with(|cfg, _| cfg.alerts.queue_length = 2);
    let check = || r.app.state.engine.submit(crate::engine::Request::CheckAlerts(r.app.state.cfg.alerts.clone()));
    let mut events = r.app.state.engine.shared.events.subscribe();
    for _ in 0..3 {
        r.issue("east", "filing").await;
    }
    for _ in 0..3 {
        events.recv().await.unwrap();
    }
    check().await.unwrap();
    let b = events.recv().await.unwrap();
    let wire::EventKind::AlertRaised { alert } = &b.msg.kind else { panic!("{:?}", b.msg.kind) };
    assert_eq!((alert.kind, alert.hall.as_str()), (wire::AlertKind::LongQueue, "east"));
    assert!(alert.advice.as_deref().unwrap().contains("建议开启应急窗口"), "{alert:?}");
    // Asking again raises nothing new.
    check().await.unwrap();
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(open.alerts.len(), 1);

    // 21 minutes on: the long wait of filing too.
    r.clock.advance(21 * 60_000);
    check().await.unwrap();
    let b = events.recv().await.unwrap();
    let wire::EventKind::AlertRaised { alert: wait } = &b.msg.kind else { panic!("{:?}", b.msg.kind) };
    assert_eq!((wait.kind, wait.number.as_deref()), (wire::AlertKind::LongWait, Some("A001")));

    // Clerks may neither read nor acknowledge alerts.
    let clerk = r.sign_in("clerk01", "E01").await;
    assert_eq!(r.send("GET", "/api/v1/alerts", Some(&clerk), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(r.send("POST", &format!("/api/v1/alerts/{}/ack", wait.id), Some(&clerk), None).await.status, StatusCode::FORBIDDEN);
    events.recv().await.unwrap(); // counter_opened
    assert_eq!(r.send("POST", "/api/v1/alerts/999/ack", Some("demo-supervisor"), None).await.code(), Some(ErrorCode::UnknownAlert));

    // Acknowledged: who and when are kept, it leaves the open list, the stream says so.
    let acked: wire::Alert = serde_json::from_value(r.ok("POST", &format!("/api/v1/alerts/{}/ack", wait.id), Some("demo-supervisor"), None).await).unwrap();
    assert_eq!((acked.acked_by.as_deref(), acked.acked_at), (Some("duty"), Some(crate::view::time(crate::clock::Clock::now(&*r.clock)))));
    let b = events.recv().await.unwrap();
    assert!(matches!(&b.msg.kind, wire::EventKind::AlertAcknowledged { alert } if alert.id == wait.id));
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(open.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(), [wire::AlertKind::LongQueue]);

    // The clerk calls two: the queue is short again, and the long wait is over for A001 but not
    // A002/A003 — the service's alert stays (one per service).
    for _ in 0..2 {
        r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
        r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
    }
    while events.try_recv().is_ok() {}
    check().await.unwrap();
    let b = events.recv().await.unwrap();
    let wire::EventKind::AlertCleared { alert } = &b.msg.kind else { panic!("{:?}", b.msg.kind) };
    assert_eq!(alert.kind, wire::AlertKind::LongQueue);
    assert!(alert.cleared_at.is_some());
    let all: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts?state=all", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(all.alerts.len(), 2);
    assert!(all.alerts.iter().all(|a| !a.is_open()), "{:?}", all.alerts);

    // A 差评 raises its own alert; the audit trail has the acknowledgement.
    let last = r.app.state.engine.shared.core.read().await.state.counter(0).last_finished.unwrap().0;
    r.ok("POST", &format!("/api/v1/tickets/{last}/rating"), Some("demo-pad-e01"), Some(json!({"score": 1}))).await;
    while events.try_recv().is_ok() {}
    check().await.unwrap();
    let b = events.recv().await.unwrap();
    assert!(matches!(&b.msg.kind, wire::EventKind::AlertRaised { alert } if alert.kind == wire::AlertKind::BadRating && alert.counter.as_deref() == Some("E01")), "{:?}", b.msg.kind);
    let trail: wire::AuditResponse = serde_json::from_value(r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await).unwrap();
    assert!(trail.entries.iter().any(|e| e.action == "alert_ack" && e.target == wait.id.to_string()), "{:?}", trail.entries);
}

#[tokio::test]
async fn a_bad_rating_opens_a_case_with_the_pads_reasons_that_a_supervisor_follows_up_and_closes() {
    let r = Rig::new();
    let clerk = r.sign_in("clerk01", "E01").await;
    let mut rated = vec![];
    for score in [2, 5] {
        let t = r.issue("east", "filing").await;
        r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
        r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
        r.ok("POST", &format!("/api/v1/tickets/{}/rating", t.id), Some("demo-pad-e01"), Some(json!({"score": score}))).await;
        rated.push(t);
    }
    let bad = &rated[0];
    // Only the 差评 opens a case; 5 working days after Thursday 2026-11-26 is Thursday 12-03.
    let cases: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(cases.cases.len(), 1);
    let c = &cases.cases[0];
    assert_eq!((c.ticket, c.number.as_str(), c.counter.as_str(), c.score, c.deadline.as_str()), (bad.id, "A001", "E01", 2, "2026-12-03"));
    assert_eq!((c.clerk.as_deref(), c.clerk_name.as_str(), c.state, c.overdue), (Some("clerk01"), "王芳", wire::CaseState::Open, false));
    assert!(c.reasons.is_empty());

    // The pad's reasons: only listed ones, only from the pad of that counter.
    let path = format!("/api/v1/tickets/{}/rating/reasons", bad.id);
    assert_eq!(r.send("POST", &path, Some("demo-pad-e01"), Some(json!({"reasons": ["太冷"]}))).await.code(), Some(ErrorCode::UnknownRatingReason));
    assert_eq!(r.send("POST", &path, Some("demo-pad-e02"), Some(json!({"reasons": ["服务态度"]}))).await.status, StatusCode::FORBIDDEN);
    assert_eq!(r.send("POST", &path, Some("demo-pad-e01"), Some(json!({"reasons": ["等候时间长", "服务态度", "服务态度"]}))).await.status, StatusCode::NO_CONTENT);
    let good = format!("/api/v1/tickets/{}/rating/reasons", rated[1].id);
    assert_eq!(r.send("POST", &good, Some("demo-pad-e01"), Some(json!({"reasons": ["其他"]}))).await.code(), Some(ErrorCode::UnknownCase));

    // Clerks see no cases.
    assert_eq!(r.send("GET", "/api/v1/cases", Some(&clerk), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(r.send("POST", &format!("/api/v1/cases/{}/notes", c.id), Some(&clerk), Some(json!({"kind": "callback", "text": "x"}))).await.status, StatusCode::FORBIDDEN);

    // Past its deadline, still open: overdue.
    r.clock.advance(8 * 86_400_000);
    r.app.state.engine.submit(crate::engine::Request::Domain(crate::domain::Command::Tick)).await.unwrap();
    let overdue: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases?state=overdue", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(overdue.cases.len(), 1);
    assert!(overdue.cases[0].overdue);
    assert_eq!(overdue.cases[0].reasons, ["等候时间长", "服务态度"]);

    // Callback, rectification, appeal and outcome; then closed; a closed case takes no notes.
    for (kind, text) in [("callback", "已电话回访，纳税人表示理解"), ("rectification", "高峰时段增开应急窗口"), ("appeal", "窗口申诉：系统故障所致"), ("appeal_outcome", "复核：申诉不成立")] {
        r.ok("POST", &format!("/api/v1/cases/{}/notes", c.id), Some("demo-supervisor"), Some(json!({"kind": kind, "text": text}))).await;
    }
    let a = r.send("POST", &format!("/api/v1/cases/{}/notes", c.id), Some("demo-supervisor"), Some(json!({"kind": "callback", "text": ""}))).await;
    assert_eq!(a.code(), Some(ErrorCode::EmptyText), "an empty note is said to be empty, not too long");
    let a = r.send("POST", &format!("/api/v1/cases/{}/notes", c.id), Some("demo-supervisor"), Some(json!({"kind": "callback", "text": "长".repeat(1001)}))).await;
    assert_eq!(a.code(), Some(ErrorCode::TooLong));
    let closed: wire::Case =
        serde_json::from_value(r.ok("POST", &format!("/api/v1/cases/{}/close", c.id), Some("demo-supervisor"), Some(json!({"summary": "已整改"}))).await).unwrap();
    assert_eq!((closed.state, closed.closed_by.as_deref(), closed.summary.as_deref(), closed.overdue), (wire::CaseState::Closed, Some("duty"), Some("已整改"), false));
    assert_eq!(closed.notes.len(), 5);
    assert_eq!(closed.notes[0].kind, wire::CaseNoteKind::Callback);
    let a = r.send("POST", &format!("/api/v1/cases/{}/notes", c.id), Some("demo-supervisor"), Some(json!({"kind": "note", "text": "晚了"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::CaseClosed));
    assert_eq!(r.send("POST", "/api/v1/cases/99/close", Some("demo-supervisor"), Some(json!({"summary": "x"}))).await.code(), Some(ErrorCode::UnknownCase));

    // Every rating of the period, with reasons and case state, as CSV.
    let csv = r.send("GET", "/api/v1/reports/ratings?from=2026-11-26&to=2026-11-26&format=csv", Some("demo-supervisor"), None).await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = csv.text();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "ticket,day,number,hall,service,counter,clerk,finished_at,score,reasons,case");
    assert!(lines[1].starts_with(&format!("{},2026-11-26,A001,east,filing,E01,clerk01,", bad.id)) && lines[1].ends_with(",2,等候时间长、服务态度,closed"), "{}", lines[1]);
    assert!(lines[2].ends_with(",5,,none"), "{}", lines[2]);
    let trail: wire::AuditResponse = serde_json::from_value(r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-12-04", Some("demo-supervisor"), None).await).unwrap();
    assert!(trail.entries.iter().any(|e| e.action == "case_closed"));
    assert!(trail.entries.iter().any(|e| e.action == "report_exported" && e.target == "ratings"));
}

#[tokio::test]
async fn a_device_silent_for_a_minute_is_offline_until_it_reports_again() {
    let r = Rig::new();
    let check = || r.app.state.engine.submit(crate::engine::Request::CheckAlerts(r.app.state.cfg.alerts.clone()));
    let report = || r.send("POST", "/api/v1/devices/display-east-1/status", Some("demo-display-east"), Some(json!({"ok": true})));
    assert_eq!(report().await.status, StatusCode::NO_CONTENT);
    let ov: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    let display = |ov: &wire::Overview| ov.halls[0].devices.iter().find(|d| d.device == "display-east-1").unwrap().clone();
    assert_eq!(display(&ov).online, Some(true));
    // Never heard from since the start: not called offline (a pad nobody installed yet).
    assert_eq!(ov.halls[0].devices.iter().find(|d| d.device == "pad-e01").unwrap().online, None);

    r.clock.advance(60_000);
    check().await.unwrap();
    assert!(r.app.state.engine.shared.core.read().await.alerts.is_empty(), "60 s is still online");
    r.clock.advance(1_000);
    check().await.unwrap();
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(open.alerts.len(), 1);
    assert_eq!((open.alerts[0].kind, open.alerts[0].device.as_deref()), (wire::AlertKind::DeviceOffline, Some("display-east-1")));
    let ov: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(display(&ov).online, Some(false));

    // The heartbeat comes back: the alert clears. An unchanged status is not stored again.
    let events_before = r.app.state.engine.shared.core.read().await.seq;
    assert_eq!(report().await.status, StatusCode::NO_CONTENT);
    assert_eq!(r.app.state.engine.shared.core.read().await.seq, events_before, "a heartbeat is no event");
    check().await.unwrap();
    let all: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts?state=all", Some("demo-supervisor"), None).await).unwrap();
    assert!(all.alerts[0].cleared_at.is_some());
}

/// A client books the slot it was given: `start` exactly as the slot list has it, or `HH:MM`.
#[tokio::test]
async fn a_slot_is_booked_by_the_start_the_slot_list_gives() {
    let r = Rig::new();
    let slots: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", "/api/v1/appointments/slots?hall=east&service=filing", None, None).await).unwrap();
    let mut free = slots.slots.iter().filter(|s| s.bookable);
    let (first, second) = (free.next().expect("a bookable slot"), free.next().expect("two"));
    let person = |n: u32| {
        let base = format!("1101051990010{n:04}");
        let sum: u32 = base.bytes().zip([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]).map(|(b, w)| u32::from(b - b'0') * w).sum();
        format!("{base}{}", b"10X98765432"[(sum % 11) as usize] as char)
    };
    let mut codes = std::collections::HashMap::new();
    for n in [1, 2, 4, 5] {
        let phone = format!("1381234{n:04}");
        codes.insert(n, r.phone_code(&phone).await);
    }
    let book = |start: String, id: &str, n: u32| {
        json!({"hall": "east", "service": "filing", "date": slots.date, "start": start, "name": "张三",
               "phone": format!("1381234{n:04}"), "id_number": person(n), "request_id": id, "phone_code": codes[&n]})
    };
    let listed = serde_json::to_value(first.start).unwrap().as_str().unwrap().to_string();
    assert!(listed.contains('T'), "the list gives an RFC 3339 time: {listed}");
    let v: wire::Booking = serde_json::from_value(r.ok("POST", "/api/v1/appointments", None, Some(book(listed, "b-1", 1))).await).unwrap();
    assert_eq!(v.slot.start, first.start);
    // The same instant in another offset is the same slot; HH:MM is the hall's local time.
    let shanghai = first.start.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).to_rfc3339();
    let a = r.send("POST", "/api/v1/appointments", None, Some(book(shanghai, "b-2", 2))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let a = r.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(json!({"hall": "east", "service": "filing", "date": slots.date,
        "start": second.start_local, "name": "李四", "phone": "13912340003", "id_number": person(3), "request_id": "b-3"}))).await;
    assert!(a.status.is_success(), "{}", a.text());
    // A start on another day, or between slot starts, is refused by name.
    let next_day = (first.start + chrono::Duration::days(1)).to_rfc3339();
    let a = r.send("POST", "/api/v1/appointments", None, Some(book(next_day, "b-4", 4))).await;
    assert_eq!(a.code(), Some(ErrorCode::OutsideBookingWindow), "{}", a.text());
    let odd = (first.start + chrono::Duration::seconds(30)).to_rfc3339();
    let a = r.send("POST", "/api/v1/appointments", None, Some(book(odd, "b-5", 5))).await;
    assert_eq!(a.code(), Some(ErrorCode::OutsideBookingWindow), "{}", a.text());
}

/// Every answer's `Date` is the server's clock, which the pages reckon in.
#[tokio::test]
async fn answers_are_dated_by_the_servers_clock() {
    let r = Rig::new();
    r.clock.advance(1500);
    for path in ["/healthz", "/api/v1/halls", "/book", "/api/v1/nothing-here"] {
        let resp = r.app.router().oneshot(HttpRequest::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let date = resp.headers().get(header::DATE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        // T0 + 1.5 s = 2026-11-26 01:00:01.5 UTC.
        assert_eq!(date, "Thu, 26 Nov 2026 01:00:01 GMT", "{path}");
    }
}

/// From 1 December a calendar without next year's holidays is a fault the duty leader sees:
/// in the overview, and as one alert about every hall, on every hall's stream.
#[tokio::test]
async fn a_holiday_calendar_that_runs_out_is_shown_to_the_duty_leader() {
    let r = Rig::new();
    let check = || r.app.state.engine.submit(crate::engine::Request::CheckAlerts(r.app.state.cfg.alerts.clone()));
    let ov: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(ov.calendar_missing, None, "26 November: not yet");
    check().await.unwrap();
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    assert!(open.alerts.iter().all(|a| a.kind != wire::AlertKind::CalendarMissing));

    r.clock.advance(5 * 86_400_000); // 1 December, 09:00
    let mut events = r.app.state.engine.shared.events.subscribe();
    check().await.unwrap();
    let b = loop {
        let b = events.recv().await.unwrap();
        if matches!(&b.msg.kind, wire::EventKind::AlertRaised { alert } if alert.kind == wire::AlertKind::CalendarMissing) {
            break b;
        }
    };
    assert_eq!(b.halls, [0, 1, 2], "every hall's stream");
    assert_eq!(b.msg.hall, None);
    let ov: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(ov.calendar_missing, Some(2027));
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    let a = open.alerts.iter().find(|a| a.kind == wire::AlertKind::CalendarMissing).expect("the calendar alert");
    assert_eq!(a.hall, "");
    assert!(a.message.starts_with("2027 节假日安排未配置"), "{}", a.message);
}

/// A valid resident ID number (GB 11643 check character).
fn resident_id(n: u32) -> String {
    let base = format!("1101051990010{n:04}");
    let sum: u32 = base.bytes().zip([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]).map(|(b, w)| u32::from(b - b'0') * w).sum();
    format!("{base}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

/// The attack of the audit: a stranger who knows a taxpayer's ID number books five times and
/// cancels five times to have them barred for 30 days. A public booking now needs the code
/// sent to the booker's phone, so the stranger books with their own phone, bars only that
/// pair, and the taxpayer still books with theirs. Without the victim's code the victim's phone
/// gets nowhere: the code is required, a wrong one refused, five wrong ones void it.
#[tokio::test]
async fn a_stranger_who_knows_an_id_number_cannot_bar_its_owner() {
    let r = Rig::new();
    let days: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", "/api/v1/appointments/slots?hall=east&service=filing", None, None).await).unwrap();
    // A later day: cancels stay in time while the clock moves on.
    let last = days.bookable_days.last().unwrap();
    let slots: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", &format!("/api/v1/appointments/slots?hall=east&service=filing&date={last}"), None, None).await).unwrap();
    let victim_id = resident_id(77);
    let (victim, stranger) = ("13812340077", "13900000066");
    let free: Vec<&wire::SlotInfo> = slots.slots.iter().filter(|s| s.bookable).collect();
    assert!(free.len() >= 6, "six free slots: {}", free.len());
    let body = |phone: &str, slot: &wire::SlotInfo, code: Option<&str>, rid: &str| {
        json!({"hall": "east", "service": "filing", "date": slots.date, "start": slot.start_local, "name": "王五",
               "phone": phone, "id_number": victim_id, "request_id": rid, "phone_code": code})
    };
    // With the victim's phone but no code, or a guessed one: refused.
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[0], None, "v-0"))).await;
    assert_eq!(a.code(), Some(ErrorCode::PhoneCodeRequired), "{}", a.text());
    let real = r.phone_code(victim).await;
    let wrong = if real == "000000" { "000001" } else { "000000" };
    for i in 0..5 {
        let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[0], Some(wrong), &format!("v-w{i}")))).await;
        assert_eq!(a.code(), Some(ErrorCode::WrongPhoneCode), "{}", a.text());
    }
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[0], Some(&real), "v-1"))).await;
    assert_eq!(a.code(), Some(ErrorCode::WrongPhoneCode), "five wrong tries voided the code: {}", a.text());
    // The stranger, with their own phone: five bookings and five cancels, each after the free
    // ten minutes.
    for (i, slot) in free.iter().take(5).enumerate() {
        let code = r.phone_code(stranger).await;
        let v = r.ok("POST", "/api/v1/appointments", None, Some(body(stranger, slot, Some(&code), &format!("s-{i}")))).await;
        r.clock.advance(13 * 60_000);
        r.ok("POST", &format!("/api/v1/appointments/{}/cancel", v["code"].as_str().unwrap()), None, Some(json!({"phone": stranger}))).await;
    }
    let code = r.phone_code(stranger).await;
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(stranger, free[5], Some(&code), "s-6"))).await;
    // The stranger is stopped (five bookings a phone a day; the ban they earned) …
    assert!(matches!(a.code(), Some(ErrorCode::TooManyBookings | ErrorCode::BookingBanned)), "{}", a.text());
    let records = r.app.state.engine.shared.core.read().await.state.bookings().records.clone();
    assert!(records[&format!("{victim_id}/{stranger}")].banned_until.is_some(), "the ban is the stranger's own");
    assert!(!records.contains_key(&format!("{victim_id}/{victim}")), "nothing counts against the owner");
    // The owner of the ID number, with their phone and its code, books as before.
    let code = r.phone_code(victim).await;
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[5], Some(&code), "v-2"))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    // A code serves one booking.
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[4], Some(&code), "v-3"))).await;
    assert_eq!(a.code(), Some(ErrorCode::WrongPhoneCode), "{}", a.text());
}

/// A code goes to a phone once a minute, five times an hour; a booking client vouches for its
/// user and needs none.
#[tokio::test]
async fn codes_are_limited_per_phone_and_booking_clients_need_none() {
    let r = Rig::new();
    r.phone_code("13812340001").await;
    let a = r.send("POST", "/api/v1/appointments/phone-code", None, Some(json!({"phone": "13812340001"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::TooManyCodes), "{}", a.text());
    let a = r.send("POST", "/api/v1/appointments/phone-code", None, Some(json!({"phone": "123"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::InvalidPhone), "{}", a.text());
    let slots: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", "/api/v1/appointments/slots?hall=east&service=filing", None, None).await).unwrap();
    let slot = slots.slots.iter().find(|s| s.bookable).unwrap();
    let a = r.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(json!({"hall": "east", "service": "filing", "date": slots.date,
        "start": slot.start_local, "name": "李四", "phone": "13912340003", "id_number": resident_id(3), "request_id": "c-1"}))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
}

/// A closed case is what was reported: the pad cannot rewrite its reasons, and every change
/// before that is in the audit trail.
#[tokio::test]
async fn a_closed_cases_reasons_cannot_change() {
    let r = Rig::new();
    let clerk = r.sign_in("clerk01", "E01").await;
    let t = r.issue("east", "filing").await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
    r.ok("POST", &format!("/api/v1/tickets/{}/rating", t.id), Some("demo-pad-e01"), Some(json!({"score": 1}))).await;
    let reasons = |list: &[&str]| Some(json!({"reasons": list}));
    let path = format!("/api/v1/tickets/{}/rating/reasons", t.id);
    assert_eq!(r.send("POST", &path, Some("demo-pad-e01"), reasons(&["服务态度"])).await.status, StatusCode::NO_CONTENT);
    let cases: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases?state=open", Some("demo-supervisor"), None).await).unwrap();
    let case = cases.cases.iter().find(|c| c.ticket == t.id).expect("a case");
    r.ok("POST", &format!("/api/v1/cases/{}/close", case.id), Some("demo-supervisor"), Some(json!({"summary": "已回访，致歉"}))).await;
    let a = r.send("POST", &path, Some("demo-pad-e01"), reasons(&[])).await;
    assert_eq!(a.code(), Some(ErrorCode::CaseClosed), "{}", a.text());
    let all: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases?state=all", Some("demo-supervisor"), None).await).unwrap();
    let case = all.cases.iter().find(|c| c.ticket == t.id).unwrap();
    assert_eq!(case.reasons, ["服务态度"], "the reasons stay as reported");
    let trail = r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await;
    assert!(trail.to_string().contains("case_reasons"), "the change is audited: {trail}");
}

/// The public face has what a taxpayer's phone needs and nothing of the staff's.
#[tokio::test]
async fn the_public_face_has_no_staff_routes() {
    let r = Rig::new();
    let public = super::public_router(r.app.state.clone());
    let status = |method: &str, path: &str, body: Option<Value>| {
        let public = public.clone();
        let (method, path) = (method.to_string(), path.to_string());
        async move {
            let mut req = HttpRequest::builder().method(method.as_str()).uri(path.as_str()).header(header::HOST, "127.0.0.1:8080");
            if body.is_some() {
                req = req.header(header::CONTENT_TYPE, "application/json");
            }
            let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
            public.oneshot(req.body(body).unwrap()).await.unwrap().status().as_u16()
        }
    };
    let t = r.issue("east", "filing").await;
    let ticket = format!("/t/{}", t.id);
    for path in ["/book", &ticket, "/api/v1/halls", "/api/v1/appointments/slots?hall=east&service=filing", "/web/app.js", "/web/book.js"] {
        assert_ne!(status("GET", path, None).await, 404, "{path} is public");
    }
    for path in ["/counter", "/supervisor", "/metrics", "/api/v1/metrics", "/api/v1/overview", "/web/counter.js", "/web/supervisor.js", "/rate/E01"] {
        assert_eq!(status("GET", path, None).await, 404, "{path} is staff's");
    }
    let pin = Some(json!({"clerk": "clerk01", "pin": "1234", "counter": "E01"}));
    assert_eq!(status("POST", "/api/v1/sessions", pin).await, 404, "no staff sign-in from the internet");
    assert_eq!(status("POST", "/api/v1/supervisor-sessions", Some(json!({"id": "duty", "password": "x"}))).await, 404);
}

/// A booking client vouches for its users, within its own quota per hour.
#[tokio::test]
async fn a_booking_client_books_within_its_own_quota() {
    let r = Rig::with(|cfg, _| {
        for d in cfg.devices.iter_mut().filter(|d| d.kind == crate::config::DeviceKind::Booking) {
            d.bookings_per_hour = 2;
        }
    });
    let slots: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", "/api/v1/appointments/slots?hall=east&service=filing", None, None).await).unwrap();
    let slot = slots.slots.iter().find(|s| s.bookable).unwrap();
    let book = |n: u32| {
        json!({"hall": "east", "service": "filing", "date": slots.date, "start": slot.start_local, "name": "李四",
               "phone": format!("1391234{n:04}"), "id_number": resident_id(n), "request_id": format!("q-{n}")})
    };
    for n in 1..=2 {
        let a = r.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(book(n))).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    }
    let a = r.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(book(3))).await;
    assert_eq!(a.code(), Some(ErrorCode::TooManyBookings), "{}", a.text());
}
