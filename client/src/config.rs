//! What the device configs (kiosk, hall display) share: one error shape, reading TOML with
//! removed keys named, the server address and the `[link]` settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::follow::{BackoffSettings, FollowSettings};
use crate::ClientOptions;

/// A config that cannot be used: always names the file, and the field and reason where known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: {reason}")]
    Parse { file: String, reason: String },
    #[error("{file}: field `{field}`: {reason}")]
    Invalid { file: String, field: String, reason: String },
}

impl ConfigError {
    pub fn invalid(file: &str, field: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { file: file.into(), field: field.into(), reason: reason.into() }
    }
}

/// A key that used to be read, and where its setting lives now.
pub type Removed = (&'static str, &'static str);

pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Read { file: path.display().to_string(), reason: e.to_string() })
}

/// Parses `text` (named `file` in errors) into `T`. A key from `removed` (a dotted path such as
/// `kiosk.timezone`) is refused with where its setting lives now.
pub fn parse<T: DeserializeOwned>(text: &str, file: &str, removed: &[Removed]) -> Result<T, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Parse { file: file.into(), reason: e.to_string() })?;
    for (path, now) in removed {
        let mut v: Option<&toml::Value> = None;
        let mut t = Some(&table);
        for part in path.split('.') {
            v = t.and_then(|t| t.get(part));
            t = v.and_then(toml::Value::as_table);
        }
        if v.is_some() {
            return Err(ConfigError::invalid(file, path, format!("this setting was removed: {now}")));
        }
    }
    T::deserialize(table).map_err(|e| ConfigError::Parse { file: file.into(), reason: e.to_string() })
}

/// The qcall server's address: `http://host:port` or `https://…`, without a trailing slash;
/// or several, comma-separated (a bureau's active server and its standbys, on PostgreSQL).
pub fn server_url(file: &str, field: &str, v: &str) -> Result<String, ConfigError> {
    match crate::http::server_urls(v) {
        Ok(list) => Ok(list.join(",")),
        Err(bad) => Err(ConfigError::invalid(
            file,
            field,
            format!("{bad:?} must be an http:// or https:// URL such as http://127.0.0.1:8080 (several: comma-separated)"),
        )),
    }
}

/// An id as the server names halls and devices: letters, digits, `-`, `_`.
pub fn ident(file: &str, field: &str, v: &str) -> Result<String, ConfigError> {
    if v.is_empty() || v.len() > 32 || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ConfigError::invalid(file, field, format!("{v:?} must be 1-32 letters, digits, '-' or '_'")));
    }
    Ok(v.to_string())
}

/// `[link]`: how a device keeps its connection to the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLink {
    /// First reconnect wait after the link drops, doubling up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Each wait is shortened by up to this share at random (0-100).
    pub backoff_jitter_percent: u32,
    /// A PEM file with the bureau's own certificate authority, for an https:// server.
    pub ca_file: Option<PathBuf>,
}

impl Default for RawLink {
    fn default() -> Self {
        RawLink { backoff_initial_ms: 500, backoff_max_ms: 10_000, backoff_jitter_percent: 20, ca_file: None }
    }
}

/// The validated `[link]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub follow: FollowSettings,
    pub ca_file: Option<PathBuf>,
}

impl Link {
    /// `base` resolves a relative `ca_file`.
    pub fn validate(raw: RawLink, file: &str, base: &Path) -> Result<Link, ConfigError> {
        if raw.backoff_initial_ms == 0 || raw.backoff_initial_ms > raw.backoff_max_ms {
            return Err(ConfigError::invalid(
                file,
                "link.backoff_initial_ms",
                format!("{} must be at least 1 and at most link.backoff_max_ms ({})", raw.backoff_initial_ms, raw.backoff_max_ms),
            ));
        }
        if raw.backoff_max_ms > 300_000 {
            return Err(ConfigError::invalid(file, "link.backoff_max_ms", format!("{} is more than 300000", raw.backoff_max_ms)));
        }
        if raw.backoff_jitter_percent > 100 {
            return Err(ConfigError::invalid(file, "link.backoff_jitter_percent", format!("{} is more than 100", raw.backoff_jitter_percent)));
        }
        let ca_file = raw.ca_file.map(|p| base.join(p));
        if let Some(p) = &ca_file {
            if !p.is_file() {
                return Err(ConfigError::invalid(file, "link.ca_file", format!("{} is not a file", p.display())));
            }
        }
        Ok(Link {
            follow: FollowSettings {
                backoff: BackoffSettings {
                    initial: Duration::from_millis(raw.backoff_initial_ms),
                    max: Duration::from_millis(raw.backoff_max_ms),
                    jitter: f64::from(raw.backoff_jitter_percent) / 100.0,
                },
                keepalive: Duration::from_secs(15),
            },
            ca_file,
        })
    }

    pub fn client_options(&self) -> ClientOptions {
        ClientOptions { ca_file: self.ca_file.clone(), ..ClientOptions::default() }
    }
}

impl Default for Link {
    fn default() -> Self {
        Link::validate(RawLink::default(), "", Path::new(".")).expect("defaults are valid")
    }
}

/// Directory the embedded configs' relative paths resolve against: the source tree's `config/`
/// when it is there, else `config/` under the current directory (an installed copy).
pub fn embedded_base() -> std::path::PathBuf {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("config");
    if source.is_dir() {
        source
    } else {
        std::path::PathBuf::from("config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct T {
        #[allow(dead_code)]
        a: Option<toml::Table>,
    }

    #[test]
    fn removed_keys_say_where_the_setting_lives_now() {
        let e = parse::<T>("[a]\ntimezone = \"x\"\n", "k.toml", &[("a.timezone", "the server's business_day.time_zone")])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "k.toml: field `a.timezone`: this setting was removed: the server's business_day.time_zone");
        assert!(parse::<T>("[a]\nx = 1\n", "k.toml", &[("a.timezone", "")]).is_ok());
        let e = parse::<T>("b = 1", "k.toml", &[]).unwrap_err().to_string();
        assert!(e.starts_with("k.toml: ") && e.contains('b'), "{e}");
    }

    #[test]
    fn server_urls_and_links_are_checked() {
        assert_eq!(server_url("f", "server", "https://q.example/").unwrap(), "https://q.example");
        let e = server_url("f", "server", "ws://x").unwrap_err().to_string();
        assert!(e.starts_with("f: field `server`:"), "{e}");
        // The active server and its standby (a bureau on PostgreSQL).
        assert_eq!(server_url("f", "server", "http://qa:8080, http://qb:8080/").unwrap(), "http://qa:8080,http://qb:8080");
        let e = server_url("f", "server", "http://qa:8080,qb:8080").unwrap_err().to_string();
        assert!(e.contains("\"qb:8080\"") && e.contains("comma-separated"), "{e}");
        let raw = RawLink { backoff_initial_ms: 0, ..RawLink::default() };
        assert!(Link::validate(raw, "f", Path::new(".")).unwrap_err().to_string().contains("link.backoff_initial_ms"));
        let raw = RawLink { ca_file: Some("nope.pem".into()), ..RawLink::default() };
        assert!(Link::validate(raw, "f", Path::new("/")).unwrap_err().to_string().contains("link.ca_file"));
    }
}
