//! Hall edges' bookings, both ways. The core makes every booking and sends a hall edge those of
//! its hall ([`Received`]); the edge checks them in or sees them lapse, and the core takes
//! its word for how each ended ([`Settled`]): "the hall's facts win". A booking cancelled at
//! the core while it was checked in at the cut-off hall keeps its ticket, marked as a
//! conflict (`Booking::conflict_at`: when it had been cancelled) for the duty leader.

use super::appointments::{Booking, BookingId, BookingState};
use super::{DomainError, Event, Millis, State, TicketId};

/// What a hall edge receives from the core about its hall's bookings.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A booking made at the core (today's or later).
    Booking(Box<Booking>),
    /// A booking cancelled at the core.
    Cancelled { booking: BookingId },
}

/// How a booking ended at its hall, as the hall's edge tells the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    CheckedIn { ticket: TicketId },
    NoShow,
}

impl State {
    /// Is this server the core (it makes bookings and publicity for every hall)?
    pub fn is_central(&self) -> bool {
        self.central
    }

    /// At a hall edge: a booking of its hall made or cancelled at the core. Applied once
    /// each (what is known already changes nothing); a booking the hall settled stays so.
    pub(super) fn receive(&mut self, r: Received, now: Millis) -> Result<Vec<Event>, DomainError> {
        if self.central {
            return Err(DomainError::Elsewhere("bookings".into()));
        }
        let (today, _) = self.topo.local(now);
        match r {
            Received::Booking(b) => {
                if self.elsewhere.contains(&b.hall) || b.date < today || self.bookings.by_id.contains_key(&b.id) {
                    return Ok(vec![]);
                }
                let mut b = *b;
                b.conflict_at = None;
                self.bookings.next_id = self.bookings.next_id.max(b.id + 1);
                self.bookings.insert(b.clone());
                Ok(vec![Event::BookingMade { booking: Box::new(b) }])
            }
            Received::Cancelled { booking } => {
                let Some(b) = self.bookings.by_id.get(&booking).filter(|b| b.state == BookingState::Booked) else {
                    return Ok(vec![]);
                };
                let key = (b.hall, b.service, b.date, b.slot);
                self.bookings.release(key);
                let b = self.bookings.by_id.get_mut(&booking).expect("found above");
                b.state = BookingState::Cancelled;
                b.changed_at = Some(now);
                Ok(vec![Event::BookingCancelled { booking: Box::new(b.clone()) }])
            }
        }
    }

    /// At the core: how a booking of a hall run by its edge ended there (`at`: when). A no-show
    /// counts toward the person's ban here; a check-in of a booking cancelled here meanwhile
    /// stands (the taxpayer holds its ticket) and is a conflict.
    pub(super) fn settle(&mut self, booking: BookingId, outcome: Settled, at: Millis) -> Result<Vec<Event>, DomainError> {
        if !self.central {
            return Err(DomainError::Elsewhere("bookings".into()));
        }
        let Some(b) = self.bookings.by_id.get(&booking) else { return Ok(vec![]) };
        if !self.elsewhere.contains(&b.hall) {
            return Err(DomainError::Elsewhere(self.topo.halls[b.hall].id.clone()));
        }
        let (state, key, person) = (b.state, (b.hall, b.service, b.date, b.slot), b.who.key());
        let b = self.bookings.by_id.get_mut(&booking).expect("found above");
        match (outcome, state) {
            (Settled::CheckedIn { ticket }, BookingState::Booked | BookingState::Cancelled) => {
                if state == BookingState::Cancelled {
                    b.conflict_at = b.changed_at;
                }
                b.state = BookingState::CheckedIn;
                b.changed_at = Some(at);
                b.ticket = Some(ticket);
                let b = Box::new(b.clone());
                if state == BookingState::Cancelled {
                    self.bookings.take(key);
                }
                Ok(vec![Event::BookingCheckedIn { booking: b }])
            }
            (Settled::NoShow, BookingState::Booked) => {
                b.state = BookingState::NoShow;
                b.changed_at = Some(at);
                let b = Box::new(b.clone());
                let (today, _) = self.topo.local(at);
                self.count(&person, today, true);
                Ok(vec![Event::BookingNoShow { booking: b }])
            }
            // Settled already, or cancelled before the hall could know: a no-show of a
            // booking cancelled in time is no one's fault.
            _ => Ok(vec![]),
        }
    }

    /// Today's bookings whose cancellation at the core their hall overruled.
    pub fn conflicts(&self) -> impl Iterator<Item = &Booking> {
        let today = self.day;
        self.bookings.by_id.values().filter(move |b| b.conflict_at.is_some() && b.date == today)
    }
}
