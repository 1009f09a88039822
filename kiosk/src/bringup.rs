//! Printer bring-up: `qcall-kiosk test-print` and `qcall-kiosk sample-ticket`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use qcall_client::Client;
use qcall_wire::HallInfo;

use crate::config::{Config, Language, PrinterTarget};
use crate::guide::Prompt;
use crate::voice::{Guide, Voice};
use qcall_audio::player::{Output, PlayerEvent};
use crate::escpos::{self, Layout, PaperWidth, PrinterHealth, TicketPrint};
use crate::printer::{self, PrinterPort};

/// Hall state from the server, or `None` when it cannot be reached in a few seconds.
pub fn fetch_halls(cfg: &Config) -> Option<qcall_wire::HallsResponse> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let client = Client::new(&cfg.server, &cfg.link.client_options()).ok()?;
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(4), client.halls()).await.ok()?.ok() })
}

fn sample_print(cfg: &Config, halls: Option<&[HallInfo]>) -> TicketPrint {
    let hall = halls.and_then(|h| h.iter().find(|h| h.id == cfg.hall));
    let service = hall.and_then(|h| h.services.first());
    let tz = hall.and_then(|h| h.time_zone.parse().ok()).unwrap_or(crate::controller::DEFAULT_TIME_ZONE);
    TicketPrint {
        hall_zh: hall.map(|h| h.name_zh.clone()).unwrap_or_else(|| cfg.hall.clone()),
        hall_en: hall.map(|h| h.name_en.clone()).unwrap_or_default(),
        service_zh: service.map(|s| s.name_zh.clone()).unwrap_or_else(|| "测试打印".into()),
        service_en: service.map(|s| s.name_en.clone()).unwrap_or_else(|| "Test print".into()),
        number: format!("{}000", service.map(|s| s.prefix.as_str()).unwrap_or("A")),
        priority: false,
        waiting_ahead: service.map(|s| s.waiting).unwrap_or(0),
        est_wait_s: service.map(|s| s.est_wait_s).unwrap_or(0),
        est_wait_range_s: None,
        issued_at: chrono::Utc::now().with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        qr_url: hall.map(|h| h.ticket_url(0)).unwrap_or_else(|| format!("{}/t/0", cfg.server)),
        notice: cfg.printer.notice.clone(),
        appointment: None,
        remote: false,
        overtime: false,
        unstaffed: false,
    }
}

/// Asks the printer's status; on a fault prints nothing and exits with status 2 naming it.
/// Otherwise prints a sample ticket (with the hall's names when the server answers).
pub fn test_print(mut cfg: Config, printer_arg: Option<&str>) -> anyhow::Result<ExitCode> {
    override_printer(&mut cfg, printer_arg)?;
    let mut port = printer::open(&cfg.printer)?;
    if let Err(code) = check(port.as_mut()) {
        return Ok(code);
    }
    let halls = fetch_halls(&cfg).map(|r| r.halls);
    let bytes = escpos::render(&sample_print(&cfg, halls.as_deref()), &cfg.printer.layout());
    port.write_ticket(&bytes).with_context(|| format!("printing on {}", port.describe()))?;
    println!("printed a sample ticket: {} bytes to {}", bytes.len(), port.describe());
    Ok(ExitCode::SUCCESS)
}

fn override_printer(cfg: &mut Config, printer_arg: Option<&str>) -> anyhow::Result<()> {
    if let Some(p) = printer_arg {
        cfg.printer.target = PrinterTarget::parse(p).map_err(|r| anyhow::anyhow!("--printer: {r}"))?;
    }
    Ok(())
}

/// Asks the printer's status. A fault is named (Chinese and English) and becomes exit status 2.
fn check(port: &mut dyn PrinterPort) -> Result<(), ExitCode> {
    match port.status() {
        Err(fault) => {
            eprintln!("qcall-kiosk: printer fault: {fault} ({}); nothing printed", port.describe());
            Err(ExitCode::from(2))
        }
        Ok(PrinterHealth { paper_near_end: true }) => {
            eprintln!("qcall-kiosk: note: paper near end / 纸将用尽");
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

/// `printer-setup --logo PNG`: stores the logo in the printer's non-volatile memory under `key`
/// (replacing what was there) and prints it once with a line naming the key. Tickets then print
/// it by key when `[printer] logo_key` names it.
pub fn printer_setup(mut cfg: Config, printer_arg: Option<&str>, logo: &Path, key: &str) -> anyhow::Result<ExitCode> {
    override_printer(&mut cfg, printer_arg)?;
    let key = escpos::LogoKey::parse(key).map_err(|r| anyhow::anyhow!("--key: {r}"))?;
    let bitmap = load_logo(logo, cfg.printer.paper)?;
    let bytes = setup_bytes(key, &bitmap).with_context(|| format!("{}: the logo is too large for one stored graphic", logo.display()))?;
    let mut port = printer::open(&cfg.printer)?;
    if let Err(code) = check(port.as_mut()) {
        return Ok(code);
    }
    port.write_ticket(&bytes).with_context(|| format!("storing the logo on {}", port.describe()))?;
    println!(
        "stored the logo ({}x{} dots, {} bytes) under key {:?} on {} and printed it once",
        bitmap.width,
        bitmap.height,
        bitmap.rows.len(),
        key.as_str(),
        port.describe()
    );
    println!("to print it on every ticket ({} bytes each), set in [printer]: logo_key = {:?}", escpos::nv_print(key).len(), key.as_str());
    Ok(ExitCode::SUCCESS)
}

/// What `printer-setup` sends: initialise, delete the old graphic under `key`, define the new
/// one, then print it once with a line naming the key, and cut.
pub fn setup_bytes(key: escpos::LogoKey, bitmap: &escpos::Bitmap) -> Option<Vec<u8>> {
    let mut out = vec![escpos::ESC, b'@', escpos::FS, b'&'];
    out.extend_from_slice(&escpos::nv_delete(key));
    out.extend_from_slice(&escpos::nv_define(key, bitmap)?);
    out.extend_from_slice(&escpos::align(1));
    out.extend_from_slice(&escpos::nv_print(key));
    out.extend_from_slice(&escpos::encode_lossy(&format!("标志已存入打印机 logo stored as {}", key.as_str())));
    out.push(escpos::LF);
    out.extend_from_slice(&escpos::align(0));
    out.extend_from_slice(&escpos::feed_and_cut(4));
    Some(out)
}

/// Reads a PNG into a 1-bit logo: a dot is black where the picture is dark and not transparent.
/// It must fit the paper's printable width (576 dots on 80 mm, 384 on 58 mm).
pub fn load_logo(path: &Path, paper: PaperWidth) -> anyhow::Result<escpos::Bitmap> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().with_context(|| format!("{}: not a PNG picture", path.display()))?;
    let mut buf = vec![0; reader.output_buffer_size().context("picture too large")?];
    let info = reader.next_frame(&mut buf).with_context(|| format!("{}: cannot read the picture", path.display()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let max = match paper {
        PaperWidth::Mm80 => 576,
        PaperWidth::Mm58 => 384,
    };
    if w == 0 || h == 0 || w > max || h > 1000 {
        bail!("{}: {w}x{h} dots; a logo is at most {max} dots wide on this paper and 1000 high", path.display());
    }
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => bail!("{}: indexed colours were not expanded", path.display()),
    };
    let stride = w.div_ceil(8);
    let mut rows = vec![0u8; stride * h];
    for y in 0..h {
        for x in 0..w {
            let px = &buf[(y * w + x) * channels..][..channels];
            let (lum, alpha) = match channels {
                1 => (px[0] as u32, 255),
                2 => (px[0] as u32, px[1]),
                3 => ((px[0] as u32 * 299 + px[1] as u32 * 587 + px[2] as u32 * 114) / 1000, 255),
                _ => ((px[0] as u32 * 299 + px[1] as u32 * 587 + px[2] as u32 * 114) / 1000, px[3]),
            };
            if alpha >= 128 && lum < 128 {
                rows[y * stride + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    Ok(escpos::Bitmap { width: w as u16, height: h as u16, rows })
}

/// `say`: one prompt, played through the speaker (waiting until it has been said) or rendered
/// offline through rodio into a WAV file.
pub fn say(cfg: &Config, prompt: &Prompt, language: Language, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let voice = Voice::load(&cfg.voice.dir)?;
    match out {
        Some(path) => {
            let pulled = qcall_audio::player::render_offline(voice.format(), voice.render(prompt, language));
            qcall_audio::write_wav(path, voice.format(), &pulled)?;
            let f = voice.format();
            let secs = pulled.len() as f64 / f.sample_rate as f64 / f.channels as f64;
            println!("wrote {} ({secs:.2} s, {f})", path.display());
        }
        None => {
            let (tx, rx) = std::sync::mpsc::channel();
            let guide = Guide::new(voice, Output::Device, Some(tx));
            let id = guide.say(prompt, language);
            loop {
                match rx.recv_timeout(Duration::from_secs(30)) {
                    Ok(PlayerEvent::NoDevice { reason }) => bail!("no audio device: {reason}"),
                    Ok(PlayerEvent::Finished { id: f }) if f == id => break,
                    Ok(_) => {}
                    Err(_) => bail!("the player did not finish within 30 s"),
                }
            }
            println!("said it through the default audio device");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A sample ticket's bytes (hex), read back, with its size and transmit time.
pub fn sample_ticket(cfg: Config, paper: Option<u32>) -> anyhow::Result<ExitCode> {
    let paper = match paper {
        None => cfg.printer.paper,
        Some(58) => PaperWidth::Mm58,
        Some(80) => PaperWidth::Mm80,
        Some(o) => bail!("--paper: {o} is not 58 or 80"),
    };
    let t = TicketPrint::sample(&format!("{}/t/17", cfg.server), &cfg.printer.notice);
    let bytes = escpos::render(&t, &Layout { paper, ..cfg.printer.layout() });
    println!("{}", escpos::hex(&bytes));
    println!();
    for line in escpos::describe(&bytes) {
        println!("  {line}");
    }
    println!();
    println!("bytes per ticket: {}", bytes.len());
    for baud in [9600, 19200] {
        println!("transmit time at {baud} baud (8N1, 10 bits a byte): {:.3} s", escpos::transmit_seconds(bytes.len(), baud, 10));
    }
    Ok(ExitCode::SUCCESS)
}
