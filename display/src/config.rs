//! Display configuration in two phases: TOML -> raw serde structs -> validated [`Config`].
//!
//! Relative paths in a config file resolve against the directory of that file. The embedded
//! default (`config/display-east.toml`) resolves against the source tree's `config/` folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use qcall_client::config::ConfigError;
use qcall_client::config::{self as shared, Link, RawLink, Removed};
use serde::Deserialize;

use crate::announce::AnnounceOptions;

/// The config used when no `--config` is given.
pub const EMBEDDED: &str = include_str!("../../config/display-east.toml");
/// Name given to the embedded config in error messages.
pub const EMBEDDED_NAME: &str = "<embedded config/display-east.toml>";

pub use qcall_client::config::embedded_base;

/// Settings that moved to the server: the display takes them from the hall state.
const REMOVED: &[Removed] =
    &[("screen.time_zone", "the clock's time zone is the server's `business_day.time_zone` (config/qcall.toml), sent with the hall state")];

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPublicity {
    messages: Vec<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base URL of the qcall server, `http://host:port` or `https://…` (no trailing slash).
    pub server: String,
    pub hall: String,
    pub width: u32,
    pub height: u32,
    pub fullscreen: bool,
    pub highlight: Duration,
    pub recent_rows: usize,
    /// Ticker speed in pixels per second at 1080 lines (scaled with the screen).
    pub ticker_speed: u32,
    pub announce_enabled: bool,
    pub voice_dir: PathBuf,
    pub announce: AnnounceOptions,
    /// Calls older than this when they arrive are shown but not announced.
    pub stale_after: Duration,
    /// How the display keeps its link to the server.
    pub link: Link,
    /// Publicity lines shown until the server sends its own.
    pub publicity: Vec<String>,
    /// This display as a device known to the server (id, token): it reports its audio health.
    pub device: Option<(String, String)>,
}

impl Config {
    /// Parses and validates `text`; `file` names it in errors, `base` resolves relative paths.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = shared::parse(text, file, REMOVED)?;
        let invalid = |field: &str, reason: String| ConfigError::invalid(file, field, reason);

        let server = shared::server_url(file, "server", &raw.server)?;
        let hall = shared::ident(file, "hall", &raw.hall)?;
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
        let link = Link::validate(raw.link, file, base)?;
        let device = match raw.device {
            None => None,
            Some(d) => {
                shared::ident(file, "device.id", &d.id)?;
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
            hall,
            width: s.width,
            height: s.height,
            fullscreen: s.fullscreen,
            highlight: Duration::from_secs(s.highlight_seconds as u64),
            recent_rows: s.recent_rows as usize,
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
            link,
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
            client: self.link.client_options(),
            follow: self.link.follow,
            since: None,
            device: self.device.clone(),
        }
    }

    /// Reads `path`, or the embedded default when `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            None => Config::parse(EMBEDDED, EMBEDDED_NAME, &embedded_base()),
            Some(p) => {
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                Config::parse(&shared::read(p)?, &p.display().to_string(), &base)
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
        let e = Config::parse("server = \"http://x:1\"\nhall = \"east\"\n[screen]\ntime_zone = \"Asia/Shanghai\"\n", "d.toml", base)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("d.toml: field `screen.time_zone`: this setting was removed") && e.contains("business_day.time_zone"), "{e}");
        let c = Config::parse("server = \"https://q.example\"\nhall = \"east\"\n", "d.toml", base).unwrap();
        assert_eq!(c.server, "https://q.example", "https servers are fine");
        let e = Config::parse("server = \"http://x:1\"\nhall = \"east\"\nbogus = 1\n", "d.toml", base).unwrap_err().to_string();
        assert!(e.starts_with("d.toml: ") && e.contains("bogus"), "{e}");
        let e = Config::parse("hall = \"east\"\n", "d.toml", base).unwrap_err().to_string();
        assert!(e.contains("server"), "{e}");
    }
}
