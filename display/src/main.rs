//! `qcall-display`: the hall TV.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use qcall_display::announce;
use qcall_display::bench::{self, BenchOptions};
use qcall_display::config::Config;
use qcall_display::player::{self, Output, PlayerEvent};
use qcall_display::ui;
use qcall_display::voice::{self, ClipBank};

#[derive(Parser)]
#[command(name = "qcall-display", version, about = "qcall hall display (大屏): live calls, waiting counts, publicity ticker and voice")]
struct Cli {
    /// Display config (TOML); without it the embedded config/display-east.toml is used.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Server address, e.g. http://127.0.0.1:8080 (overrides the config's `server`).
    #[arg(long, global = true)]
    server: Option<String>,
    /// Connect, sync, render one frame to this PNG file with the software renderer and exit.
    #[arg(long, value_name = "OUT.png")]
    screenshot: Option<PathBuf>,
    /// With --screenshot: keep following the stream this many seconds before rendering.
    #[arg(long, default_value_t = 0.0, requires = "screenshot")]
    follow: f64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Speak one announcement (the sound check), or write it to a WAV file.
    Announce {
        #[arg(long)]
        ticket: String,
        #[arg(long)]
        counter: u32,
        /// Write the announcement to this WAV file instead of playing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate the config and the voice clips, then print the effective settings.
    CheckConfig,
    /// Measure call-to-display latency over N calls against a running server.
    BenchLatency {
        #[arg(long, default_value_t = 100)]
        calls: usize,
        /// Counter that calls (in the configured hall).
        #[arg(long, default_value = "E01")]
        counter: String,
        /// Clerk who signs in at the counter.
        #[arg(long, default_value = "clerk01")]
        clerk: String,
        #[arg(long, default_value = "1234")]
        pin: String,
        /// Kiosk token used to issue the tickets.
        #[arg(long, default_value = "demo-kiosk-east")]
        kiosk_token: String,
        #[arg(long, default_value = "filing")]
        service: String,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(server) = &cli.server {
        let text = format!("server = {server:?}\nhall = {:?}\n", cfg.hall);
        let checked = Config::parse(&text, "--server", std::path::Path::new("."))?;
        cfg.server = checked.server;
    }

    if let Some(out) = &cli.screenshot {
        ui::screenshot(&cfg, out, Duration::from_secs_f64(cli.follow.max(0.0)))?;
        println!("{}", out.display());
        return Ok(());
    }

    match cli.command {
        None => {
            let (tx, rx) = mpsc::channel();
            let shell = ui::shell_for(&cfg, Output::Device, Some(tx))
                .with_context(|| format!("loading voice clips from {}", cfg.voice_dir.display()))?;
            ui::run_window(&cfg, shell, Some(rx))?;
        }
        Some(Command::CheckConfig) => {
            let bank = ClipBank::load(&cfg.voice_dir)?;
            println!("{cfg:#?}");
            println!("voice clips: {} ({})", bank.dir.display(), bank.format);
        }
        Some(Command::Announce { ticket, counter, out }) => {
            let bank = ClipBank::load(&cfg.voice_dir)?;
            let a = announce::build(&ticket, counter, &cfg.announce)?;
            let samples = bank.render(&a);
            let secs = samples.len() as f64 / bank.format.sample_rate as f64 / bank.format.channels as f64;
            let clips: Vec<String> = a.clips().iter().map(|c| c.name()).collect();
            println!("{}: {} ({} clips, {secs:.2} s)", announce::zh_line(&ticket, counter), clips.join(" "), clips.len());
            match out {
                Some(path) => {
                    let pulled = player::render_offline(bank.format, samples);
                    voice::write_wav(&path, bank.format, &pulled)?;
                    println!("{}", path.display());
                }
                None => {
                    let (tx, rx) = mpsc::channel();
                    let p = player::Player::spawn(Output::Device, Some(tx));
                    let id = p.play(bank.format, samples);
                    let limit = Duration::from_secs_f64(secs + 10.0);
                    loop {
                        match rx.recv_timeout(limit) {
                            Ok(PlayerEvent::Finished { id: f }) if f == id => break,
                            Ok(PlayerEvent::NoDevice { reason }) => {
                                bail!("no audio device ({reason}); write the announcement with --out file.wav")
                            }
                            Ok(_) => {}
                            Err(_) => bail!("the announcement did not finish playing within {limit:?}"),
                        }
                    }
                    // Let the device drain its buffer.
                    std::thread::sleep(Duration::from_millis(300));
                }
            }
        }
        Some(Command::BenchLatency { calls, counter, clerk, pin, kiosk_token, service }) => {
            let report = bench::run(&cfg, &BenchOptions { calls, counter, clerk, pin, kiosk_token, service })?;
            print!("{report}");
        }
    }
    Ok(())
}
