//! Configuration in two phases: TOML -> raw serde structs ([`RawConfig`]) -> validated
//! [`Config`]. Nothing starts until validation passed; every error names the file, the field
//! and the reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::domain::Topology;

mod raw;
mod validate;

pub use raw::*;

/// The demo deployment (three halls), compiled in so `qcall serve` runs anywhere.
pub const EMBEDDED_CONFIG: &str = include_str!("../../../config/qcall.toml");

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

/// Daily backups: `qcall-YYYY-MM-DD.db` in `dir`, made at `at_minute` past local midnight;
/// those older than `keep_days` days are deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backups {
    pub dir: PathBuf,
    pub keep_days: u32,
    pub at_minute: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Kiosk,
    Display,
    /// A rating pad (满意度评价器) at one counter.
    Pad { counter: usize },
    /// An integration client that books appointments (电子税务局, a WeChat service).
    Booking,
    /// A hall's own server (`[edge]` in its config), forwarding the hall's log to this one.
    Edge,
}

impl DeviceKind {
    /// As the API names it (`DeviceStatus::kind`).
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Kiosk => "kiosk",
            DeviceKind::Display => "display",
            DeviceKind::Pad { .. } => "pad",
            DeviceKind::Booking => "booking",
            DeviceKind::Edge => "edge",
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

/// `[edge]`, validated.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The hall this server is the authority of.
    pub hall: usize,
    /// The core's URL (several, comma-separated: the active one and its standby).
    pub upstream: String,
    /// This edge's token at the core (a `kind = "edge"` device there).
    pub token: String,
    /// A bureau CA for an `https://` upstream.
    pub ca_file: Option<PathBuf>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: String,
    /// What hall edges take of this config: its shared sections ([`shared_text`]), as TOML.
    pub shared: std::sync::Arc<str>,
    /// At a hall edge: the version of the core's config it runs (`None`: its own file alone).
    pub core_config: Option<String>,
    /// At a hall edge: where it keeps its copy of the core's config.
    pub core_cache: Option<PathBuf>,
    pub listen: String,
    /// The SQLite file (when `postgres` is `None`).
    pub db: PathBuf,
    /// `[edge]`: this server is a hall's own, forwarding the hall's log to the core.
    pub edge: Option<Edge>,
    /// `[store] kind = "postgres"`: the database's settings.
    pub postgres: Option<crate::store::PgSettings>,
    /// Where devices and browsers reach this server while it is the active one.
    pub advertise_url: String,
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
    /// Messages about tickets one number may get per day.
    pub sms_per_number_per_day: u32,
    /// When each hall texts a waiting taxpayer who left a number, by hall.
    pub notify: Vec<Notify>,
    /// The alert webhook's posts are signed with this (`[alerts] webhook_secret_file`).
    pub webhook_secret: Option<String>,
}

/// A hall's near-turn message: once `ahead` people or fewer are ahead, or the estimate is
/// under `minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notify {
    pub ahead: u32,
    pub minutes: u32,
}

/// `[sms]`, validated.
#[derive(Debug, Clone)]
pub enum Sms {
    /// Messages go to the log (trying out; refused with a public face).
    Log,
    Provider(crate::sms::Settings),
}

/// Sections each server keeps to itself. A hall edge's own file has these; everything else
/// (halls, services, counters, clerks, devices, hours, the calendar, appointments, …) comes from
/// the core's config, so the bureau configures its halls in one place.
pub const LOCAL_SECTIONS: &[&str] = &["server", "store", "backup", "edge"];

/// Sections a hall edge's own file may set for itself (its text messages go out from the
/// hall); without them it takes the core's.
pub const OWN_IF_SET: &[&str] = &["sms"];

/// A config's shared sections as hall edges take them (TOML text): without the local
/// sections, nor the alert webhook (its secret file is on the core's machine). `[sms]` goes
/// too: a hall edge sends its tickets' texts itself (a secret file it names must be at the
/// same path there, or the edge's own file sets `[sms]`).
pub fn shared_text(text: &str) -> Result<String, toml::de::Error> {
    let mut t: toml::Table = toml::from_str(text)?;
    for k in LOCAL_SECTIONS {
        t.remove(*k);
    }
    if let Some(toml::Value::Table(a)) = t.get_mut("alerts") {
        a.remove("webhook_url");
        a.remove("webhook_secret_file");
    }
    Ok(toml::to_string(&t).unwrap_or_default())
}

/// A short fingerprint of shared sections' text.
pub fn shared_version(shared: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(shared.as_bytes())[..8])
}

/// A hall edge's own config file, read for what it needs before it has its whole config: the
/// core's address and its token, and where it keeps its copy of the core's config.
#[derive(Debug, Clone)]
pub struct EdgeFile {
    pub file: String,
    pub text: String,
    pub edge: Edge,
    /// The hall's id (`[edge] hall`).
    pub hall: String,
    /// `core-config.toml` beside the edge's database.
    pub cache: PathBuf,
}

/// `Some` when the file has `[edge]`.
pub fn edge_file(path: &Path) -> Result<Option<EdgeFile>, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
    let t: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse { file: file.clone(), message: e.to_string() })?;
    let Some(e) = t.get("edge") else { return Ok(None) };
    let bad = |field: &str, reason: String| ConfigError::Invalid { file: file.clone(), field: format!("edge.{field}"), reason };
    let raw: raw::RawEdge = e.clone().try_into().map_err(|x: toml::de::Error| bad("", x.message().to_string()))?;
    let token = std::fs::read_to_string(&raw.token_file).map_err(|x| bad("token_file", format!("{}: {x}", raw.token_file.display())))?;
    let token = token.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(bad("token_file", format!("{} is empty", raw.token_file.display())));
    }
    let db = t.get("server").and_then(|s| s.get("db")).and_then(|d| d.as_str()).unwrap_or("qcall.db");
    let cache = Path::new(db).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("core-config.toml");
    Ok(Some(EdgeFile { file, text, hall: raw.hall, edge: Edge { hall: 0, upstream: raw.upstream, token, ca_file: raw.ca_file }, cache }))
}

/// A hall edge's config: the core's shared sections (`core_shared`), and the local sections of
/// its own file. Errors name both.
pub fn merge_edge(core_shared: &str, ef: &EdgeFile) -> Result<Config, ConfigError> {
    let name = format!("{} with the core's config ({})", ef.file, ef.cache.display());
    let parse = |text: &str| toml::from_str::<toml::Table>(text).map_err(|e| ConfigError::Parse { file: name.clone(), message: e.to_string() });
    let (mut merged, local) = (parse(core_shared)?, parse(&ef.text)?);
    for k in LOCAL_SECTIONS {
        match local.get(*k) {
            Some(v) => merged.insert(k.to_string(), v.clone()),
            None => merged.remove(*k),
        };
    }
    for k in OWN_IF_SET {
        if let Some(v) = local.get(*k) {
            merged.insert(k.to_string(), v.clone());
        }
    }
    let text = toml::to_string(&merged).map_err(|e| ConfigError::Parse { file: name.clone(), message: e.to_string() })?;
    let mut cfg = Config::parse(&text, &name)?;
    cfg.core_config = Some(shared_version(core_shared));
    cfg.core_cache = Some(ef.cache.clone());
    Ok(cfg)
}

impl Config {
    /// Where the database is: PostgreSQL with `[store] kind = "postgres"`, else the SQLite file.
    pub fn store(&self) -> crate::store::StoreAt {
        match &self.postgres {
            Some(pg) => crate::store::StoreAt::Postgres(pg.clone()),
            None => crate::store::StoreAt::Sqlite(self.db.clone()),
        }
    }

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
        let mut cfg = validate::validate(raw, file)?;
        cfg.shared = shared_text(text).unwrap_or_default().into();
        Ok(cfg)
    }

    /// The version of the shared sections hall edges take ([`shared_version`]).
    pub fn shared_version(&self) -> String {
        shared_version(&self.shared)
    }

    pub fn clerk(&self, id: &str) -> Option<&Clerk> {
        self.clerks.iter().find(|c| c.id == id)
    }

    pub fn supervisor(&self, id: &str) -> Option<&Supervisor> {
        self.supervisors.iter().find(|s| s.id == id)
    }

    /// Whether taxpayers may leave a number for near-turn and called messages: text messages
    /// are configured with both templates (or go to the log, or a webhook that takes any text).
    pub fn ticket_texts(&self) -> bool {
        texts_possible(self.sms.as_ref())
    }
}

/// Whether texts about tickets can be sent with these `[sms]` settings.
pub fn texts_possible(sms: Option<&Sms>) -> bool {
    match sms {
        None => false,
        Some(Sms::Log) => true,
        Some(Sms::Provider(p)) => p.templates.contains_key(&crate::sms::Purpose::NearTurn) && p.templates.contains_key(&crate::sms::Purpose::Called),
    }
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

        // Every number is checked against its range, by one rule, with the field named.
        for (old, new, field, reason) in [
            ("max_connections = 2048", "max_connections = 3", "server.max_connections", "3 is not between 16 and 1000000"),
            ("public_stream_share = 0.5", "public_stream_share = 1.5", "server.public_stream_share", "1.5 is not between 0.05 and 0.95"),
            ("device_offline_s = 60", "device_offline_s = 10", "alerts.device_offline_s", "10 is not between 30 and 86400"),
            ("audit_days = 365", "audit_days = 30", "privacy.audit_days", "30 is not between 180 and 3650"),
            ("lock_s = 900", "lock_s = 0", "sign_in.lock_s", "0 is not between 1 and 86400"),
        ] {
            assert!(EMBEDDED_CONFIG.contains(old), "{old}");
            let e = Config::parse(&EMBEDDED_CONFIG.replacen(old, new, 1), "r.toml").unwrap_err().to_string();
            assert_eq!(e, format!("r.toml: field `{field}`: {reason}"));
        }

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

    /// `[store]`: PostgreSQL's settings are checked before anything starts, each refusal
    /// naming its field; the password never sits in the config.
    #[test]
    fn the_store_settings_are_checked_with_the_field_named() {
        let demo = EMBEDDED_CONFIG.replacen("db = \"data/qcall.db\"\n", "", 1);
        let with = |store: &str| format!("{demo}\n[store]\n{store}\n");
        let err = |text: &str| Config::parse(text, "q.toml").unwrap_err().to_string();
        let url = "url = \"postgresql://qcall@db1:5432,db2:5432/qcall?target_session_attrs=read-write\"";
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\nignored\n").unwrap();
        let ok = Config::parse(&with(&format!("kind = \"postgres\"\n{url}\npassword_file = {:?}", pw.display().to_string())), "q.toml").unwrap();
        let pg = ok.postgres.clone().expect("postgres");
        assert_eq!((pg.password.as_deref(), pg.shown().as_str()), (Some("s3cret"), "postgresql://db1:5432,db2:5432/qcall"));
        assert!(matches!(ok.store(), crate::store::StoreAt::Postgres(_)));
        assert_eq!(ok.advertise_url, "http://127.0.0.1:8080");
        assert!(matches!(Config::embedded().unwrap().store(), crate::store::StoreAt::Sqlite(_)), "SQLite by default");
        for (store, field, reason) in [
            ("kind = \"mysql\"", "store.kind", "sqlite or postgres"),
            ("kind = \"postgres\"", "store.url", "needs the database's URL"),
            ("kind = \"postgres\"\nurl = \"postgresql://qcall:hunter2@db1/qcall\"", "store.url", "holds a password"),
            ("kind = \"postgres\"\nurl = \"postgresql://qcall@db1,db2/qcall\"", "store.url", "target_session_attrs=read-write"),
            ("kind = \"postgres\"\nurl = \"mysql://x\"", "store.url", "not a PostgreSQL URL"),
            (&format!("kind = \"postgres\"\n{url}\npassword_file = \"/nonexistent/pw\""), "store.password_file", "/nonexistent/pw"),
            (&format!("kind = \"postgres\"\n{url}\npassword_env = \"QCALL_TEST_UNSET_VARIABLE\""), "store.password_env", "is not set"),
            (&format!("kind = \"postgres\"\n{url}\nconnect_timeout_s = 0"), "store.connect_timeout_s", ""),
            ("url = \"postgresql://db1/qcall\"", "store.url", "only for kind = \"postgres\""),
            ("advertise_url = \"qa:8080\"", "store.advertise_url", "http://"),
        ] {
            let e = err(&with(store));
            assert!(e.contains("q.toml") && e.contains(field) && e.contains(reason), "{store}: {e}");
        }
        let e = err(&format!("{EMBEDDED_CONFIG}\n[store]\nkind = \"postgres\"\n{url}\n"));
        assert!(e.contains("server.db") && e.contains("remove one of them"), "{e}");
    }

    /// `[edge]`: the hall, the core's URL and the token file, each checked by name; an edge
    /// device at the core needs its hall.
    #[test]
    fn a_hall_edges_settings_are_checked_with_the_field_named() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("edge.token");
        std::fs::write(&token, "the-token\n").unwrap();
        let with = |edge: &str| format!("{EMBEDDED_CONFIG}\n[edge]\n{edge}\n");
        let ok = format!("hall = \"east\"\nupstream = \"http://core:8080, http://core2:8080\"\ntoken_file = {:?}", token.display().to_string());
        let c = Config::parse(&with(&ok), "q.toml").unwrap();
        let e = c.edge.unwrap();
        assert_eq!((e.hall, e.upstream.as_str(), e.token.as_str()), (0, "http://core:8080,http://core2:8080", "the-token"));
        let err = |text: &str| Config::parse(&with(text), "q.toml").unwrap_err().to_string();
        for (edge, field) in [
            (ok.replace("\"east\"", "\"north\""), "edge.hall"),
            (ok.replace("http://core:8080, ", "core:8080, "), "edge.upstream"),
            (format!("hall = \"east\"\nupstream = \"http://core:8080\"\ntoken_file = \"/nonexistent/token\""), "edge.token_file"),
            (format!("hall = \"east\"\nupstream = \"http://core:8080\""), "token_file"),
        ] {
            let e = err(&edge);
            assert!(e.contains("q.toml") && e.contains(field), "{edge}: {e}");
        }
        let device = "[[devices]]\nid = \"edge-east\"\nkind = \"edge\"\ntoken_hash = \"x\"\n";
        let e = Config::parse(&format!("{EMBEDDED_CONFIG}\n{device}"), "q.toml").unwrap_err().to_string();
        assert!(e.contains("hall"), "{e}");
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
