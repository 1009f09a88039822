//! `qcall-kiosk`: the kiosk window, printer bring-up and headless screenshots.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use qcall_kiosk::api::Api;
use qcall_kiosk::config::{Config, Orientation, PrinterTarget};
use qcall_kiosk::controller::{Controller, Event};
use qcall_kiosk::escpos::{self, Layout, PaperWidth, PrinterHealth, TicketPrint};
use qcall_kiosk::{printer, ui};
use qcall_wire::{HallInfo, Priority, Ticket, TicketState};

#[derive(Parser)]
#[command(name = "qcall-kiosk", version, about = "qcall kiosk (取号机): issues tickets and prints them on an ESC/POS printer")]
struct Cli {
    /// Kiosk config (TOML). Default: the embedded config/kiosk-east.toml.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Server base URL, overriding the config (e.g. http://127.0.0.1:8080).
    #[arg(long, global = true)]
    server: Option<String>,
    /// Portrait screen (1080x1920), overriding the config.
    #[arg(long, conflicts_with = "landscape")]
    portrait: bool,
    /// Landscape screen (1920x1080), overriding the config.
    #[arg(long)]
    landscape: bool,
    /// Full screen window (for the kiosk itself).
    #[arg(long)]
    fullscreen: bool,
    /// Render the screen to this PNG with the software renderer and exit (no display needed).
    #[arg(long, value_name = "OUT.png")]
    screenshot: Option<PathBuf>,
    /// Which screen `--screenshot` renders; `ticket` shows a sample ticket (nothing is issued).
    #[arg(long, value_enum, default_value_t = ScreenArg::Home, requires = "screenshot")]
    screen: ScreenArg,
    /// Language of the screenshot.
    #[arg(long, requires = "screenshot")]
    english: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ScreenArg {
    Home,
    Printing,
    Ticket,
    /// The ticket screen after the printer failed: the number is all the taxpayer has.
    TicketNotPrinted,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print a sample ticket (printer bring-up). Asks the printer's status first; on a fault it
    /// prints nothing and exits with status 2 naming the fault.
    TestPrint {
        /// Serial device or file:PATH, overriding the config.
        #[arg(long)]
        printer: Option<String>,
    },
    /// Show a sample ticket's ESC/POS bytes (hex), read back, with its size and transmit time.
    SampleTicket {
        /// Paper width in mm (58 or 80); default from the config.
        #[arg(long)]
        paper: Option<u32>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("qcall-kiosk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(cli: &Cli) -> anyhow::Result<Config> {
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(s) = &cli.server {
        cfg = cfg.with_server(s)?;
    }
    if cli.portrait {
        cfg.orientation = Orientation::Portrait;
    }
    if cli.landscape {
        cfg.orientation = Orientation::Landscape;
    }
    Ok(cfg)
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let cfg = load(&cli)?;
    match &cli.command {
        Some(Cmd::TestPrint { printer }) => test_print(cfg, printer.as_deref()),
        Some(Cmd::SampleTicket { paper }) => sample_ticket(cfg, *paper),
        None => match &cli.screenshot {
            Some(out) => screenshot(cfg, out, cli.screen, cli.english),
            None => {
                tracing::info!(config = %cfg.source, server = %cfg.server, hall = %cfg.hall, "kiosk starting");
                ui::run_window(cfg, cli.fullscreen)?;
                Ok(ExitCode::SUCCESS)
            }
        },
    }
}

/// Hall state from the server, or `None` when it cannot be reached in a few seconds.
fn fetch_halls(cfg: &Config) -> Option<Vec<HallInfo>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let api = Api::new(&cfg.server, &cfg.token).ok()?;
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(4), api.halls()).await.ok()?.ok() }).map(|r| r.halls)
}

fn sample_print(cfg: &Config, halls: Option<&[HallInfo]>) -> TicketPrint {
    let hall = halls.and_then(|h| h.iter().find(|h| h.id == cfg.hall));
    let service = hall.and_then(|h| h.services.first());
    TicketPrint {
        hall_zh: hall.map(|h| h.name_zh.clone()).unwrap_or_else(|| cfg.hall.clone()),
        hall_en: hall.map(|h| h.name_en.clone()).unwrap_or_default(),
        service_zh: service.map(|s| s.name_zh.clone()).unwrap_or_else(|| "测试打印".into()),
        service_en: service.map(|s| s.name_en.clone()).unwrap_or_else(|| "Test print".into()),
        number: format!("{}000", service.map(|s| s.prefix.as_str()).unwrap_or("A")),
        priority: false,
        waiting_ahead: service.map(|s| s.waiting).unwrap_or(0),
        est_wait_s: service.map(|s| s.est_wait_s).unwrap_or(0),
        issued_at: chrono::Utc::now().with_timezone(&cfg.timezone).format("%Y-%m-%d %H:%M").to_string(),
        qr_url: format!("{}/t/0", cfg.public_base_url),
        notice: cfg.printer.notice.clone(),
    }
}

fn test_print(mut cfg: Config, printer_arg: Option<&str>) -> anyhow::Result<ExitCode> {
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
    let halls = fetch_halls(&cfg);
    let bytes = escpos::render(&sample_print(&cfg, halls.as_deref()), &Layout::for_paper(cfg.printer.paper));
    port.write_ticket(&bytes).with_context(|| format!("printing on {}", port.describe()))?;
    println!("printed a sample ticket: {} bytes to {}", bytes.len(), port.describe());
    Ok(ExitCode::SUCCESS)
}

fn sample_ticket(cfg: Config, paper: Option<u32>) -> anyhow::Result<ExitCode> {
    let paper = match paper {
        None => cfg.printer.paper,
        Some(58) => PaperWidth::Mm58,
        Some(80) => PaperWidth::Mm80,
        Some(o) => bail!("--paper: {o} is not 58 or 80"),
    };
    let t = TicketPrint {
        hall_zh: "东区办税服务厅".into(),
        hall_en: "East Hall".into(),
        service_zh: "申报纳税".into(),
        service_en: "Tax filing".into(),
        number: "A012".into(),
        priority: false,
        waiting_ahead: 3,
        est_wait_s: 360,
        issued_at: "2026-11-26 09:14".into(),
        qr_url: format!("{}/t/17", cfg.public_base_url),
        notice: cfg.printer.notice.clone(),
    };
    let bytes = escpos::render(&t, &Layout::for_paper(paper));
    println!("{}", escpos::hex(&bytes));
    println!();
    for line in escpos::describe(&bytes) {
        println!("  {line}");
    }
    println!();
    println!("bytes per ticket: {}", bytes.len());
    for baud in [9600, 19200] {
        println!(
            "transmit time at {baud} baud (8N1, 10 bits a byte): {:.3} s",
            escpos::transmit_seconds(bytes.len(), baud, 10)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn screenshot(cfg: Config, out: &std::path::Path, screen: ScreenArg, english: bool) -> anyhow::Result<ExitCode> {
    let orientation = cfg.orientation;
    let halls = fetch_halls(&cfg);
    let mut port = printer::open(&cfg.printer)?;
    let status = port.status();
    drop(port);
    let now = chrono::Utc::now();
    let mut c = Controller::new(cfg.clone(), now);
    let _ = c.start();
    match &halls {
        Some(h) => {
            c.handle(Event::Snapshot(h.clone()), now);
        }
        None => {
            c.handle(Event::Disconnected, now);
        }
    }
    c.handle(Event::PrinterChecked(status.clone()), now);
    if english {
        c.handle(Event::ToggleLanguage, now);
    }
    let mut source = match &halls {
        Some(_) => format!("live data from {}", cfg.server),
        None => format!("server {} unreachable: 系统连接中断 shown", cfg.server),
    };
    if let Err(f) = &status {
        source.push_str(&format!("; printer fault: {f}"));
    }
    if screen != ScreenArg::Home {
        let service = halls
            .as_ref()
            .and_then(|h| h.iter().find(|h| h.id == cfg.hall))
            .and_then(|h| h.services.first().cloned())
            .context("the ticket screen needs the server's hall state")?;
        // Drive the controller as a tap would, with a sample ticket (nothing is issued).
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), now);
        c.handle(Event::Tap { service: service.id.clone(), fresh_request_id: "screenshot".into() }, now);
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), now);
        if matches!(screen, ScreenArg::Ticket | ScreenArg::TicketNotPrinted) {
            let ticket = Ticket {
                id: 0,
                number: format!("{}{:03}", service.prefix, service.waiting + 1),
                hall: cfg.hall.clone(),
                service: service.id.clone(),
                priority: Priority::Normal,
                state: TicketState::Waiting,
                day: now.with_timezone(&cfg.timezone).format("%Y-%m-%d").to_string(),
                issued_at: now,
                waiting_ahead: service.waiting,
                est_wait_s: service.est_wait_s,
                counter: None,
                counter_number: None,
                call_count: 0,
                transferred: false,
            };
            c.handle(Event::Issued(Ok(ticket)), now);
            if screen == ScreenArg::TicketNotPrinted {
                c.handle(Event::Printed(Err(escpos::PrinterFault::PaperEnd)), now);
            } else {
                c.handle(Event::Printed(Ok(())), now);
            }
            source.push_str("; sample ticket, nothing issued");
        }
    }
    let view = c.view();
    let (w, h, rgba) = ui::render_headless(&view, orientation)?;
    ui::write_png(out, w, h, &rgba)?;
    println!("wrote {} ({w}x{h}, {source})", out.display());
    Ok(ExitCode::SUCCESS)
}
