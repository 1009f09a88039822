//! Bookings and the public face: slots, proof by phone code, quotas, no staff routes.

use super::*;

/// A client books the slot it was given: `start` exactly as the slot list has it, or `HH:MM`.
#[tokio::test]
async fn a_slot_is_booked_by_the_start_the_slot_list_gives() {
    let r = Rig::new();
    let slots: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", "/api/v1/appointments/slots?hall=east&service=filing", None, None).await).unwrap();
    let mut free = slots.slots.iter().filter(|s| s.bookable);
    let (first, second) = (free.next().expect("a bookable slot"), free.next().expect("two"));
    let person = |n: u32| {
        let base = format!("1101051990010{n:04}");
        let sum: u32 = base.bytes().zip([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]).map(|(b, w)| u32::from(b - b'0') * w).sum();
        format!("{base}{}", b"10X98765432"[(sum % 11) as usize] as char)
    };
    let mut codes = std::collections::HashMap::new();
    for n in [1, 2, 4, 5] {
        let phone = format!("1381234{n:04}");
        codes.insert(n, r.phone_code(&phone).await);
    }
    let book = |start: String, id: &str, n: u32| {
        json!({"hall": "east", "service": "filing", "date": slots.date, "start": start, "name": "张三",
               "phone": format!("1381234{n:04}"), "id_number": person(n), "request_id": id, "phone_code": codes[&n]})
    };
    let listed = serde_json::to_value(first.start).unwrap().as_str().unwrap().to_string();
    assert!(listed.contains('T'), "the list gives an RFC 3339 time: {listed}");
    let v: wire::Booking = serde_json::from_value(r.ok("POST", "/api/v1/appointments", None, Some(book(listed, "b-1", 1))).await).unwrap();
    assert_eq!(v.slot.start, first.start);
    // The same instant in another offset is the same slot; HH:MM is the hall's local time.
    let shanghai = first.start.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).to_rfc3339();
    let a = r.send("POST", "/api/v1/appointments", None, Some(book(shanghai, "b-2", 2))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let a = r.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(json!({"hall": "east", "service": "filing", "date": slots.date,
        "start": second.start_local, "name": "李四", "phone": "13912340003", "id_number": person(3), "request_id": "b-3"}))).await;
    assert!(a.status.is_success(), "{}", a.text());
    // A start on another day, or between slot starts, is refused by name.
    let next_day = (first.start + chrono::Duration::days(1)).to_rfc3339();
    let a = r.send("POST", "/api/v1/appointments", None, Some(book(next_day, "b-4", 4))).await;
    assert_eq!(a.code(), Some(ErrorCode::OutsideBookingWindow), "{}", a.text());
    let odd = (first.start + chrono::Duration::seconds(30)).to_rfc3339();
    let a = r.send("POST", "/api/v1/appointments", None, Some(book(odd, "b-5", 5))).await;
    assert_eq!(a.code(), Some(ErrorCode::OutsideBookingWindow), "{}", a.text());
}

/// A valid resident ID number (GB 11643 check character).
fn resident_id(n: u32) -> String {
    let base = format!("1101051990010{n:04}");
    let sum: u32 = base.bytes().zip([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]).map(|(b, w)| u32::from(b - b'0') * w).sum();
    format!("{base}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

/// The attack of the audit: a stranger who knows a taxpayer's ID number books five times and
/// cancels five times to have them barred for 30 days. A public booking now needs the code
/// sent to the booker's phone, so the stranger books with their own phone, bars only that
/// pair, and the taxpayer still books with theirs. Without the victim's code the victim's phone
/// gets nowhere: the code is required, a wrong one refused, five wrong ones void it.
#[tokio::test]
async fn a_stranger_who_knows_an_id_number_cannot_bar_its_owner() {
    let r = Rig::new();
    let days: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", "/api/v1/appointments/slots?hall=east&service=filing", None, None).await).unwrap();
    // A later day: cancels stay in time while the clock moves on.
    let last = days.bookable_days.last().unwrap();
    let slots: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", &format!("/api/v1/appointments/slots?hall=east&service=filing&date={last}"), None, None).await).unwrap();
    let victim_id = resident_id(77);
    let (victim, stranger) = ("13812340077", "13900000066");
    let free: Vec<&wire::SlotInfo> = slots.slots.iter().filter(|s| s.bookable).collect();
    assert!(free.len() >= 6, "six free slots: {}", free.len());
    let body = |phone: &str, slot: &wire::SlotInfo, code: Option<&str>, rid: &str| {
        json!({"hall": "east", "service": "filing", "date": slots.date, "start": slot.start_local, "name": "王五",
               "phone": phone, "id_number": victim_id, "request_id": rid, "phone_code": code})
    };
    // With the victim's phone but no code, or a guessed one: refused.
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[0], None, "v-0"))).await;
    assert_eq!(a.code(), Some(ErrorCode::PhoneCodeRequired), "{}", a.text());
    let real = r.phone_code(victim).await;
    let wrong = if real == "000000" { "000001" } else { "000000" };
    for i in 0..5 {
        let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[0], Some(wrong), &format!("v-w{i}")))).await;
        assert_eq!(a.code(), Some(ErrorCode::WrongPhoneCode), "{}", a.text());
    }
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[0], Some(&real), "v-1"))).await;
    assert_eq!(a.code(), Some(ErrorCode::WrongPhoneCode), "five wrong tries voided the code: {}", a.text());
    // The stranger, with their own phone: five bookings and five cancels, each after the free
    // ten minutes.
    for (i, slot) in free.iter().take(5).enumerate() {
        let code = r.phone_code(stranger).await;
        let v = r.ok("POST", "/api/v1/appointments", None, Some(body(stranger, slot, Some(&code), &format!("s-{i}")))).await;
        r.clock.advance(13 * 60_000);
        r.ok("POST", &format!("/api/v1/appointments/{}/cancel", v["code"].as_str().unwrap()), None, Some(json!({"phone": stranger}))).await;
    }
    let code = r.phone_code(stranger).await;
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(stranger, free[5], Some(&code), "s-6"))).await;
    // The stranger is stopped (five bookings a phone a day; the ban they earned) …
    assert!(matches!(a.code(), Some(ErrorCode::TooManyBookings | ErrorCode::BookingBanned)), "{}", a.text());
    let records = r.app.state.engine.shared.core.read().await.state.bookings().records.clone();
    assert!(records[&format!("{victim_id}/{stranger}")].banned_until.is_some(), "the ban is the stranger's own");
    assert!(!records.contains_key(&format!("{victim_id}/{victim}")), "nothing counts against the owner");
    // The owner of the ID number, with their phone and its code, books as before.
    let code = r.phone_code(victim).await;
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[5], Some(&code), "v-2"))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    // A code serves one booking.
    let a = r.send("POST", "/api/v1/appointments", None, Some(body(victim, free[4], Some(&code), "v-3"))).await;
    assert_eq!(a.code(), Some(ErrorCode::WrongPhoneCode), "{}", a.text());
}

/// A code goes to a phone once a minute, five times an hour; a booking client vouches for its
/// user and needs none.
#[tokio::test]
async fn codes_are_limited_per_phone_and_booking_clients_need_none() {
    let r = Rig::new();
    r.phone_code("13812340001").await;
    let a = r.send("POST", "/api/v1/appointments/phone-code", None, Some(json!({"phone": "13812340001"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::TooManyCodes), "{}", a.text());
    let a = r.send("POST", "/api/v1/appointments/phone-code", None, Some(json!({"phone": "123"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::InvalidPhone), "{}", a.text());
    let slots: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", "/api/v1/appointments/slots?hall=east&service=filing", None, None).await).unwrap();
    let slot = slots.slots.iter().find(|s| s.bookable).unwrap();
    let a = r.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(json!({"hall": "east", "service": "filing", "date": slots.date,
        "start": slot.start_local, "name": "李四", "phone": "13912340003", "id_number": resident_id(3), "request_id": "c-1"}))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
}

/// The public face has what a taxpayer's phone needs and nothing of the staff's.
#[tokio::test]
async fn the_public_face_has_no_staff_routes() {
    let r = Rig::new();
    let public = crate::http::public_router(r.app.state.clone());
    let status = |method: &str, path: &str, body: Option<Value>| {
        let public = public.clone();
        let (method, path) = (method.to_string(), path.to_string());
        async move {
            let mut req = HttpRequest::builder().method(method.as_str()).uri(path.as_str()).header(header::HOST, "127.0.0.1:8080");
            if body.is_some() {
                req = req.header(header::CONTENT_TYPE, "application/json");
            }
            let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
            public.oneshot(req.body(body).unwrap()).await.unwrap().status().as_u16()
        }
    };
    let t = r.issue("east", "filing").await;
    let ticket = format!("/t/{}", t.id);
    for path in ["/book", &ticket, "/api/v1/halls", "/api/v1/appointments/slots?hall=east&service=filing", "/web/app.js", "/web/book-text.js", "/web/book.js", "/web/book-mine.js", "/web/book.css"] {
        assert_ne!(status("GET", path, None).await, 404, "{path} is public");
    }
    for path in ["/counter", "/supervisor", "/metrics", "/api/v1/metrics", "/api/v1/overview", "/web/counter.js", "/web/supervisor.js", "/rate/E01"] {
        assert_eq!(status("GET", path, None).await, 404, "{path} is staff's");
    }
    let pin = Some(json!({"clerk": "clerk01", "pin": "1234", "counter": "E01"}));
    assert_eq!(status("POST", "/api/v1/sessions", pin).await, 404, "no staff sign-in from the internet");
    assert_eq!(status("POST", "/api/v1/supervisor-sessions", Some(json!({"id": "duty", "password": "x"}))).await, 404);
}

/// A booking client vouches for its users, within its own quota per hour.
#[tokio::test]
async fn a_booking_client_books_within_its_own_quota() {
    let r = Rig::with(|cfg, _| {
        for d in cfg.devices.iter_mut().filter(|d| d.kind == crate::config::DeviceKind::Booking) {
            d.bookings_per_hour = 2;
        }
    });
    let slots: wire::SlotsResponse =
        serde_json::from_value(r.ok("GET", "/api/v1/appointments/slots?hall=east&service=filing", None, None).await).unwrap();
    let slot = slots.slots.iter().find(|s| s.bookable).unwrap();
    let book = |n: u32| {
        json!({"hall": "east", "service": "filing", "date": slots.date, "start": slot.start_local, "name": "李四",
               "phone": format!("1391234{n:04}"), "id_number": resident_id(n), "request_id": format!("q-{n}")})
    };
    for n in 1..=2 {
        let a = r.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(book(n))).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    }
    let a = r.send("POST", "/api/v1/appointments", Some("demo-booking"), Some(book(3))).await;
    assert_eq!(a.code(), Some(ErrorCode::TooManyBookings), "{}", a.text());
}
