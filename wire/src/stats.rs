//! Statistics and reports (supervisors; a clerk sees their own rows).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /api/v1/stats/today[?hall=]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    #[serde(default)]
    pub hall: Option<String>,
}

/// One action in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: chrono::DateTime<chrono::Utc>,
    /// `supervisor:duty`, `clerk:clerk01`, `device:…`; for failed sign-ins the account tried.
    pub actor: String,
    /// `sign_in`, `sign_in_failed`, `publicity_changed`, `counter_control`, `report_exported`,
    /// `bookings_viewed`, …
    pub action: String,
    pub target: String,
    pub detail: String,
    pub client: String,
}

/// `GET /api/v1/audit?from=&to=` (business days, local, inclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub from: String,
    pub to: String,
}

/// `GET /api/v1/audit?from=&to=`: the audit trail of those days, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditResponse {
    pub entries: Vec<AuditEntry>,
}

/// `GET /api/v1/stats?from=&to=[&hall=]` and `GET /api/v1/reports/tickets?from=&to=[&hall=][&format=]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First business day, `YYYY-MM-DD`.
    pub from: String,
    /// Last business day (inclusive).
    pub to: String,
    #[serde(default)]
    pub hall: Option<String>,
    /// `json` (default) or `csv` (ticket report only).
    #[serde(default)]
    pub format: Option<ReportFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    /// Comma-separated, UTF-8 with a byte-order mark (opens in spreadsheet programs).
    Csv,
}

/// Longest period one report may cover, in days.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// One row of statistics, for a counter or a clerk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceStats {
    /// Tickets finished (办结).
    pub served: u32,
    /// Tickets marked no-show (过号).
    pub no_shows: u32,
    /// Tickets still at the counter when their business day ended (未办结): not served.
    #[serde(default)]
    pub unfinished: u32,
    /// Mean of (call time − issue time) over tickets called, in seconds; `None` when none was.
    pub mean_wait_s: Option<u32>,
    /// Mean of (finish time − call time) over finished tickets, in seconds.
    pub mean_service_s: Option<u32>,
    /// Ratings by score: `"1"` (非常不满意) … `"5"` (非常满意).
    pub ratings: BTreeMap<String, u32>,
    pub rated: u32,
    /// Mean score of the rated tickets.
    pub mean_rating: Option<f64>,
}

impl ServiceStats {
    /// A row with nothing counted (every score present with 0).
    pub fn empty() -> ServiceStats {
        ServiceStats { ratings: (1..=5).map(|s: u8| (s.to_string(), 0)).collect(), ..ServiceStats::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterStats {
    pub counter: String,
    pub hall: String,
    pub number: u32,
    #[serde(flatten)]
    pub stats: ServiceStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkStats {
    pub clerk: String,
    pub name: String,
    #[serde(flatten)]
    pub stats: ServiceStats,
}

/// `GET /api/v1/stats/today`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TodayStats {
    pub day: String,
    /// The hall asked for; `None`: all halls.
    pub hall: Option<String>,
    /// Every configured counter (of the hall), served or not.
    pub counters: Vec<CounterStats>,
    /// Every clerk who called a ticket today (in the hall).
    pub clerks: Vec<ClerkStats>,
    /// Pause time per hall, clerk and reason.
    #[serde(default)]
    pub pauses: Vec<PauseStats>,
}

/// `GET /api/v1/stats?from=&to=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodStats {
    pub from: String,
    pub to: String,
    pub hall: Option<String>,
    pub counters: Vec<CounterStats>,
    pub clerks: Vec<ClerkStats>,
    /// Pause time per hall, clerk and reason.
    #[serde(default)]
    pub pauses: Vec<PauseStats>,
}

/// How long counters were paused for one reason by one clerk in one hall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseStats {
    pub hall: String,
    /// `None` once who it was is forgotten (`[privacy] retention_days`).
    pub clerk: Option<String>,
    /// The clerk's name, when known.
    #[serde(default)]
    pub name: String,
    pub reason: String,
    /// Pauses begun in the period.
    pub pauses: u32,
    /// Seconds paused within the period.
    pub seconds: u64,
}

/// One ticket in a period report: when the taxpayer arrived, was called and was done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRow {
    pub id: u64,
    pub day: String,
    pub number: String,
    pub hall: String,
    pub service: String,
    pub priority: String,
    pub state: String,
    /// Arrival: when the ticket was issued (ms since the epoch, UTC).
    pub issued_at: i64,
    pub called_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub counter: Option<String>,
    pub clerk: Option<String>,
    pub call_count: u32,
    pub transferred: bool,
    pub rating: Option<u8>,
}

/// `GET /api/v1/stats/hourly?from=&to=&hall=`: the period's tickets by local hour of issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourlyStats {
    pub from: String,
    pub to: String,
    pub hall: Option<String>,
    /// 24 points, hour 0 to 23 (local time of the business day's time zone).
    pub hours: Vec<HourPoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourPoint {
    pub hour: u8,
    /// Tickets issued in this hour.
    pub issued: u32,
    /// Of those, served (finished) and no-shows.
    pub served: u32,
    pub no_shows: u32,
    /// Mean wait from issue to call of those called; `None` when none was.
    pub mean_wait_s: Option<u32>,
}

/// `GET /api/v1/reports/summary?from=&to=&hall=` (supervisors): the period in tables and
/// chart series. `&table=hall|service|counter|clerk&format=csv` gives one table as CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub from: String,
    pub to: String,
    pub hall: Option<String>,
    pub by_hall: Vec<ReportRow>,
    pub by_service: Vec<ReportRow>,
    pub by_counter: Vec<ReportRow>,
    pub by_clerk: Vec<ReportRow>,
    /// Tickets per working day of the period (and any other day that had tickets).
    pub per_day: Vec<DayPoint>,
    /// How long the called tickets waited: 5-minute buckets, the last open-ended.
    pub waits: Vec<WaitBucket>,
    /// The whole period in one row (key `all`): the headline 取号 / 办结 / 平均等候 / 满意率.
    pub totals: ReportRow,
    /// The hours of the day (0–23) in which the hall (or any hall) is open: the hour charts
    /// show these, with a gap for an hour it is closed in between (lunch).
    pub open_hours: Vec<u8>,
    /// The period's last day per hour of issue …
    pub day_hours: Vec<HourPoint>,
    /// … beside the mean of the same weekday in the 4 weeks before it.
    pub weekday_hours: Vec<HourMean>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// Hall, service, counter or clerk id (`-` for a clerk forgotten after retention).
    pub key: String,
    pub name: String,
    pub issued: u32,
    pub served: u32,
    pub no_shows: u32,
    /// Still at a counter when the day ended (未办结).
    #[serde(default)]
    pub unfinished: u32,
    pub mean_wait_s: Option<u32>,
    pub p90_wait_s: Option<u32>,
    pub mean_service_s: Option<u32>,
    /// Seconds paused (halls, counters and clerks).
    pub pause_s: Option<u64>,
    /// Ratings per level "1".."5".
    pub ratings: std::collections::BTreeMap<String, u32>,
    /// 差评: ratings of 1 and 2.
    pub bad: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayPoint {
    pub day: String,
    pub issued: u32,
    pub served: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitBucket {
    pub from_min: u32,
    /// `None`: and longer.
    pub to_min: Option<u32>,
    pub tickets: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourMean {
    pub hour: u8,
    /// Mean tickets issued in this hour over the weekdays compared.
    pub issued: f64,
    pub mean_wait_s: Option<u32>,
}

/// The query of `GET /api/v1/reports/summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub hall: Option<String>,
    /// With `format=csv`: which table.
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub format: Option<ReportFormat>,
}
