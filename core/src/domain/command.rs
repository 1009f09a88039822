//! What the state is asked to do ([`Command`]), what it answers ([`Event`]), and why it may refuse ([`DomainError`]).

use chrono::NaiveDate;

use super::{Booking, BookingId, CheckInBy, Millis, Person, Priority, TicketId, TicketState};

/// What a 差评 may be about when the config names nothing else.
pub const DEFAULT_RATING_REASONS: [&str; 5] = ["等候时间长", "服务态度", "业务不熟练", "一次性告知不到位", "其他"];

/// Pause reasons when the config names none.
pub const DEFAULT_PAUSE_REASONS: [&str; 5] = ["午休", "业务学习", "临时离开", "系统故障", "其他"];

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Roll the business day over if `now` is in a new one. Applied before every batch.
    Tick,
    Issue { hall: usize, service: usize, priority: Priority, request_id: Option<String> },
    /// A clerk opens a counter. Another clerk there is replaced only with `take_over`.
    SignIn { counter: usize, clerk: String, take_over: bool },
    SignOut { counter: usize },
    CallNext { counter: usize },
    Call { counter: usize, ticket: TicketId },
    Recall { counter: usize },
    NoShow { counter: usize },
    Finish { counter: usize },
    Transfer { counter: usize, service: Option<usize>, to_counter: Option<usize>, hall: Option<usize> },
    Requeue { ticket: TicketId },
    Pause { counter: usize, reason: String },
    Resume { counter: usize },
    Rate { counter: usize, ticket: TicketId, score: u8, window_ms: Millis },
    /// The taxpayer rates a ticket finished today on its page (halls with phone ratings).
    RateByPhone { ticket: TicketId, score: u8 },
    SetPublicity { hall: usize, messages: Vec<String> },
    /// Book a slot. `code` is fresh (the caller draws it; a taken one is refused).
    Book { hall: usize, service: usize, date: NaiveDate, slot: u32, who: Person, code: String, request_id: String },
    CancelBooking { code: String, phone: String },
    /// Check a booking in at the hall's kiosk: a ticket of its service, marked with its slot.
    /// Check a booking, or a remote ticket by its code, in at the hall's kiosk: a booking gets a
    /// ticket of its service marked with its slot; a remote ticket may be called from then on.
    CheckIn { hall: usize, by: CheckInBy, request_id: Option<String> },
    /// A remote ticket (线上取号) of `service`: numbered now, called once checked in with
    /// `code` (fresh; the caller draws it; a taken one is refused).
    IssueRemote { hall: usize, service: usize, code: String, request_id: String },
    /// At a hall edge: a booking of its hall made or cancelled at the core.
    Receive(super::Received),
    /// At the core: how a booking of a hall run by its edge ended there, and when.
    Settle { booking: super::BookingId, outcome: super::Settled, at: Millis },
    /// The ticket at `counter` goes to `hall`, which another server runs and which took it
    /// already (it leaves this server: [`super::TicketState::Moved`]).
    TransferAway { counter: usize, service: Option<usize>, hall: usize },
    /// A ticket transferred here from a hall another server runs (`from_counter` there):
    /// it waits here under its number. Once: a ticket known already changes nothing.
    Adopt { ticket: Box<super::Ticket>, from_counter: usize },
}

impl Command {
    /// The counter a counter's action is about (a clerk's or a supervisor's on it).
    pub fn counter(&self) -> Option<usize> {
        match self {
            Command::SignIn { counter, .. }
            | Command::SignOut { counter }
            | Command::CallNext { counter }
            | Command::Call { counter, .. }
            | Command::Recall { counter }
            | Command::NoShow { counter }
            | Command::Finish { counter }
            | Command::Transfer { counter, .. }
            | Command::TransferAway { counter, .. }
            | Command::Pause { counter, .. }
            | Command::Resume { counter } => Some(*counter),
            _ => None,
        }
    }

    /// The command's name, as the audit trail records it (`CallNext`, `Finish`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Tick => "Tick",
            Command::Issue { .. } => "Issue",
            Command::SignIn { .. } => "SignIn",
            Command::SignOut { .. } => "SignOut",
            Command::CallNext { .. } => "CallNext",
            Command::Call { .. } => "Call",
            Command::Recall { .. } => "Recall",
            Command::NoShow { .. } => "NoShow",
            Command::Finish { .. } => "Finish",
            Command::Transfer { .. } => "Transfer",
            Command::Requeue { .. } => "Requeue",
            Command::Pause { .. } => "Pause",
            Command::Resume { .. } => "Resume",
            Command::Rate { .. } => "Rate",
            Command::RateByPhone { .. } => "RateByPhone",
            Command::SetPublicity { .. } => "SetPublicity",
            Command::Book { .. } => "Book",
            Command::CancelBooking { .. } => "CancelBooking",
            Command::CheckIn { .. } => "CheckIn",
            Command::IssueRemote { .. } => "IssueRemote",
            Command::Receive(_) => "Receive",
            Command::Settle { .. } => "Settle",
            Command::TransferAway { .. } => "TransferAway",
            Command::Adopt { .. } => "Adopt",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    TicketIssued { ticket: TicketId },
    TicketCalled { ticket: TicketId, counter: usize, call_count: u32, recall: bool },
    TicketFinished { ticket: TicketId, counter: usize },
    TicketNoShow { ticket: TicketId, counter: usize },
    TicketTransferred { ticket: TicketId, from_counter: usize, from_hall: usize },
    TicketRequeued { ticket: TicketId },
    TicketRated { ticket: TicketId, counter: usize, score: u8 },
    CounterOpened { counter: usize },
    CounterClosed { counter: usize },
    CounterPaused { counter: usize, reason: String },
    CounterResumed { counter: usize },
    /// `unfinished`: the tickets still at a counter, ended as 未办结 (they leave memory; the
    /// store marks every earlier day's called ticket so).
    DayRolledOver { day: NaiveDate, expired: Vec<TicketId>, unfinished: Vec<TicketId> },
    PublicityUpdated { hall: usize, messages: Vec<String> },
    /// Booking events carry the booking as it is after the event (what the store writes).
    BookingMade { booking: Box<Booking> },
    BookingCancelled { booking: Box<Booking> },
    BookingCheckedIn { booking: Box<Booking> },
    BookingNoShow { booking: Box<Booking> },
    /// A remote ticket's turn came before its check-in: held while others are called.
    TicketHeld { ticket: TicketId },
    /// A remote ticket was checked in at the kiosk.
    TicketCheckedIn { ticket: TicketId },
    /// A held remote ticket was not checked in in time: a no-show.
    TicketLapsed { ticket: TicketId },
    /// Whether the hall's services issue tickets changed (it opened or closed, a service
    /// stopped for the day).
    IssuingChanged { hall: usize },
    /// The core took over the hall from its edge; `tickets`: those waiting that it took.
    HallTakenOver { hall: usize, tickets: Vec<TicketId> },
}

impl Event {
    /// The tickets whose stored row this event changed.
    pub fn tickets(&self) -> Vec<TicketId> {
        match self {
            Event::TicketIssued { ticket }
            | Event::TicketCalled { ticket, .. }
            | Event::TicketFinished { ticket, .. }
            | Event::TicketNoShow { ticket, .. }
            | Event::TicketTransferred { ticket, .. }
            | Event::TicketRequeued { ticket }
            | Event::TicketRated { ticket, .. }
            | Event::TicketHeld { ticket }
            | Event::TicketCheckedIn { ticket }
            | Event::TicketLapsed { ticket } => vec![*ticket],
            Event::DayRolledOver { expired, .. } => expired.clone(),
            Event::HallTakenOver { tickets, .. } => tickets.clone(),
            _ => vec![],
        }
    }

    /// The booking whose stored row this event changed, as it is now.
    pub fn booking(&self) -> Option<&Booking> {
        match self {
            Event::BookingMade { booking }
            | Event::BookingCancelled { booking }
            | Event::BookingCheckedIn { booking }
            | Event::BookingNoShow { booking } => Some(booking),
            _ => None,
        }
    }

    /// The counters whose stored row this event changed.
    pub fn counter(&self) -> Option<usize> {
        match self {
            Event::TicketCalled { counter, .. }
            | Event::TicketFinished { counter, .. }
            | Event::TicketNoShow { counter, .. }
            | Event::TicketTransferred { from_counter: counter, .. }
            | Event::CounterOpened { counter }
            | Event::CounterClosed { counter }
            | Event::CounterPaused { counter, .. }
            | Event::CounterResumed { counter } => Some(*counter),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{service} is sold out for today ({cap} tickets); please come back tomorrow")]
    SoldOut { service: String, cap: u32 },
    #[error("no waiting ticket for this counter")]
    QueueEmpty,
    #[error("the counter has no current ticket")]
    NoCurrentTicket,
    #[error("the counter is paused; resume it first")]
    CounterPaused,
    #[error("a pause needs one of these reasons: {reasons}")]
    UnknownPauseReason { reasons: String },
    #[error("the counter is closed; sign in first")]
    CounterClosed,
    #[error("the counter is already paused")]
    AlreadyPaused,
    #[error("the counter is not paused")]
    NotPaused,
    #[error("the counter is still serving {0}; finish, transfer or mark it no-show first")]
    Busy(String),
    #[error("unknown ticket")]
    UnknownTicket,
    #[error("ticket {number} is {state:?}; only {expected} tickets can be {action}")]
    WrongTicketState { number: String, state: TicketState, expected: &'static str, action: &'static str },
    #[error("ticket {0} belongs to another hall")]
    OtherHall(String),
    #[error("this counter does not serve {0}")]
    NotServed(String),
    #[error("a transfer needs a target: a service, a counter or a hall")]
    NoTransferTarget,
    #[error("a transfer to counter {0} must stay in that counter's hall")]
    TransferHallMismatch(String),
    #[error("the transfer changes nothing")]
    TransferNoop,
    #[error("score must be 1..5")]
    BadScore,
    #[error("this ticket cannot be rated from this counter now")]
    RatingNotAllowed,
    #[error("this ticket is already rated")]
    AlreadyRated,
    #[error("the business day changed; apply Tick first")]
    StaleDay,
    #[error("{clerk} is signed in at this counter")]
    CounterTaken { clerk: String },
    #[error("the hall issues no tickets now")]
    HallClosed { next_open: Option<Millis> },
    #[error("{service} issues no more tickets today: the wait would run past closing")]
    ServiceClosed { service: String, next_open: Option<Millis> },
    #[error("the slot is full")]
    SlotFull,
    #[error("{0}")]
    OutsideBookingWindow(String),
    #[error("the hall is closed on {0}")]
    ClosedDay(NaiveDate),
    #[error("{0}")]
    DuplicateBooking(String),
    #[error("no bookings until {0}: too many no-shows or cancellations this month")]
    BookingBanned(NaiveDate),
    #[error("no such booking")]
    UnknownBooking,
    #[error("the booking was cancelled")]
    BookingCancelled,
    #[error("it is too late to cancel this booking")]
    CancelTooLate,
    #[error("check-in has not opened yet")]
    TooEarly(Millis),
    #[error("the check-in window is over; please take an ordinary ticket")]
    TooLate,
    #[error("the booking is for another hall")]
    WrongHall(usize),
    #[error("the booking code is taken")]
    CodeTaken,
    /// Not an error to show: the request was made before, this is its booking.
    #[error("repeated booking request")]
    RepeatedBooking(BookingId),
    /// Not an error to show: the check-in was made before, this is its ticket.
    #[error("repeated check-in")]
    RepeatedTicket(TicketId),
    #[error("request_id was already used for a different request")]
    RequestIdReused,
    #[error("this hall takes no remote tickets")]
    RemoteOff,
    /// The hall (or, at a hall edge, bookings) is run by another server: its hall edge, or
    /// the core.
    #[error("{0} is run by another server")]
    Elsewhere(String),
    #[error("the hall's {0} remote tickets for today are taken; please take a number at the hall")]
    RemoteQuotaFull(u32),
}
