//! The sequencing state: tickets, counters and queues, changed only by [`State::apply`].

use std::collections::{BTreeSet, HashMap, VecDeque};

use chrono::NaiveDate;

use super::call_next::{is_urgent, pick, Queue};
use super::{appointments, estimate, Bookings, Command, CounterState, DomainError, Event, Millis, Opening, Priority, TicketId, TicketState, Topology};

#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: TicketId,
    pub day: NaiveDate,
    /// Hall and service the number was issued in; the number never changes.
    pub issued_hall: usize,
    pub issued_service: usize,
    /// Hall and service whose queue it is in now (differs after a transfer).
    pub hall: usize,
    pub service: usize,
    pub seq: u32,
    pub priority: Priority,
    pub state: TicketState,
    pub issued_at: Millis,
    /// When it (re-)entered the queue it waits in; orders the queue.
    pub queued_at: Millis,
    pub called_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// Serving counter when called; target counter while waiting after a transfer to a counter.
    pub counter: Option<usize>,
    /// The clerk who called it last.
    pub clerk: Option<std::sync::Arc<str>>,
    pub call_count: u32,
    pub transferred: bool,
    pub request_id: Option<Box<str>>,
    pub rating: Option<u8>,
    /// A checked-in appointment: the start of its slot.
    pub slot: Option<Millis>,
    /// A remote ticket (线上取号): called only once checked in at its hall's kiosk.
    pub remote: Option<Remote>,
}

/// What a remote ticket (线上取号) went through.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// What the taxpayer types or scans at the kiosk to check in (drawn by the caller).
    pub code: Box<str>,
    pub arrived_at: Option<Millis>,
    /// When its turn came before it was checked in: held from then for the hall's
    /// `hold_minutes`, while others are called.
    pub held_at: Option<Millis>,
}

impl Ticket {
    /// A remote ticket not checked in yet: it keeps its place, but is not called.
    pub fn away(&self) -> bool {
        self.remote.as_ref().is_some_and(|r| r.arrived_at.is_none())
    }

    /// A remote ticket whose turn came before its check-in.
    pub fn held(&self) -> bool {
        self.remote.as_ref().is_some_and(|r| r.held_at.is_some())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Counter {
    pub state: CounterState,
    pub clerk: Option<String>,
    pub current: Option<TicketId>,
    /// The ticket this counter finished last, and when: the one its rating pad may rate.
    pub last_finished: Option<(TicketId, Millis)>,
    /// While paused: since when, and why (one of [`Topology::pause_reasons`]).
    pub pause: Option<(Millis, String)>,
}

/// Finished-ticket service times of today, per service.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Observed {
    pub(super) count: u32,
    pub(super) total_ms: i64,
    /// The last [`estimate::RECENT_SERVICES`] service times as (finished at, ticket, ms),
    /// oldest first: the same whether learnt live or restored from the store.
    pub(super) recent: VecDeque<(Millis, TicketId, i64)>,
}

impl Observed {
    pub(super) fn add(&mut self, finished_at: Millis, ticket: TicketId, ms: i64) {
        self.count += 1;
        self.total_ms += ms;
        let key = (finished_at, ticket, ms);
        let at = self.recent.iter().rposition(|e| *e <= key).map_or(0, |i| i + 1);
        self.recent.insert(at, key);
        while self.recent.len() > estimate::RECENT_SERVICES {
            self.recent.pop_front();
        }
    }
}

/// How many recent calls per hall are kept for screens.
pub const RECENT_CALLS: usize = 12;

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub ticket: TicketId,
    pub counter: usize,
    pub call_count: u32,
    pub at: Millis,
}

/// The whole sequencing state. Two states are equal when every queue, counter, ticket and
/// remembered request is.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub(super) topo: std::sync::Arc<Topology>,
    pub(super) day: NaiveDate,
    pub(super) next_ticket_id: TicketId,
    /// Today's tickets, plus older ones still at a counter.
    pub(super) tickets: HashMap<TicketId, Ticket>,
    /// Last sequence issued per (hall, service) today.
    pub(super) seqs: Vec<Vec<u32>>,
    pub(super) queues: Vec<Vec<Queue>>,
    /// Tickets transferred to a specific counter, waiting there.
    pub(super) direct: Vec<BTreeSet<(Millis, TicketId)>>,
    pub(super) counters: Vec<Counter>,
    pub(super) observed: Vec<Observed>,
    pub(super) request_ids: HashMap<Box<str>, TicketId>,
    pub(super) recent: Vec<VecDeque<Call>>,
    pub(super) publicity: Vec<Vec<String>>,
    pub(super) bookings: Bookings,
    /// Per hall and service: could tickets be taken at the last tick?
    pub(super) issuing: Vec<Vec<bool>>,
    /// Expected arrivals learnt from earlier days, when known ([`State::set_arrival_curves`]).
    pub(super) curves: Option<std::sync::Arc<super::estimate::ArrivalCurves>>,
    /// What the forked estimator last published per hall ([`State::publish_forecast`]).
    pub(super) forecasts: super::estimate::Published,
    /// Halls another server runs ([`State::set_elsewhere`]): nothing about them is done here.
    pub(super) elsewhere: BTreeSet<usize>,
    /// Bookings and publicity of every hall are made here (the core, not a hall edge).
    pub(super) central: bool,
}

impl State {
    /// A fresh state for the business day of `now`.
    pub fn new(topo: std::sync::Arc<Topology>, now: Millis) -> State {
        let (h, s, c) = (topo.halls.len(), topo.services.len(), topo.counters.len());
        State {
            day: topo.business_day(now),
            next_ticket_id: 1,
            tickets: HashMap::new(),
            seqs: vec![vec![0; s]; h],
            queues: vec![vec![Queue::default(); s]; h],
            direct: vec![BTreeSet::new(); c],
            counters: vec![
                Counter { state: CounterState::Closed, clerk: None, current: None, last_finished: None, pause: None };
                c
            ],
            observed: vec![Observed::default(); s],
            request_ids: HashMap::new(),
            recent: vec![VecDeque::new(); h],
            publicity: topo.halls.iter().map(|h| h.publicity.clone()).collect(),
            // As a load of an empty store gives it.
            bookings: Bookings::restore(vec![], HashMap::new(), appointments::month_of(topo.business_day(now)), 1),
            issuing: vec![vec![true; s]; h],
            curves: None,
            forecasts: Default::default(),
            elsewhere: topo.elsewhere.clone(),
            central: topo.central,
            topo,
        }
    }

    /// Which halls another server runs, and whether this one is the core.
    ///
    /// The core lets a hall edge run its hall (`elsewhere`: those halls), and still makes
    /// every hall's bookings and publicity (`central`); a hall edge runs its own hall only
    /// (`elsewhere`: the others) and makes no bookings. A command about a hall run elsewhere
    /// is refused ([`DomainError::Elsewhere`]), and this state decides nothing about it on
    /// its own (no booking of it becomes a no-show here: its hall's facts say so).
    pub fn set_elsewhere(&mut self, elsewhere: BTreeSet<usize>, central: bool) {
        self.elsewhere = elsewhere;
        self.central = central;
    }

    /// Does another server run this hall?
    pub fn runs_elsewhere(&self, hall: usize) -> bool {
        self.elsewhere.contains(&hall)
    }

    /// Halls another server runs.
    pub fn elsewhere(&self) -> &BTreeSet<usize> {
        &self.elsewhere
    }

    /// Refuses a command about a hall another server runs.
    fn check_here(&self, cmd: &Command) -> Result<(), DomainError> {
        let away = |h: usize| -> Result<(), DomainError> {
            match self.elsewhere.contains(&h) {
                true => Err(DomainError::Elsewhere(self.topo.halls[h].id.clone())),
                false => Ok(()),
            }
        };
        let counter_hall = |c: usize| self.topo.counters.get(c).map(|d| d.hall);
        match cmd {
            // Checked where they are applied.
            Command::Tick | Command::Receive(_) | Command::Settle { .. } => Ok(()),
            Command::Book { hall, .. } => match self.central {
                true => Ok(()),
                false => Err(DomainError::Elsewhere(self.topo.halls[*hall].id.clone())),
            },
            Command::CancelBooking { .. } => match self.central {
                true => Ok(()),
                false => Err(DomainError::Elsewhere("bookings".into())),
            },
            Command::SetPublicity { hall, .. } => match self.central {
                true => Ok(()),
                false => away(*hall),
            },
            Command::Issue { hall, .. } | Command::CheckIn { hall, .. } | Command::IssueRemote { hall, .. } => away(*hall),
            Command::Requeue { ticket } | Command::RateByPhone { ticket, .. } => match self.tickets.get(ticket) {
                Some(t) => away(t.hall),
                None => Ok(()),
            },
            Command::Transfer { counter, hall, .. } => {
                counter_hall(*counter).map_or(Ok(()), away)?;
                hall.map_or(Ok(()), away)
            }
            Command::TransferAway { counter, hall, .. } => {
                counter_hall(*counter).map_or(Ok(()), away)?;
                match self.elsewhere.contains(hall) {
                    true => Ok(()),
                    false => Err(DomainError::TransferHallMismatch(self.topo.halls[*hall].id.clone())),
                }
            }
            Command::Adopt { ticket, .. } => away(ticket.hall),
            other => other.counter().and_then(counter_hall).map_or(Ok(()), away),
        }
    }

    /// Rebuild from stored rows (when the server starts, and after a failed commit).
    ///
    /// `tickets`: the day's tickets, every ticket at a counter, and every older ticket touched
    /// since the day began; `recent`: the day's calls, oldest first.
    pub fn restore(
        topo: std::sync::Arc<Topology>,
        day: NaiveDate,
        next_ticket_id: TicketId,
        tickets: Vec<Ticket>,
        counters: Vec<(usize, Counter)>,
        publicity: Vec<(usize, Vec<String>)>,
        recent: Vec<Call>,
        bookings: Bookings,
        now: Millis,
    ) -> State {
        let mut st = State::new(topo, 0);
        st.day = day;
        st.bookings = bookings;
        st.next_ticket_id = next_ticket_id;
        for (ix, c) in counters {
            if ix < st.counters.len() {
                st.counters[ix] = c;
            }
        }
        for (hall, msgs) in publicity {
            if hall < st.publicity.len() {
                st.publicity[hall] = msgs;
            }
        }
        // Service times are learnt in the order they happened.
        let mut served: Vec<(Millis, TicketId, usize, i64)> = tickets
            .iter()
            .filter(|t| t.day == day)
            .filter_map(|t| match (t.state, t.called_at, t.finished_at) {
                (TicketState::Finished, Some(c), Some(f)) => Some((f, t.id, t.service, f - c)),
                _ => None,
            })
            .collect();
        served.sort_unstable();
        for (f, id, service, ms) in served {
            st.observed[service].add(f, id, ms);
        }
        for t in tickets {
            // Ids of this server's own block (a ticket transferred here keeps another's).
            if t.id >> 40 == st.next_ticket_id >> 40 {
                st.next_ticket_id = st.next_ticket_id.max(t.id + 1);
            }
            if t.day == day {
                let seq = &mut st.seqs[t.issued_hall][t.issued_service];
                *seq = (*seq).max(t.seq);
                if let Some(r) = &t.request_id {
                    st.request_ids.insert(r.clone(), t.id);
                }
            }
            if t.state == TicketState::Waiting {
                st.enqueue_existing(&t);
            }
            st.tickets.insert(t.id, t);
        }
        for c in recent {
            if c.counter < st.counters.len() && st.tickets.contains_key(&c.ticket) {
                st.remember_call(c);
            }
        }
        st.issuing = st.issuing_now(now);
        st
    }

    /// The parts in which two states differ (for reports when they should not).
    pub fn differences(&self, other: &State) -> Vec<String> {
        let mut out = vec![];
        let mut check = |name: &str, same: bool| {
            if !same {
                out.push(name.to_string());
            }
        };
        check("day", self.day == other.day);
        check("next_ticket_id", self.next_ticket_id == other.next_ticket_id);
        check("seqs", self.seqs == other.seqs);
        check("queues", self.queues == other.queues);
        check("direct", self.direct == other.direct);
        for (i, (a, b)) in self.counters.iter().zip(&other.counters).enumerate() {
            check(&format!("counter {i}: {a:?} vs {b:?}"), a == b);
        }
        check("observed", self.observed == other.observed);
        check("request_ids", self.request_ids == other.request_ids);
        check("recent calls", self.recent == other.recent);
        check("publicity", self.publicity == other.publicity);
        check("issuing", self.issuing == other.issuing);
        if self.bookings != other.bookings {
            out.push(format!("bookings: {:?} vs {:?}", self.bookings, other.bookings));
        }
        let mut ids: Vec<&TicketId> = self.tickets.keys().chain(other.tickets.keys()).collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            match (self.tickets.get(id), other.tickets.get(id)) {
                (Some(a), Some(b)) if a != b => out.push(format!("ticket {id}: {a:?} vs {b:?}")),
                (Some(_), None) | (None, Some(_)) => out.push(format!("ticket {id} only on one side")),
                _ => {}
            }
        }
        out
    }

    pub fn topology(&self) -> &std::sync::Arc<Topology> {
        &self.topo
    }
    pub fn day(&self) -> NaiveDate {
        self.day
    }
    pub fn next_ticket_id(&self) -> TicketId {
        self.next_ticket_id
    }
    pub fn ticket(&self, id: TicketId) -> Option<&Ticket> {
        self.tickets.get(&id)
    }
    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }
    pub fn counter(&self, ix: usize) -> &Counter {
        &self.counters[ix]
    }
    pub fn recent_calls(&self, hall: usize) -> impl Iterator<Item = &Call> {
        self.recent[hall].iter().rev()
    }
    pub fn publicity(&self, hall: usize) -> &[String] {
        &self.publicity[hall]
    }
    pub fn ticket_by_request(&self, request_id: &str) -> Option<&Ticket> {
        self.request_ids.get(request_id).and_then(|id| self.tickets.get(id))
    }
    /// Find one of today's tickets in a hall by its number.
    pub fn ticket_by_number(&self, hall: usize, number: &str) -> Option<&Ticket> {
        let (service, seq) = self.topo.parse_number(number)?;
        self.tickets
            .values()
            .filter(|t| t.day == self.day && t.hall == hall && t.issued_service == service && t.seq == seq)
            .max_by_key(|t| t.id)
    }
    pub fn number(&self, t: &Ticket) -> String {
        self.topo.number(t.issued_service, t.seq)
    }
    /// The core takes over a hall from its edge (whose box died): it runs the hall from now,
    /// numbers each service after `after` (the last number it holds of the edge's, plus a
    /// margin for any the edge issued and never forwarded), and the forwarded tickets still
    /// waiting wait here.
    pub fn take_over(&mut self, hall: usize, after: &[u32], waiting: Vec<Ticket>) -> Result<Vec<Event>, DomainError> {
        if !self.central || !self.elsewhere.contains(&hall) {
            return Err(DomainError::Elsewhere(self.topo.halls[hall].id.clone()));
        }
        self.elsewhere.remove(&hall);
        self.number_after(hall, after);
        let mut adopted = vec![];
        for mut t in waiting {
            if t.hall != hall || t.day != self.day || self.tickets.get(&t.id).is_some_and(|o| o.state != TicketState::Moved) {
                continue;
            }
            t.state = TicketState::Waiting;
            self.enqueue_existing(&t);
            adopted.push(t.id);
            self.tickets.insert(t.id, t);
        }
        Ok(vec![Event::HallTakenOver { hall, tickets: adopted }])
    }

    /// Numbering of `hall` goes on after `after` (per service) at the least.
    pub fn number_after(&mut self, hall: usize, after: &[u32]) {
        for (s, &n) in after.iter().enumerate().take(self.seqs[hall].len()) {
            self.seqs[hall][s] = self.seqs[hall][s].max(n);
        }
    }

    pub fn issued_today(&self, hall: usize, service: usize) -> u32 {
        self.seqs[hall][service]
    }

    pub fn waiting(&self, hall: usize, service: usize) -> u32 {
        let q = &self.queues[hall][service];
        let direct = self
            .topo
            .counters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.hall == hall)
            .flat_map(|(ix, _)| self.direct[ix].iter())
            .filter(|(_, id)| self.tickets.get(id).is_some_and(|t| t.service == service))
            .count();
        (q.urgent.len() + q.normal.len() + q.appointments.len() + q.away.len() + direct) as u32
    }

    /// Counters of the hall serving the service that are open now; when none is, the number
    /// configured (the estimate then assumes the hall opens as configured).
    pub fn serving_counters(&self, hall: usize, service: usize) -> (u32, u32) {
        let mut open = 0;
        let mut configured = 0;
        for (ix, c) in self.topo.counters.iter().enumerate() {
            if c.hall == hall && c.services.contains(&service) {
                configured += 1;
                if self.counters[ix].state == CounterState::Open {
                    open += 1;
                }
            }
        }
        (open, configured)
    }

    /// Counters of `hall` serving `service` that are open or paused (a paused one comes back).
    pub fn serving_staffed(&self, hall: usize, service: usize) -> u32 {
        (0..self.topo.counters.len())
            .filter(|&c| {
                let def = &self.topo.counters[c];
                def.hall == hall && def.services.contains(&service) && self.counters[c].state != CounterState::Closed
            })
            .count() as u32
    }

    /// Whether a counter that may call this waiting ticket is open or paused: the one it was
    /// transferred to, else one of its hall serving its service.
    pub fn staffed(&self, t: &Ticket) -> bool {
        match t.counter {
            Some(c) if t.state == TicketState::Waiting => self.counters[c].state != CounterState::Closed,
            _ => self.serving_staffed(t.hall, t.service) > 0,
        }
    }

    /// Mean service time in ms: today's observed mean once 3 tickets were served, else default.
    pub fn mean_service_ms(&self, service: usize) -> i64 {
        let o = &self.observed[service];
        if o.count >= 3 {
            o.total_ms / i64::from(o.count)
        } else {
            i64::from(self.topo.services[service].default_service_s) * 1000
        }
    }

    /// Seconds until `ahead` people are served: ahead × mean service time ÷ open counters.
    pub fn estimate_s(&self, hall: usize, service: usize, ahead: u32) -> u32 {
        let (open, configured) = self.serving_counters(hall, service);
        let counters = if open > 0 { open } else { configured.max(1) };
        let ms = i64::from(ahead) * self.mean_service_ms(service) / i64::from(counters);
        u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
    }

    pub fn sold_out(&self, hall: usize, service: usize) -> bool {
        self.topo.services[service].daily_cap.is_some_and(|cap| self.seqs[hall][service] >= cap)
    }

    /// People of its queue who will be called before this waiting ticket at `now`.
    pub fn waiting_ahead(&self, t: &Ticket, now: Millis) -> u32 {
        if t.state != TicketState::Waiting || (t.away() && t.held()) {
            return 0;
        }
        let key = (t.queued_at, t.id);
        // Counting a range is linear; a ticket that just joined is last, which is O(log n).
        let before = |set: &BTreeSet<(Millis, TicketId)>| -> usize {
            if set.last() == Some(&key) {
                set.len() - 1
            } else {
                set.range(..key).count()
            }
        };
        if let Some(c) = t.counter {
            return before(&self.direct[c]) as u32;
        }
        let q = &self.queues[t.hall][t.service];
        if is_urgent(t) {
            return before(&q.urgent) as u32;
        }
        let started = q.started(now).count();
        match t.slot {
            Some(slot) if slot <= now => (q.urgent.len() + q.started(now).take_while(|e| (e.0, e.1, e.2) < (slot, t.queued_at, t.id)).count()) as u32,
            _ => (q.urgent.len() + started + before(&q.normal) + q.away.range(..key).count() + q.early(now).filter(|e| *e < key).count()) as u32,
        }
    }

    /// Whether `hall` issues tickets of `service` at `now`, and why not.
    pub fn issuing(&self, hall: usize, service: usize, now: Millis) -> Result<(), DomainError> {
        match self.topo.opening(hall, now) {
            Opening::Closed { next_open } => Err(DomainError::HallClosed { next_open }),
            Opening::Open { closes_at: None } => Ok(()),
            Opening::Open { closes_at: Some(close) } => {
                if !self.called_before(hall, service, now, close) {
                    let next_open = self.topo.next_opening(hall, close);
                    return Err(DomainError::ServiceClosed { service: self.topo.services[service].name_zh.clone(), next_open });
                }
                Ok(())
            }
        }
    }

    /// A ticket taken now would likely be served in the last `last_ticket_minutes` before
    /// closing or after: extended service (延时服务).
    pub fn overtime(&self, hall: usize, est_wait_s: u32, now: Millis) -> bool {
        match self.topo.opening(hall, now) {
            Opening::Open { closes_at: Some(close) } => {
                now + i64::from(est_wait_s) * 1000 > close - i64::from(self.topo.last_ticket_minutes) * 60_000
            }
            _ => false,
        }
    }

    pub(super) fn issuing_now(&self, now: Millis) -> Vec<Vec<bool>> {
        (0..self.topo.halls.len())
            .map(|h| (0..self.topo.services.len()).map(|s| self.issuing(h, s, now).is_ok()).collect())
            .collect()
    }

    /// At a tick: the halls whose services' issuing changed since the last tick.
    pub(super) fn issuing_changes(&mut self, now: Millis) -> Vec<Event> {
        if self.topo.halls.iter().all(|h| h.hours.is_empty()) {
            return vec![];
        }
        let new = self.issuing_now(now);
        let events = (0..new.len()).filter(|&h| new[h] != self.issuing[h]).map(|hall| Event::IssuingChanged { hall }).collect();
        self.issuing = new;
        events
    }

    /// Apply one command at time `now`. On error the state is unchanged.
    pub fn apply(&mut self, cmd: Command, now: Millis) -> Result<Vec<Event>, DomainError> {
        if cmd == Command::Tick {
            let mut events = self.roll_over(now);
            events.extend(self.sweep_bookings(now));
            events.extend(self.sweep_held(now));
            events.extend(self.issuing_changes(now));
            return Ok(events);
        }
        if self.topo.business_day(now) != self.day {
            return Err(DomainError::StaleDay);
        }
        self.check_here(&cmd)?;
        match cmd {
            Command::Tick => unreachable!(),
            Command::Issue { hall, service, priority, request_id } => {
                self.issue(hall, service, priority, request_id, now)
            }
            Command::SignIn { counter, clerk, take_over } => {
                let c = &mut self.counters[counter];
                if let Some(other) = c.clerk.as_ref().filter(|o| **o != clerk) {
                    if !take_over {
                        return Err(DomainError::CounterTaken { clerk: other.clone() });
                    }
                }
                let was = c.state;
                c.clerk = Some(clerk);
                if was == CounterState::Closed {
                    c.state = CounterState::Open;
                    Ok(vec![Event::CounterOpened { counter }])
                } else {
                    Ok(vec![])
                }
            }
            Command::SignOut { counter } => {
                let c = &mut self.counters[counter];
                if c.state == CounterState::Closed {
                    return Ok(vec![]);
                }
                c.state = CounterState::Closed;
                c.clerk = None;
                c.pause = None;
                Ok(vec![Event::CounterClosed { counter }])
            }
            Command::CallNext { counter } => {
                self.ready_to_call(counter)?;
                let id = self.next_for(counter, now).ok_or(DomainError::QueueEmpty)?;
                let mut events = self.hold_passed(counter, now);
                events.push(self.call(counter, id, now));
                Ok(events)
            }
            Command::Call { counter, ticket } => {
                self.ready_to_call(counter)?;
                let t = self.tickets.get(&ticket).ok_or(DomainError::UnknownTicket)?;
                let def = &self.topo.counters[counter];
                if t.hall != def.hall {
                    return Err(DomainError::OtherHall(self.number(t)));
                }
                match t.state {
                    TicketState::Waiting | TicketState::NoShow => {}
                    state => {
                        return Err(DomainError::WrongTicketState {
                            number: self.number(t),
                            state,
                            expected: "waiting or no-show",
                            action: "called",
                        })
                    }
                }
                if t.state == TicketState::Waiting && t.counter.is_some_and(|c| c != counter) {
                    return Err(DomainError::NotServed(self.number(t)));
                }
                Ok(vec![self.call(counter, ticket, now)])
            }
            Command::Recall { counter } => {
                let id = self.counters[counter].current.ok_or(DomainError::NoCurrentTicket)?;
                let t = self.tickets.get_mut(&id).ok_or(DomainError::UnknownTicket)?;
                t.call_count += 1;
                t.called_at.get_or_insert(now);
                let call_count = t.call_count;
                self.remember_call(Call { ticket: id, counter, call_count, at: now });
                Ok(vec![Event::TicketCalled { ticket: id, counter, call_count, recall: true }])
            }
            Command::NoShow { counter } => {
                let id = self.counters[counter].current.take().ok_or(DomainError::NoCurrentTicket)?;
                if let Some(t) = self.tickets.get_mut(&id) {
                    t.state = TicketState::NoShow;
                    t.finished_at = Some(now);
                }
                Ok(vec![Event::TicketNoShow { ticket: id, counter }])
            }
            Command::Finish { counter } => {
                let id = self.counters[counter].current.take().ok_or(DomainError::NoCurrentTicket)?;
                if let Some(t) = self.tickets.get_mut(&id) {
                    t.state = TicketState::Finished;
                    t.finished_at = Some(now);
                    if t.day == self.day {
                        self.observed[t.service].add(now, id, now - t.called_at.unwrap_or(now));
                    }
                }
                self.counters[counter].last_finished = Some((id, now));
                Ok(vec![Event::TicketFinished { ticket: id, counter }])
            }
            Command::Transfer { counter, service, to_counter, hall } => {
                self.transfer(counter, service, to_counter, hall, now)
            }
            Command::TransferAway { counter, service, hall } => {
                let id = self.counters[counter].current.ok_or(DomainError::NoCurrentTicket)?;
                self.counters[counter].current = None;
                let t = self.tickets.get_mut(&id).ok_or(DomainError::UnknownTicket)?;
                let from_hall = t.hall;
                t.state = TicketState::Moved;
                t.hall = hall;
                t.service = service.unwrap_or(t.service);
                t.counter = None;
                t.transferred = true;
                t.queued_at = now;
                Ok(vec![Event::TicketTransferred { ticket: id, from_counter: counter, from_hall }])
            }
            Command::Adopt { ticket, from_counter } => {
                // Known here: taken already (a repeat), unless it left here earlier and comes back.
                if self.tickets.get(&ticket.id).is_some_and(|t| t.state != TicketState::Moved) {
                    return Ok(vec![]);
                }
                if ticket.day != self.day {
                    return Err(DomainError::StaleDay);
                }
                let from_hall = self.topo.counters.get(from_counter).map_or(ticket.issued_hall, |c| c.hall);
                let mut t = *ticket;
                t.state = TicketState::Waiting;
                t.transferred = true;
                t.queued_at = now;
                t.called_at = None;
                t.finished_at = None;
                t.counter = t.counter.filter(|c| self.topo.counters[*c].hall == t.hall && self.topo.counters[*c].services.contains(&t.service));
                let id = t.id;
                self.enqueue_existing(&t);
                self.tickets.insert(id, t);
                Ok(vec![Event::TicketTransferred { ticket: id, from_counter, from_hall }])
            }
            Command::Requeue { ticket } => {
                let t = self.tickets.get(&ticket).ok_or(DomainError::UnknownTicket)?;
                if t.state != TicketState::NoShow || t.day != self.day {
                    return Err(DomainError::WrongTicketState {
                        number: self.number(t),
                        state: t.state,
                        expected: "today's no-show",
                        action: "requeued",
                    });
                }
                let t = self.tickets.get_mut(&ticket).ok_or(DomainError::UnknownTicket)?;
                t.state = TicketState::Waiting;
                t.queued_at = now;
                t.counter = None;
                t.finished_at = None;
                // A remote ticket that lapsed is put back by staff at the hall: it is here now,
                // and waits at the back like any requeued one.
                if let Some(r) = t.remote.as_mut() {
                    r.arrived_at.get_or_insert(now);
                    r.held_at = None;
                }
                let t = t.clone();
                self.enqueue_existing(&t);
                Ok(vec![Event::TicketRequeued { ticket }])
            }
            Command::Pause { counter, reason } => {
                if !self.topo.pause_reasons.contains(&reason) {
                    return Err(DomainError::UnknownPauseReason { reasons: self.topo.pause_reasons.join("、") });
                }
                let c = &mut self.counters[counter];
                match c.state {
                    CounterState::Closed => Err(DomainError::CounterClosed),
                    CounterState::Paused => Err(DomainError::AlreadyPaused),
                    CounterState::Open => {
                        c.state = CounterState::Paused;
                        c.pause = Some((now, reason.clone()));
                        Ok(vec![Event::CounterPaused { counter, reason }])
                    }
                }
            }
            Command::Resume { counter } => {
                let c = &mut self.counters[counter];
                match c.state {
                    CounterState::Paused => {
                        c.state = CounterState::Open;
                        c.pause = None;
                        Ok(vec![Event::CounterResumed { counter }])
                    }
                    CounterState::Closed => Err(DomainError::CounterClosed),
                    CounterState::Open => Err(DomainError::NotPaused),
                }
            }
            Command::Rate { counter, ticket, score, window_ms } => {
                if !(1..=5).contains(&score) {
                    return Err(DomainError::BadScore);
                }
                let t = self.tickets.get(&ticket).ok_or(DomainError::UnknownTicket)?;
                if t.rating.is_some() {
                    return Err(DomainError::AlreadyRated);
                }
                match self.counters[counter].last_finished {
                    Some((id, at)) if id == ticket && now - at <= window_ms => {}
                    _ => return Err(DomainError::RatingNotAllowed),
                }
                if let Some(t) = self.tickets.get_mut(&ticket) {
                    t.rating = Some(score);
                }
                Ok(vec![Event::TicketRated { ticket, counter, score }])
            }
            Command::RateByPhone { ticket, score } => {
                if !(1..=5).contains(&score) {
                    return Err(DomainError::BadScore);
                }
                let t = self.tickets.get_mut(&ticket).ok_or(DomainError::UnknownTicket)?;
                if t.rating.is_some() {
                    return Err(DomainError::AlreadyRated);
                }
                let counter = match (t.state, t.counter) {
                    (TicketState::Finished, Some(c)) if t.day == self.day && self.topo.halls[t.hall].phone.ratings => c,
                    _ => return Err(DomainError::RatingNotAllowed),
                };
                t.rating = Some(score);
                Ok(vec![Event::TicketRated { ticket, counter, score }])
            }
            Command::SetPublicity { hall, messages } => {
                self.publicity[hall] = messages.clone();
                Ok(vec![Event::PublicityUpdated { hall, messages }])
            }
            Command::Book { hall, service, date, slot, who, code, request_id } => {
                self.book(hall, service, date, slot, who, code, request_id, now)
            }
            Command::CancelBooking { code, phone } => self.cancel_booking(&code, &phone, now),
            Command::Receive(r) => self.receive(r, now),
            Command::Settle { booking, outcome, at } => self.settle(booking, outcome, at),
            Command::CheckIn { hall, by, request_id } => self.check_in(hall, by, request_id, now),
            Command::IssueRemote { hall, service, code, request_id } => self.issue_remote(hall, service, code, request_id, now),
        }
    }

    pub(super) fn roll_over(&mut self, now: Millis) -> Vec<Event> {
        let day = self.topo.business_day(now);
        if day <= self.day {
            return vec![];
        }
        let mut expired = Vec::new();
        for t in self.tickets.values_mut() {
            if matches!(t.state, TicketState::Waiting | TicketState::NoShow) {
                t.state = TicketState::Expired;
                expired.push(t.id);
            }
        }
        expired.sort_unstable();
        // A ticket still at a counter when the day ends was not served: 未办结. Nothing of the
        // old day stays at a counter, so today's screens and consoles start empty.
        let mut unfinished = Vec::new();
        for c in &mut self.counters {
            if let Some(id) = c.current.take() {
                if let Some(t) = self.tickets.get_mut(&id) {
                    t.state = TicketState::Unfinished;
                }
                unfinished.push(id);
            }
        }
        unfinished.sort_unstable();
        // The old day's tickets live on in the store only.
        self.tickets.clear();
        for row in &mut self.seqs {
            row.iter_mut().for_each(|s| *s = 0);
        }
        for row in &mut self.queues {
            row.iter_mut().for_each(|q| *q = Queue::default());
        }
        self.direct.iter_mut().for_each(BTreeSet::clear);
        self.observed.iter_mut().for_each(|o| *o = Observed::default());
        self.request_ids.clear();
        self.counters.iter_mut().for_each(|c| c.last_finished = None);
        self.recent.iter_mut().for_each(VecDeque::clear);
        self.day = day;
        // Yesterday's bookings: the ones never checked in are no-shows; then they leave memory.
        let mut booking_events = self.sweep_bookings(now);
        self.forget_old_bookings(self.topo.local(now).0);
        // Every clerk's day ends with the business day: the counters close.
        let mut events = vec![Event::DayRolledOver { day, expired, unfinished }];
        for (ix, c) in self.counters.iter_mut().enumerate() {
            if c.state != CounterState::Closed {
                c.state = CounterState::Closed;
                c.clerk = None;
                events.push(Event::CounterClosed { counter: ix });
            }
        }
        events.append(&mut booking_events);
        events
    }

    pub(super) fn issue(
        &mut self,
        hall: usize,
        service: usize,
        priority: Priority,
        request_id: Option<String>,
        now: Millis,
    ) -> Result<Vec<Event>, DomainError> {
        let def = &self.topo.services[service];
        if let Some(cap) = def.daily_cap {
            if self.seqs[hall][service] >= cap {
                return Err(DomainError::SoldOut { service: def.name_zh.clone(), cap });
            }
        }
        self.issuing(hall, service, now)?;
        Ok(self.issue_ticket(hall, service, priority, request_id, None, now))
    }

    /// A new ticket, unchecked (walk-in after its checks, or an appointment's check-in).
    pub(super) fn issue_ticket(
        &mut self,
        hall: usize,
        service: usize,
        priority: Priority,
        request_id: Option<String>,
        slot: Option<Millis>,
        now: Millis,
    ) -> Vec<Event> {
        let seq = self.seqs[hall][service] + 1;
        self.seqs[hall][service] = seq;
        let id = self.next_ticket_id;
        self.next_ticket_id += 1;
        if let Some(r) = &request_id {
            self.request_ids.insert(r.as_str().into(), id);
        }
        let t = Ticket {
            id,
            day: self.day,
            issued_hall: hall,
            issued_service: service,
            hall,
            service,
            seq,
            priority,
            state: TicketState::Waiting,
            issued_at: now,
            queued_at: now,
            called_at: None,
            finished_at: None,
            counter: None,
            clerk: None,
            call_count: 0,
            transferred: false,
            request_id: request_id.map(String::into_boxed_str),
            rating: None,
            slot,
            remote: None,
        };
        self.enqueue_existing(&t);
        self.tickets.insert(id, t);
        vec![Event::TicketIssued { ticket: id }]
    }

    pub(super) fn ready_to_call(&self, counter: usize) -> Result<(), DomainError> {
        let c = &self.counters[counter];
        match c.state {
            CounterState::Closed => return Err(DomainError::CounterClosed),
            CounterState::Paused => return Err(DomainError::CounterPaused),
            CounterState::Open => {}
        }
        if let Some(cur) = c.current {
            let number = self.tickets.get(&cur).map(|t| self.number(t)).unwrap_or_default();
            return Err(DomainError::Busy(number));
        }
        Ok(())
    }

    /// The ticket the call-next rule (module docs) picks for this counter at `now`.
    pub fn next_for(&self, counter: usize, now: Millis) -> Option<TicketId> {
        let def = &self.topo.counters[counter];
        pick(def, &self.direct[counter], &self.queues[def.hall], now)
    }

    /// Every waiting ticket this counter may call, in the order call-next would take them at
    /// `now`: repeated [`State::next_for`] without calling.
    pub fn waiting_for_counter(&self, counter: usize, now: Millis) -> Vec<TicketId> {
        let def = &self.topo.counters[counter];
        let queues = &self.queues[def.hall];
        let mut urgent: Vec<(Millis, TicketId)> = self.direct[counter].iter().copied().collect();
        for &s in &def.services {
            urgent.extend(queues[s].urgent.iter().copied());
        }
        urgent.sort_unstable();
        let mut started: Vec<(Millis, Millis, TicketId)> = def.services.iter().flat_map(|&s| queues[s].started(now).copied()).collect();
        started.sort_unstable();
        let walk_in = |services: &mut dyn Iterator<Item = usize>| {
            let mut v: Vec<(Millis, TicketId)> =
                services.flat_map(|s| queues[s].normal.iter().copied().chain(queues[s].early(now))).collect();
            v.sort_unstable();
            v
        };
        let preferred = walk_in(&mut def.preferred.iter().copied());
        let others = walk_in(&mut def.services.iter().copied().filter(|s| !def.preferred.contains(s)));
        urgent
            .into_iter()
            .map(|(_, id)| id)
            .chain(started.into_iter().map(|(_, _, id)| id))
            .chain(preferred.into_iter().chain(others).map(|(_, id)| id))
            .collect()
    }

    pub(super) fn call(&mut self, counter: usize, id: TicketId, now: Millis) -> Event {
        self.dequeue(id);
        let clerk = self.counters[counter].clerk.as_deref().map(std::sync::Arc::from);
        let t = self.tickets.get_mut(&id).expect("called ticket exists");
        t.state = TicketState::Called;
        t.counter = Some(counter);
        t.called_at = Some(now);
        t.finished_at = None;
        t.clerk = clerk;
        t.call_count += 1;
        let call_count = t.call_count;
        self.counters[counter].current = Some(id);
        self.remember_call(Call { ticket: id, counter, call_count, at: now });
        Event::TicketCalled { ticket: id, counter, call_count, recall: false }
    }

    pub(super) fn transfer(
        &mut self,
        counter: usize,
        service: Option<usize>,
        to_counter: Option<usize>,
        hall: Option<usize>,
        now: Millis,
    ) -> Result<Vec<Event>, DomainError> {
        if service.is_none() && to_counter.is_none() && hall.is_none() {
            return Err(DomainError::NoTransferTarget);
        }
        let id = self.counters[counter].current.ok_or(DomainError::NoCurrentTicket)?;
        let t = self.tickets.get(&id).ok_or(DomainError::UnknownTicket)?;
        let from_hall = t.hall;
        let new_hall = match (to_counter, hall) {
            (Some(c), Some(h)) if self.topo.counters[c].hall != h => {
                return Err(DomainError::TransferHallMismatch(self.topo.counters[c].id.clone()))
            }
            (Some(c), _) => self.topo.counters[c].hall,
            (None, Some(h)) => h,
            (None, None) => t.hall,
        };
        let new_service = service.unwrap_or(t.service);
        if let Some(c) = to_counter {
            if !self.topo.counters[c].services.contains(&new_service) {
                return Err(DomainError::NotServed(self.topo.services[new_service].name_zh.clone()));
            }
            if c == counter {
                return Err(DomainError::TransferNoop);
            }
        } else if new_hall == t.hall && new_service == t.service {
            return Err(DomainError::TransferNoop);
        }
        self.counters[counter].current = None;
        let t = self.tickets.get_mut(&id).expect("checked above");
        t.state = TicketState::Waiting;
        t.hall = new_hall;
        t.service = new_service;
        t.counter = to_counter;
        t.transferred = true;
        t.queued_at = now;
        let t = t.clone();
        self.enqueue_existing(&t);
        Ok(vec![Event::TicketTransferred { ticket: id, from_counter: counter, from_hall }])
    }

    pub(super) fn enqueue_existing(&mut self, t: &Ticket) {
        let key = (t.queued_at, t.id);
        if t.away() {
            let q = &mut self.queues[t.hall][t.service];
            match t.remote.as_ref().and_then(|r| r.held_at) {
                Some(held_at) => q.held.insert((held_at, t.id)),
                None => q.away.insert(key),
            };
        } else if let Some(c) = t.counter {
            self.direct[c].insert(key);
        } else if is_urgent(t) {
            self.queues[t.hall][t.service].urgent.insert(key);
        } else if let Some(slot) = t.slot {
            self.queues[t.hall][t.service].appointments.insert((slot, t.queued_at, t.id));
        } else {
            self.queues[t.hall][t.service].normal.insert(key);
        }
    }

    pub(super) fn dequeue(&mut self, id: TicketId) {
        let Some(t) = self.tickets.get(&id) else { return };
        if t.state != TicketState::Waiting {
            return;
        }
        let key = (t.queued_at, t.id);
        if let Some(c) = t.counter {
            self.direct[c].remove(&key);
        } else {
            let q = &mut self.queues[t.hall][t.service];
            q.urgent.remove(&key);
            q.normal.remove(&key);
            q.away.remove(&key);
            if let Some(held_at) = t.remote.as_ref().and_then(|r| r.held_at) {
                q.held.remove(&(held_at, t.id));
            }
            if let Some(slot) = t.slot {
                q.appointments.remove(&(slot, t.queued_at, t.id));
            }
        }
    }

    pub(super) fn remember_call(&mut self, call: Call) {
        let hall = self.topo.counters[call.counter].hall;
        let recent = &mut self.recent[hall];
        recent.push_back(call);
        while recent.len() > RECENT_CALLS {
            recent.pop_front();
        }
    }
}
