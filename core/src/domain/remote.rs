//! Remote tickets (线上取号): a number taken on the phone before coming, checked in at the
//! hall's kiosk on arrival. It takes its number from the hall's sequence and keeps its place,
//! but is not called before its check-in (see the call-next rule in `call_next`).

use super::call_next::turn_of_away;
use super::state::Remote;
use super::{DomainError, Event, Millis, Priority, State, TicketId, TicketState};

impl State {
    /// Remote tickets issued today in `hall`.
    pub fn remote_issued(&self, hall: usize) -> u32 {
        self.tickets.values().filter(|t| t.issued_hall == hall && t.day == self.day && t.remote.is_some()).count() as u32
    }

    /// Today's remote ticket of this check-in code, if any.
    pub fn remote_by_code(&self, code: &str) -> Option<&super::Ticket> {
        self.tickets.values().find(|t| t.day == self.day && t.remote.as_ref().is_some_and(|r| &*r.code == code))
    }

    pub(super) fn issue_remote(&mut self, hall: usize, service: usize, code: String, request_id: String, now: Millis) -> Result<Vec<Event>, DomainError> {
        if let Some(t) = self.ticket_by_request(&request_id) {
            return if t.remote.is_some() && t.issued_hall == hall && t.issued_service == service {
                Err(DomainError::RepeatedTicket(t.id))
            } else {
                Err(DomainError::RequestIdReused)
            };
        }
        let quota = self.topo.halls[hall].phone.remote_quota;
        if quota == 0 {
            return Err(DomainError::RemoteOff);
        }
        if self.remote_issued(hall) >= quota {
            return Err(DomainError::RemoteQuotaFull(quota));
        }
        if self.remote_by_code(&code).is_some() || self.bookings.by_code(&code).is_some() {
            return Err(DomainError::CodeTaken);
        }
        let mut events = self.issue(hall, service, Priority::Normal, Some(request_id), now)?;
        let Some(Event::TicketIssued { ticket }) = events.first() else { unreachable!("issue yields TicketIssued") };
        let id = *ticket;
        // Issued as a walk-in; it waits as one away from the hall instead.
        self.dequeue(id);
        let t = self.tickets.get_mut(&id).expect("just issued");
        t.remote = Some(Remote { code: code.into_boxed_str(), arrived_at: None, held_at: None });
        let t = t.clone();
        self.enqueue_existing(&t);
        events.truncate(1);
        Ok(events)
    }

    /// Before a call-next at `counter`: the remote tickets not checked in whose turn it would
    /// be are held (from `now`, for the hall's `hold_minutes`).
    pub(super) fn hold_passed(&mut self, counter: usize, now: Millis) -> Vec<Event> {
        let mut events = vec![];
        let topo = self.topo.clone();
        let def = &topo.counters[counter];
        let hall = def.hall;
        while let Some(id) = turn_of_away(def, &self.direct[counter], &self.queues[hall], now) {
            self.dequeue(id);
            let t = self.tickets.get_mut(&id).expect("queued tickets exist");
            if let Some(r) = t.remote.as_mut() {
                r.held_at = Some(now);
            }
            let t = t.clone();
            self.enqueue_existing(&t);
            events.push(Event::TicketHeld { ticket: id });
        }
        events
    }

    /// At every tick: held remote tickets whose hold ran out end as no-shows.
    pub(super) fn sweep_held(&mut self, now: Millis) -> Vec<Event> {
        let mut lapsed: Vec<TicketId> = vec![];
        for (h, queues) in self.queues.iter().enumerate() {
            let hold = i64::from(self.topo.halls[h].phone.hold_minutes) * 60_000;
            for q in queues {
                lapsed.extend(q.held.iter().take_while(|(at, _)| at + hold <= now).map(|(_, id)| *id));
            }
        }
        lapsed.sort_unstable();
        let mut events = vec![];
        for id in lapsed {
            self.dequeue(id);
            if let Some(t) = self.tickets.get_mut(&id) {
                t.state = TicketState::NoShow;
                t.finished_at = Some(now);
            }
            events.push(Event::TicketLapsed { ticket: id });
        }
        events
    }

    /// When a held ticket's hold runs out, if it is held.
    pub fn held_until(&self, t: &super::Ticket) -> Option<Millis> {
        let held_at = t.remote.as_ref().filter(|r| r.arrived_at.is_none())?.held_at?;
        Some(held_at + i64::from(self.topo.halls[t.hall].phone.hold_minutes) * 60_000)
    }

    /// The kiosk checks a remote ticket in by its code: it waits in its place again, or is
    /// next when its turn already came.
    pub(super) fn check_in_remote(&mut self, hall: usize, id: TicketId, now: Millis) -> Result<Vec<Event>, DomainError> {
        let t = &self.tickets[&id];
        if t.issued_hall != hall {
            return Err(DomainError::WrongHall(t.issued_hall));
        }
        match t.state {
            TicketState::Waiting if t.away() => {}
            TicketState::Waiting | TicketState::Called | TicketState::Finished => return Err(DomainError::RepeatedTicket(id)),
            _ => return Err(DomainError::TooLate),
        }
        self.dequeue(id);
        let t = self.tickets.get_mut(&id).expect("found above");
        if let Some(r) = t.remote.as_mut() {
            r.arrived_at = Some(now);
        }
        let t = t.clone();
        self.enqueue_existing(&t);
        Ok(vec![Event::TicketCheckedIn { ticket: id }])
    }
}
