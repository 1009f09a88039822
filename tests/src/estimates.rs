//! The forked estimate through the real server: the forecast worker forks the hall after the
//! queue changes and publishes; the kiosk's buttons, the printed ticket, the hall TV, the
//! counter screen and the duty leader's overview show what it told.

use std::time::{Duration, Instant};

use chrono::Utc;
use qcall_kiosk::controller::Screen;
use qcall_kiosk::escpos;
use qcall_wire::{self as wire, EventKind};

use crate::display::Display;
use crate::kiosk::{kiosk_with_scanner, pty_lock, LIMIT};
use crate::util::{hall, ws_connect_as, ws_next_any, Server};

/// `n` filing tickets in the east hall, one counter open; waits for the forecast that follows
/// them. Returns the filing queue it told the screens, and how long after the last issue it
/// came.
async fn long_queue_published(server: &Server, n: usize) -> (wire::QueueInfo, Duration) {
    let api = server.api();
    api.sign_in("clerk01", "E01").await;
    let mut ws = ws_connect_as(&server.ws_url("/api/v1/halls/east/events"), "demo-supervisor").await;
    assert!(ws_next_any(&mut ws).await.is_snapshot());
    for _ in 0..n {
        api.issue("east", "filing").await;
    }
    let issued = Instant::now();
    loop {
        let m = ws_next_any(&mut ws).await;
        if m.kind != EventKind::EstimatesChanged {
            continue;
        }
        let q = m.queues.iter().find(|q| q.service == "filing").expect("filing in the queues").clone();
        // The figures for the whole queue (an earlier forecast may have seen only part of it).
        if q.waiting as usize == n && q.est_wait_range_s.is_some() {
            return (q, issued.elapsed());
        }
    }
}

#[test]
fn the_forked_range_reaches_the_kiosk_the_printed_ticket_and_the_hall_tv() {
    let _pty = pty_lock();
    let server = Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (q, took) = rt.block_on(long_queue_published(&server, 12));
    println!("MEASURE last of 12 tickets issued -> forked estimate published to the hall's stream: {:.0} ms", took.as_secs_f64() * 1000.0);
    let [low, high] = q.est_wait_range_s.unwrap();
    assert!(low < q.est_wait_s && q.est_wait_s < high && high - low >= 180, "{q:?}");
    let halls = rt.block_on(server.api().halls());
    let filing = hall(&halls, "east").services.iter().find(|s| s.id == "filing").unwrap().clone();
    assert!(filing.est_wait_range_s.is_some(), "the hall state tells it too: {filing:?}");

    // The hall TV: the service's row says the range.
    let mut tv = Display::start(&server.url);
    tv.until("the snapshot with the range", Utc::now, |d| {
        d.controller.view(Utc::now()).waiting.iter().any(|r| r.prefix == "A" && r.wait.contains('–'))
    });
    let row = tv.controller.view(Utc::now()).waiting.into_iter().find(|r| r.prefix == "A").unwrap();
    assert!(row.wait.starts_with('约') && row.wait.ends_with("分钟"), "{row:?}");
    tv.disconnect();

    // The kiosk: the button, the ticket screen and the paper.
    let mut k = kiosk_with_scanner(&server.url);
    assert!(k.h.pump_until(LIMIT, |c| c.view().services.iter().any(|s| s.id == "filing" && s.wait.contains('–'))), "{:?}", k.h.controller.view().services);
    let button = k.h.controller.view().services.into_iter().find(|s| s.id == "filing").unwrap();
    assert!(button.wait.starts_with("预计约") && button.wait.ends_with("分钟"), "{}", button.wait);
    k.h.tap("filing");
    assert!(k.h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "no ticket screen");
    let ticket = k.h.controller.last_ticket().cloned().unwrap();
    let range = ticket.est_wait_range_s.expect("a ticket taken into a long queue is told a range");
    let said = format!("预计等候{}", escpos::wait_zh(ticket.est_wait_s, Some(range)));
    assert!(said.contains('–'), "{said}");
    assert_eq!(k.h.controller.view().ticket.unwrap().wait, said);
    let printed = escpos::encode_strict(&said).unwrap();
    let deadline = Instant::now() + LIMIT;
    while !k.sim.received().windows(printed.len()).any(|w| w == printed.as_slice()) {
        assert!(Instant::now() < deadline, "the paper never said {said}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_screen_tells_the_range_and_the_duty_leader_sees_what_opening_a_counter_changes() {
    // A long queue for the duty leader: more than 10 waiting in a hall.
    let server = Server::start_edited(|c| c.replace("queue_length = 20", "queue_length = 10"));
    let (q, _) = long_queue_published(&server, 15).await;
    assert!(q.est_wait_range_s.is_some());
    let b = crate::web::Browser::start().await;
    b.c().goto(&format!("{}/screen/counter/E01", server.url)).await.expect("counter screen");
    let text = b.wait_text("#screen-wait", "–").await;
    assert!(text.contains("申报纳税 约 ") && text.contains(" 分钟"), "{text}");
    b.screenshot("counter-screen-wait.png").await;

    b.c().goto(&format!("{}/supervisor", server.url)).await.expect("supervisor");
    b.c().wait().at_most(LIMIT).for_element(fantoccini::Locator::Css("#login-view:not([hidden])")).await.expect("login form");
    b.type_into("#login-id", "duty").await;
    b.type_into("#login-password", "demo-duty-password").await;
    b.click("#login-submit").await;
    let what_if = b.wait_text("[data-hall='east'] .what-if", "新取号预计等候").await;
    let (status, o) = server.api().call("GET", "/api/v1/overview", Some("demo-supervisor"), None).await;
    assert_eq!(status, 200, "{o}");
    let o: wire::Overview = serde_json::from_value(o).unwrap();
    let w = o.halls.iter().find(|h| h.hall.id == "east").unwrap().what_if.clone().expect("a what-if for the long queue");
    assert!(w.after_s < w.before_s, "{w:?}");
    assert!(what_if.contains(&format!("开启 {}号窗口", w.counter_number)) && what_if.contains("→"), "{what_if}");
    b.screenshot("supervisor-what-if.png").await;
    b.close().await;
}
