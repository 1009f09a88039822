//! 线上取号 from end to end, through the binaries: a number taken on the phone with a code that
//! came through the SMS provider's stand-in, the "come and check in" text, the check-in at the
//! real kiosk (a pty for the serial printer and one for the scanner) that prints the paper
//! ticket, the call; and a remote ticket whose taxpayer never comes: held while others are
//! called, then a no-show.

use std::io::Write;
use std::time::{Duration, Instant};

use qcall_kiosk::controller::{Event, Screen};
use qcall_kiosk::escpos;
use qcall_kiosk::printer;
use qcall_kiosk::worker::Headless;
use serde_json::{json, Value};

use crate::kiosk::{east_config, kiosk_with_scanner, pty_lock, ready, Condition, ScanningKiosk, SimPrinter, LIMIT};
use crate::util::Server;

const TUE_0900: &str = "2026-12-01T09:00:00+08:00";

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_remote_ticket_is_taken_by_phone_told_to_come_checked_in_at_the_kiosk_printed_and_called() {
    let _pty = pty_lock();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (provider, sms, _secrets) = crate::public::aliyun_at(
        TUE_0900,
        "near_turn_template = \"SMS_NEAR_1\"\ncalled_template = \"SMS_CALLED_1\"\ncheck_in_template = \"SMS_CHECKIN_1\"\n",
    );
    let text = crate::util::demo_config_text().replacen("[sms]\nprovider = \"log\"\n", &sms, 1);
    let mut srv = Server::start_at(&text, TUE_0900);
    let api = srv.api();
    let walk_ins: Vec<_> = (0..2).map(|_| rt.block_on(api.issue("east", "filing"))).collect();
    let (phone, late_phone) = ("13812345678", "13712345678");
    let texts = |phone: &str, template: &str| -> Vec<Value> {
        provider.lock().unwrap().messages.iter().filter(|(p, t, _)| p == phone && t == template).map(|(_, _, v)| v.clone()).collect()
    };
    // The taxpayer's phone: a code through the provider, then the number.
    let take = |phone: &str, rid: &str| -> Value {
        let (s, v) = rt.block_on(api.call("POST", "/api/v1/appointments/phone-code", None, Some(json!({"phone": phone}))));
        assert_eq!(s, 200, "{v}");
        let code = texts(phone, "SMS_123456789").last().expect("the code came through the provider")["code"].as_str().unwrap().to_string();
        // Through the Rust client, as an integration (a WeChat service) would.
        let req = qcall_wire::RemoteTicketRequest { service: "filing".into(), phone: phone.into(), phone_code: code, request_id: rid.into() };
        let taken = rt.block_on(srv.client().take_remote_ticket("east", &req)).expect("taken");
        serde_json::to_value(taken).unwrap()
    };
    let mine = take(phone, "remote-1");
    assert_eq!(mine["ticket"]["number"], json!("A003"), "the hall's sequence: {mine}");
    assert_eq!(mine["ticket"]["remote"], json!({"checked_in": false}));
    let code = mine["code"].as_str().unwrap().to_string();
    let id = mine["ticket"]["id"].as_u64().unwrap();

    // A clerk opens a window: two ahead, so the taxpayer is told to come and check in.
    let clerk = rt.block_on(api.sign_in("clerk01", "E01"));
    eventually("the check-in text", || !texts(phone, "SMS_CHECKIN_1").is_empty());
    let told = &texts(phone, "SMS_CHECKIN_1")[0];
    assert_eq!((&told["number"], &told["hall"], &told["code"]), (&json!("A003"), &json!("东区办税服务厅"), &json!(code)), "{told}");

    // At the hall: the kiosk's scanner reads the QR code of the ticket's page; the paper prints.
    let ScanningKiosk { mut h, sim, mut scanner, _scanner_slave: scanner_slave, paper } = kiosk_with_scanner(&srv.url);
    scanner.write_all(format!("{code}\r\n").as_bytes()).unwrap();
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "no ticket screen: {:?}", h.controller.view().check_in);
    let t = h.controller.last_ticket().cloned().unwrap();
    assert_eq!((t.id, t.number.as_str(), t.remote.as_ref().map(|r| r.checked_in)), (id, "A003", Some(true)));
    let expected = escpos::render(&h.controller.ticket_print(&t), &escpos::Layout::for_paper(paper));
    eventually("the paper ticket", || sim.received().len() >= expected.len());
    for mark in ["A003", "线上取号 已签到"] {
        let bytes = escpos::encode_strict(mark).unwrap();
        assert!(sim.received().windows(bytes.len()).any(|w| w == bytes.as_slice()), "the paper says {mark}");
    }
    drop(h);
    drop(scanner_slave);

    // Called in its place, after the two who came before it; the called text names the window.
    for want in [&walk_ins[0].number, &walk_ins[1].number, &"A003".to_string()] {
        let (s, v) = rt.block_on(api.act(&clerk, "E01", "call-next"));
        assert_eq!((s, v["ticket"]["number"].as_str()), (200, Some(want.as_str())), "{v}");
        if want == "A003" {
            eventually("the called text", || !texts(phone, "SMS_CALLED_1").is_empty());
        }
        assert_eq!(rt.block_on(api.act(&clerk, "E01", "finish")).0, 200);
    }
    assert_eq!(texts(phone, "SMS_CALLED_1")[0], json!({"number": "A003", "counter": "1"}));
    assert!(texts(phone, "SMS_NEAR_1").is_empty(), "told to come, not told again that the turn is near");

    // Another taxpayer takes a number and never comes: held while the next is called …
    let late = take(late_phone, "remote-2");
    let late_id = late["ticket"]["id"].as_u64().unwrap();
    let after = rt.block_on(api.issue("east", "filing"));
    let (s, v) = rt.block_on(api.act(&clerk, "E01", "call-next"));
    assert_eq!((s, v["ticket"]["id"].as_u64()), (200, Some(after.id)), "the one behind is called: {v}");
    let (_, t) = rt.block_on(api.get(&format!("/api/v1/tickets/{late_id}")));
    assert!(t["remote"]["held_until"].is_string(), "held: {t}");
    eventually("the held ticket's check-in text", || !texts(late_phone, "SMS_CHECKIN_1").is_empty());
    // … and after the hold (10 minutes), a no-show that no kiosk can check in.
    srv.stop();
    srv.clock_start = Some("2026-12-01T09:11:00+08:00".into());
    srv.start_again();
    let api = srv.api();
    eventually("the no-show after the hold", || rt.block_on(api.get(&format!("/api/v1/tickets/{late_id}"))).1["state"] == json!("no_show"));
    let body = json!({"code": late["code"]});
    let (s, v) = rt.block_on(api.call("POST", "/api/v1/halls/east/check-in", Some("demo-kiosk-east"), Some(body)));
    assert_eq!((s, v["error"]["code"].as_str()), (410, Some("too_late")), "{v}");
}

/// At the kiosk, after the ticket prints: 短信提醒, the number typed on the keypad (no code: the
/// taxpayer is there in person), and the server texts that number.
#[test]
fn a_number_typed_at_the_kiosk_after_the_ticket_prints_is_texted() {
    let _pty = pty_lock();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = Server::start_at(&crate::util::demo_config_text(), TUE_0900);
    let sim = SimPrinter::start(Condition::Ready);
    let cfg = east_config(&srv.url, &sim.path);
    let port = printer::open(&cfg.printer).unwrap();
    let mut h = Headless::start(cfg, port);
    assert!(h.pump_until(LIMIT, ready), "kiosk never became ready");
    h.dispatch(Event::ToggleElder);
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "no ticket");
    let t = h.controller.last_ticket().cloned().unwrap();
    assert!(t.page.as_deref().is_some_and(|p| p.contains("?k=")), "the paper's QR code carries the ticket's own link: {t:?}");
    assert!(!h.controller.view().ticket.unwrap().phone_offer.is_empty(), "短信提醒 is offered");
    h.dispatch(Event::OpenPhone);
    assert_eq!(h.controller.screen(), Screen::Phone);
    let notice = h.controller.view().phone.unwrap();
    assert!(notice.purpose.contains("删除"), "the kiosk says the number is deleted before it is typed: {}", notice.purpose);
    for c in "13812341234".chars() {
        h.dispatch(Event::PhoneKey(c));
    }
    h.dispatch(Event::PhoneSubmit);
    assert!(
        h.pump_until(LIMIT, |c| c.view().phone.is_some_and(|p| !p.done.is_empty())),
        "no confirmation: {:?}",
        h.controller.view().phone
    );
    assert!(h.controller.view().phone.unwrap().done.contains("138****1234"));
    let api = srv.api();
    let raw = rt.block_on(api.get_raw(&format!("/t/{}", t.id), None));
    let page = String::from_utf8_lossy(&raw.body).into_owned();
    assert_eq!(raw.status, 200);
    assert!(page.contains("尾号 1234"), "the ticket's page says texts are on: {page}");
    // A clerk calls it: the called text goes out (the demo's log provider, masked).
    let clerk = rt.block_on(api.sign_in("clerk01", "E01"));
    let (s, v) = rt.block_on(api.act(&clerk, "E01", "call-next"));
    assert_eq!((s, v["ticket"]["id"].as_u64()), (200, Some(t.id)));
    eventually("the called text in the log", || srv.log().contains("138****1234") && srv.log().contains("号窗口办理"));
    assert!(!srv.log().contains("13812341234"), "the number is masked in the log");
}

/// From one address, remote tickets are taken a few an hour (with the bookings: 10), whatever
/// the phones; another address is not held back.
#[test]
fn remote_tickets_are_limited_per_address() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = Server::start_at(&crate::util::demo_config_text(), TUE_0900);
    let from = |last: u8| {
        reqwest::Client::builder().local_address(std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last))).build().unwrap()
    };
    let take = |c: &reqwest::Client, phone: String| {
        let body = json!({"service": "filing", "phone": phone, "phone_code": "000000", "request_id": format!("r-{phone}")});
        rt.block_on(async {
            let r = c.post(format!("{}/api/v1/halls/east/remote-tickets", srv.url)).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    let one = from(21);
    for i in 0..10 {
        let (s, v) = take(&one, format!("1390000{i:04}"));
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some("wrong_phone_code")), "{v}");
    }
    let (s, v) = take(&one, "13900009999".into());
    assert_eq!((s, v["error"]["code"].as_str()), (429, Some("too_many_bookings")), "{v}");
    assert!(v["error"]["retry_after_s"].as_u64().is_some(), "says when to try again: {v}");
    let (s, v) = take(&from(22), "13900008888".into());
    assert_eq!(s, 422, "another address: {v}");
}
