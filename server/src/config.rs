//! Configuration in two phases: TOML -> raw serde structs ([`RawConfig`]) -> validated
//! [`Config`]. Nothing starts until validation passed; every error names the file, the field
//! and the reason.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::domain::{CounterDef, HallDef, ServiceDef, Topology};

/// The demo deployment (three halls), compiled in so `qcall serve` runs anywhere.
pub const EMBEDDED_CONFIG: &str = include_str!("../../config/qcall.toml");

/// `text` without opening hours and appointments: halls always open (the benchmark and tests
/// that must not depend on the time of day).
pub fn always_open(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            skipping = t == "[appointments]" || t.starts_with("[[appointments.");
        }
        if skipping || t.starts_with("hours = ") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
pub const EMBEDDED_NAME: &str = "<embedded config/qcall.toml>";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: field `{field}`: {reason}")]
    Invalid { file: String, field: String, reason: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub business_day: RawBusinessDay,
    pub services: Vec<RawService>,
    pub halls: Vec<RawHall>,
    pub counters: Vec<RawCounter>,
    #[serde(default)]
    pub clerks: Vec<RawClerk>,
    #[serde(default)]
    pub devices: Vec<RawDevice>,
    #[serde(default)]
    pub supervisors: Vec<RawSupervisor>,
    #[serde(default)]
    pub sign_in: RawSignIn,
    #[serde(default)]
    pub calendar: RawCalendar,
    #[serde(default)]
    pub appointments: Option<RawAppointments>,
    #[serde(default)]
    pub estimates: RawEstimates,
    /// Daily backups by the server (none without the section).
    #[serde(default)]
    pub backup: Option<RawBackup>,
    #[serde(default)]
    pub privacy: RawPrivacy,
    #[serde(default)]
    pub pauses: RawPauses,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub ratings: RawRatings,
    #[serde(default)]
    pub sms: Option<RawSms>,
}

/// `[ratings]`: 好差评.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRatings {
    /// What the pad offers after a 差评 (several may be chosen).
    pub reasons: Option<Vec<String>>,
    /// Working days to close a 差评 case (5).
    pub case_days: Option<u32>,
}

/// `[alerts]`: when the duty leader is alerted.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// A ticket waiting longer than this (minutes, 20).
    pub wait_minutes: Option<u32>,
    /// More than this many waiting in a hall (20): open an emergency window.
    pub queue_length: Option<u32>,
    /// A counter paused longer than this (minutes, 15).
    pub pause_minutes: Option<u32>,
    /// A kiosk, display or pad silent this long (seconds, 60; they report every 20).
    pub device_offline_s: Option<u32>,
    /// Every raised alert is POSTed here as JSON (an SMS or WeChat gateway), retried until it
    /// is taken.
    pub webhook_url: Option<String>,
    /// A file holding the secret the webhook's posts are signed with (`X-Qcall-Signature`).
    pub webhook_secret_file: Option<PathBuf>,
}

/// `[pauses]`: why a counter may pause.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPauses {
    /// The reasons a clerk chooses from (午休, 业务学习, 临时离开, 系统故障, 其他 when absent).
    pub reasons: Option<Vec<String>>,
}

/// `[privacy]`: how long records of people are kept.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPrivacy {
    /// Days the audit trail is kept (at least 180: 网络安全法 asks for six months of logs).
    pub audit_days: Option<u32>,
    /// Days who served a ticket (the clerk) is kept; the counts stay without the person.
    pub retention_days: Option<u32>,
}

/// `[backup]`: a backup every day at `at` (local time) into `dir`, kept `keep_days`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    pub dir: PathBuf,
    pub keep_days: Option<u32>,
    pub at: Option<String>,
}

/// Daily backups: `qcall-YYYY-MM-DD.db` in `dir`, made at `at_minute` past local midnight;
/// those older than `keep_days` days are deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backups {
    pub dir: PathBuf,
    pub keep_days: u32,
    pub at_minute: u32,
}

/// `[estimates]`: how waits are estimated.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawEstimates {
    /// "forward" (the call-next rule run forward; the default) or "simple" (people ahead ×
    /// mean service time ÷ open counters).
    pub estimator: Option<String>,
    /// Expected service times are leaned up by this many percent (default 5).
    pub lean_percent: Option<u32>,
}

/// `[calendar]`: the days the halls open besides Monday to Friday, and close on.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCalendar {
    /// Public holidays (`YYYY-MM-DD`): closed.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Weekend days worked instead (调休): open.
    #[serde(default)]
    pub workdays: Vec<String>,
    /// The years whose holidays and workdays are entered in full. Without it: every year
    /// a holiday or workday is listed for.
    pub years: Option<Vec<i32>>,
    /// Ticket issuing stops this many minutes before an opening period closes.
    pub last_ticket_minutes: Option<u32>,
}

/// `[appointments]`: booking slots ahead (提前预约).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAppointments {
    pub slot_minutes: Option<u32>,
    pub share: Option<f64>,
    pub days_ahead: Option<u32>,
    pub same_day_until_minutes: Option<u32>,
    pub early_minutes: Option<u32>,
    pub late_minutes: Option<u32>,
    pub cancel_before_minutes: Option<u32>,
    pub no_show_limit: Option<u32>,
    pub cancel_limit: Option<u32>,
    pub ban_days: Option<u32>,
    pub per_day: Option<u32>,
    pub retention_days: Option<u32>,
    /// Bookings one client address may make per hour on the public page.
    pub bookings_per_hour_per_address: Option<u32>,
    /// Places per slot for one hall and service, instead of the computed number.
    #[serde(default)]
    pub capacity: Vec<RawCapacity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    pub hall: String,
    pub service: String,
    pub per_slot: u32,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub db: Option<PathBuf>,
    pub public_base_url: Option<String>,
    /// Seconds after 办结 during which the counter's rating pad may rate the ticket.
    pub rating_window_s: Option<u32>,
    /// `Host` names this server answers for besides `listen`, `public_base_url`'s host and
    /// `localhost` (IP addresses are always accepted).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// A connection that has not sent a whole request head within this time is closed (also
    /// idle keep-alive connections).
    pub header_timeout_s: Option<u64>,
    /// Open connections at most (WebSockets included); more wait to be accepted.
    pub max_connections: Option<usize>,
    /// A commit that cannot get the database within this time fails its batch.
    pub commit_timeout_ms: Option<u64>,
    /// A clerk session unused this long ends (its counter closes). Sessions also end with the
    /// business day.
    pub session_idle_minutes: Option<u32>,
    /// Below this much free space on the database's disk, `/healthz` answers 503.
    pub min_free_mb: Option<u64>,
    /// TLS: the certificate chain (PEM, server certificate first) and its private key. With
    /// both, the server speaks only HTTPS and WSS. Relative paths start at the working
    /// directory, like `db`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The public face (`/book`, `/t/{id}` and their API) on its own address, for a reverse
    /// proxy to the internet; `listen` then serves the halls' LAN (devices, staff, metrics).
    pub public_listen: Option<String>,
    /// Reverse proxies (addresses or ranges like 10.0.0.0/24) whose `X-Forwarded-For` is
    /// believed: behind them, limits count the real client's address.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Of the event streams (`max_connections`), the share anonymous (public) ones may take;
    /// devices and signed-in staff have the rest.
    pub public_stream_share: Option<f64>,
    /// Anonymous event streams one client address (an IPv6 /64) may hold.
    pub public_streams_per_address: Option<u32>,
    /// Seconds between the pings of an event stream; a socket that answers none of two in a
    /// row is closed (15).
    pub stream_ping_s: Option<u64>,
}

/// `[sms]`: text messages (短信) through the bureau's provider: one-time codes that prove a
/// booker's phone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSms {
    /// `aliyun`, `tencent`, `webhook` (the bureau's own platform) or `log` (trying out: the
    /// message goes to the server's log, the phone masked).
    pub provider: String,
    /// The provider's API address (each has its documented default).
    pub endpoint: Option<String>,
    /// Aliyun AccessKeyId / Tencent SecretId.
    pub key_id: Option<String>,
    /// A file holding the AccessKeySecret / SecretKey / webhook secret (nothing else on its
    /// one line).
    pub secret_file: Option<PathBuf>,
    /// Tencent's SmsSdkAppId.
    pub app_id: Option<String>,
    /// The provider's region (cn-hangzhou, ap-guangzhou).
    pub region: Option<String>,
    /// The approved 签名.
    pub sign_name: Option<String>,
    /// The approved template of the one-time code (its variable: `code`).
    pub code_template: Option<String>,
}

/// `[sign_in]`: wrong PINs and passwords.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSignIn {
    /// Failures of one account from one client address within `window_s` that lock it there
    /// for `lock_s`.
    pub account_failures: Option<u32>,
    /// Failures of one account on the halls' LAN face, from any addresses, that lock it
    /// everywhere (the public face has no staff sign-in).
    pub account_total_failures: Option<u32>,
    /// Failures from one client address within `window_s` that lock the address.
    pub address_failures: Option<u32>,
    pub window_s: Option<u64>,
    pub lock_s: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBusinessDay {
    pub start: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub id: String,
    pub prefix: String,
    pub name_zh: String,
    pub name_en: String,
    pub default_service_s: Option<u32>,
    pub daily_cap: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHall {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    #[serde(default)]
    pub publicity: Vec<String>,
    /// Street address (shown with appointments).
    #[serde(default)]
    pub address: String,
    /// Opening periods on working days, `HH:MM-HH:MM`; none: always open.
    #[serde(default)]
    pub hours: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCounter {
    pub id: String,
    pub hall: String,
    pub number: u32,
    /// Service ids, or `["*"]` for all (一窗式).
    pub services: Vec<String>,
    #[serde(default)]
    pub preferred: Vec<String>,
    /// When the counter is planned to be staffed, e.g. ["09:00-10:00"]; default: whenever its
    /// hall is open.
    #[serde(default)]
    pub hours: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClerk {
    pub id: String,
    pub name: String,
    /// argon2 PHC string made by `qcall hash-pin`.
    pub pin_hash: String,
    /// The clerk's home hall: where they may sign in unless `halls` or `counters` say more.
    pub hall: Option<String>,
    /// Halls at whose counters the clerk may sign in.
    #[serde(default)]
    pub halls: Vec<String>,
    /// Counters where the clerk may sign in.
    #[serde(default)]
    pub counters: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub id: String,
    /// What staff call it ("东区1号取号机"); without it one is made from the hall and kind.
    pub name: Option<String>,
    pub kind: String,
    /// The hall the device stands in (every kind but `booking`).
    pub hall: Option<String>,
    /// The counter a rating pad belongs to (pads only).
    pub counter: Option<String>,
    /// `sha256:<hex>` made by `qcall token`.
    pub token_hash: String,
    /// Bookings a booking client may make per hour (600).
    pub bookings_per_hour: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSupervisor {
    pub id: String,
    /// Shown on the supervisor page and in the audit trail.
    pub name: Option<String>,
    /// A fixed bearer token for API clients (`qcall token`).
    pub token_hash: Option<String>,
    /// Signs in at `/supervisor` with this password (`qcall hash-password`).
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Kiosk,
    Display,
    /// A rating pad (满意度评价器) at one counter.
    Pad { counter: usize },
    /// An integration client that books appointments (电子税务局, a WeChat service).
    Booking,
}

impl DeviceKind {
    /// As the API names it (`DeviceStatus::kind`).
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Kiosk => "kiosk",
            DeviceKind::Display => "display",
            DeviceKind::Pad { .. } => "pad",
            DeviceKind::Booking => "booking",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    /// What staff call it, in alerts and on the overview ("东区1号取号机").
    pub name: String,
    pub kind: DeviceKind,
    /// The hall it stands in; `None` for a booking client, which belongs to no hall.
    pub hall: Option<usize>,
    pub token_hash: String,
    /// A booking client's bookings per hour (it vouches for its users' identity).
    pub bookings_per_hour: u32,
}

#[derive(Debug, Clone)]
pub struct Clerk {
    pub id: String,
    pub name: String,
    pub pin_hash: String,
    /// Counters the clerk may sign in at.
    pub counters: Vec<usize>,
    /// A short fingerprint of `pin_hash`: a session made with another PIN hash is void.
    pub pin_fp: String,
    /// The hash is from before PINs needed six digits (it may hold a 4-digit PIN).
    pub short_pin: bool,
}

impl Clerk {
    pub fn may_sit_at(&self, counter: usize) -> bool {
        self.counters.contains(&counter)
    }
}

#[derive(Debug, Clone)]
pub struct Supervisor {
    pub id: String,
    pub name: String,
    pub token_hash: Option<String>,
    pub password_hash: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: String,
    pub listen: String,
    pub db: PathBuf,
    pub public_base_url: String,
    pub rating_window_s: u32,
    /// Host names accepted in `Host` and `Origin` (IP addresses always are).
    pub allowed_hosts: Vec<String>,
    pub header_timeout: std::time::Duration,
    pub max_connections: usize,
    pub commit_timeout: std::time::Duration,
    pub session_idle_ms: i64,
    pub min_free_bytes: u64,
    /// HTTPS with this certificate (`[server] tls_cert`, `tls_key`).
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// The public face's own address, when it has one.
    pub public_listen: Option<String>,
    pub trusted_proxies: Vec<crate::net::Cidr>,
    /// Event streams anonymous clients may hold at once, and per address.
    pub public_streams: usize,
    pub public_streams_per_address: u32,
    pub stream_ping: std::time::Duration,
    pub sign_in: crate::signin::Limits,
    pub topology: Arc<Topology>,
    pub clerks: Vec<Clerk>,
    pub devices: Vec<Device>,
    pub supervisors: Vec<Supervisor>,
    /// Some credential is a public demo one (the embedded config, or a copy left unchanged).
    pub demo_credentials: bool,
    /// Bookings one client address may make per hour on the public booking page.
    pub bookings_per_hour: u32,
    pub backups: Option<Backups>,
    /// Days the audit trail is kept.
    pub audit_days: u32,
    /// Days who served a ticket is kept.
    pub retention_days: u32,
    pub alerts: crate::alerts::Rules,
    /// Text messages; without `[sms]` there are none, and only booking clients book.
    pub sms: Option<Sms>,
    /// The alert webhook's posts are signed with this (`[alerts] webhook_secret_file`).
    pub webhook_secret: Option<String>,
}

/// `[sms]`, validated.
#[derive(Debug, Clone)]
pub enum Sms {
    /// Messages go to the log (trying out; refused with a public face).
    Log,
    Provider(crate::sms::Settings),
}

impl Config {
    pub fn embedded() -> Result<Config, ConfigError> {
        Config::parse(EMBEDDED_CONFIG, EMBEDDED_NAME)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
        Config::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse { file: file.to_string(), message: e.to_string() })?;
        validate(raw, file)
    }

    pub fn clerk(&self, id: &str) -> Option<&Clerk> {
        self.clerks.iter().find(|c| c.id == id)
    }

    pub fn supervisor(&self, id: &str) -> Option<&Supervisor> {
        self.supervisors.iter().find(|s| s.id == id)
    }
}

fn validate(raw: RawConfig, file: &str) -> Result<Config, ConfigError> {
    let bad = |field: String, reason: String| ConfigError::Invalid { file: file.to_string(), field, reason };

    let listen = raw.server.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
    if listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(bad("server.listen".into(), format!("`{listen}` is not an address like 127.0.0.1:8080")));
    }
    let tls = match (&raw.server.tls_cert, &raw.server.tls_key) {
        (None, None) => None,
        (Some(_), None) => return Err(bad("server.tls_key".into(), "tls_cert is set: name its private key too".into())),
        (None, Some(_)) => return Err(bad("server.tls_cert".into(), "tls_key is set: name its certificate too".into())),
        (Some(cert), Some(key)) => {
            Some(crate::tls::Tls::open(cert, key).map_err(|e| bad(e.file().field().into(), e.to_string()))?)
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_base_url = raw.server.public_base_url.clone().unwrap_or_else(|| format!("{scheme}://{listen}"));
    if !(public_base_url.starts_with("http://") || public_base_url.starts_with("https://")) {
        return Err(bad("server.public_base_url".into(), "must start with http:// or https://".into()));
    }
    let db = raw.server.db.clone().unwrap_or_else(|| PathBuf::from("data/qcall.db"));

    let start = raw.business_day.start.unwrap_or_else(|| "00:00".into());
    let day_start_min = parse_hhmm(&start)
        .ok_or_else(|| bad("business_day.start".into(), format!("`{start}` is not a time like 00:00 or 04:30")))?;
    let tz_name = raw.business_day.time_zone.unwrap_or_else(|| "Asia/Shanghai".into());
    let tz: chrono_tz::Tz = tz_name
        .parse()
        .map_err(|_| bad("business_day.time_zone".into(), format!("`{tz_name}` is not an IANA time zone")))?;

    if raw.services.is_empty() {
        return Err(bad("services".into(), "at least one service is needed".into()));
    }
    let mut services = Vec::new();
    let mut seen = HashSet::new();
    let mut prefixes = HashSet::new();
    for (i, s) in raw.services.iter().enumerate() {
        let f = |name: &str| format!("services[{i}].{name}");
        check_id(&s.id).map_err(|r| bad(f("id"), r))?;
        if !seen.insert(s.id.clone()) {
            return Err(bad(f("id"), format!("duplicate service `{}`", s.id)));
        }
        if s.prefix.len() != 1 || !s.prefix.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(bad(f("prefix"), format!("`{}` must be one letter A-Z", s.prefix)));
        }
        if !prefixes.insert(s.prefix.clone()) {
            return Err(bad(f("prefix"), format!("prefix `{}` is used twice", s.prefix)));
        }
        let default_service_s = s.default_service_s.unwrap_or(300);
        if default_service_s == 0 {
            return Err(bad(f("default_service_s"), "must be more than 0 seconds".into()));
        }
        if s.daily_cap == Some(0) {
            return Err(bad(f("daily_cap"), "must be at least 1 (leave it out for no cap)".into()));
        }
        services.push(ServiceDef {
            id: s.id.clone(),
            prefix: s.prefix.chars().next().unwrap_or('A'),
            name_zh: s.name_zh.clone(),
            name_en: s.name_en.clone(),
            default_service_s,
            daily_cap: s.daily_cap,
        });
    }

    if raw.halls.is_empty() {
        return Err(bad("halls".into(), "at least one hall is needed".into()));
    }
    let mut halls = Vec::new();
    let mut seen = HashSet::new();
    for (i, h) in raw.halls.iter().enumerate() {
        check_id(&h.id).map_err(|r| bad(format!("halls[{i}].id"), r))?;
        if !seen.insert(h.id.clone()) {
            return Err(bad(format!("halls[{i}].id"), format!("duplicate hall `{}`", h.id)));
        }
        let mut hours = Vec::new();
        for (j, p) in h.hours.iter().enumerate() {
            let period = crate::domain::calendar::parse_period(p)
                .ok_or_else(|| bad(format!("halls[{i}].hours[{j}]"), format!("`{p}` is not a period like 09:00-12:00")))?;
            if hours.last().is_some_and(|&(_, b)| period.0 < b) {
                return Err(bad(format!("halls[{i}].hours[{j}]"), "periods must be in order and not overlap".into()));
            }
            hours.push(period);
        }
        halls.push(HallDef {
            id: h.id.clone(),
            name_zh: h.name_zh.clone(),
            name_en: h.name_en.clone(),
            publicity: h.publicity.clone(),
            address: h.address.clone(),
            hours,
        });
    }
    let hall_ix = |id: &str| halls.iter().position(|h| h.id == id);
    let service_ix = |id: &str| services.iter().position(|s| s.id == id);

    let mut counters = Vec::new();
    let mut seen = HashSet::new();
    let mut numbers = HashSet::new();
    for (i, c) in raw.counters.iter().enumerate() {
        let f = |name: &str| format!("counters[{i}].{name}");
        check_id(&c.id).map_err(|r| bad(f("id"), r))?;
        if !seen.insert(c.id.clone()) {
            return Err(bad(f("id"), format!("duplicate counter `{}`", c.id)));
        }
        let hall = hall_ix(&c.hall).ok_or_else(|| bad(f("hall"), format!("unknown hall `{}`", c.hall)))?;
        if c.number == 0 || c.number > 999 {
            return Err(bad(f("number"), "must be 1..999".into()));
        }
        if !numbers.insert((hall, c.number)) {
            return Err(bad(f("number"), format!("number {} is used twice in hall `{}`", c.number, c.hall)));
        }
        let mut svc = Vec::new();
        if c.services.iter().any(|s| s == "*") {
            svc = (0..services.len()).collect();
        } else {
            for s in &c.services {
                let ix = service_ix(s).ok_or_else(|| bad(f("services"), format!("unknown service `{s}`")))?;
                if !svc.contains(&ix) {
                    svc.push(ix);
                }
            }
        }
        if svc.is_empty() {
            return Err(bad(f("services"), "a counter needs at least one service (or \"*\")".into()));
        }
        let mut preferred = Vec::new();
        for s in &c.preferred {
            let ix = service_ix(s).ok_or_else(|| bad(f("preferred"), format!("unknown service `{s}`")))?;
            if !svc.contains(&ix) {
                return Err(bad(f("preferred"), format!("`{s}` is not among the counter's services")));
            }
            preferred.push(ix);
        }
        let mut hours: Vec<(u32, u32)> = Vec::new();
        for (j, p) in c.hours.iter().enumerate() {
            let period = crate::domain::calendar::parse_period(p)
                .ok_or_else(|| bad(f(&format!("hours[{j}]")), format!("`{p}` is not a period like 09:00-12:00")))?;
            if hours.last().is_some_and(|&(_, b)| period.0 < b) {
                return Err(bad(f(&format!("hours[{j}]")), "periods must be in order and not overlap".into()));
            }
            hours.push(period);
        }
        counters.push(CounterDef { id: c.id.clone(), hall, number: c.number, services: svc, preferred, hours });
    }
    for (h, hall) in halls.iter().enumerate() {
        for (s, service) in services.iter().enumerate() {
            if !counters.iter().any(|c| c.hall == h && c.services.contains(&s)) {
                return Err(bad(
                    "counters".into(),
                    format!("no counter in hall `{}` serves `{}`: every hall offers every service", hall.id, service.id),
                ));
            }
        }
    }

    let mut clerks = Vec::new();
    let mut seen = HashSet::new();
    for (i, c) in raw.clerks.into_iter().enumerate() {
        let f = |name: &str| format!("clerks[{i}].{name}");
        check_id(&c.id).map_err(|r| bad(f("id"), r))?;
        if !seen.insert(c.id.clone()) {
            return Err(bad(f("id"), format!("duplicate clerk `{}`", c.id)));
        }
        let Ok(parsed) = argon2::PasswordHash::new(&c.pin_hash) else {
            return Err(bad(f("pin_hash"), "not an argon2 hash; make one with `qcall hash-pin`".into()));
        };
        let short_pin = !crate::secret::is_current_hash(&parsed);
        let mut allowed: Vec<usize> = Vec::new();
        let mut add_hall = |h: usize| allowed.extend(counters.iter().enumerate().filter(|(_, c)| c.hall == h).map(|(ix, _)| ix));
        if let Some(h) = &c.hall {
            add_hall(hall_ix(h).ok_or_else(|| bad(f("hall"), format!("unknown hall `{h}`")))?);
        }
        for h in &c.halls {
            add_hall(hall_ix(h).ok_or_else(|| bad(f("halls"), format!("unknown hall `{h}`")))?);
        }
        for id in &c.counters {
            allowed.push(counters.iter().position(|x| x.id == *id).ok_or_else(|| bad(f("counters"), format!("unknown counter `{id}`")))?);
        }
        if allowed.is_empty() {
            return Err(bad(f("hall"), "a clerk needs a home `hall` (or `halls` / `counters` where they may sign in)".into()));
        }
        allowed.sort_unstable();
        allowed.dedup();
        clerks.push(Clerk { pin_fp: crate::secret::pin_fingerprint(&c.pin_hash), id: c.id, name: c.name, pin_hash: c.pin_hash, counters: allowed, short_pin });
    }

    let mut devices = Vec::new();
    let mut seen = HashSet::new();
    for (i, d) in raw.devices.into_iter().enumerate() {
        let f = |name: &str| format!("devices[{i}].{name}");
        check_id(&d.id).map_err(|r| bad(f("id"), r))?;
        if !seen.insert(d.id.clone()) {
            return Err(bad(f("id"), format!("duplicate device `{}`", d.id)));
        }
        let hall = match (&d.hall, d.kind.as_str()) {
            (Some(_), "booking") => return Err(bad(f("hall"), "a booking client belongs to no hall: remove `hall`".into())),
            (Some(h), _) => Some(hall_ix(h).ok_or_else(|| bad(f("hall"), format!("unknown hall `{h}`")))?),
            (None, "booking") => None,
            (None, _) => return Err(bad(f("hall"), "missing: the hall the device stands in".into())),
        };
        let kind = match (d.kind.as_str(), &d.counter) {
            ("kiosk", None) => DeviceKind::Kiosk,
            ("display", None) => DeviceKind::Display,
            ("pad", Some(c)) => {
                let counter = counters
                    .iter()
                    .position(|x| x.id == *c)
                    .ok_or_else(|| bad(f("counter"), format!("unknown counter `{c}`")))?;
                if Some(counters[counter].hall) != hall {
                    return Err(bad(f("counter"), format!("counter `{c}` is not in hall `{}`", d.hall.as_deref().unwrap_or_default())));
                }
                DeviceKind::Pad { counter }
            }
            ("pad", None) => return Err(bad(f("counter"), "a pad needs the counter it stands at".into())),
            ("booking", None) => DeviceKind::Booking,
            ("kiosk" | "display" | "booking", Some(_)) => return Err(bad(f("counter"), "only pads belong to a counter".into())),
            (other, _) => return Err(bad(f("kind"), format!("`{other}` is not one of kiosk, display, pad, booking"))),
        };
        check_token_hash(&d.token_hash).map_err(|r| bad(f("token_hash"), r))?;
        let short = |h: usize| halls[h].name_zh.trim_end_matches("办税服务厅").to_string();
        let name = match (d.name, kind, hall) {
            (Some(n), _, _) if n.trim().is_empty() || n.chars().count() > 32 => {
                return Err(bad(f("name"), "must be 1-32 characters".into()));
            }
            (Some(n), _, _) => n,
            (None, DeviceKind::Pad { counter }, Some(h)) => format!("{}{}号窗口评价器", short(h), counters[counter].number),
            (None, DeviceKind::Kiosk, Some(h)) => format!("{}取号机（{}）", short(h), d.id),
            (None, DeviceKind::Display, Some(h)) => format!("{}大屏（{}）", short(h), d.id),
            (None, _, _) => format!("预约接入（{}）", d.id),
        };
        let bookings_per_hour = match (d.bookings_per_hour, kind) {
            (Some(n), DeviceKind::Booking) if (1..=100_000).contains(&n) => n,
            (Some(n), DeviceKind::Booking) => return Err(bad(f("bookings_per_hour"), format!("{n} is not between 1 and 100000"))),
            (Some(_), _) => return Err(bad(f("bookings_per_hour"), "only booking clients book".into())),
            (None, _) => 600,
        };
        devices.push(Device { id: d.id, name, kind, hall, token_hash: d.token_hash, bookings_per_hour });
    }
    let mut supervisors = Vec::new();
    for (i, s) in raw.supervisors.into_iter().enumerate() {
        let f = |field: &str| format!("supervisors[{i}].{field}");
        if s.id.trim().is_empty() {
            return Err(bad(f("id"), "must not be empty".into()));
        }
        if supervisors.iter().any(|o: &Supervisor| o.id == s.id) {
            return Err(bad(f("id"), format!("`{}` is already a supervisor", s.id)));
        }
        if let Some(h) = &s.token_hash {
            check_token_hash(h).map_err(|r| bad(f("token_hash"), r))?;
        }
        if let Some(h) = &s.password_hash {
            if argon2::PasswordHash::new(h).is_err() {
                return Err(bad(f("password_hash"), "not an argon2 hash; make one with `qcall hash-password`".into()));
            }
        }
        if s.token_hash.is_none() && s.password_hash.is_none() {
            return Err(bad(f("password_hash"), "a supervisor needs a password_hash (`qcall hash-password`; signs in at /supervisor) or a token_hash (`qcall token`; for API clients)".into()));
        }
        let name = s.name.unwrap_or_else(|| s.id.clone());
        supervisors.push(Supervisor { id: s.id, name, token_hash: s.token_hash, password_hash: s.password_hash });
    }

    let server = &raw.server;
    let header_timeout_s = server.header_timeout_s.unwrap_or(30);
    if !(1..=600).contains(&header_timeout_s) {
        return Err(bad("server.header_timeout_s".into(), format!("{header_timeout_s} is not between 1 and 600")));
    }
    let max_connections = server.max_connections.unwrap_or(2048);
    if !(16..=1_000_000).contains(&max_connections) {
        return Err(bad("server.max_connections".into(), format!("{max_connections} is not between 16 and 1000000")));
    }
    let commit_timeout_ms = server.commit_timeout_ms.unwrap_or(2000);
    if !(100..=60_000).contains(&commit_timeout_ms) {
        return Err(bad("server.commit_timeout_ms".into(), format!("{commit_timeout_ms} is not between 100 and 60000")));
    }
    let idle_min = server.session_idle_minutes.unwrap_or(240);
    if !(1..=24 * 60).contains(&idle_min) {
        return Err(bad("server.session_idle_minutes".into(), format!("{idle_min} is not between 1 and 1440")));
    }
    let mut allowed_hosts = vec!["localhost".to_string()];
    for (i, h) in server.allowed_hosts.iter().enumerate() {
        if h.is_empty() || h.contains(['/', ' ', ':']) {
            return Err(bad(format!("server.allowed_hosts[{i}]"), format!("`{h}` is not a host name (no scheme, port or path)")));
        }
        allowed_hosts.push(h.to_ascii_lowercase());
    }
    if let Some(host) = url_host(&public_base_url) {
        allowed_hosts.push(host);
    }
    let mut trusted_proxies = vec![];
    for (i, p) in server.trusted_proxies.iter().enumerate() {
        trusted_proxies.push(crate::net::Cidr::parse(p).map_err(|r| bad(format!("server.trusted_proxies[{i}]"), r))?);
    }
    let public_listen = match &server.public_listen {
        Some(p) if p.parse::<std::net::SocketAddr>().is_err() => {
            return Err(bad("server.public_listen".into(), format!("`{p}` is not an address like 0.0.0.0:8443")));
        }
        Some(p) if *p == listen => None,
        p => p.clone(),
    };
    let share = server.public_stream_share.unwrap_or(0.5);
    if !(0.05..=0.95).contains(&share) {
        return Err(bad("server.public_stream_share".into(), format!("{share} is not between 0.05 and 0.95")));
    }
    let public_streams_per_address = server.public_streams_per_address.unwrap_or(8);
    if !(1..=1000).contains(&public_streams_per_address) {
        return Err(bad("server.public_streams_per_address".into(), format!("{public_streams_per_address} is not between 1 and 1000")));
    }
    let si = &raw.sign_in;
    let sign_in = crate::signin::Limits {
        account_failures: si.account_failures.unwrap_or(10),
        account_total_failures: si.account_total_failures.unwrap_or(30),
        address_failures: si.address_failures.unwrap_or(30),
        window_ms: si.window_s.unwrap_or(600) as i64 * 1000,
        lock_ms: si.lock_s.unwrap_or(900) as i64 * 1000,
    };
    if sign_in.account_failures == 0 || sign_in.account_total_failures == 0 || sign_in.address_failures == 0 || sign_in.window_ms <= 0 || sign_in.lock_ms <= 0 {
        return Err(bad("sign_in".into(), "failure counts, window_s and lock_s must be at least 1".into()));
    }
    let demo_credentials = file == EMBEDDED_NAME
        || devices.iter().map(|d| &d.token_hash).chain(supervisors.iter().filter_map(|s| s.token_hash.as_ref())).any(|h| crate::secret::is_demo_token_hash(h))
        || supervisors.iter().any(|s| s.password_hash.as_deref() == Some(crate::secret::DEMO_SUPERVISOR_PASSWORD_HASH));

    let date = |field: String, v: &str| v.parse::<chrono::NaiveDate>().map_err(|_| bad(field, format!("`{v}` is not a date like 2026-10-01")));
    let mut calendar = crate::domain::Calendar::default();
    for (i, d) in raw.calendar.holidays.iter().enumerate() {
        calendar.holidays.insert(date(format!("calendar.holidays[{i}]"), d)?);
    }
    for (i, d) in raw.calendar.workdays.iter().enumerate() {
        calendar.workdays.insert(date(format!("calendar.workdays[{i}]"), d)?);
    }
    use chrono::Datelike;
    calendar.years = match &raw.calendar.years {
        None => calendar.holidays.iter().chain(&calendar.workdays).map(|d| d.year()).collect(),
        Some(years) => {
            for (i, &y) in years.iter().enumerate() {
                if !calendar.holidays.iter().any(|d| d.year() == y) {
                    return Err(bad(format!("calendar.years[{i}]"), format!("{y} has no holidays listed: add that year's holidays first")));
                }
            }
            years.iter().copied().collect()
        }
    };
    let last_ticket_minutes = raw.calendar.last_ticket_minutes.unwrap_or(30);
    if last_ticket_minutes > 240 {
        return Err(bad("calendar.last_ticket_minutes".into(), format!("{last_ticket_minutes} is more than 240")));
    }
    let mut rules = crate::domain::Rules::default();
    let mut bookings_per_hour = 10;
    if let Some(a) = &raw.appointments {
        let f = |name: &str| format!("appointments.{name}");
        rules.enabled = true;
        let pick = |v: Option<u32>, d: u32, name: &str, range: std::ops::RangeInclusive<u32>| -> Result<u32, ConfigError> {
            let v = v.unwrap_or(d);
            if range.contains(&v) {
                Ok(v)
            } else {
                Err(bad(f(name), format!("{v} is not between {} and {}", range.start(), range.end())))
            }
        };
        rules.slot_minutes = pick(a.slot_minutes, rules.slot_minutes, "slot_minutes", 5..=240)?;
        rules.days_ahead = pick(a.days_ahead, rules.days_ahead, "days_ahead", 0..=60)?;
        rules.same_day_until_minutes = pick(a.same_day_until_minutes, rules.same_day_until_minutes, "same_day_until_minutes", 0..=1440)?;
        rules.early_minutes = pick(a.early_minutes, rules.early_minutes, "early_minutes", 0..=240)?;
        rules.late_minutes = pick(a.late_minutes, rules.late_minutes, "late_minutes", 0..=240)?;
        rules.cancel_before_minutes = pick(a.cancel_before_minutes, rules.cancel_before_minutes, "cancel_before_minutes", 0..=10_080)?;
        rules.no_show_limit = pick(a.no_show_limit, rules.no_show_limit, "no_show_limit", 1..=100)?;
        rules.cancel_limit = pick(a.cancel_limit, rules.cancel_limit, "cancel_limit", 1..=100)?;
        rules.ban_days = pick(a.ban_days, rules.ban_days, "ban_days", 0..=365)?;
        rules.per_day = pick(a.per_day, rules.per_day, "per_day", 1..=20)?;
        // The month's no-shows and cancellations are counted from the kept rows after a restart.
        rules.retention_days = pick(a.retention_days, rules.retention_days, "retention_days", 31..=3650)?;
        bookings_per_hour = pick(a.bookings_per_hour_per_address, bookings_per_hour, "bookings_per_hour_per_address", 1..=100_000)?;
        let share = a.share.unwrap_or(rules.share);
        if !(0.0..=1.0).contains(&share) {
            return Err(bad(f("share"), format!("{share} is not between 0 and 1")));
        }
        rules.share = share;
        for (i, c) in a.capacity.iter().enumerate() {
            let h = hall_ix(&c.hall).ok_or_else(|| bad(format!("appointments.capacity[{i}].hall"), format!("unknown hall `{}`", c.hall)))?;
            let sv = service_ix(&c.service)
                .ok_or_else(|| bad(format!("appointments.capacity[{i}].service"), format!("unknown service `{}`", c.service)))?;
            rules.capacity.insert((h, sv), c.per_slot);
        }
        if let Some(h) = halls.iter().find(|h| h.hours.is_empty()) {
            return Err(bad("appointments".into(), format!("hall `{}` has no `hours`: slots come from opening hours", h.id)));
        }
    }

    let mut topology = Topology::new(halls, services, counters, day_start_min, tz);
    topology.calendar = calendar;
    topology.last_ticket_minutes = last_ticket_minutes;
    topology.appointments = rules;
    let defaults = crate::domain::estimate::EstimateRules::default();
    let estimator = match raw.estimates.estimator.as_deref() {
        None => defaults.estimator,
        Some(e) => crate::domain::estimate::Estimator::parse(e)
            .ok_or_else(|| bad("estimates.estimator".into(), format!("{e:?} is not one of \"forward\", \"simple\"")))?,
    };
    let lean_percent = raw.estimates.lean_percent.unwrap_or(defaults.lean_percent);
    if lean_percent > 100 {
        return Err(bad("estimates.lean_percent".into(), format!("{lean_percent} is more than 100")));
    }
    topology.estimates = crate::domain::estimate::EstimateRules { estimator, lean_percent };
    if let Some(reasons) = raw.pauses.reasons {
        if reasons.is_empty() || reasons.len() > 20 {
            return Err(bad("pauses.reasons".into(), "name 1 to 20 reasons".into()));
        }
        let mut seen = HashSet::new();
        for (i, r) in reasons.iter().enumerate() {
            if r.trim().is_empty() || r.chars().count() > 16 || r.trim() != r {
                return Err(bad(format!("pauses.reasons[{i}]"), format!("`{r}` must be 1-16 characters without spaces around them")));
            }
            if !seen.insert(r) {
                return Err(bad(format!("pauses.reasons[{i}]"), format!("`{r}` is named twice")));
            }
        }
        topology.pause_reasons = reasons;
    }
    let audit_days = raw.privacy.audit_days.unwrap_or(365);
    if !(180..=3650).contains(&audit_days) {
        return Err(bad("privacy.audit_days".into(), format!("{audit_days} is outside 180..=3650 (网络安全法: logs are kept six months or more)")));
    }
    let retention_days = raw.privacy.retention_days.unwrap_or(365);
    if !(31..=3650).contains(&retention_days) {
        return Err(bad("privacy.retention_days".into(), format!("{retention_days} is outside 31..=3650")));
    }
    if let Some(reasons) = raw.ratings.reasons {
        if reasons.is_empty() || reasons.len() > 12 {
            return Err(bad("ratings.reasons".into(), "name 1 to 12 reasons".into()));
        }
        let mut seen = HashSet::new();
        for (i, r) in reasons.iter().enumerate() {
            if r.trim().is_empty() || r.chars().count() > 16 || r.trim() != r || !seen.insert(r) {
                return Err(bad(format!("ratings.reasons[{i}]"), format!("`{r}` must be 1-16 characters without spaces around them, named once")));
            }
        }
        topology.rating_reasons = reasons;
    }
    if let Some(days) = raw.ratings.case_days {
        if !(1..=60).contains(&days) {
            return Err(bad("ratings.case_days".into(), format!("{days} is outside 1..=60 working days")));
        }
        topology.case_days = days;
    }
    let a = &raw.alerts;
    let alerts = crate::alerts::Rules {
        wait_ms: i64::from(a.wait_minutes.unwrap_or(20)) * 60_000,
        queue_length: a.queue_length.unwrap_or(20),
        pause_ms: i64::from(a.pause_minutes.unwrap_or(15)) * 60_000,
        device_offline_ms: i64::from(a.device_offline_s.unwrap_or(60)) * 1000,
        webhook_url: a.webhook_url.clone(),
        device_names: devices.iter().map(|d| (d.id.clone(), d.name.clone())).collect(),
    };
    if a.device_offline_s.is_some_and(|s| s < 30) {
        return Err(bad("alerts.device_offline_s".into(), "must be at least 30 (devices report every 20 s)".into()));
    }
    for (field, v) in [("alerts.wait_minutes", a.wait_minutes), ("alerts.pause_minutes", a.pause_minutes), ("alerts.queue_length", a.queue_length)] {
        if v == Some(0) {
            return Err(bad(field.into(), "must be at least 1".into()));
        }
    }
    if let Some(url) = &a.webhook_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url_host(url).is_none() {
            return Err(bad("alerts.webhook_url".into(), format!("`{url}` is not an http:// or https:// URL")));
        }
    }
    let webhook_secret = match (&a.webhook_secret_file, &a.webhook_url) {
        (Some(p), Some(_)) => Some(read_secret(p).map_err(|e| bad("alerts.webhook_secret_file".into(), e))?),
        (Some(_), None) => return Err(bad("alerts.webhook_secret_file".into(), "there is no webhook_url to sign for".into())),
        (None, _) => None,
    };
    let sms = sms(raw.sms, public_listen.is_some(), &bad)?;
    let stream_ping_s = raw.server.stream_ping_s.unwrap_or(15);
    if !(1..=300).contains(&stream_ping_s) {
        return Err(bad("server.stream_ping_s".into(), format!("{stream_ping_s} is not between 1 and 300")));
    }
    let stream_ping = std::time::Duration::from_secs(stream_ping_s);
    let backups = match raw.backup {
        None => None,
        Some(b) => {
            let at = b.at.as_deref().unwrap_or("02:00");
            let at_minute = parse_hhmm(at).ok_or_else(|| bad("backup.at".into(), format!("`{at}` is not a time like 02:00")))?;
            let keep_days = b.keep_days.unwrap_or(14);
            if keep_days == 0 {
                return Err(bad("backup.keep_days".into(), "must be at least 1 (the newest backup is always kept)".into()));
            }
            if b.dir.as_os_str().is_empty() {
                return Err(bad("backup.dir".into(), "must name a directory".into()));
            }
            Some(Backups { dir: b.dir, keep_days, at_minute })
        }
    };
    Ok(Config {
        source: file.to_string(),
        listen,
        db,
        public_base_url,
        rating_window_s: raw.server.rating_window_s.unwrap_or(120),
        allowed_hosts,
        header_timeout: std::time::Duration::from_secs(header_timeout_s),
        max_connections,
        commit_timeout: std::time::Duration::from_millis(commit_timeout_ms),
        session_idle_ms: i64::from(idle_min) * 60_000,
        min_free_bytes: raw.server.min_free_mb.unwrap_or(64) * 1024 * 1024,
        tls,
        public_listen,
        trusted_proxies,
        public_streams: ((max_connections as f64) * share) as usize,
        public_streams_per_address,
        stream_ping,
        sign_in,
        topology: Arc::new(topology),
        clerks,
        devices,
        supervisors,
        demo_credentials,
        bookings_per_hour,
        backups,
        audit_days,
        retention_days,
        alerts,
        sms,
        webhook_secret,
    })
}

/// The first line of a secret's file.
fn read_secret(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let secret = text.lines().next().unwrap_or("").trim().to_string();
    if secret.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(secret)
}

fn sms(raw: Option<RawSms>, public_face: bool, bad: &dyn Fn(String, String) -> ConfigError) -> Result<Option<Sms>, ConfigError> {
    use crate::sms::{Provider, Purpose, Settings};
    let Some(r) = raw else { return Ok(None) };
    let need = |v: &Option<String>, field: &str| -> Result<String, ConfigError> {
        v.clone().filter(|x| !x.trim().is_empty()).ok_or_else(|| bad(format!("sms.{field}"), format!("missing: the {} provider needs it", r.provider)))
    };
    let secret = || -> Result<String, ConfigError> {
        let path = r.secret_file.as_ref().ok_or_else(|| bad("sms.secret_file".into(), format!("missing: the {} provider signs with a secret", r.provider)))?;
        read_secret(path).map_err(|e| bad("sms.secret_file".into(), e))
    };
    let endpoint = |default: &str| -> Result<String, ConfigError> {
        let e = r.endpoint.clone().unwrap_or_else(|| default.to_string());
        if !(e.starts_with("http://") || e.starts_with("https://")) || url_host(&e).is_none() {
            return Err(bad("sms.endpoint".into(), format!("`{e}` is not an http:// or https:// URL")));
        }
        Ok(e)
    };
    let provider = match r.provider.as_str() {
        "log" if public_face => {
            return Err(bad("sms.provider".into(), "`log` only writes codes to the server's log: a public face needs aliyun, tencent or webhook".into()))
        }
        "log" => return Ok(Some(Sms::Log)),
        "aliyun" => Provider::Aliyun {
            endpoint: endpoint("https://dysmsapi.aliyuncs.com/")?,
            access_key_id: need(&r.key_id, "key_id")?,
            access_key_secret: secret()?,
            region: r.region.clone().unwrap_or_else(|| "cn-hangzhou".into()),
        },
        "tencent" => Provider::Tencent {
            endpoint: endpoint("https://sms.tencentcloudapi.com/")?,
            secret_id: need(&r.key_id, "key_id")?,
            secret_key: secret()?,
            sdk_app_id: need(&r.app_id, "app_id")?,
            region: r.region.clone().unwrap_or_else(|| "ap-guangzhou".into()),
        },
        "webhook" => Provider::Webhook { url: endpoint("")?, secret: secret()? },
        other => return Err(bad("sms.provider".into(), format!("`{other}` is not one of aliyun, tencent, webhook, log"))),
    };
    let webhook = matches!(provider, Provider::Webhook { .. });
    let sign_name = if webhook { r.sign_name.clone().unwrap_or_default() } else { need(&r.sign_name, "sign_name")? };
    let code_template = if webhook { r.code_template.clone().unwrap_or_default() } else { need(&r.code_template, "code_template")? };
    Ok(Some(Sms::Provider(Settings { provider, sign_name, templates: [(Purpose::Code, code_template)].into_iter().collect() })))
}

/// The host of an `http(s)://host[:port]/…` URL, lower-case.
fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') { v6.split(']').next()? } else { authority.split(':').next()? };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("`{id}` must be 1-32 characters of A-Z, a-z, 0-9, - or _"));
    }
    Ok(())
}

fn check_token_hash(h: &str) -> Result<(), String> {
    match h.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) => Ok(()),
        _ => Err("must be `sha256:` and 64 hex digits; make one with `qcall token`".into()),
    }
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_demo_config_is_valid() {
        let c = Config::embedded().unwrap();
        let t = &c.topology;
        assert_eq!(t.halls.len(), 3);
        assert_eq!(t.services.len(), 4);
        assert_eq!(t.counters.len(), 24);
        assert_eq!(c.clerks.len(), 24);
        assert_eq!(c.listen, "127.0.0.1:8080");
    }

    #[test]
    fn calendar_years_are_named_or_taken_from_the_lists() {
        let c = Config::embedded().unwrap();
        assert_eq!(c.topology.calendar.years.iter().copied().collect::<Vec<_>>(), [2026], "the demo names its years");
        let text = EMBEDDED_CONFIG.replacen("years = [2026]", "", 1);
        let c = Config::parse(&text, "q.toml").unwrap();
        assert_eq!(c.topology.calendar.years.iter().copied().collect::<Vec<_>>(), [2026, 2027], "every year listed");
        let text = EMBEDDED_CONFIG.replacen("years = [2026]", "years = [2026, 2028]", 1);
        let e = Config::parse(&text, "q.toml").unwrap_err().to_string();
        assert!(e.contains("q.toml") && e.contains("calendar.years[1]") && e.contains("2028 has no holidays"), "{e}");
    }

    #[test]
    fn errors_name_file_field_and_reason() {
        let text = EMBEDDED_CONFIG.replacen("prefix = \"B\"", "prefix = \"AB\"", 1);
        let e = Config::parse(&text, "halls.toml").unwrap_err().to_string();
        assert!(e.contains("halls.toml") && e.contains("services[1].prefix") && e.contains("one letter"), "{e}");

        let text = EMBEDDED_CONFIG.replacen("time_zone = \"Asia/Shanghai\"", "time_zone = \"Mars/Base\"", 1);
        let e = Config::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("business_day.time_zone") && e.contains("Mars/Base"), "{e}");

        let e = Config::parse("services = 3", "y.toml").unwrap_err().to_string();
        assert!(e.starts_with("y.toml: "), "{e}");

        // A supervisor who could never sign in, and a password hash that is none.
        let start = EMBEDDED_CONFIG.find("password_hash = \"$argon2").unwrap();
        let end = start + EMBEDDED_CONFIG[start..].find('\n').unwrap() + 1;
        let without_password = format!("{}{}", &EMBEDDED_CONFIG[..start], &EMBEDDED_CONFIG[end..]);
        let token_line = without_password.lines().find(|l| l.contains("# demo-supervisor")).unwrap();
        let neither = without_password.replacen(token_line, "", 1);
        let e = Config::parse(&neither, "s.toml").unwrap_err().to_string();
        assert!(e.contains("supervisors[0].password_hash") && e.contains("hash-password"), "{e}");
        let plain = format!("{}password_hash = \"hunter22hunter\"\n{}", &EMBEDDED_CONFIG[..start], &EMBEDDED_CONFIG[end..]);
        let e = Config::parse(&plain, "s.toml").unwrap_err().to_string();
        assert!(e.contains("supervisors[0].password_hash") && e.contains("not an argon2 hash"), "{e}");
        assert!(Config::parse(&without_password, "s.toml").is_ok(), "a token alone is enough");

        // Text messages: a public face needs a real provider; a provider needs its secret.
        let public = EMBEDDED_CONFIG.replacen("[server]\n", "[server]\npublic_listen = \"0.0.0.0:8443\"\n", 1);
        let e = Config::parse(&public, "p.toml").unwrap_err().to_string();
        assert!(e.contains("sms.provider") && e.contains("public face"), "{e}");
        let aliyun = EMBEDDED_CONFIG.replacen("[sms]\nprovider = \"log\"\n", "[sms]\nprovider = \"aliyun\"\nkey_id = \"LTAI\"\n", 1);
        let e = Config::parse(&aliyun, "p.toml").unwrap_err().to_string();
        assert!(e.contains("sms.secret_file") && e.contains("missing"), "{e}");
        let nofile = aliyun.replacen("key_id = \"LTAI\"\n", "key_id = \"LTAI\"\nsecret_file = \"/nonexistent/sms.secret\"\n", 1);
        let e = Config::parse(&nofile, "p.toml").unwrap_err().to_string();
        assert!(e.contains("sms.secret_file") && e.contains("/nonexistent/sms.secret"), "{e}");
        let proxies = EMBEDDED_CONFIG.replacen("[server]\n", "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", 1);
        let e = Config::parse(&proxies, "p.toml").unwrap_err().to_string();
        assert!(e.contains("server.trusted_proxies[0]") && e.contains("33"), "{e}");

        let e = Config::parse(&format!("{EMBEDDED_CONFIG}\n[backup]\ndir = \"b\"\nat = \"25:00\"\n"), "b.toml").unwrap_err().to_string();
        assert!(e.contains("backup.at") && e.contains("25:00"), "{e}");
        let ok = Config::parse(&format!("{EMBEDDED_CONFIG}\n[backup]\ndir = \"/var/backups/qcall\"\n"), "b.toml").unwrap();
        assert_eq!(ok.backups, Some(Backups { dir: "/var/backups/qcall".into(), keep_days: 14, at_minute: 120 }));
        // A counter's planned hours are checked like a hall's.
        let with_hours = |h: &str| EMBEDDED_CONFIG.replacen("id = \"E01\"\n", &format!("id = \"E01\"\nhours = {h}\n"), 1);
        let e = Config::parse(&with_hours("[\"10:00-09:00\"]"), "c.toml").unwrap_err().to_string();
        assert!(e.contains("counters[0].hours[0]") && e.contains("10:00-09:00"), "{e}");
        let e = Config::parse(&with_hours("[\"09:00-11:00\", \"10:00-12:00\"]"), "c.toml").unwrap_err().to_string();
        assert!(e.contains("counters[0].hours[1]") && e.contains("overlap"), "{e}");
        let ok = Config::parse(&with_hours("[\"09:00-10:00\", \"14:00-17:00\"]"), "c.toml").unwrap();
        assert_eq!(ok.topology.counters[0].hours, vec![(540, 600), (840, 1020)]);
    }

    #[test]
    fn every_hall_must_offer_every_service() {
        let text = r#"
            [[services]]
            id = "filing"
            prefix = "A"
            name_zh = "申报纳税"
            name_en = "Tax filing"
            [[services]]
            id = "invoice"
            prefix = "B"
            name_zh = "发票业务"
            name_en = "Invoices"
            [[halls]]
            id = "east"
            name_zh = "东区"
            name_en = "East"
            [[counters]]
            id = "E01"
            hall = "east"
            number = 1
            services = ["filing"]
        "#;
        let e = Config::parse(text, "c.toml").unwrap_err().to_string();
        assert!(e.contains("no counter in hall `east` serves `invoice`"), "{e}");
    }
}
