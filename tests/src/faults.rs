//! Fault tests: crashes, hostile input, slow and dead subscribers. What they assert is
//! deterministic; only the moments of the crashes are random (the seed is printed).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use qcall_client::{Client, ClientError, ClientOptions, Frame};
use qcall_wire::IssueRequest;
use serde_json::{json, Value};

use crate::util::{ws_connect_as, ws_next, Api, Server};

const HALLS: [&str; 3] = ["east", "west", "central"];
/// Services without a daily cap in the demo config (registration sells out at 300).
const UNCAPPED: [&str; 3] = ["filing", "invoice", "consulting"];

fn lcg(x: &mut u64) -> u64 {
    *x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *x >> 33
}

#[derive(Debug, Clone)]
struct Acked {
    id: u64,
    number: String,
    hall: String,
    service: String,
}

/// 16 kiosks issue tickets while the server is SIGKILLed 10 times. A kiosk retries with the
/// same request_id until it gets an answer, as the real kiosk does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_consistency_under_sigkill() {
    let mut srv = Server::start();
    let base = srv.url.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..16usize {
        let base = base.clone();
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let opts = ClientOptions { timeout: Some(Duration::from_secs(5)), ..ClientOptions::default() };
            let client = Client::new(&base, &opts).unwrap();
            let mut acked = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let hall = HALLS[(c + n) % 3];
                let service = UNCAPPED[(c / 3 + n) % 3];
                let req = IssueRequest { service: service.into(), priority: None, request_id: Some(format!("k{c}-{n}")) };
                let kiosk = client.with_token(&format!("demo-kiosk-{hall}"));
                n += 1;
                loop {
                    match kiosk.issue(hall, &req).await {
                        Ok(t) => {
                            acked.push(Acked { id: t.id, number: t.number, hall: hall.to_string(), service: service.to_string() });
                            break;
                        }
                        Err(ClientError::Server { status, .. }) => panic!("unexpected status {status}"),
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            }
            acked
        }));
    }
    let seed: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("crash moments seed: {seed}");
    let mut x = seed;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(50 + lcg(&mut x) % 400)).await;
        srv.kill();
        tokio::time::sleep(Duration::from_millis(lcg(&mut x) % 100)).await;
        srv.start_again();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for c in clients {
        acked.extend(c.await.unwrap());
    }
    assert!(acked.len() > 50, "the clients got work done between crashes: {}", acked.len());

    // Every acknowledged ticket exists exactly once, with the number the client was given.
    let db = rusqlite::Connection::open(&srv.db).unwrap();
    let ids: BTreeSet<u64> = acked.iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), acked.len(), "no ticket was acknowledged twice to different taps");
    for a in &acked {
        let (number, hall, service): (String, String, String) = db
            .query_row("SELECT number, issued_hall, issued_service FROM tickets WHERE id = ?1", [a.id as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap_or_else(|e| panic!("acknowledged ticket {a:?} is missing: {e}"));
        assert_eq!((&number, &hall, &service), (&a.number, &a.hall, &a.service));
    }
    // No number repeats within a hall, service and day, and there are no holes.
    let mut stmt = db
        .prepare("SELECT day, issued_hall, issued_service, COUNT(*), COUNT(DISTINCT seq), MAX(seq) FROM tickets GROUP BY 1, 2, 3")
        .unwrap();
    let groups: Vec<(String, String, String, i64, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut max_seq = BTreeMap::new();
    for (day, hall, service, count, distinct, max) in &groups {
        assert_eq!(count, distinct, "duplicate numbers in {day} {hall} {service}");
        assert_eq!(count, max, "numbers of {day} {hall} {service} have holes");
        max_seq.insert((hall.clone(), service.clone()), *max);
    }
    let acked_numbers: BTreeSet<(String, String, String)> =
        acked.iter().map(|a| (a.hall.clone(), a.service.clone(), a.number.clone())).collect();
    assert_eq!(acked_numbers.len(), acked.len(), "no number was handed out twice");

    // Numbering continues after the highest number.
    let api = srv.api();
    for hall in HALLS {
        for service in UNCAPPED {
            let t = api.issue(hall, service).await;
            let seq: i64 = t.number[1..].parse().unwrap();
            let before = max_seq.get(&(hall.to_string(), service.to_string())).copied().unwrap_or(0);
            assert_eq!(seq, before + 1, "{hall} {service} continues after {before}");
        }
    }
}

/// A fingerprint of everything stored.
fn fingerprint(db: &std::path::Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    let q = |sql: &str| -> String { c.query_row(sql, [], |r| r.get::<_, Option<String>>(0)).unwrap().unwrap_or_default() };
    [
        q("SELECT group_concat(id || number || hall || service || state || COALESCE(counter, '') || call_count, ',') FROM tickets"),
        q("SELECT group_concat(seq || type, ',') FROM events"),
        q("SELECT group_concat(id || state || COALESCE(current, ''), ',') FROM counters"),
        q("SELECT group_concat(token_hash, ',') FROM sessions"),
        q("SELECT group_concat(hall || messages, ',') FROM publicity"),
        q("SELECT group_concat(device || body, ',') FROM devices"),
    ]
    .join("|")
}

async fn expect_4xx(api: &Api, what: &str, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) {
    let (s, v) = api.raw(method, path, token, body).await;
    assert!((400..500).contains(&s), "{what}: {method} {path} answered {s}: {v}");
    assert!(v["error"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{what}: {method} {path}: no JSON error body: {v}");
    assert!(v["error"]["message"].is_string(), "{what}: {v}");
}

#[tokio::test]
async fn hostile_input_gets_4xx_json_and_changes_nothing() {
    let srv = Server::start();
    let api = srv.api();
    // Some state to protect.
    let (s, first) = api
        .call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing", "request_id": "r-1"})))
        .await;
    assert_eq!(s, 201);
    api.issue("east", "invoice").await;
    let clerk = api.sign_in("clerk01", "E01").await;
    api.act(&clerk, "E01", "call-next").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = fingerprint(&srv.db);

    // Six times the limit (a much larger body is cut off by the server before the client finishes sending).
    let big = vec![b'{'; 100 * 1024];
    let long = "x".repeat(10_000);
    let bad_utf8 = vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'];
    let k = Some("demo-kiosk-east");
    let sup = Some("demo-supervisor");
    let c = Some(clerk.as_str());
    let j = |v: Value| v.to_string().into_bytes();
    let tickets = "/api/v1/halls/east/tickets";

    // Every JSON-taking endpoint with every kind of bad body.
    let json_endpoints: Vec<(&str, String, Option<&str>)> = vec![
        ("POST", tickets.into(), k),
        ("POST", "/api/v1/sessions".into(), None),
        ("POST", "/api/v1/counters/E01/transfer".into(), c),
        ("POST", "/api/v1/counters/E01/call".into(), c),
        ("POST", "/api/v1/devices/kiosk-east-1/status".into(), k),
        ("PUT", "/api/v1/halls/east/publicity".into(), sup),
    ];
    for (m, p, tok) in &json_endpoints {
        expect_4xx(&api, "malformed JSON", m, p, *tok, b"{\"service\": ".to_vec()).await;
        expect_4xx(&api, "not an object", m, p, *tok, b"[1,2,3]".to_vec()).await;
        expect_4xx(&api, "huge body", m, p, *tok, big.clone()).await;
        expect_4xx(&api, "bad UTF-8", m, p, *tok, bad_utf8.clone()).await;
        expect_4xx(&api, "unknown field", m, p, *tok, j(json!({"service": "filing", "clerk": "a", "ok": true, "evil": 1}))).await;
        expect_4xx(&api, "wrong types", m, p, *tok, j(json!({"service": 5, "clerk": 1, "pin": 2, "counter": 3, "ticket": [], "ok": "yes", "messages": "x", "hall": 9}))).await;
        expect_4xx(&api, "empty body", m, p, *tok, vec![]).await;
    }
    // Actions that take no body refuse one.
    for action in ["call-next", "recall", "no-show", "finish", "resume"] {
        expect_4xx(&api, "body on bodiless action", "POST", &format!("/api/v1/counters/E01/{action}"), c, j(json!({"x": 1}))).await;
    }
    expect_4xx(&api, "pause without a reason", "POST", "/api/v1/counters/E01/pause", c, j(json!({"x": 1}))).await;
    expect_4xx(&api, "pause for no known reason", "POST", "/api/v1/counters/E01/pause", c, j(json!({"reason": "x"}))).await;
    // Very long strings and unknown ids.
    expect_4xx(&api, "long service", "POST", tickets, k, j(json!({"service": long}))).await;
    expect_4xx(&api, "long request_id", "POST", tickets, k, j(json!({"service": "filing", "request_id": long}))).await;
    expect_4xx(&api, "control chars in request_id", "POST", tickets, k, j(json!({"service": "filing", "request_id": "a\nb"}))).await;
    expect_4xx(&api, "unknown service", "POST", tickets, k, j(json!({"service": "lottery"}))).await;
    expect_4xx(&api, "unknown priority", "POST", tickets, k, j(json!({"service": "filing", "priority": "vip"}))).await;
    expect_4xx(&api, "unknown hall", "POST", "/api/v1/halls/north/tickets", sup, j(json!({"service": "filing"}))).await;
    expect_4xx(&api, "long hall", "GET", &format!("/api/v1/halls/{long}"), None, vec![]).await;
    expect_4xx(&api, "unknown ticket", "GET", "/api/v1/tickets/999999", None, vec![]).await;
    expect_4xx(&api, "non-numeric ticket", "GET", "/api/v1/tickets/abc", None, vec![]).await;
    expect_4xx(&api, "huge ticket id", "GET", "/api/v1/tickets/99999999999999999999999", None, vec![]).await;
    expect_4xx(&api, "requeue unknown", "POST", "/api/v1/tickets/999999/requeue", sup, vec![]).await;
    expect_4xx(&api, "unknown counter", "POST", "/api/v1/counters/Z99/call-next", sup, vec![]).await;
    expect_4xx(&api, "unknown action", "POST", "/api/v1/counters/E01/explode", c, vec![]).await;
    expect_4xx(&api, "call unknown number", "POST", "/api/v1/counters/E01/call", c, j(json!({"ticket": "Z999"}))).await;
    expect_4xx(&api, "call unknown id", "POST", "/api/v1/counters/E01/call", c, j(json!({"ticket": 424242}))).await;
    expect_4xx(&api, "transfer nowhere", "POST", "/api/v1/counters/E01/transfer", c, j(json!({}))).await;
    expect_4xx(&api, "transfer unknown hall", "POST", "/api/v1/counters/E01/transfer", c, j(json!({"hall": "mars"}))).await;
    expect_4xx(&api, "unknown device", "POST", "/api/v1/devices/toaster/status", sup, j(json!({"ok": true}))).await;
    expect_4xx(&api, "long device message", "POST", "/api/v1/devices/kiosk-east-1/status", k, j(json!({"ok": false, "message": long}))).await;
    expect_4xx(&api, "too much publicity", "PUT", "/api/v1/halls/east/publicity", sup, j(json!({"messages": [long]}))).await;
    expect_4xx(&api, "unknown route", "GET", "/api/v1/nothing", None, vec![]).await;
    expect_4xx(&api, "wrong method", "DELETE", "/api/v1/halls", None, vec![]).await;
    expect_4xx(&api, "events without upgrade", "GET", "/api/v1/halls/east/events", None, vec![]).await;
    expect_4xx(&api, "bad since", "GET", "/api/v1/events?since=abc", None, vec![]).await;
    // Missing and wrong tokens, on every protected endpoint.
    let protected: Vec<(&str, String, Vec<u8>)> = vec![
        ("POST", tickets.into(), j(json!({"service": "filing"}))),
        ("POST", "/api/v1/counters/E01/call-next".into(), vec![]),
        ("POST", "/api/v1/counters/E01/finish".into(), vec![]),
        ("POST", "/api/v1/counters/E01/transfer".into(), j(json!({"hall": "west"}))),
        ("POST", format!("/api/v1/tickets/{}/requeue", first["id"]), vec![]),
        ("POST", "/api/v1/devices/kiosk-east-1/status".into(), j(json!({"ok": true}))),
        ("PUT", "/api/v1/halls/east/publicity".into(), j(json!({"messages": []}))),
        ("DELETE", "/api/v1/sessions".into(), vec![]),
        ("GET", "/api/v1/metrics".into(), vec![]),
    ];
    for (m, p, body) in &protected {
        expect_4xx(&api, "no token", m, p, None, body.clone()).await;
        expect_4xx(&api, "wrong token", m, p, Some("guess"), body.clone()).await;
        expect_4xx(&api, "absurd token", m, p, Some(&long), body.clone()).await;
    }
    // Wrong PINs and unknown clerks.
    expect_4xx(&api, "wrong pin", "POST", "/api/v1/sessions", None, j(json!({"clerk": "clerk02", "pin": "9999", "counter": "E02"}))).await;
    expect_4xx(&api, "long pin", "POST", "/api/v1/sessions", None, j(json!({"clerk": "clerk02", "pin": long, "counter": "E02"}))).await;
    expect_4xx(&api, "unknown counter login", "POST", "/api/v1/sessions", None, j(json!({"clerk": "clerk02", "pin": "1234", "counter": "X1"}))).await;

    // A replayed request id returns the same ticket and stores nothing new.
    let (s, again) = api.call("POST", tickets, k, Some(json!({"service": "filing", "request_id": "r-1"}))).await;
    assert_eq!((s, &again["id"]), (200, &first["id"]));

    let (s, _) = api.get("/healthz").await;
    assert_eq!(s, 200, "still serving");
    assert_eq!(api.issue("west", "filing").await.number, "A001", "still issuing");
    // Only the one ticket just issued changed the database.
    let after_issue = fingerprint(&srv.db);
    assert_ne!(before, after_issue);
    let c2 = rusqlite::Connection::open(&srv.db).unwrap();
    let west: i64 = c2.query_row("SELECT COUNT(*) FROM tickets WHERE hall = 'west'", [], |r| r.get(0)).unwrap();
    assert_eq!(west, 1);
    // Remove that ticket's traces and compare with the fingerprint from before.
    let tmp = srv.dir.path().join("copy.db");
    c2.execute("VACUUM INTO ?1", [tmp.to_str().unwrap()]).unwrap();
    let copy = rusqlite::Connection::open(&tmp).unwrap();
    copy.execute_batch("DELETE FROM tickets WHERE hall = 'west'; DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events);").unwrap();
    drop(copy);
    assert_eq!(fingerprint(&tmp), before, "hostile requests changed nothing");
}

/// A subscriber that never reads is dropped after a bounded backlog; others keep getting
/// every event; the server's memory stays bounded; the dropped one can resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_is_dropped_and_does_not_hold_back_others() {
    let srv = Server::start();
    let api = srv.api();
    let rss = || -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", srv.pid().unwrap())).unwrap();
        s.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap()
    };
    // The slow one: connects, takes the snapshot, then never reads again.
    let mut slow = ws_connect_as(&srv.ws_url("/api/v1/events"), "demo-supervisor").await;
    let slow_snap = ws_next(&mut slow).await;
    let mut fast = ws_connect_as(&srv.ws_url("/api/v1/events"), "demo-supervisor").await;
    ws_next(&mut fast).await;
    let subscribers = || async {
        let (_, m) = api.call("GET", "/api/v1/metrics", Some("demo-supervisor"), None).await;
        m["subscribers"].as_u64().unwrap()
    };
    assert_eq!(subscribers().await, 2);
    let rss_before = rss();

    const EVENTS: usize = 20_000;
    let reader = tokio::spawn(async move {
        let mut n = 0;
        let mut last = 0;
        while n < EVENTS {
            let m = ws_next(&mut fast).await;
            assert!(m.seq > last, "in order");
            last = m.seq;
            n += 1;
        }
        n
    });
    let mut issuers = Vec::new();
    for c in 0..16 {
        let api = api.clone();
        issuers.push(tokio::spawn(async move {
            for i in 0..EVENTS / 16 {
                let hall = HALLS[(c + i) % 3];
                let (s, _) = api
                    .call("POST", &format!("/api/v1/halls/{hall}/tickets"), Some(&format!("demo-kiosk-{hall}")), Some(json!({"service": UNCAPPED[i % 3]})))
                    .await;
                assert_eq!(s, 201);
            }
        }));
    }
    for i in issuers {
        i.await.unwrap();
    }
    assert_eq!(reader.await.unwrap(), EVENTS, "the reading subscriber got every event");

    // The slow subscriber is dropped (after its backlog or its send timeout).
    let mut dropped = false;
    for _ in 0..600 {
        if subscribers().await == 0 {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dropped, "the slow subscriber was never dropped");
    let grown_mb = rss().saturating_sub(rss_before) / 1024;
    assert!(grown_mb < 64, "server memory grew by {grown_mb} MB for {EVENTS} tickets and a stuck subscriber");

    // What it has buffered ends in a close or an end of stream, not more and more data.
    let mut got = 0usize;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(5), slow.next_frame()).await {
        if matches!(frame, Frame::Close(_)) {
            break;
        }
        got += 1;
        assert!(got <= EVENTS, "more messages than events");
    }
    assert!(got < EVENTS, "the slow subscriber did not get everything: it was dropped ({got} buffered)");
    // And it resyncs: a fresh snapshot, since its position is too old for the replay ring.
    let mut again = ws_connect_as(&srv.ws_url(&format!("/api/v1/events?since={}", slow_snap.seq)), "demo-supervisor").await;
    let m = ws_next(&mut again).await;
    assert!(m.is_snapshot(), "resync by snapshot: {:?}", m.kind);
}
