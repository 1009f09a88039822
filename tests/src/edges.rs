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
pub(crate) fn core() -> Server {
    let hash = qcall_server::secret::hash_token(EDGE_TOKEN);
    Server::start_edited(move |t| format!("{}\n[[devices]]\nid = \"edge-east\"\nkind = \"edge\"\nhall = \"east\"\ntoken_hash = \"{hash}\"\n", forward_estimates(t)))
}

/// The east hall's own server, forwarding to `core`.
fn edge(core: &Server, token_dir: &std::path::Path) -> Server {
    edge_to(&core.url, token_dir)
}

/// The east hall's own server, forwarding to the core at `url`.
pub(crate) fn edge_to(url: &str, token_dir: &std::path::Path) -> Server {
    let token = token_dir.join("edge.token");
    std::fs::write(&token, format!("{EDGE_TOKEN}\n")).unwrap();
    let url = url.to_string();
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

/// The east hall on the core's overview.
async fn east_overview(core: &Server) -> serde_json::Value {
    let (s, v) = core.api().call("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    assert_eq!(s, 200, "{v}");
    v["halls"].as_array().unwrap().iter().find(|h| h["hall"]["id"] == "east").expect("east on the overview").clone()
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
    // The duty leader sees the hall on the core's overview as its server tells it, online.
    let east = east_overview(&core).await;
    assert_eq!(east["hall"]["link"]["online"].as_bool(), Some(true), "{east}");
    assert!(east["waiting"].as_u64().unwrap() >= 60, "{east}");
    lags.sort_by(f64::total_cmp);
    let p = |q: f64| lags[((lags.len() - 1) as f64 * q).round() as usize];
    println!("MEASURE edge forwarding lag (issue answered -> held at the core, polled every 5 ms): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", p(0.5), p(0.99), p(1.0));
}

/// What a load generator saw.
#[derive(Default)]
struct Load {
    /// Tickets acknowledged (id, number).
    issued: Vec<(u64, String)>,
    /// Requests that failed (status and answer).
    failed: Vec<String>,
}

/// About 2 tickets a second at `hall` of `server`, and a call and finish at `counter` every
/// other ticket, until `stop`.
fn load(server: &Server, hall: &'static str, counter: &'static str, clerk: &'static str, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<Load> {
    let api = server.api();
    tokio::spawn(async move {
        let mut out = Load::default();
        let token = api.sign_in(clerk, counter).await;
        let mut i = 0usize;
        while !*stop.borrow() {
            let service = ["filing", "invoice", "consulting"][i % 3];
            let kiosk = format!("demo-kiosk-{hall}");
            let (s, v) = api.call("POST", &format!("/api/v1/halls/{hall}/tickets"), Some(&kiosk), Some(serde_json::json!({"service": service, "request_id": format!("{hall}-{i}")}))).await;
            match s {
                200 | 201 => out.issued.push((v["id"].as_u64().unwrap(), v["number"].as_str().unwrap().to_string())),
                _ => out.failed.push(format!("issue {s} {v}")),
            }
            if i % 2 == 1 {
                for action in ["call-next", "finish"] {
                    let (s, v) = api.call("POST", &format!("/api/v1/counters/{counter}/{action}"), Some(&token), None).await;
                    if s != 200 && v["error"]["code"] != "queue_empty" {
                        out.failed.push(format!("{action} {s} {v}"));
                    }
                }
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        out
    })
}

/// The east hall's link to the core dies for 60 s (10 minutes with `QCALL_SOAK=1`) while east
/// issues about 2 tickets a second and calls, and west and central work at the core. East
/// goes on without a failed request; the core shows it 断网 within 30 s and online again
/// within 10 s of the heal; within 30 s of the heal the core holds every event once and the
/// edge's ticket rows; nothing acknowledged is lost, no number is issued twice. Meanwhile a
/// booking for today at east is refused at the core, and the other halls' kiosks show east's
/// waits as unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_cut_off_for_a_minute_under_load_works_on_and_converges_after_the_heal() {
    let cut_for = Duration::from_secs(if std::env::var_os("QCALL_SOAK").is_some() { 600 } else { 60 });
    let dir = tempfile::tempdir().unwrap();
    let mut core = core();
    let link = crate::proxy::Blackhole::start(&core.url).await;
    let mut edge = edge_to(&link.url, dir.path());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let east = load(&edge, "east", "E01", "clerk01", stop.clone());
    let west = load(&core, "west", "W01", "clerk09", stop.clone());
    let central = load(&core, "central", "C01", "clerk15", stop.clone());
    wait_until("east online at the core", Duration::from_secs(20), async || east_overview(&core).await["hall"]["link"]["online"] == true).await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The cut.
    link.cut();
    let t_cut = Instant::now();
    let shown_cut = wait_until("east shown cut off", Duration::from_secs(30), async || east_overview(&core).await["hall"]["link"]["online"] == false).await;
    let ov = east_overview(&core).await;
    assert!(ov["hall"]["link"]["since"].is_string(), "since when: {ov}");
    // The other halls' kiosks: east's waits unavailable.
    let halls = core.api().halls().await;
    assert_eq!(crate::util::hall(&halls, "east").link.as_ref().map(|l| l.online), Some(false));
    // A booking for today at east: refused, nothing written.
    let today = core.today();
    let body = serde_json::json!({"hall": "east", "service": "filing", "date": today, "start": "16:30", "name": "张三",
        "phone": "13812340001", "id_number": "11010519491231002X", "request_id": "cut-1"});
    let (s, v) = core.api().call("POST", "/api/v1/appointments", Some("demo-booking"), Some(body)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (503, Some("upstream_unavailable")), "{v}");
    // A transfer from east to west: refused, the ticket stays at its counter.
    let api = edge.api();
    let clerk = api.sign_in("clerk02", "E02").await;
    let (s, v) = api.call("POST", "/api/v1/counters/E02/call-next", Some(&clerk), None).await;
    assert_eq!(s, 200, "{v}");
    let moving = v["ticket"]["id"].as_u64().unwrap();
    let (s, v) = api.call("POST", "/api/v1/counters/E02/transfer", Some(&clerk), Some(serde_json::json!({"hall": "west"}))).await;
    assert_eq!((s, v["error"]["code"].as_str()), (503, Some("upstream_unavailable")), "{v}");
    let (_, v) = api.call("GET", "/api/v1/counters/E02/queue", Some(&clerk), None).await;
    assert_eq!(v["current"]["id"].as_u64(), Some(moving), "still at E02: {v}");
    // The duty leader's alert.
    let alerted = wait_until("the hall_cut alert", Duration::from_secs(30), async || {
        let (_, alerts) = core.api().call("GET", "/api/v1/alerts?state=active", Some("demo-supervisor"), None).await;
        alerts["alerts"].as_array().unwrap().iter().any(|a| a["kind"] == "hall_cut" && a["hall"] == "east")
    })
    .await;
    tokio::time::sleep(cut_for.saturating_sub(t_cut.elapsed())).await;
    let (_, pending) = edge_health(&edge).await;
    assert!(pending.pending > 0 && pending.oldest_pending_at.is_some(), "{pending:?}");

    // The heal.
    let (at_heal, _) = edge_health(&edge).await;
    link.heal();
    let healed = Instant::now();
    let shown_online = wait_until("east online again", Duration::from_secs(10), async || east_overview(&core).await["hall"]["link"]["online"] == true).await;
    wait_until("the backlog held at the core", Duration::from_secs(30), async || held(&core).await >= at_heal).await;
    let caught_up = healed.elapsed();
    // The transfer, again: now it goes through, whole.
    wait_until("the transfer to west", Duration::from_secs(10), async || {
        let (s, _) = api.call("POST", "/api/v1/counters/E02/transfer", Some(&clerk), Some(serde_json::json!({"hall": "west"}))).await;
        s == 200
    })
    .await;
    let (s, t) = core.api().call("GET", &format!("/api/v1/tickets/{moving}"), None, None).await;
    assert_eq!((s, t["hall"].as_str(), t["state"].as_str()), (200, Some("west"), Some("waiting")), "{t}");
    stop_tx.send(true).unwrap();
    let (east, west, central) = (east.await.unwrap(), west.await.unwrap(), central.await.unwrap());
    wait_until("everything held", Duration::from_secs(30), async || {
        let (seq, link) = edge_health(&edge).await;
        held(&core).await >= seq && link.pending == 0
    })
    .await;
    edge.stop();
    core.stop();
    assert_converged(&core, &edge);

    // Nothing acknowledged lost, no number twice.
    let open = |p: &std::path::Path| rusqlite::Connection::open_with_flags(p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let (c, e) = (open(&core.db), open(&edge.db));
    let count = |conn: &rusqlite::Connection, sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let lost = east.issued.iter().filter(|(id, _)| count(&c, &format!("SELECT COUNT(*) FROM edge_tickets WHERE id = {id}")) != 1).count();
    let dup_sql = |table: &str| format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} GROUP BY day, issued_hall, issued_service, seq HAVING COUNT(*) > 1)");
    let dups = count(&e, &dup_sql("tickets")) + count(&c, &dup_sql("edge_tickets")) + count(&c, &dup_sql("tickets"));
    let failed = east.failed.len();
    println!(
        "MEASURE edge cut {} s under load: east issued {} ({} failed requests), west {} and central {} at the core; 断网 shown {:.1} s after the cut (alert {:.1} s later), online {:.1} s after the heal, backlog held {:.1} s after the heal; lost {lost}, duplicate numbers {dups}",
        cut_for.as_secs(),
        east.issued.len(),
        failed,
        west.issued.len(),
        central.issued.len(),
        shown_cut.as_secs_f64(),
        alerted.as_secs_f64(),
        shown_online.as_secs_f64(),
        caught_up.as_secs_f64(),
    );
    assert_eq!(east.failed, Vec::<String>::new(), "east works on through the cut");
    assert!(west.failed.is_empty() && central.failed.is_empty(), "{:?} {:?}", west.failed, central.failed);
    assert!(east.issued.len() as u64 >= cut_for.as_secs(), "about 2 a second: {}", east.issued.len());
    assert_eq!((lost, dups), (0, 0));
}

/// The east hall's box dies. A spare box, started with the hall's config and an empty
/// database, takes the core's copy of the hall's log before it serves: numbering goes on, the
/// waiting tickets are back, the log goes on without a gap. When no spare is at hand, the core
/// takes the hall over by command (`qcall hall takeover east --skip 100`), numbering 100 above
/// the last forwarded number; the old box is refused from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_hall_box_is_replaced_from_the_cores_copy_or_taken_over_by_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core();
    let mut edge = edge(&core, dir.path());
    let kiosk = edge.api();
    for service in ["filing", "filing", "invoice"] {
        kiosk.issue("east", service).await;
    }
    let clerk = kiosk.sign_in("clerk01", "E01").await;
    let (s, _) = kiosk.call("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    assert_eq!(s, 200);
    wait_until("forwarded", Duration::from_secs(10), async || held(&core).await >= edge_health(&edge).await.0).await;
    // A kiosk that names both servers, the core first: the core refuses east's tickets, so it
    // goes on to the hall's own.
    let both = qcall_client::Client::new(&format!("{},{}", core.url, edge.url), &qcall_client::ClientOptions::default()).unwrap().with_token("demo-kiosk-east");
    let req = |n: u32| wire::IssueRequest { service: "consulting".into(), priority: None, request_id: Some(format!("both-{n}")) };
    let c1 = both.issue("east", &req(1)).await.unwrap();
    assert_eq!(c1.number, "D001", "issued by the hall's server");
    wait_until("forwarded", Duration::from_secs(10), async || held(&core).await >= edge_health(&edge).await.0).await;

    // The box dies with its disk; the spare starts on an empty database.
    edge.kill();
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", edge.db.display()));
    }
    edge.start_again();
    let (seq, _) = edge_health(&edge).await;
    assert_eq!(seq, held(&core).await, "the log goes on from the core's copy");
    let halls = edge.api().halls().await;
    assert_eq!(crate::util::waiting(crate::util::hall(&halls, "east"), "filing"), 1, "A002 waits again");
    let next = edge.api().issue("east", "filing").await;
    assert_eq!(next.number, "A103", "numbering goes on, 100 above the last the core holds (A002)");
    let d = edge.api().issue("east", "consulting").await;
    assert_eq!(d.number, "D102", "100 above D001 (the dead box may have printed numbers it never forwarded)");
    wait_until("the spare's events forwarded", Duration::from_secs(10), async || held(&core).await >= edge_health(&edge).await.0).await;
    edge.stop();
    core.stop();
    assert_converged(&core, &edge);

    // No spare: the core takes the hall over, by command only.
    core.start_again();
    let token = dir.path().join("supervisor.token");
    std::fs::write(&token, "demo-supervisor\n").unwrap();
    let out = std::process::Command::new(crate::util::bin("qcall"))
        .args(["hall", "takeover", "east", "--skip", "100", "--server", &core.url, "--token-file"])
        .arg(&token)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("filing") && text.contains("A204"), "{text}");
    let t = core.api().issue("east", "filing").await;
    assert_eq!(t.number, "A204", "100 above the last forwarded (A103)");
    // The kiosk naming both finds the core by itself (the hall's server is down).
    let c2 = both.issue("east", &req(2)).await.unwrap();
    assert_eq!(c2.number, "D203", "at the core, 100 above D102");
    // The old box comes back: refused; its duty leader sees why.
    edge.start_again();
    wait_until("the old box told", Duration::from_secs(10), async || edge_health(&edge).await.1.last_error.is_some_and(|e| e.contains("took it over") || e.contains("runs this hall"))).await;
    edge.stop();
}

/// A hall edge's own file holds only what is its own ([server], [edge]): the halls, services,
/// counters, clerks and devices come from the core's config, kept beside its database for a
/// start during a cut. A change at the core reaches the edge, which says so and applies it at
/// its next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_edge_takes_its_configuration_from_the_core() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core();
    let token = dir.path().join("edge.token");
    std::fs::write(&token, format!("{EDGE_TOKEN}\n")).unwrap();
    let url = core.url.clone();
    let own = move |_: &str| format!("[server]\nlisten = \"127.0.0.1:8080\"\n\n[edge]\nhall = \"east\"\nupstream = \"{url}\"\ntoken_file = {:?}\n", token.display().to_string());
    let mut edge = Server::start_edited(own);
    let halls = edge.api().halls().await;
    assert_eq!(halls.halls.len(), 3, "the core's halls");
    let t = edge.api().issue("east", "filing").await;
    assert_eq!(t.number, "A001");
    assert!(edge.db.with_file_name("core-config.toml").exists(), "a copy kept for a start during a cut");

    // The core's config changes (a restart there applies it); the edge hears of it.
    let text = std::fs::read_to_string(core.dir.path().join("qcall.toml")).unwrap();
    assert!(text.contains("东区办税服务厅"));
    core.set_config_text(&text.replacen("东区办税服务厅", "东区办税服务厅（临时）", 1));
    core.restart();
    let pending = wait_until("the change told at the edge", Duration::from_secs(20), async || edge_health(&edge).await.1.config_pending.is_some()).await;
    println!("MEASURE edge config change reached the edge {:.1} s after the core's restart", pending.as_secs_f64());
    assert_eq!(crate::util::hall(&edge.api().halls().await, "east").name_zh, "东区办税服务厅", "applied at the next start");
    // The next start, with the core away: the kept copy.
    core.stop();
    edge.restart();
    assert_eq!(crate::util::hall(&edge.api().halls().await, "east").name_zh, "东区办税服务厅（临时）");
    assert_eq!(edge.api().issue("east", "filing").await.number, "A002");
    edge.stop();
}
