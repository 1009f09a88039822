//! Phase two: [`RawConfig`] to [`Config`], one function per section. Every error names the
//! file, the field and the reason; numbers are checked by one helper, [`Check::range`].

use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::raw::*;
use super::{Backups, Clerk, Config, ConfigError, Device, DeviceKind, Notify, Sms, Supervisor, EMBEDDED_NAME};
use crate::domain::{CounterDef, HallDef, PhoneRules, ServiceDef, Topology};

/// The file being checked: makes its errors.
struct Check<'a> {
    file: &'a str,
}

impl Check<'_> {
    fn bad(&self, field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { file: self.file.to_string(), field: field.into(), reason: reason.into() }
    }

    /// `v` (or `default` when it is not given) if it lies in `range`.
    fn range<T: PartialOrd + std::fmt::Display + Copy>(&self, field: &str, v: Option<T>, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError> {
        let v = v.unwrap_or(default);
        if range.contains(&v) {
            Ok(v)
        } else {
            Err(self.bad(field, format!("{v} is not between {} and {}", range.start(), range.end())))
        }
    }

    /// Opening periods like `09:00-12:00`, in order, not overlapping; `field` is the list's.
    fn periods(&self, field: &str, list: &[String]) -> Result<Vec<(u32, u32)>, ConfigError> {
        let mut hours: Vec<(u32, u32)> = Vec::new();
        for (j, p) in list.iter().enumerate() {
            let period = crate::domain::calendar::parse_period(p)
                .ok_or_else(|| self.bad(format!("{field}[{j}]"), format!("`{p}` is not a period like 09:00-12:00")))?;
            if hours.last().is_some_and(|&(_, b)| period.0 < b) {
                return Err(self.bad(format!("{field}[{j}]"), "periods must be in order and not overlap"));
            }
            hours.push(period);
        }
        Ok(hours)
    }
}

pub(super) fn validate(raw: RawConfig, file: &str) -> Result<Config, ConfigError> {
    let ck = Check { file };
    let server = server(&ck, &raw.server)?;
    let (day_start_min, tz) = business_day(&ck, raw.business_day)?;
    let services = services(&ck, &raw.services)?;
    let halls = halls(&ck, &raw.halls)?;
    let counters = counters(&ck, &raw.counters, &halls, &services)?;
    let clerks = clerks(&ck, raw.clerks, &halls, &counters)?;
    let devices = devices(&ck, raw.devices, &halls, &counters)?;
    let supervisors = supervisors(&ck, raw.supervisors)?;
    let sign_in = sign_in(&ck, &raw.sign_in)?;
    let demo_credentials = file == EMBEDDED_NAME
        || devices.iter().map(|d| &d.token_hash).chain(supervisors.iter().filter_map(|s| s.token_hash.as_ref())).any(|h| crate::secret::is_demo_token_hash(h))
        || supervisors.iter().any(|s| s.password_hash.as_deref() == Some(crate::secret::DEMO_SUPERVISOR_PASSWORD_HASH));
    let (calendar, last_ticket_minutes) = calendar(&ck, &raw.calendar)?;
    let (rules, bookings_per_hour) = appointments(&ck, raw.appointments.as_ref(), &halls, &services)?;

    let mut topology = Topology::new(halls, services, counters, day_start_min, tz);
    topology.calendar = calendar;
    topology.last_ticket_minutes = last_ticket_minutes;
    topology.appointments = rules;
    topology.estimates = estimates(&ck, &raw.estimates)?;
    if let Some(reasons) = pauses(&ck, raw.pauses)? {
        topology.pause_reasons = reasons;
    }
    let (audit_days, retention_days) = privacy(&ck, &raw.privacy)?;
    let (rating_reasons, case_days) = ratings(&ck, raw.ratings)?;
    if let Some(reasons) = rating_reasons {
        topology.rating_reasons = reasons;
    }
    if let Some(days) = case_days {
        topology.case_days = days;
    }
    let (alerts, webhook_secret) = alerts(&ck, &raw.alerts, &devices)?;
    let sms_per_number_per_day = ck.range("sms.per_number_per_day", raw.sms.as_ref().and_then(|s| s.per_number_per_day), 10, 1..=100)?;
    let sms = sms(&ck, raw.sms, server.public_listen.is_some())?;
    let mut notify = Vec::new();
    let texts = super::texts_possible(sms.as_ref());
    for (i, h) in raw.halls.iter().enumerate() {
        notify.push(Notify {
            ahead: ck.range(&format!("halls[{i}].notify_ahead"), h.notify_ahead, 3, 1..=50)?,
            minutes: ck.range(&format!("halls[{i}].notify_minutes"), h.notify_minutes, 10, 1..=120)?,
        });
        let remote_quota = ck.range(&format!("halls[{i}].remote_tickets"), h.remote_tickets, 0, 0..=10_000)?;
        if remote_quota > 0 && !texts {
            return Err(ck.bad(
                format!("halls[{i}].remote_tickets"),
                "remote tickets need [sms] with near_turn_template and called_template: the phone is proven by a texted code and told when to come",
            ));
        }
        if let Some(Sms::Provider(p)) = &sms {
            if remote_quota > 0 && !p.templates.contains_key(&crate::sms::Purpose::CheckIn) {
                return Err(ck.bad(format!("halls[{i}].remote_tickets"), "remote tickets need sms.check_in_template: a remote ticket is told when to come and check in"));
            }
        }
        topology.halls[i].phone = PhoneRules {
            texts,
            remote_quota,
            hold_minutes: ck.range(&format!("halls[{i}].hold_minutes"), h.hold_minutes, 10, 1..=60)?,
            ratings: h.phone_ratings.unwrap_or(false),
        };
    }
    let backups = backup(&ck, raw.backup)?;
    let (postgres, advertise_url) = store(&ck, &raw.store, &raw.server, &server.listen, server.tls.is_some())?;
    let edge = raw.edge.as_ref().map(|e| edge(&ck, e, &topology.halls)).transpose()?;
    // Who runs which hall: a hall edge its own; the core every hall without an edge.
    match &edge {
        Some(e) => {
            topology.elsewhere = (0..topology.halls.len()).filter(|&h| h != e.hall).collect();
            topology.central = false;
        }
        None => topology.elsewhere = devices.iter().filter(|d| d.kind == DeviceKind::Edge).filter_map(|d| d.hall).collect(),
    }
    Ok(Config {
        edge,
        postgres,
        advertise_url,
        source: file.to_string(),
        shared: Arc::from(""),
        core_config: None,
        core_cache: None,
        listen: server.listen,
        db: server.db,
        public_base_url: server.public_base_url,
        rating_window_s: server.rating_window_s,
        allowed_hosts: server.allowed_hosts,
        header_timeout: server.header_timeout,
        max_connections: server.max_connections,
        commit_timeout: server.commit_timeout,
        session_idle_ms: server.session_idle_ms,
        min_free_bytes: server.min_free_bytes,
        tls: server.tls,
        public_listen: server.public_listen,
        trusted_proxies: server.trusted_proxies,
        public_streams: server.public_streams,
        public_streams_per_address: server.public_streams_per_address,
        stream_ping: server.stream_ping,
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
        sms_per_number_per_day,
        notify,
        webhook_secret,
    })
}

/// `[edge]`, validated.
fn edge(ck: &Check, raw: &RawEdge, halls: &[HallDef]) -> Result<super::Edge, ConfigError> {
    let hall = hall_ix(halls, &raw.hall).ok_or_else(|| ck.bad("edge.hall", format!("unknown hall `{}`", raw.hall)))?;
    let upstream = qcall_client::config::server_url(ck.file, "edge.upstream", &raw.upstream).map_err(|e| ck.bad("edge.upstream", e.to_string()))?;
    let text = std::fs::read_to_string(&raw.token_file).map_err(|e| ck.bad("edge.token_file", format!("{}: {e}", raw.token_file.display())))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(ck.bad("edge.token_file", format!("{} is empty", raw.token_file.display())));
    }
    if let Some(ca) = &raw.ca_file {
        if !ca.is_file() {
            return Err(ck.bad("edge.ca_file", format!("{} is not a file", ca.display())));
        }
    }
    Ok(super::Edge { hall, upstream, token, ca_file: raw.ca_file.clone() })
}

/// `[store]`, validated: PostgreSQL's settings (`None`: SQLite) and the URL this server
/// advertises while active.
fn store(
    ck: &Check,
    raw: &RawStore,
    server: &RawServer,
    listen: &str,
    tls: bool,
) -> Result<(Option<crate::store::PgSettings>, String), ConfigError> {
    let advertise_url = match &raw.advertise_url {
        Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
            return Err(ck.bad("store.advertise_url", "must start with http:// or https://"));
        }
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("{}://{listen}", if tls { "https" } else { "http" }),
    };
    let kind = raw.kind.as_deref().unwrap_or("sqlite");
    match kind {
        "sqlite" => {
            for (field, set) in [
                ("store.url", raw.url.is_some()),
                ("store.password_file", raw.password_file.is_some()),
                ("store.password_env", raw.password_env.is_some()),
                ("store.ca_file", raw.ca_file.is_some()),
                ("store.connect_timeout_s", raw.connect_timeout_s.is_some()),
            ] {
                if set {
                    return Err(ck.bad(field, "only for kind = \"postgres\" (the store is SQLite, the file [server] db)"));
                }
            }
            return Ok((None, advertise_url));
        }
        "postgres" => {}
        other => return Err(ck.bad("store.kind", format!("`{other}` is not a store: sqlite or postgres"))),
    }
    if server.db.is_some() {
        return Err(ck.bad("server.db", "names a SQLite file, but store.kind is postgres: remove one of them"));
    }
    let Some(url) = raw.url.clone() else {
        return Err(ck.bad("store.url", "kind = \"postgres\" needs the database's URL, like postgresql://qcall@db1:5432,db2:5432/qcall?target_session_attrs=read-write"));
    };
    let parsed: postgres::Config = url.parse().map_err(|e| ck.bad("store.url", format!("not a PostgreSQL URL: {e}")))?;
    if parsed.get_password().is_some() {
        return Err(ck.bad("store.url", "holds a password: put it in store.password_file or store.password_env, never in the config"));
    }
    if parsed.get_hosts().is_empty() {
        return Err(ck.bad("store.url", "names no host"));
    }
    if parsed.get_hosts().len() > 1 && parsed.get_target_session_attrs() != postgres::config::TargetSessionAttrs::ReadWrite {
        return Err(ck.bad(
            "store.url",
            "names several hosts: add target_session_attrs=read-write, so the server connects to the primary only",
        ));
    }
    let password = match (&raw.password_file, &raw.password_env) {
        (Some(_), Some(_)) => return Err(ck.bad("store.password_env", "password_file is set too: name one of them")),
        (Some(f), None) => {
            let text = std::fs::read_to_string(f).map_err(|e| ck.bad("store.password_file", format!("{}: {e}", f.display())))?;
            let first = text.lines().next().unwrap_or("").trim_end_matches('\r').to_string();
            if first.is_empty() {
                return Err(ck.bad("store.password_file", format!("{} is empty", f.display())));
            }
            Some(first)
        }
        (None, Some(var)) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => return Err(ck.bad("store.password_env", format!("the environment variable {var} is not set"))),
        },
        (None, None) => None,
    };
    if let Some(ca) = &raw.ca_file {
        if !ca.is_file() {
            return Err(ck.bad("store.ca_file", format!("{} is not a file", ca.display())));
        }
    }
    let connect_timeout_s = ck.range("store.connect_timeout_s", raw.connect_timeout_s, 5, 1..=120)?;
    let settings = crate::store::PgSettings {
        url,
        password,
        ca_file: raw.ca_file.clone(),
        connect_timeout: std::time::Duration::from_secs(connect_timeout_s),
    };
    Ok((Some(settings), advertise_url))
}

/// `[server]`, validated.
struct Server {
    listen: String,
    db: PathBuf,
    public_base_url: String,
    rating_window_s: u32,
    allowed_hosts: Vec<String>,
    header_timeout: std::time::Duration,
    max_connections: usize,
    commit_timeout: std::time::Duration,
    session_idle_ms: i64,
    min_free_bytes: u64,
    tls: Option<Arc<crate::tls::Tls>>,
    public_listen: Option<String>,
    trusted_proxies: Vec<crate::net::Cidr>,
    public_streams: usize,
    public_streams_per_address: u32,
    stream_ping: std::time::Duration,
}

fn server(ck: &Check, server: &RawServer) -> Result<Server, ConfigError> {
    let listen = server.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
    if listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(ck.bad("server.listen", format!("`{listen}` is not an address like 127.0.0.1:8080")));
    }
    let tls = match (&server.tls_cert, &server.tls_key) {
        (None, None) => None,
        (Some(_), None) => return Err(ck.bad("server.tls_key", "tls_cert is set: name its private key too")),
        (None, Some(_)) => return Err(ck.bad("server.tls_cert", "tls_key is set: name its certificate too")),
        (Some(cert), Some(key)) => Some(crate::tls::Tls::open(cert, key).map_err(|e| ck.bad(e.file().field(), e.to_string()))?),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_base_url = server.public_base_url.clone().unwrap_or_else(|| format!("{scheme}://{listen}"));
    if !(public_base_url.starts_with("http://") || public_base_url.starts_with("https://")) {
        return Err(ck.bad("server.public_base_url", "must start with http:// or https://"));
    }
    let header_timeout_s = ck.range("server.header_timeout_s", server.header_timeout_s, 30, 1..=600)?;
    let max_connections = ck.range("server.max_connections", server.max_connections, 2048, 16..=1_000_000)?;
    let commit_timeout_ms = ck.range("server.commit_timeout_ms", server.commit_timeout_ms, 2000, 100..=60_000)?;
    let idle_min = ck.range("server.session_idle_minutes", server.session_idle_minutes, 240, 1..=24 * 60)?;
    let mut allowed_hosts = vec!["localhost".to_string()];
    for (i, h) in server.allowed_hosts.iter().enumerate() {
        if h.is_empty() || h.contains(['/', ' ', ':']) {
            return Err(ck.bad(format!("server.allowed_hosts[{i}]"), format!("`{h}` is not a host name (no scheme, port or path)")));
        }
        allowed_hosts.push(h.to_ascii_lowercase());
    }
    if let Some(host) = url_host(&public_base_url) {
        allowed_hosts.push(host);
    }
    let mut trusted_proxies = vec![];
    for (i, p) in server.trusted_proxies.iter().enumerate() {
        trusted_proxies.push(crate::net::Cidr::parse(p).map_err(|r| ck.bad(format!("server.trusted_proxies[{i}]"), r))?);
    }
    let public_listen = match &server.public_listen {
        Some(p) if p.parse::<std::net::SocketAddr>().is_err() => {
            return Err(ck.bad("server.public_listen", format!("`{p}` is not an address like 0.0.0.0:8443")));
        }
        Some(p) if *p == listen => None,
        p => p.clone(),
    };
    let share = ck.range("server.public_stream_share", server.public_stream_share, 0.5, 0.05..=0.95)?;
    let public_streams_per_address = ck.range("server.public_streams_per_address", server.public_streams_per_address, 8, 1..=1000)?;
    let stream_ping_s = ck.range("server.stream_ping_s", server.stream_ping_s, 15, 1..=300)?;
    Ok(Server {
        db: server.db.clone().unwrap_or_else(|| PathBuf::from("data/qcall.db")),
        public_base_url,
        rating_window_s: server.rating_window_s.unwrap_or(120),
        allowed_hosts,
        header_timeout: std::time::Duration::from_secs(header_timeout_s),
        max_connections,
        commit_timeout: std::time::Duration::from_millis(commit_timeout_ms),
        session_idle_ms: i64::from(idle_min) * 60_000,
        min_free_bytes: server.min_free_mb.unwrap_or(64) * 1024 * 1024,
        tls,
        public_listen,
        trusted_proxies,
        public_streams: ((max_connections as f64) * share) as usize,
        public_streams_per_address,
        stream_ping: std::time::Duration::from_secs(stream_ping_s),
        listen,
    })
}

fn business_day(ck: &Check, raw: RawBusinessDay) -> Result<(u32, chrono_tz::Tz), ConfigError> {
    let start = raw.start.unwrap_or_else(|| "00:00".into());
    let day_start_min = parse_hhmm(&start).ok_or_else(|| ck.bad("business_day.start", format!("`{start}` is not a time like 00:00 or 04:30")))?;
    let tz_name = raw.time_zone.unwrap_or_else(|| "Asia/Shanghai".into());
    let tz = tz_name.parse().map_err(|_| ck.bad("business_day.time_zone", format!("`{tz_name}` is not an IANA time zone")))?;
    Ok((day_start_min, tz))
}

fn services(ck: &Check, raw: &[RawService]) -> Result<Vec<ServiceDef>, ConfigError> {
    if raw.is_empty() {
        return Err(ck.bad("services", "at least one service is needed"));
    }
    let mut services = Vec::new();
    let mut seen = HashSet::new();
    let mut prefixes = HashSet::new();
    for (i, s) in raw.iter().enumerate() {
        let f = |name: &str| format!("services[{i}].{name}");
        check_id(&s.id).map_err(|r| ck.bad(f("id"), r))?;
        if !seen.insert(s.id.clone()) {
            return Err(ck.bad(f("id"), format!("duplicate service `{}`", s.id)));
        }
        if s.prefix.len() != 1 || !s.prefix.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ck.bad(f("prefix"), format!("`{}` must be one letter A-Z", s.prefix)));
        }
        if !prefixes.insert(s.prefix.clone()) {
            return Err(ck.bad(f("prefix"), format!("prefix `{}` is used twice", s.prefix)));
        }
        let default_service_s = s.default_service_s.unwrap_or(300);
        if default_service_s == 0 {
            return Err(ck.bad(f("default_service_s"), "must be more than 0 seconds"));
        }
        if s.daily_cap == Some(0) {
            return Err(ck.bad(f("daily_cap"), "must be at least 1 (leave it out for no cap)"));
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
    Ok(services)
}

fn halls(ck: &Check, raw: &[RawHall]) -> Result<Vec<HallDef>, ConfigError> {
    if raw.is_empty() {
        return Err(ck.bad("halls", "at least one hall is needed"));
    }
    let mut halls = Vec::new();
    let mut seen = HashSet::new();
    for (i, h) in raw.iter().enumerate() {
        check_id(&h.id).map_err(|r| ck.bad(format!("halls[{i}].id"), r))?;
        if !seen.insert(h.id.clone()) {
            return Err(ck.bad(format!("halls[{i}].id"), format!("duplicate hall `{}`", h.id)));
        }
        halls.push(HallDef {
            id: h.id.clone(),
            name_zh: h.name_zh.clone(),
            name_en: h.name_en.clone(),
            publicity: h.publicity.clone(),
            address: h.address.clone(),
            hours: ck.periods(&format!("halls[{i}].hours"), &h.hours)?,
            phone: PhoneRules::default(),
        });
    }
    Ok(halls)
}

fn hall_ix(halls: &[HallDef], id: &str) -> Option<usize> {
    halls.iter().position(|h| h.id == id)
}

fn service_ix(services: &[ServiceDef], id: &str) -> Option<usize> {
    services.iter().position(|s| s.id == id)
}

fn counters(ck: &Check, raw: &[RawCounter], halls: &[HallDef], services: &[ServiceDef]) -> Result<Vec<CounterDef>, ConfigError> {
    let mut counters = Vec::new();
    let mut seen = HashSet::new();
    let mut numbers = HashSet::new();
    for (i, c) in raw.iter().enumerate() {
        let f = |name: &str| format!("counters[{i}].{name}");
        check_id(&c.id).map_err(|r| ck.bad(f("id"), r))?;
        if !seen.insert(c.id.clone()) {
            return Err(ck.bad(f("id"), format!("duplicate counter `{}`", c.id)));
        }
        let hall = hall_ix(halls, &c.hall).ok_or_else(|| ck.bad(f("hall"), format!("unknown hall `{}`", c.hall)))?;
        if c.number == 0 || c.number > 999 {
            return Err(ck.bad(f("number"), "must be 1..999"));
        }
        if !numbers.insert((hall, c.number)) {
            return Err(ck.bad(f("number"), format!("number {} is used twice in hall `{}`", c.number, c.hall)));
        }
        let mut svc = Vec::new();
        if c.services.iter().any(|s| s == "*") {
            svc = (0..services.len()).collect();
        } else {
            for s in &c.services {
                let ix = service_ix(services, s).ok_or_else(|| ck.bad(f("services"), format!("unknown service `{s}`")))?;
                if !svc.contains(&ix) {
                    svc.push(ix);
                }
            }
        }
        if svc.is_empty() {
            return Err(ck.bad(f("services"), "a counter needs at least one service (or \"*\")"));
        }
        let mut preferred = Vec::new();
        for s in &c.preferred {
            let ix = service_ix(services, s).ok_or_else(|| ck.bad(f("preferred"), format!("unknown service `{s}`")))?;
            if !svc.contains(&ix) {
                return Err(ck.bad(f("preferred"), format!("`{s}` is not among the counter's services")));
            }
            preferred.push(ix);
        }
        let hours = ck.periods(&f("hours"), &c.hours)?;
        counters.push(CounterDef { id: c.id.clone(), hall, number: c.number, services: svc, preferred, hours });
    }
    for (h, hall) in halls.iter().enumerate() {
        for (s, service) in services.iter().enumerate() {
            if !counters.iter().any(|c| c.hall == h && c.services.contains(&s)) {
                return Err(ck.bad("counters", format!("no counter in hall `{}` serves `{}`: every hall offers every service", hall.id, service.id)));
            }
        }
    }
    Ok(counters)
}

fn clerks(ck: &Check, raw: Vec<RawClerk>, halls: &[HallDef], counters: &[CounterDef]) -> Result<Vec<Clerk>, ConfigError> {
    let mut clerks = Vec::new();
    let mut seen = HashSet::new();
    for (i, c) in raw.into_iter().enumerate() {
        let f = |name: &str| format!("clerks[{i}].{name}");
        check_id(&c.id).map_err(|r| ck.bad(f("id"), r))?;
        if !seen.insert(c.id.clone()) {
            return Err(ck.bad(f("id"), format!("duplicate clerk `{}`", c.id)));
        }
        let Ok(parsed) = argon2::PasswordHash::new(&c.pin_hash) else {
            return Err(ck.bad(f("pin_hash"), "not an argon2 hash; make one with `qcall hash-pin`"));
        };
        let short_pin = !crate::secret::is_current_hash(&parsed);
        let mut allowed: Vec<usize> = Vec::new();
        let mut add_hall = |h: usize| allowed.extend(counters.iter().enumerate().filter(|(_, c)| c.hall == h).map(|(ix, _)| ix));
        if let Some(h) = &c.hall {
            add_hall(hall_ix(halls, h).ok_or_else(|| ck.bad(f("hall"), format!("unknown hall `{h}`")))?);
        }
        for h in &c.halls {
            add_hall(hall_ix(halls, h).ok_or_else(|| ck.bad(f("halls"), format!("unknown hall `{h}`")))?);
        }
        for id in &c.counters {
            allowed.push(counters.iter().position(|x| x.id == *id).ok_or_else(|| ck.bad(f("counters"), format!("unknown counter `{id}`")))?);
        }
        if allowed.is_empty() {
            return Err(ck.bad(f("hall"), "a clerk needs a home `hall` (or `halls` / `counters` where they may sign in)"));
        }
        allowed.sort_unstable();
        allowed.dedup();
        clerks.push(Clerk { pin_fp: crate::secret::pin_fingerprint(&c.pin_hash), id: c.id, name: c.name, pin_hash: c.pin_hash, counters: allowed, short_pin });
    }
    Ok(clerks)
}

fn devices(ck: &Check, raw: Vec<RawDevice>, halls: &[HallDef], counters: &[CounterDef]) -> Result<Vec<Device>, ConfigError> {
    let mut devices = Vec::new();
    let mut seen = HashSet::new();
    for (i, d) in raw.into_iter().enumerate() {
        let f = |name: &str| format!("devices[{i}].{name}");
        check_id(&d.id).map_err(|r| ck.bad(f("id"), r))?;
        if !seen.insert(d.id.clone()) {
            return Err(ck.bad(f("id"), format!("duplicate device `{}`", d.id)));
        }
        let hall = match (&d.hall, d.kind.as_str()) {
            (Some(_), "booking") => return Err(ck.bad(f("hall"), "a booking client belongs to no hall: remove `hall`")),
            (Some(h), _) => Some(hall_ix(halls, h).ok_or_else(|| ck.bad(f("hall"), format!("unknown hall `{h}`")))?),
            (None, "booking") => None,
            (None, _) => return Err(ck.bad(f("hall"), "missing: the hall the device stands in")),
        };
        let kind = match (d.kind.as_str(), &d.counter) {
            ("kiosk", None) => DeviceKind::Kiosk,
            ("display", None) => DeviceKind::Display,
            ("pad", Some(c)) => {
                let counter = counters.iter().position(|x| x.id == *c).ok_or_else(|| ck.bad(f("counter"), format!("unknown counter `{c}`")))?;
                if Some(counters[counter].hall) != hall {
                    return Err(ck.bad(f("counter"), format!("counter `{c}` is not in hall `{}`", d.hall.as_deref().unwrap_or_default())));
                }
                DeviceKind::Pad { counter }
            }
            ("pad", None) => return Err(ck.bad(f("counter"), "a pad needs the counter it stands at")),
            ("booking", None) => DeviceKind::Booking,
            ("edge", None) => DeviceKind::Edge,
            ("kiosk" | "display" | "booking" | "edge", Some(_)) => return Err(ck.bad(f("counter"), "only pads belong to a counter")),
            (other, _) => return Err(ck.bad(f("kind"), format!("`{other}` is not one of kiosk, display, pad, booking, edge"))),
        };
        check_token_hash(&d.token_hash).map_err(|r| ck.bad(f("token_hash"), r))?;
        let short = |h: usize| halls[h].name_zh.trim_end_matches("办税服务厅").to_string();
        let name = match (d.name, kind, hall) {
            (Some(n), _, _) if n.trim().is_empty() || n.chars().count() > 32 => {
                return Err(ck.bad(f("name"), "must be 1-32 characters"));
            }
            (Some(n), _, _) => n,
            (None, DeviceKind::Pad { counter }, Some(h)) => format!("{}{}号窗口评价器", short(h), counters[counter].number),
            (None, DeviceKind::Kiosk, Some(h)) => format!("{}取号机（{}）", short(h), d.id),
            (None, DeviceKind::Display, Some(h)) => format!("{}大屏（{}）", short(h), d.id),
            (None, DeviceKind::Edge, Some(h)) => format!("{}服务器（{}）", short(h), d.id),
            (None, _, _) => format!("预约接入（{}）", d.id),
        };
        let bookings_per_hour = match (d.bookings_per_hour, kind) {
            (n, DeviceKind::Booking) => ck.range(&f("bookings_per_hour"), n, 600, 1..=100_000)?,
            (Some(_), _) => return Err(ck.bad(f("bookings_per_hour"), "only booking clients book")),
            (None, _) => 600,
        };
        devices.push(Device { id: d.id, name, kind, hall, token_hash: d.token_hash, bookings_per_hour });
    }
    Ok(devices)
}

fn supervisors(ck: &Check, raw: Vec<RawSupervisor>) -> Result<Vec<Supervisor>, ConfigError> {
    let mut supervisors = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let f = |field: &str| format!("supervisors[{i}].{field}");
        if s.id.trim().is_empty() {
            return Err(ck.bad(f("id"), "must not be empty"));
        }
        if supervisors.iter().any(|o: &Supervisor| o.id == s.id) {
            return Err(ck.bad(f("id"), format!("`{}` is already a supervisor", s.id)));
        }
        if let Some(h) = &s.token_hash {
            check_token_hash(h).map_err(|r| ck.bad(f("token_hash"), r))?;
        }
        if let Some(h) = &s.password_hash {
            if argon2::PasswordHash::new(h).is_err() {
                return Err(ck.bad(f("password_hash"), "not an argon2 hash; make one with `qcall hash-password`"));
            }
        }
        if s.token_hash.is_none() && s.password_hash.is_none() {
            return Err(ck.bad(
                f("password_hash"),
                "a supervisor needs a password_hash (`qcall hash-password`; signs in at /supervisor) or a token_hash (`qcall token`; for API clients)",
            ));
        }
        let name = s.name.unwrap_or_else(|| s.id.clone());
        supervisors.push(Supervisor { id: s.id, name, token_hash: s.token_hash, password_hash: s.password_hash });
    }
    Ok(supervisors)
}

fn sign_in(ck: &Check, si: &RawSignIn) -> Result<crate::signin::Limits, ConfigError> {
    Ok(crate::signin::Limits {
        account_failures: ck.range("sign_in.account_failures", si.account_failures, 10, 1..=1_000_000)?,
        account_total_failures: ck.range("sign_in.account_total_failures", si.account_total_failures, 30, 1..=1_000_000)?,
        address_failures: ck.range("sign_in.address_failures", si.address_failures, 30, 1..=1_000_000)?,
        window_ms: ck.range("sign_in.window_s", si.window_s, 600, 1..=86_400)? as i64 * 1000,
        lock_ms: ck.range("sign_in.lock_s", si.lock_s, 900, 1..=86_400)? as i64 * 1000,
    })
}

fn calendar(ck: &Check, raw: &RawCalendar) -> Result<(crate::domain::Calendar, u32), ConfigError> {
    use chrono::Datelike;
    let date = |field: String, v: &str| v.parse::<chrono::NaiveDate>().map_err(|_| ck.bad(field, format!("`{v}` is not a date like 2026-10-01")));
    let mut calendar = crate::domain::Calendar::default();
    for (i, d) in raw.holidays.iter().enumerate() {
        calendar.holidays.insert(date(format!("calendar.holidays[{i}]"), d)?);
    }
    for (i, d) in raw.workdays.iter().enumerate() {
        calendar.workdays.insert(date(format!("calendar.workdays[{i}]"), d)?);
    }
    calendar.years = match &raw.years {
        None => calendar.holidays.iter().chain(&calendar.workdays).map(|d| d.year()).collect(),
        Some(years) => {
            for (i, &y) in years.iter().enumerate() {
                if !calendar.holidays.iter().any(|d| d.year() == y) {
                    return Err(ck.bad(format!("calendar.years[{i}]"), format!("{y} has no holidays listed: add that year's holidays first")));
                }
            }
            years.iter().copied().collect()
        }
    };
    let last_ticket_minutes = ck.range("calendar.last_ticket_minutes", raw.last_ticket_minutes, 30, 0..=240)?;
    Ok((calendar, last_ticket_minutes))
}

/// `[appointments]`: the rules, and the bookings one address may make per hour.
fn appointments(ck: &Check, raw: Option<&RawAppointments>, halls: &[HallDef], services: &[ServiceDef]) -> Result<(crate::domain::Rules, u32), ConfigError> {
    let mut rules = crate::domain::Rules::default();
    let Some(a) = raw else { return Ok((rules, 10)) };
    let f = |name: &str| format!("appointments.{name}");
    rules.enabled = true;
    rules.slot_minutes = ck.range(&f("slot_minutes"), a.slot_minutes, rules.slot_minutes, 5..=240)?;
    rules.days_ahead = ck.range(&f("days_ahead"), a.days_ahead, rules.days_ahead, 0..=60)?;
    rules.same_day_until_minutes = ck.range(&f("same_day_until_minutes"), a.same_day_until_minutes, rules.same_day_until_minutes, 0..=1440)?;
    rules.early_minutes = ck.range(&f("early_minutes"), a.early_minutes, rules.early_minutes, 0..=240)?;
    rules.late_minutes = ck.range(&f("late_minutes"), a.late_minutes, rules.late_minutes, 0..=240)?;
    rules.cancel_before_minutes = ck.range(&f("cancel_before_minutes"), a.cancel_before_minutes, rules.cancel_before_minutes, 0..=10_080)?;
    rules.no_show_limit = ck.range(&f("no_show_limit"), a.no_show_limit, rules.no_show_limit, 1..=100)?;
    rules.cancel_limit = ck.range(&f("cancel_limit"), a.cancel_limit, rules.cancel_limit, 1..=100)?;
    rules.ban_days = ck.range(&f("ban_days"), a.ban_days, rules.ban_days, 0..=365)?;
    rules.per_day = ck.range(&f("per_day"), a.per_day, rules.per_day, 1..=20)?;
    // The month's no-shows and cancellations are counted from the kept rows after a restart.
    rules.retention_days = ck.range(&f("retention_days"), a.retention_days, rules.retention_days, 31..=3650)?;
    let bookings_per_hour = ck.range(&f("bookings_per_hour_per_address"), a.bookings_per_hour_per_address, 10, 1..=100_000)?;
    rules.share = ck.range(&f("share"), a.share, rules.share, 0.0..=1.0)?;
    for (i, c) in a.capacity.iter().enumerate() {
        let h = hall_ix(halls, &c.hall).ok_or_else(|| ck.bad(format!("appointments.capacity[{i}].hall"), format!("unknown hall `{}`", c.hall)))?;
        let sv = service_ix(services, &c.service)
            .ok_or_else(|| ck.bad(format!("appointments.capacity[{i}].service"), format!("unknown service `{}`", c.service)))?;
        rules.capacity.insert((h, sv), c.per_slot);
    }
    if let Some(h) = halls.iter().find(|h| h.hours.is_empty()) {
        return Err(ck.bad("appointments", format!("hall `{}` has no `hours`: slots come from opening hours", h.id)));
    }
    Ok((rules, bookings_per_hour))
}

fn estimates(ck: &Check, raw: &RawEstimates) -> Result<crate::domain::estimate::EstimateRules, ConfigError> {
    let defaults = crate::domain::estimate::EstimateRules::default();
    let estimator = match raw.estimator.as_deref() {
        None => defaults.estimator,
        Some(e) => crate::domain::estimate::Estimator::parse(e)
            .ok_or_else(|| ck.bad("estimates.estimator", format!("{e:?} is not one of \"forked\", \"forward\", \"simple\"")))?,
    };
    let lean_percent = ck.range("estimates.lean_percent", raw.lean_percent, defaults.lean_percent, 0..=100)?;
    let forks = ck.range("estimates.forks", raw.forks, defaults.forks, 4..=256)?;
    let quantile_percent = ck.range("estimates.quantile_percent", raw.quantile_percent, defaults.quantile_percent, 1..=99)?;
    let range_percent = match raw.range_percent {
        None => defaults.range_percent,
        Some([low, high]) if low < quantile_percent && quantile_percent < high && high < 100 => (low, high),
        Some([low, high]) => {
            return Err(ck.bad(
                "estimates.range_percent",
                format!("[{low}, {high}] must hold quantile_percent ({quantile_percent}) strictly inside, below 100"),
            ))
        }
    };
    Ok(crate::domain::estimate::EstimateRules { estimator, lean_percent, forks, quantile_percent, range_percent })
}

/// Reasons as a list names them: 1 to `max`, each 1-16 characters without spaces around, once.
fn reasons(ck: &Check, field: &str, list: &[String], max: usize) -> Result<(), ConfigError> {
    if list.is_empty() || list.len() > max {
        return Err(ck.bad(field, format!("name 1 to {max} reasons")));
    }
    let mut seen = HashSet::new();
    for (i, r) in list.iter().enumerate() {
        if r.trim().is_empty() || r.chars().count() > 16 || r.trim() != r {
            return Err(ck.bad(format!("{field}[{i}]"), format!("`{r}` must be 1-16 characters without spaces around them")));
        }
        if !seen.insert(r) {
            return Err(ck.bad(format!("{field}[{i}]"), format!("`{r}` is named twice")));
        }
    }
    Ok(())
}

fn pauses(ck: &Check, raw: RawPauses) -> Result<Option<Vec<String>>, ConfigError> {
    if let Some(list) = &raw.reasons {
        reasons(ck, "pauses.reasons", list, 20)?;
    }
    Ok(raw.reasons)
}

/// `[privacy]`: days the audit trail and who served a ticket are kept.
fn privacy(ck: &Check, raw: &RawPrivacy) -> Result<(u32, u32), ConfigError> {
    // 网络安全法: logs are kept six months or more.
    let audit_days = ck.range("privacy.audit_days", raw.audit_days, 365, 180..=3650)?;
    let retention_days = ck.range("privacy.retention_days", raw.retention_days, 365, 31..=3650)?;
    Ok((audit_days, retention_days))
}

/// `[ratings]`: the 差评 reasons and the working days a case has, when named.
fn ratings(ck: &Check, raw: RawRatings) -> Result<(Option<Vec<String>>, Option<u32>), ConfigError> {
    if let Some(list) = &raw.reasons {
        reasons(ck, "ratings.reasons", list, 12)?;
    }
    let case_days = raw.case_days.map(|d| ck.range("ratings.case_days", Some(d), d, 1..=60)).transpose()?;
    Ok((raw.reasons, case_days))
}

fn alerts(ck: &Check, a: &RawAlerts, devices: &[Device]) -> Result<(crate::alerts::Rules, Option<String>), ConfigError> {
    let rules = crate::alerts::Rules {
        wait_ms: i64::from(ck.range("alerts.wait_minutes", a.wait_minutes, 20, 1..=24 * 60)?) * 60_000,
        queue_length: ck.range("alerts.queue_length", a.queue_length, 20, 1..=100_000)?,
        pause_ms: i64::from(ck.range("alerts.pause_minutes", a.pause_minutes, 15, 1..=24 * 60)?) * 60_000,
        // Devices report every 20 s.
        device_offline_ms: i64::from(ck.range("alerts.device_offline_s", a.device_offline_s, 60, 30..=86_400)?) * 1000,
        webhook_url: a.webhook_url.clone(),
        device_names: devices.iter().map(|d| (d.id.clone(), d.name.clone())).collect(),
    };
    if let Some(url) = &a.webhook_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url_host(url).is_none() {
            return Err(ck.bad("alerts.webhook_url", format!("`{url}` is not an http:// or https:// URL")));
        }
    }
    let webhook_secret = match (&a.webhook_secret_file, &a.webhook_url) {
        (Some(p), Some(_)) => Some(read_secret(p).map_err(|e| ck.bad("alerts.webhook_secret_file", e))?),
        (Some(_), None) => return Err(ck.bad("alerts.webhook_secret_file", "there is no webhook_url to sign for")),
        (None, _) => None,
    };
    Ok((rules, webhook_secret))
}

fn backup(ck: &Check, raw: Option<RawBackup>) -> Result<Option<Backups>, ConfigError> {
    let Some(b) = raw else { return Ok(None) };
    let at = b.at.as_deref().unwrap_or("02:00");
    let at_minute = parse_hhmm(at).ok_or_else(|| ck.bad("backup.at", format!("`{at}` is not a time like 02:00")))?;
    // The newest backup is always kept.
    let keep_days = ck.range("backup.keep_days", b.keep_days, 14, 1..=3650)?;
    if b.dir.as_os_str().is_empty() {
        return Err(ck.bad("backup.dir", "must name a directory"));
    }
    Ok(Some(Backups { dir: b.dir, keep_days, at_minute }))
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

fn sms(ck: &Check, raw: Option<RawSms>, public_face: bool) -> Result<Option<Sms>, ConfigError> {
    use crate::sms::{Provider, Purpose, Settings};
    let Some(r) = raw else { return Ok(None) };
    let need = |v: &Option<String>, field: &str| -> Result<String, ConfigError> {
        v.clone().filter(|x| !x.trim().is_empty()).ok_or_else(|| ck.bad(format!("sms.{field}"), format!("missing: the {} provider needs it", r.provider)))
    };
    let secret = || -> Result<String, ConfigError> {
        let path = r.secret_file.as_ref().ok_or_else(|| ck.bad("sms.secret_file", format!("missing: the {} provider signs with a secret", r.provider)))?;
        read_secret(path).map_err(|e| ck.bad("sms.secret_file", e))
    };
    let endpoint = |default: &str| -> Result<String, ConfigError> {
        let e = r.endpoint.clone().unwrap_or_else(|| default.to_string());
        if !(e.starts_with("http://") || e.starts_with("https://")) || url_host(&e).is_none() {
            return Err(ck.bad("sms.endpoint", format!("`{e}` is not an http:// or https:// URL")));
        }
        Ok(e)
    };
    let provider = match r.provider.as_str() {
        "log" if public_face => {
            return Err(ck.bad("sms.provider", "`log` only writes codes to the server's log: a public face needs aliyun, tencent or webhook"))
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
        other => return Err(ck.bad("sms.provider", format!("`{other}` is not one of aliyun, tencent, webhook, log"))),
    };
    let webhook = matches!(provider, Provider::Webhook { .. });
    let sign_name = if webhook { r.sign_name.clone().unwrap_or_default() } else { need(&r.sign_name, "sign_name")? };
    let code_template = if webhook { r.code_template.clone().unwrap_or_default() } else { need(&r.code_template, "code_template")? };
    let mut templates: std::collections::BTreeMap<Purpose, String> = [(Purpose::Code, code_template)].into_iter().collect();
    match (&r.near_turn_template, &r.called_template) {
        (Some(near), Some(called)) => {
            templates.insert(Purpose::NearTurn, near.clone());
            templates.insert(Purpose::Called, called.clone());
        }
        (None, None) if webhook => {
            templates.insert(Purpose::NearTurn, String::new());
            templates.insert(Purpose::Called, String::new());
            templates.insert(Purpose::CheckIn, String::new());
        }
        (None, None) => {}
        (Some(_), None) => return Err(ck.bad("sms.called_template", "near_turn_template is set: name the called template too")),
        (None, Some(_)) => return Err(ck.bad("sms.near_turn_template", "called_template is set: name the near-turn template too")),
    }
    if let Some(t) = &r.check_in_template {
        templates.insert(Purpose::CheckIn, t.clone());
    }
    Ok(Some(Sms::Provider(Settings { provider, sign_name, templates })))
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
