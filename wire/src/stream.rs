//! The event stream (WebSocket): `/api/v1/events` (all halls) and
//! `/api/v1/halls/{hall}/events` (one hall), optionally resumed with `?since=SEQ`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{DeviceStatus, HallInfo, QueueInfo, Ticket};

/// Which stream to follow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventScope {
    /// Every hall: `/api/v1/events`. Its `seq`s have no gaps.
    All,
    /// One hall: `/api/v1/halls/{hall}/events`. Its `seq`s skip other halls' events.
    Hall(String),
}

impl EventScope {
    /// The stream's path (no query).
    pub fn path(&self) -> String {
        match self {
            EventScope::All => "/api/v1/events".into(),
            EventScope::Hall(h) => format!("/api/v1/halls/{h}/events"),
        }
    }
}

/// The query of the event stream endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Resume after this `seq`: the events since then are replayed exactly when the server still
    /// has them, else the stream starts with a fresh snapshot.
    #[serde(default)]
    pub since: Option<u64>,
}

/// WebSocket close code of a subscriber that fell behind: reconnect with `?since=`.
pub const CLOSE_LAGGED: u16 = 4000;

/// One message on the event stream (`/api/v1/events`, `/api/v1/halls/{hall}/events`).
///
/// The first message on a connection is a [`EventKind::Snapshot`] (unless `?since=` could be
/// replayed exactly); every later one is an event with a server-wide increasing `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamMessage {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The hall the event belongs to; `None` for snapshots of all halls and global events.
    #[serde(default)]
    pub hall: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
    /// The hall's queues after this event (empty where nothing about waiting changed).
    #[serde(default)]
    pub queues: Vec<QueueInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// Full state; `seq` is the last event it reflects.
    Snapshot { halls: Vec<HallInfo> },
    TicketIssued { ticket: Ticket },
    /// A call or a recall (`recall: true`, `call_count` > 1). Announce both.
    TicketCalled { ticket: Ticket, counter: String, counter_number: u32, call_count: u32, recall: bool },
    TicketFinished { ticket: Ticket, counter: String, counter_number: u32 },
    TicketNoShow { ticket: Ticket, counter: String, counter_number: u32 },
    /// The ticket left `from_counter` and waits again (same number) in `ticket.hall`,
    /// `ticket.service`, and at `ticket.counter` when sent to a specific counter.
    TicketTransferred { ticket: Ticket, from_counter: String, from_hall: String },
    TicketRequeued { ticket: Ticket },
    TicketRated { ticket_id: u64, counter: String, score: u8 },
    /// A remote ticket's turn came before its check-in: held (`ticket.remote.held_until`).
    TicketHeld { ticket: Ticket },
    /// A remote ticket was checked in at the kiosk: it is called like any other from now.
    TicketCheckedIn { ticket: Ticket },
    /// A held remote ticket was not checked in in time: it ended as a no-show.
    TicketLapsed { ticket: Ticket },
    CounterOpened { counter: String, counter_number: u32 },
    CounterClosed { counter: String, counter_number: u32 },
    /// `reason`: one of the configured pause reasons (午休, 业务学习, …).
    CounterPaused { counter: String, counter_number: u32, #[serde(default)] reason: String },
    CounterResumed { counter: String, counter_number: u32 },
    /// A new business day began; numbering restarts, `expired` waiting tickets expired and
    /// `unfinished` tickets still at a counter ended as 未办结. Screens clear their calls.
    DayRolledOver {
        day: String,
        expired: u32,
        #[serde(default)]
        unfinished: u32,
    },
    PublicityUpdated { messages: Vec<String> },
    /// A slot's free places changed (a booking made or cancelled). No personal data.
    SlotChanged { service: String, date: String, start: DateTime<Utc>, capacity: u32, free: u32 },
    /// A booking was not checked in by the end of its window.
    AppointmentNoShow { service: String, date: String, start: DateTime<Utc> },
    /// Whether tickets can be taken changed (the hall opened or closed, a service stopped
    /// issuing for the day): the new state is in `queues`.
    IssuingChanged,
    /// What a new ticket would be told changed (the forked estimator published a new
    /// forecast): the hall's waits are in `queues`; waiting tickets' own are fetched anew.
    EstimatesChanged,
    DeviceStatusChanged { status: DeviceStatus },
    /// A hall run by another server (a hall edge) was cut off (断网) or is heard from again.
    HallLinkChanged { link: crate::HallLink },
    /// A hall run by another server, as that server last told: its queues are in `queues`.
    HallMirrored,
    /// The core took the hall over from its own server (whose box died): it runs the hall
    /// from now; the queues are in `queues`.
    HallTakenOver,
    /// At a hall edge: how a booking ended there (checked in with `ticket`, or a no-show), for
    /// the core, which counts no-shows and bans from its halls' word. Staff only.
    BookingSettled { booking: u64, outcome: BookingOutcome, #[serde(default, skip_serializing_if = "Option::is_none")] ticket: Option<u64> },
    /// An alert for the duty leader began ([`crate::Alert`]).
    AlertRaised { alert: crate::Alert },
    /// Its condition ended.
    AlertCleared { alert: crate::Alert },
    /// A supervisor acknowledged it.
    AlertAcknowledged { alert: crate::Alert },
}

/// How a booking ended at its hall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingOutcome {
    CheckedIn,
    NoShow,
}

impl EventKind {
    /// The ticket the event is about, if it is about one.
    pub fn ticket_id(&self) -> Option<u64> {
        use EventKind as K;
        match self {
            K::TicketIssued { ticket }
            | K::TicketCalled { ticket, .. }
            | K::TicketFinished { ticket, .. }
            | K::TicketNoShow { ticket, .. }
            | K::TicketTransferred { ticket, .. }
            | K::TicketRequeued { ticket }
            | K::TicketHeld { ticket }
            | K::TicketCheckedIn { ticket }
            | K::TicketLapsed { ticket } => Some(ticket.id),
            K::TicketRated { ticket_id, .. } => Some(*ticket_id),
            _ => None,
        }
    }
}

impl StreamMessage {
    pub fn is_snapshot(&self) -> bool {
        matches!(self.kind, EventKind::Snapshot { .. })
    }
}

