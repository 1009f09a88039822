//! Hall edges, through the real binaries: an east hall server issues and calls while the core
//! is away, forwards its log when it is back, is SIGKILLed in the middle of that and started
//! again; the core holds every event exactly once and the edge's ticket rows as the edge has
//! them. And how long forwarding takes when the link is healthy.

use std::time::{Duration, Instant};

use qcall_wire as wire;

use crate::util::{forward_estimates, Server};

const EDGE_TOKEN: &str = "edge-east-token";

/// The core: the always-open demo (the forward estimate: no events of its own), with the east
/// hall's edge as a device.
fn core() -> Server {
    let hash = qcall_server::secret::hash_token(EDGE_TOKEN);
    Server::start_edited(move |t| format!("{}\n[[devices]]\nid = \"edge-east\"\nkind = \"edge\"\nhall = \"east\"\ntoken_hash = \"{hash}\"\n", forward_estimates(t)))
}

/// The east hall's own server, forwarding to `core`.
fn edge(core: &Server, token_dir: &std::path::Path) -> Server {
    let token = token_dir.join("edge.token");
    std::fs::write(&token, format!("{EDGE_TOKEN}\n")).unwrap();
    let url = core.url.clone();
    Server::start_edited(move |t| format!("{}\n[edge]\nhall = \"east\"\nupstream = \"{url}\"\ntoken_file = {:?}\n", forward_estimates(t), token.display().to_string()))
}

/// The core's `held` of the east hall's log.
async fn held(core: &Server) -> u64 {
    let (s, v) = core.api().call("GET", "/api/v1/edges/east/log", Some("demo-supervisor"), None).await;
    assert_eq!(s, 200, "{v}");
    v["held"].as_u64().unwrap()
}

/// The edge's last committed `seq`, and its link as `/healthz` tells it.
async fn edge_health(edge: &Server) -> (u64, wire::UpstreamHealth) {
    let (_, v) = edge.api().get("/healthz").await;
    let h: wire::HealthResponse = serde_json::from_value(v).unwrap();
    (h.seq, h.upstream.expect("an edge tells its link"))
}

/// Every event of the edge's log is in the core's once, and the ticket rows are the same.
fn assert_converged(core: &Server, edge: &Server) {
    let open = |p: &std::path::Path| rusqlite::Connection::open_with_flags(p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let (c, e) = (open(&core.db), open(&edge.db));
    let seqs = |conn: &rusqlite::Connection, sql: &str| -> Vec<(u64, String)> {
        let mut st = conn.prepare(sql).unwrap();
        st.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let at_edge = seqs(&e, "SELECT seq, body FROM events ORDER BY seq");
    let at_core = seqs(&c, "SELECT seq, body FROM edge_log WHERE hall = 'east' ORDER BY seq");
    let missing: Vec<&str> = at_edge.iter().skip(at_core.len()).map(|(_, b)| &b[..b.len().min(120)]).collect();
    assert_eq!(at_core.len(), at_edge.len(), "every event once; not at the core: {missing:?}");
    assert!(at_core == at_edge, "the same events in the same order");
    let rows = |p: &std::path::Path, table: &str| {
        let settings = p.to_path_buf();
        let mut db = qcall_server::store::open_connection(&settings).unwrap();
        qcall_server::queries::all_ticket_rows(&mut db, table).unwrap()
    };
    let (edge_rows, core_rows) = (rows(&edge.db, "tickets"), rows(&core.db, "edge_tickets"));
    assert!(!edge_rows.is_empty());
    assert_eq!(core_rows, edge_rows, "the core's copy of the edge's ticket rows");
}

async fn wait_until(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f().await {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_works_without_its_core_and_forwards_every_event_exactly_once_through_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core();
    let mut edge = edge(&core, dir.path());
    let kiosk = edge.api();
    let first = kiosk.issue("east", "filing").await;
    assert!(first.id > 1 << 40 && first.id < 1 << 53, "the hall in the high bits, exact in JavaScript: {}", first.id);
    wait_until("the first ticket forwarded", Duration::from_secs(10), async || held(&core).await >= edge_health(&edge).await.0).await;

    // The core goes away: the hall goes on issuing and calling; the edge counts what waits.
    core.stop();
    let clerk = kiosk.sign_in("clerk01", "E01").await;
    for i in 0..600 {
        kiosk.issue("east", ["filing", "invoice", "consulting"][i % 3]).await;
        if i % 3 == 0 {
            let (s, v) = kiosk.call("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
            assert_eq!(s, 200, "{v}");
            let (s, v) = kiosk.call("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
            assert_eq!(s, 200, "{v}");
        }
    }
    let (last, link) = edge_health(&edge).await;
    assert!(link.pending >= 1000 && link.oldest_pending_at.is_some() && link.last_error.is_some(), "{link:?}");

    // The core is back; in the middle of forwarding the backlog the edge is SIGKILLed, then
    // started again.
    core.start_again();
    let before = held(&core).await;
    wait_until("forwarding began", Duration::from_secs(20), async || held(&core).await > before).await;
    let mid = held(&core).await;
    edge.kill();
    edge.start_again();
    // Everything, the restart's own events too.
    let took = wait_until("the backlog forwarded", Duration::from_secs(60), async || {
        let (seq, link) = edge_health(&edge).await;
        seq >= last && held(&core).await >= seq && link.pending == 0
    })
    .await;
    println!("MEASURE edge backlog: {last} events; SIGKILLed with {mid} held; all held {:.1} s after the restart", took.as_secs_f64());
    assert!(mid < last, "killed in the middle of forwarding ({mid} of {last})");
    let (_, link) = edge_health(&edge).await;
    assert_eq!((link.pending, link.last_error.as_deref()), (0, None), "{link:?}");
    edge.stop();
    core.stop();
    assert_converged(&core, &edge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_an_edges_events_takes_milliseconds_when_the_link_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let core = core();
    let edge = edge(&core, dir.path());
    let kiosk = edge.api();
    let mut lags = vec![];
    for _ in 0..60 {
        kiosk.issue("east", "filing").await;
        let t0 = Instant::now();
        let seq = edge_health(&edge).await.0;
        wait_until("forwarded", Duration::from_secs(10), async || held(&core).await >= seq).await;
        lags.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    // The duty leader sees the hall's server on the core's overview, online.
    let (_, v) = core.api().call("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    let east = v["halls"].as_array().unwrap().iter().find(|h| h["hall"]["id"] == "east").unwrap();
    let dev = east["devices"].as_array().unwrap().iter().find(|d| d["device"] == "edge-east").expect("the edge on the overview");
    assert_eq!((dev["kind"].as_str(), dev["online"].as_bool()), (Some("edge"), Some(true)), "{dev}");
    lags.sort_by(f64::total_cmp);
    let p = |q: f64| lags[((lags.len() - 1) as f64 * q).round() as usize];
    println!("MEASURE edge forwarding lag (issue answered -> held at the core, polled every 5 ms): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", p(0.5), p(0.99), p(1.0));
}
