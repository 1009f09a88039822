//! The duty leader's view: pauses, alerts, 差评 cases, devices and the calendar.

use super::*;

#[tokio::test]
async fn a_pause_names_its_reason_the_overview_shows_it_and_statistics_sum_it_per_clerk() {
    let r = Rig::new();
    let clerk = r.sign_in("clerk01", "E01").await;
    let queue: wire::CounterQueue = serde_json::from_value(r.ok("GET", "/api/v1/counters/E01/queue", Some(&clerk), None).await).unwrap();
    assert_eq!(queue.pause_reasons, ["午休", "业务学习", "临时离开", "系统故障", "其他"]);

    // No reason, or one not on the list: refused, and the counter stays open.
    let a = r.send("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({}))).await;
    assert_eq!(a.code(), Some(ErrorCode::BadJson), "{}", a.text());
    let a = r.send("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "喝茶"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::UnknownPauseReason), "{}", a.text());
    assert!(a.text().contains("午休、业务学习"), "{}", a.text());

    let mut events = r.app.state.engine.shared.events.subscribe();
    let v = r.ok("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "午休"}))).await;
    assert_eq!(v["counter"]["pause_reason"], "午休");
    let b = events.recv().await.unwrap();
    assert_eq!(b.msg.kind, wire::EventKind::CounterPaused { counter: "E01".into(), counter_number: 1, reason: "午休".into() });
    r.clock.advance(25 * 60_000);
    let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
    let e01 = east.counters.iter().find(|c| c.id == "E01").unwrap();
    assert_eq!((e01.state, e01.pause_reason.as_deref()), (wire::CounterState::Paused, Some("午休")));
    assert_eq!(e01.paused_since, Some(crate::view::time(T0)));
    // A pause still going counts until now.
    let today: wire::TodayStats = serde_json::from_value(r.ok("GET", "/api/v1/stats/today", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(today.pauses.len(), 1);
    assert_eq!((today.pauses[0].clerk.as_deref(), today.pauses[0].reason.as_str(), today.pauses[0].seconds), (Some("clerk01"), "午休", 1500));
    r.ok("POST", "/api/v1/counters/E01/resume", Some(&clerk), None).await;

    // A second pause, for another reason, ended by signing out; a clerk sees only their own.
    r.clock.advance(5 * 60_000);
    r.ok("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "业务学习"}))).await;
    r.clock.advance(10 * 60_000);
    r.ok("DELETE", "/api/v1/sessions", Some(&clerk), None).await;
    let other = r.sign_in("clerk02", "E02").await;
    r.ok("POST", "/api/v1/counters/E02/pause", Some(&other), Some(json!({"reason": "临时离开"}))).await;
    r.clock.advance(60_000);
    let today: wire::TodayStats = serde_json::from_value(r.ok("GET", "/api/v1/stats/today", Some("demo-supervisor"), None).await).unwrap();
    let got: Vec<(Option<&str>, &str, u32, u64)> =
        today.pauses.iter().map(|p| (p.clerk.as_deref(), p.reason.as_str(), p.pauses, p.seconds)).collect();
    assert_eq!(got, [(Some("clerk01"), "业务学习", 1, 600), (Some("clerk01"), "午休", 1, 1500), (Some("clerk02"), "临时离开", 1, 60)]);
    assert!(today.pauses.iter().all(|p| p.hall == "east" && !p.name.is_empty()));
    let mine: wire::TodayStats = serde_json::from_value(r.ok("GET", "/api/v1/stats/today", Some(&other), None).await).unwrap();
    assert_eq!(mine.pauses.len(), 1);

    // The reason and the time survive a restart.
    let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
    let e02 = east.counters.iter().find(|c| c.id == "E02").unwrap().clone();
    let Rig { _dir, app, clock } = r;
    let cfg = (*app.state.cfg).clone();
    app.shutdown().await;
    let app = Rig::build(cfg, clock);
    let router = app.router();
    let resp = router.oneshot(HttpRequest::builder().uri("/api/v1/halls/east").body(Body::empty()).unwrap()).await.unwrap();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let east: wire::HallInfo = serde_json::from_slice(&body).unwrap();
    assert_eq!(east.counters.iter().find(|c| c.id == "E02").unwrap(), &e02);
}

#[tokio::test]
async fn alerts_are_raised_cleared_and_acknowledged_as_events_and_only_supervisors_see_them() {
    let r = Rig::with(|cfg, _| cfg.alerts.queue_length = 2);
    let check = || r.app.state.engine.submit(crate::engine::Request::CheckAlerts(r.app.state.cfg.alerts.clone()));
    let mut events = r.app.state.engine.shared.events.subscribe();
    for _ in 0..3 {
        r.issue("east", "filing").await;
    }
    for _ in 0..3 {
        events.recv().await.unwrap();
    }
    check().await.unwrap();
    let b = events.recv().await.unwrap();
    let wire::EventKind::AlertRaised { alert } = &b.msg.kind else { panic!("{:?}", b.msg.kind) };
    assert_eq!((alert.kind, alert.hall.as_str()), (wire::AlertKind::LongQueue, "east"));
    assert!(alert.advice.as_deref().unwrap().contains("建议开启应急窗口"), "{alert:?}");
    // Asking again raises nothing new.
    check().await.unwrap();
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(open.alerts.len(), 1);

    // 21 minutes on: the long wait of filing too.
    r.clock.advance(21 * 60_000);
    check().await.unwrap();
    let b = events.recv().await.unwrap();
    let wire::EventKind::AlertRaised { alert: wait } = &b.msg.kind else { panic!("{:?}", b.msg.kind) };
    assert_eq!((wait.kind, wait.number.as_deref()), (wire::AlertKind::LongWait, Some("A001")));

    // Clerks may neither read nor acknowledge alerts.
    let clerk = r.sign_in("clerk01", "E01").await;
    assert_eq!(r.send("GET", "/api/v1/alerts", Some(&clerk), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(r.send("POST", &format!("/api/v1/alerts/{}/ack", wait.id), Some(&clerk), None).await.status, StatusCode::FORBIDDEN);
    events.recv().await.unwrap(); // counter_opened
    assert_eq!(r.send("POST", "/api/v1/alerts/999/ack", Some("demo-supervisor"), None).await.code(), Some(ErrorCode::UnknownAlert));

    // Acknowledged: who and when are kept, it leaves the open list, the stream says so.
    let acked: wire::Alert = serde_json::from_value(r.ok("POST", &format!("/api/v1/alerts/{}/ack", wait.id), Some("demo-supervisor"), None).await).unwrap();
    assert_eq!((acked.acked_by.as_deref(), acked.acked_at), (Some("duty"), Some(crate::view::time(crate::clock::Clock::now(&*r.clock)))));
    let b = events.recv().await.unwrap();
    assert!(matches!(&b.msg.kind, wire::EventKind::AlertAcknowledged { alert } if alert.id == wait.id));
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(open.alerts.iter().map(|a| a.kind).collect::<Vec<_>>(), [wire::AlertKind::LongQueue]);

    // The clerk calls two: the queue is short again, and the long wait is over for A001 but not
    // A002/A003 — the service's alert stays (one per service).
    for _ in 0..2 {
        r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
        r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
    }
    while events.try_recv().is_ok() {}
    check().await.unwrap();
    let b = events.recv().await.unwrap();
    let wire::EventKind::AlertCleared { alert } = &b.msg.kind else { panic!("{:?}", b.msg.kind) };
    assert_eq!(alert.kind, wire::AlertKind::LongQueue);
    assert!(alert.cleared_at.is_some());
    let all: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts?state=all", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(all.alerts.len(), 2);
    assert!(all.alerts.iter().all(|a| !a.is_open()), "{:?}", all.alerts);

    // A 差评 raises its own alert; the audit trail has the acknowledgement.
    let last = r.app.state.engine.shared.core.read().await.state.counter(0).last_finished.unwrap().0;
    r.ok("POST", &format!("/api/v1/tickets/{last}/rating"), Some("demo-pad-e01"), Some(json!({"score": 1}))).await;
    while events.try_recv().is_ok() {}
    check().await.unwrap();
    let b = events.recv().await.unwrap();
    assert!(matches!(&b.msg.kind, wire::EventKind::AlertRaised { alert } if alert.kind == wire::AlertKind::BadRating && alert.counter.as_deref() == Some("E01")), "{:?}", b.msg.kind);
    let trail: wire::AuditResponse = serde_json::from_value(r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await).unwrap();
    assert!(trail.entries.iter().any(|e| e.action == "alert_ack" && e.target == wait.id.to_string()), "{:?}", trail.entries);
}

#[tokio::test]
async fn a_bad_rating_opens_a_case_with_the_pads_reasons_that_a_supervisor_follows_up_and_closes() {
    let r = Rig::new();
    let clerk = r.sign_in("clerk01", "E01").await;
    let mut rated = vec![];
    for score in [2, 5] {
        let t = r.issue("east", "filing").await;
        r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
        r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
        r.ok("POST", &format!("/api/v1/tickets/{}/rating", t.id), Some("demo-pad-e01"), Some(json!({"score": score}))).await;
        rated.push(t);
    }
    let bad = &rated[0];
    // Only the 差评 opens a case; 5 working days after Thursday 2026-11-26 is Thursday 12-03.
    let cases: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(cases.cases.len(), 1);
    let c = &cases.cases[0];
    assert_eq!((c.ticket, c.number.as_str(), c.counter.as_str(), c.score, c.deadline.as_str()), (bad.id, "A001", "E01", 2, "2026-12-03"));
    assert_eq!((c.clerk.as_deref(), c.clerk_name.as_str(), c.state, c.overdue), (Some("clerk01"), "王芳", wire::CaseState::Open, false));
    assert!(c.reasons.is_empty());

    // The pad's reasons: only listed ones, only from the pad of that counter.
    let path = format!("/api/v1/tickets/{}/rating/reasons", bad.id);
    assert_eq!(r.send("POST", &path, Some("demo-pad-e01"), Some(json!({"reasons": ["太冷"]}))).await.code(), Some(ErrorCode::UnknownRatingReason));
    assert_eq!(r.send("POST", &path, Some("demo-pad-e02"), Some(json!({"reasons": ["服务态度"]}))).await.status, StatusCode::FORBIDDEN);
    assert_eq!(r.send("POST", &path, Some("demo-pad-e01"), Some(json!({"reasons": ["等候时间长", "服务态度", "服务态度"]}))).await.status, StatusCode::NO_CONTENT);
    let good = format!("/api/v1/tickets/{}/rating/reasons", rated[1].id);
    assert_eq!(r.send("POST", &good, Some("demo-pad-e01"), Some(json!({"reasons": ["其他"]}))).await.code(), Some(ErrorCode::UnknownCase));

    // Clerks see no cases.
    assert_eq!(r.send("GET", "/api/v1/cases", Some(&clerk), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(r.send("POST", &format!("/api/v1/cases/{}/notes", c.id), Some(&clerk), Some(json!({"kind": "callback", "text": "x"}))).await.status, StatusCode::FORBIDDEN);

    // Past its deadline, still open: overdue.
    r.clock.advance(8 * 86_400_000);
    r.app.state.engine.submit(crate::engine::Request::Domain(crate::domain::Command::Tick)).await.unwrap();
    let overdue: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases?state=overdue", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(overdue.cases.len(), 1);
    assert!(overdue.cases[0].overdue);
    assert_eq!(overdue.cases[0].reasons, ["等候时间长", "服务态度"]);

    // Callback, rectification, appeal and outcome; then closed; a closed case takes no notes.
    for (kind, text) in [("callback", "已电话回访，纳税人表示理解"), ("rectification", "高峰时段增开应急窗口"), ("appeal", "窗口申诉：系统故障所致"), ("appeal_outcome", "复核：申诉不成立")] {
        r.ok("POST", &format!("/api/v1/cases/{}/notes", c.id), Some("demo-supervisor"), Some(json!({"kind": kind, "text": text}))).await;
    }
    let a = r.send("POST", &format!("/api/v1/cases/{}/notes", c.id), Some("demo-supervisor"), Some(json!({"kind": "callback", "text": ""}))).await;
    assert_eq!(a.code(), Some(ErrorCode::EmptyText), "an empty note is said to be empty, not too long");
    let a = r.send("POST", &format!("/api/v1/cases/{}/notes", c.id), Some("demo-supervisor"), Some(json!({"kind": "callback", "text": "长".repeat(1001)}))).await;
    assert_eq!(a.code(), Some(ErrorCode::TooLong));
    let closed: wire::Case =
        serde_json::from_value(r.ok("POST", &format!("/api/v1/cases/{}/close", c.id), Some("demo-supervisor"), Some(json!({"summary": "已整改"}))).await).unwrap();
    assert_eq!((closed.state, closed.closed_by.as_deref(), closed.summary.as_deref(), closed.overdue), (wire::CaseState::Closed, Some("duty"), Some("已整改"), false));
    assert_eq!(closed.notes.len(), 5);
    assert_eq!(closed.notes[0].kind, wire::CaseNoteKind::Callback);
    let a = r.send("POST", &format!("/api/v1/cases/{}/notes", c.id), Some("demo-supervisor"), Some(json!({"kind": "note", "text": "晚了"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::CaseClosed));
    assert_eq!(r.send("POST", "/api/v1/cases/99/close", Some("demo-supervisor"), Some(json!({"summary": "x"}))).await.code(), Some(ErrorCode::UnknownCase));

    // Every rating of the period, with reasons and case state, as CSV.
    let csv = r.send("GET", "/api/v1/reports/ratings?from=2026-11-26&to=2026-11-26&format=csv", Some("demo-supervisor"), None).await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = csv.text();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "ticket,day,number,hall,service,counter,clerk,finished_at,score,reasons,case");
    assert!(lines[1].starts_with(&format!("{},2026-11-26,A001,east,filing,E01,clerk01,", bad.id)) && lines[1].ends_with(",2,等候时间长、服务态度,closed"), "{}", lines[1]);
    assert!(lines[2].ends_with(",5,,none"), "{}", lines[2]);
    let trail: wire::AuditResponse = serde_json::from_value(r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-12-04", Some("demo-supervisor"), None).await).unwrap();
    assert!(trail.entries.iter().any(|e| e.action == "case_closed"));
    assert!(trail.entries.iter().any(|e| e.action == "report_exported" && e.target == "ratings"));
}

/// A closed case is what was reported: the pad cannot rewrite its reasons, and every change
/// before that is in the audit trail.
#[tokio::test]
async fn a_closed_cases_reasons_cannot_change() {
    let r = Rig::new();
    let clerk = r.sign_in("clerk01", "E01").await;
    let t = r.issue("east", "filing").await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk), None).await;
    r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk), None).await;
    r.ok("POST", &format!("/api/v1/tickets/{}/rating", t.id), Some("demo-pad-e01"), Some(json!({"score": 1}))).await;
    let reasons = |list: &[&str]| Some(json!({"reasons": list}));
    let path = format!("/api/v1/tickets/{}/rating/reasons", t.id);
    assert_eq!(r.send("POST", &path, Some("demo-pad-e01"), reasons(&["服务态度"])).await.status, StatusCode::NO_CONTENT);
    let cases: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases?state=open", Some("demo-supervisor"), None).await).unwrap();
    let case = cases.cases.iter().find(|c| c.ticket == t.id).expect("a case");
    r.ok("POST", &format!("/api/v1/cases/{}/close", case.id), Some("demo-supervisor"), Some(json!({"summary": "已回访，致歉"}))).await;
    let a = r.send("POST", &path, Some("demo-pad-e01"), reasons(&[])).await;
    assert_eq!(a.code(), Some(ErrorCode::CaseClosed), "{}", a.text());
    let all: wire::CasesResponse = serde_json::from_value(r.ok("GET", "/api/v1/cases?state=all", Some("demo-supervisor"), None).await).unwrap();
    let case = all.cases.iter().find(|c| c.ticket == t.id).unwrap();
    assert_eq!(case.reasons, ["服务态度"], "the reasons stay as reported");
    let trail = r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await;
    assert!(trail.to_string().contains("case_reasons"), "the change is audited: {trail}");
}

#[tokio::test]
async fn a_device_silent_for_a_minute_is_offline_until_it_reports_again() {
    let r = Rig::new();
    let check = || r.app.state.engine.submit(crate::engine::Request::CheckAlerts(r.app.state.cfg.alerts.clone()));
    let report = || r.send("POST", "/api/v1/devices/display-east-1/status", Some("demo-display-east"), Some(json!({"ok": true})));
    assert_eq!(report().await.status, StatusCode::NO_CONTENT);
    let ov: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    let display = |ov: &wire::Overview| ov.halls[0].devices.iter().find(|d| d.device == "display-east-1").unwrap().clone();
    assert_eq!(display(&ov).online, Some(true));
    // Never heard from since the start: not called offline (a pad nobody installed yet).
    assert_eq!(ov.halls[0].devices.iter().find(|d| d.device == "pad-e01").unwrap().online, None);

    r.clock.advance(60_000);
    check().await.unwrap();
    assert!(r.app.state.engine.shared.core.read().await.alerts.is_empty(), "60 s is still online");
    r.clock.advance(1_000);
    check().await.unwrap();
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(open.alerts.len(), 1);
    assert_eq!((open.alerts[0].kind, open.alerts[0].device.as_deref()), (wire::AlertKind::DeviceOffline, Some("display-east-1")));
    let ov: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(display(&ov).online, Some(false));

    // The heartbeat comes back: the alert clears. An unchanged status is not stored again.
    let events_before = r.app.state.engine.shared.core.read().await.seq;
    assert_eq!(report().await.status, StatusCode::NO_CONTENT);
    assert_eq!(r.app.state.engine.shared.core.read().await.seq, events_before, "a heartbeat is no event");
    check().await.unwrap();
    let all: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts?state=all", Some("demo-supervisor"), None).await).unwrap();
    assert!(all.alerts[0].cleared_at.is_some());
}

/// From 1 December a calendar without next year's holidays is a fault the duty leader sees:
/// in the overview, and as one alert about every hall, on every hall's stream.
#[tokio::test]
async fn a_holiday_calendar_that_runs_out_is_shown_to_the_duty_leader() {
    let r = Rig::new();
    let check = || r.app.state.engine.submit(crate::engine::Request::CheckAlerts(r.app.state.cfg.alerts.clone()));
    let ov: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(ov.calendar_missing, None, "26 November: not yet");
    check().await.unwrap();
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    assert!(open.alerts.iter().all(|a| a.kind != wire::AlertKind::CalendarMissing));

    r.clock.advance(5 * 86_400_000); // 1 December, 09:00
    let mut events = r.app.state.engine.shared.events.subscribe();
    check().await.unwrap();
    let b = loop {
        let b = events.recv().await.unwrap();
        if matches!(&b.msg.kind, wire::EventKind::AlertRaised { alert } if alert.kind == wire::AlertKind::CalendarMissing) {
            break b;
        }
    };
    assert_eq!(b.halls, [0, 1, 2], "every hall's stream");
    assert_eq!(b.msg.hall, None);
    let ov: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(ov.calendar_missing, Some(2027));
    let open: wire::AlertsResponse = serde_json::from_value(r.ok("GET", "/api/v1/alerts", Some("demo-supervisor"), None).await).unwrap();
    let a = open.alerts.iter().find(|a| a.kind == wire::AlertKind::CalendarMissing).expect("the calendar alert");
    assert_eq!(a.hall, "");
    assert!(a.message.starts_with("2027 节假日安排未配置"), "{}", a.message);
}

/// The webhook's outbox as its sender reads it: an alert's post is due at once, a failed one
/// again when its retry time comes, a delivered one never again.
#[tokio::test]
async fn an_alerts_webhook_post_waits_in_the_outbox_until_it_is_delivered() {
    use crate::clock::Clock;
    let r = Rig::with(|cfg, _| {
        cfg.alerts.queue_length = 2;
        cfg.alerts.webhook_url = Some("http://127.0.0.1:9/hook".into());
    });
    for _ in 0..3 {
        r.issue("east", "filing").await;
    }
    r.app.state.engine.submit(crate::engine::Request::CheckAlerts(r.app.state.cfg.alerts.clone())).await.unwrap();
    let due = |at: i64| r.db(move |db| crate::queries::outbox_due(db, at, 20).unwrap());
    let now = r.clock.now();
    let rows = due(now);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (id, body, attempts) = rows[0].clone();
    assert!(body.contains("long_queue") && attempts == 0, "{body}");
    let update = |u| r.app.state.engine.submit(crate::engine::Request::Outbox(u));
    update(crate::store::OutboxUpdate::Failed { id, next_at: now + 60_000, error: "refused".into() }).await.unwrap();
    assert!(due(now).is_empty(), "not before its retry time");
    assert_eq!(due(now + 60_000).iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(), [(id, 1)]);
    update(crate::store::OutboxUpdate::Delivered { id, at: now + 60_000 }).await.unwrap();
    assert!(due(now + 3_600_000).is_empty(), "delivered: never again");
}
