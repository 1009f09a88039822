//! The HTTP/WebSocket contract against a real `qcall serve` and a real SQLite file.

use qcall_wire::{self as wire, EventKind, TicketState};
use serde_json::json;

use crate::util::{hall, waiting, ws_connect, ws_connect_as, ws_next, Server};

#[tokio::test]
async fn issue_call_finish_with_live_events() {
    let srv = Server::start();
    let api = srv.api();
    let mut ws = ws_connect(&srv.ws_url("/api/v1/halls/east/events")).await;
    let snap = ws_next(&mut ws).await;
    let EventKind::Snapshot { halls } = &snap.kind else { panic!("first message must be a snapshot: {snap:?}") };
    assert_eq!(halls.len(), 1);
    assert_eq!(halls[0].id, "east");
    assert_eq!(halls[0].services.len(), 4);

    let a1 = api.issue("east", "filing").await;
    assert_eq!(a1.number, "A001");
    assert_eq!((a1.hall.as_str(), a1.service.as_str(), a1.state), ("east", "filing", TicketState::Waiting));
    assert_eq!(a1.waiting_ahead, 0);
    let a2 = api.issue("east", "filing").await;
    assert_eq!(a2.number, "A002");
    assert_eq!(a2.waiting_ahead, 1);
    assert!(a2.est_wait_s > 0, "one person ahead means a wait: {a2:?}");
    let b1 = api.issue("east", "invoice").await;
    assert_eq!(b1.number, "B001");
    // Another hall numbers on its own.
    assert_eq!(api.issue("west", "filing").await.number, "A001");

    let mut last_seq = snap.seq;
    for expect in ["A001", "A002", "B001"] {
        let m = ws_next(&mut ws).await;
        assert!(m.seq > last_seq, "seq increases");
        last_seq = m.seq;
        let EventKind::TicketIssued { ticket } = &m.kind else { panic!("{m:?}") };
        assert_eq!(ticket.number, expect);
        assert!(!m.queues.is_empty(), "ticket events carry the hall's queues");
    }

    let tok = api.sign_in("clerk01", "E01").await;
    let opened = ws_next(&mut ws).await;
    assert!(matches!(opened.kind, EventKind::CounterOpened { ref counter, counter_number: 1 } if counter == "E01"), "{opened:?}");

    let (s, v) = api.act(&tok, "E01", "call-next").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ticket"]["number"], "A001");
    assert_eq!(v["counter"]["current"]["number"], "A001");
    let m = ws_next(&mut ws).await;
    let EventKind::TicketCalled { ticket, counter, counter_number, call_count, recall } = &m.kind else { panic!("{m:?}") };
    assert_eq!((ticket.number.as_str(), counter.as_str(), *counter_number, *call_count, *recall), ("A001", "E01", 1, 1, false));

    let (s, v) = api.act(&tok, "E01", "recall").await;
    assert_eq!(s, 200, "{v}");
    let m = ws_next(&mut ws).await;
    assert!(matches!(m.kind, EventKind::TicketCalled { call_count: 2, recall: true, .. }), "{m:?}");

    let (s, v) = api.act(&tok, "E01", "finish").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ticket"]["state"], "finished");
    assert!(v["counter"]["current"].is_null());
    assert!(matches!(ws_next(&mut ws).await.kind, EventKind::TicketFinished { .. }));

    let (s, v) = api.get(&format!("/api/v1/tickets/{}", a2.id)).await;
    assert_eq!(s, 200);
    assert_eq!(v["waiting_ahead"], 0, "A002 is next: {v}");

    let halls = api.halls().await;
    assert_eq!(waiting(hall(&halls, "east"), "filing"), 1);
    assert_eq!(waiting(hall(&halls, "east"), "invoice"), 1);
    assert_eq!(hall(&halls, "east").recent_calls[0].number, "A001");
    assert_eq!(hall(&halls, "east").recent_calls[0].call_count, 2);

    // Call one specific ticket by number, then no-show and requeue it.
    let (s, v) = api.call("POST", "/api/v1/counters/E01/call", Some(&tok), Some(json!({"ticket": "B001"}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ticket"]["number"], "B001");
    let (s, v) = api.act(&tok, "E01", "no-show").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ticket"]["state"], "no_show");
    let (s, v) = api.call("POST", &format!("/api/v1/tickets/{}/requeue", b1.id), Some(&tok), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "waiting");
    assert_eq!(v["number"], "B001", "the number never changes");

    // Transfer keeps the number, to another hall.
    api.act(&tok, "E01", "call-next").await;
    let (s, v) = api.call("POST", "/api/v1/counters/E01/transfer", Some(&tok), Some(json!({"hall": "central"}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ticket"]["hall"], "central");
    assert_eq!(v["ticket"]["transferred"], true);
}

#[tokio::test]
async fn call_next_on_an_empty_queue_is_404_queue_empty() {
    let srv = Server::start();
    let api = srv.api();
    let tok = api.sign_in("clerk02", "E02").await;
    let (s, v) = api.act(&tok, "E02", "call-next").await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "queue_empty");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn repeated_request_id_returns_the_same_ticket() {
    let srv = Server::start();
    let api = srv.api();
    let body = json!({"service": "invoice", "request_id": "tap-7f3a"});
    let issue = |b: serde_json::Value| {
        let api = api.clone();
        async move { api.call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(b)).await }
    };
    let (s1, t1) = issue(body.clone()).await;
    assert_eq!(s1, 201, "{t1}");
    let (s2, t2) = issue(body.clone()).await;
    assert_eq!(s2, 200, "{t2}");
    assert_eq!(t1["id"], t2["id"]);
    assert_eq!(t1["number"], t2["number"]);

    // Sixteen concurrent retries of one fresh tap make exactly one ticket.
    let tries: Vec<_> = (0..16).map(|_| tokio::spawn(issue(json!({"service": "filing", "request_id": "tap-burst"})))).collect();
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for t in tries {
        let (s, v) = t.await.unwrap();
        assert!(s == 200 || s == 201, "{s} {v}");
        created += usize::from(s == 201);
        ids.insert(v["id"].as_u64().unwrap());
    }
    assert_eq!((ids.len(), created), (1, 1));

    // The same id for a different request is refused, not silently answered.
    let (s, v) = issue(json!({"service": "consulting", "request_id": "tap-7f3a"})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["code"], "request_id_reused");
    let halls = api.halls().await;
    assert_eq!(waiting(hall(&halls, "east"), "invoice"), 1);
    assert_eq!(waiting(hall(&halls, "east"), "filing"), 1);
    assert_eq!(waiting(hall(&halls, "east"), "consulting"), 0);
}

/// Each role against each action.
#[tokio::test]
async fn authorization_by_role() {
    let srv = Server::start();
    let api = srv.api();
    let clerk_e01 = api.sign_in("clerk01", "E01").await;
    let issue = |token: Option<&'static str>, hall: &'static str| {
        let api = api.clone();
        async move {
            api.call("POST", &format!("/api/v1/halls/{hall}/tickets"), token, Some(json!({"service": "filing"}))).await.0
        }
    };
    assert_eq!(issue(None, "east").await, 401);
    assert_eq!(issue(Some("nonsense"), "east").await, 401);
    assert_eq!(issue(Some("demo-kiosk-east"), "east").await, 201);
    assert_eq!(issue(Some("demo-kiosk-east"), "west").await, 403, "kiosk only in its hall");
    assert_eq!(issue(Some("demo-display-east"), "east").await, 403);
    assert_eq!(issue(Some("demo-pad-e01"), "east").await, 403);
    assert_eq!(issue(Some("demo-supervisor"), "west").await, 201);
    let (s, _) = api.call("POST", "/api/v1/halls/east/tickets", Some(&clerk_e01), Some(json!({"service": "filing"}))).await;
    assert_eq!(s, 403, "clerks do not issue");

    let act = |token: String, counter: &'static str, action: &'static str| {
        let api = api.clone();
        async move { api.act(&token, counter, action).await.0 }
    };
    assert_eq!(act("demo-kiosk-east".into(), "E01", "call-next").await, 403);
    assert_eq!(act("demo-display-east".into(), "E01", "call-next").await, 403);
    assert_eq!(act("demo-pad-e01".into(), "E01", "call-next").await, 403);
    assert_eq!(act(clerk_e01.clone(), "E02", "call-next").await, 403, "a clerk only acts at their counter");
    assert_eq!(act(clerk_e01.clone(), "W01", "pause").await, 403);
    assert_eq!(act(clerk_e01.clone(), "E01", "call-next").await, 200);
    assert_eq!(act(clerk_e01.clone(), "E01", "finish").await, 200);
    assert_eq!(act(clerk_e01.clone(), "E01", "pause").await, 200);
    assert_eq!(act(clerk_e01.clone(), "E01", "resume").await, 200);
    // The supervisor may act anywhere (E02 is closed: a domain refusal, not an auth one).
    let (s, v) = api.act("demo-supervisor", "E02", "call-next").await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("counter_closed")));

    // Wrong PIN, unknown clerk.
    let (s, v) = api.call("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk01", "pin": "0000", "counter": "E01"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("wrong_credentials")));
    let (s, _) = api.call("POST", "/api/v1/sessions", None, Some(json!({"clerk": "nobody", "pin": "1234", "counter": "E01"}))).await;
    assert_eq!(s, 401);

    // Another clerk at an occupied counter is told who is there; taking over ends that session.
    let (s, v) = api.call("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk03", "pin": "1234", "counter": "E01"}))).await;
    assert_eq!((s, v["error"]["code"].as_str(), v["error"]["clerk"].as_str()), (409, Some("counter_taken"), Some("clerk01")), "{v}");
    let (s, v) = api
        .call("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk03", "pin": "1234", "counter": "E01", "take_over": true})))
        .await;
    assert_eq!(s, 201, "{v}");
    let again = v["token"].as_str().unwrap().to_string();
    assert_eq!(act(clerk_e01.clone(), "E01", "pause").await, 401);
    assert_eq!(act(again.clone(), "E01", "pause").await, 200);
    let (s, _) = api.call("DELETE", "/api/v1/sessions", Some(&again), None).await;
    assert_eq!(s, 204);
    assert_eq!(act(again, "E01", "resume").await, 401);

    // Device status: only the device itself.
    let report = json!({"ok": false, "code": "paper_end", "message": "打印机缺纸"});
    let (s, _) = api.call("POST", "/api/v1/devices/kiosk-east-1/status", Some("demo-kiosk-west"), Some(report.clone())).await;
    assert_eq!(s, 403);
    let (s, _) = api.call("POST", "/api/v1/devices/kiosk-east-1/status", Some("demo-kiosk-east"), Some(report)).await;
    assert_eq!(s, 204);
    // Staff see the device reports; a stranger does not.
    assert!(api.halls().await.halls.iter().all(|h| h.devices.is_empty()), "no device reports for a stranger");
    let halls = api.client.with_token("demo-supervisor").halls().await.unwrap();
    let dev = &hall(&halls, "east").devices[0];
    assert_eq!((dev.device.as_str(), dev.ok, dev.code.as_str()), ("kiosk-east-1", false, "paper_end"));

    // Publicity: supervisors only.
    let body = json!({"messages": ["依法纳税光荣"]});
    assert_eq!(api.call("PUT", "/api/v1/halls/east/publicity", Some("demo-display-east"), Some(body.clone())).await.0, 403);
    assert_eq!(api.call("PUT", "/api/v1/halls/east/publicity", Some("demo-supervisor"), Some(body)).await.0, 200);

    // Reading needs no token and shows no clerk.
    let (s, v) = api.get("/api/v1/halls").await;
    assert_eq!(s, 200);
    let text = v.to_string();
    assert!(!text.contains("clerk0"), "hall state exposes no personal data");
}

#[tokio::test]
async fn restart_mid_day_resumes_every_queue() {
    let mut srv = Server::start_forward();
    let api = srv.api();
    for _ in 0..3 {
        api.issue("east", "filing").await;
    }
    api.issue("east", "invoice").await;
    api.issue("central", "consulting").await;
    let tok = api.sign_in("clerk01", "E01").await;
    let (_, called) = api.act(&tok, "E01", "call-next").await;
    assert_eq!(called["ticket"]["number"], "A001");
    let before = api.halls().await;

    srv.restart();
    let api = srv.api();
    let after = api.halls().await;
    for h in ["east", "west", "central"] {
        let (b, a) = (hall(&before, h), hall(&after, h));
        // Estimates move on with the time the restart took (the service at E01 runs on).
        let queues = |x: &wire::HallInfo| x.services.iter().map(|s| wire::ServiceInfo { est_wait_s: 0, est_wait_range_s: None, ..s.clone() }).collect::<Vec<_>>();
        assert_eq!(queues(a), queues(b), "queues of {h} survive");
        assert_eq!(a.counters, b.counters, "counters of {h} survive");
        assert_eq!(a.recent_calls, b.recent_calls);
    }
    assert_eq!(after.seq, before.seq, "event numbering continues");
    // The session survived too; numbering continues; order kept.
    let (s, v) = api.act(&tok, "E01", "finish").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(api.issue("east", "filing").await.number, "A004");
    assert_eq!(api.act(&tok, "E01", "call-next").await.1["ticket"]["number"], "A002");
    assert!(srv.log().contains("stopped"), "clean shutdown is logged");
}

#[tokio::test]
async fn reconnect_with_since_replays_exactly_what_was_missed() {
    let srv = Server::start();
    let api = srv.api();
    let mut ws = ws_connect(&srv.ws_url("/api/v1/halls/east/events")).await;
    let snap = ws_next(&mut ws).await;
    api.issue("east", "filing").await;
    let first = ws_next(&mut ws).await;
    drop(ws);
    // Missed while away: two east tickets and one west ticket (not for this hall).
    api.issue("east", "filing").await;
    api.issue("west", "filing").await;
    api.issue("east", "invoice").await;
    let mut ws = ws_connect(&srv.ws_url(&format!("/api/v1/halls/east/events?since={}", first.seq))).await;
    let a = ws_next(&mut ws).await;
    let b = ws_next(&mut ws).await;
    let numbers: Vec<String> = [&a, &b]
        .iter()
        .map(|m| match &m.kind {
            EventKind::TicketIssued { ticket } => ticket.number.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(numbers, ["A002", "B001"]);
    assert!(a.seq > first.seq && b.seq > a.seq);
    // Then live events continue on the same connection.
    api.issue("east", "consulting").await;
    assert!(matches!(ws_next(&mut ws).await.kind, EventKind::TicketIssued { ref ticket } if ticket.number == "D001"));

    // A `since` from the future (e.g. another database) gets a fresh snapshot.
    let mut ws = ws_connect(&srv.ws_url("/api/v1/halls/east/events?since=999999")).await;
    assert!(ws_next(&mut ws).await.is_snapshot());
    // All halls stream: snapshot with three halls.
    let mut ws = ws_connect_as(&srv.ws_url("/api/v1/events"), "demo-supervisor").await;
    let m = ws_next(&mut ws).await;
    assert!(matches!(&m.kind, EventKind::Snapshot { halls } if halls.len() == 3));
    assert!(m.seq > snap.seq);
}

/// Reports over a period: every ticket with its arrival, call and finish times; statistics per
/// counter and clerk; supervisors only.
#[tokio::test]
async fn period_reports_list_arrival_times_per_clerk() {
    let srv = Server::start();
    let api = srv.api();
    let a1 = api.issue("east", "filing").await;
    api.issue("east", "invoice").await;
    api.issue("west", "filing").await;
    let tok = api.sign_in("clerk05", "E01").await;
    api.act(&tok, "E01", "call-next").await;
    api.act(&tok, "E01", "finish").await;
    let day = a1.day.clone();
    let sup = Some("demo-supervisor");

    let (s, v) = api.call("GET", &format!("/api/v1/reports/tickets?from={day}&to={day}&hall=east"), sup, None).await;
    assert_eq!(s, 200, "{v}");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2, "east only: {v}");
    assert_eq!(rows[0]["number"], "A001");
    assert_eq!(rows[0]["state"], "finished");
    assert_eq!(rows[0]["clerk"], "clerk05");
    assert_eq!(rows[0]["issued_at"].as_i64(), Some(a1.issued_at.timestamp_millis()), "arrival time");
    assert!(rows[0]["called_at"].as_i64() >= rows[0]["issued_at"].as_i64());
    assert!(rows[0]["finished_at"].as_i64() >= rows[0]["called_at"].as_i64());
    assert_eq!(rows[1]["state"], "waiting");

    let resp = api.get_raw(&format!("/api/v1/reports/tickets?from={day}&to={day}&format=csv"), Some("demo-supervisor")).await;
    assert_eq!(resp.status, 200);
    assert!(resp.content_type.as_deref().unwrap().starts_with("text/csv"));
    let csv = resp.text();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 4, "header and three tickets:\n{csv}");
    assert!(lines[0].starts_with("day,number,hall,service,priority,state,arrived,called,finished,wait_s,service_s,counter,clerk"));
    assert!(lines[1].contains(",A001,east,filing,normal,finished,") && lines[1].contains(",E01,clerk05,"), "{}", lines[1]);

    let (s, v) = api.call("GET", &format!("/api/v1/stats?from={day}&to={day}"), sup, None).await;
    assert_eq!(s, 200, "{v}");
    let clerk = v["clerks"].as_array().unwrap().iter().find(|c| c["clerk"] == "clerk05").expect("clerk05 row").clone();
    assert_eq!(clerk["served"], 1);
    let e01 = v["counters"].as_array().unwrap().iter().find(|c| c["counter"] == "E01").unwrap().clone();
    assert_eq!(e01["served"], 1);
    // An earlier period has nothing.
    let (s, v) = api.call("GET", "/api/v1/reports/tickets?from=2020-01-01&to=2020-01-31", sup, None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)));

    // Bad periods and callers.
    for q in ["from=2026-13-01&to=2026-12-01", &format!("from={day}&to=2020-01-01"), "from=2020-01-01&to=2022-01-01", "to=2026-01-01", &format!("from={day}&to={day}&format=xml"), &format!("from={day}&to={day}&x=1")] {
        let (s, v) = api.call("GET", &format!("/api/v1/reports/tickets?{q}"), sup, None).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_query")), "{q}: {v}");
    }
    let (s, _) = api.call("GET", &format!("/api/v1/reports/tickets?from={day}&to={day}"), Some(&tok), None).await;
    assert_eq!(s, 403, "ticket reports are for supervisors");
    let (s, _) = api.call("GET", &format!("/api/v1/reports/tickets?from={day}&to={day}"), None, None).await;
    assert_eq!(s, 401);
    let (s, v) = api.call("GET", &format!("/api/v1/stats?from={day}&to={day}"), Some(&tok), None).await;
    assert_eq!(s, 200, "a clerk sees own rows: {v}");
    assert_eq!(v["clerks"].as_array().unwrap().len(), 1);
    assert_eq!(v["counters"].as_array().unwrap().len(), 1);
}
