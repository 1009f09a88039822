//! `qcall-client`'s long-lived parts against the real server: the device-status reporter that
//! never gives up and reports again after a reconnect, and the follower's link state.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qcall_client::{BackoffSettings, Client, ClientOptions, FollowEvent, FollowSettings, LinkState, Reporter};
use qcall_wire::{DeviceStatusReport, EventKind, EventScope};

use crate::util::Server;

const PATIENCE: Duration = Duration::from_secs(30);

fn fast() -> FollowSettings {
    FollowSettings {
        backoff: BackoffSettings { initial: Duration::from_millis(50), max: Duration::from_millis(400), jitter: 0.5 },
        keepalive: Duration::from_secs(15),
    }
}

async fn device_code(client: &Client) -> Option<String> {
    let halls = client.with_token("demo-supervisor").halls().await.ok()?;
    let east = halls.halls.into_iter().find(|h| h.id == "east")?;
    east.devices.into_iter().find(|d| d.device == "kiosk-east-1").map(|d| d.code)
}

async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporter_delivers_after_an_outage_and_again_after_every_reconnect() {
    let mut srv = Server::start();
    let client = srv.client();
    let kiosk = client.with_token("demo-kiosk-east");
    srv.stop();

    // Reported while the server is down: it gets there once the server is back.
    let reporter = Reporter::spawn(kiosk.clone(), "kiosk-east-1".into(), fast().backoff);
    let (follower, mut link) = kiosk.follow(EventScope::All, None, fast());
    reporter.report(DeviceStatusReport { ok: false, code: "paper_end".into(), message: "打印机缺纸".into() });
    let (ups, downs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let forward = {
        let (r, ups, downs) = (reporter.handle(), ups.clone(), downs.clone());
        tokio::spawn(async move {
            while let Some(e) = link.recv().await {
                match e {
                    FollowEvent::Link(LinkState::Up) => {
                        ups.fetch_add(1, Ordering::SeqCst);
                        r.reconnected();
                    }
                    FollowEvent::Link(LinkState::Down { .. }) => {
                        downs.fetch_add(1, Ordering::SeqCst);
                    }
                    FollowEvent::Message(_) => {}
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    srv.start_again();
    until("the report arrives after the outage", async || device_code(&client).await.as_deref() == Some("paper_end")).await;
    until("the link is up", async || ups.load(Ordering::SeqCst) == 1).await;

    // The server comes back with an empty database (restored from an old backup, say): the
    // status is reported again after the reconnect, unasked.
    let down_before = downs.load(Ordering::SeqCst);
    srv.stop();
    until("the link drops", async || downs.load(Ordering::SeqCst) > down_before).await;
    for f in ["qcall.db", "qcall.db-wal", "qcall.db-shm"] {
        let _ = std::fs::remove_file(srv.dir.path().join(f));
    }
    srv.start_again();
    until("the report arrives again after the reconnect", async || device_code(&client).await.as_deref() == Some("paper_end")).await;
    assert_eq!(ups.load(Ordering::SeqCst), 2, "one reconnect, one report again");
    drop((reporter, follower));
    forward.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_resumes_with_since_after_a_restart() {
    let mut srv = Server::start_forward();
    let client = srv.client();
    let kiosk = client.with_token("demo-kiosk-east");
    let (_follower, mut events) = client.follow(EventScope::Hall("east".into()), None, fast());
    let req = qcall_wire::IssueRequest { service: "filing".into(), priority: None, request_id: None };
    let mut next = async || tokio::time::timeout(PATIENCE, events.recv()).await.expect("an event").expect("follower alive");
    assert_eq!(next().await, FollowEvent::Link(LinkState::Up));
    let FollowEvent::Message(snap) = next().await else { panic!("snapshot first") };
    assert!(snap.is_snapshot());
    kiosk.issue("east", &req).await.unwrap();
    let FollowEvent::Message(m) = next().await else { panic!() };
    assert!(matches!(&m.kind, EventKind::TicketIssued { ticket } if ticket.number == "A001"));

    srv.stop();
    assert!(matches!(next().await, FollowEvent::Link(LinkState::Down { .. })));
    srv.start_again();
    kiosk.issue("east", &req).await.unwrap();
    // Up again, then exactly the missed event (a replay after `since`, not a snapshot).
    let mut got = vec![];
    while got.is_empty() {
        match next().await {
            FollowEvent::Message(m) => got.push(*m),
            FollowEvent::Link(_) => {}
        }
    }
    assert!(matches!(&got[0].kind, EventKind::TicketIssued { ticket } if ticket.number == "A002"), "{:?}", got[0].kind);
    assert_eq!(got[0].seq, m.seq + 1);
}

#[tokio::test]
async fn clients_refuse_addresses_that_are_not_http_or_https() {
    for bad in ["ws://127.0.0.1:1", "127.0.0.1:8080", "ftp://x"] {
        assert!(Client::new(bad, &ClientOptions::default()).is_err(), "{bad}");
    }
    assert!(Client::new("https://qcall.example", &ClientOptions::default()).is_ok());
}
