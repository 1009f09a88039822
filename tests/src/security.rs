//! Under attack and on a bad day, against the real binary: sign-in limits, bounded memory,
//! slow clients, one server per database, a health check that tells the truth.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use qcall_client::Frame;
use serde_json::json;

use crate::util::{bin, peak_rss_kib, run_to_exit, Server};

const PATIENCE: Duration = Duration::from_secs(30);

fn sign_in_body(clerk: &str, pin: &str, counter: &str) -> serde_json::Value {
    json!({"clerk": clerk, "pin": pin, "counter": counter})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_pins_locks_the_account_and_the_lock_ends() {
    let srv = Server::start_edited(|t| t.replace("lock_s = 900", "lock_s = 3"));
    let api = srv.api();
    for i in 0..9 {
        let (s, v) = api.call("POST", "/api/v1/sessions", None, Some(sign_in_body("clerk02", &format!("{:04}", 1000 + i), "E02"))).await;
        assert_eq!((s, v["error"]["code"].as_str()), (401, Some("wrong_credentials")), "guess {i}: {v}");
    }
    // The tenth wrong PIN locks the account: 429 with Retry-After, the right PIN included.
    let (s, v) = api.call("POST", "/api/v1/sessions", None, Some(sign_in_body("clerk02", "9999", "E02"))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (429, Some("signin_locked")), "{v}");
    let r = api
        .client
        .raw("POST", "/api/v1/sessions", &[("content-type", "application/json")], Some(sign_in_body("clerk02", "1234", "E02").to_string().into_bytes()))
        .await
        .unwrap();
    assert_eq!(r.status, 429, "the right PIN during the lock is refused: {}", r.text());
    let retry = r.json()["error"]["retry_after_s"].as_u64().expect("retry_after_s");
    assert!((1..=3).contains(&retry), "{retry}");
    // Other clerks are not locked.
    api.sign_in("clerk03", "E03").await;
    // The lock ends.
    tokio::time::sleep(Duration::from_secs(retry + 1)).await;
    api.sign_in("clerk02", "E02").await;
    let log = srv.log();
    assert!(log.contains("wrong PIN or password") && log.contains("client=127.0.0.1"), "failed sign-ins are logged with the client address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_wrong_sign_ins_keep_memory_bounded() {
    // Limits out of the way, so every attempt wants an argon2 check.
    let srv = Server::start_edited(|t| t.replace("account_failures = 10", "account_failures = 100000").replace("address_failures = 30", "address_failures = 100000"));
    let api = srv.api();
    let pid = srv.pid().unwrap();
    // Warm up (one check), then measure the high-water mark.
    api.call("POST", "/api/v1/sessions", None, Some(sign_in_body("clerk01", "000000", "E01"))).await;
    let before = peak_rss_kib(pid);
    let tries: Vec<_> = (0..200)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                api.call("POST", "/api/v1/sessions", None, Some(sign_in_body(&format!("clerk{:02}", i % 24 + 1), "000000", "E01"))).await.0
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for t in tries {
        *statuses.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    let grown_mb = peak_rss_kib(pid).saturating_sub(before) / 1024;
    println!("MEASURE 200 concurrent wrong sign-ins: statuses {statuses:?}, peak RSS grew {grown_mb} MB");
    assert!(statuses.keys().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert!(statuses.get(&429).is_some(), "callers beyond the queue are told to come back: {statuses:?}");
    assert!(grown_mb < 100, "peak RSS grew by {grown_mb} MB");
    let (s, _) = api.get("/healthz").await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_websocket_message_closes_the_stream_with_1009() {
    let srv = Server::start();
    let client = srv.client();
    let mut ws = client.connect_events(&qcall_wire::EventScope::Hall("east".into()), None).await.unwrap();
    assert!(ws.next_message().await.unwrap().unwrap().is_snapshot());
    // Twice the limit (4 KiB): over it, yet small enough to be written whole before the server
    // answers (a megabyte was still being written when the server closed: a broken pipe).
    ws.send_text("x".repeat(8 * 1024)).await.unwrap();
    let code = loop {
        match tokio::time::timeout(PATIENCE, ws.next_frame()).await.expect("an answer") {
            Some(Ok(Frame::Close(c))) => break c.map(|c| c.0),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, Some(1009));
    let (s, _) = srv.api().get("/healthz").await;
    assert_eq!(s, 200);
}

#[test]
fn half_sent_requests_are_closed_and_the_server_keeps_answering() {
    let srv = Server::start_edited(|t| t.replace("header_timeout_s = 30", "header_timeout_s = 2"));
    let opened = Instant::now();
    let mut slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").unwrap();
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            s
        })
        .collect();
    // Meanwhile the server answers others.
    let mut ok = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    ok.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    ok.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Every half-sent request is closed by the server (read returns end of stream).
    for s in &mut slow {
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => panic!("a half-sent request was not closed: {e}"),
            }
        }
    }
    println!("MEASURE 100 half-sent requests closed after {:.1} s (header_timeout_s = 2)", opened.elapsed().as_secs_f64());
}

#[test]
fn sessions_of_removed_clerks_and_changed_pins_end_at_start() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut srv = Server::start_edited(|t| t.to_string());
    let api = srv.api();
    let five = rt.block_on(api.sign_in("clerk05", "E05"));
    let six = rt.block_on(api.sign_in("clerk06", "E06"));
    let seven = rt.block_on(api.sign_in("clerk07", "E07"));
    srv.stop();
    // clerk05 leaves; clerk06 gets a new PIN; clerk07 stays.
    let text = crate::util::always_open_config_text();
    let start = text.find("id = \"clerk05\"").unwrap();
    let block_start = text[..start].rfind("[[clerks]]").unwrap();
    let block_end = block_start + text[block_start + 1..].find("[[clerks]]").unwrap() + 1;
    let mut text = format!("{}{}", &text[..block_start], &text[block_end..]);
    let six_at = text.find("id = \"clerk06\"").unwrap();
    let hash_at = six_at + text[six_at..].find("pin_hash = \"").unwrap() + "pin_hash = \"".len();
    let hash_end = hash_at + text[hash_at..].find('"').unwrap();
    let new_hash = String::from_utf8(std::process::Command::new(bin("qcall")).args(["hash-pin", "654321"]).output().unwrap().stdout).unwrap();
    let new_hash = new_hash.trim().trim_start_matches("pin_hash = \"").trim_end_matches('"').to_string();
    text.replace_range(hash_at..hash_end, &new_hash);
    srv.set_config_text(&text);
    srv.start_again();
    let api = srv.api();
    assert_eq!(rt.block_on(api.act(&five, "E05", "pause")).0, 401, "a removed clerk's session is refused");
    assert_eq!(rt.block_on(api.act(&six, "E06", "pause")).0, 401, "a changed PIN ends the session");
    assert_eq!(rt.block_on(api.act(&seven, "E07", "pause")).0, 200, "others carry on");
    let halls = rt.block_on(api.halls());
    let e05 = crate::util::hall(&halls, "east").counters.iter().find(|c| c.id == "E05").unwrap().state;
    assert_eq!(e05, qcall_wire::CounterState::Closed, "their counters close");
    assert!(srv.log().contains("session ended"));
}

#[test]
fn a_stored_business_day_later_than_the_clock_refuses_to_start() {
    let mut srv = Server::start();
    srv.stop();
    let db = rusqlite::Connection::open(&srv.db).unwrap();
    db.execute("INSERT INTO meta (key, value) VALUES ('day', '2099-01-01') ON CONFLICT (key) DO UPDATE SET value = excluded.value", [])
        .unwrap();
    drop(db);
    let port = crate::util::free_port().to_string();
    let (code, err) = srv.serve_other(&["--listen", &format!("127.0.0.1:{port}")], PATIENCE);
    assert_ne!(code, Some(0), "{err}");
    assert!(code.is_some(), "it exits by itself: {err}");
    let today = srv.today();
    assert!(err.contains("2099-01-01") && err.contains(&today) && err.contains("clock"), "{err}");
}

#[test]
fn a_second_server_on_the_same_database_exits() {
    let srv = Server::start();
    let port = crate::util::free_port().to_string();
    let (code, err) = srv.serve_other(&["--listen", &format!("127.0.0.1:{port}")], PATIENCE);
    assert_ne!(code, Some(0));
    assert!(code.is_some(), "it exits by itself: {err}");
    assert!(err.contains(&format!("in use by PID {}", srv.pid().unwrap())), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_pages_answer_while_the_database_is_locked_and_health_says_when_writes_fail() {
    // The forward estimate: no forecast of the first ticket's hall queues a write of its own
    // behind the lock (it would, and the issue would wait for two commits to give up).
    let srv = Server::start_edited(|t| crate::util::forward_estimates(&t.replace("commit_timeout_ms = 2000", "commit_timeout_ms = 4000")));
    let api = srv.api();
    api.issue("east", "filing").await;
    // Another process holds the database's write lock.
    let lock = rusqlite::Connection::open(&srv.db).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let issuing = {
        let api = api.clone();
        tokio::spawn(async move { api.call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing"}))).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!issuing.is_finished(), "the commit waits for the database");
    let t = Instant::now();
    let (s, _) = api.get("/healthz").await;
    let health_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(s, 200);
    let t = Instant::now();
    let page = api.get_raw("/web/app.css", None).await;
    let page_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(page.status, 200);
    assert!(!issuing.is_finished(), "health and the page answered while the commit was still stuck");
    println!("MEASURE while the database is locked: /healthz {health_ms:.1} ms, /web/app.css {page_ms:.1} ms");
    // The commit gives up after commit_timeout_ms: the batch fails whole (503, try again),
    // health says so.
    let (s, v) = issuing.await.unwrap();
    assert_eq!((s, v["error"]["code"].as_str(), v["error"]["retry_after_s"].as_u64()), (503, Some("store_unavailable"), Some(1)), "{v}");
    let (s, v) = api.get("/healthz").await;
    assert_eq!((s, v["status"].as_str()), (503, Some("failing")), "{v}");
    assert!(v["problems"][0].as_str().unwrap().contains("commit"), "{v}");
    // The lock goes: writes work again and health is back.
    lock.execute_batch("ROLLBACK").unwrap();
    let t = api.issue("east", "filing").await;
    assert_eq!(t.number, "A002", "the failed ticket used no number");
    let (s, _) = api.get("/healthz").await;
    assert_eq!(s, 200);
}

#[test]
fn the_demo_config_is_refused_on_a_public_address() {
    let port = crate::util::free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin("qcall"));
    cmd.arg("serve").arg("--db").arg(dir.path().join("q.db")).arg("--listen").arg(format!("0.0.0.0:{port}"));
    let (code, err) = run_to_exit(cmd, PATIENCE);
    assert!(code.is_some_and(|c| c != 0), "{err}");
    assert!(err.contains("demo credentials") && err.contains("qcall token") && err.contains("qcall hash-pin"), "{err}");
    // A copy of the demo config, tokens unchanged, is refused too.
    let copy = dir.path().join("copy.toml");
    std::fs::write(&copy, crate::util::demo_config_text()).unwrap();
    let mut cmd = std::process::Command::new(bin("qcall"));
    cmd.arg("serve").arg("--config").arg(&copy).arg("--db").arg(dir.path().join("q.db")).arg("--listen").arg(format!("0.0.0.0:{port}"));
    let (code, err) = run_to_exit(cmd, PATIENCE);
    assert!(code.is_some_and(|c| c != 0) && err.contains("demo credentials"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerks_sign_in_where_they_may_and_see_who_is_there() {
    let srv = Server::start();
    let api = srv.api();
    let (s, v) = api.call("POST", "/api/v1/sessions", None, Some(sign_in_body("clerk01", "1234", "W01"))).await;
    assert_eq!((s, v["error"]["code"].as_str(), v["error"]["hall"].as_str()), (403, Some("counter_not_allowed"), Some("west")), "an east clerk at a west counter: {v}");
    let first = api.sign_in("clerk01", "E01").await;
    let (s, v) = api.call("POST", "/api/v1/sessions", None, Some(sign_in_body("clerk02", "1234", "E01"))).await;
    assert_eq!((s, v["error"]["clerk"].as_str(), v["error"]["clerk_name"].as_str()), (409, Some("clerk01"), Some("王芳")), "{v}");
    assert_eq!(api.act(&first, "E01", "pause").await.0, 200, "nobody was signed out by the refused attempt");
    // One counter per clerk: clerk01 moving to E02 closes E01.
    let moved = api.sign_in("clerk01", "E02").await;
    assert_eq!(api.act(&first, "E01", "resume").await.0, 401);
    assert_eq!(api.act(&moved, "E02", "pause").await.0, 200);
    let halls = api.halls().await;
    let east = crate::util::hall(&halls, "east");
    assert_eq!(east.counters.iter().find(|c| c.id == "E01").unwrap().state, qcall_wire::CounterState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_and_rebound_requests_are_refused() {
    let srv = Server::start();
    let c = srv.client();
    let body = sign_in_body("clerk01", "1234", "E01").to_string().into_bytes();
    // A form on another site posts text/plain: refused before any PIN is checked.
    let r = c.raw("POST", "/api/v1/sessions", &[("content-type", "text/plain")], Some(body.clone())).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{}", r.text());
    let r = c
        .raw("POST", "/api/v1/sessions", &[("content-type", "application/json"), ("origin", "http://evil.example")], Some(body.clone()))
        .await
        .unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (403, Some("bad_origin")), "{}", r.text());
    // A name pointed at this server by someone else (DNS rebinding).
    let r = c.raw("GET", "/api/v1/halls", &[("host", "evil.example:8080")], None).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (421, Some("unknown_host")), "{}", r.text());
    // The server's own pages, by address or by localhost, are fine.
    let r = c.raw("POST", "/api/v1/sessions", &[("content-type", "application/json"), ("origin", &srv.url)], Some(body)).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let r = c.raw("GET", "/api/v1/halls", &[("host", &format!("localhost:{}", srv.port))], None).await.unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn hash_pin_wants_six_digits_and_the_server_warns_about_old_pins() {
    let out = std::process::Command::new(bin("qcall")).args(["hash-pin", "1234"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 6"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(bin("qcall")).args(["hash-pin", "482915"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pin_hash = \"$argon2id$"));
    let srv = Server::start();
    let log = srv.log();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("PIN hash made before PINs needed six digits")).collect();
    assert_eq!(warnings.len(), 1, "one line for all 24 demo clerks: {log}");
    assert!(warnings[0].contains("24 clerks") && warnings[0].contains("clerk01,clerk02"), "{}", warnings[0]);
}

#[test]
fn hash_password_wants_ten_characters_and_reads_stdin() {
    let out = std::process::Command::new(bin("qcall")).args(["hash-password", "short"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"), "{}", String::from_utf8_lossy(&out.stderr));
    let mut child = std::process::Command::new(bin("qcall"))
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"duty-leader-2026\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let hash = line.trim().strip_prefix("password_hash = \"").and_then(|h| h.strip_suffix('"')).unwrap_or_else(|| panic!("{line}"));
    assert!(qcall_server::secret::verify_pin("duty-leader-2026", hash), "the hash is of the line read, without its newline");
}
