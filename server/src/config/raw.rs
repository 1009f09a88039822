//! Phase one: the TOML as written, in serde structs. Every field a file may hold is here, and
//! nothing else is accepted (`deny_unknown_fields`).

use std::path::PathBuf;

use serde::Deserialize;

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
    #[serde(default)]
    pub store: RawStore,
    /// This server is a hall's own (a hall edge).
    #[serde(default)]
    pub edge: Option<RawEdge>,
}

/// `[edge]`: a hall's own server, the authority of its hall's numbering, forwarding its log to
/// the core.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEdge {
    pub hall: String,
    pub upstream: String,
    /// A file holding this edge's token at the core (its first line).
    pub token_file: PathBuf,
    pub ca_file: Option<PathBuf>,
}

/// `[store]`: where the bureau's database is (embedded SQLite by default).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `sqlite` (the file `[server] db`) or `postgres`.
    pub kind: Option<String>,
    /// PostgreSQL: `postgresql://user@host1:5432,host2:5432/qcall?target_session_attrs=read-write`,
    /// without the password.
    pub url: Option<String>,
    /// A file holding the password (its first line), or the environment variable that does.
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    /// A bureau CA for `sslmode=require` (else the system's roots).
    pub ca_file: Option<PathBuf>,
    /// Seconds a connection attempt may take, per host.
    pub connect_timeout_s: Option<u64>,
    /// Where devices and browsers reach this server while it is the active one (told by a
    /// standby's answers); `http://` + `[server] listen` when not set.
    pub advertise_url: Option<String>,
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

/// `[estimates]`: how waits are estimated.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawEstimates {
    /// "forward" (the call-next rule run forward; the default) or "simple" (people ahead ×
    /// mean service time ÷ open counters).
    pub estimator: Option<String>,
    /// Expected service times are leaned up by this many percent (default 8).
    pub lean_percent: Option<u32>,
    /// "forked": forks per hall (default 32)…
    pub forks: Option<u32>,
    /// … the percentile of a ticket's waits in them it is told (default 60)…
    pub quantile_percent: Option<u32>,
    /// … and the range shown, low and high percentiles (default [5, 95]).
    pub range_percent: Option<[u32; 2]>,
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
    /// The approved template of "your turn is near" (`number`, `ahead`, `hall`); with
    /// `called_template`, taxpayers may leave a number for these messages.
    pub near_turn_template: Option<String>,
    /// The approved template of "called" (`number`, `counter`).
    pub called_template: Option<String>,
    /// The approved template of a remote ticket's "come and check in within N minutes"
    /// (`number`, `hall`, `minutes`, `code`); needed where halls take remote tickets.
    pub check_in_template: Option<String>,
    /// Messages about tickets one number may get per day (10).
    pub per_number_per_day: Option<u32>,
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
    /// A taxpayer who left a mobile number is texted once this many people are ahead (3)…
    pub notify_ahead: Option<u32>,
    /// …or once the estimate falls under this many minutes (10), whichever comes first.
    pub notify_minutes: Option<u32>,
    /// Remote tickets (线上取号) a business day, taken on `/book` with a phone proven by a
    /// texted code; 0 (the default): none.
    pub remote_tickets: Option<u32>,
    /// How long a remote ticket whose turn came before its check-in is held (10 minutes).
    pub hold_minutes: Option<u32>,
    /// Finished tickets may be rated on the ticket page (the hall has no rating pads).
    pub phone_ratings: Option<bool>,
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
