//! The public pages apart from the staff system, attacked from loopback as a stranger on the
//! internet would: a second face with nothing of the staff's; a booking proven by a text
//! message through a stand-in of Alibaba Cloud SMS that checks what the real one checks (the
//! signature, the nonce, the time); event streams that strangers can neither exhaust nor read;
//! no lockout of the duty leader from one address; lookups limited per address (also behind a
//! trusted proxy) and per booking code. Loopback has a whole /8: 127.0.0.2, .3, … are other
//! clients.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::util::{free_port, http_stand_in, Server};

const SUPERVISOR: &str = "demo-supervisor";

/// A client on loopback address `127.0.0.{last}`.
fn from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn post(c: &reqwest::Client, url: &str, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = c.post(url).json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn active_alerts(srv: &Server) -> Vec<String> {
    let (_, v) = srv.api().call("GET", "/api/v1/alerts?state=active", Some(SUPERVISOR), None).await;
    v["alerts"].as_array().map(|a| a.iter().filter_map(|x| x["kind"].as_str().map(str::to_string)).collect()).unwrap_or_default()
}

// --- A stand-in of Alibaba Cloud SMS (dysmsapi, SendSms 2017-05-25), as its manual has it ----

/// Alibaba Cloud's percent-encoding (RFC 3986: unreserved characters stay, the rest %XX).
fn pop(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn unpercent(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) struct Aliyun {
    key_id: String,
    secret: String,
    /// The requests' clock must be within 15 minutes of this one (the server's controlled one).
    now: Box<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send>,
    nonces: HashSet<String>,
    /// Per phone, the codes sent.
    pub(crate) sent: Vec<(String, String)>,
    /// Every message taken: (phone, template, its variables).
    pub(crate) messages: Vec<(String, String, Value)>,
    /// Answer the next requests as the provider's flow control does.
    refuse: bool,
    refusals: Vec<String>,
}

impl Aliyun {
    /// (HTTP status, JSON answer) for a form body, checked as the service checks it.
    fn answer(&mut self, body: &str) -> (u16, Value) {
        let params: BTreeMap<String, String> = body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (unpercent(k), unpercent(v)))
            .collect();
        let p = |k: &str| params.get(k).cloned().unwrap_or_default();
        let err = |status: u16, code: &str, message: &str| (status, json!({"Code": code, "Message": message, "RequestId": "stand-in"}));
        for k in ["AccessKeyId", "Action", "Format", "PhoneNumbers", "RegionId", "SignName", "SignatureMethod", "SignatureNonce", "SignatureVersion", "TemplateCode", "Timestamp", "Version", "Signature"] {
            if !params.contains_key(k) {
                return err(400, "MissingParameter", k);
            }
        }
        if p("AccessKeyId") != self.key_id {
            return err(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
        }
        if (p("Action"), p("Version"), p("SignatureMethod"), p("SignatureVersion")) != ("SendSms".into(), "2017-05-25".into(), "HMAC-SHA1".into(), "1.0".into()) {
            return err(400, "InvalidParameter", "Action, Version or signature method");
        }
        // StringToSign = POST & %2F & encode(sorted, encoded k=v joined with &).
        let query: Vec<String> = params.iter().filter(|(k, _)| *k != "Signature").map(|(k, v)| format!("{}={}", pop(k), pop(v))).collect();
        let to_sign = format!("POST&{}&{}", pop("/"), pop(&query.join("&")));
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{}&", self.secret).as_bytes()).unwrap();
        mac.update(to_sign.as_bytes());
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        if want != p("Signature") {
            return err(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.");
        }
        let Ok(at) = chrono::NaiveDateTime::parse_from_str(&p("Timestamp"), "%Y-%m-%dT%H:%M:%SZ") else {
            return err(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.");
        };
        if (at.and_utc() - (self.now)()).num_minutes().abs() > 15 {
            return err(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
        }
        if !self.nonces.insert(p("SignatureNonce")) {
            return err(400, "SignatureNonceUsed", "Specified signature nonce was used already.");
        }
        let phone = p("PhoneNumbers");
        if phone.len() != 11 || !phone.bytes().all(|b| b.is_ascii_digit()) {
            return err(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号");
        }
        // The approved templates and their variables (strings, as the service wants them).
        let wants: &[&str] = match p("TemplateCode").as_str() {
            "SMS_123456789" => &["code"],
            "SMS_NEAR_1" => &["number", "ahead", "hall"],
            "SMS_CALLED_1" => &["number", "counter"],
            "SMS_CHECKIN_1" => &["number", "hall", "minutes", "code"],
            _ => return err(200, "isv.SMS_TEMPLATE_ILLEGAL", "模板不合法"),
        };
        if p("SignName") != "某某税务" {
            return err(200, "isv.SMS_SIGNATURE_ILLEGAL", "签名不合法");
        }
        let vars = serde_json::from_str::<Value>(&p("TemplateParam")).unwrap_or(Value::Null);
        if wants.iter().any(|k| !vars[*k].is_string()) {
            return err(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量");
        }
        if self.refuse {
            self.refusals.push(phone);
            return err(200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1");
        }
        if let Some(code) = vars["code"].as_str() {
            self.sent.push((phone.clone(), code.to_string()));
        }
        self.messages.push((phone, p("TemplateCode"), vars));
        (200, json!({"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "stand-in"}))
    }
}

/// Serves a stand-in on a port of its own (`answer` of its request head and body); returns the
/// port.
fn serve_stand_in<T: Send + 'static>(stand_in: Arc<Mutex<T>>, answer: fn(&mut T, &str, &str) -> (u16, Value)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("provider port");
    let port = listener.local_addr().unwrap().port();
    http_stand_in(listener, move |head, body| {
        let (status, answer) = answer(&mut stand_in.lock().unwrap(), head, body);
        (status, answer.to_string())
    });
    port
}

/// An Alibaba Cloud SMS stand-in on the clock of a server started at `clock_start`, and the
/// `[sms]` section that sends through it (plus `extra` lines); the secret's file is in the
/// returned directory, which must outlive the server.
pub(crate) fn aliyun_at(clock_start: &str, extra: &str) -> (Arc<Mutex<Aliyun>>, String, tempfile::TempDir) {
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("sms.secret");
    std::fs::write(&secret_file, "testSecret-0123456789\n").unwrap();
    let started = Instant::now();
    let clock_at = chrono::DateTime::parse_from_rfc3339(clock_start).unwrap().with_timezone(&chrono::Utc);
    let provider = Arc::new(Mutex::new(Aliyun {
        key_id: "LTAI-test".into(),
        secret: "testSecret-0123456789".into(),
        now: Box::new(move || clock_at + chrono::Duration::from_std(started.elapsed()).unwrap()),
        nonces: HashSet::new(),
        sent: vec![],
        messages: vec![],
        refuse: false,
        refusals: vec![],
    }));
    let sms_port = serve_stand_in(provider.clone(), |a, _, body| a.answer(body));
    let sms = format!(
        "[sms]\nprovider = \"aliyun\"\nendpoint = \"http://127.0.0.1:{sms_port}/\"\nkey_id = \"LTAI-test\"\nsecret_file = {:?}\n\
         sign_name = \"某某税务\"\ncode_template = \"SMS_123456789\"\n{extra}",
        secret_file.display().to_string()
    );
    (provider, sms, secrets)
}

/// Two faces, and a booking proven by a text message through the provider's stand-in: the
/// internet's face has the booking and ticket pages and their API and nothing of the staff's;
/// the code reaches the phone only through a request the provider accepts; a provider that
/// stops taking messages is answered at once and raises an alert for the duty leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_face_books_with_a_code_sent_through_the_provider_and_has_nothing_of_the_staffs() {
    const TUE_0900: &str = "2026-12-01T09:00:00+08:00";
    let (provider, sms, _secrets) = aliyun_at(TUE_0900, "");
    let public_port = free_port();
    let text = crate::util::demo_config_text()
        .replacen("[server]\n", &format!("[server]\npublic_listen = \"127.0.0.1:{public_port}\"\n"), 1)
        .replacen("remote_tickets = 30\n", "", 1)
        .replacen("[sms]\nprovider = \"log\"\n", &sms, 1);
    let srv = Server::start_at(&text, TUE_0900);
    let public = format!("http://127.0.0.1:{public_port}");
    let c = from(1);
    // The internet's face: what a phone needs, nothing else.
    for path in ["/book", "/api/v1/halls", "/api/v1/appointments/slots?hall=east&service=filing", "/web/book-text.js", "/web/book.js", "/web/book-mine.js"] {
        assert_eq!(c.get(format!("{public}{path}")).send().await.unwrap().status().as_u16(), 200, "{path} on the public face");
    }
    for path in ["/counter", "/supervisor", "/metrics", "/api/v1/overview", "/api/v1/events", "/web/supervisor.js", "/rate/E01"] {
        assert_eq!(c.get(format!("{public}{path}")).send().await.unwrap().status().as_u16(), 404, "{path} is not on the public face");
    }
    let (s, _) = post(&c, &format!("{public}/api/v1/supervisor-sessions"), json!({"supervisor": "duty", "password": "demo-duty-password"}), &[]).await;
    assert_eq!(s, 404, "no staff sign-in from the internet");
    let (s, _) = post(&c, &format!("{public}/api/v1/sessions"), json!({"clerk": "clerk01", "pin": "1234", "counter": "E01"}), &[]).await;
    assert_eq!(s, 404);
    // The halls' face has everything.
    assert_eq!(c.get(format!("{}/counter", srv.url)).send().await.unwrap().status().as_u16(), 200);

    // A code, sent through the provider, which checked the signature, the nonce and the time.
    let (s, v) = post(&c, &format!("{public}/api/v1/appointments/phone-code"), json!({"phone": "13812345678"}), &[]).await;
    assert_eq!((s, &v["phone"]), (200, &json!("138****5678")), "{v}");
    let sms_code = provider.lock().unwrap().sent.iter().rev().find(|(p, _)| p == "13812345678").map(|(_, c)| c.clone()).expect("the provider took it");
    assert!(!srv.log().contains(&format!("验证码为 {sms_code}")), "a real provider's code is not logged");
    let slots: Value = c.get(format!("{public}/api/v1/appointments/slots?hall=east&service=filing&date=2026-12-02")).send().await.unwrap().json().await.unwrap();
    let slot = slots["slots"].as_array().unwrap().iter().find(|s| s["bookable"] == true).expect("a bookable slot").clone();
    let booking = |code: &str| {
        json!({"hall": "east", "service": "filing", "date": slots["date"], "start": slot["start"], "name": "张三",
               "phone": "13812345678", "id_number": crate::appointments::resident_id(600), "request_id": format!("p-{code}"), "phone_code": code})
    };
    let (s, v) = post(&c, &format!("{public}/api/v1/appointments"), booking("000000"), &[]).await;
    assert_eq!((s, code(&v)), (422, "wrong_phone_code"), "{v}");
    let (s, v) = post(&c, &format!("{public}/api/v1/appointments"), booking(&sms_code), &[]).await;
    assert_eq!(s, 201, "{v}");
    assert!(!srv.log().contains(v["code"].as_str().unwrap()), "no booking code in the log");

    // The provider stops taking messages: the phone is told at once, the duty leader by an alert.
    provider.lock().unwrap().refuse = true;
    let (s, v) = post(&c, &format!("{public}/api/v1/appointments/phone-code"), json!({"phone": "13912345678"}), &[]).await;
    assert_eq!((s, code(&v)), (503, "sms_unavailable"), "{v}");
    assert_eq!(provider.lock().unwrap().refusals, ["13912345678"]);
    assert!(srv.log().contains("isv.BUSINESS_LIMIT_CONTROL"), "the provider's answer is logged");
    eventually("the sms_failing alert", || async { active_alerts(&srv).await.iter().any(|k| k == "sms_failing") }).await;
    provider.lock().unwrap().refuse = false;
    let (s, v) = post(&c, &format!("{public}/api/v1/appointments/phone-code"), json!({"phone": "13712345678"}), &[]).await;
    assert_eq!(s, 200, "{v}");
    eventually("the alert clears once a message goes through", || async { !active_alerts(&srv).await.iter().any(|k| k == "sms_failing") }).await;
}

// --- Event streams ----------------------------------------------------------------------------

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket from `127.0.0.{last}` (with a token: a device's or staff's stream); the HTTP
/// status when refused.
async fn ws_from(last: u8, port: u16, path: &str, token: Option<&str>) -> Result<Socket, u16> {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from(([127, 0, 0, last], 0))).unwrap();
    let tcp = sock.connect(SocketAddr::from(([127, 0, 0, 1], port))).await.expect("connect");
    let mut req = format!("ws://127.0.0.1:{port}{path}").into_client_request().unwrap();
    if let Some(t) = token {
        // As a browser sends it: the token offered as a subprotocol beside `qcall`.
        req.headers_mut().insert("sec-websocket-protocol", format!("qcall, qcall.bearer.{t}").parse().unwrap());
    }
    match tokio_tungstenite::client_async(req, tcp).await {
        Ok((ws, resp)) => {
            if token.is_some() {
                assert_eq!(resp.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()), Some("qcall"));
            }
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

/// The first text message (the snapshot).
async fn first_message(ws: &mut Socket) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a message").expect("open").expect("frame");
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// With the pool at 20, strangers hold at most their share (10) and 8 from one address; a
/// hall TV still connects; the full pool is logged and raises an alert; sockets that answer
/// no pings are closed and their places come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_take_the_hall_tvs_places() {
    let srv = Server::start_edited(|t| {
        t.replace("max_connections = 2048", "max_connections = 20").replacen("[server]\n", "[server]\nstream_ping_s = 1\n", 1)
    });
    let path = "/api/v1/halls/east/events";
    let mut held = vec![];
    // One address: eight, and the ninth is turned away.
    for i in 0..9 {
        match ws_from(2, srv.port, path, None).await {
            Ok(ws) => held.push(ws),
            Err(s) => assert_eq!((i, s), (8, 429), "only the ninth from one address is refused"),
        }
    }
    assert_eq!(held.len(), 8);
    // Other addresses: two more fill the public share, then the pool is full for strangers.
    let mut refused = 0;
    for last in 3..=8 {
        match ws_from(last, srv.port, path, None).await {
            Ok(ws) => held.push(ws),
            Err(s) => {
                assert_eq!(s, 429);
                refused += 1;
            }
        }
    }
    assert_eq!((held.len(), refused), (10, 4), "strangers hold half the pool");
    // The hall TV (a display's token) connects and gets the hall.
    let mut tv = ws_from(1, srv.port, path, Some("demo-display-east")).await.expect("the TV connects");
    let snap = first_message(&mut tv).await;
    assert_eq!(snap["type"], "snapshot", "{snap}");
    assert!(srv.log().contains("event streams full"), "the full pool is logged");
    eventually("the streams_full alert", || async { active_alerts(&srv).await.iter().any(|k| k == "streams_full") }).await;
    // The held sockets never read, so never answer a ping: after two missed pings they are
    // closed, and strangers' places come back.
    eventually("a stranger connects again", || async {
        match ws_from(9, srv.port, path, None).await {
            Ok(_) => true,
            Err(_) => false,
        }
    })
    .await;
    drop(held);
}

/// A stranger's stream of a hall carries what its public screens show: calls, finishes, queues.
/// A 差评 (the rating, its alert, who acknowledged it) and the devices' reports go only to staff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_sees_no_rating_alert_or_device_report() {
    let srv = Server::start();
    let api = srv.api();
    let path = "/api/v1/halls/east/events";
    let (tx, mut stranger) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let mut ws = ws_from(2, srv.port, path, None).await.expect("stranger");
    let snap = first_message(&mut ws).await;
    assert_eq!(snap["halls"][0]["devices"], json!([]), "no device reports in a stranger's snapshot");
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let _ = tx.send(serde_json::from_str(t.as_str()).unwrap());
            }
        }
    });
    let (stx, mut staff) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let mut sws = ws_from(3, srv.port, "/api/v1/events", Some(SUPERVISOR)).await.expect("supervisor");
    first_message(&mut sws).await;
    tokio::spawn(async move {
        while let Some(Ok(m)) = sws.next().await {
            if let Message::Text(t) = m {
                let _ = stx.send(serde_json::from_str(t.as_str()).unwrap());
            }
        }
    });
    // A kiosk reports a fault; a ticket is served and rated 1; the alert is acknowledged.
    let (s, _) = api.call("POST", "/api/v1/devices/kiosk-east-1/status", Some("demo-kiosk-east"), Some(json!({"ok": false, "code": "paper_end", "message": "缺纸"}))).await;
    assert_eq!(s, 204);
    let t = api.issue("east", "filing").await;
    let clerk = api.sign_in("clerk01", "E01").await;
    api.act(&clerk, "E01", "call-next").await;
    api.act(&clerk, "E01", "finish").await;
    let (s, v) = api.call("POST", &format!("/api/v1/tickets/{}/rating", t.id), Some("demo-pad-e01"), Some(json!({"score": 1}))).await;
    assert!(s < 300, "{v}");
    // Staff see all of it.
    // (On some dates another alert, the holiday calendar's, comes first: wait for all three.)
    let mut kinds: Vec<String> = vec![];
    let wanted = ["device_status_changed", "ticket_rated", "alert_raised"];
    let deadline = Instant::now() + Duration::from_secs(20);
    while !wanted.iter().all(|w| kinds.iter().any(|k| k == w)) {
        let m = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), staff.recv())
            .await
            .unwrap_or_else(|_| panic!("staff see {wanted:?}: {kinds:?}"))
            .unwrap();
        kinds.push(m["type"].as_str().unwrap_or_default().to_string());
    }
    // A marker the stranger does see, after everything else.
    let marker = api.issue("east", "invoice").await;
    let mut seen = vec![];
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), stranger.recv()).await.expect("stranger events").unwrap();
        let kind = m["type"].as_str().unwrap_or_default().to_string();
        let done = kind == "ticket_issued" && m["ticket"]["id"] == json!(marker.id);
        seen.push(kind);
        if done {
            break;
        }
    }
    assert!(seen.iter().any(|k| k == "ticket_finished"), "calls and finishes are public: {seen:?}");
    for hidden in ["ticket_rated", "alert_raised", "alert_acknowledged", "device_status_changed"] {
        assert!(!seen.iter().any(|k| k == hidden), "a stranger saw {hidden}: {seen:?}");
    }
    // Nor by asking: the hall state without a token has no device reports.
    let halls: Value = from(2).get(format!("{}/api/v1/halls", srv.url)).send().await.unwrap().json().await.unwrap();
    assert!(halls["halls"].as_array().unwrap().iter().all(|h| h["devices"] == json!([])), "{halls}");
    // And every hall stream needs no token, the all-halls one does.
    assert_eq!(ws_from(4, srv.port, "/api/v1/events", None).await.err(), Some(401));
}

// --- Sign-in and lookups --------------------------------------------------------------------

/// Ten wrong passwords from one address lock the duty leader's account there only: the duty
/// leader signs in from another address, and what they do next is audited with that address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_passwords_from_one_address_do_not_lock_the_duty_leader_out() {
    let srv = Server::start();
    let url = format!("{}/api/v1/supervisor-sessions", srv.url);
    let attacker = from(2);
    let mut last = (0, Value::Null);
    for i in 0..10 {
        last = post(&attacker, &url, json!({"supervisor": "duty", "password": format!("guess-{i}-guess")}), &[]).await;
    }
    assert_eq!((last.0, code(&last.1)), (429, "signin_locked"), "{}", last.1);
    let right = json!({"supervisor": "duty", "password": "demo-duty-password"});
    let (s, v) = post(&attacker, &url, right.clone(), &[]).await;
    assert_eq!((s, code(&v)), (429, "signin_locked"), "locked at the attacker's address: {v}");
    let duty = from(3);
    let (s, v) = post(&duty, &url, right, &[]).await;
    assert!(s == 200 || s == 201, "the duty leader signs in from another address: {s} {v}");
    let token = v["token"].as_str().unwrap().to_string();
    let r = duty
        .put(format!("{}/api/v1/halls/east/publicity", srv.url))
        .bearer_auth(&token)
        .json(&json!({"messages": ["依法纳税"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let day = srv.today();
    let (_, trail) = srv.api().call("GET", &format!("/api/v1/audit?from={day}&to={day}"), Some(SUPERVISOR), None).await;
    let entries = trail["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["action"] == "publicity_changed" && e["client"] == "127.0.0.3"),
        "the staff action carries the client address: {trail}"
    );
    assert!(!entries.iter().any(|e| e["actor"].as_str().is_some_and(|a| a.starts_with("supervisor:")) && e["client"] == "-"), "{trail}");
}

/// A thousand lookups from one address: thirty answered, the rest refused. Tries at one
/// booking code are limited from everywhere. Behind a trusted proxy each forwarded client
/// counts alone; an untrusted peer's `X-Forwarded-For` is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_are_limited_per_address_per_code_and_behind_a_trusted_proxy() {
    let text = crate::util::demo_config_text().replacen("[server]\n", "[server]\ntrusted_proxies = [\"127.0.0.5\"]\n", 1);
    let srv = Server::start_at(&text, "2026-12-01T09:00:00+08:00");
    let lookup = format!("{}/api/v1/appointments/lookup", srv.url);
    let body = json!({"phone": "13812341234", "id_number": crate::appointments::resident_id(7)});
    let c = from(2);
    let mut answered = 0;
    let mut refused = 0;
    for _ in 0..1000 {
        match post(&c, &lookup, body.clone(), &[]).await {
            (200, _) => answered += 1,
            (429, v) => {
                assert_eq!(code(&v), "too_many_bookings", "{v}");
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((answered, refused), (30, 970));
    // Another address is not affected.
    assert_eq!(post(&from(3), &lookup, body.clone(), &[]).await.0, 200);

    // One booking's code, tried from ten addresses with wrong phones: then refused everywhere.
    let (s, b) = srv.api().call("POST", "/api/v1/appointments", Some("demo-booking"), Some(json!({
        "hall": "east", "service": "filing", "date": "2026-12-02", "start": "10:00", "name": "张三", "phone": "13812341234",
        "id_number": crate::appointments::resident_id(8), "request_id": "code-tries"}))).await;
    assert_eq!(s, 201, "{b}");
    let view = format!("{}/api/v1/appointments/{}/view", srv.url, b["code"].as_str().unwrap());
    for last in 10..20 {
        let (s, v) = post(&from(last), &view, json!({"phone": "13900000000"}), &[]).await;
        assert_eq!((s, code(&v)), (404, "unknown_booking"), "{v}");
    }
    let (s, v) = post(&from(20), &view, json!({"phone": "13812341234"}), &[]).await;
    assert_eq!((s, code(&v)), (429, "too_many_bookings"), "the code is resting: {v}");

    // Behind the trusted proxy (127.0.0.5) each forwarded client counts alone.
    let proxy = from(5);
    for _ in 0..30 {
        assert_eq!(post(&proxy, &lookup, body.clone(), &[("x-forwarded-for", "203.0.113.7")]).await.0, 200);
    }
    assert_eq!(post(&proxy, &lookup, body.clone(), &[("x-forwarded-for", "203.0.113.7")]).await.0, 429);
    assert_eq!(post(&proxy, &lookup, body.clone(), &[("x-forwarded-for", "203.0.113.8")]).await.0, 200, "another taxpayer");
    // An untrusted peer cannot pick its address: 127.0.0.2 is still out of lookups.
    assert_eq!(post(&c, &lookup, body.clone(), &[("x-forwarded-for", "198.51.100.1")]).await.0, 429);
}

/// The README's deployment: HAProxy in front of the public face only, setting
/// `X-Forwarded-For`, which the server believes from the proxy alone. Through the proxy each
/// taxpayer's address counts on its own; a forged header changes nothing; the staff's routes
/// are not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_haproxy_each_taxpayer_counts_on_their_own() {
    let public_port = free_port();
    let text = crate::util::demo_config_text()
        .replacen("[server]\n", &format!("[server]\npublic_listen = \"127.0.0.1:{public_port}\"\ntrusted_proxies = [\"127.0.0.1\"]\n"), 1)
        .replacen("remote_tickets = 30\n", "", 1)
        .replacen("[sms]\nprovider = \"log\"\n", "", 1);
    let srv = Server::start_at(&text, "2026-12-01T09:00:00+08:00");
    let front = free_port();
    let cfg = srv.dir.path().join("haproxy.cfg");
    // The README's frontend and backend (without its TLS), in a minimal global and defaults.
    std::fs::write(
        &cfg,
        format!(
            "global\n    log stderr local0\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
             frontend www\n    bind 127.0.0.1:{front}\n    http-request set-header X-Forwarded-For %[src]\n    default_backend qcall_public\n\
             backend qcall_public\n    server qcall 127.0.0.1:{public_port}\n"
        ),
    )
    .unwrap();
    let check = std::process::Command::new("haproxy").arg("-c").arg("-f").arg(&cfg).output().expect("haproxy (scripts/deps.sh test installs it)");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let proxy = std::process::Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut proxy = Kill(proxy);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", front)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start: {:?}", proxy.0.try_wait());
        std::thread::sleep(Duration::from_millis(50));
    }
    let www = format!("http://127.0.0.1:{front}");
    assert_eq!(from(2).get(format!("{www}/book")).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(from(2).get(format!("{www}/supervisor")).send().await.unwrap().status().as_u16(), 404);
    let lookup = format!("{www}/api/v1/appointments/lookup");
    let body = json!({"phone": "13812341234", "id_number": crate::appointments::resident_id(7)});
    for _ in 0..30 {
        assert_eq!(post(&from(2), &lookup, body.clone(), &[]).await.0, 200);
    }
    let (s, v) = post(&from(2), &lookup, body.clone(), &[]).await;
    assert_eq!((s, code(&v)), (429, "too_many_bookings"), "{v}");
    let (s, _) = post(&from(2), &lookup, body.clone(), &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(s, 429, "a forged X-Forwarded-For is replaced by the proxy");
    assert_eq!(post(&from(3), &lookup, body.clone(), &[]).await.0, 200, "another taxpayer behind the same proxy");
    // Without an SMS provider the public page cannot book, and says so.
    let (s, v) = post(&from(3), &format!("{www}/api/v1/appointments/phone-code"), json!({"phone": "13812341234"}), &[]).await;
    assert_eq!((s, code(&v)), (503, "sms_unavailable"), "{v}");
}

/// `n` consulting tickets issued at the central hall's kiosk, in order.
async fn waiting_in_central(api: &crate::util::Api, n: usize) -> Vec<qcall_wire::Ticket> {
    let mut tickets = vec![];
    for _ in 0..n {
        tickets.push(api.issue("central", "consulting").await);
    }
    tickets
}

/// A server whose provider secret is wrong: a code asked for is refused at once (503
/// `sms_unavailable`), the provider's answer (`says`) is in the log, and the duty leader sees
/// `sms_failing`.
async fn a_wrong_secret_is_refused_and_alerted(wrong: Server, says: Option<&str>) {
    let (s, v) = post(&from(1), &format!("{}/api/v1/appointments/phone-code", wrong.url), json!({"phone": "13812341234"}), &[]).await;
    assert_eq!((s, code(&v)), (503, "sms_unavailable"), "{v}");
    if let Some(says) = says {
        assert!(wrong.log().contains(says), "the provider's answer is logged");
    }
    eventually("the sms_failing alert", || async { active_alerts(&wrong).await.iter().any(|k| k == "sms_failing") }).await;
}

/// Five consulting tickets waiting in central, and a code asked for `phone` (to leave it for
/// the last one's texts).
async fn five_waiting_and_a_code_asked(srv: &Server, phone: &str) -> (crate::util::Api, Vec<qcall_wire::Ticket>) {
    let api = srv.api();
    let tickets = waiting_in_central(&api, 5).await;
    let (s, v) = post(&from(1), &format!("{}/api/v1/appointments/phone-code", srv.url), json!({"phone": phone}), &[]).await;
    assert_eq!(s, 200, "{v}");
    (api, tickets)
}

/// The clerk at C01 calls and finishes these tickets, in their order.
async fn serve_at_c01(api: &crate::util::Api, clerk: &str, tickets: &[qcall_wire::Ticket]) {
    for t in tickets {
        let (s, v) = api.act(clerk, "C01", "call-next").await;
        assert_eq!((s, v["ticket"]["id"].as_u64()), (200, Some(t.id)));
        assert_eq!(api.act(clerk, "C01", "finish").await.0, 200);
    }
}

/// A taxpayer leaves a number on the ticket page: one text through the provider when the turn
/// is near, one when called naming the window, never two of a kind; a provider that refuses is
/// tried again later and meanwhile raises the duty leader's alert; no log line holds the number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_left_for_a_ticket_is_texted_before_the_turn_and_when_called() {
    const TUE_0900: &str = "2026-12-01T09:00:00+08:00";
    let (provider, sms, _secrets) =
        aliyun_at(TUE_0900, "near_turn_template = \"SMS_NEAR_1\"\ncalled_template = \"SMS_CALLED_1\"\ncheck_in_template = \"SMS_CHECKIN_1\"\n");
    let text = crate::util::demo_config_text().replacen("[sms]\nprovider = \"log\"\n", &sms, 1);
    // A wrong secret first: the provider refuses the signature, the duty leader sees it.
    let wrong_secret = _secrets.path().join("wrong.secret");
    std::fs::write(&wrong_secret, "not-the-secret\n").unwrap();
    let right = _secrets.path().join("sms.secret").display().to_string();
    let wrong = Server::start_at(&text.replace(&right, &wrong_secret.display().to_string()), TUE_0900);
    a_wrong_secret_is_refused_and_alerted(wrong, Some("SignatureDoesNotMatch")).await;
    let mut srv = Server::start_at(&text, TUE_0900);
    let phone = "13812341234";
    let (api, tickets) = five_waiting_and_a_code_asked(&srv, phone).await;
    let mine = &tickets[4];
    let c = from(1);
    let code = provider.lock().unwrap().sent.iter().rev().find(|(p, _)| p == phone).map(|(_, c)| c.clone()).expect("the code");
    let (s, v) = post(&c, &format!("{}/api/v1/tickets/{}/phone", srv.url, mine.id), json!({"phone": phone, "phone_code": code}), &[]).await;
    assert_eq!((s, &v["phone"]), (201, &json!("138****1234")), "{v}");

    let texts = |template: &str| -> Vec<Value> {
        provider.lock().unwrap().messages.iter().filter(|(p, t, _)| p == phone && t == template).map(|(_, _, v)| v.clone()).collect()
    };
    let clerk = api.sign_in("clerk16", "C01").await;
    // Served one after another until the turn is near: one near-turn text, with the number.
    serve_at_c01(&api, &clerk, &tickets[..4]).await;
    eventually("the near-turn text", || async { !texts("SMS_NEAR_1").is_empty() }).await;
    let near = texts("SMS_NEAR_1");
    assert_eq!(near.len(), 1, "{near:?}");
    assert_eq!(near[0]["number"], json!(mine.number));
    assert!(near[0]["ahead"].as_str().unwrap().parse::<u32>().unwrap() <= 3, "{near:?}");
    assert_eq!(near[0]["hall"], json!("中区办税服务厅"));
    // A restart in between: what was sent is remembered, nothing is sent twice.
    srv.restart();

    // The provider refuses the called text: the alert is up, and the text comes later.
    provider.lock().unwrap().refuse = true;
    let (s, v) = api.act(&clerk, "C01", "call-next").await;
    assert_eq!((s, v["ticket"]["id"].as_u64()), (200, Some(mine.id)));
    eventually("the refusal", || async { provider.lock().unwrap().refusals.iter().any(|p| p == phone) }).await;
    eventually("the sms_failing alert", || async { active_alerts(&srv).await.iter().any(|k| k == "sms_failing") }).await;
    provider.lock().unwrap().refuse = false;
    eventually("the called text, tried again", || async { !texts("SMS_CALLED_1").is_empty() }).await;
    assert_eq!(texts("SMS_CALLED_1")[0], json!({"number": mine.number, "counter": "1"}));
    // Called again (recall): no second text of the kind.
    assert_eq!(api.act(&clerk, "C01", "recall").await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!((texts("SMS_NEAR_1").len(), texts("SMS_CALLED_1").len()), (1, 1));
    let log = srv.log();
    assert!(!log.contains(phone) && log.contains("138****1234"), "numbers are masked in the log");
}

// --- Tencent Cloud SMS ------------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Tencent Cloud SMS (API 3.0, SendSms 2021-01-11), as its documentation says it checks a
/// request: the TC3-HMAC-SHA256 signature over the canonical request built from the headers
/// the request names in SignedHeaders, the credential's date and service, the timestamp within
/// five minutes, the action and version, the SDK app, sign name, template and its parameter
/// count. Errors come back as the service sends them: HTTP 200 with `Response.Error`, or a
/// per-number `Code` in `SendStatusSet`.
struct Tencent {
    secret_id: String,
    secret_key: String,
    app_id: String,
    now: Box<dyn Fn() -> i64 + Send>,
    /// Every message taken: (phone without +86, template id, its parameters in order).
    messages: Vec<(String, String, Vec<String>)>,
    /// Answer the next messages as the per-number frequency limit does.
    refuse: bool,
}

impl Tencent {
    fn answer(&mut self, head: &str, body: &str) -> (u16, Value) {
        let err = |code: &str, message: &str| (200, json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "stand-in"}}));
        // The stand-in's HTTP reader gives the head in lower case: names and values.
        let header = |name: &str| head.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()));
        let Some(auth) = header("authorization") else { return err("AuthFailure.SignatureFailure", "missing Authorization") };
        let Some(rest) = auth.strip_prefix("tc3-hmac-sha256 ") else { return err("AuthFailure.SignatureFailure", "unknown algorithm") };
        let part = |k: &str| rest.split(", ").find_map(|p| p.strip_prefix(&format!("{k}="))).unwrap_or("").to_string();
        let (credential, signed_headers, signature) = (part("credential"), part("signedheaders"), part("signature"));
        let scope: Vec<&str> = credential.split('/').collect();
        if scope.len() != 4 || scope[0] != self.secret_id.to_ascii_lowercase() {
            return err("AuthFailure.SecretIdNotFound", "The SecretId is not found");
        }
        if (header("x-tc-action").as_deref(), header("x-tc-version").as_deref()) != (Some("sendsms"), Some("2021-01-11")) || header("x-tc-region").is_none() {
            return err("InvalidAction", "action, version or region");
        }
        let Some(ts) = header("x-tc-timestamp").and_then(|t| t.parse::<i64>().ok()) else { return err("MissingParameter", "X-TC-Timestamp") };
        if (ts - (self.now)()).abs() > 300 {
            return err("AuthFailure.SignatureExpire", "Signature expired.");
        }
        let date = chrono::DateTime::from_timestamp(ts, 0).unwrap().format("%Y-%m-%d").to_string();
        if (scope[1], scope[2], scope[3]) != (date.as_str(), "sms", "tc3_request") {
            return err("AuthFailure.SignatureFailure", "credential scope");
        }
        let canonical_headers: String = signed_headers.split(';').map(|h| format!("{h}:{}\n", header(h).unwrap_or_default())).collect();
        let body_hash = hex(&<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes()));
        let canonical = format!("POST\n/\n\n{canonical_headers}\n{signed_headers}\n{body_hash}");
        let to_sign = format!(
            "TC3-HMAC-SHA256\n{ts}\n{date}/sms/tc3_request\n{}",
            hex(&<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()))
        );
        let k = hmac256(format!("TC3{}", self.secret_key).as_bytes(), date.as_bytes());
        let k = hmac256(&k, b"sms");
        let k = hmac256(&k, b"tc3_request");
        if hex(&hmac256(&k, to_sign.as_bytes())) != signature {
            return err("AuthFailure.SignatureFailure", "The provided credentials could not be validated.");
        }
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if v["SmsSdkAppId"] != json!(self.app_id) {
            return err("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId");
        }
        if v["SignName"] != json!("某某税务") {
            return err("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误");
        }
        let count = match v["TemplateId"].as_str() {
            Some("1000001") => 1,
            Some("1000002") => 4,
            Some("1000003") => 2,
            Some("1000004") => 4,
            _ => return err("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配"),
        };
        let params: Vec<String> = v["TemplateParamSet"].as_array().map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect()).unwrap_or_default();
        if params.len() != count {
            return err("InvalidParameterValue.TemplateParameterFormatError", "验证码模板参数格式错误");
        }
        let Some(phone) = v["PhoneNumberSet"][0].as_str().and_then(|p| p.strip_prefix("+86")).map(str::to_string) else {
            return err("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误");
        };
        let status = |code: &str, message: &str| {
            (200, json!({"Response": {"SendStatusSet": [{"SerialNo": "stand-in", "PhoneNumber": format!("+86{phone}"), "Fee": 1,
                "SessionContext": v["SessionContext"], "Code": code, "Message": message, "IsoCode": "CN"}], "RequestId": "stand-in"}}))
        };
        if self.refuse {
            return status("LimitExceeded.PhoneNumberThirtySecondLimit", "单个手机号30秒内下发短信条数超过设定的上限");
        }
        self.messages.push((phone.clone(), v["TemplateId"].as_str().unwrap_or("").to_string(), params));
        status("Ok", "send success")
    }
}

/// The same texts through Tencent Cloud: the code, the near-turn text with its parameters in
/// the documented order ({1} ahead, {2} hall, {3} minutes, {4} number), the called text; a
/// wrong secret is refused by the stand-in's signature check, as the service would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_texts_go_through_tencent_cloud_signed_as_it_checks() {
    const TUE_0900: &str = "2026-12-01T09:00:00+08:00";
    let started = Instant::now();
    let clock_at = chrono::DateTime::parse_from_rfc3339(TUE_0900).unwrap().timestamp();
    let provider = Arc::new(Mutex::new(Tencent {
        secret_id: "akid-test".into(),
        secret_key: "tencent-secret-key".into(),
        app_id: "1400000001".into(),
        now: Box::new(move || clock_at + started.elapsed().as_secs() as i64),
        messages: vec![],
        refuse: false,
    }));
    let port = serve_stand_in(provider.clone(), Tencent::answer);
    let secrets = tempfile::tempdir().unwrap();
    let start = |secret: &str| {
        let file = secrets.path().join(format!("{secret}.secret"));
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let sms = format!(
            "[sms]\nprovider = \"tencent\"\nendpoint = \"http://127.0.0.1:{port}/\"\nkey_id = \"akid-test\"\nsecret_file = {:?}\n\
             app_id = \"1400000001\"\nsign_name = \"某某税务\"\ncode_template = \"1000001\"\nnear_turn_template = \"1000002\"\ncalled_template = \"1000003\"\n\
             check_in_template = \"1000004\"\n",
            file.display().to_string()
        );
        Server::start_at(&crate::util::demo_config_text().replacen("[sms]\nprovider = \"log\"\n", &sms, 1), TUE_0900)
    };
    // A wrong secret: the service refuses the signature, the phone is told at once.
    a_wrong_secret_is_refused_and_alerted(start("not-the-secret"), Some("AuthFailure.SignatureFailure")).await;

    let srv = start("tencent-secret-key");
    let phone = "13812341234";
    let (api, tickets) = five_waiting_and_a_code_asked(&srv, phone).await;
    let mine = &tickets[4];
    let texts = |template: &str| -> Vec<Vec<String>> {
        provider.lock().unwrap().messages.iter().filter(|(p, t, _)| p == phone && t == template).map(|(_, _, v)| v.clone()).collect()
    };
    let sent_code = texts("1000001").last().expect("the code went through the provider")[0].clone();
    // Through the Rust client, as a kiosk would.
    let left = srv.client().leave_phone(mine.id, phone, &sent_code).await.unwrap();
    assert_eq!(left.phone, "138****1234");
    let clerk = api.sign_in("clerk16", "C01").await;
    serve_at_c01(&api, &clerk, &tickets[..4]).await;
    eventually("the near-turn text", || async { !texts("1000002").is_empty() }).await;
    let near = &texts("1000002")[0];
    assert!(near[0].parse::<u32>().unwrap() <= 3 && near[1] == "中区办税服务厅" && near[3] == mine.number, "{near:?}");
    // A restart in between: nothing is sent twice.
    let mut srv = srv;
    srv.restart();
    let (s, _) = api.act(&clerk, "C01", "call-next").await;
    assert_eq!(s, 200);
    eventually("the called text", || async { !texts("1000003").is_empty() }).await;
    assert_eq!(texts("1000003")[0], ["1".to_string(), mine.number.clone()]);
    assert_eq!(api.act(&clerk, "C01", "recall").await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!((texts("1000002").len(), texts("1000003").len()), (1, 1), "one of each kind");
    drop(srv);
}

// --- The bureau's own SMS platform (the webhook) ------------------------------------------

/// A bureau's SMS platform as the README's contract has it: a JSON post with
/// `X-Qcall-Timestamp` and `X-Qcall-Signature`, the hex HMAC-SHA256 of "{timestamp}.{body}"
/// with the shared secret; a wrong signature, an old timestamp (over five minutes off) or a
/// nonce seen before is refused with 401.
struct Platform {
    secret: String,
    now: Box<dyn Fn() -> i64 + Send>,
    nonces: HashSet<String>,
    /// Every message taken: (phone, purpose, params, text).
    messages: Vec<(String, String, Value, String)>,
    refused: u32,
}

impl Platform {
    fn answer(&mut self, head: &str, body: &str) -> (u16, Value) {
        let header = |name: &str| head.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()));
        let mut refuse = |why: &str| {
            self.refused += 1;
            (401, json!({"error": why}))
        };
        let (Some(ts), Some(sig)) = (header("x-qcall-timestamp").and_then(|t| t.parse::<i64>().ok()), header("x-qcall-signature")) else {
            return refuse("unsigned");
        };
        if hex(&hmac256(self.secret.as_bytes(), format!("{ts}.{body}").as_bytes())) != sig {
            return refuse("bad signature");
        }
        if (ts - (self.now)()).abs() > 300 {
            return refuse("stale timestamp");
        }
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if !self.nonces.insert(v["nonce"].as_str().unwrap_or("").to_string()) {
            return refuse("replayed");
        }
        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
        self.messages.push((s("phone"), s("purpose"), v["params"].clone(), s("text")));
        (200, json!({"ok": true}))
    }
}

/// Ticket texts through the bureau's own platform: a server with the wrong secret is refused
/// and the duty leader sees the alert; with the right one, exactly one near-turn and one
/// called text, with a restart between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_texts_go_through_the_bureaus_own_platform_once_each_across_a_restart() {
    const TUE_0900: &str = "2026-12-01T09:00:00+08:00";
    let started = Instant::now();
    let clock_at = chrono::DateTime::parse_from_rfc3339(TUE_0900).unwrap().timestamp();
    let platform = Arc::new(Mutex::new(Platform {
        secret: "platform-secret".into(),
        now: Box::new(move || clock_at + started.elapsed().as_secs() as i64),
        nonces: HashSet::new(),
        messages: vec![],
        refused: 0,
    }));
    let port = serve_stand_in(platform.clone(), Platform::answer);
    let secrets = tempfile::tempdir().unwrap();
    let start = |secret: &str| {
        let file = secrets.path().join(format!("{secret}.secret"));
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let sms = format!("[sms]\nprovider = \"webhook\"\nendpoint = \"http://127.0.0.1:{port}/sms\"\nsecret_file = {:?}\n", file.display().to_string());
        Server::start_at(&crate::util::demo_config_text().replacen("[sms]\nprovider = \"log\"\n", &sms, 1), TUE_0900)
    };
    let phone = "13812341234";
    a_wrong_secret_is_refused_and_alerted(start("not-the-secret"), None).await;
    assert_eq!(platform.lock().unwrap().refused, 1, "the platform refused the signature");

    let mut srv = start("platform-secret");
    let (api, tickets) = five_waiting_and_a_code_asked(&srv, phone).await;
    let mine = &tickets[4];
    let texts = |purpose: &str| -> Vec<(Value, String)> {
        platform.lock().unwrap().messages.iter().filter(|(p, k, _, _)| p == phone && k == purpose).map(|(_, _, v, t)| (v.clone(), t.clone())).collect()
    };
    let sent_code = texts("code").last().expect("the code came through the platform").0["code"].as_str().unwrap().to_string();
    let left = srv.client().leave_phone(mine.id, phone, &sent_code).await.unwrap();
    assert_eq!(left.phone, "138****1234");
    let clerk = api.sign_in("clerk16", "C01").await;
    serve_at_c01(&api, &clerk, &tickets[..4]).await;
    eventually("the near-turn text", || async { !texts("near_turn").is_empty() }).await;
    let (params, text) = texts("near_turn")[0].clone();
    assert_eq!(params["number"], json!(mine.number));
    assert!(text.contains(&mine.number) && text.contains("中区办税服务厅"), "{text}");
    srv.restart();
    let (s, _) = api.act(&clerk, "C01", "call-next").await;
    assert_eq!(s, 200);
    eventually("the called text", || async { !texts("called").is_empty() }).await;
    assert!(texts("called")[0].1.contains("1 号窗口"), "{:?}", texts("called"));
    assert_eq!(api.act(&clerk, "C01", "recall").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!((texts("near_turn").len(), texts("called").len()), (1, 1), "one of each kind");
    eventually("the alert cleared once messages go through", || async { !active_alerts(&srv).await.iter().any(|k| k == "sms_failing") }).await;
}
