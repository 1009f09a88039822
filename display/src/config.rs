//! Display configuration in two phases: TOML -> raw serde structs -> validated [`Config`].
//!
//! Relative paths in a config file resolve against the directory of that file. The embedded
//! default (`config/display-east.toml`) resolves against the source tree's `config/` folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::announce::AnnounceOptions;

/// The config used when no `--config` is given.
pub const EMBEDDED: &str = include_str!("../../config/display-east.toml");
/// Name given to the embedded config in error messages.
pub const EMBEDDED_NAME: &str = "<embedded config/display-east.toml>";

/// Directory the embedded config's relative paths resolve against: the source tree's `config/`
/// when it is there, else `config/` under the current directory (an installed copy).
pub fn embedded_base() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("config");
    if source.is_dir() {
        source
    } else {
        PathBuf::from("config")
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: {reason}")]
    Parse { file: String, reason: String },
    #[error("{file}: field `{field}`: {reason}")]
    Invalid { file: String, field: &'static str, reason: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: String,
    hall: String,
    #[serde(default)]
    screen: RawScreen,
    #[serde(default)]
    announce: RawAnnounce,
    #[serde(default)]
    link: RawLink,
    #[serde(default)]
    publicity: RawPublicity,
    #[serde(default)]
    device: Option<RawDevice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    id: String,
    token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawScreen {
    width: u32,
    height: u32,
    fullscreen: bool,
    highlight_seconds: u32,
    recent_rows: u32,
    time_zone: String,
    ticker_speed: u32,
}

impl Default for RawScreen {
    fn default() -> Self {
        RawScreen {
            width: 1920,
            height: 1080,
            fullscreen: false,
            highlight_seconds: 8,
            recent_rows: 8,
            time_zone: "Asia/Shanghai".into(),
            ticker_speed: 160,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAnnounce {
    enabled: bool,
    voice_dir: String,
    english: bool,
    repeat: u32,
    word_gap_ms: u32,
    sentence_gap_ms: u32,
    stale_after_seconds: u32,
}

impl Default for RawAnnounce {
    fn default() -> Self {
        RawAnnounce {
            enabled: true,
            voice_dir: "../assets/voice".into(),
            english: false,
            repeat: 2,
            word_gap_ms: 60,
            sentence_gap_ms: 700,
            stale_after_seconds: 30,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLink {
    backoff_initial_ms: u64,
    backoff_max_ms: u64,
}

impl Default for RawLink {
    fn default() -> Self {
        RawLink { backoff_initial_ms: 500, backoff_max_ms: 10_000 }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPublicity {
    messages: Vec<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base URL of the qcall server, `http://host:port` (no trailing slash).
    pub server: String,
    pub hall: String,
    pub width: u32,
    pub height: u32,
    pub fullscreen: bool,
    pub highlight: Duration,
    pub recent_rows: usize,
    pub time_zone: chrono_tz::Tz,
    /// Ticker speed in pixels per second at 1080 lines (scaled with the screen).
    pub ticker_speed: u32,
    pub announce_enabled: bool,
    pub voice_dir: PathBuf,
    pub announce: AnnounceOptions,
    /// Calls older than this when they arrive are shown but not announced.
    pub stale_after: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Publicity lines shown until the server sends its own.
    pub publicity: Vec<String>,
    /// This display as a device known to the server (id, token): it reports its audio health.
    pub device: Option<(String, String)>,
}

impl Config {
    /// Parses and validates `text`; `file` names it in errors, `base` resolves relative paths.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse { file: file.to_string(), reason: e.to_string() })?;
        let invalid = |field: &'static str, reason: String| ConfigError::Invalid { file: file.to_string(), field, reason };

        let server = raw.server.trim_end_matches('/').to_string();
        if !server.starts_with("http://") || server.len() <= "http://".len() {
            return Err(invalid("server", format!("{:?} must be an http:// URL such as http://127.0.0.1:8080", raw.server)));
        }
        if raw.hall.is_empty() || !raw.hall.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(invalid("hall", format!("{:?} must be a hall id such as east", raw.hall)));
        }
        let s = raw.screen;
        if !(320..=7680).contains(&s.width) {
            return Err(invalid("screen.width", format!("{} is outside 320..=7680", s.width)));
        }
        if !(180..=4320).contains(&s.height) {
            return Err(invalid("screen.height", format!("{} is outside 180..=4320", s.height)));
        }
        if s.highlight_seconds > 120 {
            return Err(invalid("screen.highlight_seconds", format!("{} is more than 120", s.highlight_seconds)));
        }
        if !(1..=12).contains(&s.recent_rows) {
            return Err(invalid("screen.recent_rows", format!("{} is outside 1..=12", s.recent_rows)));
        }
        let time_zone: chrono_tz::Tz = s
            .time_zone
            .parse()
            .map_err(|_| invalid("screen.time_zone", format!("{:?} is not an IANA time zone", s.time_zone)))?;
        if !(10..=2000).contains(&s.ticker_speed) {
            return Err(invalid("screen.ticker_speed", format!("{} is outside 10..=2000", s.ticker_speed)));
        }
        let a = raw.announce;
        if !(1..=5).contains(&a.repeat) {
            return Err(invalid("announce.repeat", format!("{} is outside 1..=5", a.repeat)));
        }
        if a.word_gap_ms > 2000 {
            return Err(invalid("announce.word_gap_ms", format!("{} is more than 2000", a.word_gap_ms)));
        }
        if a.sentence_gap_ms > 5000 {
            return Err(invalid("announce.sentence_gap_ms", format!("{} is more than 5000", a.sentence_gap_ms)));
        }
        if a.voice_dir.is_empty() {
            return Err(invalid("announce.voice_dir", "must not be empty".into()));
        }
        let voice_dir = base.join(&a.voice_dir);
        let l = raw.link;
        if l.backoff_initial_ms == 0 || l.backoff_initial_ms > l.backoff_max_ms {
            return Err(invalid(
                "link.backoff_initial_ms",
                format!("{} must be at least 1 and at most link.backoff_max_ms ({})", l.backoff_initial_ms, l.backoff_max_ms),
            ));
        }
        if l.backoff_max_ms > 300_000 {
            return Err(invalid("link.backoff_max_ms", format!("{} is more than 300000", l.backoff_max_ms)));
        }
        let device = match raw.device {
            None => None,
            Some(d) => {
                if d.id.is_empty() || !d.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    return Err(invalid("device.id", format!("{:?} must be a device id such as display-east-1", d.id)));
                }
                if d.token.is_empty() {
                    return Err(invalid("device.token", "must not be empty".into()));
                }
                Some((d.id, d.token))
            }
        };
        let publicity: Vec<String> =
            raw.publicity.messages.into_iter().map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();

        Ok(Config {
            server,
            hall: raw.hall,
            width: s.width,
            height: s.height,
            fullscreen: s.fullscreen,
            highlight: Duration::from_secs(s.highlight_seconds as u64),
            recent_rows: s.recent_rows as usize,
            time_zone,
            ticker_speed: s.ticker_speed,
            announce_enabled: a.enabled,
            voice_dir,
            announce: AnnounceOptions {
                english: a.english,
                repeat: a.repeat,
                word_gap_ms: a.word_gap_ms,
                sentence_gap_ms: a.sentence_gap_ms,
            },
            stale_after: Duration::from_secs(a.stale_after_seconds as u64),
            backoff_initial: Duration::from_millis(l.backoff_initial_ms),
            backoff_max: Duration::from_millis(l.backoff_max_ms),
            publicity,
            device,
        })
    }

    /// What the controller needs.
    pub fn controller_settings(&self) -> crate::controller::Settings {
        crate::controller::Settings {
            hall: self.hall.clone(),
            recent_rows: self.recent_rows,
            highlight: self.highlight,
            stale_after: self.stale_after,
            publicity: self.publicity.clone(),
        }
    }

    /// What the network worker needs.
    pub fn link_settings(&self) -> crate::net::LinkSettings {
        crate::net::LinkSettings {
            server: self.server.clone(),
            hall: self.hall.clone(),
            backoff_initial: self.backoff_initial,
            backoff_max: self.backoff_max,
            keepalive: Duration::from_secs(15),
            since: None,
        }
    }

    /// Reads `path`, or the embedded default when `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            None => Config::parse(EMBEDDED, EMBEDDED_NAME, &embedded_base()),
            Some(p) => {
                let file = p.display().to_string();
                let text =
                    std::fs::read_to_string(p).map_err(|e| ConfigError::Read { file: file.clone(), reason: e.to_string() })?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                Config::parse(&text, &file, &base)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_config_is_valid_and_names_east() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.hall, "east");
        assert_eq!(c.server, "http://127.0.0.1:8080");
        assert_eq!(c.announce.repeat, 2);
        assert!(!c.publicity.is_empty());
        assert!(c.voice_dir.join("chime.wav").exists(), "{}", c.voice_dir.display());
    }

    #[test]
    fn shipped_configs_are_valid() {
        let dir = embedded_base();
        for hall in ["east", "west", "central"] {
            let c = Config::load(Some(&dir.join(format!("display-{hall}.toml")))).unwrap();
            assert_eq!(c.hall, hall);
            assert!(c.voice_dir.join("zh-CN/qing.wav").exists());
        }
    }

    #[test]
    fn bad_config_names_file_field_and_reason() {
        let base = Path::new("/tmp");
        let e = Config::parse("server = \"http://x:1\"\nhall = \"east\"\n[announce]\nrepeat = 0\n", "d.toml", base)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "d.toml: field `announce.repeat`: 0 is outside 1..=5");
        let e = Config::parse("server = \"ws://x\"\nhall = \"east\"\n", "d.toml", base).unwrap_err().to_string();
        assert!(e.starts_with("d.toml: field `server`:"), "{e}");
        let e = Config::parse("server = \"http://x:1\"\nhall = \"east\"\n[screen]\ntime_zone = \"Mars/Base\"\n", "d.toml", base)
            .unwrap_err()
            .to_string();
        assert!(e.contains("screen.time_zone"), "{e}");
        let e = Config::parse("server = \"http://x:1\"\nhall = \"east\"\nbogus = 1\n", "d.toml", base).unwrap_err().to_string();
        assert!(e.starts_with("d.toml: ") && e.contains("bogus"), "{e}");
        let e = Config::parse("hall = \"east\"\n", "d.toml", base).unwrap_err().to_string();
        assert!(e.contains("server"), "{e}");
    }
}
