//! `qcall-kiosk`: the kiosk window, printer bring-up and headless screenshots.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use qcall_kiosk::config::{Config, Language, Orientation};
use qcall_kiosk::escpos::PrinterFault;
use qcall_kiosk::guide::Prompt;
use qcall_kiosk::screenshot::{self, Shot};
use qcall_kiosk::{bringup, ui};

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
    #[arg(long, value_enum, default_value_t = Shot::Home, requires = "screenshot")]
    screen: Shot,
    /// Language of the screenshot.
    #[arg(long, requires = "screenshot")]
    english: bool,
    /// The screenshot in 长者模式 (switched on at home, before the ticket).
    #[arg(long, requires = "screenshot")]
    elder: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print a sample ticket (printer bring-up). Asks the printer's status first; on a fault it
    /// prints nothing and exits with status 2 naming the fault.
    TestPrint {
        /// Serial device, usb:PATH, tcp://HOST:PORT or file:PATH, overriding the config.
        #[arg(long)]
        printer: Option<String>,
    },
    /// Store the bureau's logo in the printer's non-volatile memory (once); tickets then print it
    /// by its key (`[printer] logo_key`).
    PrinterSetup {
        /// The logo: a PNG at most 576 dots wide on 80 mm paper (384 on 58 mm); dark pixels print.
        #[arg(long)]
        logo: PathBuf,
        /// The two-character key it is stored under.
        #[arg(long, default_value = "QC")]
        key: String,
        /// Serial device, usb:PATH, tcp://HOST:PORT or file:PATH, overriding the config.
        #[arg(long)]
        printer: Option<String>,
    },
    /// Speak one guidance prompt through the speaker, or render it to a WAV file (no sound card
    /// needed): a check of the voice folder and the speaker.
    Say {
        #[arg(long, value_enum)]
        prompt: SayPrompt,
        /// People ahead, for `take-ticket`.
        #[arg(long, default_value_t = 3)]
        ahead: u32,
        /// The ticket number, for `not-printed`.
        #[arg(long, default_value = "A012")]
        number: String,
        /// In English instead of Mandarin.
        #[arg(long)]
        english: bool,
        /// Write a WAV file (rendered through rodio offline) instead of playing it.
        #[arg(long, value_name = "FILE.wav")]
        out: Option<PathBuf>,
    },
    /// Show a sample ticket's ESC/POS bytes (hex), read back, with its size and transmit time.
    SampleTicket {
        /// Paper width in mm (58 or 80); default from the config.
        #[arg(long)]
        paper: Option<u32>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SayPrompt {
    ChooseService,
    TakeTicket,
    NotPrinted,
    PaperEnd,
    CoverOpen,
    PrinterError,
    Offline,
    NoPrinter,
}

impl SayPrompt {
    fn prompt(self, ahead: u32, number: &str) -> Prompt {
        match self {
            SayPrompt::ChooseService => Prompt::ChooseService,
            SayPrompt::TakeTicket => Prompt::TakeTicket { ahead },
            SayPrompt::NotPrinted => Prompt::NotPrinted { number: number.to_string() },
            SayPrompt::PaperEnd => Prompt::Fault(PrinterFault::PaperEnd),
            SayPrompt::CoverOpen => Prompt::Fault(PrinterFault::CoverOpen),
            SayPrompt::PrinterError => Prompt::Fault(PrinterFault::Error),
            SayPrompt::Offline => Prompt::Fault(PrinterFault::Offline),
            SayPrompt::NoPrinter => Prompt::Fault(PrinterFault::NoReply),
        }
    }
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

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
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
    match (&cli.command, &cli.screenshot) {
        (Some(Cmd::TestPrint { printer }), _) => bringup::test_print(cfg, printer.as_deref()),
        (Some(Cmd::PrinterSetup { logo, key, printer }), _) => bringup::printer_setup(cfg, printer.as_deref(), logo, key),
        (Some(Cmd::Say { prompt, ahead, number, english, out }), _) => {
            let language = if *english { Language::En } else { Language::Zh };
            bringup::say(&cfg, &prompt.prompt(*ahead, number), language, out.as_deref())
        }
        (Some(Cmd::SampleTicket { paper }), _) => bringup::sample_ticket(cfg, *paper),
        (None, Some(out)) => {
            screenshot::screenshot(cfg, out, cli.screen, cli.english, cli.elder)
        }
        (None, None) => {
            tracing::info!(config = %cfg.source, server = %cfg.server, hall = %cfg.hall, "kiosk starting");
            ui::run_window(cfg, cli.fullscreen)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
