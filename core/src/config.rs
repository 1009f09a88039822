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
}

/// `[sign_in]`: wrong PINs and passwords.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSignIn {
    /// Failures of one account within `window_s` that lock it for `lock_s`.
    pub account_failures: Option<u32>,
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
    pub kind: String,
    pub hall: String,
    /// The counter a rating pad belongs to (pads only).
    pub counter: Option<String>,
    /// `sha256:<hex>` made by `qcall token`.
    pub token_hash: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSupervisor {
    pub id: String,
    pub token_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Kiosk,
    Display,
    /// A rating pad (满意度评价器) at one counter.
    Pad { counter: usize },
}

impl DeviceKind {
    /// As the API names it (`DeviceStatus::kind`).
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Kiosk => "kiosk",
            DeviceKind::Display => "display",
            DeviceKind::Pad { .. } => "pad",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub kind: DeviceKind,
    pub hall: usize,
    pub token_hash: String,
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
    pub token_hash: String,
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
    pub sign_in: crate::signin::Limits,
    pub topology: Arc<Topology>,
    pub clerks: Vec<Clerk>,
    pub devices: Vec<Device>,
    pub supervisors: Vec<Supervisor>,
    /// Some credential is a public demo one (the embedded config, or a copy left unchanged).
    pub demo_credentials: bool,
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
}

fn validate(raw: RawConfig, file: &str) -> Result<Config, ConfigError> {
    let bad = |field: String, reason: String| ConfigError::Invalid { file: file.to_string(), field, reason };

    let listen = raw.server.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
    if listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(bad("server.listen".into(), format!("`{listen}` is not an address like 127.0.0.1:8080")));
    }
    let public_base_url = raw.server.public_base_url.clone().unwrap_or_else(|| format!("http://{listen}"));
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
        halls.push(HallDef {
            id: h.id.clone(),
            name_zh: h.name_zh.clone(),
            name_en: h.name_en.clone(),
            publicity: h.publicity.clone(),
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
        counters.push(CounterDef { id: c.id.clone(), hall, number: c.number, services: svc, preferred });
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
        let short_pin = !crate::auth::is_current_hash(&parsed);
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
        clerks.push(Clerk { pin_fp: crate::auth::pin_fingerprint(&c.pin_hash), id: c.id, name: c.name, pin_hash: c.pin_hash, counters: allowed, short_pin });
    }

    let mut devices = Vec::new();
    let mut seen = HashSet::new();
    for (i, d) in raw.devices.into_iter().enumerate() {
        let f = |name: &str| format!("devices[{i}].{name}");
        check_id(&d.id).map_err(|r| bad(f("id"), r))?;
        if !seen.insert(d.id.clone()) {
            return Err(bad(f("id"), format!("duplicate device `{}`", d.id)));
        }
        let hall = hall_ix(&d.hall).ok_or_else(|| bad(f("hall"), format!("unknown hall `{}`", d.hall)))?;
        let kind = match (d.kind.as_str(), &d.counter) {
            ("kiosk", None) => DeviceKind::Kiosk,
            ("display", None) => DeviceKind::Display,
            ("pad", Some(c)) => {
                let counter = counters
                    .iter()
                    .position(|x| x.id == *c)
                    .ok_or_else(|| bad(f("counter"), format!("unknown counter `{c}`")))?;
                if counters[counter].hall != hall {
                    return Err(bad(f("counter"), format!("counter `{c}` is not in hall `{}`", d.hall)));
                }
                DeviceKind::Pad { counter }
            }
            ("pad", None) => return Err(bad(f("counter"), "a pad needs the counter it stands at".into())),
            ("kiosk" | "display", Some(_)) => return Err(bad(f("counter"), "only pads belong to a counter".into())),
            (other, _) => return Err(bad(f("kind"), format!("`{other}` is not one of kiosk, display, pad"))),
        };
        check_token_hash(&d.token_hash).map_err(|r| bad(f("token_hash"), r))?;
        devices.push(Device { id: d.id, kind, hall, token_hash: d.token_hash });
    }
    let mut supervisors = Vec::new();
    for (i, s) in raw.supervisors.into_iter().enumerate() {
        check_token_hash(&s.token_hash).map_err(|r| bad(format!("supervisors[{i}].token_hash"), r))?;
        supervisors.push(Supervisor { id: s.id, token_hash: s.token_hash });
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
    let si = &raw.sign_in;
    let sign_in = crate::signin::Limits {
        account_failures: si.account_failures.unwrap_or(10),
        address_failures: si.address_failures.unwrap_or(30),
        window_ms: si.window_s.unwrap_or(600) as i64 * 1000,
        lock_ms: si.lock_s.unwrap_or(900) as i64 * 1000,
    };
    if sign_in.account_failures == 0 || sign_in.address_failures == 0 || sign_in.window_ms <= 0 || sign_in.lock_ms <= 0 {
        return Err(bad("sign_in".into(), "failure counts, window_s and lock_s must be at least 1".into()));
    }
    let demo_credentials = file == EMBEDDED_NAME
        || devices.iter().map(|d| &d.token_hash).chain(supervisors.iter().map(|s| &s.token_hash)).any(|h| crate::auth::is_demo_token_hash(h));

    let topology = Topology::new(halls, services, counters, day_start_min, tz);
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
        sign_in,
        topology: Arc::new(topology),
        clerks,
        devices,
        supervisors,
        demo_credentials,
    })
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
    fn errors_name_file_field_and_reason() {
        let text = EMBEDDED_CONFIG.replacen("prefix = \"B\"", "prefix = \"AB\"", 1);
        let e = Config::parse(&text, "halls.toml").unwrap_err().to_string();
        assert!(e.contains("halls.toml") && e.contains("services[1].prefix") && e.contains("one letter"), "{e}");

        let text = EMBEDDED_CONFIG.replacen("time_zone = \"Asia/Shanghai\"", "time_zone = \"Mars/Base\"", 1);
        let e = Config::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("business_day.time_zone") && e.contains("Mars/Base"), "{e}");

        let e = Config::parse("services = 3", "y.toml").unwrap_err().to_string();
        assert!(e.starts_with("y.toml: "), "{e}");
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
