//! The writer against a real database (SQLite, or PostgreSQL with `QCALL_TEST_STORE=postgres`)
//! that can be made to fail: a trigger on the `meta` row every commit writes refuses the
//! transaction while a switch is on.

use std::sync::Arc;

use qcall_wire as wire;

use super::*;
use crate::config::Config;
use crate::domain::Priority;

/// 2026-11-26 09:00 in Asia/Shanghai.
const T0: Millis = 1_795_654_800_000;

struct Rig {
    _dir: tempfile::TempDir,
    at: crate::store::StoreAt,
    cfg: Config,
    clock: Arc<ManualClock>,
    engine: Engine,
    switch: parking_lot::Mutex<crate::store::Db>,
}

impl Rig {
    fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let at = crate::store::scratch::test_store(dir.path());
        let cfg = Config::embedded().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let (engine, switch) = std::thread::scope(|s| {
            s.spawn(|| {
                let store = Store::open(&at, cfg.topology.clone()).unwrap();
                let (engine, _writer) = Engine::start(store, clock.clone()).unwrap();
                let mut switch = at.connect().unwrap();
                switch
                    .batch(match switch.dialect() {
                        crate::store::Dialect::Sqlite => {
                            "CREATE TABLE fail_switch (on_ INTEGER NOT NULL);
                             INSERT INTO fail_switch VALUES (0);
                             CREATE TRIGGER fail_meta_insert BEFORE INSERT ON meta WHEN (SELECT on_ FROM fail_switch)
                               BEGIN SELECT RAISE(ABORT, 'disk refused the write (injected)'); END;
                             CREATE TRIGGER fail_meta_update BEFORE UPDATE ON meta WHEN (SELECT on_ FROM fail_switch)
                               BEGIN SELECT RAISE(ABORT, 'disk refused the write (injected)'); END;"
                        }
                        crate::store::Dialect::Postgres => {
                            "CREATE TABLE fail_switch (on_ INTEGER NOT NULL);
                             INSERT INTO fail_switch VALUES (0);
                             CREATE FUNCTION fail_meta() RETURNS trigger AS $$
                               BEGIN
                                 IF (SELECT on_ FROM fail_switch) <> 0 THEN RAISE EXCEPTION 'disk refused the write (injected)'; END IF;
                                 RETURN NEW;
                               END $$ LANGUAGE plpgsql;
                             CREATE TRIGGER fail_meta_write BEFORE INSERT OR UPDATE ON meta FOR EACH ROW EXECUTE PROCEDURE fail_meta();"
                        }
                    })
                    .unwrap();
                (engine, switch)
            })
            .join()
            .unwrap()
        });
        Rig { _dir: dir, at, cfg, clock, engine, switch: parking_lot::Mutex::new(switch) }
    }

    fn fail(&self, on: bool) {
        self.switch.lock().execute("UPDATE fail_switch SET on_ = ?1", crate::vals![on]).unwrap();
    }

    fn hall(&self, id: &str) -> usize {
        self.cfg.topology.hall_ix(id).unwrap()
    }
    fn service(&self, id: &str) -> usize {
        self.cfg.topology.service_ix(id).unwrap()
    }
    fn counter(&self, id: &str) -> usize {
        self.cfg.topology.counter_ix(id).unwrap()
    }

    fn issue(&self, hall: &str, service: &str, request_id: &str) -> Request {
        Request::Domain(Command::Issue {
            hall: self.hall(hall),
            service: self.service(service),
            priority: Priority::Normal,
            request_id: Some(request_id.into()),
        })
    }

    fn sign_in(&self, clerk: &str, counter: &str, token: &str) -> Request {
        Request::SignIn { counter: self.counter(counter), clerk: clerk.into(), token_hash: token.into(), take_over: true, pin_fp: "fp".into() }
    }

    fn device(&self, ok: bool, code: &str) -> Request {
        Request::DeviceStatus {
            device: "kiosk-east-1".into(),
            hall: self.hall("east"),
            status: wire::DeviceStatus {
                device: "kiosk-east-1".into(),
                kind: "kiosk".into(),
                ok,
                code: code.into(),
                message: String::new(),
                at: crate::view::time(self.clock.now()),
            },
        }
    }

    /// A ticket's state as stored.
    fn stored_state(&self, ticket: u64) -> String {
        self.switch.lock().query_one("SELECT state FROM tickets WHERE id = ?1", crate::vals![ticket]).unwrap().get(0).unwrap()
    }

    /// Memory equals what a fresh load of the database gives.
    async fn assert_memory_is_the_store(&self) {
        let fresh = std::thread::scope(|s| {
            s.spawn(|| Durable::load(&mut Store::open(&self.at, self.cfg.topology.clone()).unwrap(), self.clock.now()).unwrap()).join().unwrap()
        });
        let core = self.engine.shared.core.read().await;
        assert_eq!(core.seq, fresh.seq, "seq");
        assert_eq!(core.sessions, fresh.sessions, "sessions");
        assert_eq!(core.devices, fresh.devices, "devices");
        assert!(core.state == fresh.state, "domain state differs from the store:\nmemory {:#?}\nstore {:#?}", core.state, fresh.state);
    }
}

#[tokio::test]
async fn a_failed_commit_leaves_memory_equal_to_the_store_and_fails_every_caller() {
    let rig = Rig::start();
    let e = &rig.engine;
    e.submit(rig.issue("east", "filing", "r1")).await.unwrap();
    e.submit(rig.issue("east", "filing", "r2")).await.unwrap();
    e.submit(rig.issue("west", "invoice", "r3")).await.unwrap();
    e.submit(rig.sign_in("clerk01", "E01", "sha256:first")).await.unwrap();
    e.submit(Request::Domain(Command::CallNext { counter: rig.counter("E01") })).await.unwrap();
    rig.clock.advance(1_000);
    e.submit(Request::Domain(Command::Recall { counter: rig.counter("E01") })).await.unwrap();
    e.submit(rig.device(true, "")).await.unwrap();
    rig.assert_memory_is_the_store().await;
    let before_seq = e.shared.core.read().await.seq;

    rig.fail(true);
    rig.clock.advance(1_000);
    // Several callers at once: whatever batches they land in, every one of them fails.
    let jobs = vec![
        rig.issue("east", "filing", "r-lost"),
        rig.issue("east", "filing", "r1"),
        rig.sign_in("clerk03", "E01", "sha256:second"),
        rig.device(false, "paper_end"),
        Request::Domain(Command::Finish { counter: rig.counter("E01") }),
        Request::Domain(Command::SetPublicity { hall: rig.hall("east"), messages: vec!["x".into()] }),
        Request::SignOut { counter: rig.counter("E01"), token_hash: "sha256:first".into() },
    ];
    let results = futures_util::future::join_all(jobs.into_iter().map(|j| e.submit(j))).await;
    for (i, r) in results.iter().enumerate() {
        match r {
            // A repeated request id is answered from memory without a commit.
            Ok(Outcome::Ticket { again: true, .. }) if i == 1 => {}
            Err(EngineError::Store(msg)) => assert!(msg.contains("injected"), "{msg}"),
            other => panic!("job {i}: expected a storage error, got {other:?}"),
        }
    }
    rig.assert_memory_is_the_store().await;
    {
        let core = e.shared.core.read().await;
        assert_eq!(core.seq, before_seq, "no event numbers were used up");
        assert!(core.sessions.contains_key("sha256:first"), "the failed sign-in did not end the first clerk's session");
        assert!(!core.sessions.contains_key("sha256:second"));
        assert!(core.devices["kiosk-east-1"].1.ok, "the failed report did not change the device");
        assert!(core.state.ticket_by_request("r-lost").is_none(), "the lost request is not remembered");
        let e01 = core.state.counter(rig.counter("E01"));
        assert!(e01.current.is_some(), "the failed finish did not free the counter");
    }

    // The disk is back: the same request id makes a fresh ticket, numbered without a hole.
    rig.fail(false);
    let Outcome::Ticket { ticket, again: false } = e.submit(rig.issue("east", "filing", "r-lost")).await.unwrap() else { panic!("not issued") };
    assert_eq!(ticket.number, "A003");
    assert_eq!(e.shared.core.read().await.seq, before_seq + 1);
    rig.assert_memory_is_the_store().await;
}

#[tokio::test]
async fn memory_equals_the_store_across_recalls_transfers_and_a_rollover() {
    let rig = Rig::start();
    let e = &rig.engine;
    for i in 0..4 {
        e.submit(rig.issue("east", "filing", &format!("a{i}"))).await.unwrap();
    }
    e.submit(rig.sign_in("clerk01", "E01", "sha256:a")).await.unwrap();
    e.submit(rig.sign_in("clerk02", "E02", "sha256:b")).await.unwrap();
    let (e01, e02) = (rig.counter("E01"), rig.counter("E02"));
    e.submit(Request::Domain(Command::CallNext { counter: e01 })).await.unwrap();
    e.submit(Request::Domain(Command::Recall { counter: e01 })).await.unwrap();
    e.submit(Request::Domain(Command::Transfer { counter: e01, service: Some(rig.service("invoice")), to_counter: None, hall: None }))
        .await
        .unwrap();
    e.submit(Request::Domain(Command::CallNext { counter: e02 })).await.unwrap();
    e.submit(Request::Domain(Command::CallNext { counter: e01 })).await.unwrap();
    e.submit(Request::Domain(Command::NoShow { counter: e01 })).await.unwrap();
    rig.assert_memory_is_the_store().await;

    // Next morning: E02's customer of yesterday was never finished: 未办结, in memory (gone
    // from the counter) and in the store alike; E02 starts the day free.
    let yesterday = e.shared.core.read().await.state.counter(e02).current.expect("E02 serves");
    rig.clock.advance(24 * 3600 * 1000);
    e.submit(Request::Domain(Command::Tick)).await.unwrap();
    rig.assert_memory_is_the_store().await;
    assert!(e.shared.core.read().await.sessions.is_empty(), "sessions end with the day");
    assert_eq!(rig.stored_state(yesterday), "unfinished");
    e.submit(rig.issue("east", "filing", "b0")).await.unwrap();
    e.submit(rig.sign_in("clerk02", "E02", "sha256:c")).await.unwrap();
    e.submit(Request::Domain(Command::CallNext { counter: e02 })).await.unwrap();
    rig.assert_memory_is_the_store().await;
    let core = e.shared.core.read().await;
    assert_eq!(core.state.tickets().filter(|t| t.day < core.state.day()).count(), 0, "nothing of yesterday in memory");
    assert_eq!(core.state.recent_calls(rig.hall("east")).count(), 1, "the new day's calls only");
}

/// A counter that finished a ticket and closed before the day ended: the new day forgets that
/// last ticket (its rating pad may not rate it) in memory and in the store alike.
#[tokio::test]
async fn a_counter_closed_before_the_rollover_forgets_its_last_ticket_in_the_store_too() {
    let rig = Rig::start();
    let e = &rig.engine;
    e.submit(rig.issue("east", "filing", "a0")).await.unwrap();
    e.submit(rig.sign_in("clerk01", "E01", "sha256:a")).await.unwrap();
    let e01 = rig.counter("E01");
    e.submit(Request::Domain(Command::CallNext { counter: e01 })).await.unwrap();
    e.submit(Request::Domain(Command::Finish { counter: e01 })).await.unwrap();
    e.submit(Request::SignOut { counter: e01, token_hash: "sha256:a".into() }).await.unwrap();
    assert!(e.shared.core.read().await.state.counter(e01).last_finished.is_some());
    rig.assert_memory_is_the_store().await;

    rig.clock.advance(24 * 3600 * 1000);
    e.submit(Request::Domain(Command::Tick)).await.unwrap();
    assert_eq!(e.shared.core.read().await.state.counter(e01).last_finished, None);
    rig.assert_memory_is_the_store().await;
}

/// One write path: an action and the audit entry that records it are in one transaction. A
/// failed commit leaves neither; a refused action leaves no entry; otherwise both are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_and_its_audit_entry_are_stored_together_or_not_at_all() {
    let r = Rig::start();
    let row = |action: &str| crate::store::AuditRow {
        at: T0,
        actor: "supervisor:duty".into(),
        action: action.into(),
        target: "east".into(),
        detail: String::new(),
        client: "10.0.0.9".into(),
    };
    let publicity = |text: &str| Request::Domain(Command::SetPublicity { hall: r.hall("east"), messages: vec![text.into()] });
    let rows = |action: &str| -> i64 {
        r.switch.lock().query_one("SELECT COUNT(*) FROM audit WHERE action = ?1", crate::vals![action]).unwrap().get(0).unwrap()
    };
    // The commit fails: neither the publicity nor its entry.
    r.fail(true);
    assert!(r.engine.submit_audited(publicity("lost"), row("failed_commit")).await.is_err());
    r.fail(false);
    assert_eq!(rows("failed_commit"), 0, "no entry for an action that was not stored");
    assert!(r.engine.shared.core.read().await.state.publicity(r.hall("east")).iter().all(|m| m != "lost"));
    // A refused action (no such counter's clerk here): no entry.
    let refused = Request::Domain(Command::CallNext { counter: r.counter("E01") });
    assert!(r.engine.submit_audited(refused, row("refused")).await.is_err());
    assert_eq!(rows("refused"), 0, "no entry for a refused action");
    // Both.
    r.engine.submit_audited(publicity("kept"), row("stored")).await.unwrap();
    assert_eq!(rows("stored"), 1);
    let stored: String = r.switch.lock().query_one("SELECT messages FROM publicity WHERE hall = 'east'", &[]).unwrap().get(0).unwrap();
    assert!(stored.contains("kept"), "{stored}");
    r.assert_memory_is_the_store().await;
}
