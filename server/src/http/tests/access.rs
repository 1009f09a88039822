//! Who may do what: the authorisation matrix, sessions, sign-in and the audit trail.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    BadToken,
    KioskEast,
    KioskWest,
    DisplayEast,
    PadE01,
    PadE02,
    ClerkE01,
    ClerkW01,
    Supervisor,
}

const ROLES: [Role; 10] = [
    Role::Anonymous,
    Role::BadToken,
    Role::KioskEast,
    Role::KioskWest,
    Role::DisplayEast,
    Role::PadE01,
    Role::PadE02,
    Role::ClerkE01,
    Role::ClerkW01,
    Role::Supervisor,
];

/// Every role against every endpoint: the roles allowed get past authorisation (whatever the
/// queue then says), everyone else gets 401 without a valid token and 403 with the wrong one.
#[tokio::test]
async fn authorisation_matrix() {
    use Role::*;
    let r = Rig::new();
    let a1 = r.issue("east", "filing").await;
    let a2 = r.issue("east", "filing").await;
    let clerk_e01 = r.sign_in("clerk01", "E01").await;
    let clerk_w01 = r.sign_in("clerk09", "W01").await;
    r.ok("POST", "/api/v1/counters/E01/call-next", Some(&clerk_e01), None).await;
    r.ok("POST", "/api/v1/counters/E01/finish", Some(&clerk_e01), None).await;
    let token = |role: Role| -> Option<String> {
        match role {
            Anonymous => None,
            BadToken => Some("not-a-token".into()),
            KioskEast => Some("demo-kiosk-east".into()),
            KioskWest => Some("demo-kiosk-west".into()),
            DisplayEast => Some("demo-display-east".into()),
            PadE01 => Some("demo-pad-e01".into()),
            PadE02 => Some("demo-pad-e02".into()),
            ClerkE01 => Some(clerk_e01.clone()),
            ClerkW01 => Some(clerk_w01.clone()),
            Supervisor => Some("demo-supervisor".into()),
        }
    };
    const ALL: &[Role] = &ROLES;
    // Open to anyone, but a token that is given must be valid.
    const OPEN: &[Role] = &[Anonymous, KioskEast, KioskWest, DisplayEast, PadE01, PadE02, ClerkE01, ClerkW01, Supervisor];
    const SIGNED: &[Role] = &[KioskEast, KioskWest, DisplayEast, PadE01, PadE02, ClerkE01, ClerkW01, Supervisor];
    let day = "from=2026-11-26&to=2026-11-26";
    let endpoints: Vec<(&str, String, Option<Value>, &[Role])> = vec![
        ("GET", "/healthz".into(), None, ALL),
        ("GET", "/api/v1/halls".into(), None, OPEN),
        ("GET", "/api/v1/halls/east".into(), None, OPEN),
        ("GET", format!("/api/v1/tickets/{}", a1.id), None, ALL),
        ("GET", "/api/v1/events".into(), None, SIGNED),
        ("GET", "/api/v1/halls/east/events".into(), None, OPEN),
        ("GET", "/counter".into(), None, ALL),
        ("GET", format!("/t/{}", a1.id), None, ALL),
        ("POST", "/api/v1/sessions".into(), Some(json!({"clerk": "clerk03", "pin": "1234", "counter": "E03"})), ALL),
        ("GET", "/api/v1/metrics".into(), None, &[Supervisor]),
        ("GET", "/metrics".into(), None, &[Supervisor]),
        ("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26".into(), None, &[Supervisor]),
        ("POST", "/api/v1/halls/east/tickets".into(), Some(json!({"service": "filing"})), &[KioskEast, Supervisor]),
        ("PUT", "/api/v1/halls/east/publicity".into(), Some(json!({"messages": []})), &[Supervisor]),
        ("POST", format!("/api/v1/tickets/{}/requeue", a2.id), None, &[ClerkE01, Supervisor]),
        ("POST", format!("/api/v1/tickets/{}/rating", a1.id), Some(json!({"score": 4})), &[PadE01, Supervisor]),
        ("POST", "/api/v1/devices/kiosk-east-1/status".into(), Some(json!({"ok": true})), &[KioskEast, Supervisor]),
        ("POST", "/api/v1/devices/display-east-1/status".into(), Some(json!({"ok": true})), &[DisplayEast, Supervisor]),
        ("POST", "/api/v1/devices/pad-e01/status".into(), Some(json!({"ok": true})), &[PadE01, Supervisor]),
        ("GET", "/api/v1/counters/E01/queue".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/call-next".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/call".into(), Some(json!({"ticket": a2.id})), &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/recall".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/no-show".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/finish".into(), None, &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/transfer".into(), Some(json!({"service": "invoice"})), &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/pause".into(), Some(json!({"reason": "午休"})), &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/resume".into(), None, &[ClerkE01, Supervisor]),
        ("GET", "/api/v1/stats/today".into(), None, &[ClerkE01, ClerkW01, Supervisor]),
        ("GET", format!("/api/v1/stats?{day}"), None, &[ClerkE01, ClerkW01, Supervisor]),
        ("GET", format!("/api/v1/reports/tickets?{day}"), None, &[Supervisor]),
        // Malformed requests: the role is checked before the query or body is read, so a
        // caller who may not ask learns nothing from a 400.
        ("GET", "/api/v1/audit".into(), None, &[Supervisor]),
        ("GET", "/api/v1/audit?from=yesterday".into(), None, &[Supervisor]),
        ("GET", "/api/v1/reports/tickets?from=x".into(), None, &[Supervisor]),
        ("GET", "/api/v1/stats?from=x".into(), None, &[ClerkE01, ClerkW01, Supervisor]),
        ("GET", "/api/v1/alerts?bogus=1".into(), None, &[Supervisor]),
        ("GET", "/api/v1/cases?bogus=1".into(), None, &[Supervisor]),
        ("GET", "/api/v1/appointments?bogus=1".into(), None, &[Supervisor]),
        ("GET", "/api/v1/overview?bogus=1".into(), None, &[Supervisor]),
        ("POST", "/api/v1/halls/east/tickets".into(), Some(json!({"service": 7})), &[KioskEast, Supervisor]),
        ("PUT", "/api/v1/halls/east/publicity".into(), Some(json!({"messages": "x"})), &[Supervisor]),
        ("POST", format!("/api/v1/tickets/{}/rating", a1.id), Some(json!({"score": "x"})), &[PadE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/call".into(), Some(json!({"nope": 1})), &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/pause".into(), Some(json!({"reason": 3})), &[ClerkE01, Supervisor]),
        ("POST", "/api/v1/counters/E01/finish".into(), Some(json!({"x": 1})), &[ClerkE01, Supervisor]),
        // A hall edge's log: its edge uploads (none here), its edge and supervisors read.
        ("POST", "/api/v1/edges/east/log".into(), Some(json!({"events": []})), &[]),
        ("POST", "/api/v1/edges/east/log".into(), Some(json!({"events": 7})), &[]),
        ("GET", "/api/v1/edges/east/log".into(), None, &[Supervisor]),
    ];
    let mut table = String::new();
    for (method, path, body, allowed) in &endpoints {
        for role in ROLES {
            let a = r.send(method, path, token(role).as_deref(), body.clone()).await;
            let s = a.status.as_u16();
            let ok = if allowed.contains(&role) {
                s != 401 && s != 403
            } else if matches!(role, Anonymous | BadToken) {
                s == 401
            } else {
                s == 403
            };
            assert!(ok, "{role:?} {method} {path}: {s} {} (allowed: {allowed:?})", a.text());
            table.push_str(&format!("{s} "));
        }
        table.push_str(&format!(" {method} {path}\n"));
    }
    println!("{:?}\n{table}", ROLES);
    // Signing out is for clerk sessions only (and ends them).
    for role in ROLES {
        let s = r.send("DELETE", "/api/v1/sessions", token(role).as_deref(), None).await.status.as_u16();
        let want = match role {
            Anonymous | BadToken => 401,
            ClerkE01 | ClerkW01 => 204,
            _ => 403,
        };
        assert_eq!(s, want, "{role:?} DELETE /api/v1/sessions");
    }
}

#[tokio::test]
async fn an_idle_session_ends_and_its_counter_closes() {
    let r = Rig::new();
    let clerk = r.sign_in("clerk01", "E01").await;
    r.clock.advance(r.app.state.cfg.session_idle_ms - 1000);
    assert_eq!(r.send("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "其他"}))).await.status, StatusCode::OK, "used in time");
    r.clock.advance(r.app.state.cfg.session_idle_ms + 1000);
    assert_eq!(r.send("POST", "/api/v1/counters/E01/resume", Some(&clerk), None).await.status, StatusCode::UNAUTHORIZED);
    // The sweep (the ticker's) closes the counter.
    r.app
        .state
        .engine
        .submit(crate::engine::Request::ExpireIdle { idle_ms: r.app.state.cfg.session_idle_ms })
        .await
        .unwrap();
    let east: wire::HallInfo = serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap();
    assert_eq!(east.counters[0].state, wire::CounterState::Closed);
}

#[tokio::test]
async fn a_supervisor_signs_in_with_a_password_and_wrong_ones_lock_the_account() {
    let r = Rig::new();
    let login = |password: &str| json!({"supervisor": "duty", "password": password});
    let a = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let session: wire::SupervisorSessionResponse = serde_json::from_value(a.json()).unwrap();
    assert_eq!((session.supervisor.as_str(), session.name.as_str()), ("duty", "值班领导"));
    let token = session.token;
    // The session is a supervisor's: it may do what only supervisors may.
    r.ok("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", Some(&token), None).await;
    let clerk = r.sign_in("clerk01", "E01").await;
    let refused = r.send("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", Some(&clerk), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Wrong passwords and unknown supervisors get the same answer.
    let wrong = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("guess-guess-guess"))).await;
    assert_eq!(wrong.code(), Some(ErrorCode::WrongCredentials));
    let nobody = r.send("POST", "/api/v1/supervisor-sessions", None, Some(json!({"supervisor": "boss", "password": "x"}))).await;
    assert_eq!((nobody.code(), nobody.json()["error"]["message"].clone()), (wrong.code(), wrong.json()["error"]["message"].clone()));
    // Enough wrong ones lock the account, even against the right password, for a while.
    let limit = r.app.state.cfg.sign_in.account_failures;
    let mut locked = None;
    for _ in 1..limit + 1 {
        let a = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("guess-guess-guess"))).await;
        if a.code() == Some(ErrorCode::SigninLocked) {
            locked = Some(a);
            break;
        }
    }
    let locked = locked.expect("the account locks");
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let right = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await;
    assert_eq!(right.code(), Some(ErrorCode::SigninLocked), "locked means locked");
    r.clock.advance(r.app.state.cfg.sign_in.lock_ms + 1000);
    let again = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    let token = again.json()["token"].as_str().unwrap().to_string();

    // Sign-out ends the session; so does a long idle time.
    r.ok("GET", "/api/v1/metrics", Some(&token), None).await;
    let out = r.send("DELETE", "/api/v1/supervisor-sessions", Some(&token), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(r.send("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", Some(&token), None).await.status, StatusCode::UNAUTHORIZED);
    let idle = r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await.json()["token"].as_str().unwrap().to_string();
    r.clock.advance(crate::http::supervisors::IDLE_MS + 1000);
    assert_eq!(r.send("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26", Some(&idle), None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn supervisors_actions_and_failed_sign_ins_are_in_the_audit_trail_for_audit_days() {
    let r = Rig::new();
    let login = |password: &str| json!({"supervisor": "duty", "password": password});
    r.send("POST", "/api/v1/supervisor-sessions", None, Some(login("not-the-password"))).await;
    let token = r.ok("POST", "/api/v1/supervisor-sessions", None, Some(login("demo-duty-password"))).await["token"].as_str().unwrap().to_string();
    r.send("POST", "/api/v1/sessions", None, Some(json!({"clerk": "clerk02", "pin": "9999", "counter": "E02"}))).await;
    r.ok("PUT", "/api/v1/halls/west/publicity", Some(&token), Some(json!({"messages": ["减税降费", "便民办税"]}))).await;
    let clerk = r.sign_in("clerk01", "E01").await;
    r.ok("POST", "/api/v1/counters/E01/pause", Some(&clerk), Some(json!({"reason": "业务学习"}))).await;
    r.ok("POST", "/api/v1/counters/E01/resume", Some(&token), None).await;
    r.ok("GET", "/api/v1/reports/tickets?from=2026-11-26&to=2026-11-26&format=csv", Some(&token), None).await;

    let trail: wire::AuditResponse = serde_json::from_value(r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some(&token), None).await).unwrap();
    let seen: Vec<(&str, &str, &str, &str)> =
        trail.entries.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str(), e.detail.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("supervisor:duty", "sign_in_failed", "", ""),
            ("supervisor:duty", "sign_in", "", ""),
            ("clerk:clerk02", "sign_in_failed", "", ""),
            ("supervisor:duty", "publicity_changed", "west", "减税降费 | 便民办税"),
            ("supervisor:duty", "counter_control", "E01", "Resume"),
            ("supervisor:duty", "report_exported", "tickets", "2026-11-26..2026-11-26 all halls Csv"),
        ],
        "the clerk's own pause is not a supervisor's action"
    );
    assert!(trail.entries.iter().all(|e| e.at == crate::view::time(T0)), "the manual clock stood still");
    let other_day = r.ok("GET", "/api/v1/audit?from=2026-11-25&to=2026-11-25", Some(&token), None).await;
    assert_eq!(other_day["entries"], json!([]));
    let refused = r.send("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some(&clerk), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Kept audit_days, then deleted by the hourly purge.
    let days = r.app.state.cfg.audit_days;
    r.clock.advance(i64::from(days) * 86_400_000 - 60_000);
    r.app.state.engine.submit(crate::engine::Request::Purge { audit_days: days, clerk_days: 3650 }).await.unwrap();
    let kept: wire::AuditResponse = serde_json::from_value(r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await).unwrap();
    assert_eq!(kept.entries.len(), 6);
    r.clock.advance(120_000);
    r.app.state.engine.submit(crate::engine::Request::Purge { audit_days: days, clerk_days: 3650 }).await.unwrap();
    let gone = r.ok("GET", "/api/v1/audit?from=2026-11-26&to=2026-11-26", Some("demo-supervisor"), None).await;
    assert_eq!(gone["entries"], json!([]));
}
