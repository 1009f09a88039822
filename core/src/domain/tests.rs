use std::sync::Arc;

use std::collections::HashMap;

use chrono::{NaiveDate, TimeZone};

use super::*;

// Halls: 0 east, 1 west. Services: 0 filing (A), 1 invoice (B), 2 registration (C, cap 3).
// Counters: 0 = E1 (all), 1 = E2 (filing+invoice, prefers invoice), 2 = E3 (registration),
// 3 = W1 (all).
pub(crate) const EAST: usize = 0;
const WEST: usize = 1;
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const E1: usize = 0;
const E2: usize = 1;
const E3: usize = 2;
const W1: usize = 3;

fn topo(day_start_min: u32) -> Arc<Topology> {
    let hall = |id: &str| HallDef { id: id.into(), name_zh: id.into(), name_en: id.into(), publicity: vec![], address: String::new(), hours: vec![], phone: PhoneRules { texts: true, remote_quota: 5, hold_minutes: 10, ratings: false } };
    let service = |id: &str, p: char, cap| ServiceDef {
        id: id.into(),
        prefix: p,
        name_zh: id.into(),
        name_en: id.into(),
        default_service_s: 300,
        daily_cap: cap,
    };
    let counter = |id: &str, hall, number, services: Vec<usize>, preferred| CounterDef {
        id: id.into(),
        hall,
        number,
        services,
        preferred,
        hours: vec![],
    };
    Arc::new(Topology::new(
        vec![hall("east"), hall("west")],
        vec![service("filing", 'A', None), service("invoice", 'B', None), service("registration", 'C', Some(3))],
        vec![
            counter("E1", EAST, 1, vec![A, B, C], vec![]),
            counter("E2", EAST, 2, vec![A, B], vec![B]),
            counter("E3", EAST, 3, vec![C], vec![]),
            counter("W1", WEST, 1, vec![A, B, C], vec![]),
        ],
        day_start_min,
        chrono_tz::Asia::Shanghai,
    ))
}

/// 2026-03-02 09:00 Shanghai, plus `min` minutes, in ms.
pub(crate) fn at(min: i64) -> Millis {
    chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap().timestamp_millis() + min * 60_000
}

pub(crate) fn state() -> State {
    let mut s = State::new(topo(0), at(0));
    for c in [E1, E2, E3, W1] {
        s.apply(Command::SignIn { counter: c, clerk: format!("clerk{c}"), take_over: false }, at(0)).unwrap();
    }
    s
}

fn issue(s: &mut State, hall: usize, service: usize, minute: i64) -> TicketId {
    issue_p(s, hall, service, Priority::Normal, minute)
}

fn issue_p(s: &mut State, hall: usize, service: usize, p: Priority, minute: i64) -> TicketId {
    let ev = s.apply(Command::Issue { hall, service, priority: p, request_id: None }, at(minute)).unwrap();
    match ev.as_slice() {
        [Event::TicketIssued { ticket }] => *ticket,
        other => panic!("unexpected {other:?}"),
    }
}

fn number(s: &State, id: TicketId) -> String {
    s.number(s.ticket(id).unwrap())
}

fn call_next(s: &mut State, counter: usize, minute: i64) -> Result<String, DomainError> {
    let ev = s.apply(Command::CallNext { counter }, at(minute))?;
    let Event::TicketCalled { ticket, .. } = ev[0] else { panic!("{ev:?}") };
    let n = number(s, ticket);
    s.apply(Command::Finish { counter }, at(minute)).unwrap();
    Ok(n)
}

#[test]
fn numbers_are_prefix_and_padded_sequence_per_hall_and_service() {
    let mut s = state();
    let a1 = issue(&mut s, EAST, A, 1);
    let a2 = issue(&mut s, EAST, A, 1);
    let b1 = issue(&mut s, EAST, B, 1);
    let wa1 = issue(&mut s, WEST, A, 1);
    assert_eq!(
        [a1, a2, b1, wa1].map(|t| number(&s, t)),
        ["A001".to_string(), "A002".into(), "B001".into(), "A001".into()]
    );
}

#[test]
fn numbers_grow_past_999_without_wrapping() {
    let mut s = state();
    let mut last = 0;
    for _ in 0..1000 {
        last = issue(&mut s, EAST, A, 1);
    }
    assert_eq!(number(&s, last), "A1000");
    let next = issue(&mut s, EAST, A, 1);
    assert_eq!(number(&s, next), "A1001");
}

#[test]
fn day_rollover_restarts_numbers_and_expires_waiting_tickets() {
    let mut s = state();
    let waiting = issue(&mut s, EAST, A, 1);
    issue(&mut s, EAST, A, 2);
    let next_morning = at(24 * 60);
    assert_eq!(
        s.apply(Command::Issue { hall: EAST, service: A, priority: Priority::Normal, request_id: None }, next_morning),
        Err(DomainError::StaleDay),
        "a command in a new day before the tick is refused"
    );
    let ev = s.apply(Command::Tick, next_morning).unwrap();
    assert_eq!(ev.len(), 5, "the rollover, and the four open counters close: {ev:?}");
    assert!(ev[1..].iter().all(|e| matches!(e, Event::CounterClosed { .. })));
    assert!((0..4).all(|c| s.counter(c).state == CounterState::Closed && s.counter(c).clerk.is_none()));
    let Event::DayRolledOver { day, expired, unfinished } = &ev[0] else { panic!("{ev:?}") };
    assert!(unfinished.is_empty());
    assert_eq!(*day, NaiveDate::from_ymd_opt(2026, 3, 3).unwrap());
    assert_eq!(expired.len(), 2);
    assert!(expired.contains(&waiting));
    assert_eq!(s.waiting(EAST, A), 0);
    assert!(s.apply(Command::Tick, next_morning).unwrap().is_empty(), "tick is idempotent");
    let t = issue(&mut s, EAST, A, 24 * 60);
    assert_eq!(number(&s, t), "A001");
    assert!(t > waiting, "ids never repeat");
}

#[test]
fn a_ticket_at_a_counter_when_the_day_ends_is_unfinished_and_the_counter_free() {
    let mut s = state();
    let a1 = issue(&mut s, EAST, A, 1);
    s.apply(Command::CallNext { counter: E1 }, at(2)).unwrap();
    let next_morning = at(24 * 60);
    let ev = s.apply(Command::Tick, next_morning).unwrap();
    let Event::DayRolledOver { unfinished, expired, .. } = &ev[0] else { panic!("{ev:?}") };
    assert_eq!((unfinished.as_slice(), expired.len()), ([a1].as_slice(), 0));
    assert!(s.counter(E1).current.is_none(), "nothing of yesterday at the counter");
    assert!(s.ticket(a1).is_none(), "yesterday's tickets live on in the store only");
    s.apply(Command::SignIn { counter: E1, clerk: "clerk0".into(), take_over: false }, next_morning).unwrap();
    let today = issue(&mut s, EAST, A, 24 * 60 + 1);
    assert_eq!(number(&s, today), "A001");
    let called = s.apply(Command::CallNext { counter: E1 }, at(24 * 60 + 2)).unwrap();
    assert!(matches!(called[0], Event::TicketCalled { ticket, .. } if ticket == today), "{called:?}");
}

#[test]
fn business_day_starts_at_configured_local_time() {
    let t = topo(4 * 60 + 30); // 04:30
    let d = |h, m| t.business_day(chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap().timestamp_millis());
    assert_eq!(d(4, 29), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
    assert_eq!(d(4, 30), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    // 00:00 Shanghai is 16:00 UTC the day before.
    let t0 = topo(0);
    let utc_1559 = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 15, 59, 0).unwrap().timestamp_millis();
    assert_eq!(t0.business_day(utc_1559), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
    assert_eq!(t0.business_day(utc_1559 + 60_000), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
}

#[test]
fn daily_cap_sells_out_per_hall_and_leaves_state_unchanged() {
    let mut s = state();
    for _ in 0..3 {
        issue(&mut s, EAST, C, 1);
    }
    let err = s.apply(Command::Issue { hall: EAST, service: C, priority: Priority::Normal, request_id: None }, at(2));
    assert!(matches!(err, Err(DomainError::SoldOut { cap: 3, .. })), "{err:?}");
    assert!(err.unwrap_err().to_string().contains("sold out for today"));
    assert!(s.sold_out(EAST, C));
    assert_eq!(s.waiting(EAST, C), 3);
    assert!(!s.sold_out(WEST, C));
    issue(&mut s, WEST, C, 2);
}

#[test]
fn call_next_takes_priority_and_transferred_first_then_preferred_then_oldest() {
    let mut s = state();
    issue(&mut s, EAST, A, 1); // A001 oldest normal
    issue(&mut s, EAST, B, 2); // B001 preferred at E2
    issue_p(&mut s, EAST, A, Priority::Priority, 3); // A002 priority
    issue(&mut s, EAST, B, 4); // B002
    issue(&mut s, EAST, C, 0); // C001 not served by E2
    // E2 prefers invoice: priority first, then B (preferred, oldest), then A.
    let order: Vec<String> = (0..4).map(|i| call_next(&mut s, E2, 10 + i).unwrap()).collect();
    assert_eq!(order, ["A002", "B001", "B002", "A001"]);
    assert_eq!(call_next(&mut s, E2, 20), Err(DomainError::QueueEmpty));
    // E1 serves everything, no preference: oldest first.
    assert_eq!(call_next(&mut s, E1, 21).unwrap(), "C001");
}

#[test]
fn call_next_without_preference_is_oldest_across_services() {
    let mut s = state();
    issue(&mut s, EAST, B, 1);
    issue(&mut s, EAST, A, 2);
    issue(&mut s, EAST, C, 3);
    let order: Vec<String> = (0..3).map(|i| call_next(&mut s, E1, 10 + i).unwrap()).collect();
    assert_eq!(order, ["B001", "A001", "C001"]);
}

#[test]
fn transferred_ticket_keeps_its_number_and_goes_first() {
    let mut s = state();
    let a1 = issue(&mut s, EAST, A, 1);
    issue(&mut s, EAST, C, 2); // C001 waits at E3
    s.apply(Command::CallNext { counter: E1 }, at(5)).unwrap();
    let ev = s.apply(Command::Transfer { counter: E1, service: Some(C), to_counter: None, hall: None }, at(6)).unwrap();
    assert_eq!(ev, vec![Event::TicketTransferred { ticket: a1, from_counter: E1, from_hall: EAST }]);
    let t = s.ticket(a1).unwrap();
    assert_eq!((t.state, t.service, t.transferred), (TicketState::Waiting, C, true));
    assert_eq!(number(&s, a1), "A001", "the letter never changes");
    assert_eq!(s.counter(E1).current, None);
    // At E3 it goes before the older C001.
    assert_eq!(call_next(&mut s, E3, 7).unwrap(), "A001");
    assert_eq!(call_next(&mut s, E3, 8).unwrap(), "C001");
}

#[test]
fn transfer_to_a_counter_waits_only_there() {
    let mut s = state();
    let a1 = issue(&mut s, EAST, A, 1);
    issue(&mut s, EAST, A, 2);
    s.apply(Command::CallNext { counter: E1 }, at(3)).unwrap();
    s.apply(Command::Transfer { counter: E1, service: None, to_counter: Some(E2), hall: None }, at(4)).unwrap();
    assert_eq!(s.ticket(a1).unwrap().counter, Some(E2));
    assert_eq!(s.waiting(EAST, A), 2);
    assert_eq!(s.waiting_ahead(s.ticket(a1).unwrap(), at(60)), 0);
    // E1 cannot take it; it takes A002.
    assert_eq!(call_next(&mut s, E1, 5).unwrap(), "A002");
    assert_eq!(call_next(&mut s, E1, 6), Err(DomainError::QueueEmpty));
    assert!(matches!(s.apply(Command::Call { counter: E1, ticket: a1 }, at(6)), Err(DomainError::NotServed(_))));
    assert_eq!(call_next(&mut s, E2, 7).unwrap(), "A001");
}

#[test]
fn transfer_to_another_hall_keeps_number() {
    let mut s = state();
    let a1 = issue(&mut s, EAST, A, 1);
    s.apply(Command::CallNext { counter: E1 }, at(2)).unwrap();
    s.apply(Command::Transfer { counter: E1, service: None, to_counter: None, hall: Some(WEST) }, at(3)).unwrap();
    assert_eq!(s.ticket(a1).unwrap().hall, WEST);
    assert_eq!(s.waiting(EAST, A), 0);
    assert_eq!(s.waiting(WEST, A), 1);
    // A new east ticket still gets A002: the number A001 stays unique in east's sequence.
    let a2 = issue(&mut s, EAST, A, 4);
    assert_eq!(number(&s, a2), "A002");
    assert_eq!(call_next(&mut s, W1, 5).unwrap(), "A001");
}

#[test]
fn transfer_needs_a_real_target() {
    let mut s = state();
    issue(&mut s, EAST, A, 1);
    s.apply(Command::CallNext { counter: E1 }, at(2)).unwrap();
    let tr = |service, to_counter, hall| Command::Transfer { counter: E1, service, to_counter, hall };
    assert_eq!(s.apply(tr(None, None, None), at(3)), Err(DomainError::NoTransferTarget));
    assert_eq!(s.apply(tr(Some(A), None, None), at(3)), Err(DomainError::TransferNoop));
    assert!(matches!(s.apply(tr(None, Some(E3), None), at(3)), Err(DomainError::NotServed(_))));
    assert!(matches!(s.apply(tr(None, Some(W1), Some(EAST)), at(3)), Err(DomainError::TransferHallMismatch(_))));
    assert!(s.counter(E1).current.is_some(), "failed transfers leave the ticket at the counter");
}

#[test]
fn no_show_can_be_requeued_and_called_again() {
    let mut s = state();
    let a1 = issue(&mut s, EAST, A, 1);
    let a2 = issue(&mut s, EAST, A, 2);
    s.apply(Command::CallNext { counter: E1 }, at(3)).unwrap();
    assert_eq!(s.apply(Command::NoShow { counter: E1 }, at(4)).unwrap(), vec![Event::TicketNoShow { ticket: a1, counter: E1 }]);
    assert_eq!(s.ticket(a1).unwrap().state, TicketState::NoShow);
    assert_eq!(s.apply(Command::Requeue { ticket: a1 }, at(5)).unwrap(), vec![Event::TicketRequeued { ticket: a1 }]);
    assert_eq!(s.waiting(EAST, A), 2);
    // Requeued behind those already waiting.
    assert_eq!(s.waiting_ahead(s.ticket(a1).unwrap(), at(60)), 1);
    assert_eq!(call_next(&mut s, E1, 6).unwrap(), number(&s, a2));
    assert_eq!(call_next(&mut s, E1, 7).unwrap(), "A001");
    assert_eq!(s.ticket(a1).unwrap().call_count, 2);
    assert!(matches!(s.apply(Command::Requeue { ticket: a1 }, at(8)), Err(DomainError::WrongTicketState { .. })));
}

#[test]
fn clerk_may_call_a_specific_waiting_or_no_show_ticket() {
    let mut s = state();
    issue(&mut s, EAST, A, 1);
    let a2 = issue(&mut s, EAST, A, 2);
    let ev = s.apply(Command::Call { counter: E1, ticket: a2 }, at(3)).unwrap();
    assert_eq!(ev, vec![Event::TicketCalled { ticket: a2, counter: E1, call_count: 1, recall: false }]);
    assert_eq!(s.waiting(EAST, A), 1);
    s.apply(Command::NoShow { counter: E1 }, at(4)).unwrap();
    // Directly from no-show, without requeue.
    let ev = s.apply(Command::Call { counter: E2, ticket: a2 }, at(5)).unwrap();
    assert_eq!(ev, vec![Event::TicketCalled { ticket: a2, counter: E2, call_count: 2, recall: false }]);
    s.apply(Command::Finish { counter: E2 }, at(6)).unwrap();
    assert!(matches!(s.apply(Command::Call { counter: E1, ticket: a2 }, at(7)), Err(DomainError::WrongTicketState { .. })));
    let w = issue(&mut s, WEST, A, 8);
    assert!(matches!(s.apply(Command::Call { counter: E1, ticket: w }, at(9)), Err(DomainError::OtherHall(_))));
    assert_eq!(s.apply(Command::Call { counter: E1, ticket: 999 }, at(9)), Err(DomainError::UnknownTicket));
}

#[test]
fn recall_re_announces_with_higher_call_count() {
    let mut s = state();
    let a1 = issue(&mut s, EAST, A, 1);
    assert_eq!(s.apply(Command::Recall { counter: E1 }, at(2)), Err(DomainError::NoCurrentTicket));
    s.apply(Command::CallNext { counter: E1 }, at(2)).unwrap();
    let ev = s.apply(Command::Recall { counter: E1 }, at(3)).unwrap();
    assert_eq!(ev, vec![Event::TicketCalled { ticket: a1, counter: E1, call_count: 2, recall: true }]);
    let recent: Vec<u32> = s.recent_calls(EAST).map(|c| c.call_count).collect();
    assert_eq!(recent, [2, 1], "newest first");
}

#[test]
fn a_busy_counter_cannot_call_again() {
    let mut s = state();
    issue(&mut s, EAST, A, 1);
    issue(&mut s, EAST, A, 2);
    s.apply(Command::CallNext { counter: E1 }, at(3)).unwrap();
    assert_eq!(s.apply(Command::CallNext { counter: E1 }, at(4)), Err(DomainError::Busy("A001".into())));
}

#[test]
fn pause_and_resume() {
    let mut s = state();
    issue(&mut s, EAST, A, 1);
    let pause = |reason: &str| Command::Pause { counter: E1, reason: reason.into() };
    assert!(matches!(s.apply(pause("打游戏"), at(2)), Err(DomainError::UnknownPauseReason { reasons }) if reasons.starts_with("午休、业务学习")));
    assert_eq!(s.counter(E1).state, CounterState::Open);
    assert_eq!(s.apply(pause("午休"), at(2)).unwrap(), vec![Event::CounterPaused { counter: E1, reason: "午休".into() }]);
    assert_eq!(s.counter(E1).pause, Some((at(2), "午休".to_string())));
    assert_eq!(s.apply(pause("其他"), at(2)), Err(DomainError::AlreadyPaused));
    assert_eq!(s.apply(Command::CallNext { counter: E1 }, at(3)), Err(DomainError::CounterPaused));
    assert_eq!(s.apply(Command::Resume { counter: E1 }, at(4)).unwrap(), vec![Event::CounterResumed { counter: E1 }]);
    assert_eq!(s.counter(E1).pause, None);
    assert_eq!(s.apply(Command::Resume { counter: E1 }, at(4)), Err(DomainError::NotPaused));
    assert!(s.apply(Command::CallNext { counter: E1 }, at(5)).is_ok());
    s.apply(Command::SignOut { counter: E2 }, at(5)).unwrap();
    assert_eq!(s.apply(Command::CallNext { counter: E2 }, at(5)), Err(DomainError::CounterClosed));
}

#[test]
fn estimate_is_people_ahead_times_mean_over_open_counters() {
    let mut s = state();
    // filing is served in east by E1 and E2 (both open): 300 s default.
    for m in 0..4 {
        issue(&mut s, EAST, A, m);
    }
    let t = issue(&mut s, EAST, A, 5);
    let t = s.ticket(t).unwrap();
    assert_eq!(s.waiting_ahead(t, at(60)), 4);
    assert_eq!(s.estimate_s(EAST, A, 4), 4 * 300 / 2);
    s.apply(Command::Pause { counter: E2, reason: "临时离开".into() }, at(6)).unwrap();
    assert_eq!(s.estimate_s(EAST, A, 4), 4 * 300);
    // Observed mean replaces the default after three services: 2, 4 and 6 minutes.
    s.apply(Command::Resume { counter: E2 }, at(6)).unwrap();
    for (call, done) in [(10, 12), (20, 24), (30, 36)] {
        s.apply(Command::CallNext { counter: E1 }, at(call)).unwrap();
        s.apply(Command::Finish { counter: E1 }, at(done)).unwrap();
    }
    assert_eq!(s.mean_service_ms(A), 240_000);
    assert_eq!(s.estimate_s(EAST, A, 2), 240);
    // Nobody signed in: the configured counters are assumed.
    s.apply(Command::SignOut { counter: E1 }, at(40)).unwrap();
    s.apply(Command::SignOut { counter: E2 }, at(40)).unwrap();
    assert_eq!(s.serving_counters(EAST, A), (0, 2));
    assert_eq!(s.estimate_s(EAST, A, 2), 240);
}

#[test]
fn priority_ticket_waits_only_behind_other_priority_tickets() {
    let mut s = state();
    issue(&mut s, EAST, A, 1);
    issue(&mut s, EAST, A, 2);
    let p = issue_p(&mut s, EAST, A, Priority::Priority, 3);
    assert_eq!(s.waiting_ahead(s.ticket(p).unwrap(), at(60)), 0);
    let n = issue(&mut s, EAST, A, 4);
    assert_eq!(s.waiting_ahead(s.ticket(n).unwrap(), at(60)), 3);
}

#[test]
fn rating_only_for_the_counters_last_finished_ticket_within_window() {
    let mut s = state();
    let a1 = issue(&mut s, EAST, A, 1);
    s.apply(Command::CallNext { counter: E1 }, at(2)).unwrap();
    let rate = |ticket, counter, score| Command::Rate { counter, ticket, score, window_ms: 120_000 };
    assert_eq!(s.apply(rate(a1, E1, 5), at(3)), Err(DomainError::RatingNotAllowed), "not finished yet");
    s.apply(Command::Finish { counter: E1 }, at(3)).unwrap();
    assert_eq!(s.apply(rate(a1, E1, 6), at(3)), Err(DomainError::BadScore));
    assert_eq!(s.apply(rate(a1, E2, 5), at(3)), Err(DomainError::RatingNotAllowed), "other counter");
    assert_eq!(s.apply(rate(a1, E1, 4), at(3)).unwrap(), vec![Event::TicketRated { ticket: a1, counter: E1, score: 4 }]);
    assert_eq!(s.apply(rate(a1, E1, 5), at(3)), Err(DomainError::AlreadyRated));
    let a2 = issue(&mut s, EAST, A, 4);
    s.apply(Command::CallNext { counter: E1 }, at(4)).unwrap();
    s.apply(Command::Finish { counter: E1 }, at(5)).unwrap();
    assert_eq!(s.apply(rate(a2, E1, 5), at(8)), Err(DomainError::RatingNotAllowed), "window passed");
}

#[test]
fn restore_rebuilds_queues_numbers_and_counters() {
    let mut s = state();
    for m in 0..5 {
        issue(&mut s, EAST, A, m);
    }
    issue_p(&mut s, EAST, B, Priority::Priority, 6);
    s.apply(Command::CallNext { counter: E1 }, at(7)).unwrap();
    let tickets: Vec<Ticket> = s.tickets().cloned().collect();
    let counters: Vec<(usize, Counter)> = (0..4).map(|c| (c, s.counter(c).clone())).collect();
    let recent: Vec<Call> = s.recent_calls(EAST).cloned().collect::<Vec<_>>().into_iter().rev().collect();
    let mut r = State::restore(s.topology().clone(), s.day(), s.next_ticket_id(), tickets, counters, vec![], recent, Bookings::restore(vec![], HashMap::new(), appointments::month_of(s.day()), 1), at(8));
    assert_eq!(r, s, "the restored state equals the one it came from");
    assert_eq!(r.waiting(EAST, A), s.waiting(EAST, A));
    assert_eq!(r.counter(E1).current, s.counter(E1).current);
    for c in [E1, E2] {
        assert_eq!(r.next_for(c, at(8)), s.next_for(c, at(8)));
    }
    let t = issue(&mut r, EAST, A, 8);
    assert_eq!(number(&r, t), "A006");
    assert_eq!(r.recent_calls(EAST).count(), 1);
}

#[test]
fn same_commands_same_results() {
    let run = || {
        let mut s = state();
        let mut out = vec![];
        for m in 0..20 {
            let ev = s
                .apply(Command::Issue { hall: m as usize % 2, service: m as usize % 3, priority: Priority::Normal, request_id: None }, at(m))
                .unwrap();
            out.push(format!("{ev:?}"));
        }
        for m in 0..6 {
            out.push(format!("{:?}", s.apply(Command::CallNext { counter: m as usize % 4 }, at(30 + m))));
        }
        out
    };
    assert_eq!(run(), run());
}

#[test]
fn a_clerk_replaces_another_only_when_taking_over() {
    let mut s = state();
    let taken = s.apply(Command::SignIn { counter: E1, clerk: "clerk9".into(), take_over: false }, at(1));
    assert_eq!(taken, Err(DomainError::CounterTaken { clerk: format!("clerk{E1}") }));
    assert_eq!(s.counter(E1).clerk.as_deref(), Some(format!("clerk{E1}").as_str()), "nothing changed");
    assert_eq!(s.apply(Command::SignIn { counter: E1, clerk: format!("clerk{E1}"), take_over: false }, at(1)), Ok(vec![]), "the same clerk again");
    assert_eq!(s.apply(Command::SignIn { counter: E1, clerk: "clerk9".into(), take_over: true }, at(1)), Ok(vec![]));
    assert_eq!(s.counter(E1).clerk.as_deref(), Some("clerk9"));
}

/// A state whose forward estimate has no lean, and whose services all took exactly their
/// default time so far (so fixed service times make it exact).
fn exact_state() -> State {
    let mut t = (*topo(0)).clone();
    t.estimates.lean_percent = 0;
    let mut s = State::new(Arc::new(t), at(0));
    fixed_service_times(&mut s);
    for c in [E1, E2, E3, W1] {
        s.apply(Command::SignIn { counter: c, clerk: format!("clerk{c}"), take_over: false }, at(0)).unwrap();
    }
    s
}

/// Five services of each kind, each of exactly its default time, learnt.
fn fixed_service_times(s: &mut State) {
    for service in 0..s.topo.services.len() {
        let ms = i64::from(s.topo.services[service].default_service_s) * 1000;
        for id in 0..5 {
            s.observed[service].add(at(0), 1_000_000 + id, ms);
        }
    }
}

/// A counter planned to close (its `hours`) calls nobody after: the forward run leaves the
/// tickets it would have called to the counters still there, or to none.
#[test]
fn forward_estimate_expects_a_counter_only_within_its_planned_hours() {
    let mut s = exact_state();
    let a1 = issue(&mut s, WEST, A, 0);
    let a2 = issue(&mut s, WEST, A, 0);
    let a3 = issue(&mut s, WEST, A, 0);
    s.apply(Command::CallNext { counter: W1 }, at(0)).unwrap();
    assert_eq!(s.ticket(a1).unwrap().counter, Some(W1));
    // W1 alone serves the west hall: A002 at 09:05, A003 at 09:10.
    let f = s.forward(WEST, at(2), None);
    assert_eq!((f.waits[&a2], f.waits[&a3]), (180_000, 480_000));
    // Planned to close at 09:08: A002 is still called, A003 by no one.
    let mut t = (**s.topology()).clone();
    t.counters[W1].hours = vec![(9 * 60, 9 * 60 + 8)];
    s.topo = Arc::new(t);
    let f = s.forward(WEST, at(2), None);
    assert_eq!(f.waits.get(&a2), Some(&180_000));
    assert_eq!(f.waits.get(&a3), None);
    // Back from 09:30: A003 then.
    let mut t = (**s.topology()).clone();
    t.counters[W1].hours = vec![(9 * 60, 9 * 60 + 8), (9 * 60 + 30, 12 * 60)];
    s.topo = Arc::new(t);
    assert_eq!(s.forward(WEST, at(2), None).waits.get(&a3), Some(&(28 * 60_000)));
}

fn secs_at(s: u32) -> Millis {
    at(0) + i64::from(s) * 1000
}

#[test]
fn forward_estimate_is_exact_for_one_counter_with_fixed_service_times() {
    use estimate::{Estimator, NEW_TICKET};
    let mut s = exact_state();
    let a1 = issue(&mut s, WEST, A, 0);
    let a2 = issue(&mut s, WEST, A, 0);
    let a3 = issue(&mut s, WEST, A, 0);
    let ev = s.apply(Command::CallNext { counter: W1 }, at(0)).unwrap();
    assert!(matches!(ev[0], Event::TicketCalled { ticket, .. } if ticket == a1));
    // Two minutes into A001's 300 s: A002 in 180 s, A003 in 480 s, a new ticket in 780 s.
    let now = at(2);
    let f = s.forward(WEST, now, Some((A, Priority::Normal)));
    assert_eq!(f.waits[&a2], 180_000);
    assert_eq!(f.waits[&a3], 480_000);
    assert_eq!(f.waits[&NEW_TICKET], 780_000);
    assert_eq!(s.ticket_estimate_s(Estimator::Forward, a3, now), 480);
    assert_eq!(s.new_ticket_estimate_s(Estimator::Forward, WEST, A, Priority::Normal, now), 780);
    // Today's estimator ignores the customer at the counter: it says 0 s and 300 s.
    assert_eq!(s.ticket_estimate_s(Estimator::Simple, a2, now), 0);
    assert_eq!(s.ticket_estimate_s(Estimator::Simple, a3, now), 300);
    // A 绿色通道 ticket taken now goes first: 180 s.
    assert_eq!(s.new_ticket_estimate_s(Estimator::Forward, WEST, A, Priority::Priority, now), 180);
}

/// 一窗式: E1 serves everything, E2 prefers invoices. Four invoice tickets came before one filing
/// ticket; both counters take invoices first (E2 by preference, E1 by age), so the filing ticket
/// is called when the invoices are: after 600 s. Today's estimator sees nobody ahead in filing
/// and says 0. Played out with the real call-next rule and 300 s at each counter, the forward
/// estimate is what happens.
#[test]
fn forward_estimate_follows_the_call_rule_across_services_where_todays_does_not() {
    use estimate::Estimator;
    let mut s = exact_state();
    s.apply(Command::SignOut { counter: E3 }, at(0)).unwrap();
    let invoices: Vec<TicketId> = (0..4).map(|_| issue(&mut s, EAST, B, 0)).collect();
    let filing = issue(&mut s, EAST, A, 0);
    let now = at(0);
    assert_eq!(s.ticket_estimate_s(Estimator::Simple, filing, now), 0);
    let predicted = s.ticket_estimate_s(Estimator::Forward, filing, now);
    assert_eq!(predicted, 600);
    for i in &invoices {
        assert!(s.ticket_estimate_s(Estimator::Forward, *i, now) <= 300);
    }
    // Play it out: each counter calls, serves 300 s, finishes, calls again.
    let mut called_at = None;
    for round in 0..3u32 {
        let t = secs_at(round * 300);
        for c in [E1, E2] {
            if round > 0 {
                s.apply(Command::Finish { counter: c }, t).unwrap();
            }
            if let Ok(ev) = s.apply(Command::CallNext { counter: c }, t) {
                if ev.iter().any(|e| matches!(e, Event::TicketCalled { ticket, .. } if *ticket == filing)) {
                    called_at.get_or_insert(t);
                }
            }
        }
    }
    assert_eq!(called_at, Some(secs_at(predicted)), "the filing ticket is called when the forward estimate said");
}

/// A ticket no open counter serves, in a hall where others keep coming: the forward run stops
/// at its horizon and the ticket gets the simple estimate (it must not run for ever).
#[test]
fn forward_estimate_ends_when_nobody_open_serves_a_ticket() {
    use estimate::Estimator;
    let mut s = exact_state();
    for c in [E1, E2] {
        s.apply(Command::SignOut { counter: c }, at(0)).unwrap();
    }
    // E3 serves registration only, and registration tickets keep coming (three in the last
    // minutes: the run expects more at that rate).
    for m in 0..3 {
        issue(&mut s, EAST, C, m);
    }
    let filing = issue(&mut s, EAST, A, 4);
    let now = at(5);
    assert!(!s.forward(EAST, now, None).waits.contains_key(&filing));
    assert_eq!(s.ticket_estimate_s(Estimator::Forward, filing, now), s.ticket_estimate_s(Estimator::Simple, filing, now));
}

#[test]
fn a_long_uncertain_wait_has_a_range_and_a_short_one_does_not() {
    let s = state();
    assert_eq!(s.wait_range_s(EAST, 5 * 60), None, "a short wait is one figure");
    let (low, high) = s.wait_range_s(EAST, 30 * 60).expect("30 minutes of 5-minute services vary");
    assert!(low < 30 * 60 && high > 30 * 60 && high - low >= estimate::RANGE_MIN_S, "{low}..{high}");
    assert!(low % 60 == 0 && high % 60 == 0, "whole minutes");
    // The more services ahead, the narrower the range relative to the wait.
    let (l2, h2) = s.wait_range_s(EAST, 120 * 60).unwrap();
    assert!(f64::from(h2 - l2) / 7200.0 < f64::from(high - low) / 1800.0);
    // The forward estimator tells a long wait with its range; the simple one shows none.
    let long_wait = |estimator| {
        let mut t = (*topo(0)).clone();
        t.estimates.estimator = estimator;
        let mut s = State::new(Arc::new(t), at(0));
        s.apply(Command::SignIn { counter: W1, clerk: "clerk01".into(), take_over: false }, at(0)).unwrap();
        let last = (0..8).map(|_| issue(&mut s, WEST, A, 0)).last().unwrap();
        s.ticket_wait(last, at(0))
    };
    assert!(long_wait(estimate::Estimator::Forward).1.is_some());
    let (secs, range) = long_wait(estimate::Estimator::Simple);
    assert!(secs >= 30 * 60 && range.is_none(), "{secs} {range:?}");
}

/// In a hall that gets more work than its counters can do, a service stops issuing before
/// closing, and from then on nobody gets a ticket of it, 绿色通道 included: the forward run
/// expects 绿色通道 taxpayers only until then.
#[test]
fn forward_estimate_expects_nobody_once_the_service_would_stop_issuing() {
    let mut t = (*topo(0)).clone();
    t.estimates.lean_percent = 0;
    t.halls[WEST].hours = vec![(9 * 60, 10 * 60)];
    t.last_ticket_minutes = 0;
    let mut s = State::new(Arc::new(t), at(0));
    fixed_service_times(&mut s);
    s.apply(Command::SignIn { counter: W1, clerk: "clerk".into(), take_over: false }, at(0)).unwrap();
    // 09:00–09:06: six filing tickets and a 绿色通道 one, 7 × 300 s of work in a quarter of an
    // hour for one counter. W1 serves the 绿色通道 ticket from 09:09 to 09:14.
    let normal: Vec<TicketId> = (0..6).map(|m| issue(&mut s, WEST, A, m)).collect();
    issue_p(&mut s, WEST, A, Priority::Priority, 6);
    s.apply(Command::CallNext { counter: W1 }, at(9)).unwrap();
    s.apply(Command::Finish { counter: W1 }, at(14)).unwrap();
    // At 09:15 the last filing ticket would be called at 09:40, after the five others. A
    // 绿色通道 taxpayer came every quarter of an hour, but the work coming in (2.3 counters'
    // worth) pushes the back of the queue past 10:00 by 09:24: the kiosk stops issuing filing
    // then, and the next 绿色通道 taxpayer (09:30) gets no ticket. Expecting them would put
    // the last filing ticket at 09:45 or later.
    let f = s.forward(WEST, at(15), None);
    assert_eq!(f.waits[normal.last().unwrap()], 5 * 300 * 1000);
}

/// Whether a service stops issuing before closing is decided by the counters planned to be
/// staffed, not by who happens to be signed in: opening one counter at 10:00 in a hall whose
/// clerks have not signed in yet must not stop issuing (and nobody signed in must not either).
#[test]
fn opening_one_counter_does_not_stop_issuing() {
    let mut t = (*topo(0)).clone();
    t.halls[EAST].hours = vec![(9 * 60, 12 * 60), (13 * 60 + 30, 17 * 60)];
    t.last_ticket_minutes = 30;
    let hall_with = |t: &Topology| {
        let mut s = State::new(Arc::new(t.clone()), at(0));
        // 30 filing tickets by 10:00: 150 minutes of work for one counter, 75 for E1 and E2.
        for m in 0..30 {
            issue(&mut s, EAST, A, m * 2);
        }
        s
    };
    let mut s = hall_with(&t);
    assert_eq!(s.issuing(EAST, A, at(60)), Ok(()), "nobody signed in yet");
    s.apply(Command::SignIn { counter: E1, clerk: "clerk01".into(), take_over: false }, at(60)).unwrap();
    assert_eq!(s.issuing(EAST, A, at(60)), Ok(()), "an emergency window opened: still issuing");
    // Issuing stops when E1 and E2 (both planned all day) could not serve the queue before
    // 12:00, not when E1 alone could not: about twice as many.
    let until_stopped = |s: &mut State| {
        while s.issuing(EAST, A, at(61)).is_ok() {
            s.apply(Command::Issue { hall: EAST, service: A, priority: Priority::Normal, request_id: None }, at(61)).unwrap();
        }
        s.waiting(EAST, A)
    };
    let both = until_stopped(&mut s);
    assert!(matches!(s.issuing(EAST, A, at(61)), Err(DomainError::ServiceClosed { next_open: Some(n), .. }) if n == at(4 * 60 + 30)), "until 13:30");
    assert!((44..=47).contains(&both), "119 minutes of two counters at 5.4 minutes a ticket: {both}");
    // With E2 planned only until 10:00, issuing stops at about half that.
    t.counters[E2].hours = vec![(9 * 60, 10 * 60)];
    let mut s2 = State::new(Arc::new(t), at(0));
    s2.apply(Command::SignIn { counter: E1, clerk: "clerk01".into(), take_over: false }, at(0)).unwrap();
    let one = until_stopped(&mut s2);
    assert!((21..=24).contains(&one), "E1 alone after 10:00: {one}");
}

/// The forked estimate: the same seed gives the same forks; every fork calls the tickets in
/// their order; the waits spread around the forward run's (which takes the means, leaned); a
/// ticket behind is told more than one ahead, and its range holds its quantile.
#[test]
fn forked_estimates_spread_around_the_forward_run_in_call_order() {
    use estimate::{Estimator, NEW_TICKET};
    // Service times as configured, their spread not yet seen: the default's.
    let mut s = state();
    let tickets: Vec<TicketId> = (0..6).map(|_| issue(&mut s, WEST, A, 0)).collect();
    s.apply(Command::CallNext { counter: W1 }, at(0)).unwrap();
    let now = at(2);
    let a = s.forked(WEST, now, Some((A, Priority::Normal)), 32, 7);
    assert_eq!(a, s.forked(WEST, now, Some((A, Priority::Normal)), 32, 7), "the same seed, the same forks");
    assert_ne!(a, s.forked(WEST, now, Some((A, Priority::Normal)), 32, 8));
    for w in tickets[1..].windows(2) {
        assert!(a.waits[&w[0]].iter().zip(&a.waits[&w[1]]).all(|(x, y)| x <= y), "called in order in every fork");
        assert!(a.quantile(w[0], 0.6) < a.quantile(w[1], 0.6));
    }
    let new = &a.waits[&NEW_TICKET];
    assert_eq!(new.len(), 32, "every fork calls the new ticket");
    let (lo, mid, hi) = (a.quantile(NEW_TICKET, 0.1).unwrap(), a.quantile(NEW_TICKET, 0.6).unwrap(), a.quantile(NEW_TICKET, 0.9).unwrap());
    assert!(lo < mid && mid < hi, "{lo} {mid} {hi}");
    // Six ahead at about 300 s each (the first two minutes in): around 28 minutes, drawn.
    let forward = s.forward(WEST, now, Some((A, Priority::Normal))).waits[&NEW_TICKET];
    assert!(lo < forward && (forward as f64) < hi as f64 * 1.2, "{lo} {forward} {hi}");
    assert!(s.new_ticket_estimate_s(Estimator::Forked, WEST, A, Priority::Normal, now) > 0);
}

/// Arrival curves learnt from earlier days: a counter that prefers the other service takes the
/// coming taxpayers of that service first, so a ticket of this service waits longer the more
/// are expected; with no curve the last hour's rate (none here) says nobody comes.
#[test]
fn learnt_arrivals_move_the_estimate_where_arrivals_go_first() {
    let mut s = state();
    for c in [E1, E3, W1] {
        s.apply(Command::SignOut { counter: c }, at(0)).unwrap();
    }
    // E2 serves filing and invoices and prefers invoices; it is busy with one now.
    issue(&mut s, EAST, B, 0);
    s.apply(Command::CallNext { counter: E2 }, at(0)).unwrap();
    let filing = issue(&mut s, EAST, A, 0);
    let before = s.forward(EAST, at(1), None).waits[&filing];
    let mut per = vec![vec![vec![(0.0, 0.0); 96]; 3]; 2];
    // 09:00-12:00: six invoice tickets a quarter hour.
    per[EAST][B][36..48].fill((6.0, 0.0));
    s.set_arrival_curves(Some(Arc::new(estimate::ArrivalCurves { per })));
    let after = s.forward(EAST, at(1), None).waits[&filing];
    assert!(after > before, "invoices expected first: {before} -> {after}");
}

/// The forked estimator's forecast: published into the state, it is what waiting tickets and
/// new ones are told (a ticket taken since is told what a new one was, less the time since);
/// without a fresh one of today, the forward estimate is told and no range.
#[test]
fn a_published_forecast_is_what_tickets_are_told_until_it_goes_stale() {
    use estimate::{Estimator, FORECAST_STALE_MS};
    let mut t = (*topo(0)).clone();
    t.estimates.estimator = Estimator::Forked;
    let mut s = State::new(Arc::new(t), at(0));
    s.apply(Command::SignIn { counter: W1, clerk: "clerk01".into(), take_over: false }, at(0)).unwrap();
    let tickets: Vec<TicketId> = (0..8).map(|_| issue(&mut s, WEST, A, 0)).collect();
    s.apply(Command::CallNext { counter: W1 }, at(0)).unwrap();
    let now = at(1);
    let last = *tickets.last().unwrap();
    // Nothing published: the forward estimate, no range.
    let forward = s.ticket_estimate_s(Estimator::Forward, last, now);
    assert_eq!(s.ticket_wait(last, now), (forward, None));
    let f = s.forecast(WEST, now, true, None);
    assert_eq!(f, s.forecast(WEST, now, true, None), "the same moment, the same forks");
    let told = f.tickets[&last];
    assert!(told.low_ms < told.wait_ms && told.wait_ms < told.high_ms, "{told:?}");
    let new = f.new[A].expect("the hall serves filing");
    assert!(new.wait_ms > told.wait_ms, "a new ticket is behind the last one");
    assert!(s.publish_forecast(Arc::new(f.clone())), "new figures: worth telling the screens");
    assert!(!s.publish_forecast(Arc::new(f.clone())), "the same figures again: nothing to tell");
    let (secs, range) = s.ticket_wait(last, now);
    assert_eq!(i64::from(secs), (told.wait_ms + 999) / 1000);
    let (low, high) = range.expect("a long wait has a range");
    assert!(i64::from(low) * 1000 <= told.low_ms && i64::from(high) * 1000 >= told.high_ms && high - low >= 180);
    // A minute later the same forecast tells a minute less.
    assert_eq!(s.ticket_wait(last, at(2)).0, secs - 60);
    // A ticket taken since: what a new one was told.
    let later = issue(&mut s, WEST, A, 2);
    assert_eq!(i64::from(s.ticket_wait(later, at(2)).0), (new.wait_ms + 999) / 1000);
    assert_eq!(i64::from(s.new_ticket_wait(WEST, A, now).0), (new.wait_ms + 999) / 1000);
    // Stale: the forward estimate again.
    let stale = now + FORECAST_STALE_MS + 60_000;
    assert_eq!(s.ticket_wait(last, stale), (s.ticket_estimate_s(Estimator::Forward, last, stale), None));
}

/// The duty leader's what-if: with more waiting than the long-queue limit, the forecast names
/// the closed counter serving the most of them and what a new ticket would wait with it open.
#[test]
fn the_what_if_names_the_counter_to_open_and_halves_the_wait() {
    let mut s = state();
    for c in [E2, E3] {
        s.apply(Command::SignOut { counter: c }, at(0)).unwrap();
    }
    for _ in 0..20 {
        issue(&mut s, EAST, A, 0);
    }
    let f = s.forecast(EAST, at(1), false, Some(30));
    assert_eq!(f.what_if, None, "20 waiting: not a long queue");
    let f = s.forecast(EAST, at(1), false, Some(10));
    let w = f.what_if.expect("a long queue");
    assert!(w.counter == E2 && w.service == A, "E3 serves no filing: {w:?}");
    assert!(w.after_ms * 10 < w.before_ms * 7, "a second counter: well under the wait with one ({w:?})");
}

/// What a forecast costs (run with `--release --ignored --nocapture`).
#[test]
#[ignore]
fn forecast_cost() {
    for n in [50usize, 300, 1000, 3000] {
        // Taken over the last two hours (a busy hall), nobody called yet.
        let mut s = state();
        for i in 0..n {
            s.apply(Command::Issue { hall: EAST, service: [A, B][i % 2], priority: Priority::Normal, request_id: None }, at(0) + (i as i64 * 120 * 60_000) / n as i64).unwrap();
        }
        s.apply(Command::SignOut { counter: E3 }, at(0)).unwrap();
        let now = at(120);
        let t = std::time::Instant::now();
        let f = s.forecast(EAST, now, true, Some(20));
        let fwd = std::time::Instant::now();
        s.forward(EAST, now, None);
        println!("{n} waiting: forecast {:.1} ms, forward {:.2} ms ({} told)", (fwd - t).as_secs_f64() * 1e3, fwd.elapsed().as_secs_f64() * 1e3, f.tickets.len());
        // All in one minute: a burst the last hour's rate extrapolates.
        let mut s = state();
        for i in 0..n {
            issue(&mut s, EAST, [A, B][i % 2], 0);
        }
        let t = std::time::Instant::now();
        let f = s.forecast(EAST, at(1), true, Some(20));
        println!("{n} in a burst: forecast {:.1} ms ({} told)", t.elapsed().as_secs_f64() * 1e3, f.tickets.len());
    }
}
