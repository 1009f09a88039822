//! The duty leader's overview (`GET /api/v1/overview`, supervisors only): every hall with what
//! the public hall state leaves out — who sits at each counter, today's counts and ratings,
//! the longest waits and every configured device.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{DeviceStatus, HallInfo};
use crate::Time;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// The server's time when it answered: durations are counted from it.
    pub at: Time,
    /// The `seq` of the last event reflected here.
    pub seq: u64,
    pub halls: Vec<HallOverview>,
    /// Why a counter may pause (a supervisor's pause names one too).
    pub pause_reasons: Vec<String>,
    /// The year whose holidays are not configured, while that matters (this year, or from
    /// 1 December the next): the halls would open on its holidays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_missing: Option<i32>,
    /// At a hall's own server (a hall edge): its link to the core, and what it has not yet
    /// forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<crate::UpstreamHealth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallOverview {
    /// The hall as everyone sees it: queues and estimates for a new ticket, counters (state,
    /// ticket at the counter and since when, pause and its reason), publicity.
    pub hall: HallInfo,
    /// Per service id: how long (seconds) its longest-waiting ticket has waited since issue.
    pub longest_wait_s: BTreeMap<String, u32>,
    pub waiting: u32,
    pub served_today: u32,
    pub no_shows_today: u32,
    /// Today's ratings of tickets served here, per level "1" (非常不满意) to "5" (非常满意).
    pub ratings_today: BTreeMap<String, u32>,
    /// Per counter id: the clerk signed in there.
    pub clerks: BTreeMap<String, ClerkOnDuty>,
    /// Every device configured for the hall, with its last report (`None`: never reported).
    pub devices: Vec<DeviceOverview>,
    /// Per closed counter id: the clerks a supervisor may open it for (allowed there and not
    /// at another counter now).
    #[serde(default)]
    pub can_open: BTreeMap<String, Vec<ClerkOnDuty>>,
    /// Today's remote tickets (线上取号) of the hall.
    #[serde(default)]
    pub remote: RemoteCounts,
    /// Today's text messages about the hall's tickets.
    #[serde(default)]
    pub texts: TextCounts,
    /// While the queue is long (the long-queue alert's limit): the closed counter to open and
    /// what a new ticket would wait with it open, forked ("开启 W05：新取号预计等候 35→18 分钟").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_if: Option<WhatIf>,
}

/// What opening one more counter would change, by the forked estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatIf {
    pub counter: String,
    pub counter_number: u32,
    /// The service whose new ticket is meant (the one the counter serves most waiting for).
    pub service: String,
    /// A new ticket's wait now, and with the counter open (seconds).
    pub before_s: u32,
    pub after_s: u32,
    /// "开启 5号窗口：新取号预计等候 35→18 分钟".
    pub text: String,
}

/// Today's remote tickets (线上取号) of a hall, by where they stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCounts {
    /// Waiting, not checked in yet.
    pub away: u32,
    /// Their turn came before their check-in: held.
    pub held: u32,
    /// Checked in at the kiosk.
    pub checked_in: u32,
    /// Held, never checked in: no-shows.
    pub lapsed: u32,
}

/// Today's text messages about a hall's tickets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextCounts {
    pub sent: u32,
    /// Given up, or failed and waiting to be tried again.
    pub failed: u32,
}

/// `POST /api/v1/counters/{counter}/open` (supervisors): the counter opens for `clerk` (an
/// emergency window, 应急窗口); the clerk then signs in at its console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCounterRequest {
    pub clerk: String,
}

/// `GET /api/v1/counters/{c}/on-duty` (the counter's rating pad, its clerk, supervisors): who
/// serves at the counter, for the pad's 亮证服务 (name and 工号 shown while idle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnDuty {
    pub counter: String,
    /// The window's number in its hall.
    pub number: u32,
    /// `None`: nobody is signed in.
    pub clerk: Option<ClerkOnDuty>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClerkOnDuty {
    pub id: String,
    pub name: String,
    /// The clerk has signed in at the counter's console; false for a counter a supervisor
    /// opened for them (已开启·待登录) until they do.
    #[serde(default)]
    pub signed_in: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceOverview {
    pub device: String,
    /// What staff call it ("东区1号取号机").
    #[serde(default)]
    pub name: String,
    /// `kiosk`, `display` or `pad`.
    pub kind: String,
    pub status: Option<DeviceStatus>,
    /// Its last report since the server started (devices report every 20 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Time>,
    /// Reported within `device_offline_s`; `None` when not heard from since the server started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
}
