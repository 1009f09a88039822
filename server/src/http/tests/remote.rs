//! Remote tickets (线上取号) over HTTP: taken with a texted code, numbered from the hall's
//! sequence, checked in at the kiosk, held when their turn comes first, no-shows after the hold;
//! every refusal with its code; what the duty leader sees.

use super::*;

const PHONE: &str = "13912345678";

/// Takes a remote ticket in `hall` for `phone` (with a fresh code).
async fn take(r: &Rig, hall: &str, service: &str, phone: &str, rid: &str) -> Answer {
    r.clock.advance(61_000);
    let code = r.phone_code(phone).await;
    r.send("POST", &format!("/api/v1/halls/{hall}/remote-tickets"), None, Some(json!({"service": service, "phone": phone, "phone_code": code, "request_id": rid}))).await
}

fn remote_rig(quota: u32) -> Rig {
    Rig::with(|cfg, _| {
        let mut topo = (*cfg.topology).clone();
        for h in &mut topo.halls {
            h.phone.remote_quota = if h.id == "west" { 0 } else { quota };
        }
        cfg.topology = Arc::new(topo);
    })
}

fn outbox_kinds(r: &Rig, ticket: u64) -> Vec<(String, String)> {
    r.db(|db| {
        let rows = db.query("SELECT kind, params FROM sms_outbox WHERE ticket = ?1 ORDER BY id", crate::vals![ticket]).unwrap();
        rows.iter().map(|row| (row.get(0).unwrap(), row.get(1).unwrap())).collect()
    })
}

#[tokio::test]
async fn a_remote_ticket_is_taken_checked_in_at_the_kiosk_and_called_in_its_place() {
    let r = remote_rig(5);
    let first = r.issue("central", "consulting").await;
    let a = take(&r, "central", "consulting", PHONE, "rt-1").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let v = a.json();
    let remote: wire::RemoteTicket = serde_json::from_value(v).unwrap();
    assert_eq!(remote.ticket.number, "D002", "the hall's own sequence");
    assert_eq!(remote.ticket.remote, Some(wire::RemoteStatus { checked_in: false, held_until: None }));
    assert_eq!(remote.phone, "139****5678");
    assert_eq!(remote.code.len(), 8);
    assert_eq!(remote.page, format!("https://q.example/t/{}?c={}", remote.ticket.id, remote.code));
    let behind = r.issue("central", "consulting").await;
    assert_eq!(behind.waiting_ahead, 2, "those behind count it");

    // A retry of the same request is the same ticket (its code was used, and that is fine).
    let again = r
        .send("POST", "/api/v1/halls/central/remote-tickets", None, Some(json!({"service": "consulting", "phone": PHONE, "phone_code": "000000", "request_id": "rt-1"})))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(again.json()["ticket"]["id"].as_u64(), Some(remote.ticket.id));

    // Its page shows the check-in code to whoever has the link, and not by the id alone.
    let page = r.send("GET", &format!("/t/{}?c={}", remote.ticket.id, remote.code), None, None).await.text();
    assert!(page.contains("id=\"check-in-code\"") && page.contains(&remote.code[..4]) && page.contains("线上"), "{page}");
    let bare = r.send("GET", &format!("/t/{}", remote.ticket.id), None, None).await.text();
    assert!(!bare.contains(&remote.code), "{bare}");
    let wrong = r.send("GET", &format!("/t/{}?c=12345678", remote.ticket.id), None, None).await.text();
    assert!(!wrong.contains("check-in-code"), "{wrong}");

    // The kiosk checks it in: 201 with the ticket, then 200 (the same, not printed again).
    let path = "/api/v1/halls/central/check-in";
    let a = r.send("POST", path, Some("demo-kiosk-central"), Some(json!({"code": remote.code, "request_id": "k1"}))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let t: wire::Ticket = serde_json::from_value(a.json()).unwrap();
    assert_eq!((t.id, t.remote.map(|x| x.checked_in)), (remote.ticket.id, Some(true)));
    let a = r.send("POST", path, Some("demo-kiosk-central"), Some(json!({"code": remote.code, "request_id": "k2"}))).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = r.send("POST", "/api/v1/halls/east/check-in", Some("demo-kiosk-east"), Some(json!({"code": remote.code}))).await;
    assert_eq!(a.code(), Some(ErrorCode::WrongHall), "another hall's kiosk");

    let clerk = r.sign_in("clerk16", "C01").await;
    for want in [first.id, remote.ticket.id, behind.id] {
        let v = r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
        assert_eq!(v["ticket"]["id"].as_u64(), Some(want));
        r.ok("POST", "/api/v1/counters/C01/finish", Some(&clerk), None).await;
    }
}

#[tokio::test]
async fn not_checked_in_when_its_turn_comes_it_is_held_told_to_come_then_lapses() {
    let r = remote_rig(5);
    let remote: wire::RemoteTicket = serde_json::from_value(take(&r, "central", "consulting", PHONE, "rt-2").await.json()).unwrap();
    let id = remote.ticket.id;
    let w1 = r.issue("central", "consulting").await;
    let w2 = r.issue("central", "consulting").await;
    let clerk = r.sign_in("clerk16", "C01").await;
    // Counters open: it is near its turn, so it is told to come and check in (not "near turn").
    let rows = outbox_kinds(&r, id);
    assert_eq!(rows.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["check_in"], "{rows:?}");
    let params: Value = serde_json::from_str(&rows[0].1).unwrap();
    assert_eq!(params["code"], json!(remote.code));
    assert_eq!(params["hall"], json!("中区办税服务厅"));
    assert!(params["minutes"].as_str().unwrap().parse::<u32>().unwrap() >= 10, "its wait plus the hold: {params}");

    let v = r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
    assert_eq!(v["ticket"]["id"].as_u64(), Some(w1.id), "the others are called meanwhile");
    let t: wire::Ticket = serde_json::from_value(r.ok("GET", &format!("/api/v1/tickets/{id}"), None, None).await).unwrap();
    let until = t.remote.and_then(|x| x.held_until).expect("held");
    assert_eq!(until.timestamp_millis(), crate::clock::Clock::now(&*r.clock) + 10 * 60_000);
    let page = r.send("GET", &format!("/t/{id}"), None, None).await.text();
    assert!(page.contains("state-held") && page.contains("前到取号机签到"), "{page}");
    let ov = r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    let central = ov["halls"].as_array().unwrap().iter().find(|h| h["hall"]["id"] == "central").unwrap();
    assert_eq!(central["remote"], json!({"away": 0, "held": 1, "checked_in": 0, "lapsed": 0}));
    r.ok("POST", "/api/v1/counters/C01/finish", Some(&clerk), None).await;

    // The hold runs out: a no-show, and too late to check in.
    r.clock.advance(10 * 60_000);
    r.app.state.engine.submit(crate::engine::Request::Domain(crate::domain::Command::Tick)).await.unwrap();
    let t: wire::Ticket = serde_json::from_value(r.ok("GET", &format!("/api/v1/tickets/{id}"), None, None).await).unwrap();
    assert_eq!(t.state, wire::TicketState::NoShow);
    let a = r.send("POST", "/api/v1/halls/central/check-in", Some("demo-kiosk-central"), Some(json!({"code": remote.code}))).await;
    assert_eq!(a.code(), Some(ErrorCode::TooLate));
    let v = r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
    assert_eq!(v["ticket"]["id"].as_u64(), Some(w2.id));
    let ov = r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    let central = ov["halls"].as_array().unwrap().iter().find(|h| h["hall"]["id"] == "central").unwrap();
    assert_eq!(central["remote"]["lapsed"], json!(1));
}

#[tokio::test]
async fn a_held_ticket_checked_in_in_time_is_next() {
    let r = remote_rig(5);
    let remote: wire::RemoteTicket = serde_json::from_value(take(&r, "central", "consulting", PHONE, "rt-3").await.json()).unwrap();
    let w1 = r.issue("central", "consulting").await;
    let w2 = r.issue("central", "consulting").await;
    let clerk = r.sign_in("clerk16", "C01").await;
    let v = r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
    assert_eq!(v["ticket"]["id"].as_u64(), Some(w1.id));
    r.ok("POST", "/api/v1/counters/C01/finish", Some(&clerk), None).await;
    r.clock.advance(5 * 60_000);
    r.ok("POST", "/api/v1/halls/central/check-in", Some("demo-kiosk-central"), Some(json!({"code": remote.code}))).await;
    let v = r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
    assert_eq!(v["ticket"]["id"].as_u64(), Some(remote.ticket.id), "arrived within the hold: next");
    r.ok("POST", "/api/v1/counters/C01/finish", Some(&clerk), None).await;
    let v = r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
    assert_eq!(v["ticket"]["id"].as_u64(), Some(w2.id));
}

#[tokio::test]
async fn every_refusal_of_a_remote_ticket_has_its_code_and_takes_nothing() {
    let r = remote_rig(2);
    let r = &r;
    let post = |hall: &str, body: Value| {
        let path = format!("/api/v1/halls/{hall}/remote-tickets");
        async move { r.send("POST", &path, None, Some(body)).await }
    };
    let body = |phone: &str, code: &str, rid: &str| json!({"service": "consulting", "phone": phone, "phone_code": code, "request_id": rid});
    assert_eq!(post("west", body(PHONE, "123456", "a")).await.code(), Some(ErrorCode::RemoteOff));
    assert_eq!(post("nowhere", body(PHONE, "123456", "a")).await.code(), Some(ErrorCode::UnknownHall));
    assert_eq!(post("central", json!({"service": "nothing", "phone": PHONE, "phone_code": "1", "request_id": "a"})).await.code(), Some(ErrorCode::UnknownService));
    assert_eq!(post("central", body("12345", "123456", "a")).await.code(), Some(ErrorCode::InvalidPhone));
    assert_eq!(post("central", body(PHONE, "", "a")).await.code(), Some(ErrorCode::PhoneCodeRequired));
    assert_eq!(post("central", body(PHONE, "123456", "")).await.code(), Some(ErrorCode::BadRequestId));
    let code = r.phone_code(PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(post("central", body(PHONE, wrong, "a")).await.code(), Some(ErrorCode::WrongPhoneCode));
    assert_eq!(post("central", json!({"service": "consulting", "phone": PHONE})).await.code(), Some(ErrorCode::BadJson));
    assert_eq!(r.ok("GET", "/api/v1/halls/central", None, None).await["remote_left"], json!(2));

    // One per phone, hall and day; the code of a refused request stays good.
    assert_eq!(post("central", body(PHONE, &code, "a")).await.status, StatusCode::CREATED);
    let second = take(r, "central", "consulting", PHONE, "b").await;
    assert_eq!(second.code(), Some(ErrorCode::RemoteTaken), "{}", second.text());
    assert!(second.json()["error"]["message"].as_str().unwrap().contains("D001"));
    let other_hall = take(r, "east", "consulting", PHONE, "c").await;
    assert_eq!(other_hall.status, StatusCode::CREATED, "another hall is another queue: {}", other_hall.text());
    // The hall's quota.
    assert_eq!(take(r, "central", "consulting", "13700000001", "d").await.status, StatusCode::CREATED);
    let full = take(r, "central", "consulting", "13700000002", "e").await;
    assert_eq!(full.code(), Some(ErrorCode::RemoteQuotaFull));
    assert_eq!(r.ok("GET", "/api/v1/halls/central", None, None).await["remote_left"], json!(0));

    // Outside opening hours, as at the kiosk.
    r.clock.advance(3 * 3_600_000 + 15 * 60_000); // 12:15, the lunch break
    let closed = take(r, "east", "consulting", "13700000003", "f").await;
    assert_eq!(closed.code(), Some(ErrorCode::HallClosed), "{}", closed.text());
    assert!(closed.json()["error"]["at"].is_string(), "says when it opens again");
}

/// The printed QR code's link carries a key: with it (and only with it) a ticket finished
/// today is rated once on the phone, where the hall takes phone ratings; a 差评 opens a case
/// with the reasons given.
#[tokio::test]
async fn a_finished_ticket_is_rated_on_the_phone_from_its_printed_link() {
    let r = Rig::with(|cfg, _| {
        let mut topo = (*cfg.topology).clone();
        for h in &mut topo.halls {
            h.phone.ratings = h.id == "central";
        }
        cfg.topology = Arc::new(topo);
    });
    let mine = r.issue("central", "consulting").await;
    let page = mine.page.clone().expect("the kiosk gets the ticket's own link");
    let key = page.split("?k=").nth(1).unwrap().to_string();
    assert_eq!(page, format!("https://q.example/t/{}?k={key}", mine.id));
    assert_eq!(r.ok("GET", &format!("/api/v1/tickets/{}", mine.id), None, None).await.get("page"), None, "only the kiosk has it");
    let east = r.issue("east", "filing").await;
    let r = &r;
    let rate = |id: u64, key: &str, score: u8, reasons: Value| {
        let body = json!({"key": key, "score": score, "reasons": reasons});
        let path = format!("/api/v1/tickets/{id}/phone-rating");
        async move { r.send("POST", &path, None, Some(body)).await }
    };
    let here = format!("/t/{}?k={key}", mine.id);
    assert!(!r.send("GET", &here, None, None).await.text().contains("id=\"rate\""), "not while it waits");
    assert_eq!(rate(mine.id, &key, 5, json!([])).await.code(), Some(ErrorCode::RatingNotAllowed));

    let clerk = r.sign_in("clerk16", "C01").await;
    r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
    r.ok("POST", "/api/v1/counters/C01/finish", Some(&clerk), None).await;
    let html = r.send("GET", &here, None, None).await.text();
    assert!(html.contains("id=\"rate\"") && html.contains("非常满意") && html.contains("业务不熟练"), "{html}");
    assert!(!r.send("GET", &format!("/t/{}", mine.id), None, None).await.text().contains("id=\"rate\""), "the id alone rates nothing");
    assert_eq!(rate(mine.id, "0123456789abcdef", 5, json!([])).await.code(), Some(ErrorCode::Forbidden));
    assert_eq!(rate(mine.id, &key, 2, json!(["迟到"])).await.code(), Some(ErrorCode::UnknownRatingReason));
    assert_eq!(rate(mine.id, &key, 7, json!([])).await.code(), Some(ErrorCode::BadScore));
    let a = rate(mine.id, &key, 2, json!(["业务不熟练", "等候时间长"])).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    assert_eq!(rate(mine.id, &key, 5, json!([])).await.code(), Some(ErrorCode::AlreadyRated));
    assert!(r.send("GET", &here, None, None).await.text().contains("您的评价：不满意"));
    let cases: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases", Some("demo-supervisor"), None).await).unwrap();
    let case = cases.cases.iter().find(|c| c.ticket == mine.id).expect("a 差评 opens a case");
    assert_eq!((case.score, case.reasons.clone()), (2, vec!["业务不熟练".to_string(), "等候时间长".to_string()]));

    // A hall that rates on its pads: not on the phone.
    let east_key = east.page.unwrap().split("?k=").nth(1).unwrap().to_string();
    let clerk = r.sign_in("clerk01", "E01").await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
    assert_eq!(rate(east.id, &east_key, 5, json!([])).await.code(), Some(ErrorCode::RatingNotAllowed));
}
