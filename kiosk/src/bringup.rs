//! Printer bring-up: `qcall-kiosk test-print` and `qcall-kiosk sample-ticket`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use qcall_client::Client;
use qcall_wire::HallInfo;

use crate::config::{Config, PrinterTarget};
use crate::escpos::{self, Layout, PaperWidth, PrinterHealth, TicketPrint};
use crate::printer;

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
        issued_at: chrono::Utc::now().with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        qr_url: hall.map(|h| h.ticket_url(0)).unwrap_or_else(|| format!("{}/t/0", cfg.server)),
        notice: cfg.printer.notice.clone(),
        appointment: None,
        overtime: false,
    }
}

/// Asks the printer's status; on a fault prints nothing and exits with status 2 naming it.
/// Otherwise prints a sample ticket (with the hall's names when the server answers).
pub fn test_print(mut cfg: Config, printer_arg: Option<&str>) -> anyhow::Result<ExitCode> {
    if let Some(p) = printer_arg {
        cfg.printer.target = PrinterTarget::parse(p).map_err(|r| anyhow::anyhow!("--printer: {r}"))?;
    }
    let mut port = printer::open(&cfg.printer)?;
    match port.status() {
        Err(fault) => {
            eprintln!("qcall-kiosk: printer fault: {fault} ({}); nothing printed", port.describe());
            return Ok(ExitCode::from(2));
        }
        Ok(PrinterHealth { paper_near_end: true }) => eprintln!("qcall-kiosk: note: paper near end / 纸将用尽"),
        Ok(_) => {}
    }
    let halls = fetch_halls(&cfg).map(|r| r.halls);
    let bytes = escpos::render(&sample_print(&cfg, halls.as_deref()), &Layout::for_paper(cfg.printer.paper));
    port.write_ticket(&bytes).with_context(|| format!("printing on {}", port.describe()))?;
    println!("printed a sample ticket: {} bytes to {}", bytes.len(), port.describe());
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
    let bytes = escpos::render(&t, &Layout::for_paper(paper));
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
