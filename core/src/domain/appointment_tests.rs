//! Opening hours, appointments and the call order with appointments.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone};

use super::*;

// One hall (east) open 09:00-12:00 and 13:30-17:00, and west (always open: no hours).
// Services: 0 filing (A), 1 invoice (B). Counters: E1 (both), E2 (both, prefers invoice), W1.
const EAST: usize = 0;
const WEST: usize = 1;
const A: usize = 0;
const B: usize = 1;
const E1: usize = 0;
const E2: usize = 1;
const W1: usize = 2;

const ID1: &str = "11010519491231002X";
const ID2: &str = "110105194912310037";
const ID3: &str = "440524188001010014";

fn topo() -> Arc<Topology> {
    let hall = |id: &str, hours: Vec<(u32, u32)>| HallDef {
        id: id.into(),
        name_zh: id.into(),
        name_en: id.into(),
        publicity: vec![],
        address: String::new(),
        hours,
        phone: Default::default(),
    };
    let service = |id: &str, p: char| ServiceDef {
        id: id.into(),
        prefix: p,
        name_zh: id.into(),
        name_en: id.into(),
        default_service_s: 300,
        daily_cap: None,
    };
    let counter = |id: &str, hall, number, preferred: Vec<usize>| CounterDef { id: id.into(), hall, number, services: vec![A, B], preferred, hours: vec![] };
    let mut t = Topology::new(
        vec![hall("east", vec![(540, 720), (810, 1020)]), hall("west", vec![])],
        vec![service("filing", 'A'), service("invoice", 'B')],
        vec![counter("E1", EAST, 1, vec![]), counter("E2", EAST, 2, vec![B]), counter("W1", WEST, 1, vec![])],
        0,
        chrono_tz::Asia::Shanghai,
    );
    // Thursday 2026-12-03 a holiday, Saturday 2026-12-05 worked instead.
    t.calendar.holidays.insert(date(3));
    t.calendar.workdays.insert(date(5));
    t.appointments.enabled = true;
    t.appointments.capacity.insert((EAST, A), 2);
    Arc::new(t)
}

/// 2026-12-`day`.
fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, day).unwrap()
}

/// 2026-12-`day` `h`:`m` Shanghai, in ms.
fn at(day: u32, h: u32, m: u32) -> Millis {
    chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 12, day, h, m, 0).unwrap().timestamp_millis()
}

fn hm(h: u32, m: u32) -> u32 {
    h * 60 + m
}

/// Tuesday 2026-12-01, 08:00, both east counters signed in.
fn state() -> State {
    let mut s = State::new(topo(), at(1, 8, 0));
    for c in [E1, E2] {
        s.apply(Command::SignIn { counter: c, clerk: format!("clerk{c}"), take_over: false }, at(1, 8, 0)).unwrap();
    }
    s
}

fn person(id: &str) -> Person {
    Person { person: id.into(), name: "张三".into(), phone: "13812341234".into() }
}

fn book(s: &mut State, service: usize, day: u32, slot: u32, id: &str, code: &str, now: Millis) -> Result<Vec<Event>, DomainError> {
    let cmd = Command::Book {
        hall: EAST,
        service,
        date: date(day),
        slot,
        who: person(id),
        code: code.into(),
        request_id: format!("req-{code}"),
    };
    s.apply(cmd, now)
}

fn walk_in(s: &mut State, service: usize, now: Millis) -> TicketId {
    walk_in_p(s, service, Priority::Normal, now)
}

fn walk_in_p(s: &mut State, service: usize, priority: Priority, now: Millis) -> TicketId {
    match s.apply(Command::Issue { hall: EAST, service, priority, request_id: None }, now).unwrap()[..] {
        [Event::TicketIssued { ticket }, ..] => ticket,
        ref other => panic!("{other:?}"),
    }
}

fn check_in(s: &mut State, code: &str, now: Millis) -> Result<TicketId, DomainError> {
    let events = s.apply(Command::CheckIn { hall: EAST, by: CheckInBy::Code(code.into()), request_id: None }, now)?;
    match events[..] {
        [Event::TicketIssued { ticket }, Event::BookingCheckedIn { .. }] => Ok(ticket),
        ref other => panic!("{other:?}"),
    }
}

fn call(s: &mut State, counter: usize, now: Millis) -> TicketId {
    if s.counter(counter).current.is_some() {
        s.apply(Command::Finish { counter }, now).unwrap();
    }
    match s.apply(Command::CallNext { counter }, now).unwrap()[..] {
        [Event::TicketCalled { ticket, .. }, ..] => ticket,
        ref other => panic!("{other:?}"),
    }
}

/// Moves the state to `now` as the server's ticker does.
fn tick(s: &mut State, now: Millis) -> Vec<Event> {
    s.apply(Command::Tick, now).unwrap()
}

#[test]
fn tickets_only_in_opening_hours() {
    let mut s = state();
    let t = s.topology().clone();
    assert_eq!(s.issuing(EAST, A, at(1, 8, 0)), Err(DomainError::HallClosed { next_open: Some(at(1, 9, 0)) }));
    assert!(s.apply(Command::Issue { hall: EAST, service: A, priority: Priority::Normal, request_id: None }, at(1, 8, 59)).is_err());
    assert_eq!(s.issuing(EAST, A, at(1, 9, 0)), Ok(()));
    assert_eq!(s.issuing(EAST, A, at(1, 11, 29)), Ok(()));
    // last_ticket_minutes (30) before each period closes.
    assert_eq!(s.issuing(EAST, A, at(1, 11, 30)), Err(DomainError::HallClosed { next_open: Some(at(1, 13, 30)) }));
    assert_eq!(s.issuing(EAST, A, at(1, 16, 45)), Err(DomainError::HallClosed { next_open: Some(at(2, 9, 0)) }));
    // Friday evening: Saturday 12-05 is a 调休 workday, Thursday 12-03 a holiday.
    assert_eq!(t.next_opening(EAST, at(2, 18, 0)), Some(at(4, 9, 0)), "the holiday is skipped");
    assert_eq!(t.next_opening(EAST, at(4, 18, 0)), Some(at(5, 9, 0)), "the worked Saturday opens");
    assert_eq!(t.next_opening(EAST, at(5, 18, 0)), Some(at(7, 9, 0)), "Sunday does not");
    // A hall without hours is always open.
    assert_eq!(s.issuing(WEST, A, at(6, 3, 0)), Ok(()));
}

#[test]
fn a_service_stops_when_its_wait_runs_past_closing() {
    let mut s = state();
    // 40 waiting × 300 s ÷ 2 counters = 100 minutes: at 10:30 that runs past 12:00.
    for i in 0..40 {
        walk_in(&mut s, A, at(1, 9, 0) + i);
    }
    assert!(matches!(s.issuing(EAST, A, at(1, 10, 30)), Err(DomainError::ServiceClosed { next_open: Some(n), .. }) if n == at(1, 13, 30)));
    assert_eq!(s.issuing(EAST, B, at(1, 10, 30)), Ok(()), "the other service still issues");
    assert!(s.overtime(EAST, 120 * 60, at(1, 9, 45)), "a wait into the last half hour is 延时服务");
    assert!(!s.overtime(EAST, 5 * 60, at(1, 9, 45)));
    // Waiting tickets are still served after closing.
    assert!(s.apply(Command::CallNext { counter: E1 }, at(1, 12, 30)).is_ok());
}

#[test]
fn issuing_changes_are_events_at_ticks() {
    let mut s = state();
    tick(&mut s, at(1, 8, 58));
    assert!(tick(&mut s, at(1, 9, 0)).contains(&Event::IssuingChanged { hall: EAST }));
    assert!(!tick(&mut s, at(1, 9, 1)).contains(&Event::IssuingChanged { hall: EAST }));
    assert!(tick(&mut s, at(1, 11, 30)).contains(&Event::IssuingChanged { hall: EAST }));
}

#[test]
fn slots_capacity_and_booking_window() {
    let s = state();
    let slots = s.slots(EAST, date(2));
    assert_eq!(slots.len(), 6 + 7, "09:00-12:00 and 13:30-17:00 in 30-minute slots");
    assert_eq!((slots[0], slots[6], *slots.last().unwrap()), (hm(9, 0), hm(13, 30), hm(16, 30)));
    assert_eq!(s.slot_capacity(EAST, A), 2, "configured");
    // Computed: 2 counters × 30 min ÷ 5 min × 0.5 = 6.
    assert_eq!(s.slot_capacity(EAST, B), 6);
    assert!(s.slots(EAST, date(3)).is_empty() && s.slots(EAST, date(6)).is_empty(), "holiday and Sunday");
    assert_eq!(s.slots(EAST, date(5)).len(), 13, "the worked Saturday has slots");
    // Today plus five working days: 1, 2, 4, 5 (Sat, worked), 7, 8.
    assert_eq!(s.bookable_days(EAST, at(1, 8, 0)), vec![date(1), date(2), date(4), date(5), date(7), date(8)]);
}

#[test]
fn booking_refusals() {
    let mut s = state();
    let now = at(1, 8, 0);
    assert!(book(&mut s, A, 2, hm(9, 0), ID1, "10000001", now).is_ok());
    assert_eq!(book(&mut s, A, 2, hm(9, 0), ID2, "10000002", now).map(|_| ()), Ok(()));
    assert_eq!(book(&mut s, A, 2, hm(9, 0), ID3, "10000003", now), Err(DomainError::SlotFull));
    assert_eq!(s.bookings().taken(EAST, A, date(2), hm(9, 0)), 2);
    assert!(matches!(book(&mut s, A, 2, hm(9, 30), ID1, "10000004", now), Err(DomainError::DuplicateBooking(_))), "same service, same day");
    assert!(book(&mut s, B, 2, hm(10, 0), ID1, "10000005", now).is_ok());
    assert_eq!(book(&mut s, A, 3, hm(9, 0), ID3, "10000006", now), Err(DomainError::ClosedDay(date(3))));
    assert!(matches!(book(&mut s, A, 9, hm(9, 0), ID3, "10000007", now), Err(DomainError::OutsideBookingWindow(_))), "beyond five working days");
    assert!(matches!(book(&mut s, A, 1, hm(9, 0), ID3, "10000008", at(1, 8, 31)), Err(DomainError::OutsideBookingWindow(_))), "same day until 30 minutes before");
    assert!(book(&mut s, A, 1, hm(9, 0), ID3, "10000009", at(1, 8, 30)).is_ok());
    assert!(matches!(book(&mut s, A, 2, hm(9, 15), ID3, "10000010", now), Err(DomainError::OutsideBookingWindow(_))), "not a slot start");
    let taken_code = Command::Book {
        hall: EAST,
        service: B,
        date: date(4),
        slot: hm(9, 0),
        who: person(ID3),
        code: "10000009".into(),
        request_id: "another".into(),
    };
    assert_eq!(s.apply(taken_code, now), Err(DomainError::CodeTaken), "the server draws another code");
    // The same request again (a fresh code, as the server makes one per request): the same
    // booking; the same request id for another booking is refused.
    let first = s.bookings().by_code("10000001").unwrap().id;
    let again = |service, code: &str| Command::Book {
        hall: EAST,
        service,
        date: date(2),
        slot: hm(9, 0),
        who: person(ID1),
        code: code.into(),
        request_id: "req-10000001".into(),
    };
    assert_eq!(s.apply(again(A, "99999999"), now), Err(DomainError::RepeatedBooking(first)));
    assert_eq!(s.apply(again(B, "99999998"), now), Err(DomainError::RequestIdReused));
}

#[test]
fn at_most_per_day_bookings_per_person() {
    let mut s = state();
    let now = at(1, 8, 0);
    let mut t = (*s.topology().clone()).clone();
    t.appointments.per_day = 1;
    let mut s1 = State::new(Arc::new(t), now);
    assert!(book(&mut s1, A, 2, hm(9, 0), ID1, "20000001", now).is_ok());
    assert!(matches!(book(&mut s1, B, 2, hm(9, 0), ID1, "20000002", now), Err(DomainError::DuplicateBooking(m)) if m.contains("at most 1")));
    assert!(book(&mut s1, B, 4, hm(9, 0), ID1, "20000003", now).is_ok(), "another day");
    // The default allows two.
    assert!(book(&mut s, A, 2, hm(9, 0), ID1, "20000004", now).is_ok());
    assert!(book(&mut s, B, 2, hm(9, 0), ID1, "20000005", now).is_ok());
}

#[test]
fn cancel_until_an_hour_before_and_it_frees_the_place() {
    let mut s = state();
    book(&mut s, A, 1, hm(10, 0), ID1, "30000001", at(1, 8, 0)).unwrap();
    book(&mut s, A, 1, hm(10, 0), ID2, "30000002", at(1, 8, 0)).unwrap();
    assert_eq!(s.apply(Command::CancelBooking { code: "30000001".into(), phone: "13900000000".into() }, at(1, 8, 10)), Err(DomainError::UnknownBooking), "wrong phone");
    assert!(s.apply(Command::CancelBooking { code: "30000001".into(), phone: "13812341234".into() }, at(1, 9, 0)).is_ok(), "exactly 60 minutes before");
    assert_eq!(s.bookings().taken(EAST, A, date(1), hm(10, 0)), 1, "the place is free again");
    assert_eq!(s.apply(Command::CancelBooking { code: "30000001".into(), phone: "13812341234".into() }, at(1, 9, 0)), Err(DomainError::BookingCancelled));
    assert_eq!(s.apply(Command::CancelBooking { code: "30000002".into(), phone: "13812341234".into() }, at(1, 9, 1)), Err(DomainError::CancelTooLate));
}

#[test]
fn check_in_window_wrong_hall_and_repeats() {
    let mut s = state();
    book(&mut s, A, 1, hm(10, 0), ID1, "40000001", at(1, 8, 0)).unwrap();
    assert_eq!(check_in(&mut s, "40000001", at(1, 9, 44)), Err(DomainError::TooEarly(at(1, 9, 45))));
    assert_eq!(check_in(&mut s, "49999999", at(1, 9, 50)), Err(DomainError::UnknownBooking));
    let other = s.apply(Command::CheckIn { hall: WEST, by: CheckInBy::Code("40000001".into()), request_id: None }, at(1, 9, 50));
    assert_eq!(other, Err(DomainError::WrongHall(EAST)));
    let t = check_in(&mut s, "40000001", at(1, 9, 45)).unwrap();
    let ticket = s.ticket(t).unwrap();
    assert_eq!((ticket.service, ticket.slot), (A, Some(at(1, 10, 0))));
    assert_eq!(s.number(ticket), "A001", "an ordinary number of its service");
    assert_eq!(check_in(&mut s, "40000001", at(1, 9, 46)), Err(DomainError::RepeatedTicket(t)));
    // By ID number: today's booking of that person in this hall.
    book(&mut s, B, 1, hm(10, 0), ID2, "40000002", at(1, 8, 0)).unwrap();
    let by_id = s.apply(Command::CheckIn { hall: EAST, by: CheckInBy::IdNumber(ID2.to_lowercase()), request_id: None }, at(1, 10, 10));
    assert!(matches!(by_id.as_deref(), Ok([Event::TicketIssued { .. }, Event::BookingCheckedIn { .. }])), "{by_id:?}");
    // Past late_minutes: too late, and the sweep makes it a no-show.
    book(&mut s, B, 1, hm(10, 30), ID3, "40000003", at(1, 8, 0)).unwrap();
    assert_eq!(check_in(&mut s, "40000003", at(1, 10, 41)), Err(DomainError::TooLate));
    let events = tick(&mut s, at(1, 10, 41));
    assert!(events.iter().any(|e| matches!(e, Event::BookingNoShow { booking } if booking.code == "40000003")), "{events:?}");
    assert_eq!(check_in(&mut s, "40000003", at(1, 10, 42)), Err(DomainError::TooLate));
}

#[test]
fn call_order_green_channel_started_appointments_preferred_rest() {
    let mut s = state();
    book(&mut s, A, 1, hm(10, 0), ID1, "50000001", at(1, 8, 0)).unwrap();
    let a1 = walk_in(&mut s, A, at(1, 9, 0));
    let b1 = walk_in(&mut s, B, at(1, 9, 1));
    let appt = check_in(&mut s, "50000001", at(1, 9, 50)).unwrap();
    let a2 = walk_in(&mut s, A, at(1, 9, 55));
    // Before its slot the appointment waits like a walk-in (by when it checked in).
    assert_eq!(s.waiting_for_counter(E1, at(1, 9, 56)), vec![a1, b1, appt, a2]);
    assert_eq!(s.waiting_for_counter(E2, at(1, 9, 56)), vec![b1, a1, appt, a2], "E2 prefers invoices");
    assert_eq!(s.waiting_ahead(s.ticket(appt).unwrap(), at(1, 9, 56)), 1, "A001 is ahead in its queue");
    // From the slot's start it goes ahead of older walk-ins, after the 绿色通道.
    let green = walk_in_p(&mut s, A, Priority::Priority, at(1, 10, 0));
    assert_eq!(s.waiting_for_counter(E2, at(1, 10, 0)), vec![green, appt, b1, a1, a2]);
    assert_eq!(s.waiting_ahead(s.ticket(appt).unwrap(), at(1, 10, 0)), 1, "only the 绿色通道 ticket");
    assert_eq!(s.waiting_ahead(s.ticket(a1).unwrap(), at(1, 10, 0)), 2);
    assert_eq!(call(&mut s, E2, at(1, 10, 0)), green);
    assert_eq!(call(&mut s, E2, at(1, 10, 1)), appt);
    assert_eq!(call(&mut s, E2, at(1, 10, 2)), b1);
    assert_eq!(call(&mut s, E2, at(1, 10, 3)), a1);
    assert_eq!(call(&mut s, E2, at(1, 10, 4)), a2);
}

#[test]
fn earlier_slots_first_among_started_appointments() {
    let mut s = state();
    book(&mut s, B, 1, hm(10, 30), ID1, "60000001", at(1, 8, 0)).unwrap();
    book(&mut s, B, 1, hm(10, 0), ID2, "60000002", at(1, 8, 0)).unwrap();
    let late_slot = check_in(&mut s, "60000001", at(1, 10, 15)).unwrap();
    let early_slot = check_in(&mut s, "60000002", at(1, 10, 5)).unwrap();
    let walk = walk_in(&mut s, B, at(1, 9, 0));
    assert_eq!(s.waiting_for_counter(E1, at(1, 10, 20)), vec![early_slot, walk, late_slot]);
    assert_eq!(s.waiting_for_counter(E1, at(1, 10, 30)), vec![early_slot, late_slot, walk]);
    assert_eq!(s.next_for(E1, at(1, 10, 30)), Some(early_slot));
}

#[test]
fn three_no_shows_in_a_month_bar_booking_for_thirty_days() {
    let mut s = state();
    for (i, day) in [1u32, 2, 4].into_iter().enumerate() {
        let now = at(day, 8, 0);
        tick(&mut s, now);
        book(&mut s, A, day, hm(9, 0), ID1, &format!("7000000{i}"), now).unwrap();
        // The window closes at 09:10; the next tick makes it a no-show.
        let events = tick(&mut s, at(day, 9, 11));
        assert!(events.iter().any(|e| matches!(e, Event::BookingNoShow { .. })), "{events:?}");
    }
    let until = date(4) + chrono::Duration::days(30);
    assert_eq!(s.bookings().records[&person(ID1).key()].banned_until, Some(until));
    assert_eq!(book(&mut s, A, 7, hm(9, 0), ID1, "70000009", at(4, 10, 0)), Err(DomainError::BookingBanned(until)));
    assert!(book(&mut s, A, 7, hm(9, 0), ID2, "70000010", at(4, 10, 0)).is_ok(), "others still book");
    // The ban ends on its day.
    let after = chrono_tz::Asia::Shanghai.with_ymd_and_hms(2027, 1, 4, 8, 0, 0).unwrap().timestamp_millis();
    tick(&mut s, after);
    assert!(s.bookings().records.get(&person(ID1).key()).is_none_or(|r| r.banned_until.is_none()));
}

/// Bans go by the ID number together with the proven phone: someone who knows an ID number
/// (a company's credit code is public) and books and cancels with their own phone bars only
/// themselves.
#[test]
fn a_ban_earned_with_another_phone_does_not_bar_the_owner() {
    let mut s = state();
    let stranger = Person { phone: "13900000000".into(), ..person(ID1) };
    for i in 0..5u32 {
        let cmd = Command::Book {
            hall: EAST,
            service: A,
            date: date(8),
            slot: hm(9, 0) + 30 * i,
            who: stranger.clone(),
            code: format!("8100000{i}"),
            request_id: format!("x-{i}"),
        };
        s.apply(cmd, at(1, 8, 0)).unwrap();
        s.apply(Command::CancelBooking { code: format!("8100000{i}"), phone: "13900000000".into() }, at(1, 8, 30)).unwrap();
    }
    assert!(s.bookings().records[&stranger.key()].banned_until.is_some(), "the stranger is barred");
    assert!(book(&mut s, A, 8, hm(9, 0), ID1, "81000009", at(1, 8, 31)).is_ok(), "the owner, with their own phone, still books");
}

/// A cancellation within ten minutes of booking (a slip of the finger) does not count.
#[test]
fn quick_cancellations_do_not_count_towards_a_ban() {
    let mut s = state();
    for i in 0..6 {
        book(&mut s, A, 8, hm(9, 0) + 30 * i, ID1, &format!("8200000{i}"), at(1, 8, 0)).unwrap();
        s.apply(Command::CancelBooking { code: format!("8200000{i}"), phone: "13812341234".into() }, at(1, 8, 9)).unwrap();
    }
    assert!(book(&mut s, A, 8, hm(9, 0), ID1, "82000009", at(1, 8, 10)).is_ok());
}

#[test]
fn five_cancellations_in_a_month_bar_too() {
    let mut s = state();
    for i in 0..5 {
        book(&mut s, A, 8, hm(9, 0) + 30 * i, ID1, &format!("8000000{i}"), at(1, 8, 0)).unwrap();
        s.apply(Command::CancelBooking { code: format!("8000000{i}"), phone: "13812341234".into() }, at(1, 8, 10)).unwrap();
    }
    assert!(matches!(book(&mut s, A, 8, hm(9, 0), ID1, "80000009", at(1, 8, 11)), Err(DomainError::BookingBanned(_))));
}

#[test]
fn a_new_day_forgets_past_bookings_and_keeps_future_ones() {
    let mut s = state();
    book(&mut s, A, 1, hm(9, 0), ID1, "90000001", at(1, 8, 0)).unwrap();
    book(&mut s, A, 4, hm(9, 0), ID1, "90000002", at(1, 8, 0)).unwrap();
    tick(&mut s, at(2, 0, 1));
    assert!(s.bookings().by_code("90000001").is_none());
    assert_eq!(s.bookings().by_code("90000002").map(|b| b.state), Some(BookingState::Booked));
    assert_eq!(s.bookings().taken(EAST, A, date(4), hm(9, 0)), 1);
}

/// Appointments booked for a later slot today move ahead of the walk-ins once their slot
/// starts: the walk-ins' estimates count them before they come.
#[test]
fn appointments_booked_for_later_today_lengthen_the_walk_ins_wait() {
    let mut s = state();
    s.apply(Command::SignOut { counter: E2 }, at(1, 9, 0)).unwrap();
    let walk_ins: Vec<TicketId> = (0..10).map(|_| walk_in(&mut s, A, at(1, 9, 0))).collect();
    let last = *walk_ins.last().unwrap();
    let before = s.forward(EAST, at(1, 9, 0), None).waits[&last];
    book(&mut s, A, 1, hm(9, 30), ID1, "111111", at(1, 9, 0)).unwrap();
    book(&mut s, A, 1, hm(9, 30), ID2, "222222", at(1, 9, 0)).unwrap();
    let after = s.forward(EAST, at(1, 9, 0), None).waits[&last];
    // Two services of 300 s (leaned 8 %) ahead of the last walk-in.
    assert_eq!(after - before, 2 * 324_000, "{before} -> {after}");
    // The first walk-in is called before the slot starts: the bookings do not move it.
    assert_eq!(s.forward(EAST, at(1, 9, 0), None).waits[&walk_ins[0]], 0);
    // A booking for tomorrow, or one whose slot has started (it may not come), changes nothing.
    let mut t = state();
    t.apply(Command::SignOut { counter: E2 }, at(1, 9, 0)).unwrap();
    let last = (0..10).map(|_| walk_in(&mut t, A, at(1, 9, 0))).last().unwrap();
    book(&mut t, A, 2, hm(9, 30), ID3, "333333", at(1, 9, 0)).unwrap();
    assert_eq!(t.forward(EAST, at(1, 9, 0), None).waits[&last], before);
}

/// One writer per hall: the core does nothing about a hall its edge runs but take its
/// bookings (and publicity); a hall edge does nothing about other halls, and makes no booking.
#[test]
fn a_hall_run_elsewhere_is_left_to_its_own_server() {
    // The core, east run by its edge.
    let mut core = State::new(topo(), at(1, 8, 0));
    core.set_elsewhere([EAST].into(), true);
    let refused = |r: Result<Vec<Event>, DomainError>| assert_eq!(r, Err(DomainError::Elsewhere("east".into())));
    refused(core.apply(Command::Issue { hall: EAST, service: A, priority: Priority::Normal, request_id: None }, at(1, 9, 0)));
    refused(core.apply(Command::SignIn { counter: E1, clerk: "c".into(), take_over: false }, at(1, 9, 0)));
    refused(core.apply(Command::CheckIn { hall: EAST, by: CheckInBy::Code("40000001".into()), request_id: None }, at(1, 9, 50)));
    refused(core.apply(Command::IssueRemote { hall: EAST, service: A, code: "123456".into(), request_id: "r".into() }, at(1, 9, 0)));
    core.apply(Command::SignIn { counter: W1, clerk: "w".into(), take_over: false }, at(1, 9, 0)).unwrap();
    core.apply(Command::Issue { hall: WEST, service: A, priority: Priority::Normal, request_id: None }, at(1, 9, 0)).unwrap();
    core.apply(Command::CallNext { counter: W1 }, at(1, 9, 1)).unwrap();
    // A transfer into the edge's hall is not made here.
    refused(core.apply(Command::Transfer { counter: W1, service: None, to_counter: None, hall: Some(EAST) }, at(1, 9, 2)));
    // Bookings for east are made here, and not judged here: no no-show without east's word.
    book(&mut core, A, 1, hm(10, 0), ID1, "40000001", at(1, 8, 0)).unwrap();
    let events = tick(&mut core, at(1, 11, 0));
    assert!(!events.iter().any(|e| matches!(e, Event::BookingNoShow { .. })), "{events:?}");
    core.apply(Command::SetPublicity { hall: EAST, messages: vec!["x".into()] }, at(1, 11, 0)).unwrap();

    // East's edge: its own hall only, and no bookings.
    let mut edge = State::new(topo(), at(1, 8, 0));
    edge.set_elsewhere([WEST].into(), false);
    edge.apply(Command::SignIn { counter: E1, clerk: "c".into(), take_over: false }, at(1, 9, 0)).unwrap();
    edge.apply(Command::Issue { hall: EAST, service: A, priority: Priority::Normal, request_id: None }, at(1, 9, 0)).unwrap();
    let refused_west = |r: Result<Vec<Event>, DomainError>| assert_eq!(r, Err(DomainError::Elsewhere("west".into())));
    refused_west(edge.apply(Command::Issue { hall: WEST, service: A, priority: Priority::Normal, request_id: None }, at(1, 9, 0)));
    refused_west(edge.apply(Command::SetPublicity { hall: WEST, messages: vec![] }, at(1, 9, 0)));
    edge.apply(Command::SetPublicity { hall: EAST, messages: vec!["东区".into()] }, at(1, 9, 0)).unwrap();
    assert!(matches!(book(&mut edge, A, 2, hm(10, 0), ID1, "40000002", at(1, 9, 0)), Err(DomainError::Elsewhere(_))));
    assert!(matches!(edge.apply(Command::CancelBooking { code: "40000001".into(), phone: "13812341234".into() }, at(1, 9, 0)), Err(DomainError::Elsewhere(_))));
}
