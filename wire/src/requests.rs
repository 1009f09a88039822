//! Request bodies (parsed strictly: unknown fields are refused) and the answers to them.

use serde::{Deserialize, Serialize};

use crate::model::{CounterInfo, Priority, Ticket};

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
    /// Sign in even though another clerk is signed in at the counter (their session ends).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub take_over: bool,
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

/// `POST /api/v1/supervisor-sessions`: a supervisor signs in with their password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorSessionRequest {
    pub supervisor: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorSessionResponse {
    /// Bearer token for the supervisor's requests and event streams until sign-out or expiry.
    pub token: String,
    pub supervisor: String,
    pub name: String,
    /// When the session ends without activity (RFC 3339); every request moves it on.
    pub idle_expires_at: String,
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

/// `PUT /api/v1/halls/{hall}/publicity`: the ticker lines of a hall's TV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicityRequest {
    pub messages: Vec<String>,
}

/// `POST /api/v1/tickets/{id}/rating`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意.
    pub score: u8,
}

/// `POST /api/v1/tickets/{id}/phone-rating` (public, where the hall takes phone ratings): the
/// taxpayer rates a ticket finished today from its own link (`key`: the link's `k`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneRatingRequest {
    pub key: String,
    /// 5 非常满意 … 1 非常不满意.
    pub score: u8,
    /// With a score of 1 or 2: what was wrong, among `[ratings] reasons`.
    #[serde(default)]
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingResponse {
    pub ticket: u64,
    pub number: String,
    pub counter: String,
    pub score: u8,
    /// After a 差评 (1 or 2): what the pad asks was wrong (`POST …/rating/reasons`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ask_reasons: Vec<String>,
}

/// `GET /healthz`: 200 when the server can take changes, 503 when it cannot (`status`
/// `failing`, `problems` says why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// `ok`, `failing`, or `standby` (a second server on the same PostgreSQL database, waiting
    /// to take over; answered with 503 so that a proxy sends nothing its way).
    pub status: String,
    /// `active` (this server takes changes) or `standby`.
    #[serde(default = "active_role")]
    pub role: String,
    /// A standby's: where the active server is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    /// A hall edge's: its link to the core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<crate::UpstreamHealth>,
    /// The `seq` of the last committed event.
    pub seq: u64,
    #[serde(default)]
    pub store: StoreHealth,
    /// What is wrong, for people (empty when ok).
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreHealth {
    /// The last commit succeeded (or none was needed yet).
    pub last_commit_ok: bool,
    /// Why the last commit failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Free space on the database's disk, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    /// The business day the store is on.
    #[serde(default)]
    pub day: String,
}

/// `GET /api/v1/metrics` (supervisors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsResponse {
    pub seq: u64,
    /// SQLite transactions since start.
    pub commits: u64,
    /// Batches committed since start.
    pub batches: u64,
    /// Microseconds the writer spent applying and committing (not waiting).
    pub writer_busy_us: u64,
    pub tickets_in_memory: u64,
    /// Event stream subscribers connected now.
    pub subscribers: u64,
}

fn active_role() -> String {
    "active".into()
}
