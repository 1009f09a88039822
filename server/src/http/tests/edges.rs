//! The core's side of a hall edge: each event of the edge's log stored once and in order
//! (what is held already skipped, a gap refused), the edge's ticket rows as last uploaded,
//! and only the hall's own edge uploading.

use super::*;
use crate::clock::Clock;
use crate::view;

/// The core, with an edge device for the east hall (token `edge-east-token`): east is run
/// by its edge.
fn core() -> Rig {
    Rig::with(|cfg, _| {
        let mut t = (*cfg.topology).clone();
        t.elsewhere = [0].into();
        cfg.topology = Arc::new(t);
        cfg.devices.push(crate::config::Device {
            id: "edge-east".into(),
            name: "东区服务器".into(),
            kind: crate::config::DeviceKind::Edge,
            hall: Some(0),
            token_hash: crate::secret::hash_token("edge-east-token"),
            bookings_per_hour: 600,
        });
    })
}

fn event(seq: u64) -> wire::EdgeEvent {
    wire::EdgeEvent { seq, at: T0 + seq as i64, kind: "ticket_issued".into(), hall: Some("east".into()), body: format!("{{\"seq\":{seq}}}") }
}

fn ticket(id: u64, state: &str) -> wire::EdgeTicket {
    wire::EdgeTicket {
        id,
        day: "2026-11-26".into(),
        issued_hall: "east".into(),
        issued_service: "filing".into(),
        seq: 1,
        number: "A001".into(),
        hall: "east".into(),
        service: "filing".into(),
        priority: "normal".into(),
        state: state.into(),
        issued_at: T0,
        queued_at: T0,
        called_at: (state != "waiting").then_some(T0 + 60_000),
        finished_at: None,
        counter: (state != "waiting").then(|| "E01".into()),
        clerk: (state != "waiting").then(|| "clerk01".into()),
        call_count: u32::from(state != "waiting"),
        transferred: false,
        request_id: Some("k-1".into()),
        rating: None,
        slot_start: None,
        remote_code: None,
        arrived_at: None,
        held_at: None,
    }
}

fn upload(events: std::ops::RangeInclusive<u64>, tickets: Vec<wire::EdgeTicket>) -> Value {
    serde_json::to_value(wire::EdgeUpload { events: events.map(event).collect(), tickets, hall: None }).unwrap()
}

/// East's edge: runs east only, makes no bookings (it is not started: [`forward`] does its
/// uploader's work).
fn edge() -> Rig {
    Rig::with(|cfg, _| {
        let mut t = (*cfg.topology).clone();
        t.elsewhere = [1, 2].into();
        t.central = false;
        cfg.topology = Arc::new(t);
        cfg.edge = Some(crate::config::Edge { hall: 0, upstream: "http://127.0.0.1:9".into(), token: "edge-east-token".into(), ca_file: None });
    })
}

/// One round of the edge's uploader: what follows what the core holds, with the hall's
/// overview, uploaded.
async fn forward(edge: &Rig, core: &Rig) -> Value {
    let path = "/api/v1/edges/east/log";
    let held: wire::EdgeHeld = serde_json::from_value(core.ok("GET", path, Some("edge-east-token"), None).await).unwrap();
    let day = edge.app.state.engine.shared.core.read().await.state.day().to_string();
    let (mut up, texts) = edge.db(|db| crate::edge::next_upload(db, held.held, day, "east".into()).unwrap());
    let c = edge.app.state.engine.shared.core.read().await;
    up.hall = Some(Box::new(crate::overview::hall(&edge.app.state.cfg, &c, 0, edge.clock.now(), texts)));
    drop(c);
    core.ok("POST", path, Some("edge-east-token"), Some(serde_json::to_value(up).unwrap())).await
}

/// The core's stream, as far as it went (its replay ring).
async fn stream(r: &Rig) -> Vec<wire::StreamMessage> {
    r.app.state.engine.shared.core.read().await.ring.iter().map(|b| b.msg.clone()).collect()
}

/// The core shows a hall its edge runs as the edge tells it: live while it is heard from; when
/// it falls silent, cut off (断网) since it was last heard from, its figures frozen and an
/// alert raised; back online with its next upload. The core does nothing about the hall
/// itself: its own kiosks cannot issue there.
#[tokio::test]
async fn the_core_mirrors_an_edge_hall_and_marks_it_cut_off_when_silent() {
    let (e, c) = (edge(), core());
    let t = e.issue("east", "filing").await;
    assert!(t.id > crate::store::edge_id_base(0), "the hall in the id's high bits");
    forward(&e, &c).await;
    let ov = c.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    let east = &ov["halls"][0];
    assert_eq!((east["hall"]["id"].as_str(), east["waiting"].as_u64()), (Some("east"), Some(1)));
    assert_eq!(east["hall"]["link"], json!({"online": true}));
    assert_eq!(ov["halls"][1]["hall"].get("link"), None, "west is the core's own");
    // The edge's events go on to the core's streams, renumbered, once each.
    let issued: Vec<u64> = stream(&c).await.iter().filter_map(|m| match &m.kind {
        wire::EventKind::TicketIssued { ticket } if m.hall.as_deref() == Some("east") => Some(ticket.id),
        _ => None,
    }).collect();
    assert_eq!(issued, [t.id]);
    forward(&e, &c).await;
    assert_eq!(stream(&c).await.iter().filter(|m| matches!(m.kind, wire::EventKind::TicketIssued { .. })).count(), 1);
    // The bureau's reports at the core count the hall's tickets, as the hall last told.
    let rows = c.ok("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26&hall=east", Some("demo-supervisor"), None).await;
    assert!(rows.to_string().contains(&t.number), "{rows}");
    // The taxpayer's phone, at the core's pages: the ticket as the hall last told.
    let e2 = e.issue("east", "filing").await;
    forward(&e, &c).await;
    let seen: wire::Ticket = serde_json::from_value(c.ok("GET", &format!("/api/v1/tickets/{}", e2.id), None, None).await).unwrap();
    assert_eq!((seen.number.as_str(), seen.state, seen.waiting_ahead), ("A002", wire::TicketState::Waiting, 1));
    let page = c.send("GET", &format!("/t/{}", e2.id), None, None).await;
    assert!(page.status.is_success() && page.text().contains("A002"), "{}", page.text());
    // Kiosks everywhere see east's waits from the mirror.
    let halls: wire::HallsResponse = serde_json::from_value(c.ok("GET", "/api/v1/halls", Some("demo-kiosk-west"), None).await).unwrap();
    assert_eq!(halls.halls[0].services[0].waiting, 2);
    // The core runs nothing of east.
    let a = c.send("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing"}))).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, Some(ErrorCode::HallElsewhere)));
    let a = c.send("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk01", "pin": "1234", "counter": "E01"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::HallElsewhere));

    // Silent past SILENT: cut off since it was last heard from, at the next batch.
    let last = c.clock.now();
    e.issue("east", "filing").await;
    c.clock.advance(crate::engine::SILENT + 1_000);
    c.issue("west", "filing").await;
    let ov = c.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    let east = &ov["halls"][0];
    assert_eq!(east["hall"]["link"], json!({"online": false, "since": view::time(last)}));
    assert_eq!(east["waiting"], 2, "frozen: as last told");
    let cut: Vec<wire::HallLink> =
        stream(&c).await.into_iter().filter_map(|m| match m.kind { wire::EventKind::HallLinkChanged { link } => Some(link), _ => None }).collect();
    assert_eq!(cut, [wire::HallLink { online: true, since: None }, wire::HallLink { online: false, since: Some(view::time(last)) }], "first heard, then cut");
    c.app.state.engine.submit(crate::engine::Request::CheckAlerts(c.app.state.cfg.alerts.clone())).await.unwrap();
    let alerts = c.ok("GET", "/api/v1/alerts?state=active", Some("demo-supervisor"), None).await;
    let alert = alerts["alerts"].as_array().unwrap().iter().find(|a| a["kind"] == "hall_cut").expect("a hall_cut alert").clone();
    assert_eq!(alert["hall"], "east");
    assert!(alert["message"].as_str().unwrap().contains("断网"), "{alert}");
    // The mirror and the cut survive a restart of the core.
    let Rig { _dir, app, clock } = c;
    let cfg = (*app.state.cfg).clone();
    app.shutdown().await;
    let c = Rig { app: Rig::build(cfg, clock.clone()), clock, _dir };
    let ov = c.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    assert_eq!((ov["halls"][0]["hall"]["link"]["online"].as_bool(), ov["halls"][0]["waiting"].as_u64()), (Some(false), Some(2)));

    // Heard from again: online, the figures current, the alert cleared.
    forward(&e, &c).await;
    let ov = c.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    assert_eq!((ov["halls"][0]["hall"]["link"].clone(), ov["halls"][0]["waiting"].as_u64()), (json!({"online": true}), Some(3)));
    c.app.state.engine.submit(crate::engine::Request::CheckAlerts(c.app.state.cfg.alerts.clone())).await.unwrap();
    let alerts = c.ok("GET", "/api/v1/alerts?state=active", Some("demo-supervisor"), None).await;
    assert!(!alerts["alerts"].as_array().unwrap().iter().any(|a| a["kind"] == "hall_cut"), "{alerts}");
}

#[tokio::test]
async fn an_edges_log_is_stored_once_in_order_and_what_is_held_is_told() {
    let r = core();
    let path = "/api/v1/edges/east/log";
    let edge = Some("edge-east-token");
    let id = crate::store::edge_id_base(0) + 1;
    let v = r.ok("POST", path, edge, Some(upload(1..=3, vec![ticket(id, "waiting")]))).await;
    assert_eq!(v, json!({"held": 3}));
    // An upload repeated after its answer was lost, and more: the held part skipped.
    let v = r.ok("POST", path, edge, Some(upload(1..=5, vec![ticket(id, "called")]))).await;
    assert_eq!(v, json!({"held": 5}));
    // A gap: refused whole, nothing stored.
    let a = r.send("POST", path, edge, Some(upload(7..=8, vec![]))).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, Some(ErrorCode::EdgeGap)));
    assert_eq!(r.ok("GET", path, edge, None).await, json!({"held": 5}));
    assert_eq!(r.ok("GET", path, Some("demo-supervisor"), None).await, json!({"held": 5}));
    let seqs: Vec<u64> = r.db(|db| db.query("SELECT seq FROM edge_log WHERE hall = 'east' ORDER BY seq", &[]).unwrap().iter().map(|x| x.get(0).unwrap()).collect());
    assert_eq!(seqs, [1, 2, 3, 4, 5], "each once");
    let rows = r.db(|db| crate::queries::all_ticket_rows(db, "edge_tickets").unwrap());
    assert_eq!(rows, [ticket(id, "called")], "the row as last uploaded");
    // Only the hall's own edge uploads; others read nothing.
    assert_eq!(r.send("POST", "/api/v1/edges/west/log", edge, Some(upload(1..=1, vec![]))).await.status, StatusCode::FORBIDDEN);
    assert_eq!(r.send("GET", path, Some("demo-kiosk-east"), None).await.status, StatusCode::FORBIDDEN);
    // The core's own state knows nothing of the edge's tickets.
    assert!(r.app.state.engine.shared.core.read().await.state.ticket(id).is_none());

    // What is held survives a restart.
    let Rig { _dir, app, clock } = r;
    let cfg = (*app.state.cfg).clone();
    app.shutdown().await;
    let r = Rig { app: Rig::build(cfg, clock.clone()), clock, _dir };
    assert_eq!(r.ok("GET", path, edge, None).await, json!({"held": 5}));
    assert_eq!(r.ok("POST", path, edge, Some(upload(4..=6, vec![]))).await, json!({"held": 6}));
}

/// One round of the edge's feed follower: what the core sends after what the edge applied.
async fn pull(edge: &Rig, core: &Rig) {
    let held = edge.app.state.engine.shared.core.read().await.feed.get(&usize::MAX).copied().unwrap_or(0);
    let feed: wire::EdgeFeed =
        serde_json::from_value(core.ok("GET", &format!("/api/v1/edges/east/feed?since={held}"), Some("edge-east-token"), None).await).unwrap();
    edge.app.state.engine.submit(crate::engine::Request::Feed(Box::new(feed))).await.unwrap();
}

/// Both servers' clocks on by `ms`.
fn advance(rigs: [&Rig; 2], ms: i64) {
    for r in rigs {
        r.clock.advance(ms);
    }
}

/// A valid resident ID number (GB 11643 check character).
fn resident_id(n: u32) -> String {
    let base = format!("1101051990010{n:04}");
    let sum: u32 = base.bytes().zip([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]).map(|(b, w)| u32::from(b - b'0') * w).sum();
    format!("{base}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

/// Books east's `service` on `date` at local `start` through the core's booking client.
async fn book(core: &Rig, date: &str, start: &str, n: u32) -> Answer {
    let body = json!({"hall": "east", "service": "filing", "date": date, "start": start, "name": "张三",
        "phone": format!("1381234{n:04}"), "id_number": resident_id(n), "request_id": format!("b-{n}")});
    core.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(body)).await
}

/// Bookings are made at the core and go down to the hall's edge, which checks them in; how
/// each ended comes back up, and the core counts no-shows from the hall's word. A booking
/// cancelled at the core but checked in at the hall meanwhile keeps its ticket ("the hall's
/// facts win"): an audited conflict, shown to the duty leader. While the hall is cut off a
/// booking for today there is refused (nothing written); later days' wait in the feed.
#[tokio::test]
async fn bookings_go_down_to_the_edge_and_how_they_ended_comes_back_up() {
    let (e, c) = (edge(), core());
    forward(&e, &c).await;
    let today = "2026-11-26";
    let tomorrow = "2026-11-27";
    let mut codes = vec![];
    for (start, n) in [("10:30", 1), ("11:00", 2), ("09:30", 3)] {
        let a = book(&c, today, start, n).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
        codes.push(a.json()["code"].as_str().unwrap().to_string());
    }
    let a = book(&c, tomorrow, "09:30", 4).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    pull(&e, &c).await;
    pull(&e, &c).await;
    assert_eq!(e.app.state.engine.shared.core.read().await.state.bookings().by_id.len(), 4, "each once");

    // Cancelled at the core; the edge has not heard yet when the taxpayer checks in there.
    c.ok("POST", &format!("/api/v1/appointments/{}/cancel", codes[1]), None, Some(json!({"phone": "13812340002"}))).await;
    for (code, minutes) in [(&codes[0], 80), (&codes[1], 30)] {
        advance([&e, &c], minutes * 60_000); // 10:20, 10:50
        let a = e.send("POST", "/api/v1/halls/east/check-in", Some("demo-kiosk-east"), Some(json!({"code": code}))).await;
        assert!(a.status.is_success(), "{}", a.text());
    }
    // 09:30's booking lapsed at the hall (its window closed at 09:40).
    e.issue("east", "filing").await;
    forward(&e, &c).await;
    let core = c.app.state.engine.shared.core.read().await;
    let by_code = |code: &str| core.state.bookings().by_code(code).unwrap().clone();
    assert_eq!(by_code(&codes[0]).state, crate::domain::BookingState::CheckedIn);
    let conflict = by_code(&codes[1]);
    assert_eq!(conflict.state, crate::domain::BookingState::CheckedIn, "the hall's facts win");
    assert!(conflict.conflict_at.is_some() && conflict.ticket.is_some());
    assert_eq!(by_code(&codes[2]).state, crate::domain::BookingState::NoShow);
    let person = crate::domain::Person { person: resident_id(3), name: String::new(), phone: "13812340003".into() }.key();
    assert_eq!(core.state.bookings().records[&person].no_shows, 1, "counted at the core, from the hall's word");
    drop(core);
    c.app.state.engine.submit(crate::engine::Request::CheckAlerts(c.app.state.cfg.alerts.clone())).await.unwrap();
    let alerts = c.ok("GET", "/api/v1/alerts?state=active", Some("demo-supervisor"), None).await;
    assert!(alerts["alerts"].as_array().unwrap().iter().any(|a| a["kind"] == "edge_conflict" && a["hall"] == "east"), "{alerts}");
    let audit = c.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await;
    assert!(audit.to_string().contains("edge_conflict"), "{audit}");
    // The late cancellation changes nothing at the hall: the taxpayer holds a ticket.
    pull(&e, &c).await;
    let b = e.app.state.engine.shared.core.read().await.state.bookings().by_code(&codes[1]).unwrap().clone();
    assert_eq!(b.state, crate::domain::BookingState::CheckedIn);

    // Cut off: today's booking at east is refused, nothing written; tomorrow's waits.
    advance([&e, &c], crate::engine::SILENT + 1_000);
    c.issue("west", "filing").await;
    let before = c.db(|db| db.query_one("SELECT COUNT(*) FROM appointments", &[]).unwrap().get::<i64>(0).unwrap());
    let a = book(&c, today, "14:00", 5).await;
    assert_eq!((a.status, a.code()), (StatusCode::SERVICE_UNAVAILABLE, Some(ErrorCode::UpstreamUnavailable)), "{}", a.text());
    assert_eq!(c.db(|db| db.query_one("SELECT COUNT(*) FROM appointments", &[]).unwrap().get::<i64>(0).unwrap()), before);
    let a = book(&c, tomorrow, "10:00", 6).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    c.ok("PUT", "/api/v1/halls/east/publicity", Some("demo-supervisor"), Some(json!({"messages": ["依法纳税"]}))).await;
    // Healed: delivered in order.
    forward(&e, &c).await;
    pull(&e, &c).await;
    let st = &e.app.state.engine.shared.core.read().await.state;
    assert_eq!(st.bookings().by_id.values().filter(|b| b.date.to_string() == tomorrow).count(), 2);
    assert_eq!(st.publicity(0), ["依法纳税"]);
}

/// The edge's kiosks see the other halls as the core does: their waits, and unavailable
/// while the link is down; the hall's duty leader is told that this hall is cut off (once,
/// not that every other hall is).
#[tokio::test]
async fn the_edge_shows_other_halls_from_the_core_and_unavailable_when_cut_off() {
    let (e, c) = (edge(), core());
    c.issue("west", "filing").await;
    c.issue("west", "filing").await;
    pull(&e, &c).await;
    let halls: wire::HallsResponse = serde_json::from_value(e.ok("GET", "/api/v1/halls", Some("demo-kiosk-east"), None).await).unwrap();
    assert_eq!(halls.halls[1].services[0].waiting, 2);
    assert_eq!(halls.halls[1].link, Some(wire::HallLink { online: true, since: None }));
    assert_eq!(halls.halls[0].link, None, "its own");
    let mirrored = e.app.state.engine.shared.core.read().await.ring.iter().filter(|b| matches!(b.msg.kind, wire::EventKind::HallMirrored)).count();
    assert_eq!(mirrored, 2, "west and central told to the kiosks");
    advance([&e, &c], crate::engine::SILENT + 1_000);
    e.issue("east", "filing").await;
    let halls: wire::HallsResponse = serde_json::from_value(e.ok("GET", "/api/v1/halls", Some("demo-kiosk-east"), None).await).unwrap();
    assert_eq!(halls.halls[1].link.as_ref().map(|l| l.online), Some(false));
    e.app.state.engine.submit(crate::engine::Request::CheckAlerts(e.app.state.cfg.alerts.clone())).await.unwrap();
    let alerts = e.ok("GET", "/api/v1/alerts?state=active", Some("demo-supervisor"), None).await;
    let cut: Vec<&Value> = alerts["alerts"].as_array().unwrap().iter().filter(|a| a["kind"] == "hall_cut").collect();
    assert_eq!(cut.len(), 1, "{alerts}");
    assert_eq!(cut[0]["hall"], "east", "this hall, cut off from the core");
}

/// A transfer between a hall its edge runs and one the core runs: taken there before it is let
/// go here, so a refusal while the link is down (`upstream_unavailable`) leaves the ticket at
/// its counter, and nothing is half done.
#[tokio::test]
async fn transfers_between_an_edge_hall_and_the_core_are_whole_or_refused() {
    let (e, c) = (edge(), core());
    forward(&e, &c).await;
    // West (the core's) to east (the edge's): the core lets it go and queues it for east.
    let w = c.issue("west", "filing").await;
    let clerk = c.sign_in("clerk09", "W01").await;
    c.ok("POST", "/api/v1/counters/W01/call-next", Some(&clerk), None).await;
    let a = c.ok("POST", "/api/v1/counters/W01/transfer", Some(&clerk), Some(json!({"hall": "east", "service": "invoice"}))).await;
    assert_eq!(a["counter"]["current"], Value::Null);
    assert_eq!(c.app.state.engine.shared.core.read().await.state.ticket(w.id).unwrap().state, wire::TicketState::Moved);
    pull(&e, &c).await;
    pull(&e, &c).await;
    let t: wire::Ticket = serde_json::from_value(e.ok("GET", &format!("/api/v1/tickets/{}", w.id), None, None).await).unwrap();
    assert_eq!((t.number.as_str(), t.hall.as_str(), t.service.as_str(), t.state), (w.number.as_str(), "east", "invoice", wire::TicketState::Waiting));
    let eclerk = e.sign_in("clerk01", "E01").await;
    let called = e.ok("POST", "/api/v1/counters/E01/call-next", Some(&eclerk), None).await;
    assert_eq!(called["ticket"]["id"], w.id, "called at east under its number");

    // East to west: the core takes it (the edge's own call, as its edge makes it).
    let up = {
        let core = e.app.state.engine.shared.core.read().await;
        let mut t = view::edge_ticket(&core.state, core.state.ticket(w.id).unwrap());
        t.hall = "west".into();
        wire::EdgeTransfer { ticket: t, from_counter: "E01".into() }
    };
    for _ in 0..2 {
        c.ok("POST", "/api/v1/edges/east/transfers", Some("edge-east-token"), Some(serde_json::to_value(&up).unwrap())).await;
    }
    let west: Vec<u64> = c.app.state.engine.shared.core.read().await.state.waiting_for_counter(c.app.state.cfg.topology.counter_ix("W01").unwrap(), c.clock.now());
    assert_eq!(west.iter().filter(|&&id| id == w.id).count(), 1, "taken once: {west:?}");
    let a = c.send("POST", "/api/v1/edges/west/transfers", Some("edge-east-token"), Some(serde_json::to_value(&up).unwrap())).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "only the hall's own edge");

    // Cut off: refused both ways, the ticket stays where it was.
    advance([&e, &c], crate::engine::SILENT + 1_000);
    let w2 = c.issue("west", "filing").await;
    let w1 = c.ok("POST", "/api/v1/counters/W01/call-next", Some(&clerk), None).await;
    let a = c.send("POST", "/api/v1/counters/W01/transfer", Some(&clerk), Some(json!({"hall": "east"}))).await;
    assert_eq!((a.status, a.code()), (StatusCode::SERVICE_UNAVAILABLE, Some(ErrorCode::UpstreamUnavailable)), "{}", a.text());
    let st = &c.app.state.engine.shared.core.read().await.state;
    let at_w01 = st.counter(c.app.state.cfg.topology.counter_ix("W01").unwrap()).current;
    assert_eq!(at_w01, w1["ticket"]["id"].as_u64(), "still at the counter");
    assert!(st.ticket(w2.id).is_some());
    // At the edge: the core cannot be reached (this edge's core is not listening).
    e.issue("east", "filing").await;
    let next = e.ok("POST", "/api/v1/counters/E01/finish", Some(&eclerk), None).await;
    assert_eq!(next["counter"]["current"], Value::Null);
    let n = e.ok("POST", "/api/v1/counters/E01/call-next", Some(&eclerk), None).await;
    let a = e.send("POST", "/api/v1/counters/E01/transfer", Some(&eclerk), Some(json!({"hall": "west"}))).await;
    assert_eq!((a.status, a.code()), (StatusCode::SERVICE_UNAVAILABLE, Some(ErrorCode::UpstreamUnavailable)), "{}", a.text());
    let st = &e.app.state.engine.shared.core.read().await.state;
    assert_eq!(st.counter(0).current, n["ticket"]["id"].as_u64(), "still at E01");
}

/// The east hall's box dies for good: by an explicit command the core takes the hall over,
/// numbering 100 above the last number it holds of the edge's and taking the tickets that
/// wait; from then on the core runs the hall, across a restart, and refuses the old edge.
#[tokio::test]
async fn the_core_takes_over_a_dead_edges_hall_only_by_command_and_numbers_above_it() {
    let (e, c) = (edge(), core());
    for service in ["filing", "filing", "filing", "invoice"] {
        e.issue("east", service).await;
    }
    forward(&e, &c).await;
    let unforwarded = e.issue("east", "filing").await;
    assert_eq!(unforwarded.number, "A004");
    // Not by itself: silent for long, the hall stays the edge's.
    advance([&e, &c], 3_600_000);
    let a = c.send("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::HallElsewhere));
    let a = c.send("POST", "/api/v1/halls/east/takeover", Some("demo-kiosk-east"), Some(json!({"skip": 100}))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "supervisors only");
    let v = c.ok("POST", "/api/v1/halls/east/takeover", Some("demo-supervisor"), Some(json!({"skip": 100}))).await;
    assert_eq!(v["next"]["filing"], "A104");
    assert_eq!(v["next"]["invoice"], "B102");
    // Across a restart, before any ticket: the numbering holds.
    let Rig { _dir, app, clock } = c;
    let cfg = (*app.state.cfg).clone();
    app.shutdown().await;
    let c = Rig { app: Rig::build(cfg, clock.clone()), clock, _dir };
    assert_eq!(c.issue("east", "filing").await.number, "A104");
    assert_eq!(c.issue("east", "consulting").await.number, "D101");
    let ov = c.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    let east = &ov["halls"][0];
    assert_eq!(east["hall"].get("link"), None, "the core's own now");
    assert_eq!(east["waiting"], 6, "the four forwarded still waiting, and two new");
    let clerk = c.sign_in("clerk01", "E01").await;
    let first = c.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    assert_eq!(first["ticket"]["number"], "A001");
    // The old edge is refused.
    let a = c.send("POST", "/api/v1/edges/east/log", Some("edge-east-token"), Some(upload(1..=1, vec![]))).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, Some(ErrorCode::HallElsewhere)));
    let audit = c.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await;
    assert!(audit.to_string().contains("hall_takeover"), "{audit}");
}
