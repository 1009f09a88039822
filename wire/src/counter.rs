//! `GET /api/v1/counters/{counter}/queue`: what a clerk's console shows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CounterInfo, Priority, TicketState};

/// At most this many waiting tickets are listed (the total is always given).
pub const QUEUE_LIST_MAX: usize = 200;

/// A ticket in a counter's lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueTicket {
    pub id: u64,
    pub number: String,
    pub service: String,
    pub priority: Priority,
    pub state: TicketState,
    pub transferred: bool,
    /// Sent to this very counter by a transfer.
    pub to_this_counter: bool,
    pub issued_at: DateTime<Utc>,
    /// When it (re-)entered the queue it waits in.
    pub queued_at: DateTime<Utc>,
    pub called_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub call_count: u32,
    /// A checked-in appointment (预约) and its slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<crate::AppointmentSlot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterQueue {
    /// Server time, so pages can show durations without trusting their own clock.
    pub now: DateTime<Utc>,
    pub day: String,
    pub hall: String,
    pub counter: CounterInfo,
    /// The clerk signed in at the counter.
    pub clerk: Option<String>,
    /// The ticket being served, with its times.
    pub current: Option<QueueTicket>,
    /// Waiting tickets this counter may call, in call-next order (at most [`QUEUE_LIST_MAX`]).
    pub waiting: Vec<QueueTicket>,
    pub waiting_total: u32,
    /// Today's no-shows of the hall, latest first: any of them may be called again.
    pub no_shows: Vec<QueueTicket>,
    /// Tickets this counter finished today.
    pub served_today: u32,
    /// Tickets this counter marked no-show today.
    pub no_shows_today: u32,
    /// Why the counter may pause: a pause names one of these.
    #[serde(default)]
    pub pause_reasons: Vec<String>,
}

/// `POST /api/v1/counters/{counter}/pause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// One of the counter queue's `pause_reasons`.
    pub reason: String,
}
