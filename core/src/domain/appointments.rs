//! Appointments (提前预约发号): booking a slot, cancelling, checking in at the hall's kiosk, and
//! the no-shows and bans. Part of the pure state machine: time passed in, no IO.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};

use super::{DomainError, Event, Millis, State, TicketId, TicketState};

pub type BookingId = u64;

/// `[appointments]`: the rules (defaults follow published local rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub enabled: bool,
    pub slot_minutes: u32,
    /// Share of a slot's counter time offered to appointments (the rest stays for walk-ins).
    pub share: f64,
    /// Places per slot by (hall, service), instead of the computed ones.
    pub capacity: HashMap<(usize, usize), u32>,
    /// Working days ahead that can be booked (today besides).
    pub days_ahead: u32,
    /// Today's slots can be booked until this many minutes before they start.
    pub same_day_until_minutes: u32,
    pub early_minutes: u32,
    pub late_minutes: u32,
    pub cancel_before_minutes: u32,
    pub no_show_limit: u32,
    pub cancel_limit: u32,
    pub ban_days: u32,
    /// Bookings per person and day at most.
    pub per_day: u32,
    /// Personal data is kept this many days after the booking's day.
    pub retention_days: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            enabled: false,
            slot_minutes: 30,
            share: 0.5,
            capacity: HashMap::new(),
            days_ahead: 5,
            same_day_until_minutes: 30,
            early_minutes: 15,
            late_minutes: 10,
            cancel_before_minutes: 60,
            no_show_limit: 3,
            cancel_limit: 5,
            ban_days: 30,
            per_day: 2,
            retention_days: 90,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingState {
    Booked,
    Cancelled,
    CheckedIn,
    NoShow,
}

/// Who booked. `person` is the ID number, upper-case; `phone` was proven (a one-time code sent
/// to it, or a booking client that vouches for its user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub person: String,
    pub name: String,
    pub phone: String,
}

impl Person {
    /// What bans, the per-day limit and the counts go by: the ID number together with the
    /// proven phone. An ID number alone is public knowledge (a company's credit code is), so
    /// someone who knows it cannot bar its owner.
    pub fn key(&self) -> String {
        format!("{}/{}", self.person, self.phone)
    }
}

/// A cancellation this soon after booking (a slip of the finger) does not count towards a ban.
pub const FREE_CANCEL_MS: Millis = 10 * 60_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub id: BookingId,
    pub code: String,
    pub hall: usize,
    pub service: usize,
    pub date: NaiveDate,
    /// The slot's start, minutes after local midnight.
    pub slot: u32,
    pub who: Person,
    pub state: BookingState,
    pub created_at: Millis,
    /// When it was cancelled, checked in or became a no-show.
    pub changed_at: Option<Millis>,
    pub ticket: Option<TicketId>,
    pub request_id: String,
    /// Cancelled at the core then (while its hall was cut off), but checked in at the hall:
    /// the hall's facts stand, and the duty leader is told.
    pub conflict_at: Option<Millis>,
}

/// A person's no-shows and cancellations this month, and their ban.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub no_shows: u32,
    pub cancels: u32,
    pub banned_until: Option<NaiveDate>,
}

/// How a taxpayer checks in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckInBy {
    Code(String),
    IdNumber(String),
}

/// The appointment side of the state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bookings {
    /// Today's and later bookings.
    pub by_id: BTreeMap<BookingId, Booking>,
    codes: HashMap<String, BookingId>,
    requests: HashMap<String, BookingId>,
    /// Places taken per (hall, service, date, slot) (every state but cancelled).
    taken: HashMap<(usize, usize, NaiveDate, u32), u32>,
    /// Per person: this month's record (month as (year, month)).
    pub records: HashMap<String, Record>,
    pub month: (i32, u32),
    pub next_id: BookingId,
}

impl Bookings {
    pub fn restore(bookings: Vec<Booking>, records: HashMap<String, Record>, month: (i32, u32), next_id: BookingId) -> Bookings {
        let mut b = Bookings { records, month, next_id, ..Bookings::default() };
        for bk in bookings {
            b.next_id = b.next_id.max(bk.id + 1);
            b.index(&bk);
            b.by_id.insert(bk.id, bk);
        }
        b
    }

    /// Adds a booking made elsewhere (a hall edge's, from the core).
    pub(super) fn insert(&mut self, bk: Booking) {
        self.index(&bk);
        self.by_id.insert(bk.id, bk);
    }

    /// A place of a slot is free again.
    pub(super) fn release(&mut self, key: (usize, usize, NaiveDate, u32)) {
        if let Some(n) = self.taken.get_mut(&key) {
            *n = n.saturating_sub(1);
        }
    }

    /// A place of a slot is taken again.
    pub(super) fn take(&mut self, key: (usize, usize, NaiveDate, u32)) {
        *self.taken.entry(key).or_default() += 1;
    }

    fn index(&mut self, bk: &Booking) {
        self.codes.insert(bk.code.clone(), bk.id);
        self.requests.insert(bk.request_id.clone(), bk.id);
        if bk.state != BookingState::Cancelled {
            *self.taken.entry((bk.hall, bk.service, bk.date, bk.slot)).or_default() += 1;
        }
    }

    pub fn by_request(&self, request_id: &str) -> Option<&Booking> {
        self.requests.get(request_id).and_then(|id| self.by_id.get(id))
    }

    pub fn by_code(&self, code: &str) -> Option<&Booking> {
        self.codes.get(code).and_then(|id| self.by_id.get(id))
    }

    pub fn taken(&self, hall: usize, service: usize, date: NaiveDate, slot: u32) -> u32 {
        self.taken.get(&(hall, service, date, slot)).copied().unwrap_or(0)
    }
}

pub(crate) fn month_of(d: NaiveDate) -> (i32, u32) {
    (d.year(), d.month())
}

impl State {
    pub fn bookings(&self) -> &Bookings {
        &self.bookings
    }

    /// The slots of `hall` on `date` (minutes after midnight of their starts).
    pub fn slots(&self, hall: usize, date: NaiveDate) -> Vec<u32> {
        let topo = &self.topo;
        if !topo.appointments.enabled || !topo.hall_open_day(hall, date) {
            return vec![];
        }
        let len = topo.appointments.slot_minutes;
        let mut out = vec![];
        for &(a, b) in &topo.halls[hall].hours {
            let mut s = a;
            while s + len <= b {
                out.push(s);
                s += len;
            }
        }
        out
    }

    /// Places per slot for `service` in `hall`: the configured number, or the counters serving
    /// it × the slot's length ÷ its default service time × `share`.
    pub fn slot_capacity(&self, hall: usize, service: usize) -> u32 {
        let rules = &self.topo.appointments;
        if let Some(&c) = rules.capacity.get(&(hall, service)) {
            return c;
        }
        let counters = self.topo.counters.iter().filter(|c| c.hall == hall && c.services.contains(&service)).count() as f64;
        let per_counter = f64::from(rules.slot_minutes * 60) / f64::from(self.topo.services[service].default_service_s.max(1));
        (counters * per_counter * rules.share).floor() as u32
    }

    /// Days that can be booked at `now`: today, and the next `days_ahead` working days.
    pub fn bookable_days(&self, hall: usize, now: Millis) -> Vec<NaiveDate> {
        let topo = &self.topo;
        let (today, _) = topo.local(now);
        let mut out = vec![];
        if topo.hall_open_day(hall, today) {
            out.push(today);
        }
        let mut d = today;
        let mut ahead = 0;
        while ahead < topo.appointments.days_ahead {
            d = d.succ_opt().unwrap_or(d);
            if topo.hall_open_day(hall, d) {
                out.push(d);
                ahead += 1;
            }
            if d > today + chrono::Duration::days(60) {
                break;
            }
        }
        out
    }

    /// May this slot be booked at `now` (ignoring places)?
    pub fn slot_bookable(&self, hall: usize, date: NaiveDate, slot: u32, now: Millis) -> Result<(), DomainError> {
        let topo = &self.topo;
        if !topo.appointments.enabled {
            return Err(DomainError::OutsideBookingWindow("appointments are not offered".into()));
        }
        if !topo.hall_open_day(hall, date) {
            return Err(DomainError::ClosedDay(date));
        }
        if !self.slots(hall, date).contains(&slot) {
            return Err(DomainError::OutsideBookingWindow("there is no such slot".into()));
        }
        if !self.bookable_days(hall, now).contains(&date) {
            return Err(DomainError::OutsideBookingWindow(format!("{date} cannot be booked now")));
        }
        let start = topo.at(date, slot);
        if start - now < i64::from(topo.appointments.same_day_until_minutes) * 60_000 {
            return Err(DomainError::OutsideBookingWindow(format!(
                "slots can be booked until {} minutes before they start",
                topo.appointments.same_day_until_minutes
            )));
        }
        Ok(())
    }

    fn record_mut(&mut self, person: &str, today: NaiveDate) -> &mut Record {
        if self.bookings.month != month_of(today) {
            self.bookings.month = month_of(today);
            for r in self.bookings.records.values_mut() {
                r.no_shows = 0;
                r.cancels = 0;
            }
            self.bookings.records.retain(|_, r| r.banned_until.is_some());
        }
        self.bookings.records.entry(person.to_string()).or_default()
    }

    /// Counts a no-show or a cancellation; bans at the limit.
    pub(super) fn count(&mut self, person: &str, today: NaiveDate, no_show: bool) {
        let rules = self.topo.appointments.clone();
        let r = self.record_mut(person, today);
        let hit = if no_show {
            r.no_shows += 1;
            r.no_shows >= rules.no_show_limit
        } else {
            r.cancels += 1;
            r.cancels >= rules.cancel_limit
        };
        if hit {
            let until = today + chrono::Duration::days(i64::from(rules.ban_days));
            r.banned_until = Some(r.banned_until.map_or(until, |u| u.max(until)));
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn book(
        &mut self,
        hall: usize,
        service: usize,
        date: NaiveDate,
        slot: u32,
        who: Person,
        code: String,
        request_id: String,
        now: Millis,
    ) -> Result<Vec<Event>, DomainError> {
        if let Some(id) = self.bookings.requests.get(&request_id) {
            let b = &self.bookings.by_id[id];
            if (b.hall, b.service, b.date, b.slot, b.who.key()) == (hall, service, date, slot, who.key()) {
                return Err(DomainError::RepeatedBooking(*id));
            }
            return Err(DomainError::RequestIdReused);
        }
        let (today, _) = self.topo.local(now);
        self.slot_bookable(hall, date, slot, now)?;
        if let Some(until) = self.bookings.records.get(&who.key()).and_then(|r| r.banned_until).filter(|u| *u > today) {
            return Err(DomainError::BookingBanned(until));
        }
        let mine: Vec<&Booking> = self
            .bookings
            .by_id
            .values()
            .filter(|b| b.who.key() == who.key() && b.date == date && b.state != BookingState::Cancelled)
            .collect();
        if mine.iter().any(|b| b.service == service) {
            return Err(DomainError::DuplicateBooking("one booking per person, service and day".into()));
        }
        if mine.len() as u32 >= self.topo.appointments.per_day {
            return Err(DomainError::DuplicateBooking(format!("at most {} bookings per person and day", self.topo.appointments.per_day)));
        }
        let capacity = self.slot_capacity(hall, service);
        if self.bookings.taken(hall, service, date, slot) >= capacity {
            return Err(DomainError::SlotFull);
        }
        if self.bookings.codes.contains_key(&code) {
            return Err(DomainError::CodeTaken);
        }
        let id = self.bookings.next_id.max(1);
        self.bookings.next_id = id + 1;
        let b = Booking {
            id,
            code,
            hall,
            service,
            date,
            slot,
            who,
            state: BookingState::Booked,
            created_at: now,
            changed_at: None,
            ticket: None,
            request_id,
            conflict_at: None,
        };
        self.bookings.index(&b);
        self.bookings.by_id.insert(id, b.clone());
        Ok(vec![Event::BookingMade { booking: Box::new(b) }])
    }

    pub(super) fn cancel_booking(&mut self, code: &str, phone: &str, now: Millis) -> Result<Vec<Event>, DomainError> {
        let b = self.bookings.by_code(code).filter(|b| b.who.phone == phone).ok_or(DomainError::UnknownBooking)?;
        match b.state {
            BookingState::Booked => {}
            BookingState::Cancelled => return Err(DomainError::BookingCancelled),
            BookingState::CheckedIn | BookingState::NoShow => return Err(DomainError::CancelTooLate),
        }
        let start = self.topo.at(b.date, b.slot);
        if now > start - i64::from(self.topo.appointments.cancel_before_minutes) * 60_000 {
            return Err(DomainError::CancelTooLate);
        }
        let (id, key, person, fresh) = (b.id, (b.hall, b.service, b.date, b.slot), b.who.key(), now - b.created_at < FREE_CANCEL_MS);
        if let Some(n) = self.bookings.taken.get_mut(&key) {
            *n = n.saturating_sub(1);
        }
        let b = self.bookings.by_id.get_mut(&id).expect("found above");
        b.state = BookingState::Cancelled;
        b.changed_at = Some(now);
        let b = Box::new(b.clone());
        let (today, _) = self.topo.local(now);
        if !fresh {
            self.count(&person, today, false);
        }
        Ok(vec![Event::BookingCancelled { booking: b }])
    }

    /// The booking `by` names for a check-in in `hall` at `now`.
    fn find_for_check_in(&self, hall: usize, by: &CheckInBy, now: Millis) -> Result<BookingId, DomainError> {
        let (today, _) = self.topo.local(now);
        let candidates: Vec<&Booking> = match by {
            CheckInBy::Code(c) => self.bookings.by_code(c).into_iter().collect(),
            CheckInBy::IdNumber(id) => {
                let id = id.trim().to_ascii_uppercase();
                self.bookings.by_id.values().filter(|b| b.who.person == id && b.date == today).collect()
            }
        };
        if candidates.is_empty() {
            return Err(DomainError::UnknownBooking);
        }
        // Already checked in: that one. Else a live one of today in this hall, the earliest.
        if let Some(b) = candidates.iter().find(|b| b.state == BookingState::CheckedIn && b.date == today) {
            return Ok(b.id);
        }
        let here: Vec<&&Booking> = candidates.iter().filter(|b| b.hall == hall).collect();
        let Some(b) = here.iter().filter(|b| b.state == BookingState::Booked).min_by_key(|b| (b.date, b.slot)).or(here.first()) else {
            return Err(DomainError::WrongHall(candidates[0].hall));
        };
        Ok(b.id)
    }

    pub(super) fn check_in(&mut self, hall: usize, by: CheckInBy, request_id: Option<String>, now: Millis) -> Result<Vec<Event>, DomainError> {
        if let Some(t) = request_id.as_deref().and_then(|r| self.ticket_by_request(r)) {
            return if t.issued_hall == hall && t.slot.is_some() { Err(DomainError::RepeatedTicket(t.id)) } else { Err(DomainError::RequestIdReused) };
        }
        if let CheckInBy::Code(code) = &by {
            if let Some(t) = self.remote_by_code(code) {
                return self.check_in_remote(hall, t.id, now);
            }
        }
        let id = self.find_for_check_in(hall, &by, now)?;
        let b = &self.bookings.by_id[&id];
        let rules = &self.topo.appointments;
        let start = self.topo.at(b.date, b.slot);
        let (opens, closes) = (start - i64::from(rules.early_minutes) * 60_000, start + i64::from(rules.late_minutes) * 60_000);
        match b.state {
            BookingState::CheckedIn => return Err(DomainError::RepeatedTicket(b.ticket.unwrap_or_default())),
            BookingState::Cancelled => return Err(DomainError::BookingCancelled),
            BookingState::NoShow => return Err(DomainError::TooLate),
            BookingState::Booked => {}
        }
        if now < opens {
            return Err(DomainError::TooEarly(opens));
        }
        if now > closes {
            return Err(DomainError::TooLate);
        }
        let (service, slot_start) = (b.service, start);
        let mut events = self.issue_ticket(hall, service, super::Priority::Normal, request_id, Some(slot_start), now);
        let Some(Event::TicketIssued { ticket }) = events.first() else { unreachable!("issue_ticket yields TicketIssued") };
        let ticket = *ticket;
        let b = self.bookings.by_id.get_mut(&id).expect("found above");
        b.state = BookingState::CheckedIn;
        b.changed_at = Some(now);
        b.ticket = Some(ticket);
        events.push(Event::BookingCheckedIn { booking: Box::new(b.clone()) });
        Ok(events)
    }

    /// At every tick: today's bookings whose check-in window closed are no-shows; a new day
    /// forgets the bookings of earlier days (no-shows first) and ended bans.
    pub(super) fn sweep_bookings(&mut self, now: Millis) -> Vec<Event> {
        if self.bookings.by_id.is_empty() {
            return vec![];
        }
        let late = i64::from(self.topo.appointments.late_minutes) * 60_000;
        let (today, _) = self.topo.local(now);
        let due: Vec<BookingId> = self
            .bookings
            .by_id
            .values()
            .filter(|b| b.state == BookingState::Booked && self.topo.at(b.date, b.slot) + late < now)
            // A hall run elsewhere says itself who did not come.
            .filter(|b| !self.elsewhere.contains(&b.hall))
            .map(|b| b.id)
            .collect();
        let mut events = vec![];
        for id in due {
            let b = self.bookings.by_id.get_mut(&id).expect("listed");
            b.state = BookingState::NoShow;
            b.changed_at = Some(now);
            let (person, booking) = (b.who.key(), Box::new(b.clone()));
            self.count(&person, today, true);
            events.push(Event::BookingNoShow { booking });
        }
        events
    }

    /// A new business day: bookings of earlier days leave memory; ended bans too.
    pub(super) fn forget_old_bookings(&mut self, day: NaiveDate) {
        let old: Vec<BookingId> = self.bookings.by_id.values().filter(|b| b.date < day).map(|b| b.id).collect();
        for id in old {
            if let Some(b) = self.bookings.by_id.remove(&id) {
                self.bookings.codes.remove(&b.code);
                self.bookings.requests.remove(&b.request_id);
                self.bookings.taken.remove(&(b.hall, b.service, b.date, b.slot));
            }
        }
        if self.bookings.month != month_of(day) {
            self.bookings.month = month_of(day);
            for r in self.bookings.records.values_mut() {
                r.no_shows = 0;
                r.cancels = 0;
            }
        }
        for r in self.bookings.records.values_mut() {
            if r.banned_until.is_some_and(|u| u <= day) {
                r.banned_until = None;
            }
        }
        self.bookings.records.retain(|_, r| r.banned_until.is_some() || r.no_shows > 0 || r.cancels > 0);
    }

    /// Does `t` come from an appointment that is waiting?
    pub fn is_waiting_appointment(&self, id: TicketId) -> bool {
        self.tickets.get(&id).is_some_and(|t| t.slot.is_some() && t.state == TicketState::Waiting)
    }
}

/// GB 11643 (resident ID number): 17 digits and a check digit (0-9 or X).
pub fn valid_resident_id(s: &str) -> bool {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17].iter().zip(W).map(|(d, w)| u32::from(d - b'0') * w).sum();
    b[17].to_ascii_uppercase() == C[(sum % 11) as usize]
}

/// GB 32100-2015 (统一社会信用代码, the 纳税人识别号 of organisations): 18 characters of
/// `0-9A-Z` without I, O, S, V, Z, the last a check character.
pub fn valid_credit_code(s: &str) -> bool {
    const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    let b = s.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let mut sum = 0;
    for (i, c) in b.iter().enumerate() {
        let Some(v) = CHARS.iter().position(|x| *x == c.to_ascii_uppercase()) else { return false };
        if i < 17 {
            sum += v as u32 * W[i];
        } else {
            let check = (31 - sum % 31) % 31;
            return v as u32 == check;
        }
    }
    false
}

/// An 11-digit mainland mobile number.
pub fn valid_phone(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

/// A person's name: 1-30 characters, letters (any script), spaces, `·`, `.`, `-`.
pub fn valid_name(s: &str) -> bool {
    let n = s.chars().count();
    (1..=30).contains(&n) && s.trim() == s && s.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '·' | '.' | '-'))
}

/// 张* · 13812341234 -> 138****1234 · 110101199003077777 -> 1101**********777X-style.
pub fn mask_name(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => format!("{first}{}", "*".repeat(c.count().max(1))),
        None => String::new(),
    }
}

pub fn mask_phone(s: &str) -> String {
    if s.len() == 11 {
        format!("{}****{}", &s[..3], &s[7..])
    } else {
        "*".repeat(s.len())
    }
}

pub fn mask_id(s: &str) -> String {
    if s.len() > 8 && s.is_ascii() {
        format!("{}{}{}", &s[..4], "*".repeat(s.len() - 8), &s[s.len() - 4..])
    } else {
        "*".repeat(s.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_characters() {
        assert!(valid_resident_id("11010519491231002X"));
        assert!(valid_resident_id("11010519491231002x"));
        assert!(!valid_resident_id("110105194912310021"));
        assert!(!valid_resident_id("1101051949123100"));
        assert!(valid_credit_code("91350100M000100Y43"));
        assert!(!valid_credit_code("91350100M000100Y44"));
        assert!(!valid_credit_code("91350100M000100YI3"), "I is not used");
        assert!(valid_phone("13812341234") && !valid_phone("12812341234") && !valid_phone("1381234123"));
        assert!(valid_name("张三") && valid_name("Anna Lee") && valid_name("买买提·艾力") && !valid_name("") && !valid_name("x<script>"));
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("张"), "张*");
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_id("11010519491231002X"), "1101**********002X");
    }
}
