//! The database under the server: health, backups, and every earlier schema.

use super::*;

#[tokio::test]
async fn the_health_check_reads_no_state_behind_the_lock() {
    let r = Rig::new();
    // Even while the writer holds the state, health answers from what the last commit left.
    let guard = r.app.state.engine.shared.core.write().await;
    let a = r.send("GET", "/healthz", None, None).await;
    drop(guard);
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["store"]["day"], "2026-11-26");
}

#[tokio::test]
async fn the_server_backs_up_daily_at_the_set_time_and_deletes_backups_past_keep_days() {
    if crate::store::scratch::testing_postgres() {
        return; // SQLite's own backups; PostgreSQL's are pg_dump's and pgBackRest's
    }
    let r = Rig::with(|cfg, dir| {
        cfg.backups = Some(crate::config::Backups { dir: dir.join("backups"), keep_days: 3, at_minute: 2 * 60 });
    });
    let dir = r._dir.path().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("qcall-2026-11-20.db"), "an old backup").unwrap();
    std::fs::write(dir.join("qcall-2026-11-24.db"), "three days ago").unwrap();
    std::fs::write(dir.join("notes.txt"), "the bureau's own file").unwrap();
    let ticket = r.issue("east", "filing").await;
    let files = || {
        let mut v: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    // 2026-11-26 09:00, past 02:00 and no backup of today yet: one now; the one of the 20th
    // is older than three days.
    crate::http::daily_backup(&r.app.state).await;
    assert_eq!(files(), ["notes.txt", "qcall-2026-11-24.db", "qcall-2026-11-26.db"]);
    let check = crate::maintenance::check(&dir.join("qcall-2026-11-26.db")).unwrap();
    assert_eq!((check.problems.len(), check.summary.tickets), (0, 1), "{:?}", check.problems);
    let made = std::fs::metadata(dir.join("qcall-2026-11-26.db")).unwrap().modified().unwrap();
    crate::http::daily_backup(&r.app.state).await;
    assert_eq!(std::fs::metadata(dir.join("qcall-2026-11-26.db")).unwrap().modified().unwrap(), made, "once a day");
    // The next night: nothing at 01:59, the day's backup at 02:00, and the 24th goes.
    r.clock.advance(17 * 3_600_000 - 60_000);
    crate::http::daily_backup(&r.app.state).await;
    assert_eq!(files(), ["notes.txt", "qcall-2026-11-24.db", "qcall-2026-11-26.db"]);
    r.clock.advance(60_000);
    crate::http::daily_backup(&r.app.state).await;
    assert_eq!(files(), ["notes.txt", "qcall-2026-11-26.db", "qcall-2026-11-27.db"]);
    let conn = rusqlite::Connection::open(dir.join("qcall-2026-11-27.db")).unwrap();
    let id: i64 = conn.query_row("SELECT id FROM tickets", [], |row| row.get(0)).unwrap();
    assert_eq!(id as u64, ticket.id);
}

/// The database files of every earlier schema version, kept in the repository.
fn schema_fixture(version: i64) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/schema-{version}.db"))
}

/// Columns of each table as schema `version` has them.
fn columns(table: &str, version: i64) -> &'static str {
    match (table, version) {
        ("tickets", 1 | 2) => {
            "id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, \
             called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating"
        }
        ("tickets", 3..=7) => {
            "id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, \
             called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating, slot_start"
        }
        ("tickets", 8..=9) => {
            "id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, \
             called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating, slot_start, \
             remote_code, arrived_at, held_at"
        }
        ("sessions", 1) => "token_hash, clerk, counter, created_at",
        ("sessions", 2..=9) => "token_hash, clerk, counter, created_at, pin_fp",
        ("counters", _) => "id, state, clerk, current, last_finished, last_finished_at",
        ("events", _) => "seq, at, hall, type, body",
        ("meta", _) => "key, value",
        ("publicity", _) => "hall, messages",
        ("devices", _) => "device, body",
        other => panic!("no columns for {other:?}"),
    }
}

/// Writes the missing `server/tests/fixtures/schema-{k}.db` for schema versions k before the
/// current one (those kept in the repository are never rewritten): the schema made by the migrations up to k, holding a morning's work (a ticket served
/// and rated, one at the counter, three waiting, a clerk's session, publicity) in that
/// version's columns. Run when adding a migration, and commit the new fixture:
/// `cargo test -p qcall-server --lib write_schema_fixtures -- --ignored`
#[tokio::test]
#[ignore]
async fn write_schema_fixtures() {
    let r = Rig::new();
    let served = r.issue("east", "filing").await;
    for (hall, service) in [("east", "filing"), ("east", "invoice"), ("east", "consulting"), ("west", "filing")] {
        r.issue(hall, service).await;
    }
    let clerk = r.sign_in("clerk01", "E01").await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    r.clock.advance(240_000);
    r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
    r.ok("POST", &format!("/api/v1/tickets/{}/rating", served.id), Some("demo-pad-e01"), Some(json!({"score": 5}))).await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    r.ok("PUT", "/api/v1/halls/east/publicity", Some("demo-supervisor"), Some(json!({"messages": ["依法纳税 光荣"]}))).await;
    let src = r.app.state.cfg.db.clone();
    for version in 1..crate::store::schema_version_known() {
        let out = schema_fixture(version);
        if out.exists() {
            continue;
        }
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let conn = rusqlite::Connection::open(&out).unwrap();
        for sql in &crate::store::MIGRATIONS[..version as usize] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version).unwrap();
        conn.execute("ATTACH DATABASE ?1 AS src", [src.display().to_string()]).unwrap();
        for table in ["tickets", "counters", "events", "sessions", "meta", "publicity", "devices"] {
            let cols = columns(table, version);
            conn.execute_batch(&format!("INSERT OR REPLACE INTO main.{table} ({cols}) SELECT {cols} FROM src.{table};")).unwrap();
        }
        conn.execute_batch("DETACH DATABASE src; VACUUM;").unwrap();
    }
}

/// A database made by every earlier schema version opens, migrates to the current one, loads
/// the day it holds and passes `check-db`.
#[tokio::test]
async fn a_database_of_every_earlier_schema_opens_migrates_and_loads() {
    if crate::store::scratch::testing_postgres() {
        return; // SQLite files of earlier versions
    }
    for version in 1..crate::store::schema_version_known() {
        let fixture = schema_fixture(version);
        assert!(fixture.exists(), "{} is missing: a new migration needs the fixture of the version before it", fixture.display());
        let r = Rig::with(|cfg, _| {
            let _ = std::fs::copy(&fixture, &cfg.db).unwrap();
        });
        r.clock.advance(3_600_000);
        let db = r.app.state.cfg.db.clone();
        let mut store = crate::store::Store::open(&crate::store::StoreAt::Sqlite(db.clone()), r.app.state.cfg.topology.clone()).unwrap();
        assert_eq!(store.schema_version().unwrap(), crate::store::schema_version_known(), "schema {version} migrated");
        let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
        let waiting: u32 = east.services.iter().map(|s| s.waiting).sum();
        assert_eq!(waiting, 2, "schema {version}: the waiting tickets are back");
        let e01 = east.counters.iter().find(|c| c.id == "E01").unwrap();
        assert_eq!(e01.current.as_ref().map(|t| t.number.as_str()), Some("A002"), "schema {version}: E01 still serves");
        assert_eq!(east.publicity, ["依法纳税 光荣"]);
        let check = crate::maintenance::check(&db).unwrap();
        assert!(check.problems.is_empty(), "schema {version}: {:?}", check.problems);
        // The day's statistics still name the clerk who served.
        let stats: Value = r.ok("GET", "/api/v1/stats/today?hall=east", Some("demo-supervisor"), None).await;
        assert!(stats.to_string().contains("clerk01"), "schema {version}: {stats}");
    }
}

/// The estimates learn when taxpayers come from the days stored: at the rollover, and again
/// when the server starts; a day's tickets count per quarter hour and hall.
#[tokio::test]
async fn the_days_stored_teach_the_estimates_when_taxpayers_come() {
    let r = Rig::new();
    let curves = |r: &Rig| r.app.state.engine.shared.core.try_read().unwrap().state.arrival_curves().cloned();
    assert_eq!(curves(&r), None, "nothing stored yet");
    // 09:00-09:15: four filing tickets in the east hall and one 绿色通道, one invoice in west.
    for _ in 0..4 {
        r.issue("east", "filing").await;
    }
    r.ok("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing", "priority": "priority"}))).await;
    r.issue("west", "invoice").await;
    // The next morning: the rollover learns yesterday.
    r.clock.advance(24 * 3_600_000);
    r.app.state.engine.submit(crate::engine::Request::Domain(crate::domain::Command::Tick)).await.unwrap();
    let topo = r.app.state.cfg.topology.clone();
    let (east, west) = (topo.hall_ix("east").unwrap(), topo.hall_ix("west").unwrap());
    let (filing, invoice) = (topo.service_ix("filing").unwrap(), topo.service_ix("invoice").unwrap());
    let c = curves(&r).expect("learnt at the rollover");
    assert_eq!(c.per[east][filing][36], (4.0, 1.0), "09:00-09:15 of the one day stored");
    assert_eq!(c.per[west][invoice][36], (1.0, 0.0));
    assert_eq!(c.per[east][filing][37], (0.0, 0.0));
    // Loaded again from the store: the same.
    let day = r.app.state.engine.shared.core.try_read().unwrap().state.day();
    let at = r.app.state.cfg.store();
    let again = std::thread::scope(|s| s.spawn(|| crate::store::Store::open(&at, topo.clone()).unwrap().arrival_curves(day).unwrap()).join().unwrap());
    assert_eq!(again.as_ref(), Some(&c));
}
