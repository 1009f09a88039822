//! `qcall backup`, `qcall restore` and `qcall check-db` through the binaries, against a
//! server under load.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qcall_wire::IssueRequest;

use crate::util::{bin, Server};

const HALLS: [&str; 3] = ["east", "west", "central"];
const SERVICES: [&str; 3] = ["filing", "invoice", "consulting"];

fn qcall(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin("qcall")).args(args).env("RUST_LOG", "warn").output().expect("run qcall");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ticket_ids(db: &std::path::Path) -> BTreeSet<u64> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let mut stmt = conn.prepare("SELECT id FROM tickets").expect("prepare");
    stmt.query_map([], |r| r.get::<_, i64>(0)).expect("query").map(|r| r.expect("row") as u64).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_with_every_ticket_acknowledged_before_it() {
    let mut server = Server::start();
    let db = server.db.clone();
    let dir = server.dir.path().to_path_buf();
    let acked: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..16usize {
        let kiosk = server.client().with_token(&format!("demo-kiosk-{}", HALLS[i % 3]));
        let (acked, stop) = (acked.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let req = IssueRequest { service: SERVICES[(i + n) % 3].into(), priority: None, request_id: None };
                n += 1;
                if let Ok(t) = kiosk.issue(HALLS[i % 3], &req).await {
                    acked.lock().unwrap().insert(t.id);
                }
            }
        }));
    }
    // Let the load run, then take the backup in the middle of it.
    while acked.lock().unwrap().len() < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: BTreeSet<u64> = acked.lock().unwrap().clone();
    let backup = dir.join("backup.db");
    let (db_arg, out_arg) = (db.display().to_string(), backup.display().to_string());
    let (code, out, err) = tokio::task::spawn_blocking(move || qcall(&["backup", "--db", &db_arg, "--out", &out_arg])).await.unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    let after: usize = acked.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(after > before.len(), "the load went on during the backup ({} then {after})", before.len());
    assert!(out.starts_with(&format!("backup {}", backup.display())), "{out}");

    // The backup passes the check and holds every ticket acknowledged before it began.
    let (code, out, err) = qcall(&["check-db", "--db", &backup.display().to_string()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(": ok,"), "{out}");
    let in_backup = ticket_ids(&backup);
    let missing: Vec<&u64> = before.difference(&in_backup).collect();
    assert!(missing.is_empty(), "{} acknowledged tickets missing from the backup: {missing:?}", missing.len());
    eprintln!("acknowledged before the backup: {}; in the backup: {}; acknowledged in all: {after}", before.len(), in_backup.len());

    // A backup never overwrites a file.
    let (code, _, err) = qcall(&["backup", "--db", &db.display().to_string(), "--out", &backup.display().to_string()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("already exists"), "{err}");

    // Restoring is refused while the server has the database open, and changes nothing.
    let size = std::fs::metadata(&db).unwrap().len();
    let (code, _, err) = qcall(&["restore", "--from", &backup.display().to_string(), "--db", &db.display().to_string()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("in use") && err.contains("stop the server first"), "{err}");
    assert_eq!(std::fs::metadata(&db).unwrap().len(), size);

    // Stopped, the database is replaced by the backup (the old one is kept) and the server
    // starts on it with the backup's tickets.
    server.stop();
    let (code, out, err) = qcall(&["restore", "--from", &backup.display().to_string(), "--db", &db.display().to_string()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("kept as"), "{out}");
    let kept: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("qcall.db.before-restore-"))
        .collect();
    assert!(!kept.is_empty(), "the replaced database is kept");
    assert_eq!(ticket_ids(&db), in_backup);
    server.start_again();
    let halls = server.api().halls().await;
    let waiting: u32 = halls.halls.iter().flat_map(|h| h.services.iter()).map(|s| s.waiting).sum();
    assert_eq!(waiting as usize, in_backup.len(), "every restored ticket waits again");
}

#[test]
fn check_db_names_each_broken_invariant() {
    let server_dir = tempfile::tempdir().unwrap();
    let db = server_dir.path().join("qcall.db");
    // A real database with tickets: a server that issued and served a few, then stopped.
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut server = Server::start();
        rt.block_on(async {
            let api = server.api();
            for _ in 0..3 {
                api.issue("east", "filing").await;
            }
            let clerk = api.sign_in("clerk01", "E01").await;
            assert_eq!(api.act(&clerk, "E01", "call-next").await.0, 200);
        });
        server.stop();
        std::fs::copy(&server.db, &db).unwrap();
    }
    let (code, out, err) = qcall(&["check-db", "--db", &db.display().to_string()]);
    assert_eq!(code, Some(0), "a sound database: {out}{err}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "INSERT INTO tickets (id, day, issued_hall, issued_service, seq, number, hall, service, priority, state,
                              issued_at, queued_at, call_count, transferred)
              SELECT 900, day, issued_hall, issued_service, 900, number, hall, service, priority, 'waiting',
                     issued_at, queued_at, 0, 0 FROM tickets WHERE id = 2;
         INSERT INTO events (seq, at, hall, type, body)
              VALUES (9000, 0, 'east', 'ticket_issued', '{\"type\":\"ticket_issued\",\"ticket\":{\"id\":777}}');
         INSERT OR REPLACE INTO counters (id, state, clerk, current) VALUES ('E02', 'open', 'clerk02', 3);",
    )
    .unwrap();
    drop(conn);
    let (code, out, err) = qcall(&["check-db", "--db", &db.display().to_string()]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("number A002 given 2 times in east"), "{out}");
    assert!(out.contains("event 9000 (ticket_issued) names ticket 777, which does not exist"), "{out}");
    assert!(out.contains("counter E02 serves ticket 3, which is waiting at no counter"), "{out}");
    assert!(err.contains("3 problems"), "{err}");

    // Such a file is not restored.
    let target = server_dir.path().join("other.db");
    let (code, _, err) = qcall(&["restore", "--from", &db.display().to_string(), "--db", &target.display().to_string()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("fails its check") && !target.exists(), "{err}");

    // Damage below the schema is found by SQLite's own check.
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    for b in &mut bytes[page + 100..page + 400] {
        *b = 0xA5;
    }
    std::fs::write(&db, bytes).unwrap();
    let (code, out, err) = qcall(&["check-db", "--db", &db.display().to_string()]);
    assert_eq!(code, Some(1), "{out}{err}");
}
