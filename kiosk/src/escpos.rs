//! ESC/POS: the pure ticket renderer and the printer status protocol.
//!
//! [`render`] turns a [`TicketPrint`] into the exact bytes sent to a thermal printer. It is
//! text mode only (no raster images): a ticket is a few hundred bytes.
//!
//! Byte sequences used (see the ESC/POS reference):
//! - `ESC @` (1B 40) initialise, then always `FS &` (1C 26) Chinese mode: makers differ in the
//!   power-on default.
//! - `ESC a n` alignment, `ESC E n` bold, `GS ! n` character size (high nibble width-1,
//!   low nibble height-1).
//! - `GS ( k` (cn = 49) QR code: model 2, module size, error correction M, store, print.
//! - `GS V 66 n` feed n lines and partial cut.
//! - `DLE EOT n` (10 04 n) real-time status, answered with one byte.

use qcall_wire::WaitMinutes;
use thiserror::Error;

pub const ESC: u8 = 0x1B;
pub const GS: u8 = 0x1D;
pub const FS: u8 = 0x1C;
pub const DLE: u8 = 0x10;
pub const EOT: u8 = 0x04;
pub const LF: u8 = 0x0A;

/// The character that replaces text the printer cannot show (4-byte GB18030 characters).
pub const REPLACEMENT: char = '?';

/// Everything printed on one ticket, already in the words to print.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketPrint {
    /// e.g. `东区办税服务厅`
    pub hall_zh: String,
    pub hall_en: String,
    /// e.g. `申报纳税`
    pub service_zh: String,
    pub service_en: String,
    /// e.g. `A012`
    pub number: String,
    /// 绿色通道 ticket.
    pub priority: bool,
    pub waiting_ahead: u32,
    pub est_wait_s: u32,
    /// The estimate's likely range in seconds, when wide.
    pub est_wait_range_s: Option<[u32; 2]>,
    /// Local issue time, already formatted, e.g. `2026-11-26 09:14`.
    pub issued_at: String,
    /// The ticket's status URL, put in the QR code.
    pub qr_url: String,
    /// An appointment's slot, local, e.g. `09:30-10:00` (printed as 预约).
    pub appointment: Option<String>,
    /// A remote ticket (线上取号) checked in: printed as such.
    pub remote: bool,
    /// The wait may run into extended service (延时服务).
    pub overtime: bool,
    /// No counter serving it is open: no wait is told ("暂无窗口办理").
    pub unstaffed: bool,
    /// One short notice line at the bottom.
    pub notice: String,
}

/// Paper width of the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperWidth {
    Mm58,
    Mm80,
}

impl PaperWidth {
    /// Characters per line in font A (12×24 dots): 32 on 58 mm, 48 on 80 mm.
    pub fn columns(self) -> usize {
        match self {
            PaperWidth::Mm58 => 32,
            PaperWidth::Mm80 => 48,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub paper: PaperWidth,
    /// QR module size in dots (1–16).
    pub qr_module: u8,
    /// Lines fed before the partial cut, so the cut falls below the last line.
    pub feed_before_cut: u8,
    /// The logo stored in the printer under this key is printed at the top.
    pub logo: Option<LogoKey>,
}

impl Layout {
    pub fn for_paper(paper: PaperWidth) -> Self {
        Layout {
            paper,
            qr_module: match paper {
                PaperWidth::Mm58 => 5,
                PaperWidth::Mm80 => 6,
            },
            feed_before_cut: 4,
            logo: None,
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TextError {
    #[error("character {ch:?} (U+{code:04X}) needs 4 bytes in GB18030; thermal printers cannot print it")]
    FourByte { ch: char, code: u32 },
}

/// Encodes text for a printer in Chinese mode: ASCII stays single bytes, Chinese characters become
/// two GB18030 (GBK) bytes. Characters that GB18030 encodes in four bytes are refused.
pub fn encode_strict(text: &str) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let bytes = encode_char(ch, &mut buf);
        if bytes.len() > 2 {
            return Err(TextError::FourByte { ch, code: ch as u32 });
        }
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// Like [`encode_strict`] but replaces each 4-byte character with [`REPLACEMENT`].
/// Control characters other than line feed are dropped: text can never inject commands.
pub fn encode_lossy(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        if ch.is_control() {
            continue;
        }
        let bytes = encode_char(ch, &mut buf);
        if bytes.len() > 2 {
            out.push(REPLACEMENT as u8);
        } else {
            out.extend_from_slice(bytes);
        }
    }
    out
}

fn encode_char(ch: char, buf: &mut [u8; 4]) -> &[u8] {
    let mut s = [0u8; 4];
    let s = ch.encode_utf8(&mut s);
    // GB18030 maps every Unicode scalar value, in 1, 2 or 4 bytes.
    let (bytes, _, _) = encoding_rs::GB18030.encode(s);
    let n = bytes.len().min(4);
    buf[..n].copy_from_slice(&bytes[..n]);
    &buf[..n]
}

/// Printed width of text in font-A columns: ASCII 1, everything else 2.
pub fn text_columns(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// What a wait says when no counter serving it is open (no wait can be told).
pub const UNSTAFFED_ZH: &str = "暂无窗口办理";
pub const UNSTAFFED_EN: &str = "no counter open yet";

/// "约12分钟"; under five minutes "少于5分钟" ([`WaitMinutes`]).
pub fn wait_minutes_zh(est_wait_s: u32) -> String {
    wait_zh(est_wait_s, None)
}

/// "约12–18分钟" when the estimate has a range, else [`wait_minutes_zh`].
pub fn wait_zh(est_wait_s: u32, range: Option<[u32; 2]>) -> String {
    match WaitMinutes::of(est_wait_s, range) {
        WaitMinutes::Short => "少于5分钟".to_string(),
        WaitMinutes::About(m) => format!("约{m}分钟"),
        WaitMinutes::Between(a, b) => format!("约{a}–{b}分钟"),
    }
}

pub fn wait_en(est_wait_s: u32, range: Option<[u32; 2]>) -> String {
    match WaitMinutes::of(est_wait_s, range) {
        WaitMinutes::Short => "under 5 min".to_string(),
        WaitMinutes::About(m) => format!("about {m} min"),
        WaitMinutes::Between(a, b) => format!("about {a}–{b} min"),
    }
}

pub fn wait_minutes_en(est_wait_s: u32) -> String {
    wait_en(est_wait_s, None)
}

/// `GS ! n`: width and height multipliers 1–8.
pub fn size(width: u8, height: u8) -> [u8; 3] {
    let w = width.clamp(1, 8) - 1;
    let h = height.clamp(1, 8) - 1;
    [GS, b'!', (w << 4) | h]
}

/// `ESC a n`: 0 left, 1 centre, 2 right.
pub fn align(n: u8) -> [u8; 3] {
    [ESC, b'a', n]
}

/// `ESC E n`: bold on/off.
pub fn bold(on: bool) -> [u8; 3] {
    [ESC, b'E', on as u8]
}

/// The full `GS ( k` sequence printing `data` as a QR code (model 2, error correction M).
pub fn qr_block(data: &[u8], module: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 40);
    // Model 2.
    out.extend_from_slice(&[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]);
    // Module size.
    out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 67, module.clamp(1, 16)]);
    // Error correction level M (49).
    out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 69, 49]);
    // Store the data: pL + pH*256 = len + 3.
    let len = data.len() + 3;
    out.extend_from_slice(&[GS, b'(', b'k', (len & 0xFF) as u8, (len >> 8) as u8, 49, 80, 48]);
    out.extend_from_slice(data);
    // Print the stored symbol.
    out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 81, 48]);
    out
}

/// `GS V 66 n`: feed n lines, then partial cut.
pub fn feed_and_cut(lines: u8) -> [u8; 4] {
    [GS, b'V', 66, lines]
}

/// A key of a graphic in the printer's non-volatile memory: two printable ASCII characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoKey(pub [u8; 2]);

impl LogoKey {
    pub fn parse(s: &str) -> Result<LogoKey, String> {
        match s.as_bytes() {
            [a, b] if (32..=126).contains(a) && (32..=126).contains(b) => Ok(LogoKey([*a, *b])),
            _ => Err(format!("{s:?} is not two printable ASCII characters (e.g. \"QC\")")),
        }
    }

    pub fn as_str(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

/// A 1-bit picture, rows top to bottom, each row `width.div_ceil(8)` bytes, most significant bit
/// leftmost, 1 = black dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: u16,
    pub height: u16,
    pub rows: Vec<u8>,
}

/// `GS ( L` fn 66: deletes the graphic stored under `key` (nothing happens when there is none).
pub fn nv_delete(key: LogoKey) -> [u8; 9] {
    [GS, b'(', b'L', 4, 0, 48, 66, key.0[0], key.0[1]]
}

/// `GS ( L` fn 67: stores `bitmap` in the printer's non-volatile memory under `key`
/// (raster format, one colour). Sent once, at setup; `None` when the data does not fit one
/// command (more than 65 524 bytes).
pub fn nv_define(key: LogoKey, bitmap: &Bitmap) -> Option<Vec<u8>> {
    let len = bitmap.rows.len() + 11;
    if len > 0xFFFF {
        return None;
    }
    let mut out = Vec::with_capacity(len + 5);
    out.extend_from_slice(&[GS, b'(', b'L', (len & 0xFF) as u8, (len >> 8) as u8, 48, 67, 48, key.0[0], key.0[1], 1]);
    out.extend_from_slice(&bitmap.width.to_le_bytes());
    out.extend_from_slice(&bitmap.height.to_le_bytes());
    out.push(49);
    out.extend_from_slice(&bitmap.rows);
    Some(out)
}

/// `GS ( L` fn 69: prints the stored graphic `key` at normal size. A printer that has no
/// graphic under that key ignores the command, so the ticket prints without it.
pub fn nv_print(key: LogoKey) -> [u8; 11] {
    [GS, b'(', b'L', 6, 0, 48, 69, key.0[0], key.0[1], 1, 1]
}

/// The ESC/POS bytes of one ticket.
pub fn render(t: &TicketPrint, layout: &Layout) -> Vec<u8> {
    let cols = layout.paper.columns();
    let mut out = Vec::with_capacity(320);
    let line = |out: &mut Vec<u8>, text: &str| {
        out.extend_from_slice(&encode_lossy(text));
        out.push(LF);
    };

    out.extend_from_slice(&[ESC, b'@']);
    out.extend_from_slice(&[FS, b'&']);
    out.extend_from_slice(&align(1));

    // The bureau's logo, stored in the printer once (`printer-setup --logo`), printed by its key.
    if let Some(key) = layout.logo {
        out.extend_from_slice(&nv_print(key));
    }

    // Hall, bold, double size.
    out.extend_from_slice(&bold(true));
    out.extend_from_slice(&size(2, 2));
    line(&mut out, &t.hall_zh);
    out.extend_from_slice(&size(1, 1));
    out.extend_from_slice(&bold(false));
    line(&mut out, &t.hall_en);

    // Service.
    out.extend_from_slice(&size(1, 2));
    let service = if t.priority { format!("{}（绿色通道）", t.service_zh) } else { t.service_zh.clone() };
    line(&mut out, &service);
    out.extend_from_slice(&size(1, 1));
    line(&mut out, &t.service_en);

    // The number, in the largest size that fits the paper (at most 8×).
    let number_cols = text_columns(&t.number).max(1);
    let factor = (cols / number_cols).clamp(1, 8) as u8;
    let factor = factor.min(if layout.paper == PaperWidth::Mm58 { 5 } else { 6 });
    out.extend_from_slice(&bold(true));
    out.extend_from_slice(&size(factor, factor));
    line(&mut out, &t.number);
    out.extend_from_slice(&size(1, 1));
    out.extend_from_slice(&bold(false));

    // An appointment: its slot, bold.
    if let Some(slot) = &t.appointment {
        out.extend_from_slice(&bold(true));
        out.extend_from_slice(&size(1, 2));
        line(&mut out, &format!("预约 {slot}"));
        out.extend_from_slice(&size(1, 1));
        out.extend_from_slice(&bold(false));
        line(&mut out, &format!("Appointment {slot}"));
    }
    if t.remote {
        out.extend_from_slice(&bold(true));
        line(&mut out, "线上取号 已签到");
        out.extend_from_slice(&bold(false));
        line(&mut out, "Taken online, checked in");
    }

    // People ahead and estimate.
    if t.unstaffed {
        line(&mut out, &format!("前面还有 {} 人  {}", t.waiting_ahead, UNSTAFFED_ZH));
        line(&mut out, &format!("{} ahead, {}", t.waiting_ahead, UNSTAFFED_EN));
    } else {
        line(&mut out, &format!("前面还有 {} 人  预计等候{}", t.waiting_ahead, wait_zh(t.est_wait_s, t.est_wait_range_s)));
        line(&mut out, &format!("{} ahead, wait {}", t.waiting_ahead, wait_en(t.est_wait_s, t.est_wait_range_s)));
    }
    if t.overtime {
        line(&mut out, "等候可能进入延时服务 / may run into extended hours");
    }
    line(&mut out, &format!("取号时间 {}", t.issued_at));

    // QR code with the status URL.
    out.extend_from_slice(&qr_block(&encode_lossy(&t.qr_url), layout.qr_module));
    out.push(LF);

    line(&mut out, &t.notice);
    out.extend_from_slice(&align(0));
    out.extend_from_slice(&feed_and_cut(layout.feed_before_cut));
    out
}

/// `DLE EOT n` status requests, in the order asked before each ticket.
pub const STATUS_QUERIES: [u8; 3] = [1, 2, 4];

pub fn status_request(n: u8) -> [u8; 3] {
    [DLE, EOT, n]
}

/// What the printer said about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterHealth {
    /// Paper is running low: still prints, worth a note to staff.
    pub paper_near_end: bool,
}

/// A printer condition that stops issuing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PrinterFault {
    #[error("no printer: no answer to the status request / 打印机无响应")]
    NoReply,
    #[error("printer offline / 打印机离线")]
    Offline,
    #[error("cover open / 打印机盖未关")]
    CoverOpen,
    #[error("paper end / 缺纸")]
    PaperEnd,
    #[error("printer error / 打印机故障")]
    Error,
    #[error("printer port: {0}")]
    Port(String),
}

impl PrinterFault {
    /// Short machine-readable code reported to the server.
    pub fn code(&self) -> &'static str {
        match self {
            PrinterFault::NoReply => "no_printer",
            PrinterFault::Offline => "offline",
            PrinterFault::CoverOpen => "cover_open",
            PrinterFault::PaperEnd => "paper_end",
            PrinterFault::Error => "printer_error",
            PrinterFault::Port(_) => "port_error",
        }
    }

    /// What the kiosk screen says.
    pub fn message_zh(&self) -> &'static str {
        match self {
            PrinterFault::NoReply => "打印机无响应，请联系工作人员",
            PrinterFault::Offline => "打印机离线，请联系工作人员",
            PrinterFault::CoverOpen => "打印机盖未关，请联系工作人员",
            PrinterFault::PaperEnd => "打印机缺纸，请联系工作人员",
            PrinterFault::Error => "打印机故障，请联系工作人员",
            PrinterFault::Port(_) => "打印机连接故障，请联系工作人员",
        }
    }

    pub fn message_en(&self) -> &'static str {
        match self {
            PrinterFault::NoReply => "The printer does not answer. Please ask staff for help.",
            PrinterFault::Offline => "The printer is offline. Please ask staff for help.",
            PrinterFault::CoverOpen => "The printer cover is open. Please ask staff for help.",
            PrinterFault::PaperEnd => "The printer is out of paper. Please ask staff for help.",
            PrinterFault::Error => "The printer has a fault. Please ask staff for help.",
            PrinterFault::Port(_) => "The printer is not connected. Please ask staff for help.",
        }
    }
}

/// Whether a byte can be a real-time status answer: bits 1 and 4 are always set, bits 0 and 7
/// never (so XON 0x11, XOFF 0x13 and stray data are told apart from status).
pub fn is_status_byte(byte: u8) -> bool {
    byte & 0x93 == 0x12
}

/// The answers to `DLE EOT 1`, `2` and `4`, read together into what the printer can do.
///
/// A printer sets the offline bit of `DLE EOT 1` whenever it has stopped (cover open, paper end,
/// an error, paper fed by the button), so offline alone says little: the cause comes from
/// `DLE EOT 2` (bit 2 cover open, bit 5 stopped by paper end, bit 6 error) and `DLE EOT 4`
/// (bits 2–3 paper near end, bits 5–6 paper end). The most specific cause wins, in the order a
/// member of staff deals with them: paper end, cover open, error; offline only without a cause.
pub fn interpret(printer: u8, offline_cause: u8, paper: u8) -> Result<PrinterHealth, PrinterFault> {
    if offline_cause & 0x20 != 0 || paper & 0x60 != 0 {
        return Err(PrinterFault::PaperEnd);
    }
    if offline_cause & 0x04 != 0 {
        return Err(PrinterFault::CoverOpen);
    }
    if offline_cause & 0x40 != 0 {
        return Err(PrinterFault::Error);
    }
    if printer & 0x08 != 0 {
        return Err(PrinterFault::Offline);
    }
    Ok(PrinterHealth { paper_near_end: paper & 0x0C != 0 })
}

/// What a healthy printer answers to each status request (bits 1 and 4 always set).
pub const STATUS_OK: u8 = 0x12;

/// Reads ESC/POS bytes back into one readable line per command or text line (for bring-up,
/// measurements and test output). Text is decoded from GB18030.
pub fn describe(bytes: &[u8]) -> Vec<String> {
    let mut out = vec![];
    let mut text: Vec<u8> = vec![];
    let flush = |text: &mut Vec<u8>, out: &mut Vec<String>| {
        if !text.is_empty() {
            let (s, _, _) = encoding_rs::GB18030.decode(text);
            out.push(format!("text {:?}", s));
            text.clear();
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let (len, what): (usize, Option<String>) = match rest {
            [ESC, b'@', ..] => (2, Some("ESC @ (initialise)".into())),
            [FS, b'&', ..] => (2, Some("FS & (Chinese mode)".into())),
            [ESC, b'a', n, ..] => (3, Some(format!("ESC a {n} (align {})", ["left", "centre", "right"].get(*n as usize).unwrap_or(&"?")))),
            [ESC, b'E', n, ..] => (3, Some(format!("ESC E {n} (bold {})", if *n == 1 { "on" } else { "off" }))),
            [GS, b'!', n, ..] => (3, Some(format!("GS ! 0x{n:02X} (size {}x{})", (n >> 4) + 1, (n & 0x0F) + 1))),
            [GS, b'V', 66, n, ..] => (4, Some(format!("GS V 66 {n} (feed {n} lines, partial cut)"))),
            [GS, b'(', b'k', pl, ph, 49, f, ..] => {
                let len = *pl as usize + ((*ph as usize) << 8);
                let what = match *f {
                    65 => "QR model 2".to_string(),
                    67 => format!("QR module size {}", rest.get(7).copied().unwrap_or(0)),
                    69 => format!("QR error correction {}", ["L", "M", "Q", "H"].get(rest.get(7).map(|b| b.wrapping_sub(48) as usize).unwrap_or(9)).unwrap_or(&"?")),
                    80 => format!("QR store {:?}", String::from_utf8_lossy(&rest[8.min(rest.len())..(5 + len).min(rest.len())])),
                    81 => "QR print".to_string(),
                    _ => format!("GS ( k fn {f}"),
                };
                (5 + len, Some(format!("GS ( k: {what}")))
            }
            [GS, b'(', b'L', pl, ph, 48, f, ..] => {
                let len = *pl as usize + ((*ph as usize) << 8);
                let key = |at: usize| String::from_utf8_lossy(rest.get(at..at + 2).unwrap_or(b"??")).into_owned();
                let what = match *f {
                    66 => format!("delete NV graphic {:?}", key(7)),
                    67 => {
                        let w = rest.get(11..13).map(|b| u16::from_le_bytes([b[0], b[1]])).unwrap_or(0);
                        let h = rest.get(13..15).map(|b| u16::from_le_bytes([b[0], b[1]])).unwrap_or(0);
                        format!("define NV graphic {:?} {w}x{h} dots, {} data bytes", key(8), len.saturating_sub(11))
                    }
                    69 => format!("print NV graphic {:?}", key(7)),
                    _ => format!("fn {f}"),
                };
                (5 + len, Some(format!("GS ( L: {what}")))
            }
            [LF, ..] => {
                if text.is_empty() {
                    out.push("LF".into());
                }
                flush(&mut text, &mut out);
                (1, None)
            }
            [b, ..] => {
                text.push(*b);
                (1, None)
            }
            [] => (1, None),
        };
        if let Some(w) = what {
            flush(&mut text, &mut out);
            out.push(w);
        }
        i += len;
    }
    flush(&mut text, &mut out);
    out
}

/// Hex dump, 16 bytes a line.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(n, c)| format!("{:04x}  {}", n * 16, c.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Seconds to send `n` bytes over a serial line (start + data + parity + stop bits per byte).
pub fn transmit_seconds(n: usize, baud: u32, bits_per_byte: u32) -> f64 {
    n as f64 * bits_per_byte as f64 / baud as f64
}

impl TicketPrint {
    /// A typical ticket (A012 in the east hall, three people ahead): `sample-ticket` and tests.
    pub fn sample(qr_url: &str, notice: &str) -> TicketPrint {
        TicketPrint {
            hall_zh: "东区办税服务厅".into(),
            hall_en: "East Hall".into(),
            service_zh: "申报纳税".into(),
            service_en: "Tax filing".into(),
            number: "A012".into(),
            priority: false,
            waiting_ahead: 3,
            est_wait_s: 360,
            est_wait_range_s: None,
            issued_at: "2026-11-26 09:14".into(),
            qr_url: qr_url.into(),
            notice: notice.into(),
            appointment: None,
            remote: false,
            overtime: false,
            unstaffed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TicketPrint {
        TicketPrint::sample("http://127.0.0.1:8080/t/17", "过号请重新取号")
    }

    #[test]
    fn gb18030_bytes_of_chinese_text() {
        // 东 = B6 AB, 区 = C7 F8 in GB2312/GBK/GB18030.
        assert_eq!(encode_strict("东区").unwrap(), vec![0xB6, 0xAB, 0xC7, 0xF8]);
        assert_eq!(encode_strict("A012").unwrap(), b"A012".to_vec());
        // 申报纳税
        assert_eq!(encode_strict("申报纳税").unwrap(), vec![0xC9, 0xEA, 0xB1, 0xA8, 0xC4, 0xC9, 0xCB, 0xB0]);
    }

    #[test]
    fn four_byte_characters_are_refused_or_replaced() {
        // U+20BB7 𠮷 is a CJK Extension B character: four bytes in GB18030.
        let e = encode_strict("吉𠮷").unwrap_err();
        assert_eq!(e, TextError::FourByte { ch: '𠮷', code: 0x20BB7 });
        assert_eq!(encode_lossy("吉𠮷"), vec![0xBC, 0xAA, b'?']);
        // An emoji likewise.
        assert_eq!(encode_lossy("a😀b"), b"a?b".to_vec());
        // Control characters cannot smuggle commands into the stream.
        assert_eq!(encode_lossy("a\x1b@b\x10\x04\x02"), b"a@b".to_vec());
    }

    #[test]
    fn size_command() {
        assert_eq!(size(1, 1), [0x1D, 0x21, 0x00]);
        assert_eq!(size(4, 4), [0x1D, 0x21, 0x33]);
        assert_eq!(size(1, 2), [0x1D, 0x21, 0x01]);
        assert_eq!(size(8, 8), [0x1D, 0x21, 0x77]);
        assert_eq!(size(9, 0), [0x1D, 0x21, 0x70]);
    }

    #[test]
    fn qr_block_bytes() {
        let q = qr_block(b"http://x/t/1", 6);
        let mut expect = vec![0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00];
        expect.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06]);
        expect.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31]);
        expect.extend_from_slice(&[0x1D, 0x28, 0x6B, 15, 0x00, 0x31, 0x50, 0x30]);
        expect.extend_from_slice(b"http://x/t/1");
        expect.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]);
        assert_eq!(q, expect);
        // pL/pH split for long data.
        let long = vec![b'x'; 300];
        let q = qr_block(&long, 6);
        assert_eq!(&q[25..33], &[0x1D, 0x28, 0x6B, 0x2F, 0x01, 0x31, 0x50, 0x30]);
    }

    #[test]
    fn cut_command() {
        assert_eq!(feed_and_cut(4), [0x1D, 0x56, 0x42, 0x04]);
    }

    #[test]
    fn whole_ticket_is_byte_exact() {
        let bytes = render(&sample(), &Layout::for_paper(PaperWidth::Mm80));
        let mut e: Vec<u8> = vec![];
        e.extend_from_slice(&[0x1B, 0x40, 0x1C, 0x26, 0x1B, 0x61, 0x01]);
        e.extend_from_slice(&[0x1B, 0x45, 0x01, 0x1D, 0x21, 0x11]);
        e.extend_from_slice(&[0xB6, 0xAB, 0xC7, 0xF8, 0xB0, 0xEC, 0xCB, 0xB0, 0xB7, 0xFE, 0xCE, 0xF1, 0xCC, 0xFC, 0x0A]);
        e.extend_from_slice(&[0x1D, 0x21, 0x00, 0x1B, 0x45, 0x00]);
        e.extend_from_slice(b"East Hall\n");
        e.extend_from_slice(&[0x1D, 0x21, 0x01]);
        e.extend_from_slice(&[0xC9, 0xEA, 0xB1, 0xA8, 0xC4, 0xC9, 0xCB, 0xB0, 0x0A]);
        e.extend_from_slice(&[0x1D, 0x21, 0x00]);
        e.extend_from_slice(b"Tax filing\n");
        // A012 at 6x6 on 80 mm paper.
        e.extend_from_slice(&[0x1B, 0x45, 0x01, 0x1D, 0x21, 0x55]);
        e.extend_from_slice(b"A012\n");
        e.extend_from_slice(&[0x1D, 0x21, 0x00, 0x1B, 0x45, 0x00]);
        e.extend_from_slice(&encode_strict("前面还有 3 人  预计等候约6分钟\n").unwrap());
        e.extend_from_slice(b"3 ahead, wait about 6 min\n");
        e.extend_from_slice(&encode_strict("取号时间 2026-11-26 09:14\n").unwrap());
        e.extend_from_slice(&qr_block(b"http://127.0.0.1:8080/t/17", 6));
        e.push(0x0A);
        e.extend_from_slice(&encode_strict("过号请重新取号\n").unwrap());
        e.extend_from_slice(&[0x1B, 0x61, 0x00, 0x1D, 0x56, 0x42, 0x04]);
        assert_eq!(bytes, e);
        // Starts with ESC @ FS &, ends with the partial cut.
        assert_eq!(&bytes[..4], &[0x1B, 0x40, 0x1C, 0x26]);
        assert_eq!(&bytes[bytes.len() - 4..], &[0x1D, 0x56, 0x42, 0x04]);
        assert!(bytes.len() < 400, "a text ticket stays small: {}", bytes.len());
    }

    #[test]
    fn a_wide_estimate_prints_as_a_range() {
        let mut t = sample();
        t.est_wait_s = 900;
        t.est_wait_range_s = Some([720, 1080]);
        let bytes = render(&t, &Layout::for_paper(PaperWidth::Mm80));
        let zh = encode_strict("前面还有 3 人  预计等候约12–18分钟\n").unwrap();
        assert!(bytes.windows(zh.len()).any(|w| w == zh.as_slice()), "{:#?}", describe(&bytes));
        assert!(describe(&bytes).contains(&"text \"3 ahead, wait about 12–18 min\"".to_string()), "{:#?}", describe(&bytes));
    }

    #[test]
    fn narrow_paper_uses_smaller_number() {
        let bytes = render(&sample(), &Layout::for_paper(PaperWidth::Mm58));
        // 58 mm: 32 columns / 4 characters = 8, capped at 5x.
        let pos = bytes.windows(4).position(|w| w == b"A012").unwrap();
        assert_eq!(&bytes[pos - 3..pos], &[0x1D, 0x21, 0x44]);
        // QR module 5 on 58 mm.
        assert!(bytes.windows(8).any(|w| w == [0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x05]));
    }

    #[test]
    fn priority_ticket_says_so() {
        let mut t = sample();
        t.priority = true;
        let bytes = render(&t, &Layout::for_paper(PaperWidth::Mm80));
        let lane = encode_strict("申报纳税（绿色通道）").unwrap();
        assert!(bytes.windows(lane.len()).any(|w| w == lane.as_slice()));
    }

    #[test]
    fn status_bytes() {
        assert_eq!(status_request(2), [0x10, 0x04, 0x02]);
        assert_eq!(interpret(STATUS_OK, STATUS_OK, STATUS_OK), Ok(PrinterHealth::default()));
        // As the reference sets them: the offline bit (0x08 in DLE EOT 1) comes with every cause.
        assert_eq!(interpret(0x1A, 0x32, 0x7E), Err(PrinterFault::PaperEnd));
        assert_eq!(interpret(0x1A, 0x16, 0x12), Err(PrinterFault::CoverOpen));
        assert_eq!(interpret(0x1A, 0x52, 0x12), Err(PrinterFault::Error));
        assert_eq!(interpret(0x1A, 0x12, 0x12), Err(PrinterFault::Offline));
        // Paper end from the paper sensor alone still names the paper.
        assert_eq!(interpret(0x1A, 0x12, 0x72), Err(PrinterFault::PaperEnd));
        // Cover opened to change the roll: paper first, then the cover.
        assert_eq!(interpret(0x1A, 0x36, 0x7E), Err(PrinterFault::PaperEnd));
        assert_eq!(interpret(0x12, 0x12, 0x1E), Ok(PrinterHealth { paper_near_end: true }));
        assert_eq!(PrinterFault::PaperEnd.to_string(), "paper end / 缺纸");
        assert!(is_status_byte(0x12) && is_status_byte(0x7E) && is_status_byte(0x1A));
        assert!(!is_status_byte(0x11) && !is_status_byte(0x13) && !is_status_byte(b'A') && !is_status_byte(0x92));
    }

    #[test]
    fn logo_bytes() {
        let key = LogoKey::parse("QC").unwrap();
        assert!(LogoKey::parse("Q").is_err() && LogoKey::parse("税局").is_err());
        assert_eq!(nv_print(key), [0x1D, 0x28, 0x4C, 0x06, 0x00, 0x30, 0x45, b'Q', b'C', 0x01, 0x01]);
        assert_eq!(nv_delete(key), [0x1D, 0x28, 0x4C, 0x04, 0x00, 0x30, 0x42, b'Q', b'C']);
        // 10x2 dots: 2 bytes a row.
        let bm = Bitmap { width: 10, height: 2, rows: vec![0xFF, 0xC0, 0x80, 0x40] };
        let d = nv_define(key, &bm).unwrap();
        assert_eq!(
            d,
            vec![0x1D, 0x28, 0x4C, 15, 0, 0x30, 0x43, 0x30, b'Q', b'C', 0x01, 10, 0, 2, 0, 0x31, 0xFF, 0xC0, 0x80, 0x40]
        );
        assert_eq!(describe(&d), vec!["GS ( L: define NV graphic \"QC\" 10x2 dots, 4 data bytes".to_string()]);
        // A ticket prints it by key, right after the set-up and before the hall's name.
        let mut layout = Layout::for_paper(PaperWidth::Mm80);
        let plain = render(&sample(), &layout);
        layout.logo = Some(key);
        let with = render(&sample(), &layout);
        assert_eq!(with.len(), plain.len() + 11);
        assert_eq!(&with[7..18], &nv_print(key));
        assert_eq!(describe(&with)[3], "GS ( L: print NV graphic \"QC\"");
        assert!(with.len() < 300, "{}", with.len());
    }

    #[test]
    fn describe_reads_a_ticket_back() {
        let d = describe(&render(&sample(), &Layout::for_paper(PaperWidth::Mm80)));
        assert_eq!(d[0], "ESC @ (initialise)");
        assert_eq!(d[1], "FS & (Chinese mode)");
        assert!(d.contains(&"text \"东区办税服务厅\"".to_string()), "{d:#?}");
        assert!(d.contains(&"GS ! 0x55 (size 6x6)".to_string()));
        assert!(d.contains(&"GS ( k: QR store \"http://127.0.0.1:8080/t/17\"".to_string()), "{d:#?}");
        assert_eq!(d.last().unwrap(), "GS V 66 4 (feed 4 lines, partial cut)");
        assert!((transmit_seconds(240, 9600, 10) - 0.25).abs() < 1e-9);
    }
}
