//! The sequencing authority: a pure state machine.
//!
//! [`State::apply`] takes a [`Command`] and the current time and returns the [`Event`]s it caused
//! (or a [`DomainError`], leaving the state untouched). No IO, no clock reads, no randomness:
//! the same commands at the same times always give the same tickets.
//!
//! The call-next rule is in `call_next.rs`; the state that applies it, in [`State`].
//!
//! # Opening hours
//! A hall with `hours` issues tickets only in them, on working days ([`calendar`]), and stops
//! `last_ticket_minutes` before each period closes; a service stops earlier when a new
//! ticket's estimate already runs past closing. Tickets waiting at closing are still served.

pub use qcall_wire::{CounterState, Priority, TicketState};

pub mod appointments;
pub mod calendar;
mod call_next;
mod command;
pub mod edges;
pub mod estimate;
mod remote;
mod state;
mod topology;

pub use appointments::{Booking, BookingId, BookingState, Bookings, CheckInBy, Person, Record, Rules};
pub use calendar::{Calendar, Opening};
use call_next::{is_urgent, pick, Queue};
pub use edges::{Received, Settled};
pub use command::{Command, DomainError, Event, DEFAULT_PAUSE_REASONS, DEFAULT_RATING_REASONS};
pub use state::{Call, Counter, Remote, State, Ticket, RECENT_CALLS};
pub use topology::{CounterDef, HallDef, PhoneRules, ServiceDef, Topology};

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod appointment_tests;
#[cfg(test)]
mod remote_tests;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;
pub type TicketId = u64;
