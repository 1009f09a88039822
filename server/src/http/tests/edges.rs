//! The core's side of a hall edge: each event of the edge's log stored once and in order
//! (what is held already skipped, a gap refused), the edge's ticket rows as last uploaded,
//! and only the hall's own edge uploading.

use super::*;

/// The core, with an edge device for the east hall (token `edge-east-token`).
fn core() -> Rig {
    Rig::with(|cfg, _| {
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
    serde_json::to_value(wire::EdgeUpload { events: events.map(event).collect(), tickets }).unwrap()
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
