//! Every endpoint's happy path, errors as JSON, and answers dated by the server's clock.

use super::*;

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
    let big = "x".repeat(crate::http::MAX_BODY + 10);
    let a = r.send("PUT", "/api/v1/halls/east/publicity", Some("demo-supervisor"), Some(json!({"messages": [big]}))).await;
    assert_eq!(a.code(), Some(ErrorCode::BodyTooLarge));
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
