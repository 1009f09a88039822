//! Kiosk configuration in two phases: TOML -> [`RawConfig`] (serde) -> validated [`Config`].
//! A bad value is reported with the file, the field and the reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use qcall_client::config::ConfigError;
use qcall_client::config::{self as shared, Link, RawLink, Removed};
use serde::Deserialize;

use crate::escpos::{encode_strict, Layout, LogoKey, PaperWidth};

/// The demo east-hall kiosk, used when no `--config` is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/kiosk-east.toml");
pub const EMBEDDED_NAME: &str = "<embedded config/kiosk-east.toml>";

/// Settings that moved to the server: the kiosk takes them from the hall state.
const REMOVED: &[Removed] = &[
    ("kiosk.timezone", "the time zone is the server's `business_day.time_zone` (config/qcall.toml), sent with the hall state"),
    ("kiosk.public_base_url", "the ticket QR code uses the server's `server.public_base_url` (config/qcall.toml), sent with the hall state"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub kiosk: RawKiosk,
    #[serde(default)]
    pub printer: RawPrinter,
    #[serde(default)]
    pub link: RawLink,
    /// The 2D barcode scanner (appointment check-in by QR code), if the kiosk has one.
    #[serde(default)]
    pub scanner: Option<RawScanner>,
    #[serde(default)]
    pub voice: RawVoice,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVoice {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_voice_dir")]
    pub dir: String,
    #[serde(default = "default_idle")]
    pub idle_s: u64,
}

impl Default for RawVoice {
    fn default() -> Self {
        toml::from_str("").expect("all voice fields have defaults")
    }
}

/// `[voice]`, validated: spoken guidance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceConfig {
    pub enabled: bool,
    /// The clips (shared with the hall display's announcements).
    pub dir: PathBuf,
    /// A touch after this long without one is a new visitor: "请选择办理的业务".
    pub idle: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScanner {
    /// A serial or USB-CDC device, e.g. `/dev/ttyACM0`.
    pub port: String,
    #[serde(default = "default_baud")]
    pub baud: u32,
}

/// `[scanner]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerConfig {
    pub port: String,
    pub baud: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKiosk {
    pub id: String,
    pub hall: String,
    pub token: String,
    /// The hall's name, shown until the server's hall state arrives.
    #[serde(default)]
    pub hall_name_zh: String,
    #[serde(default)]
    pub hall_name_en: String,
    #[serde(default = "default_server")]
    pub server: String,
    #[serde(default = "yes")]
    pub priority_lane: bool,
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default = "default_orientation")]
    pub orientation: String,
    #[serde(default = "default_return_home")]
    pub return_home_s: u64,
    /// Show the 长者模式 (senior mode) button.
    #[serde(default = "yes")]
    pub elder_mode: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrinter {
    #[serde(default = "default_port")]
    pub port: String,
    #[serde(default = "default_baud")]
    pub baud: u32,
    #[serde(default = "default_data_bits")]
    pub data_bits: u8,
    #[serde(default = "default_parity")]
    pub parity: String,
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
    #[serde(default = "default_flow")]
    pub flow_control: String,
    #[serde(default = "default_write_timeout")]
    pub write_timeout_ms: u64,
    #[serde(default = "default_status_timeout")]
    pub status_timeout_ms: u64,
    #[serde(default = "default_paper")]
    pub paper_width_mm: u32,
    #[serde(default = "default_notice")]
    pub notice: String,
    #[serde(default = "default_poll")]
    pub status_poll_s: u64,
    /// A network printer: connecting gives up after this long.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// The key of the logo stored in the printer (`qcall-kiosk printer-setup --logo`).
    #[serde(default)]
    pub logo_key: Option<String>,
}

impl Default for RawPrinter {
    fn default() -> Self {
        toml::from_str("").expect("all printer fields have defaults")
    }
}

fn yes() -> bool {
    true
}
fn default_server() -> String {
    "http://127.0.0.1:8080".into()
}
fn default_language() -> String {
    "zh".into()
}
fn default_orientation() -> String {
    "landscape".into()
}
fn default_return_home() -> u64 {
    30
}
fn default_voice_dir() -> String {
    "../assets/voice".into()
}
fn default_idle() -> u64 {
    60
}
fn default_port() -> String {
    "/dev/ttyUSB0".into()
}
fn default_baud() -> u32 {
    9600
}
fn default_data_bits() -> u8 {
    8
}
fn default_parity() -> String {
    "none".into()
}
fn default_stop_bits() -> u8 {
    1
}
fn default_flow() -> String {
    "none".into()
}
fn default_write_timeout() -> u64 {
    3000
}
fn default_status_timeout() -> u64 {
    500
}
fn default_paper() -> u32 {
    80
}
fn default_notice() -> String {
    "请留意叫号，过号可到窗口重新排队".into()
}
fn default_poll() -> u64 {
    3
}
fn default_connect_timeout() -> u64 {
    2000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Zh,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Landscape,
    Portrait,
}

impl Orientation {
    pub fn size(self) -> (u32, u32) {
        match self {
            Orientation::Landscape => (1920, 1080),
            Orientation::Portrait => (1080, 1920),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    None,
    Odd,
    Even,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControl {
    None,
    XonXoff,
    RtsCts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterTarget {
    /// A serial device: RS-232, USB-serial (`/dev/ttyUSB0`) or USB-CDC (`/dev/ttyACM0`).
    Serial(String),
    /// A USB printer-class device (`/dev/usb/lp0`, Linux `usblp`).
    Usb(PathBuf),
    /// A network printer's raw port, `HOST:PORT`.
    Tcp(String),
    File(PathBuf),
}

/// The raw port of network printers.
pub const RAW_PRINT_PORT: u16 = 9100;

impl PrinterTarget {
    /// `file:PATH`, `tcp://HOST[:PORT]`, `usb:PATH` or a device path: `/dev/usb/lpN` is a USB
    /// printer-class device, anything else a serial device.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(p) = s.strip_prefix("file:") {
            if p.is_empty() {
                return Err("`file:` needs a path, e.g. file:data/tickets.bin".into());
            }
            Ok(PrinterTarget::File(PathBuf::from(p)))
        } else if let Some(rest) = s.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            // An IPv6 address goes in brackets: tcp://[fd00::50]:9100.
            let split_at = if rest.starts_with('[') {
                let Some(close) = rest.find(']') else {
                    return Err(format!("{s:?}: an IPv6 address needs its closing `]`, e.g. tcp://[fd00::50]:9100"));
                };
                Some(close + 1)
            } else {
                rest.find(':')
            };
            let (host, port) = match split_at.map(|i| rest.split_at(i)) {
                Some((h, p)) if p.starts_with(':') => (h.to_string(), p[1..].to_string()),
                Some((h, "")) => (h.to_string(), RAW_PRINT_PORT.to_string()),
                Some(_) => return Err(format!("{s:?}: give the printer's address as tcp://HOST:PORT, e.g. tcp://192.168.1.50:9100")),
                None => (rest.to_string(), RAW_PRINT_PORT.to_string()),
            };
            if host.is_empty() || host.contains('/') {
                return Err(format!("{s:?}: give the printer's address as tcp://HOST:PORT, e.g. tcp://192.168.1.50:9100"));
            }
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(PrinterTarget::Tcp(format!("{host}:{p}"))),
                _ => Err(format!("{s:?}: port {port:?} is not a number from 1 to 65535")),
            }
        } else if let Some(p) = s.strip_prefix("usb:") {
            if p.is_empty() {
                return Err("`usb:` needs a device path, e.g. usb:/dev/usb/lp0".into());
            }
            Ok(PrinterTarget::Usb(PathBuf::from(p)))
        } else if s.is_empty() {
            Err("empty; give a serial device (e.g. /dev/ttyUSB0), a USB printer (/dev/usb/lp0), tcp://HOST:9100 or file:PATH".into())
        } else if s.starts_with("/dev/usb/lp") {
            Ok(PrinterTarget::Usb(PathBuf::from(s)))
        } else {
            Ok(PrinterTarget::Serial(s.to_string()))
        }
    }

    /// How logs and `test-print` name it.
    pub fn describe(&self) -> String {
        match self {
            PrinterTarget::Serial(p) => format!("serial:{p}"),
            PrinterTarget::Usb(p) => format!("usb:{}", p.display()),
            PrinterTarget::Tcp(a) => format!("tcp://{a}"),
            PrinterTarget::File(p) => format!("file:{}", p.display()),
        }
    }

    pub fn describe_with(&self, baud: u32) -> String {
        match self {
            PrinterTarget::Serial(_) => format!("{} {baud} baud", self.describe()),
            _ => self.describe(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrinterConfig {
    pub target: PrinterTarget,
    pub baud: u32,
    pub data_bits: u8,
    pub parity: Parity,
    pub stop_bits: u8,
    pub flow_control: FlowControl,
    pub write_timeout: Duration,
    pub status_timeout: Duration,
    pub paper: PaperWidth,
    pub notice: String,
    /// How often the printer is asked while it is faulted (recovery) or idle.
    pub status_poll: Duration,
    pub connect_timeout: Duration,
    /// The logo stored in the printer, printed at the top of each ticket.
    pub logo: Option<LogoKey>,
}

impl PrinterConfig {
    /// How tickets are laid out on this printer.
    pub fn layout(&self) -> Layout {
        Layout { logo: self.logo, ..Layout::for_paper(self.paper) }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub source: String,
    pub id: String,
    pub hall: String,
    pub token: String,
    pub hall_name_zh: String,
    pub hall_name_en: String,
    /// Base URL of the server (`http://` or `https://`), without a trailing slash.
    pub server: String,
    pub priority_lane: bool,
    pub language: Language,
    pub orientation: Orientation,
    pub return_home: Duration,
    pub printer: PrinterConfig,
    /// How the kiosk keeps its link to the server.
    pub link: Link,
    pub scanner: Option<ScannerConfig>,
    /// The 长者模式 button is shown.
    pub elder_mode: bool,
    pub voice: VoiceConfig,
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            None => Config::parse(EMBEDDED_DEFAULT, EMBEDDED_NAME, &shared::embedded_base()),
            Some(p) => Config::parse(&shared::read(p)?, &p.display().to_string(), p.parent().unwrap_or(Path::new("."))),
        }
    }

    /// `base` resolves relative paths (`link.ca_file`).
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        Config::validate(shared::parse(text, file, REMOVED)?, file, base)
    }

    pub fn validate(raw: RawConfig, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let bad = |field: &str, reason: String| ConfigError::invalid(file, field, reason);
        let k = raw.kiosk;
        let p = raw.printer;
        let id = shared::ident(file, "kiosk.id", &k.id)?;
        let hall = shared::ident(file, "kiosk.hall", &k.hall)?;
        if k.token.trim().is_empty() {
            return Err(bad("kiosk.token", "must not be empty".into()));
        }
        let server = shared::server_url(file, "kiosk.server", &k.server)?;
        let link = Link::validate(raw.link, file, base)?;
        let scanner = match raw.scanner {
            None => None,
            Some(s) => {
                if s.port.trim().is_empty() {
                    return Err(bad("scanner.port", "empty; give the scanner's device, e.g. /dev/ttyACM0".into()));
                }
                if !(1200..=921_600).contains(&s.baud) {
                    return Err(bad("scanner.baud", format!("{} is not a usable baud rate (1200–921600)", s.baud)));
                }
                Some(ScannerConfig { port: s.port, baud: s.baud })
            }
        };
        let language = match k.language.as_str() {
            "zh" => Language::Zh,
            "en" => Language::En,
            o => return Err(bad("kiosk.language", format!("{o:?} is not one of \"zh\", \"en\""))),
        };
        let orientation = match k.orientation.as_str() {
            "landscape" => Orientation::Landscape,
            "portrait" => Orientation::Portrait,
            o => return Err(bad("kiosk.orientation", format!("{o:?} is not one of \"landscape\", \"portrait\""))),
        };
        if !(2..=120).contains(&k.return_home_s) {
            return Err(bad("kiosk.return_home_s", format!("{} is not between 2 and 120 seconds", k.return_home_s)));
        }
        let target = PrinterTarget::parse(&p.port).map_err(|r| bad("printer.port", r))?;
        if !(300..=921_600).contains(&p.baud) {
            return Err(bad("printer.baud", format!("{} is not a usable baud rate (300–921600)", p.baud)));
        }
        if !(5..=8).contains(&p.data_bits) {
            return Err(bad("printer.data_bits", format!("{} is not 5, 6, 7 or 8", p.data_bits)));
        }
        let parity = match p.parity.as_str() {
            "none" => Parity::None,
            "odd" => Parity::Odd,
            "even" => Parity::Even,
            o => return Err(bad("printer.parity", format!("{o:?} is not one of \"none\", \"odd\", \"even\""))),
        };
        if !(1..=2).contains(&p.stop_bits) {
            return Err(bad("printer.stop_bits", format!("{} is not 1 or 2", p.stop_bits)));
        }
        let flow_control = match p.flow_control.as_str() {
            "none" => FlowControl::None,
            "xonxoff" => FlowControl::XonXoff,
            "rtscts" => FlowControl::RtsCts,
            o => return Err(bad("printer.flow_control", format!("{o:?} is not one of \"none\", \"xonxoff\", \"rtscts\""))),
        };
        if !(100..=60_000).contains(&p.write_timeout_ms) {
            return Err(bad("printer.write_timeout_ms", format!("{} is not between 100 and 60000", p.write_timeout_ms)));
        }
        if !(50..=5_000).contains(&p.status_timeout_ms) {
            return Err(bad("printer.status_timeout_ms", format!("{} is not between 50 and 5000", p.status_timeout_ms)));
        }
        let paper = match p.paper_width_mm {
            58 => PaperWidth::Mm58,
            80 => PaperWidth::Mm80,
            o => return Err(bad("printer.paper_width_mm", format!("{o} is not 58 or 80"))),
        };
        if let Err(e) = encode_strict(&p.notice) {
            return Err(bad("printer.notice", e.to_string()));
        }
        if p.notice.chars().count() > 40 {
            return Err(bad("printer.notice", "longer than 40 characters; keep it to one short line".into()));
        }
        if !(1..=600).contains(&p.status_poll_s) {
            return Err(bad("printer.status_poll_s", format!("{} is not between 1 and 600", p.status_poll_s)));
        }
        if !(100..=30_000).contains(&p.connect_timeout_ms) {
            return Err(bad("printer.connect_timeout_ms", format!("{} is not between 100 and 30000", p.connect_timeout_ms)));
        }
        let v = raw.voice;
        if v.dir.trim().is_empty() {
            return Err(bad("voice.dir", "empty; give the folder of the voice clips, e.g. ../assets/voice".into()));
        }
        if !(10..=3600).contains(&v.idle_s) {
            return Err(bad("voice.idle_s", format!("{} is not between 10 and 3600 seconds", v.idle_s)));
        }
        let voice = VoiceConfig { enabled: v.enabled, dir: base.join(&v.dir), idle: Duration::from_secs(v.idle_s) };
        let logo = match &p.logo_key {
            None => None,
            Some(k) => Some(LogoKey::parse(k).map_err(|r| bad("printer.logo_key", r))?),
        };
        Ok(Config {
            source: file.to_string(),
            id,
            hall: hall.clone(),
            token: k.token,
            hall_name_zh: if k.hall_name_zh.is_empty() { hall.clone() } else { k.hall_name_zh },
            hall_name_en: if k.hall_name_en.is_empty() { hall.clone() } else { k.hall_name_en },
            server,
            priority_lane: k.priority_lane,
            language,
            orientation,
            return_home: Duration::from_secs(k.return_home_s),
            link,
            scanner,
            elder_mode: k.elder_mode,
            voice,
            printer: PrinterConfig {
                target,
                baud: p.baud,
                data_bits: p.data_bits,
                parity,
                stop_bits: p.stop_bits,
                flow_control,
                write_timeout: Duration::from_millis(p.write_timeout_ms),
                status_timeout: Duration::from_millis(p.status_timeout_ms),
                paper,
                notice: p.notice,
                status_poll: Duration::from_secs(p.status_poll_s),
                connect_timeout: Duration::from_millis(p.connect_timeout_ms),
                logo,
            },
        })
    }

    /// `--server URL` override.
    pub fn with_server(mut self, server: &str) -> Result<Config, ConfigError> {
        self.server = shared::server_url("--server", "server", server)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.id, "kiosk-east-1");
        assert_eq!(c.hall, "east");
        assert_eq!(c.token, "demo-kiosk-east");
        assert_eq!(c.server, "http://127.0.0.1:8080");
    }

    #[test]
    fn shipped_configs_are_valid() {
        for hall in ["east", "west", "central"] {
            let path = format!("{}/../config/kiosk-{hall}.toml", env!("CARGO_MANIFEST_DIR"));
            let c = Config::load(Some(Path::new(&path))).unwrap();
            assert_eq!(c.hall, hall);
            assert_eq!(c.token, format!("demo-kiosk-{hall}"));
        }
    }

    fn with(printer: &str) -> Result<Config, ConfigError> {
        let text = format!("[kiosk]\nid = \"k1\"\nhall = \"east\"\ntoken = \"t\"\n[printer]\n{printer}\n");
        Config::parse(&text, "k.toml", Path::new("."))
    }

    #[test]
    fn serial_settings_parse() {
        let c = with("port = \"/dev/ttyS1\"\nbaud = 19200\nparity = \"even\"\nstop_bits = 2\nflow_control = \"rtscts\"\ndata_bits = 7\npaper_width_mm = 58").unwrap();
        assert_eq!(c.printer.target, PrinterTarget::Serial("/dev/ttyS1".into()));
        assert_eq!(c.printer.baud, 19200);
        assert_eq!(c.printer.parity, Parity::Even);
        assert_eq!(c.printer.flow_control, FlowControl::RtsCts);
        assert_eq!(c.printer.data_bits, 7);
        assert_eq!(c.printer.paper, PaperWidth::Mm58);
        let f = with("port = \"file:/tmp/t.bin\"").unwrap();
        assert_eq!(f.printer.target, PrinterTarget::File("/tmp/t.bin".into()));
    }

    #[test]
    fn bad_values_name_file_field_and_reason() {
        let e = with("flow_control = \"dtr\"").unwrap_err().to_string();
        assert_eq!(e, "k.toml: field `printer.flow_control`: \"dtr\" is not one of \"none\", \"xonxoff\", \"rtscts\"");
        let e = with("paper_width_mm = 76").unwrap_err().to_string();
        assert_eq!(e, "k.toml: field `printer.paper_width_mm`: 76 is not 58 or 80");
        let e = with("notice = \"请找𠮷先生\"").unwrap_err().to_string();
        assert!(e.starts_with("k.toml: field `printer.notice`: character '𠮷'"), "{e}");
        let e = with("port = \"file:\"").unwrap_err().to_string();
        assert!(e.contains("printer.port"), "{e}");
        let t = |port: &str| PrinterTarget::parse(port);
        assert_eq!(t("/dev/usb/lp0"), Ok(PrinterTarget::Usb("/dev/usb/lp0".into())));
        assert_eq!(t("usb:/dev/pts/7"), Ok(PrinterTarget::Usb("/dev/pts/7".into())));
        assert_eq!(t("/dev/ttyACM0"), Ok(PrinterTarget::Serial("/dev/ttyACM0".into())));
        assert_eq!(t("tcp://192.168.1.50:9100"), Ok(PrinterTarget::Tcp("192.168.1.50:9100".into())));
        assert_eq!(t("tcp://printer-east"), Ok(PrinterTarget::Tcp("printer-east:9100".into())));
        assert_eq!(t("tcp://[fd00::50]:9100"), Ok(PrinterTarget::Tcp("[fd00::50]:9100".into())));
        assert!(t("tcp://printer:0").unwrap_err().contains("not a number"));
        assert!(t("tcp://printer:x").unwrap_err().contains("not a number"));
        assert!(t("tcp://").is_err() && t("usb:").is_err());
        assert!(t("tcp://[fd00::50").unwrap_err().contains("closing `]`"));
        let e = with("logo_key = \"LOGO\"").unwrap_err().to_string();
        assert!(e.contains("printer.logo_key") && e.contains("two printable ASCII"), "{e}");
        assert_eq!(with("logo_key = \"QC\"").unwrap().printer.logo, Some(LogoKey(*b"QC")));
        let e = with("colour = 1").unwrap_err().to_string();
        assert!(e.starts_with("k.toml: ") && e.contains("colour"), "{e}");
        let e = Config::parse("[kiosk]\nid = \"k 1\"\nhall = \"east\"\ntoken = \"t\"\n", "x.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml: field `kiosk.id`"), "{e}");
    }

    #[test]
    fn removed_keys_say_where_the_setting_lives_now() {
        let base = "[kiosk]\nid = \"k1\"\nhall = \"east\"\ntoken = \"t\"\n";
        let e = Config::parse(&format!("{base}timezone = \"Asia/Shanghai\"\n"), "k.toml", Path::new(".")).unwrap_err().to_string();
        assert!(e.starts_with("k.toml: field `kiosk.timezone`: this setting was removed") && e.contains("business_day.time_zone"), "{e}");
        let e = Config::parse(&format!("{base}public_base_url = \"http://x\"\n"), "k.toml", Path::new(".")).unwrap_err().to_string();
        assert!(e.contains("kiosk.public_base_url") && e.contains("server.public_base_url"), "{e}");
        let c = Config::parse(&format!("{base}server = \"https://q.example/\"\n[link]\nbackoff_max_ms = 5000\n"), "k.toml", Path::new(".")).unwrap();
        assert_eq!(c.server, "https://q.example");
        assert_eq!(c.link.follow.backoff.max, Duration::from_secs(5));
    }
}
