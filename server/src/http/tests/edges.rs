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
    up.hall = Some(Box::new(crate::http::hall_overview(&edge.app.state.cfg, &c, 0, edge.clock.now(), texts)));
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
    // Kiosks everywhere see east's waits from the mirror.
    let halls: wire::HallsResponse = serde_json::from_value(c.ok("GET", "/api/v1/halls", Some("demo-kiosk-west"), None).await).unwrap();
    assert_eq!(halls.halls[0].services[0].waiting, 1);
    // The core runs nothing of east.
    let a = c.send("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing"}))).await;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, Some(ErrorCode::HallElsewhere)));
    let a = c.send("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk01", "pin": "1234", "counter": "E01"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::HallElsewhere));

    // Silent past SILENT: cut off since it was last heard from, at the next batch.
    let last = c.clock.now();
    e.issue("east", "filing").await;
    c.clock.advance(crate::edge::SILENT + 1_000);
    c.issue("west", "filing").await;
    let ov = c.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    let east = &ov["halls"][0];
    assert_eq!(east["hall"]["link"], json!({"online": false, "since": view::time(last)}));
    assert_eq!(east["waiting"], 1, "frozen: as last told");
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
    assert_eq!((ov["halls"][0]["hall"]["link"]["online"].as_bool(), ov["halls"][0]["waiting"].as_u64()), (Some(false), Some(1)));

    // Heard from again: online, the figures current, the alert cleared.
    forward(&e, &c).await;
    let ov = c.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    assert_eq!((ov["halls"][0]["hall"]["link"].clone(), ov["halls"][0]["waiting"].as_u64()), (json!({"online": true}), Some(2)));
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
