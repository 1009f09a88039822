//! Appointments and opening hours against the real server at chosen times (`--clock-start`):
//! booking and its refusals, the capacity race across a crash, no-show bans across days,
//! personal data kept private and purged, and check-in at the real kiosk by code, by a scanned
//! QR code (a pty standing in for the serial scanner) and by ID number, printed on a pty
//! printer, then called before older walk-ins once the slot starts.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use qcall_kiosk::controller::{Event, Screen};
use qcall_kiosk::escpos;
use qcall_kiosk::worker::{new_request_id, Headless};
use serde_json::{json, Value};

use crate::kiosk::{kiosk_with_scanner, pty_lock, ScanningKiosk, LIMIT};
use crate::util::{demo_config_text, ws_connect_as, ws_next, Api, Server};

/// Tuesday 2026-12-01, a working day: at opening, and just before it.
const TUE_0900: &str = "2026-12-01T09:00:00+08:00";
const TUE_0855: &str = "2026-12-01T08:55:00+08:00";
const BOOKER: &str = "demo-booking";
const SUPERVISOR: &str = "demo-supervisor";

/// The demo deployment with Thursday 2026-12-03 a holiday and Saturday 2026-12-05 a 调休
/// workday, and one consulting place per slot in the east hall.
fn config() -> String {
    demo_config_text()
        .replacen("holidays = [\n", "holidays = [\n  \"2026-12-03\",\n", 1)
        .replacen("workdays = [", "workdays = [\"2026-12-05\", ", 1)
        .replacen("# [[appointments.capacity]]", "[[appointments.capacity]]\nhall = \"east\"\nservice = \"consulting\"\nper_slot = 1\n\n# [[appointments.capacity]]", 1)
}

/// A resident ID number with a correct GB 11643 check character.
pub(crate) fn resident_id(n: u32) -> String {
    let base = format!("110105199001{:02}{:03}", 1 + (n / 1000) % 28, n % 1000);
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = base.bytes().zip(W).map(|(b, w)| u32::from(b - b'0') * w).sum();
    format!("{base}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn request(hall: &str, service: &str, date: &str, start: &str, person: u32) -> Value {
    json!({
        "hall": hall, "service": service, "date": date, "start": start,
        "name": "张三", "phone": "13812341234", "id_number": resident_id(person),
        "request_id": format!("r-{hall}-{service}-{date}-{start}-{person}"),
    })
}

async fn book(api: &Api, token: Option<&str>, body: Value) -> (u16, Value) {
    api.call("POST", "/api/v1/appointments", token, Some(body)).await
}

/// Books on the public page's terms: first the code sent to the phone, then the booking with it.
async fn public_book(srv: &Server, mut body: Value) -> (u16, Value) {
    let phone = body["phone"].as_str().expect("a phone").to_string();
    body["phone_code"] = json!(srv.phone_code(&phone).await);
    book(&srv.api(), None, body).await
}

/// Book or fail the test; returns the booking code.
async fn booked(api: &Api, body: Value) -> String {
    let (s, v) = book(api, Some(BOOKER), body).await;
    assert_eq!(s, 201, "{v}");
    v["code"].as_str().expect("code").to_string()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a time: {v}"))
}

fn local(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn check_in(api: &Api, hall: &str, body: Value) -> (u16, Value) {
    api.call("POST", &format!("/api/v1/halls/{hall}/check-in"), Some(&format!("demo-kiosk-{hall}")), Some(body)).await
}

async fn slot_free(api: &Api, hall: &str, service: &str, date: &str, start: &str) -> u64 {
    let (s, v) = api.get(&format!("/api/v1/appointments/slots?hall={hall}&service={service}&date={date}")).await;
    assert_eq!(s, 200, "{v}");
    let slot = v["slots"].as_array().unwrap().iter().find(|x| x["start_local"] == start).unwrap_or_else(|| panic!("no {start} in {v}"));
    slot["free"].as_u64().unwrap()
}

/// Restart the server with its clock at `at` (later than anything it stored).
fn restart_at(srv: &mut Server, at: &str) {
    srv.stop();
    srv.clock_start = Some(at.to_string());
    srv.start_again();
}

async fn bookings(api: &Api, date: &str) -> Vec<Value> {
    let (s, v) = api.call("GET", &format!("/api/v1/appointments?date={date}"), Some(SUPERVISOR), None).await;
    assert_eq!(s, 200, "{v}");
    v.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_refusals_the_calendar_and_the_masked_view() {
    let srv = Server::start_at(&config(), TUE_0900);
    let api = srv.api();

    // Slots of today: 09:00 has started, 09:30 is less than 30 minutes ahead, 10:00 is bookable.
    let (s, v) = api.get("/api/v1/appointments/slots?hall=east&service=filing&date=2026-12-01").await;
    assert_eq!(s, 200, "{v}");
    let slots = v["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 13, "09:00-12:00 and 13:30-17:00 in 30-minute slots: {v}");
    assert_eq!((slots[0]["start_local"].as_str(), slots[0]["bookable"].as_bool()), (Some("09:00"), Some(false)));
    assert_eq!((slots[1]["start_local"].as_str(), slots[1]["bookable"].as_bool()), (Some("09:30"), Some(false)));
    assert_eq!((slots[2]["start_local"].as_str(), slots[2]["bookable"].as_bool()), (Some("10:00"), Some(true)));
    let capacity = slots[2]["capacity"].as_u64().unwrap();
    assert!(capacity >= 1 && slots[2]["free"].as_u64() == Some(capacity), "{v}");
    assert_eq!(
        v["bookable_days"],
        json!(["2026-12-01", "2026-12-02", "2026-12-04", "2026-12-05", "2026-12-07", "2026-12-08"]),
        "today and five working days: the holiday skipped, the 调休 Saturday in"
    );

    // Bad identity: each names its field.
    let mut bad = request("east", "filing", "2026-12-02", "10:00", 1);
    bad["name"] = json!("<script>");
    let (s, v) = book(&api, None, bad).await;
    assert_eq!((s, code(&v)), (422, "invalid_name"), "{v}");
    let mut bad = request("east", "filing", "2026-12-02", "10:00", 1);
    bad["phone"] = json!("1381234123");
    let (s, v) = book(&api, None, bad).await;
    assert_eq!((s, code(&v)), (422, "invalid_phone"), "{v}");
    let mut bad = request("east", "filing", "2026-12-02", "10:00", 1);
    let id = resident_id(1);
    let wrong = if id.ends_with('1') { "2" } else { "1" };
    bad["id_number"] = json!(format!("{}{wrong}", &id[..17]));
    let (s, v) = book(&api, None, bad).await;
    assert_eq!((s, code(&v)), (422, "invalid_id_number"), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("id_number"), "{v}");
    // A 统一社会信用代码 with a right check character books.
    let mut company = request("east", "invoice", "2026-12-02", "10:00", 2);
    company["id_number"] = json!("91350100M000100Y43");
    let (s, v) = book(&api, None, company.clone()).await;
    assert_eq!((s, code(&v)), (422, "phone_code_required"), "the public page proves the phone: {v}");
    let (s, v) = public_book(&srv, company).await;
    assert_eq!(s, 201, "{v}");

    // Calendar: holiday and Sunday closed, the 调休 Saturday open, too far ahead refused.
    for day in ["2026-12-03", "2026-12-06"] {
        let (s, v) = book(&api, Some(BOOKER), request("east", "filing", day, "10:00", 3)).await;
        assert_eq!((s, code(&v)), (422, "closed_day"), "{day}: {v}");
    }
    let (s, v) = book(&api, Some(BOOKER), request("east", "filing", "2026-12-05", "10:00", 3)).await;
    assert_eq!(s, 201, "the 调休 Saturday: {v}");
    let (s, v) = book(&api, Some(BOOKER), request("east", "filing", "2026-12-09", "10:00", 3)).await;
    assert_eq!((s, code(&v)), (422, "outside_booking_window"), "{v}");
    for start in ["09:00", "09:30"] {
        let (s, v) = book(&api, Some(BOOKER), request("east", "filing", "2026-12-01", start, 3)).await;
        assert_eq!((s, code(&v)), (422, "outside_booking_window"), "{start}: {v}");
    }
    let (s, v) = book(&api, Some(BOOKER), request("east", "filing", "2026-12-02", "10:15", 3)).await;
    assert_eq!((s, code(&v)), (422, "outside_booking_window"), "not a slot: {v}");

    // One booking per person, service and day; a repeated request is the same booking.
    let first = request("east", "filing", "2026-12-02", "10:00", 4);
    let (s, v1) = book(&api, Some(BOOKER), first.clone()).await;
    assert_eq!(s, 201, "{v1}");
    let (s, v2) = book(&api, Some(BOOKER), first.clone()).await;
    assert_eq!((s, &v2["code"]), (200, &v1["code"]), "{v2}");
    let mut other_slot = request("east", "filing", "2026-12-02", "14:00", 4);
    other_slot["request_id"] = json!("another");
    let (s, v) = book(&api, Some(BOOKER), other_slot).await;
    assert_eq!((s, code(&v)), (409, "duplicate_booking"), "{v}");

    // A full slot (one consulting place per slot here).
    booked(&api, request("east", "consulting", "2026-12-02", "10:00", 5)).await;
    let (s, v) = book(&api, Some(BOOKER), request("east", "consulting", "2026-12-02", "10:00", 6)).await;
    assert_eq!((s, code(&v)), (409, "slot_full"), "{v}");
    assert_eq!(slot_free(&api, "east", "consulting", "2026-12-02", "10:00").await, 0);

    // The booker's view is masked; a wrong phone finds nothing.
    let c = v1["code"].as_str().unwrap();
    assert!(c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()), "{c}");
    assert_eq!(v1["name"], "张*");
    assert_eq!(v1["phone"], "138****1234");
    assert!(!v1.to_string().contains(&resident_id(4)), "{v1}");
    assert_eq!(time(&v1["check_in_from"]), local("2026-12-02T09:45:00+08:00"));
    assert_eq!(time(&v1["check_in_until"]), local("2026-12-02T10:10:00+08:00"));
    let view = |phone: &str| Some(json!({"phone": phone}));
    let (s, v) = api.call("POST", &format!("/api/v1/appointments/{c}/view"), None, view("13812341234")).await;
    assert_eq!((s, &v["name"], &v["phone"]), (200, &json!("张*"), &json!("138****1234")), "{v}");
    let (s, v) = api.call("POST", &format!("/api/v1/appointments/{c}/view"), None, view("13900000000")).await;
    assert_eq!((s, code(&v)), (404, "unknown_booking"), "{v}");
    // The phone stays out of URLs: the old query form is gone.
    let (s, _) = api.get(&format!("/api/v1/appointments/{c}?phone=13812341234")).await;
    assert!(s == 404 || s == 405, "{s}");

    // Cancelling frees the place; a second cancel says so.
    let before = slot_free(&api, "east", "filing", "2026-12-02", "10:00").await;
    let (s, v) = api.call("POST", &format!("/api/v1/appointments/{c}/cancel"), None, view("13812341234")).await;
    assert_eq!((s, &v["state"]), (200, &json!("cancelled")), "{v}");
    assert_eq!(slot_free(&api, "east", "filing", "2026-12-02", "10:00").await, before + 1);
    let (s, v) = api.call("POST", &format!("/api/v1/appointments/{c}/cancel"), None, view("13812341234")).await;
    assert_eq!((s, code(&v)), (409, "booking_cancelled"), "{v}");

    // Only the public page and booking clients book; kiosks do not.
    let (s, v) = book(&api, Some("demo-kiosk-east"), request("east", "filing", "2026-12-02", "11:00", 7)).await;
    assert_eq!((s, code(&v)), (403, "forbidden"), "{v}");
    // The supervisors' list is whole.
    let all = bookings(&api, "2026-12-02").await;
    assert!(all.iter().any(|b| b["id_number"] == resident_id(4) && b["phone"] == "13812341234" && b["name"] == "张三"), "{all:?}");
}

/// One person's booking with their own phone.
fn own_phone(mut body: Value, person: u32) -> Value {
    body["phone"] = json!(format!("1391234{person:04}"));
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_page_books_a_few_times_per_address_and_hour() {
    let text = config().replace("bookings_per_hour_per_address = 10", "bookings_per_hour_per_address = 3");
    let srv = Server::start_at(&text, TUE_0900);
    let api = srv.api();
    // One slot takes two bookings from one address (a family), not a whole slot's places.
    for p in 0..2 {
        let (s, v) = public_book(&srv, own_phone(request("east", "filing", "2026-12-02", "10:00", 10 + p), 10 + p)).await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = public_book(&srv, own_phone(request("east", "filing", "2026-12-02", "10:00", 12), 12)).await;
    assert_eq!((s, code(&v)), (429, "too_many_bookings"), "a third of the slot: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("slot"), "{v}");
    // Three tries an hour from one address: a fourth (another slot) waits.
    let (s, v) = public_book(&srv, own_phone(request("east", "filing", "2026-12-02", "10:30", 14), 14)).await;
    assert_eq!((s, code(&v)), (429, "too_many_bookings"), "{v}");
    assert!(v["error"]["retry_after_s"].as_u64().is_some_and(|r| r > 0 && r <= 3600), "{v}");
    // Integration clients are not limited by address.
    let (s, v) = book(&api, Some(BOOKER), request("east", "filing", "2026-12-02", "10:00", 13)).await;
    assert_eq!(s, 201, "{v}");
}

/// 查询/取消我的预约: the bookings of today and later made with that phone and ID number,
/// masked, in a POST body; a wrong pair finds nothing (and does not say which was wrong); a
/// client address may look up 30 times an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_bookings_are_found_by_phone_and_id_number_a_few_times_per_hour() {
    let srv = Server::start_at(&config(), TUE_0900);
    let api = srv.api();
    let first = booked(&api, request("east", "filing", "2026-12-02", "10:00", 7)).await;
    let second = booked(&api, request("west", "invoice", "2026-12-04", "09:30", 7)).await;
    booked(&api, request("east", "filing", "2026-12-02", "10:00", 8)).await;
    let lookup = |phone: &str, person: u32| json!({"phone": phone, "id_number": resident_id(person)});
    let (s, v) = api.call("POST", "/api/v1/appointments/lookup", None, Some(lookup("13812341234", 7))).await;
    assert_eq!(s, 200, "{v}");
    let codes: Vec<&str> = v["bookings"].as_array().unwrap().iter().map(|b| b["code"].as_str().unwrap()).collect();
    assert_eq!(codes, [first.as_str(), second.as_str()], "soonest first, only this person's");
    assert_eq!(v["bookings"][0]["phone"], "138****1234", "masked");
    for (phone, person) in [("13900000000", 7), ("13812341234", 9)] {
        let (s, v) = api.call("POST", "/api/v1/appointments/lookup", None, Some(lookup(phone, person))).await;
        assert_eq!((s, v["bookings"].as_array().map(Vec::len)), (200, Some(0)), "{v}");
    }
    let (s, v) = api.call("POST", "/api/v1/appointments/lookup", None, Some(json!({"phone": "123", "id_number": resident_id(7)}))).await;
    assert_eq!((s, code(&v)), (422, "invalid_phone"), "{v}");
    // 30 an hour from one address (4 used so far).
    for _ in 0..26 {
        assert_eq!(api.call("POST", "/api/v1/appointments/lookup", None, Some(lookup("13812341234", 7))).await.0, 200);
    }
    let (s, v) = api.call("POST", "/api/v1/appointments/lookup", None, Some(lookup("13812341234", 7))).await;
    assert_eq!((s, code(&v)), (429, "too_many_bookings"), "{v}");
    assert!(v["error"]["retry_after_s"].as_u64().is_some_and(|s| s > 0), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_in_refusals_cancel_deadline_and_opening_hours() {
    let mut srv = Server::start_at(&config(), TUE_0855);
    let api = srv.api();
    let here = booked(&api, request("east", "filing", "2026-12-01", "10:00", 20)).await;
    let west = booked(&api, request("west", "filing", "2026-12-01", "10:00", 21)).await;
    let later = booked(&api, request("east", "invoice", "2026-12-01", "10:30", 22)).await;
    let missed = booked(&api, request("east", "filing", "2026-12-01", "09:30", 23)).await;
    let cancel_ok = booked(&api, request("east", "invoice", "2026-12-01", "11:00", 24)).await;
    // Before 09:00 no walk-in tickets.
    let (s, v) = api.call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing"}))).await;
    assert_eq!((s, code(&v)), (409, "hall_closed"), "{v}");
    assert_eq!(time(&v["error"]["at"]), local(TUE_0900));

    restart_at(&mut srv, "2026-12-01T09:50:00+08:00");
    let api = srv.api();
    let (s, v) = api.call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing"}))).await;
    assert_eq!(s, 201, "{v}");
    let (s, t1) = check_in(&api, "east", json!({"code": here, "request_id": "k1"})).await;
    assert_eq!(s, 201, "{t1}");
    assert_eq!(t1["service"], "filing");
    assert!(t1["number"].as_str().unwrap().starts_with('A'), "an ordinary number: {t1}");
    assert_eq!(time(&t1["appointment"]["start"]), local("2026-12-01T10:00:00+08:00"));
    let (s, again) = check_in(&api, "east", json!({"code": here, "request_id": "k1"})).await;
    assert_eq!((s, &again["id"]), (200, &t1["id"]), "the same request: {again}");
    let (s, again) = check_in(&api, "east", json!({"code": here, "request_id": "k2"})).await;
    assert_eq!((s, &again["id"]), (200, &t1["id"]), "already checked in: the same ticket {again}");

    let (s, v) = check_in(&api, "east", json!({"code": west})).await;
    assert_eq!((s, code(&v), &v["error"]["hall"]), (409, "wrong_hall", &json!("west")), "{v}");
    let (s, v) = check_in(&api, "east", json!({"code": later})).await;
    assert_eq!((s, code(&v)), (409, "too_early"), "{v}");
    assert_eq!(time(&v["error"]["at"]), local("2026-12-01T10:15:00+08:00"));
    let (s, v) = check_in(&api, "east", json!({"code": missed})).await;
    assert_eq!((s, code(&v)), (410, "too_late"), "{v}");
    let (s, v) = check_in(&api, "east", json!({"code": "00000000"})).await;
    assert_eq!((s, code(&v)), (404, "unknown_booking"), "{v}");
    let (s, v) = check_in(&api, "east", json!({"id_number": resident_id(99)})).await;
    assert_eq!((s, code(&v)), (404, "unknown_booking"), "{v}");
    let (s, v) = api.call("POST", "/api/v1/halls/east/check-in", Some("demo-kiosk-west"), Some(json!({"code": here}))).await;
    assert_eq!((s, code(&v)), (403, "forbidden"), "another hall's kiosk: {v}");
    // By ID number, which anyone may type, the answer is a ticket or "no booking": nothing
    // about where (the west booking at the east kiosk) or when (the 10:30 one, too early).
    for person in [21, 22] {
        let (s, v) = check_in(&api, "east", json!({"id_number": resident_id(person)})).await;
        assert_eq!((s, code(&v)), (404, "unknown_booking"), "{v}");
        assert!(v["error"]["hall"].is_null() && v["error"]["at"].is_null(), "{v}");
    }
    // The west booking checks in at the west kiosk by ID number; again, the same ticket (200).
    let (s, v) = check_in(&api, "west", json!({"id_number": resident_id(21).to_lowercase()})).await;
    assert_eq!(s, 201, "{v}");
    let (s, again) = check_in(&api, "west", json!({"id_number": resident_id(21)})).await;
    assert_eq!((s, &again["number"]), (200, &v["number"]), "{again}");

    // Cancelling closes 60 minutes before the slot.
    let phone = Some(json!({"phone": "13812341234"}));
    let (s, v) = api.call("POST", &format!("/api/v1/appointments/{later}/cancel"), None, phone.clone()).await;
    assert_eq!((s, code(&v)), (409, "cancel_too_late"), "{v}");
    let (s, v) = api.call("POST", &format!("/api/v1/appointments/{cancel_ok}/cancel"), None, phone).await;
    assert_eq!(s, 200, "{v}");

    // The day's list and counts.
    let day = bookings(&api, "2026-12-01").await;
    let state = |c: &str| day.iter().find(|b| b["code"] == c).map(|b| b["state"].clone()).unwrap();
    assert_eq!(state(&here), "checked_in");
    assert_eq!(state(&missed), "no_show");
    assert_eq!(state(&cancel_ok), "cancelled");
    assert_eq!(state(&later), "booked");
    let (s, v) = api.call("GET", "/api/v1/appointments/stats?from=2026-12-01&to=2026-12-01", Some(SUPERVISOR), None).await;
    assert_eq!(s, 200, "{v}");
    let east = v.as_array().unwrap().iter().find(|r| r["hall"] == "east").unwrap();
    assert_eq!(
        (&east["booked"], &east["cancelled"], &east["checked_in"], &east["no_show"]),
        (&json!(4), &json!(1), &json!(1), &json!(1)),
        "{v}"
    );
    let (s, csv) = {
        let r = api.client.with_token(SUPERVISOR).raw("GET", "/api/v1/appointments/stats?from=2026-12-01&to=2026-12-01&format=csv", &[], None).await.unwrap();
        (r.status, String::from_utf8_lossy(&r.body).to_string())
    };
    assert_eq!(s, 200);
    assert!(csv.contains("day,hall,booked,cancelled,checked_in,no_show") && csv.contains("2026-12-01,east,4,1,1,1"), "{csv}");

    // 11:30: issuing stopped 30 minutes before 12:00; the answer says when it opens again.
    restart_at(&mut srv, "2026-12-01T11:31:00+08:00");
    let api = srv.api();
    let (s, v) = api.call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing"}))).await;
    assert_eq!((s, code(&v)), (409, "hall_closed"), "{v}");
    assert_eq!(time(&v["error"]["at"]), local("2026-12-01T13:30:00+08:00"));
    let halls = api.halls().await;
    let east = halls.halls.iter().find(|h| h.id == "east").unwrap();
    assert!(east.services.iter().all(|s| s.closed_until == Some(local("2026-12-01T13:30:00+08:00"))), "{:?}", east.services);
    assert_eq!(east.hours, ["09:00-12:00", "13:30-17:00"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekend_kiosk_is_told_when_tickets_start_again() {
    // Saturday 01:52, the hour the old system still issued tickets.
    let srv = Server::start_at(&demo_config_text(), "2026-11-28T01:52:00+08:00");
    let api = srv.api();
    let (s, v) = api.call("POST", "/api/v1/halls/east/tickets", Some("demo-kiosk-east"), Some(json!({"service": "filing"}))).await;
    assert_eq!((s, code(&v)), (409, "hall_closed"), "{v}");
    assert_eq!(time(&v["error"]["at"]), local("2026-11-30T09:00:00+08:00"), "Monday 09:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_bookings_race_for_five_places_and_survive_a_crash() {
    let text = config().replacen("# [[appointments.capacity]]", "[[appointments.capacity]]\nhall = \"east\"\nservice = \"registration\"\nper_slot = 5\n\n# [[appointments.capacity]]", 1);
    let mut srv = Server::start_at(&text, TUE_0900);
    let api = srv.api();
    let tasks: Vec<_> = (0..40)
        .map(|p| {
            let api = api.clone();
            tokio::spawn(async move { book(&api, Some(BOOKER), request("east", "registration", "2026-12-02", "10:00", 100 + p)).await })
        })
        .collect();
    let mut ok = 0;
    let mut full = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match (s, code(&v)) {
            (201, _) => ok += 1,
            (409, "slot_full") => full += 1,
            other => panic!("unexpected {other:?}: {v}"),
        }
    }
    assert_eq!((ok, full), (5, 35));
    assert_eq!(slot_free(&api, "east", "registration", "2026-12-02", "10:00").await, 0);

    srv.kill();
    srv.clock_start = Some("2026-12-01T09:05:00+08:00".into());
    srv.start_again();
    let api = srv.api();
    assert_eq!(slot_free(&api, "east", "registration", "2026-12-02", "10:00").await, 0, "still full after the crash");
    let kept = bookings(&api, "2026-12-02").await;
    assert_eq!(kept.iter().filter(|b| b["service"] == "registration" && b["state"] == "booked").count(), 5);
    let (s, v) = book(&api, Some(BOOKER), request("east", "registration", "2026-12-02", "10:00", 200)).await;
    assert_eq!((s, code(&v)), (409, "slot_full"), "{v}");
}

/// Polls until `f` holds (the server's ticker runs every few seconds); only a guard against
/// hanging, never a measurement.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_no_shows_bar_booking_for_thirty_days() {
    let mut srv = Server::start_at(&config(), TUE_0900);
    let api = srv.api();
    let days = ["2026-12-01", "2026-12-02", "2026-12-04"];
    for d in days {
        booked(&api, request("east", "filing", d, "10:00", 30)).await;
    }
    for d in days {
        // The check-in window closed at 10:10: the ticker makes it a no-show.
        restart_at(&mut srv, &format!("{d}T10:11:00+08:00"));
        let api = srv.api();
        eventually("the booking became a no-show", || {
            let api = api.clone();
            async move { bookings(&api, d).await.iter().any(|b| b["state"] == "no_show") }
        })
        .await;
    }
    let api = srv.api();
    let (s, v) = book(&api, Some(BOOKER), request("east", "filing", "2026-12-07", "10:00", 30)).await;
    assert_eq!((s, code(&v)), (403, "booking_banned"), "{v}");
    assert_eq!(time(&v["error"]["at"]), local("2027-01-03T00:00:00+08:00"), "30 days after the third no-show");
    let (s, v) = book(&api, Some(BOOKER), request("east", "filing", "2026-12-07", "10:00", 31)).await;
    assert_eq!(s, 201, "others still book: {v}");
    let (_, stats) = api.call("GET", "/api/v1/appointments/stats?from=2026-12-01&to=2026-12-04", Some(SUPERVISOR), None).await;
    let no_shows: u64 = stats.as_array().unwrap().iter().map(|r| r["no_show"].as_u64().unwrap()).sum();
    assert_eq!(no_shows, 3, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_stays_private_and_is_purged_after_retention() {
    const NAME: &str = "欧阳娜娜";
    const PHONE: &str = "13912345678";
    let id = resident_id(40);
    let mut srv = Server::start_at(&config(), TUE_0900);
    let mut ws = ws_connect_as(&srv.ws_url("/api/v1/events"), SUPERVISOR).await;
    let _snapshot = ws_next(&mut ws).await;
    let mut body = request("east", "filing", "2026-12-01", "10:00", 40);
    body["name"] = json!(NAME);
    body["phone"] = json!(PHONE);
    let (s, b) = public_book(&srv, body).await;
    assert_eq!(s, 201, "{b}");
    let c = b["code"].as_str().unwrap().to_string();
    let secret = |text: &str| text.contains(NAME) || text.contains(PHONE) || text.contains(&id) || text.contains("欧阳");
    let seen = ws_next(&mut ws).await;
    assert!(!secret(&serde_json::to_string(&seen).unwrap()), "{seen:?}");
    assert!(!secret(&b.to_string()), "the booker's answer is masked: {b}");
    assert_eq!((b["name"].as_str(), b["phone"].as_str()), (Some("欧***"), Some("139****5678")));

    restart_at(&mut srv, "2026-12-01T09:50:00+08:00");
    let api = srv.api();
    let mut ws = ws_connect_as(&srv.ws_url("/api/v1/events"), SUPERVISOR).await;
    let (s, t) = check_in(&api, "east", json!({"code": c})).await;
    assert_eq!(s, 201, "{t}");
    let _snapshot = ws_next(&mut ws).await;
    let issued = ws_next(&mut ws).await;
    assert!(matches!(issued.kind, qcall_wire::EventKind::TicketIssued { .. }), "{issued:?}");
    assert!(!secret(&serde_json::to_string(&issued).unwrap()), "{issued:?}");
    for path in ["/api/v1/halls".to_string(), format!("/api/v1/tickets/{}", t["id"]), format!("/t/{}", t["id"])] {
        let r = api.get_raw(&path, None).await;
        let text = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 200, "{path}");
        assert!(!secret(&text), "{path} shows personal data");
    }
    let db = srv.db.clone();
    let events: Vec<String> = {
        let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut st = conn.prepare("SELECT body FROM events").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert!(events.len() >= 2, "{events:?}");
    assert!(!events.iter().any(|e| secret(e)), "no personal data in the event log: {events:?}");

    // 91 days later the rows are gone; the counts stay.
    restart_at(&mut srv, "2027-03-02T09:00:00+08:00");
    let api = srv.api();
    let rows = |sql: &'static str| {
        let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap()
    };
    eventually("the booking rows are purged", || async { rows("SELECT COUNT(*) FROM appointments") == 0 }).await;
    assert_eq!(rows("SELECT COUNT(*) FROM appointment_counts WHERE day = '2026-12-01' AND booked = 1 AND checked_in = 1"), 1);
    let (s, v) = api.call("GET", "/api/v1/appointments/stats?from=2026-12-01&to=2026-12-01", Some(SUPERVISOR), None).await;
    assert_eq!((s, &v[0]["booked"], &v[0]["checked_in"]), (200, &json!(1), &json!(1)), "{v}");
    let (s, v) = api.call("POST", &format!("/api/v1/appointments/{c}/view"), None, Some(json!({"phone": PHONE}))).await;
    assert_eq!((s, code(&v)), (404, "unknown_booking"), "{v}");
    // Nothing in the whole database names the person any more.
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let tables: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    for table in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n = st.column_count();
        let mut rs = st.query([]).unwrap();
        while let Some(r) = rs.next().unwrap() {
            for i in 0..n {
                if let Ok(rusqlite::types::ValueRef::Text(t)) = r.get_ref(i) {
                    assert!(!secret(&String::from_utf8_lossy(t)), "table {table} still holds personal data");
                }
            }
        }
    }
}

/// The kiosk as a taxpayer meets it: check in by typing the code, by scanning the
/// confirmation's QR code, and by ID number; each ticket prints with 预约 and the slot; too
/// early says when. At the slot the appointments are called before older walk-ins.
#[test]
fn kiosk_checks_in_by_code_scan_and_id_and_the_slot_goes_first() {
    let _pty = pty_lock();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut srv = Server::start_at(&config(), TUE_0900);
    let api = srv.api();
    let codes: Vec<String> =
        (50..53).map(|p| rt.block_on(booked(&api, request("east", "filing", "2026-12-01", "10:00", p)))).collect();
    let early = rt.block_on(booked(&api, request("east", "filing", "2026-12-01", "11:00", 53)));
    // Two walk-ins take their tickets before anyone checks in.
    let walk_ins: Vec<String> = (0..2).map(|_| rt.block_on(api.issue("east", "filing")).number).collect();
    restart_at(&mut srv, "2026-12-01T09:50:00+08:00");

    let ScanningKiosk { mut h, sim, mut scanner, _scanner_slave: scanner_slave, paper } = kiosk_with_scanner(&srv.url);
    assert!(h.controller.view().check_in_enabled, "the 预约签到 button is on");
    assert!(h.controller.view().clock.contains("09:5"), "the kiosk shows the server's time: {}", h.controller.view().clock);

    let type_in = |h: &mut Headless, text: &str| {
        h.dispatch(Event::OpenCheckIn);
        assert_eq!(h.controller.screen(), Screen::CheckIn);
        for c in text.chars() {
            h.dispatch(Event::CheckInKey(c));
        }
        h.dispatch(Event::CheckInSubmit { fresh_request_id: new_request_id() });
    };
    let mut printed = 0;
    let mut tickets = vec![];
    let mut expect_ticket = |h: &mut Headless, how: &str| {
        assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "{how}: no ticket screen ({:?})", h.controller.view().check_in);
        let t = h.controller.last_ticket().cloned().unwrap();
        assert_eq!(t.appointment.map(|a| a.start), Some(local("2026-12-01T10:00:00+08:00")), "{how}: {t:?}");
        let view = h.controller.view().ticket.unwrap();
        assert!(view.appointment.contains("10:00-10:30"), "{how}: the screen shows the slot: {view:?}");
        let deadline = Instant::now() + LIMIT;
        let expected = escpos::render(&h.controller.ticket_print(&t), &escpos::Layout::for_paper(paper));
        while sim.received().len() < printed + expected.len() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let got = sim.received()[printed..].to_vec();
        printed += got.len();
        let mark = escpos::encode_strict("预约 10:00-10:30").unwrap();
        assert!(got.windows(mark.len()).any(|w| w == mark.as_slice()), "{how}: the paper says 预约 and the slot");
        tickets.push(t.number.clone());
        h.dispatch(Event::Dismiss);
    };

    type_in(&mut h, &codes[0]);
    expect_ticket(&mut h, "typed code");
    scanner.write_all(format!("{}\r\n", codes[1]).as_bytes()).unwrap();
    expect_ticket(&mut h, "scanned QR code");
    type_in(&mut h, &resident_id(52));
    expect_ticket(&mut h, "ID number");
    // The same ID number again: the same number on screen, and no second slip.
    let paper_before = sim.received().len();
    type_in(&mut h, &resident_id(52));
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "{:?}", h.controller.view().check_in);
    let view = h.controller.view().ticket.unwrap();
    assert_eq!(view.number, tickets[2], "the same ticket");
    assert!(view.headline.contains("不再重复打印"), "{view:?}");
    h.pump_until(Duration::from_millis(500), |_| false);
    assert_eq!(sim.received().len(), paper_before, "nothing printed again");
    h.dispatch(Event::Dismiss);

    type_in(&mut h, &early);
    assert!(
        h.pump_until(LIMIT, |c| c.view().check_in.is_some_and(|v| v.note.contains("10:45"))),
        "too early names the time: {:?}",
        h.controller.view().check_in
    );
    type_in_again(&mut h, "00000000");
    assert!(h.pump_until(LIMIT, |c| c.view().check_in.is_some_and(|v| v.note.contains("未找到"))), "{:?}", h.controller.view().check_in);
    drop(h);
    drop(scanner_slave);

    // 10:00: the slot has started; the three appointments go before the older walk-ins.
    restart_at(&mut srv, "2026-12-01T10:00:30+08:00");
    let api = srv.api();
    let tok = rt.block_on(api.sign_in("clerk01", "E01"));
    let mut called = vec![];
    for _ in 0..5 {
        if !called.is_empty() {
            let (s, v) = rt.block_on(api.act(&tok, "E01", "finish"));
            assert_eq!(s, 200, "{v}");
        }
        let (s, v) = rt.block_on(api.act(&tok, "E01", "call-next"));
        assert_eq!(s, 200, "{v}");
        called.push(v["ticket"]["number"].as_str().unwrap().to_string());
    }
    let mut want = tickets.clone();
    want.extend(walk_ins);
    assert_eq!(called, want, "appointments at their slot first, then walk-ins, oldest first");
}

/// The check-in screen is open after a refusal: clear what is there and type anew.
fn type_in_again(h: &mut Headless, text: &str) {
    for _ in 0..18 {
        h.dispatch(Event::CheckInBackspace);
    }
    for c in text.chars() {
        h.dispatch(Event::CheckInKey(c));
    }
    h.dispatch(Event::CheckInSubmit { fresh_request_id: new_request_id() });
}
