//! Alerts through the real server: the webhook outbox delivers a raised alert once, after its
//! receiver was down for a while.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{free_port, http_stand_in, Server};

/// An HTTP receiver on `port` that answers 200 to every POST and keeps the (lower-case) heads
/// and the bodies.
fn receiver(port: u16) -> Arc<Mutex<Vec<(String, String)>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    http_stand_in(TcpListener::bind(("127.0.0.1", port)).expect("receiver port"), move |head, body| {
        keep.lock().unwrap().push((head.to_string(), body.to_string()));
        (200, String::new())
    });
    got
}

#[test]
fn a_raised_alert_reaches_the_webhook_once_after_its_receiver_was_down() {
    let port = free_port();
    let secrets = tempfile::tempdir().unwrap();
    let secret = secrets.path().join("webhook.secret");
    std::fs::write(&secret, "hook-secret-42\n").unwrap();
    let server = Server::start_edited(|text| {
        text.replace("queue_length = 20", "queue_length = 2").replace(
            "# webhook_url = \"http://sms-gateway.bureau.example/qcall\"",
            &format!("webhook_url = \"http://127.0.0.1:{port}/hook\"\nwebhook_secret_file = {:?}", secret.display().to_string()),
        )
    });
    let api = server.api();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for _ in 0..3 {
        rt.block_on(api.issue("east", "filing"));
    }
    // The ticker raises the long-queue alert; the receiver is down: attempts fail and are retried.
    let db = rusqlite::Connection::open(&server.db).unwrap();
    let attempts = || -> (i64, Option<i64>) {
        db.query_row("SELECT COALESCE(MAX(attempts), 0), MAX(delivered_at) FROM webhook_outbox", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap_or((0, None))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while attempts().0 < 3 {
        assert!(Instant::now() < deadline, "no failed attempts recorded; log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let failed = attempts().0;
    assert_eq!(attempts().1, None);
    assert!(server.log().contains("webhook delivery failed"), "{}", server.log());

    // The receiver comes up: the alert arrives, once.
    let got = receiver(port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the webhook never delivered; log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The receiver keeps the body before it answers; the server records the delivery after.
    while attempts().1.is_none() {
        assert!(Instant::now() < deadline, "delivered_at is never recorded; log:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Later ticks find the alert still up and send nothing more.
    std::thread::sleep(Duration::from_secs(6));
    let posts = got.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "{posts:?}");
    // Signed: hex HMAC-SHA256 of "{timestamp}.{body}" with the secret from the file.
    let (head, body) = &posts[0];
    let header = |name: &str| head.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string())).unwrap_or_default();
    let ts = header("x-qcall-timestamp");
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(b"hook-secret-42").unwrap();
    hmac::Mac::update(&mut mac, format!("{ts}.{body}").as_bytes());
    let want: String = hmac::Mac::finalize(mac).into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(header("x-qcall-signature"), want, "the post is signed");
    let ts: i64 = ts.parse().expect("a timestamp");
    assert!((ts - server.now().timestamp()).abs() < 120, "the timestamp is the server's time: {ts}");
    let bodies: Vec<String> = posts.iter().map(|(_, b)| b.clone()).collect();
    let msg: qcall_wire::StreamMessage = serde_json::from_str(&bodies[0]).unwrap();
    let qcall_wire::EventKind::AlertRaised { alert } = msg.kind else { panic!("{}", bodies[0]) };
    assert_eq!((alert.kind, alert.hall.as_str()), (qcall_wire::AlertKind::LongQueue, "east"));
    println!("MEASURE webhook delivered after {failed} failed attempts; {} bytes", bodies[0].len());
}
