//! The qcall wire format, version 1.
//!
//! These types are what crosses the network between the server (`qcall`), the kiosks, the hall
//! displays and the web pages. They are deliberately separate from the domain types in
//! `qcall-core`: the domain may change shape without breaking a kiosk in the field, and a change
//! here is a change of protocol (bump [`API_VERSION`] and the `/api/vN` prefix).
//!
//! Every request body is parsed strictly (`deny_unknown_fields`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Protocol version; the HTTP API lives under `/api/v{API_VERSION}`.
pub const API_VERSION: u32 = 1;

/// Ticket priority class. `priority` is the 绿色通道 (elderly, disabled, pregnant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Normal,
    Priority,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Waiting,
    Called,
    Finished,
    NoShow,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterState {
    /// Nobody is signed in.
    Closed,
    Open,
    Paused,
}

/// A ticket as the outside world sees it. Holds no personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: u64,
    /// Service prefix plus sequence, e.g. `A012`. Never changes, not even after a transfer.
    pub number: String,
    pub hall: String,
    pub service: String,
    pub priority: Priority,
    pub state: TicketState,
    /// The business day the number belongs to (`YYYY-MM-DD`).
    pub day: String,
    pub issued_at: DateTime<Utc>,
    /// People who will be called before this ticket (0 once called).
    pub waiting_ahead: u32,
    /// Estimated seconds until this ticket is called.
    pub est_wait_s: u32,
    /// The counter serving it, or the counter it was transferred to while it waits there.
    pub counter: Option<String>,
    /// The counter's number in its hall (the number announced).
    pub counter_number: Option<u32>,
    pub call_count: u32,
    /// True when it came to its current queue by a transfer.
    pub transferred: bool,
}

/// Waiting count and estimate of one service in one hall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueInfo {
    pub service: String,
    pub waiting: u32,
    pub est_wait_s: u32,
    /// Counters serving this service that are open now.
    pub open_counters: u32,
    /// The daily cap is reached: no more tickets today.
    pub sold_out: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: String,
    pub prefix: String,
    pub name_zh: String,
    pub name_en: String,
    pub waiting: u32,
    pub est_wait_s: u32,
    pub open_counters: u32,
    pub sold_out: bool,
}

/// The ticket a counter is serving, as shown on screens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentTicket {
    pub id: u64,
    pub number: String,
    pub service: String,
    pub call_count: u32,
    pub called_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterInfo {
    pub id: String,
    /// Number of the window in its hall (1, 2, …): what the voice says.
    pub number: u32,
    pub state: CounterState,
    pub services: Vec<String>,
    pub preferred: Vec<String>,
    pub current: Option<CurrentTicket>,
}

/// A device's self-reported health (a kiosk's printer, a display's audio).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub device: String,
    pub kind: String,
    pub ok: bool,
    /// Short machine-readable fault code, e.g. `paper_end`; empty when ok.
    #[serde(default)]
    pub code: String,
    /// Human-readable message, Chinese first.
    #[serde(default)]
    pub message: String,
    pub at: DateTime<Utc>,
}

/// The state of one hall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallInfo {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    /// Current business day (`YYYY-MM-DD`).
    pub day: String,
    pub services: Vec<ServiceInfo>,
    pub counters: Vec<CounterInfo>,
    /// Latest calls in this hall, newest first.
    pub recent_calls: Vec<CallInfo>,
    pub devices: Vec<DeviceStatus>,
    /// Publicity (税法宣传) lines scrolled on the hall TV.
    pub publicity: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallInfo {
    pub ticket_id: u64,
    pub number: String,
    pub service: String,
    pub counter: String,
    pub counter_number: u32,
    pub call_count: u32,
    pub at: DateTime<Utc>,
}

/// `GET /api/v1/halls`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallsResponse {
    pub version: u32,
    /// The `seq` of the last event reflected here.
    pub seq: u64,
    pub halls: Vec<HallInfo>,
}

/// `POST /api/v1/halls/{hall}/tickets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    pub service: String,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// A fresh random id per tap; repeat it on retry and the same ticket comes back.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// `POST /api/v1/sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub clerk: String,
    pub pin: String,
    pub counter: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionResponse {
    pub token: String,
    pub clerk: String,
    pub clerk_name: String,
    pub counter: String,
    pub counter_number: u32,
    pub hall: String,
}

/// `POST /api/v1/counters/{counter}/transfer`. At least one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub counter: Option<String>,
    #[serde(default)]
    pub hall: Option<String>,
}

/// `POST /api/v1/counters/{counter}/call`: call one specific waiting or no-show ticket,
/// by id (`17`) or by number in the counter's hall (`"A012"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    pub ticket: TicketRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TicketRef {
    Id(u64),
    Number(String),
}

/// `POST /api/v1/devices/{device}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceStatusReport {
    pub ok: bool,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// Answer of counter actions: the ticket acted on (if any) and the counter afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterActionResponse {
    pub ticket: Option<Ticket>,
    pub counter: CounterInfo,
}

/// Every error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

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
    CounterOpened { counter: String, counter_number: u32 },
    CounterClosed { counter: String, counter_number: u32 },
    CounterPaused { counter: String, counter_number: u32 },
    CounterResumed { counter: String, counter_number: u32 },
    /// A new business day began; numbering restarts and `expired` waiting tickets expired.
    DayRolledOver { day: String, expired: u32 },
    PublicityUpdated { messages: Vec<String> },
    DeviceStatusChanged { status: DeviceStatus },
}

impl StreamMessage {
    pub fn is_snapshot(&self) -> bool {
        matches!(self.kind, EventKind::Snapshot { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_message_is_tagged_by_type_with_seq() {
        let m = StreamMessage {
            seq: 7,
            at: DateTime::from_timestamp(0, 0).unwrap(),
            hall: Some("east".into()),
            kind: EventKind::CounterPaused { counter: "E03".into(), counter_number: 3 },
            queues: vec![],
        };
        let v: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(v["type"], "counter_paused");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["counter_number"], 3);
        let back: StreamMessage = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn requests_reject_unknown_fields() {
        let e = serde_json::from_str::<IssueRequest>(r#"{"service":"filing","x":1}"#);
        assert!(e.is_err());
        let ok: IssueRequest = serde_json::from_str(r#"{"service":"filing","priority":"priority"}"#).unwrap();
        assert_eq!(ok.priority, Some(Priority::Priority));
    }

    #[test]
    fn ticket_ref_accepts_id_or_number() {
        let a: CallRequest = serde_json::from_str(r#"{"ticket":17}"#).unwrap();
        assert_eq!(a.ticket, TicketRef::Id(17));
        let b: CallRequest = serde_json::from_str(r#"{"ticket":"A012"}"#).unwrap();
        assert_eq!(b.ticket, TicketRef::Number("A012".into()));
    }
}
