//! The end of a business day as the hall lives it: a ticket still at a counter at midnight
//! ends as 未办结 (unfinished), the counters close, the hall TV and the clerk's console start
//! the new day empty, and the new day's first number is called at once. Lived through twice:
//! live across midnight (server, hall TV and console running), and through a restart across
//! the night.

use chrono::Utc;
use serde_json::{json, Value};

use crate::display::Display;
use crate::util::{always_open_config_text, Api, Server};
use crate::web::{Browser, PATIENCE};

async fn ticket(api: &Api, id: u64) -> Value {
    let (s, v) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn counter(api: &Api, id: &str) -> Value {
    let (s, v) = api.get("/api/v1/halls/east").await;
    assert_eq!(s, 200, "{v}");
    v["counters"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_midnight_open_tickets_end_unfinished_and_screens_and_consoles_start_empty() {
    // Halls always open, so tickets are taken and called until midnight.
    let srv = Server::start_at(&always_open_config_text(), "2026-12-01T23:59:25+08:00");
    let api = srv.api();
    let a001 = api.issue("east", "filing").await;
    let a002 = api.issue("east", "filing").await;
    let e01 = api.sign_in("clerk01", "E01").await;
    let e02 = api.sign_in("clerk02", "E02").await;
    assert_eq!(api.act(&e01, "E01", "call-next").await.1["ticket"]["number"], "A001");
    assert_eq!(api.act(&e02, "E02", "call-next").await.1["ticket"]["number"], "A002");

    // The hall TV shows both calls; the console at E01 serves A001.
    let mut tv = Display::start(&srv.url);
    tokio::task::block_in_place(|| tv.until("both calls", Utc::now, |d| d.controller.state().recent.len() == 2));
    let b = Browser::start().await;
    b.c().goto(&format!("{}/counter?counter=E01", srv.url)).await.expect("console");
    b.wait_js("document.getElementById('login-counter').value === 'E01'").await;
    b.sign_in("clerk01", "1234").await;
    b.wait_text("#current-number", "A001").await;
    assert!(srv.now() < chrono::DateTime::parse_from_rfc3339("2026-12-02T00:00:00+08:00").unwrap(), "set up before midnight");

    // Midnight passes (the server's ticker turns the day within 5 s).
    let midnight = chrono::DateTime::parse_from_rfc3339("2026-12-02T00:00:00+08:00").unwrap();
    tokio::time::sleep((midnight - srv.now()).to_std().unwrap_or_default() + std::time::Duration::from_secs(1)).await;
    tokio::task::block_in_place(|| {
        tv.until("the new day", Utc::now, |d| d.controller.state().day == "2026-12-02" && d.controller.state().recent.is_empty())
    });
    assert!(tv.latest().is_none(), "the TV shows no call of yesterday");
    // The console's session ended with the day: sign-in again, with nothing at the counter.
    b.c().wait().at_most(PATIENCE).for_element(fantoccini::Locator::Css("#login-view:not([hidden])")).await.expect("signed out");
    for (t, at) in [(&a001, "E01"), (&a002, "E02")] {
        let v = ticket(&api, t.id).await;
        assert_eq!(v["state"], "unfinished", "{v}");
        let c = counter(&api, at).await;
        assert!(c["current"].is_null() && c["state"] == "closed", "{c}");
    }

    // The new day: signed in again, today's A001 is called at once.
    b.sign_in("clerk01", "1234").await;
    b.wait_text("#current-number", "—").await;
    let today = api.issue("east", "filing").await;
    assert_eq!(today.number, "A001");
    b.wait_text("#waiting-count", "1").await;
    b.click("#btn-call-next").await;
    b.wait_text("#current-number", "A001").await;
    let now = ticket(&api, today.id).await;
    assert_eq!((now["state"].as_str(), now["counter"].as_str()), (Some("called"), Some("E01")), "{now}");
    tokio::task::block_in_place(|| {
        tv.until("today's call", Utc::now, |d| d.controller.state().recent.iter().map(|c| c.ticket.as_str()).collect::<Vec<_>>() == ["A001"])
    });
    let serving = b.js("document.getElementById('current-serving').textContent").await;
    assert!(serving.as_str().is_some_and(|s| s.starts_with("00:0")), "today's service time, not yesterday's: {serving}");
    b.close().await;

    // Yesterday's statistics keep the two as 未办结, not as served.
    let (s, v) = api.call("GET", "/api/v1/stats?from=2026-12-01&to=2026-12-01&hall=east", Some("demo-supervisor"), None).await;
    assert_eq!(s, 200, "{v}");
    let e01_row = v["counters"].as_array().unwrap().iter().find(|r| r["counter"] == "E01").unwrap();
    assert_eq!((e01_row["served"].as_u64(), e01_row["unfinished"].as_u64()), (Some(0), Some(1)), "{e01_row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_across_the_night_starts_the_day_with_every_counter_free() {
    // Monday 15:30: A001 is called at E01 and left open at closing.
    let mut srv = Server::start_at(&always_open_config_text(), "2026-11-30T15:30:00+08:00");
    let api = srv.api();
    let monday = api.issue("east", "filing").await;
    let clerk = api.sign_in("clerk01", "E01").await;
    assert_eq!(api.act(&clerk, "E01", "call-next").await.0, 200);
    srv.stop();
    // Tuesday 09:00.
    srv.clock_start = Some("2026-12-01T09:00:00+08:00".into());
    srv.start_again();
    let api = srv.api();
    let v = ticket(&api, monday.id).await;
    assert_eq!(v["state"], "unfinished", "{v}");
    assert!(counter(&api, "E01").await["current"].is_null());
    let clerk = api.sign_in("clerk01", "E01").await;
    let today = api.issue("east", "filing").await;
    assert_eq!(today.number, "A001");
    let (s, v) = api.act(&clerk, "E01", "call-next").await;
    assert_eq!((s, v["ticket"]["id"].as_u64()), (200, Some(today.id)), "not counter_busy: {v}");
    // And again after another restart: nothing of Monday comes back.
    srv.restart();
    let api = srv.api();
    assert_eq!(counter(&api, "E01").await["current"]["id"].as_u64(), Some(today.id));
    assert_eq!(ticket(&api, monday.id).await["state"], "unfinished");
}

/// The duty leader opens one emergency window in a hall whose clerks have not signed in: the
/// hall keeps issuing (whether a service stops before closing goes by the counters planned to
/// be staffed, not by who happens to be signed in), and no wait is made up while no counter
/// serves. The overview says 已开启·待登录 until the clerk signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_window_opened_at_ten_does_not_stop_issuing() {
    // Wednesday 10:00; the demo halls open 09:00-12:00 and 13:30-17:00.
    let srv = Server::start_at(&crate::util::demo_config_text(), "2026-11-25T10:00:00+08:00");
    let api = srv.api();
    for _ in 0..30 {
        api.issue("central", "filing").await;
    }
    let central = |api: Api| async move { api.halls().await.halls.into_iter().find(|h| h.id == "central").unwrap() };
    let before = central(api.clone()).await;
    assert!(before.services.iter().all(|s| s.closed_until.is_none() && s.unstaffed), "issuing, no counter open: {:?}", before.services);
    let (s, t) = api.call("GET", &format!("/api/v1/tickets/{}", api.issue("central", "filing").await.id), None, None).await;
    assert_eq!((s, t["unstaffed"].as_bool()), (200, Some(true)), "no wait is told while nobody serves: {t}");
    // The duty leader opens C01 for clerk16.
    let (s, v) = api.call("POST", "/api/v1/counters/C01/open", Some("demo-supervisor"), Some(json!({"clerk": "clerk16"}))).await;
    assert_eq!(s, 200, "{v}");
    let after = central(api.clone()).await;
    assert!(after.services.iter().all(|s| s.closed_until.is_none()), "still issuing: {:?}", after.services);
    assert!(!after.services.iter().find(|s| s.id == "filing").unwrap().unstaffed, "a wait is told again");
    assert_eq!(api.call("POST", "/api/v1/halls/central/tickets", Some("demo-kiosk-central"), Some(json!({"service": "filing"}))).await.0, 201);
    let ov = api.client.with_token("demo-supervisor").overview().await.unwrap();
    let hall = ov.halls.iter().find(|h| h.hall.id == "central").unwrap();
    assert!(!hall.clerks["C01"].signed_in, "opened, waiting for the clerk to sign in");
    api.sign_in("clerk16", "C01").await;
    let ov = api.client.with_token("demo-supervisor").overview().await.unwrap();
    assert!(ov.halls.iter().find(|h| h.hall.id == "central").unwrap().clerks["C01"].signed_in);
}
