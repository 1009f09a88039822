//! The web pages served by the core — clerk console, counter screen, rating pad, ticket status —
//! in a real headless Chromium driven over WebDriver (chromedriver), against a real server.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`;
//! override with `QCALL_CHROMIUM` / `QCALL_CHROMEDRIVER`). Without them these tests FAIL.
//! With `QCALL_SCREENSHOTS=DIR` the main flow also saves `web-counter.png`, `web-screen.png`
//! and `web-rate.png` (1366×768) into DIR (relative paths are taken from the workspace root).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::util::{free_port, Api, Server};

/// Upper bound for anything to appear; only a guard against hanging, never a measurement.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

fn tool(env: &str, default: &str, package: &str) -> PathBuf {
    let p = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.exists(),
        "{} not found: the browser tests need Debian's `{package}` (apt-get install chromium chromium-driver), \
         or set {env} to its path",
        p.display()
    );
    p
}

/// chromedriver on a free loopback port, plus one headless Chromium session.
pub(crate) struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
    log: PathBuf,
}

impl Browser {
    pub(crate) async fn start() -> Browser {
        let chromium = tool("QCALL_CHROMIUM", "/usr/bin/chromium", "chromium");
        let chromedriver = tool("QCALL_CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
        let profile = tempfile::tempdir().expect("profile dir");
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        // The browser is a taxpayer's or clerk's own device: it keeps the machine's clock,
        // which differs from every test server's chosen clock, and the pages must decide by
        // the server's time anyway. (Under scripts/test-dates.sh the tests run with
        // libfaketime preloaded; Chromium's timed waits do not survive it.)
        let driver = Command::new(&chromedriver)
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME")
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let mut b = Browser { client: None, driver, log, _profile: profile };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = b.driver.try_wait() {
                panic!("chromedriver exited with {status}; log:\n{}", b.log_text());
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer; log:\n{}", b.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let user_data = b._profile.path().join("profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--window-size=1366,768", "--lang=zh-CN",
                    format!("--user-data-dir={}", user_data.display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session: {e}; chromedriver log:\n{}", b.log_text()));
        // Make the page itself (not the window around it) 1366×768.
        let frame = client
            .execute("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];", vec![])
            .await
            .expect("window frame");
        let dim = |i: usize| frame[i].as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        client.set_window_size(1366 + dim(0), 768 + dim(1)).await.expect("window size");
        b.client = Some(client);
        b
    }

    pub(crate) fn c(&self) -> &Client {
        self.client.as_ref().expect("session open")
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().rev().take(40).collect::<Vec<_>>().join("\n")
    }

    pub(crate) async fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
    }

    /// Wait until the element's text contains `want`; panic with what was there.
    pub(crate) async fn wait_text(&self, css: &str, want: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        loop {
            if let Ok(e) = self.c().find(Locator::Css(css)).await {
                if let Ok(t) = e.text().await {
                    if t.contains(want) {
                        return t;
                    }
                    last = t;
                }
            }
            assert!(Instant::now() < deadline, "`{css}` never showed {want:?}; last text {last:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until a JS expression is true.
    pub(crate) async fn wait_js(&self, expr: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let v = self.c().execute(&format!("return !!({expr});"), vec![]).await;
            if let Ok(Value::Bool(true)) = v {
                return;
            }
            assert!(Instant::now() < deadline, "never true: {expr} (last: {v:?})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn js(&self, expr: &str) -> Value {
        self.c().execute(&format!("return ({expr});"), vec![]).await.expect("script")
    }

    /// Click an element, finding it again if the page re-rendered it in between.
    pub(crate) async fn click(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let e = self.c().wait().at_most(PATIENCE).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
            match e.click().await {
                Ok(()) => return,
                Err(err) => assert!(Instant::now() < deadline, "click {css}: {err}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Replace the field's text.
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let e = self.c().wait().at_most(PATIENCE).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        e.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
        e.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub(crate) async fn press(&self, key: Key) {
        let body = self.c().find(Locator::Css("body")).await.expect("body");
        body.send_keys(&key.to_string()).await.expect("key");
    }

    pub(crate) async fn new_tab(&self, url: &str) -> fantoccini::wd::WindowHandle {
        let w = self.c().new_window(true).await.expect("new tab");
        self.c().switch_to_window(w.handle.clone()).await.expect("switch");
        self.c().goto(url).await.expect("goto");
        w.handle
    }

    pub(crate) async fn switch(&self, w: &fantoccini::wd::WindowHandle) {
        self.c().switch_to_window(w.clone()).await.expect("switch");
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("QCALL_SCREENSHOTS").map(PathBuf::from) else { return };
        let dir = if dir.is_absolute() { dir } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(dir) };
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let png = self.c().screenshot().await.expect("screenshot");
        std::fs::write(dir.join(name), png).expect("write screenshot");
    }

    /// Make the page itself (not the window around it) `w`×`h`.
    pub(crate) async fn viewport(&self, w: u32, h: u32) {
        let frame = self.js("[window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]").await;
        let dim = |i: usize| frame[i].as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        self.c().set_window_size(w + dim(0), h + dim(1)).await.expect("window size");
    }

    /// Sign in on the console page, which must be open in the current tab.
    pub(crate) async fn sign_in(&self, clerk: &str, pin: &str) {
        self.c().wait().at_most(PATIENCE).for_element(Locator::Css("#login-view:not([hidden])")).await.expect("login form");
        self.type_into("#login-clerk", clerk).await;
        self.type_into("#login-pin", pin).await;
        self.click("#login-submit").await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The session is closed in `close`; this ends chromedriver and its browser on any exit.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn stats(api: &Api, token: &str, hall: &str) -> Value {
    let (s, v) = api.call("GET", &format!("/api/v1/stats/today?hall={hall}"), Some(token), None).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn row<'a>(v: &'a Value, list: &str, key: &str, id: &str) -> &'a Value {
    v[list].as_array().expect("list").iter().find(|r| r[key] == id).unwrap_or_else(|| panic!("no {list} row {id} in {v}"))
}

/// A clerk signs in, calls next (F1); the counter screen shows the number; the clerk finishes;
/// the rating pad asks and records the rating; the stats count it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_clerk_calls_screen_shows_pad_rates_stats_count() {
    let server = Server::start();
    let api = server.api();
    // A001 becomes a no-show at E02, so the console lists one; then the queue E01 will see.
    let a001 = api.issue("east", "filing").await;
    let e02 = api.sign_in("clerk02", "E02").await;
    assert_eq!(api.act(&e02, "E02", "call-next").await.0, 200);
    assert_eq!(api.act(&e02, "E02", "no-show").await.0, 200);
    let a002 = api.issue("east", "filing").await;
    for service in ["invoice", "filing", "registration", "consulting"] {
        api.issue("east", service).await;
    }
    assert_eq!(a002.number, "A002");

    let b = Browser::start().await;
    b.c().goto(&format!("{}/counter?counter=E01", server.url)).await.expect("console");
    let console = b.c().window().await.expect("window");
    b.wait_js("document.getElementById('login-counter').value === 'E01'").await;
    b.sign_in("clerk01", "1234").await;
    b.wait_text("#who-counter", "E01").await;
    b.wait_text("#waiting-list", "A002").await;
    b.wait_text("#noshow-list", &a001.number).await;
    b.wait_text("#waiting-count", "5").await;

    let screen = b.new_tab(&format!("{}/screen/counter/E01", server.url)).await;
    b.wait_text("#screen-window", "1 号窗口").await;
    b.wait_text("#screen-number", "请稍候").await;

    let pad = b.new_tab(&format!("{}/rate/E01?token=demo-pad-e01", server.url)).await;
    b.wait_js("document.body.dataset.view === 'idle'").await;
    // 亮证服务: the idle pad shows who serves at this window, name and 工号.
    b.wait_text("#idle-clerk-name", "王芳").await;
    b.wait_text("#idle-clerk", "clerk01").await;
    let url = b.c().current_url().await.expect("url");
    assert!(!url.as_str().contains("token"), "the token stays out of the address bar: {url}");

    // F1 on the console: call next.
    b.switch(&console).await;
    b.press(Key::F1).await;
    b.wait_text("#current-number", "A002").await;
    b.wait_text("#current-calls", "1").await;
    b.wait_text("#waiting-count", "4").await;

    b.switch(&screen).await;
    b.wait_text("#screen-number", "A002").await;
    b.screenshot("web-screen.png").await;

    b.switch(&console).await;
    b.screenshot("web-counter.png").await;
    b.click("#btn-finish").await;
    b.wait_text("#served-today", "1").await;
    b.wait_text("#current-number", "—").await;

    b.switch(&pad).await;
    b.wait_js("document.body.dataset.view === 'ask'").await;
    b.wait_text("#rate-number", "A002").await;
    b.screenshot("web-rate.png").await;
    b.click("button[data-score='4']").await;
    b.wait_js("document.body.dataset.view === 'thanks'").await;
    b.wait_text("#rate-thanks", "感谢您的评价，祝您办事顺利").await;

    // The console's figures of today follow the rating.
    b.switch(&console).await;
    b.wait_text("#today-rating", "4.0").await;
    b.wait_text("#today-served", "1").await;
    if std::env::var_os("QCALL_SCREENSHOTS").is_some() {
        // The same console on a portrait tablet.
        b.c().set_window_size(800, 1280).await.expect("tablet size");
        b.screenshot("web-counter-tablet.png").await;
    }

    // The screen went back to waiting once the ticket was finished.
    b.switch(&screen).await;
    b.wait_text("#screen-number", "请稍候").await;
    b.close().await;

    let v = stats(&api, "demo-supervisor", "east").await;
    let e01 = row(&v, "counters", "counter", "E01");
    assert_eq!(e01["served"], 1, "{v}");
    assert_eq!(e01["rated"], 1, "{v}");
    assert_eq!(e01["ratings"]["4"], 1, "{v}");
    assert_eq!(e01["ratings"]["5"], 0, "{v}");
    let clerk = row(&v, "clerks", "clerk", "clerk01");
    assert_eq!(clerk["served"], 1, "{v}");
    assert_eq!(clerk["ratings"]["4"], 1, "{v}");
    assert_eq!(row(&v, "counters", "counter", "E02")["no_shows"], 1, "{v}");
    assert_eq!(row(&v, "clerks", "clerk", "clerk02")["no_shows"], 1, "{v}");
    // Once per ticket.
    let (s, e) = api.call("POST", &format!("/api/v1/tickets/{}/rating", a002.id), Some("demo-pad-e01"), Some(json!({"score": 5}))).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("already_rated")), "{e}");
}

/// A wrong PIN is refused on the page (and nothing is stored); the right one then works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_wrong_pin_is_refused() {
    let server = Server::start();
    let b = Browser::start().await;
    b.c().goto(&format!("{}/counter?counter=E02", server.url)).await.expect("console");
    b.sign_in("clerk02", "9999").await;
    b.wait_text("#login-error", "wrong PIN").await;
    assert_eq!(b.js("document.getElementById('console-view').hidden").await, Value::Bool(true));
    assert_eq!(b.js("sessionStorage.getItem('qcall.counter.session')").await, Value::Null);
    let halls = server.api().halls().await;
    let e02 = crate::util::hall(&halls, "east").counters.iter().find(|c| c.id == "E02").expect("E02").state;
    assert_eq!(e02, qcall_wire::CounterState::Closed, "a refused sign-in opens nothing");

    b.sign_in("clerk02", "1234").await;
    b.wait_text("#who-counter", "E02").await;
    b.wait_text("#counter-state", "Open").await;
    b.close().await;
}

/// The token a clerk got on the console page works on that counter and nowhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_clerk_token_cannot_act_on_another_counter() {
    let server = Server::start();
    let api = server.api();
    let t = api.issue("east", "filing").await;
    let b = Browser::start().await;
    b.c().goto(&format!("{}/counter?counter=E02", server.url)).await.expect("console");
    b.sign_in("clerk02", "1234").await;
    b.wait_text("#waiting-list", &t.number).await;
    let token = b.js("JSON.parse(sessionStorage.getItem('qcall.counter.session')).token").await;
    let token = token.as_str().expect("token kept in sessionStorage").to_string();
    b.close().await;

    let other = api.sign_in("clerk03", "E03").await;
    for action in ["call-next", "pause", "finish"] {
        let (s, v) = api.act(&token, "E03", action).await;
        assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")), "{action}: {v}");
    }
    let (s, v) = api.call("POST", "/api/v1/counters/E03/call", Some(&token), Some(json!({"ticket": t.id}))).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = api.call("GET", "/api/v1/counters/E03/queue", Some(&token), None).await;
    assert_eq!(s, 403, "{v}");
    // Nothing happened at E03 or to the ticket; the same token works at its own counter.
    let (_, q) = api.call("GET", "/api/v1/counters/E03/queue", Some(&other), None).await;
    assert!(q["current"].is_null(), "{q}");
    let (s, v) = api.act(&token, "E02", "call-next").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ticket"]["number"], t.number.as_str());
}

/// Unanswered, the pad goes back to idle and records nothing (question shortened with `?ask_s=`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pad_unanswered_records_nothing() {
    let server = Server::start();
    let api = server.api();
    let t = api.issue("west", "invoice").await;
    let clerk = api.sign_in("clerk10", "W01").await;
    let b = Browser::start().await;
    b.c().goto(&format!("{}/rate/W01?token=demo-pad-w01&ask_s=2", server.url)).await.expect("pad");
    b.wait_js("document.body.dataset.view === 'idle'").await;
    assert_eq!(api.act(&clerk, "W01", "call-next").await.0, 200);
    assert_eq!(api.act(&clerk, "W01", "finish").await.0, 200);
    b.wait_js("document.body.dataset.view === 'ask'").await;
    b.wait_text("#rate-number", &t.number).await;
    b.wait_js("document.body.dataset.view === 'idle'").await;
    b.close().await;
    let v = stats(&api, "demo-supervisor", "west").await;
    let w01 = row(&v, "counters", "counter", "W01");
    assert_eq!(w01["served"], 1, "{v}");
    assert_eq!(w01["rated"], 0, "{v}");
}

/// Rating rules over HTTP: only the pad of the counter that finished the ticket, a score 1..5,
/// only the counter's last finished ticket, once; and who may read the statistics.
#[tokio::test]
async fn web_api_rating_rules_and_stats_access() {
    let server = Server::start();
    let api = server.api();
    let t1 = api.issue("east", "filing").await;
    let t2 = api.issue("east", "filing").await;
    let e01 = api.sign_in("clerk01", "E01").await;
    let rate = |id: u64, token: &'static str, body: Value| {
        let api = api.clone();
        async move { api.call("POST", &format!("/api/v1/tickets/{id}/rating"), Some(token), Some(body)).await }
    };
    assert_eq!(api.act(&e01, "E01", "call-next").await.0, 200);
    // Not finished yet.
    assert_eq!(rate(t1.id, "demo-pad-e01", json!({"score": 5})).await.0, 409);
    assert_eq!(api.act(&e01, "E01", "finish").await.0, 200);
    // Another counter's pad, a kiosk, a clerk, no token: refused.
    assert_eq!(rate(t1.id, "demo-pad-e02", json!({"score": 5})).await.0, 403);
    assert_eq!(rate(t1.id, "demo-kiosk-east", json!({"score": 5})).await.0, 403);
    let (s, _) = api.call("POST", &format!("/api/v1/tickets/{}/rating", t1.id), Some(&e01), Some(json!({"score": 5}))).await;
    assert_eq!(s, 403);
    let (s, _) = api.call("POST", &format!("/api/v1/tickets/{}/rating", t1.id), None, Some(json!({"score": 5}))).await;
    assert_eq!(s, 401);
    // Bad bodies.
    let (s, v) = rate(t1.id, "demo-pad-e01", json!({"score": 0})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("bad_score")), "{v}");
    let (s, v) = rate(t1.id, "demo-pad-e01", json!({"score": 6})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("bad_score")), "{v}");
    let (s, v) = rate(t1.id, "demo-pad-e01", json!({"score": 3, "clerk": "x"})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_json")), "{v}");
    let (s, v) = rate(999, "demo-pad-e01", json!({"score": 3})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("unknown_ticket")), "{v}");
    // Accepted once.
    let (s, v) = rate(t1.id, "demo-pad-e01", json!({"score": 2})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["counter"], "E01");
    assert_eq!(rate(t1.id, "demo-pad-e01", json!({"score": 2})).await.0, 409);
    // Only the counter's last finished ticket: after t2 is finished, t1 is out of reach for a supervisor too.
    assert_eq!(api.act(&e01, "E01", "call-next").await.0, 200);
    assert_eq!(api.act(&e01, "E01", "finish").await.0, 200);
    let (s, v) = rate(t2.id, "demo-supervisor", json!({"score": 5})).await;
    assert_eq!(s, 201, "{v}");

    // Statistics: supervisor sees all; a clerk only their counter and themselves; others nothing.
    let v = stats(&api, "demo-supervisor", "east").await;
    assert_eq!(v["counters"].as_array().expect("counters").len(), 8, "every east counter is listed: {v}");
    let r = row(&v, "counters", "counter", "E01");
    assert_eq!((r["served"].as_u64(), r["rated"].as_u64()), (Some(2), Some(2)), "{v}");
    assert_eq!((r["ratings"]["2"].as_u64(), r["ratings"]["5"].as_u64()), (Some(1), Some(1)), "{v}");
    assert_eq!(r["mean_rating"].as_f64(), Some(3.5), "{v}");
    assert!(r["mean_wait_s"].is_u64() && r["mean_service_s"].is_u64(), "{v}");
    let all = stats(&api, "demo-supervisor", "").await;
    assert_eq!(all["counters"].as_array().expect("counters").len(), 24, "{all}");
    let (s, v) = api.call("GET", "/api/v1/stats/today", Some(&e01), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["counters"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["counters"][0]["counter"], "E01");
    assert_eq!(v["clerks"].as_array().map(Vec::len), Some(1), "{v}");
    for token in [Some("demo-pad-e01"), Some("demo-kiosk-east"), Some("demo-display-east")] {
        assert_eq!(api.call("GET", "/api/v1/stats/today", token, None).await.0, 403);
    }
    assert_eq!(api.call("GET", "/api/v1/stats/today", None, None).await.0, 401);
    let (s, v) = api.call("GET", "/api/v1/stats/today?hall=north", Some("demo-supervisor"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("unknown_hall")), "{v}");
    let (s, v) = api.call("GET", "/api/v1/stats/today?day=2020-01-01", Some("demo-supervisor"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_query")), "{v}");
}

/// The console's list is the call-next order: calling next repeatedly takes it from the top.
#[tokio::test]
async fn web_queue_lists_tickets_in_call_next_order() {
    let server = Server::start();
    let api = server.api();
    // E05 serves filing and registration, preferring registration (config/qcall.toml).
    let tickets = [("filing", false), ("registration", false), ("filing", true), ("invoice", false), ("registration", false), ("filing", false)];
    for (service, prio) in tickets {
        let body = json!({"service": service, "priority": if prio { "priority" } else { "normal" }});
        let (s, v) = api.call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(body)).await;
        assert_eq!(s, 201, "{v}");
    }
    let clerk = api.sign_in("clerk05", "E05").await;
    let (s, q) = api.call("GET", "/api/v1/counters/E05/queue", Some(&clerk), None).await;
    assert_eq!(s, 200, "{q}");
    let listed: Vec<String> = q["waiting"].as_array().expect("waiting").iter().map(|t| t["number"].as_str().unwrap().to_string()).collect();
    // Priority first, then the preferred service, then the rest; invoices are not served here.
    assert_eq!(listed, ["A002", "C001", "C002", "A001", "A003"], "{q}");
    assert_eq!(q["waiting_total"].as_u64(), Some(5));
    let mut called = Vec::new();
    loop {
        let (s, v) = api.act(&clerk, "E05", "call-next").await;
        if s == 404 {
            assert_eq!(v["error"]["code"], "queue_empty");
            break;
        }
        assert_eq!(s, 200, "{v}");
        called.push(v["ticket"]["number"].as_str().unwrap().to_string());
        assert_eq!(api.act(&clerk, "E05", "finish").await.0, 200);
    }
    assert_eq!(called, listed);
    let (_, q) = api.call("GET", "/api/v1/counters/E05/queue", Some(&clerk), None).await;
    assert_eq!(q["served_today"].as_u64(), Some(called.len() as u64), "{q}");
    // Supervisor may read it; a kiosk may not; unknown counters are 404.
    assert_eq!(api.call("GET", "/api/v1/counters/E05/queue", Some("demo-supervisor"), None).await.0, 200);
    assert_eq!(api.call("GET", "/api/v1/counters/E05/queue", Some("demo-kiosk-east"), None).await.0, 403);
    assert_eq!(api.call("GET", "/api/v1/counters/Z9/queue", Some("demo-supervisor"), None).await.0, 404);
}

/// The QR page of a ticket, and the pages' 4xx answers.
#[tokio::test]
async fn web_ticket_status_page_and_page_errors() {
    let server = Server::start();
    let api = server.api();
    let t1 = api.issue("central", "consulting").await;
    let t2 = api.issue("central", "consulting").await;
    let page = |id: u64| {
        let api = api.clone();
        async move {
            let r = api.get_raw(&format!("/t/{id}"), None).await;
            (r.status, r.content_type.clone().unwrap_or_default(), r.text())
        }
    };
    let (s, ct, body) = page(t2.id).await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(body.contains(&t2.number) && body.contains("等候中"), "{body}");
    assert!(body.contains("<span class=\"v\" id=\"ahead\">1</span>"), "one person ahead: {body}");
    assert!(body.contains("http-equiv=\"refresh\""), "waiting pages reload themselves");
    assert!(body.contains("暂无窗口办理"), "no counter open: no wait is made up: {body}");
    assert!(body.contains("大字版") && !body.contains("tag-priority"), "{body}");
    let large = api.get_raw(&format!("/t/{}?large=1", t2.id), None).await.text();
    assert!(large.contains("class=\"ticket-page large\"") && large.contains(&format!("url=/t/{}?large=1", t2.id)), "the 大字版 stays on reload: {large}");
    let clerk = api.sign_in("clerk16", "C01").await;
    assert_eq!(api.act(&clerk, "C01", "call-next").await.0, 200);
    let (_, _, body) = page(t1.id).await;
    assert!(body.contains("请到 1 号窗口办理"), "one sentence, as the TV says it: {body}");
    assert_eq!(api.act(&clerk, "C01", "finish").await.0, 200);
    let (_, _, body) = page(t1.id).await;
    assert!(body.contains("已办结") && !body.contains("http-equiv=\"refresh\""), "{body}");
    // A waiting ticket once a counter is open has a wait; a 绿色通道 one says so.
    let (_, _, body) = page(t2.id).await;
    assert!(!body.contains("暂无窗口办理"), "{body}");
    let (s, v) = api
        .call("POST", "/api/v1/halls/central/tickets", Some("demo-kiosk-central"), Some(json!({"service": "consulting", "priority": "priority"})))
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, _, body) = page(v["id"].as_u64().unwrap()).await;
    assert!(body.contains("id=\"tag-priority\">绿色通道"), "{body}");
    // 过号: what to do next.
    assert_eq!(api.act(&clerk, "C01", "call-next").await.0, 200);
    let (_, called) = api.act(&clerk, "C01", "no-show").await;
    let (_, _, body) = page(called["ticket"]["id"].as_u64().unwrap()).await;
    assert!(body.contains("已过号") && body.contains("重新排队"), "{body}");

    // An unknown or malformed ticket gets a page, not the API's JSON.
    for path in ["/t/424242", "/t/abc"] {
        let r = api.get_raw(path, None).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.content_type.clone().unwrap_or_default().starts_with("text/html") && r.text().contains("未找到该号码"), "{path}");
    }
    for (path, code) in [("/screen/counter/Z9", "unknown_counter"), ("/rate/Z9", "unknown_counter"), ("/web/x.js", "not_found")] {
        let (s, v) = api.get(path).await;
        assert_eq!((s, v["error"]["code"].as_str()), (404, Some(code)), "{path}: {v}");
    }
    for path in ["/counter", "/screen/counter/E01", "/rate/E01", "/web/app.css", "/web/app.js", "/web/counter.js", "/web/screen.js", "/web/rate.js"] {
        let r = api.get_raw(path, None).await;
        assert_eq!(r.status, 200, "{path}");
    }
}

/// On the console: call one specific ticket from the list, transfer it to another hall in the
/// dialog (F5), pause and resume (F6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_console_calls_a_specific_ticket_transfers_and_pauses() {
    let server = Server::start();
    let api = server.api();
    let _a001 = api.issue("east", "filing").await;
    let a002 = api.issue("east", "filing").await;
    let b = Browser::start().await;
    b.c().goto(&format!("{}/counter?counter=E02", server.url)).await.expect("console");
    b.sign_in("clerk02", "1234").await;
    b.wait_text("#waiting-list", &a002.number).await;
    b.click(&format!("#waiting-list li[data-id='{}'] .call-this", a002.id)).await;
    b.wait_text("#current-number", &a002.number).await;

    b.press(Key::F5).await;
    b.wait_js("document.getElementById('transfer-dialog').open").await;
    let hall = b.c().find(Locator::Css("#transfer-hall")).await.expect("hall select");
    hall.select_by_value("west").await.expect("west");
    b.click("#transfer-ok").await;
    b.wait_js("!document.getElementById('transfer-dialog').open").await;
    b.wait_text("#current-number", "—").await;
    let (s, t) = api.get(&format!("/api/v1/tickets/{}", a002.id)).await;
    assert_eq!(s, 200);
    assert_eq!((t["hall"].as_str(), t["state"].as_str(), t["number"].as_str()), (Some("west"), Some("waiting"), Some("A002")), "{t}");
    assert_eq!(t["transferred"], true);

    // A pause asks why; the reason shows on the console (and to the duty leader).
    b.press(Key::F6).await;
    b.wait_js("document.getElementById('pause-dialog').open").await;
    b.click("#pause-ok").await;
    b.wait_text("#pause-error", "请选择暂停原因").await;
    b.click("label[for='pause-reason-0']").await;
    b.click("#pause-ok").await;
    b.wait_js("!document.getElementById('pause-dialog').open").await;
    b.wait_text("#counter-state", "Paused · 午休").await;
    let east = api.halls().await.halls.into_iter().find(|h| h.id == "east").unwrap();
    assert_eq!(east.counters.iter().find(|c| c.id == "E02").unwrap().pause_reason.as_deref(), Some("午休"));
    b.wait_text("#btn-pause", "恢复").await;
    b.wait_js("document.getElementById('btn-call-next').disabled").await;
    b.press(Key::F6).await;
    b.wait_text("#counter-state", "Open").await;
    b.close().await;
}

/// The console on a clerk's 1024×768 tablet: targets of 44 px or more, a 绿色通道 ticket tagged
/// (it is called before older ones, and says why), and one key (F7) to finish and call the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_console_on_a_tablet_tags_the_priority_lane_and_finishes_and_calls_in_one_key() {
    let server = Server::start();
    let api = server.api();
    for _ in 0..2 {
        api.issue("east", "filing").await;
    }
    let (s, v) = api
        .call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing", "priority": "priority"})))
        .await;
    assert_eq!(s, 201, "{v}");
    let b = Browser::start().await;
    b.viewport(1024, 768).await;
    b.c().goto(&format!("{}/counter?counter=E01", server.url)).await.expect("console");
    b.wait_js("document.getElementById('login-counter').value === 'E01'").await;
    let option = b.js("document.getElementById('login-counter').selectedOptions[0].textContent").await;
    assert!(option.as_str().is_some_and(|o| o.starts_with("东区 · 1 号窗口")), "the hall in the option: {option}");
    b.sign_in("clerk01", "1234").await;
    b.wait_text("#waiting-list", "绿色通道").await;
    let small = b.js("[...document.querySelectorAll('#waiting-list button, #btn-logout, .actions .btn')].filter((e) => e.getBoundingClientRect().height < 44).length").await;
    assert_eq!(small, json!(0), "every target at least 44 px high");
    b.press(Key::F1).await;
    b.wait_text("#current-number", "A003").await;
    b.wait_text("#current-service", "绿色通道").await;
    b.screenshot("web-counter-tablet-priority.png").await;
    b.press(Key::F7).await;
    b.wait_text("#current-number", "A001").await;
    b.wait_text("#message", "A003 已办结，已呼叫 A001").await;
    // The ticket page of the one still waiting, on a phone, in the 大字版.
    b.viewport(375, 667).await;
    b.c().goto(&format!("{}/t/2?large=1", server.url)).await.expect("ticket page");
    b.wait_text("#state", "等候中").await;
    assert_eq!(b.js("document.documentElement.scrollWidth <= window.innerWidth").await, json!(true), "no sideways scrolling");
    b.screenshot("web-ticket.png").await;
    b.close().await;
    let t = api.get(&format!("/api/v1/tickets/{}", v["id"])).await.1;
    assert_eq!(t["state"], "finished", "{t}");
}

/// A taxpayer books on a phone (375×667): hall, service, day, slot, name, phone and ID number;
/// the confirmation shows the code and its QR code; the booking's own page shows it masked
/// and cancels it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_book_and_cancel_on_a_phone() {
    let server = Server::start_at(&crate::util::demo_config_text(), "2026-12-01T09:00:00+08:00");
    let api = server.api();
    let b = Browser::start().await;
    b.viewport(375, 667).await;
    b.c().goto(&format!("{}/book", server.url)).await.expect("booking page");
    assert_eq!(b.js("window.innerWidth").await, json!(375));
    b.click(".hall-choice[data-hall='east']").await;
    b.click(".service-choice[data-service='filing']").await;
    b.click(".day-choice[data-date='2026-12-02']").await;
    b.wait_js("document.querySelector(\".slot-choice[data-start='10:00']:not([disabled])\")").await;
    b.screenshot("book-slots.png").await;
    b.click(".slot-choice[data-start='10:00']").await;
    b.type_into("#book-name", "张三").await;
    b.type_into("#book-phone", "13812341234").await;
    let id = crate::appointments::resident_id(500);
    b.type_into("#book-id", &id).await;
    // Without the text-message code the page asks for it.
    b.click("#book-submit").await;
    b.wait_text("#err-code", "验证码").await;
    b.click("#send-code").await;
    b.wait_text("#hint-code", "138****1234").await;
    b.wait_text("#send-code", "秒后重发").await;
    let sms = server.sms_code("13812341234").expect("the code in the log provider's message");
    b.type_into("#book-code", &sms).await;
    b.screenshot("book-form.png").await;
    b.click("#book-submit").await;
    b.wait_js("!document.getElementById('confirm').hidden").await;
    let code: String = b.js("document.getElementById('confirm-code').textContent.replace(/\\s/g, '')").await.as_str().unwrap().to_string();
    assert!(code.len() == 8 && code.bytes().all(|c| c.is_ascii_digit()), "{code}");
    b.wait_js("document.getElementById('confirm-qr').complete && document.getElementById('confirm-qr').naturalWidth > 0").await;
    b.wait_text("#confirm-facts", "东城区建设路").await;
    b.wait_text("#confirm-facts", "09:45").await;
    assert_eq!(b.js("document.documentElement.scrollWidth <= window.innerWidth").await, json!(true), "no sideways scrolling");
    b.screenshot("book-confirm.png").await;
    // The booking's own address is in the address bar: a reload finds it again.
    assert_eq!(b.js("location.pathname").await, json!(format!("/book/{code}")));
    b.c().refresh().await.expect("reload");
    b.wait_text("#view-code", &code).await;
    b.wait_text("#view-facts", "张*").await;
    let (s, list) = api.call("GET", "/api/v1/appointments?date=2026-12-02", Some("demo-supervisor"), None).await;
    assert_eq!(s, 200);
    assert!(list.as_array().unwrap().iter().any(|x| x["code"] == code.as_str() && x["id_number"] == id.as_str()), "{list}");

    // Someone opening the booking's link afresh (this tab remembers the booker's phone).
    b.js("sessionStorage.clear() || true").await;
    b.c().goto(&format!("{}/book/{code}", server.url)).await.expect("booking's page");
    b.type_into("#view-phone", "13812341234").await;
    b.click("#view-phone-submit").await;
    let facts = b.wait_text("#view-facts", "张*").await;
    assert!(!facts.contains("13812341234") && !facts.contains(&id) && facts.contains("138****1234"), "masked: {facts}");
    b.screenshot("book-view.png").await;
    // Found again from /book without the code: 查询/取消我的预约 by phone and ID number, in the
    // 大字版 (18 px base text, 22 px large).
    b.js("sessionStorage.clear() || true").await;
    b.c().goto(&format!("{}/book", server.url)).await.expect("booking page");
    assert_eq!(b.js("getComputedStyle(document.documentElement).fontSize").await, json!("18px"));
    b.click("#large").await;
    assert_eq!(b.js("getComputedStyle(document.documentElement).fontSize").await, json!("22px"));
    b.click("#mine-open").await;
    b.type_into("#mine-phone", "13812341234").await;
    b.type_into("#mine-id", &crate::appointments::resident_id(501)).await;
    b.click("#mine-submit").await;
    b.wait_text("#mine-list", "没有找到").await;
    b.type_into("#mine-id", &id).await;
    b.click("#mine-submit").await;
    b.wait_text("#mine-list", "12月2日").await;
    assert_eq!(b.js("document.documentElement.scrollWidth <= window.innerWidth").await, json!(true), "no sideways scrolling, large");
    b.screenshot("book-mine.png").await;
    b.click(&format!("#mine-list a[data-code='{code}']")).await;
    b.wait_text("#view-facts", "张*").await;
    b.click("#large").await;
    b.click("#view-cancel").await;
    b.click("#view-cancel-confirm").await;
    b.wait_text("#view-state", "已取消").await;
    b.close().await;
    let (s, v) = api.call("POST", &format!("/api/v1/appointments/{code}/view"), None, Some(json!({"phone": "13812341234"}))).await;
    assert_eq!((s, &v["state"]), (200, &json!("cancelled")), "{v}");
}

/// A kiosk's printer trouble reaches the clerks of its hall on their console, live: a fault
/// already known at sign-in, then paper near end (a warning: tickets still print), gone when
/// the paper is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_console_shows_the_halls_kiosk_printer_trouble_live() {
    let server = Server::start();
    let api = server.api();
    let report = |ok: bool, code: &str, message: &str| {
        let body = json!({"ok": ok, "code": code, "message": message});
        let api = &api;
        async move {
            let (s, v) = api.call("POST", "/api/v1/devices/kiosk-east-1/status", Some("demo-kiosk-east"), Some(body)).await;
            assert_eq!(s, 204, "{v}");
        }
    };
    report(false, "cover_open", "打印机盖未关，请联系工作人员 / cover open / 打印机盖未关").await;
    let b = Browser::start().await;
    b.c().goto(&format!("{}/counter?counter=E01", server.url)).await.expect("console");
    b.sign_in("clerk01", "1234").await;
    let text = b.wait_text("#device-notices", "打印机盖未关").await;
    assert!(text.contains("取号机 Kiosk kiosk-east-1"), "{text}");
    b.wait_js("document.querySelector('#device-notices li').className === 'err'").await;

    report(true, "paper_near_end", "打印机纸将用尽 / paper near end").await;
    b.wait_text("#device-notices", "纸将用尽").await;
    b.wait_js("document.querySelector('#device-notices li').className === 'warn'").await;
    b.screenshot("web-counter-device-notice.png").await;

    report(true, "", "").await;
    b.wait_js("document.getElementById('device-notices').hidden").await;
    b.close().await;
}

/// The duty leader's overview at `/supervisor`: signed in with a password, every hall live
/// from the event stream (a ticket issued through the API shows without a reload), who sits
/// where and for how long, a pause and its reason, a kiosk's fault; counters paused, resumed
/// and closed from the page; a publicity edit reaching the hall TV's stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_supervisor_overview_is_live_and_controls_counters_and_publicity() {
    let server = Server::start();
    let api = server.api();
    let sign_in = |clerk: &'static str, counter: &'static str| {
        let api = &api;
        async move {
            let (s, v) = api.call("POST", "/api/v1/sessions", None, Some(json!({"clerk": clerk, "pin": "1234", "counter": counter}))).await;
            assert_eq!(s, 201, "{v}");
            v["token"].as_str().unwrap().to_string()
        }
    };
    let e01 = sign_in("clerk01", "E01").await;
    let e02 = sign_in("clerk02", "E02").await;
    for _ in 0..3 {
        api.issue("east", "filing").await;
    }
    let (s, called) = api.act(&e01, "E01", "call-next").await;
    assert_eq!(s, 200, "{called}");
    let (s, v) = api.call("POST", "/api/v1/counters/E02/pause", Some(&e02), Some(json!({"reason": "午休"}))).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = api.call("POST", "/api/v1/devices/kiosk-east-1/status", Some("demo-kiosk-east"), Some(json!({"ok": false, "code": "cover_open", "message": "打印机盖未关 / cover open"}))).await;
    assert_eq!(s, 204);
    // Clerks do not read the overview.
    assert_eq!(api.call("GET", "/api/v1/overview", Some(&e01), None).await.0, 403);

    let b = Browser::start().await;
    b.c().goto(&format!("{}/supervisor", server.url)).await.expect("overview page");
    b.c().wait().at_most(PATIENCE).for_element(Locator::Css("#login-view:not([hidden])")).await.expect("login form");
    b.type_into("#login-id", "duty").await;
    b.type_into("#login-password", "wrong-password-1").await;
    b.click("#login-submit").await;
    b.wait_js("document.getElementById('login-error').textContent.length > 0").await;
    b.c().find(Locator::Css("#login-password")).await.unwrap().clear().await.unwrap();
    b.type_into("#login-password", "demo-duty-password").await;
    b.click("#login-submit").await;

    let east = "section[data-hall='east']";
    let row = |c: &str| format!("{east} tr[data-counter='{c}']");
    let text = b.wait_text(&row("E01"), called["ticket"]["number"].as_str().unwrap()).await;
    assert!(text.contains("王芳") && text.contains("服务中"), "E01 shows its clerk and state: {text}");
    b.viewport(1600, 1000).await;
    b.wait_text(&row("E02"), "午休").await;
    b.wait_text(&format!("{east} .devices"), "打印机盖未关").await;
    b.wait_text("#who", "值班领导").await;
    b.wait_text("#link-state", "Live").await;

    // Live: a ticket issued through the API shows without a reload.
    let before = b.wait_text(&format!("{east} .hall-waiting .v"), "2").await;
    let t0 = Instant::now();
    api.issue("east", "invoice").await;
    b.wait_text(&format!("{east} .hall-waiting .v"), "3").await;
    println!("MEASURE overview shows a new ticket {:?} after issue (was {before})", t0.elapsed());
    b.screenshot("web-supervisor.png").await;

    // Pause E01 from the page, with a reason; resume; close E02 (a second click confirms).
    b.click(&format!("{} .row-actions button", row("E01"))).await;
    b.wait_js("document.getElementById('pause-dialog').open").await;
    b.click("label[for='pause-reason-1']").await;
    b.click("#pause-ok").await;
    b.wait_text(&row("E01"), "业务学习").await;
    let info = |c: &'static str| {
        let api = &api;
        async move {
            let halls = api.halls().await;
            halls.halls.into_iter().find(|h| h.id == "east").unwrap().counters.into_iter().find(|x| x.id == c).unwrap()
        }
    };
    assert_eq!(info("E01").await.pause_reason.as_deref(), Some("业务学习"));
    b.click(&format!("{} .row-actions button.go", row("E01"))).await;
    b.wait_text(&row("E01"), "服务中").await;
    b.click(&format!("{} button[data-close='E02']", row("E02"))).await;
    b.wait_text(&row("E02"), "确认关闭").await;
    b.click(&format!("{} button[data-close='E02']", row("E02"))).await;
    b.wait_js("document.querySelector(\"section[data-hall='east'] tr[data-counter='E02']\").classList.contains('closed')").await;
    assert_eq!(info("E02").await.state, qcall_wire::CounterState::Closed);
    assert_eq!(api.act(&e02, "E02", "resume").await.0, 401, "the clerk's session ended with the counter");

    // An emergency window: E03 opened for a clerk, who then signs in there and calls.
    b.click(&format!("{} button[data-open='E03']", row("E03"))).await;
    b.wait_js("document.getElementById('open-dialog').open").await;
    b.c().find(Locator::Css("#open-clerk")).await.unwrap().select_by_value("clerk03").await.expect("clerk03 may open E03");
    b.click("#open-ok").await;
    // Opened, not yet served: 已开启·待登录 until the clerk signs in at its console.
    b.wait_text(&row("E03"), "已开启·待登录").await;
    let e03 = info("E03").await;
    assert_eq!(e03.state, qcall_wire::CounterState::Open);
    assert_eq!(api.call("POST", "/api/v1/counters/E04/open", Some(&e01), Some(json!({"clerk": "clerk04"}))).await.0, 403, "clerks do not open counters");
    let clerk03 = sign_in("clerk03", "E03").await;
    assert_eq!(api.act(&clerk03, "E03", "call-next").await.0, 200);
    b.wait_text(&row("E03"), "服务中").await;

    // Publicity: edited with a preview, published to the hall TV's stream.
    let mut tv = crate::util::ws_connect(&server.ws_url("/api/v1/halls/east/events")).await;
    let snapshot = crate::util::ws_next(&mut tv).await;
    assert!(snapshot.is_snapshot());
    b.c().find(Locator::Css("#pub-east")).await.unwrap().clear().await.unwrap();
    // A live change while the lines are being edited does not put the old ones back.
    api.issue("east", "filing").await;
    let waiting: u32 = api.halls().await.halls.iter().find(|h| h.id == "east").unwrap().services.iter().map(|s| s.waiting).sum();
    b.wait_js(&format!("document.querySelector(\"{east} .hall-waiting .v\").textContent === '{waiting}'")).await;
    b.wait_js("document.getElementById('pub-east').value === ''").await;
    b.type_into("#pub-east", "本周六正常办公\n新办纳税人请走绿色通道").await;
    b.wait_text("#pub-preview-east", "本周六正常办公").await;
    b.click("#pub-save-east").await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let m = crate::util::ws_next(&mut tv).await;
        if let qcall_wire::EventKind::PublicityUpdated { messages } = m.kind {
            assert_eq!(messages, ["本周六正常办公", "新办纳税人请走绿色通道"]);
            break;
        }
        assert!(Instant::now() < deadline, "no publicity_updated on the hall stream");
    }
    b.close().await;
}

/// A long wait raises an alert under the controlled clock: a ticket issued at 09:00, the
/// server started again at 09:25 (`--clock-start`; supervisor sessions end with a restart, so
/// the duty leader signs in again) lists it with a count in the tab title; a printer fault
/// while the page is open arrives live with a chime; both are acknowledged there, and the
/// server keeps who and when.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_supervisor_sees_a_long_wait_alert_and_acknowledges_it() {
    let config = crate::util::always_open_config_text().replace("queue_length = 20", "queue_length = 2");
    let mut server = Server::start_at(&config, "2026-11-30T09:00:00+08:00");
    let api = server.api();
    let a001 = api.issue("east", "filing").await;
    api.issue("east", "invoice").await;
    api.issue("east", "filing").await;
    server.stop();
    server.clock_start = Some("2026-11-30T09:25:00+08:00".into());
    server.start_again();

    let b = Browser::start().await;
    b.viewport(1366, 768).await;
    supervisor_signed_in(&b, &server.url).await;
    // One line per hall and kind, the crowd first: the long queue, then the long waits of two
    // services in one line.
    let text = b.wait_text("#alerts li[data-kind='long_wait']", "×2").await;
    assert!(text.contains("等候过长") && text.contains("超过 20 分钟"), "{text}");
    let kinds = b.js("[...document.querySelectorAll('#alerts li')].map((l) => l.dataset.kind).join()").await;
    assert_eq!(kinds, json!("long_queue,long_wait"), "most severe first");
    b.wait_text("#alerts li[data-kind='long_queue']", "建议开启应急窗口 1号").await;
    b.wait_js("document.title.startsWith('(2) ')").await;
    let api_alerts = api.call("GET", "/api/v1/alerts?state=open", Some("demo-supervisor"), None).await.1;
    assert!(api_alerts.to_string().contains(&a001.number), "the filing alert names the longest: {api_alerts}");

    // Live, with a chime: a kiosk's printer fault, by the kiosk's name, with what to do.
    let (s, _) = api
        .call("POST", "/api/v1/devices/kiosk-east-1/status", Some("demo-kiosk-east"), Some(json!({"ok": false, "code": "paper_end", "message": "打印机缺纸 / paper end"})))
        .await;
    assert_eq!(s, 204);
    let fault = b.wait_text("#alerts li[data-kind='device_fault']", "打印机缺纸").await;
    assert!(fault.contains("东区1号取号机") && fault.contains("请更换打印纸"), "{fault}");
    b.wait_js("document.title.startsWith('(3) ')").await;
    b.wait_js("Number(document.body.dataset.chimes || 0) >= 1").await;
    // The halls stay in view: the alert strip does not push them below the fold.
    let top = b.js("document.querySelector('.hall-card').getBoundingClientRect().top").await;
    assert!(top.as_f64().is_some_and(|t| t < 768.0), "the first hall starts above the fold: {top}");
    b.screenshot("web-supervisor-alerts.png").await;

    // 确认: the line moves to 处理中 (folded), not away, while the waits last.
    b.click("#alerts li[data-kind='long_wait'] button[data-ack]").await;
    b.wait_js("document.querySelectorAll('#alerts li').length === 2").await;
    b.wait_js("document.title.startsWith('(2) ')").await;
    b.wait_js("!document.getElementById('alerts-handling').hidden && document.querySelectorAll('#alerts-handling-list li').length === 1").await;
    let (s, v) = api.call("GET", "/api/v1/alerts?state=all", Some("demo-supervisor"), None).await;
    assert_eq!(s, 200);
    let waits: Vec<&Value> = v["alerts"].as_array().unwrap().iter().filter(|a| a["kind"] == "long_wait").collect();
    assert_eq!(waits.len(), 2, "{v}");
    for wait in waits {
        assert_eq!(wait["acked_by"].as_str(), Some("duty"), "{wait}");
        assert!(wait["acked_at"].as_str().unwrap().starts_with("2026-11-30T01:2"), "{wait}");
    }

    // The long-queue line opens the counter it suggests, for a clerk; it then waits for them.
    b.click("#alerts button[data-open-from-alert='E01']").await;
    b.wait_js("document.getElementById('open-dialog').open").await;
    b.click("#open-ok").await;
    b.wait_js("!document.getElementById('open-dialog').open").await;
    b.wait_text("section[data-hall='east'] tr[data-counter='E01']", "已开启·待登录").await;
    b.wait_js("document.querySelector(\"#alerts button[data-open-from-alert]\") === null").await;
    b.close().await;
}

/// From 1 December, a calendar without next year's holidays shows on the overview until it is
/// fixed, and raises an alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_supervisor_sees_that_next_years_holidays_are_missing() {
    let server = Server::start_at(&crate::util::demo_config_text(), "2026-12-01T09:30:00+08:00");
    let b = Browser::start().await;
    supervisor_signed_in(&b, &server.url).await;
    let banner = b.wait_text("#calendar-missing", "2027 节假日安排未配置").await;
    assert!(banner.contains("[calendar]"), "{banner}");
    let alerts = b.wait_text("#alerts", "2027 节假日安排未配置").await;
    assert!(alerts.contains("全部服务厅"), "{alerts}");
    b.viewport(1366, 768).await;
    b.screenshot("web-supervisor-calendar-missing.png").await;
    b.close().await;
}

/// `/supervisor`, the duty leader signed in with the demo password.
async fn supervisor_signed_in(b: &Browser, url: &str) {
    b.c().goto(&format!("{url}/supervisor")).await.expect("overview page");
    b.c().wait().at_most(PATIENCE).for_element(Locator::Css("#login-view:not([hidden])")).await.expect("login form");
    b.type_into("#login-id", "duty").await;
    b.type_into("#login-password", "demo-duty-password").await;
    b.click("#login-submit").await;
}

/// A hall run by its own server (a hall edge) shows on the core's overview as that server
/// tells it, online; when its link dies the card says 断网 since when, its figures frozen and
/// greyed, and the alert rises; it comes back online by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_supervisor_sees_a_hall_server_cut_off_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let core = crate::edges::core();
    let edge = crate::edges::edge_to(&core.url, dir.path());
    for service in ["filing", "filing", "invoice"] {
        edge.api().issue("east", service).await;
    }
    let b = Browser::start().await;
    supervisor_signed_in(&b, &core.url).await;
    b.wait_text("section[data-hall='east'] .link-line", "在线").await;
    b.wait_text("section[data-hall='east'] .hall-waiting", "3").await;
    // The link dies (the hall's server stops answering).
    let pid = edge.pid().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let line = b.wait_text("section[data-hall='east'] .link-line.cut", "断网").await;
    assert!(line.contains("cut off since"), "{line}");
    b.wait_text("#alerts", "断网").await;
    b.wait_js("getComputedStyle(document.querySelector(\"section[data-hall='east'] .figures\")).opacity < 1").await;
    assert!(b.wait_text("section[data-hall='east'] .hall-waiting", "3").await.contains('3'), "frozen as last told");
    b.viewport(1366, 900).await;
    b.screenshot("web-supervisor-hall-cut.png").await;
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    b.wait_text("section[data-hall='east'] .link-line", "在线").await;
    // The hall's own duty page: the hall, and what is not yet forwarded while the core is away.
    let mut core = core;
    core.stop();
    for _ in 0..4 {
        edge.api().issue("east", "invoice").await;
    }
    supervisor_signed_in(&b, &edge.url).await;
    let line = b.wait_text("#upstream", "未上传").await;
    assert!(line.contains("与中心断开") && line.contains("not yet forwarded"), "{line}");
    b.wait_text("section[data-hall='east'] .hall-waiting", "7").await;
    assert_eq!(b.js("document.querySelectorAll('section.hall-card').length").await, serde_json::json!(1), "its own hall");
    b.screenshot("web-supervisor-edge-pending.png").await;
    b.close().await;
}

/// A 差评 on the pad asks what went wrong; the reasons open a case that the duty leader sees
/// on the overview, follows up with a callback note and closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_a_bad_rating_with_reasons_opens_a_case_that_is_closed_with_notes() {
    let server = Server::start();
    let api = server.api();
    let t = api.issue("east", "filing").await;
    let clerk = api.sign_in("clerk01", "E01").await;
    let b = Browser::start().await;
    b.c().goto(&format!("{}/rate/E01?token=demo-pad-e01", server.url)).await.expect("pad");
    b.wait_js("document.body.dataset.view === 'idle'").await;
    assert_eq!(api.act(&clerk, "E01", "call-next").await.0, 200);
    assert_eq!(api.act(&clerk, "E01", "finish").await.0, 200);
    b.wait_js("document.body.dataset.view === 'ask'").await;
    b.click(".score[data-score='2']").await;
    b.wait_js("document.body.dataset.view === 'why'").await;
    b.click("#why-reasons .reason[data-reason='等候时间长']").await;
    b.click("#why-reasons .reason[data-reason='一次性告知不到位']").await;
    b.screenshot("web-rate-why.png").await;
    b.click("#why-send").await;
    b.wait_js("document.body.dataset.view === 'thanks'").await;

    supervisor_signed_in(&b, &server.url).await;
    let row = b.wait_text("#cases tbody tr", &t.number).await;
    // The pad said it is here: online on the overview.
    b.wait_text("section[data-hall='east'] .pads .pad.ok", "e01").await;
    assert!(row.contains("不满意") && row.contains("等候时间长、一次性告知不到位") && row.contains("王芳"), "{row}");
    b.wait_text("#alerts", "差评").await;
    b.click("#cases button[data-handle]").await;
    b.wait_js("document.getElementById('case-dialog').open").await;
    b.type_into("#case-text", "已电话回访，高峰时段将增开窗口").await;
    b.click("#case-add").await;
    b.wait_text("#case-notes", "回访 已电话回访").await;
    b.viewport(1600, 1000).await;
    b.screenshot("web-supervisor-case.png").await;
    // 办结 needs its own summary: the record box is empty after the note, and says so.
    b.click("#case-close").await;
    b.wait_text("#case-error", "请填写办结说明").await;
    b.wait_js("document.getElementById('case-dialog').open && document.activeElement.id === 'case-summary'").await;
    let (s, v) = api.call("POST", "/api/v1/cases/1/close", Some("demo-supervisor"), Some(json!({"summary": "  "}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("empty_text")), "{v}");
    b.type_into("#case-summary", "已整改：高峰时段增开窗口").await;
    b.click("#case-close").await;
    b.wait_js("!document.getElementById('case-dialog').open").await;
    b.wait_js("document.getElementById('no-cases').hidden === false").await;
    b.close().await;

    let (s, v) = api.call("GET", "/api/v1/cases?state=all", Some("demo-supervisor"), None).await;
    assert_eq!(s, 200);
    let case = &v["cases"][0];
    assert_eq!((case["state"].as_str(), case["summary"].as_str(), case["closed_by"].as_str()), (Some("closed"), Some("已整改：高峰时段增开窗口"), Some("duty")), "{v}");
    assert_eq!(case["reasons"], json!(["等候时间长", "一次性告知不到位"]));
    assert_eq!(case["notes"][0]["kind"], "callback");
}

/// The report page (`/supervisor/reports`, the duty leader's session of the tab): the headline
/// (取号 / 办结 / 平均等候 / 满意率), a day's tickets per hour of the opening hours beside the same
/// weekday of the 4 weeks before (bars) and their mean wait (a line, a point per hour with
/// calls, a gap at lunch), tickets per working day, the distribution of waits, and tables per
/// hall, service, counter and clerk under Chinese headers, each downloadable as CSV in minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_supervisor_report_shows_the_opening_hours_and_working_days() {
    // The demo halls open 09:00-12:00 and 13:30-17:00 on working days.
    let mut server = Server::start_at(&crate::util::demo_config_text(), "2026-11-23T09:10:00+08:00");
    let api = server.api();
    // The Monday a week before: two tickets at 09:10, one called (waiting under a minute).
    api.issue("east", "filing").await;
    api.issue("east", "invoice").await;
    let clerk = api.sign_in("clerk01", "E01").await;
    assert_eq!(api.act(&clerk, "E01", "call-next").await.0, 200);
    server.stop();
    server.clock_start = Some("2026-11-30T09:10:00+08:00".into());
    server.start_again();
    for _ in 0..4 {
        api.issue("east", "filing").await;
    }
    let clerk = api.sign_in("clerk01", "E01").await;
    assert_eq!(api.act(&clerk, "E01", "call-next").await.0, 200);
    assert_eq!(api.act(&clerk, "E01", "finish").await.0, 200);
    let (s, v) = api.call("GET", "/api/v1/stats/hourly?from=2026-11-30&to=2026-11-30", Some("demo-supervisor"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["hours"][9]["issued"].as_u64(), v["hours"][8]["issued"].as_u64()), (Some(4), Some(0)), "{v}");
    assert_eq!(api.call("GET", "/api/v1/reports/summary?from=2026-11-30&to=2026-11-30", Some(&clerk), None).await.0, 403);
    let (s, v) = api.call("GET", "/api/v1/reports/summary?from=2026-11-24&to=2026-11-30&hall=east", Some("demo-supervisor"), None).await;
    assert_eq!(s, 200, "{v}");
    let days: Vec<&str> = v["per_day"].as_array().unwrap().iter().map(|d| d["day"].as_str().unwrap()).collect();
    assert_eq!(days, ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-30"], "working days only");
    assert_eq!(v["open_hours"], json!([9, 10, 11, 13, 14, 15, 16]));
    assert_eq!((v["totals"]["issued"].as_u64(), v["totals"]["served"].as_u64()), (Some(4), Some(1)), "{v}");
    assert_eq!(v["weekday_hours"][9]["issued"].as_f64(), Some(0.5), "two tickets on one of the 4 Mondays before");

    let b = Browser::start().await;
    supervisor_signed_in(&b, &server.url).await;
    b.click("#to-reports:not([hidden])").await;
    b.wait_text("#head-issued", "4").await;
    b.wait_text("#head-served", "1").await;
    b.wait_text("#head-satisfied", "—").await;
    // 09 to 16 o'clock; 12 o'clock (lunch) a gap: no bar, no point.
    b.wait_js("[...document.querySelectorAll('#chart-hours text.axis')].filter((t) => t.textContent.endsWith('时')).map((t) => t.textContent).join() === '9时,10时,11时,12时,13时,14时,15时,16时'").await;
    b.wait_js("document.querySelectorAll('#chart-hours svg circle.point[data-series=\"wait\"]').length === 1").await;
    b.wait_js("document.querySelectorAll('#chart-hours svg circle.point[data-series=\"wait-4w\"]').length === 1").await;
    b.wait_js("Number(document.querySelector(\"#chart-hours rect.bar[data-series='issued'][data-i='0']\").getAttribute('height')) > 0").await;
    b.wait_js("Number(document.querySelector(\"#chart-hours rect.bar[data-series='issued'][data-i='1']\").getAttribute('height')) === 0").await;
    b.wait_js("document.querySelector(\"#chart-hours rect.bar[data-series='issued'][data-i='3']\") === null").await;
    // Whole numbers on the count axis.
    b.wait_js("[...document.querySelectorAll('#chart-hours text.axis:not(.right)')].filter((t) => !t.textContent.endsWith('时')).every((t) => /^\\d+$/.test(t.textContent))").await;
    b.wait_js("document.querySelectorAll('#chart-days rect.bar').length === 5").await;
    b.wait_js("document.querySelectorAll('#chart-waits rect.bar').length === 13").await;
    let counter = b.wait_text("[data-table='counter'] tr[data-key='E01']", "东区").await;
    assert!(counter.contains("E01"), "{counter}");
    b.wait_text("[data-table='counter'] thead", "平均等候(分钟)").await;
    b.wait_text("[data-table='clerk'] tbody", "王芳").await;
    b.viewport(1600, 1000).await;
    b.screenshot("web-supervisor-report.png").await;
    b.close().await;

    let r = api.get_raw("/api/v1/reports/summary?from=2026-11-24&to=2026-11-30&table=counter&format=csv", Some("demo-supervisor")).await;
    assert_eq!(r.status, 200);
    let csv = r.text();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines[0].starts_with("编号,名称,取号,办结,过号,未办结,平均等候(分钟),P90等候(分钟)"), "{}", lines[0]);
    assert!(lines.iter().any(|l| l.starts_with("E01,东区")), "{csv}");
}

/// The ticket's page on a phone, opened from the QR code, follows the hall live: the people
/// ahead count down without a reload; at its turn the counter is shown large, the phone
/// vibrates and the title flashes; a missed turn says what to do next. 375 px wide, no
/// sideways scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ticket_page_follows_the_hall_live_and_calls_the_taxpayer() {
    let server = Server::start();
    let api = server.api();
    let t1 = api.issue("central", "consulting").await;
    let t2 = api.issue("central", "consulting").await;
    let clerk = api.sign_in("clerk16", "C01").await;
    let b = Browser::start().await;
    b.viewport(375, 667).await;
    b.c().goto(&format!("{}/t/{}", server.url, t2.id)).await.expect("ticket page");
    b.wait_text("#ahead", "1").await;
    b.wait_text("#address", "").await;
    // Marks that a reload would wipe, and a vibration recorder (headless Chromium has no motor).
    b.js("(() => { window.__same_page = true; window.__vibrated = []; navigator.vibrate = (p) => { window.__vibrated.push(p); return true; }; return true; })()").await;
    b.wait_js("document.body.dataset.connected === 'yes'").await;
    b.click("#alerts-on").await;
    b.wait_js("!document.getElementById('alerts-done').hidden").await;
    // 到号短信提醒: the number, proven by the code texted to it, left for this ticket.
    b.wait_js("!document.getElementById('texts').hidden").await;
    b.type_into("#texts-phone", "13812341234").await;
    b.click("#texts-send").await;
    b.wait_text("#texts-hint", "138****1234").await;
    let code = server.sms_code("13812341234").expect("the code in the log provider's message");
    b.type_into("#texts-code", &code).await;
    b.screenshot("ticket-texts.png").await;
    b.click("#texts-submit").await;
    b.wait_text("#texts-on", "尾号 1234").await;
    b.wait_js("document.getElementById('texts').hidden").await;
    assert_eq!(b.js("document.documentElement.scrollWidth <= window.innerWidth").await, json!(true), "no sideways scrolling");
    b.screenshot("ticket-waiting.png").await;

    assert_eq!(api.act(&clerk, "C01", "call-next").await.0, 200, "calls t1");
    b.wait_text("#ahead", "0").await;
    assert_eq!(api.act(&clerk, "C01", "finish").await.0, 200);
    // From the call to the counter on the phone's screen, timed in the page.
    b.js("(() => { window.__seen = null; new MutationObserver(() => { if (!window.__seen && document.getElementById('window')) window.__seen = performance.now(); }).observe(document.body, { subtree: true, childList: true }); window.__t0 = performance.now(); return true; })()").await;
    let (s, called) = api.act(&clerk, "C01", "call-next").await;
    assert_eq!((s, called["ticket"]["id"].as_u64()), (200, Some(t2.id)));
    b.wait_text("#window", "请到 1 号窗口办理").await;
    let ms = b.js("window.__seen - window.__t0").await;
    println!("MEASURE ticket page (Chromium, 375x667) shows the counter {:.0} ms after the call was sent", ms.as_f64().unwrap_or(-1.0));
    b.wait_js("document.querySelector('main').dataset.state === 'called'").await;
    b.wait_js("window.__vibrated.length > 0").await;
    b.wait_js("document.title.includes('轮到您了')").await;
    assert_eq!(b.js("window.__same_page === true").await, json!(true), "no reload: the card was replaced in place");
    b.screenshot("ticket-called.png").await;

    assert_eq!(api.act(&clerk, "C01", "no-show").await.0, 200);
    b.wait_js("document.querySelector('main').dataset.state === 'no_show'").await;
    b.wait_text("#advice", "重新排队").await;
    b.wait_js("!document.title.includes('轮到您了')").await;
    assert_eq!(b.js("window.__same_page === true").await, json!(true));
    let _ = t1;
    b.close().await;
}

/// 线上取号 on a phone (375×667): a hall, a service, the phone proven by the texted code, the
/// number taken; its page shows the check-in code and its QR code, and 线上. Then a finished
/// ticket of a hall with phone ratings is rated from its printed link, with a 差评's reasons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_a_number_is_taken_on_the_phone_and_a_finished_one_rated_there() {
    let text = crate::util::demo_config_text().replacen("id = \"central\"\n", "id = \"central\"\nphone_ratings = true\n", 1);
    let server = Server::start_at(&text, "2026-12-01T09:30:00+08:00");
    let api = server.api();
    for _ in 0..3 {
        api.issue("east", "filing").await;
    }
    let b = Browser::start().await;
    b.viewport(375, 667).await;
    b.c().goto(&format!("{}/book", server.url)).await.expect("booking page");
    b.wait_js("!document.getElementById('remote-open').hidden").await;
    b.click("#remote-open").await;
    b.wait_js("document.querySelector('[data-hall=east]') !== null").await;
    b.screenshot("remote-halls.png").await;
    b.click("[data-hall=east]").await;
    b.wait_js("document.querySelector('[data-service=filing]') !== null").await;
    b.click("[data-service=filing]").await;
    b.type_into("#phone", "13912345678").await;
    b.click("#send-code").await;
    b.wait_text("#code-hint", "139****5678").await;
    let code = server.sms_code("13912345678").expect("the code in the log provider's message");
    b.type_into("#code", &code).await;
    assert_eq!(b.js("document.documentElement.scrollWidth <= window.innerWidth").await, json!(true), "no sideways scrolling");
    b.screenshot("remote-take.png").await;
    b.click("#take").await;
    b.wait_js("location.pathname.startsWith('/t/') && document.getElementById('check-in-code') !== null").await;
    b.wait_text("#tag-remote", "线上").await;
    b.wait_text("#number", "A004").await;
    let shown = b.js("document.getElementById('check-in-code').textContent.replace(/\\s/g, '')").await;
    let id: u64 = b.js("document.querySelector('main').dataset.ticket").await.as_str().unwrap().parse().unwrap();
    let (_, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(t["remote"], json!({"checked_in": false}));
    assert_eq!(shown.as_str().map(str::len), Some(8), "the 8-digit check-in code: {shown}");
    b.wait_js("document.querySelector('.check-in img.qr').naturalWidth > 0").await;
    assert_eq!(b.js("document.documentElement.scrollWidth <= window.innerWidth").await, json!(true), "no sideways scrolling");
    b.js("(() => { document.getElementById('check-in').scrollIntoView({ block: 'center' }); return true; })()").await;
    b.screenshot("remote-ticket.png").await;
    // The kiosk checks it in: the page follows without a reload.
    let (s, v) = api.call("POST", "/api/v1/halls/east/check-in", Some("demo-kiosk-east"), Some(json!({"code": shown}))).await;
    assert_eq!(s, 201, "{v}");
    b.wait_js("document.getElementById('check-in') === null && document.querySelector('main').dataset.state === 'waiting'").await;

    // Central rates on the phone: from the printed link, once finished.
    let mine = api.issue("central", "consulting").await;
    let link = mine.page.clone().expect("the printed link");
    let path = &link[link.find("/t/").unwrap()..];
    b.c().goto(&format!("{}{path}", server.url)).await.expect("ticket page");
    let clerk = api.sign_in("clerk16", "C01").await;
    assert_eq!(api.act(&clerk, "C01", "call-next").await.0, 200);
    assert_eq!(api.act(&clerk, "C01", "finish").await.0, 200);
    b.wait_js("document.getElementById('rate') !== null").await;
    b.click("[data-score='2']").await;
    b.wait_js("!document.getElementById('rate-reasons').hidden").await;
    b.click("#rate-reasons input[value='业务不熟练']").await;
    b.screenshot("ticket-rate.png").await;
    b.click("#rate-send").await;
    b.wait_text("#rated", "不满意").await;
    let (_, cases) = api.call("GET", "/api/v1/cases", Some("demo-supervisor"), None).await;
    let case = cases["cases"].as_array().unwrap().iter().find(|c| c["ticket"].as_u64() == Some(mine.id)).cloned().expect("a case");
    assert_eq!(case["reasons"], json!(["业务不熟练"]));
    b.close().await;
}
