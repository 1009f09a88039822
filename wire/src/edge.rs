//! Hall edges: a hall's own server forwards its event log to the core, which stores each
//! event once, keyed by (hall, the edge's `seq`).

use serde::{Deserialize, Serialize};

/// `POST /api/v1/edges/{hall}/log`: the edge's next events, in order, and the rows of the
/// tickets they name as the edge holds them now. The core skips events it holds already and
/// refuses a gap (`edge_gap`, with what it holds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeUpload {
    pub events: Vec<EdgeEvent>,
    #[serde(default)]
    pub tickets: Vec<EdgeTicket>,
    /// The hall as the edge's duty leader sees it now: the core shows it as the hall's
    /// figures (frozen, and marked so, while the link is down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall: Option<Box<crate::HallOverview>>,
}

/// Whether a server hears from a hall run by another server (a hall edge at the core; the
/// core at an edge): `online`, or cut off `since` (断网), its figures as of `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallLink {
    pub online: bool,
    /// When it was last heard from (the start of the cut, while it is down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

/// One event of an edge's log, as the edge stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeEvent {
    /// The edge's sequence number (1, 2, 3, … without gaps).
    pub seq: u64,
    /// When it happened (ms since the epoch, the edge's clock).
    pub at: i64,
    /// Its type (`ticket_issued`, …).
    #[serde(rename = "type")]
    pub kind: String,
    pub hall: Option<String>,
    /// The stream message, as JSON text.
    pub body: String,
}

/// A ticket as an edge stores it (every column of its row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeTicket {
    pub id: u64,
    pub day: String,
    pub issued_hall: String,
    pub issued_service: String,
    pub seq: u32,
    pub number: String,
    pub hall: String,
    pub service: String,
    pub priority: String,
    pub state: String,
    pub issued_at: i64,
    pub queued_at: i64,
    pub called_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub counter: Option<String>,
    pub clerk: Option<String>,
    pub call_count: u32,
    pub transferred: bool,
    pub request_id: Option<String>,
    pub rating: Option<u8>,
    pub slot_start: Option<i64>,
    pub remote_code: Option<String>,
    pub arrived_at: Option<i64>,
    pub held_at: Option<i64>,
}

/// The core's answer to an upload (and `GET /api/v1/edges/{hall}/log`): the highest `seq` of
/// the hall's log it holds, all before it held too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeHeld {
    pub held: u64,
}

/// An edge's link to the core, in its `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UpstreamHealth {
    /// The core's URL.
    pub upstream: String,
    /// The highest `seq` the core holds.
    pub held: u64,
    /// Events not forwarded yet, and when the oldest of them happened.
    pub pending: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_pending_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last upload failed (`None`: it went through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The core's config changed (to this version) since this server started: it is kept
    /// here and applied at the next start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_pending: Option<String>,
}

/// `GET /api/v1/edges/{hall}/feed?since=N&wait=S`: what the core sends a hall edge after its
/// item `since` (kept at the core until asked for, so a cut of any length loses nothing),
/// answered when there is some or after `wait` seconds (at most 25).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeFeedQuery {
    #[serde(default)]
    pub since: u64,
    #[serde(default)]
    pub wait: Option<u32>,
}

/// The core's answer to a hall edge's feed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeFeed {
    /// The next items, in order (at most 200).
    pub items: Vec<EdgeFeedItem>,
    /// Every other hall as the core sees it now (the kiosks' 区域通办 panel).
    pub halls: Vec<crate::HallInfo>,
    /// The version of the core's config for its halls (`GET /api/v1/edges/{hall}/config`).
    #[serde(default)]
    pub config: String,
}

/// `GET /api/v1/edges/{hall}/config`: the core's config for its halls: every section but
/// those each server keeps to itself (`server`, `store`, `backup`, `edge`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeConfig {
    pub version: String,
    /// TOML.
    pub text: String,
}

/// One item of a hall edge's feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeFeedItem {
    /// The item's number in the hall's feed (1, 2, 3, … without gaps).
    pub seq: u64,
    /// When the core made it (ms since the epoch).
    pub at: i64,
    #[serde(flatten)]
    pub kind: EdgeFeedKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EdgeFeedKind {
    /// A booking of the hall made at the core.
    Booked { booking: EdgeBooking },
    /// A booking of the hall cancelled at the core.
    BookingCancelled { booking: u64 },
    /// The hall's publicity (税法宣传) set at the core.
    Publicity { messages: Vec<String> },
    /// A ticket transferred to the hall from another one (`from_counter` there): it waits
    /// here under its number.
    Transfer { ticket: EdgeTicket, from_counter: String },
}

/// `POST /api/v1/edges/{hall}/transfers`: a ticket at one of the edge's counters goes to
/// another hall (`ticket.hall`, `ticket.service`, and `ticket.counter` when sent to one):
/// the core takes it (or queues it for that hall's own edge) before the edge lets it go, so
/// a refusal (`upstream_unavailable`) leaves it where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeTransfer {
    pub ticket: EdgeTicket,
    pub from_counter: String,
}

/// A booking as the hall needs it to check it in (by its code or the ID number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeBooking {
    pub id: u64,
    pub code: String,
    pub service: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The slot's start, minutes after local midnight.
    pub slot: u32,
    /// The ID number (upper-case), name and proven phone.
    pub person: String,
    pub name: String,
    pub phone: String,
    pub created_at: i64,
    pub request_id: String,
}

/// `POST /api/v1/halls/{hall}/takeover` (supervisors, at the core): the core runs a hall whose
/// own server died, numbering each service `skip` above the last number it holds of the
/// edge's (numbers the edge issued and never forwarded stay below). Only by this command:
/// taking over on its own during a cut is how duplicate numbers get printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeoverRequest {
    pub skip: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeoverResponse {
    pub hall: String,
    /// Per service, the next number the core issues ("A101").
    pub next: std::collections::BTreeMap<String, String>,
}

/// `GET /api/v1/edges/{hall}/copy?after=N`: the core's copy of a hall's log after `seq` N
/// (at most 2000 events a page) and the rows of the hall's tickets of today, for a hall
/// server rebuilt on a spare box or put back from a backup older than what the core holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeCopy {
    /// The core's business day (`tickets` are of it).
    pub day: String,
    pub events: Vec<EdgeEvent>,
    pub tickets: Vec<EdgeTicket>,
    /// The highest `seq` the core holds.
    pub held: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeCopyQuery {
    #[serde(default)]
    pub after: u64,
}
