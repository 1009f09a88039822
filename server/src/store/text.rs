//! Enum ↔ text for the store's state columns. Unknown text is refused, never mapped to a default.

use crate::domain::{BookingState, CounterState, TicketState};

pub fn ticket_state_str(s: TicketState) -> &'static str {
    match s {
        TicketState::Waiting => "waiting",
        TicketState::Called => "called",
        TicketState::Finished => "finished",
        TicketState::NoShow => "no_show",
        TicketState::Expired => "expired",
        TicketState::Unfinished => "unfinished",
        TicketState::Moved => "moved",
    }
}

/// Text in a column that names none of its values: a database from elsewhere, or damaged.
/// Refused rather than read as some default.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not one of the values this column holds")]
pub struct UnknownText(pub String);

impl From<UnknownText> for rusqlite::Error {
    fn from(e: UnknownText) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    }
}

fn unknown<T>(s: &str) -> Result<T, UnknownText> {
    Err(UnknownText(s.chars().take(40).collect()))
}

pub fn ticket_state_from(s: &str) -> Result<TicketState, UnknownText> {
    Ok(match s {
        "waiting" => TicketState::Waiting,
        "called" => TicketState::Called,
        "finished" => TicketState::Finished,
        "no_show" => TicketState::NoShow,
        "expired" => TicketState::Expired,
        "unfinished" => TicketState::Unfinished,
        "moved" => TicketState::Moved,
        other => return unknown(other),
    })
}

pub fn counter_state_str(s: CounterState) -> &'static str {
    match s {
        CounterState::Closed => "closed",
        CounterState::Open => "open",
        CounterState::Paused => "paused",
    }
}

pub fn counter_state_from(s: &str) -> Result<CounterState, UnknownText> {
    Ok(match s {
        "closed" => CounterState::Closed,
        "open" => CounterState::Open,
        "paused" => CounterState::Paused,
        other => return unknown(other),
    })
}

pub fn booking_state_str(s: BookingState) -> &'static str {
    match s {
        BookingState::Booked => "booked",
        BookingState::Cancelled => "cancelled",
        BookingState::CheckedIn => "checked_in",
        BookingState::NoShow => "no_show",
    }
}

pub fn booking_state_from(s: &str) -> Result<BookingState, UnknownText> {
    Ok(match s {
        "booked" => BookingState::Booked,
        "cancelled" => BookingState::Cancelled,
        "checked_in" => BookingState::CheckedIn,
        "no_show" => BookingState::NoShow,
        other => return unknown(other),
    })
}
