//! The state of halls, counters and tickets as the outside world sees it. No personal data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// Still waiting when its business day ended.
    Expired,
    /// Still at a counter when its business day ended: not served (未办结).
    Unfinished,
    /// Transferred to a hall another server runs (a hall edge, or the core), which serves it
    /// from there under the same number.
    Moved,
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
    /// Where the estimate is uncertain (many services ahead that vary a lot): the likely
    /// range, lowest and highest seconds ("约 12–18 分钟"). Absent when narrow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub est_wait_range_s: Option<[u32; 2]>,
    /// The counter serving it, or the counter it was transferred to while it waits there.
    pub counter: Option<String>,
    /// The counter's number in its hall (the number announced).
    pub counter_number: Option<u32>,
    pub call_count: u32,
    /// True when it came to its current queue by a transfer.
    pub transferred: bool,
    /// A checked-in appointment (预约): its slot. Called before walk-ins once the slot starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<crate::AppointmentSlot>,
    /// The estimate runs into the last part of the opening hours: the wait may run into
    /// extended service (延时服务).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overtime: bool,
    /// Waiting, and no counter of the hall that serves it is open or paused: no wait can be
    /// told ("暂无窗口办理"); `est_wait_s` is then only what the configured counters would take.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unstaffed: bool,
    /// A remote ticket (线上取号): taken by phone, called only once checked in at the kiosk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteStatus>,
    /// The ticket's own page with its key, for the printed QR code (whoever holds the paper may
    /// rate the ticket there where the hall takes phone ratings). Only in the answer to the
    /// kiosk that issued or checked it in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// Where a remote ticket (线上取号) stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteStatus {
    /// Checked in at the hall's kiosk: it is called like any other from then on.
    pub checked_in: bool,
    /// Its turn came before its check-in: it is held until then while others are called;
    /// checked in by then, it is next, else it ends as a no-show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<DateTime<Utc>>,
}

/// Waiting count and estimate of one service in one hall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueInfo {
    pub service: String,
    pub waiting: u32,
    pub est_wait_s: u32,
    /// A new ticket's likely range in seconds (low, high), when the estimate has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub est_wait_range_s: Option<[u32; 2]>,
    /// Counters serving this service that are open now.
    pub open_counters: u32,
    /// The daily cap is reached: no more tickets today.
    pub sold_out: bool,
    /// No tickets of this service until then (the hall is closed, or issuing stopped for the
    /// day); `None`: tickets can be taken now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_until: Option<DateTime<Utc>>,
    /// A ticket taken now may be served in extended service (延时服务).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overtime: bool,
    /// No counter serving it is open or paused: say "暂无窗口办理", not a wait.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unstaffed: bool,
    /// With `closed_until`: issuing stopped because the queue would not be served before the
    /// period closes (号源已满), not because the hall is closed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
}

/// How a wait is told in whole minutes: the one rule of the screens, the pages and the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMinutes {
    /// Under five minutes (少于5分钟): a minute or two more or less is not worth telling.
    Short,
    /// About this many (约12分钟).
    About(u32),
    /// Between these (约12–18分钟).
    Between(u32, u32),
}

impl WaitMinutes {
    /// A wait of `est_wait_s` with its range, if any (`est_wait_range_s`): the range in whole
    /// minutes (the low end down, the high one up), else short under five minutes, else the
    /// minutes rounded up.
    pub fn of(est_wait_s: u32, range: Option<[u32; 2]>) -> WaitMinutes {
        match range {
            Some([a, b]) => WaitMinutes::Between(a / 60, b.div_ceil(60)),
            None if est_wait_s < 5 * 60 => WaitMinutes::Short,
            None => WaitMinutes::About(est_wait_s.div_ceil(60)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: String,
    pub prefix: String,
    pub name_zh: String,
    pub name_en: String,
    pub waiting: u32,
    pub est_wait_s: u32,
    /// A new ticket's likely range in seconds (low, high), when the estimate has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub est_wait_range_s: Option<[u32; 2]>,
    pub open_counters: u32,
    pub sold_out: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overtime: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unstaffed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
}

/// The ticket a counter is serving, as shown on screens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentTicket {
    pub id: u64,
    pub number: String,
    pub service: String,
    pub call_count: u32,
    pub called_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<crate::AppointmentSlot>,
    /// A 绿色通道 ticket (called first): tagged on every screen so it does not look like 插队.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub priority: bool,
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
    /// While paused: since when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
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
    /// The business day's time zone (IANA name): devices show and print local times in it.
    #[serde(default)]
    pub time_zone: String,
    /// Where taxpayers' phones reach the server: the ticket QR code is
    /// `{public_base_url}/t/{ticket id}`.
    #[serde(default)]
    pub public_base_url: String,
    /// The hall's street address (shown with appointments).
    #[serde(default)]
    pub address: String,
    /// Opening hours on working days, local `HH:MM-HH:MM`; empty: always open.
    #[serde(default)]
    pub hours: Vec<String>,
    /// Appointments can be booked and checked in here.
    #[serde(default)]
    pub appointments: bool,
    /// The hall texts a taxpayer before their turn and when called: the kiosk offers to take
    /// a mobile number after printing (`POST /api/v1/tickets/{id}/phone`, no code needed from
    /// the hall's own kiosk).
    #[serde(default)]
    pub ticket_texts: bool,
    /// Remote tickets (线上取号) still to be had today; absent where the hall takes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_left: Option<u32>,
    /// A hall run by another server (a hall edge): whether it is heard from now. While it is
    /// not, its figures are as they were `since` (devices show its waits as unavailable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<crate::HallLink>,
}

impl HallInfo {
    /// The status page of a ticket, as printed in its QR code.
    pub fn ticket_url(&self, ticket_id: u64) -> String {
        format!("{}/t/{ticket_id}", self.public_base_url.trim_end_matches('/'))
    }
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
    /// A 预约 (appointment) ticket.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub appointment: bool,
    /// A 绿色通道 ticket.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub priority: bool,
}

/// `GET /api/v1/halls`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallsResponse {
    pub version: u32,
    /// The `seq` of the last event reflected here.
    pub seq: u64,
    /// The server's time when it answered (screens show the server's time, not their own).
    pub at: DateTime<Utc>,
    pub halls: Vec<HallInfo>,
}

