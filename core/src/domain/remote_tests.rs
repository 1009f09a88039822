//! Remote tickets (线上取号): numbered from the hall's sequence, called only after check-in,
//! held when their turn comes first, no-shows when the hold runs out.

use super::tests::{at, state, EAST};
use super::*;

const A: usize = 0;
const E2: usize = 1;
const E3: usize = 2;

fn remote(s: &mut State, code: &str, minute: i64) -> Result<TicketId, DomainError> {
    let ev = s.apply(Command::IssueRemote { hall: EAST, service: A, code: code.into(), request_id: format!("r-{code}") }, at(minute))?;
    match ev.as_slice() {
        [Event::TicketIssued { ticket }] => Ok(*ticket),
        other => panic!("unexpected {other:?}"),
    }
}

fn walk_in(s: &mut State, minute: i64) -> TicketId {
    match s.apply(Command::Issue { hall: EAST, service: A, priority: Priority::Normal, request_id: None }, at(minute)).unwrap().as_slice() {
        [Event::TicketIssued { ticket }] => *ticket,
        other => panic!("unexpected {other:?}"),
    }
}

fn check_in(s: &mut State, code: &str, minute: i64) -> Result<Vec<Event>, DomainError> {
    s.apply(Command::CheckIn { hall: EAST, by: CheckInBy::Code(code.into()), request_id: Some(format!("k-{code}-{minute}")) }, at(minute))
}

/// Calls the next ticket at E2 (filing and invoice) and finishes it: what was called, and
/// the events before the call.
fn call(s: &mut State, minute: i64) -> (TicketId, Vec<Event>) {
    let mut ev = s.apply(Command::CallNext { counter: E2 }, at(minute)).unwrap();
    let Some(Event::TicketCalled { ticket, .. }) = ev.pop() else { panic!("no call: {ev:?}") };
    s.apply(Command::Finish { counter: E2 }, at(minute)).unwrap();
    (ticket, ev)
}

fn only_e2(s: &mut State) {
    for c in [0, E3, 3] {
        s.apply(Command::SignOut { counter: c }, at(0)).unwrap();
    }
}

#[test]
fn a_remote_ticket_takes_the_next_number_and_keeps_its_place_once_checked_in() {
    let mut s = state();
    only_e2(&mut s);
    let w1 = walk_in(&mut s, 1);
    let r = remote(&mut s, "50000001", 2).unwrap();
    let w2 = walk_in(&mut s, 3);
    assert_eq!(s.number(s.ticket(r).unwrap()), "A002", "the same sequence as the kiosk's");
    assert_eq!(s.waiting(EAST, A), 3, "the hall counts it as waiting");
    assert_eq!(s.waiting_ahead(s.ticket(w2).unwrap(), at(3)), 2, "those behind count it ahead");
    check_in(&mut s, "50000001", 4).unwrap();
    assert_eq!(call(&mut s, 5).0, w1);
    assert_eq!(call(&mut s, 6), (r, vec![]), "called in its place, nothing held");
    assert_eq!(call(&mut s, 7).0, w2);
}

#[test]
fn not_checked_in_when_its_turn_comes_it_is_held_then_next_on_arrival() {
    let mut s = state();
    only_e2(&mut s);
    let r = remote(&mut s, "50000002", 1).unwrap();
    let w1 = walk_in(&mut s, 2);
    let w2 = walk_in(&mut s, 3);
    let w3 = walk_in(&mut s, 4);
    let (called, before) = call(&mut s, 5);
    assert_eq!(called, w1, "the others are called meanwhile");
    assert_eq!(before, vec![Event::TicketHeld { ticket: r }]);
    assert_eq!(s.held_until(s.ticket(r).unwrap()), Some(at(15)));
    assert_eq!(s.waiting(EAST, A), 2, "a held ticket is not counted as waiting in line");
    assert_eq!(s.waiting_ahead(s.ticket(w2).unwrap(), at(5)), 0);
    assert_eq!(call(&mut s, 6), (w2, vec![]), "held once only");
    assert_eq!(check_in(&mut s, "50000002", 9).unwrap(), vec![Event::TicketCheckedIn { ticket: r }]);
    assert_eq!(call(&mut s, 10).0, r, "arrived within the hold: next");
    assert_eq!(call(&mut s, 11).0, w3);
}

#[test]
fn a_held_ticket_not_checked_in_in_time_is_a_no_show() {
    let mut s = state();
    only_e2(&mut s);
    let r = remote(&mut s, "50000003", 1).unwrap();
    walk_in(&mut s, 2);
    call(&mut s, 5);
    assert_eq!(s.apply(Command::Tick, at(14)).unwrap(), vec![]);
    assert_eq!(s.apply(Command::Tick, at(15)).unwrap(), vec![Event::TicketLapsed { ticket: r }]);
    assert_eq!(s.ticket(r).unwrap().state, TicketState::NoShow);
    assert_eq!(check_in(&mut s, "50000003", 16), Err(DomainError::TooLate), "too late to check in");
    assert_eq!(s.apply(Command::CallNext { counter: E2 }, at(16)), Err(DomainError::QueueEmpty));
    // The taxpayer turns up late at the help desk: staff put the number back; it is here now.
    s.apply(Command::Requeue { ticket: r }, at(20)).unwrap();
    assert!(!s.ticket(r).unwrap().away() && !s.ticket(r).unwrap().held());
    assert_eq!(s.apply(Command::Tick, at(40)).unwrap(), vec![], "not held again");
    assert_eq!(call(&mut s, 41).0, r);
}

#[test]
fn a_remote_ticket_alone_is_not_held_by_a_call_with_nobody_to_call() {
    let mut s = state();
    only_e2(&mut s);
    let r = remote(&mut s, "50000004", 1).unwrap();
    assert_eq!(s.apply(Command::CallNext { counter: E2 }, at(2)), Err(DomainError::QueueEmpty));
    assert!(!s.ticket(r).unwrap().held(), "a refused command changes nothing");
}

#[test]
fn check_in_refusals_and_repeats() {
    let mut s = state();
    only_e2(&mut s);
    let r = remote(&mut s, "50000005", 1).unwrap();
    let west = s.apply(Command::CheckIn { hall: 1, by: CheckInBy::Code("50000005".into()), request_id: None }, at(2));
    assert_eq!(west, Err(DomainError::WrongHall(EAST)));
    check_in(&mut s, "50000005", 2).unwrap();
    assert_eq!(check_in(&mut s, "50000005", 3), Err(DomainError::RepeatedTicket(r)), "a second check-in shows the same ticket");
    assert_eq!(check_in(&mut s, "59999999", 3), Err(DomainError::UnknownBooking));
}

#[test]
fn remote_issue_refusals() {
    let mut s = state();
    let first = remote(&mut s, "50000010", 1).unwrap();
    assert_eq!(remote(&mut s, "50000010", 1), Err(DomainError::RepeatedTicket(first)), "a repeated request is the same ticket");
    let again = s.apply(Command::IssueRemote { hall: EAST, service: A, code: "50000010".into(), request_id: "other".into() }, at(1));
    assert_eq!(again, Err(DomainError::CodeTaken));
    for i in 1..5 {
        remote(&mut s, &format!("5000002{i}"), 1).unwrap();
    }
    assert_eq!(remote(&mut s, "50000030", 1), Err(DomainError::RemoteQuotaFull(5)));
    let west = s.apply(Command::IssueRemote { hall: 1, service: A, code: "50000031".into(), request_id: "w".into() }, at(1));
    assert!(west.is_ok(), "the quota is per hall");
}

#[test]
fn remote_tickets_survive_a_restore_in_every_stage() {
    let mut s = state();
    only_e2(&mut s);
    remote(&mut s, "50000040", 1).unwrap();
    remote(&mut s, "50000041", 1).unwrap();
    remote(&mut s, "50000042", 1).unwrap();
    walk_in(&mut s, 2);
    walk_in(&mut s, 2);
    check_in(&mut s, "50000041", 2).unwrap();
    call(&mut s, 3);
    let tickets: Vec<Ticket> = s.tickets().cloned().collect();
    let counters: Vec<(usize, Counter)> = (0..4).map(|c| (c, s.counter(c).clone())).collect();
    let recent: Vec<Call> = s.recent_calls(EAST).cloned().collect();
    let back = State::restore(s.topology().clone(), s.day(), s.next_ticket_id(), tickets, counters, vec![], recent, s.bookings().clone(), at(3));
    assert_eq!(back.differences(&s), Vec::<String>::new());
}

#[test]
fn a_ticket_finished_today_is_rated_once_on_the_phone_where_the_hall_takes_phone_ratings() {
    let mut s = state();
    only_e2(&mut s);
    let id = walk_in(&mut s, 1);
    let waiting = walk_in(&mut s, 1);
    assert_eq!(s.apply(Command::RateByPhone { ticket: waiting, score: 5 }, at(2)), Err(DomainError::RatingNotAllowed), "not served yet");
    call(&mut s, 2);
    assert_eq!(s.apply(Command::RateByPhone { ticket: id, score: 5 }, at(3)), Err(DomainError::RatingNotAllowed), "the hall rates on pads");
    let mut topo = (**s.topology()).clone();
    topo.halls[EAST].phone.ratings = true;
    let tickets: Vec<Ticket> = s.tickets().cloned().collect();
    let counters: Vec<(usize, Counter)> = (0..4).map(|c| (c, s.counter(c).clone())).collect();
    let mut s = State::restore(std::sync::Arc::new(topo), s.day(), s.next_ticket_id(), tickets, counters, vec![], vec![], s.bookings().clone(), at(3));
    assert_eq!(s.apply(Command::RateByPhone { ticket: id, score: 0 }, at(3)), Err(DomainError::BadScore));
    assert_eq!(s.apply(Command::RateByPhone { ticket: id, score: 2 }, at(3)), Ok(vec![Event::TicketRated { ticket: id, counter: E2, score: 2 }]));
    assert_eq!(s.apply(Command::RateByPhone { ticket: id, score: 5 }, at(4)), Err(DomainError::AlreadyRated));
}
