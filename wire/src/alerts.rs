//! Alerts for the duty leader, decided by the server (`[alerts]`): raised when a condition
//! starts, cleared when it ends, acknowledged by a supervisor (who and when are kept).

use serde::{Deserialize, Serialize};

use crate::Time;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A ticket has waited more than `wait_minutes`.
    LongWait,
    /// More than `queue_length` wait in a hall: open an emergency window (应急窗口).
    LongQueue,
    /// A counter has been paused more than `pause_minutes`.
    LongPause,
    /// A device reports a fault (a kiosk's printer, a display without audio).
    DeviceFault,
    /// A device that reported before has not for `device_offline_s`.
    DeviceOffline,
    /// A 差评: a rating of 1 (非常不满意) or 2 (不满意).
    BadRating,
    /// The holiday calendar lacks this year, or from 1 December the next (`[calendar] years`).
    CalendarMissing,
    /// Text messages (one-time codes for bookings) are not going through.
    SmsFailing,
    /// The event streams were full: a device or a page was turned away.
    StreamsFull,
    /// A hall run by its own server (a hall edge) is not heard from: cut off (断网).
    HallCut,
    /// A hall's facts overruled a change made at the core while it was cut off (a booking
    /// cancelled here was checked in there): the hall's facts stand.
    EdgeConflict,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::LongWait => "long_wait",
            AlertKind::LongQueue => "long_queue",
            AlertKind::LongPause => "long_pause",
            AlertKind::DeviceFault => "device_fault",
            AlertKind::DeviceOffline => "device_offline",
            AlertKind::BadRating => "bad_rating",
            AlertKind::CalendarMissing => "calendar_missing",
            AlertKind::SmsFailing => "sms_failing",
            AlertKind::StreamsFull => "streams_full",
            AlertKind::HallCut => "hall_cut",
            AlertKind::EdgeConflict => "edge_conflict",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: u64,
    pub kind: AlertKind,
    /// The hall's id; empty for an alert about every hall (the holiday calendar).
    pub hall: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u64>,
    /// The ticket's number (`A012`), where the alert is about a ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// What happened, Chinese then English.
    pub message: String,
    /// What to do about it, e.g. "建议开启应急窗口：5号、6号".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    pub raised_at: Time,
    /// When the condition ended; `None` while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared_at: Option<Time>,
    /// The supervisor who acknowledged it, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<Time>,
}

impl Alert {
    /// Neither cleared nor acknowledged: it still asks for someone's attention.
    pub fn is_open(&self) -> bool {
        self.cleared_at.is_none() && self.acked_at.is_none()
    }
}

/// `GET /api/v1/alerts?state=open|all`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// `open` (default): neither cleared nor acknowledged; `active`: not cleared, acknowledged or
    /// not (being dealt with: 处理中); `all`: today's and older, newest first (at most 500).
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsResponse {
    pub alerts: Vec<Alert>,
}
