//! The Slint side: the generated window, applying a [`ViewModel`] to the `HallAdapter` global
//! (the one place Rust touches the UI), the live window, and a headless software renderer for
//! screenshots and measurements.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
pub use qcall_screen::Frame;
use slint::{ComponentHandle, ModelRc, PhysicalSize, SharedString, VecModel};
use thiserror::Error;
use tracing::{info, warn};

use crate::config::Config;
use crate::controller::{Controller, Input, ViewModel};
use crate::net::NetWorker;
use crate::player::{Announcer, Output, PlayerEvent};

slint::include_modules!();

#[derive(Debug, Error)]
pub enum UiError {
    #[error("window system: {0}")]
    Platform(#[from] slint::PlatformError),
    #[error(transparent)]
    Screen(#[from] qcall_screen::ScreenError),
    #[error("event loop: {0}")]
    EventLoop(#[from] slint::EventLoopError),
}

/// Sets every adapter property from `vm`; list models are replaced only when they changed.
pub fn apply(app: &AppWindow, vm: &ViewModel, prev: Option<&ViewModel>) {
    let a = app.global::<HallAdapter>();
    let s = |x: &str| SharedString::from(x);
    a.set_hall_name(s(&vm.hall_name));
    a.set_hall_name_en(s(&vm.hall_name_en));
    a.set_date_text(s(&vm.date_text));
    a.set_clock_text(s(&vm.clock_text));
    a.set_has_call(vm.has_call);
    a.set_latest_ticket(s(&vm.latest_ticket));
    a.set_latest_counter(s(&vm.latest_counter));
    a.set_latest_zh(s(&vm.latest_zh));
    a.set_latest_en(s(&vm.latest_en));
    a.set_highlight(vm.highlight);
    a.set_ticker_text(s(&vm.ticker_text));
    a.set_connected(vm.connected);
    a.set_connection_text(s(&vm.connection_text));
    if prev.is_none_or(|p| p.recent != vm.recent) {
        let rows: Vec<RecentRow> =
            vm.recent.iter().map(|r| RecentRow { counter: s(&r.counter), ticket: s(&r.ticket), appointment: r.appointment, priority: r.priority }).collect();
        a.set_recent(ModelRc::new(VecModel::from(rows)));
    }
    if prev.is_none_or(|p| p.waiting != vm.waiting) {
        let rows: Vec<WaitingRow> = vm
            .waiting
            .iter()
            .map(|r| WaitingRow {
                prefix: s(&r.prefix),
                name: s(&r.name),
                name_en: s(&r.name_en),
                waiting: r.waiting.min(i32::MAX as u32) as i32,
                wait: s(&r.wait),
            })
            .collect();
        a.set_waiting(ModelRc::new(VecModel::from(rows)));
    }
}

/// Controller plus announcer: what the UI thread does with each input.
pub struct Shell {
    pub controller: Controller,
    pub announcer: Option<Announcer>,
    last_view: Option<ViewModel>,
}

impl Shell {
    pub fn new(controller: Controller, announcer: Option<Announcer>) -> Shell {
        Shell { controller, announcer, last_view: None }
    }

    /// Feeds one input; announcements are queued. Returns the ids of queued announcements.
    pub fn input(&mut self, input: Input, now: chrono::DateTime<Utc>) -> Vec<u64> {
        let mut ids = Vec::new();
        for effect in self.controller.handle(input, now) {
            let crate::controller::Effect::Announce { ticket, counter_number } = effect;
            info!(%ticket, counter_number, "call");
            if let Some(a) = &self.announcer {
                match a.announce(&ticket, counter_number) {
                    Ok(id) => ids.push(id),
                    Err(e) => warn!(error = %e, %ticket, "cannot announce"),
                }
            }
        }
        ids
    }

    /// Puts the current view on screen.
    pub fn show(&mut self, app: &AppWindow, now: chrono::DateTime<Utc>) {
        let vm = self.controller.view(now);
        if self.last_view.as_ref() != Some(&vm) {
            apply(app, &vm, self.last_view.as_ref());
            self.last_view = Some(vm);
        }
    }
}

/// Builds the shell (controller and, when enabled, the announcer on the audio device).
pub fn shell_for(
    cfg: &Config,
    output: Output,
    events: Option<std::sync::mpsc::Sender<crate::player::PlayerEvent>>,
) -> Result<Shell, crate::voice::VoiceError> {
    let controller = Controller::new(cfg.controller_settings());
    let announcer = if cfg.announce_enabled {
        Some(Announcer::new(&cfg.voice_dir, cfg.announce.clone(), output, events)?)
    } else {
        None
    };
    Ok(Shell::new(controller, announcer))
}

/// Runs the hall screen in a window until it is closed. The player's events become the
/// display's device status.
///
/// Uses winit with Slint's software renderer (cheap for this screen, needs no GPU) unless
/// `SLINT_BACKEND` picks another.
pub fn run_window(cfg: &Config, shell: Shell, player_events: Option<std::sync::mpsc::Receiver<PlayerEvent>>) -> Result<(), UiError> {
    if std::env::var_os("SLINT_BACKEND").is_none() {
        slint::BackendSelector::new().backend_name("winit".into()).renderer_name("software".into()).select()?;
    }
    let app = AppWindow::new()?;
    if cfg.fullscreen {
        app.window().set_fullscreen(true);
    } else {
        app.window().set_size(PhysicalSize::new(cfg.width, cfg.height));
    }
    let shell = Arc::new(Mutex::new(shell));
    shell.lock().expect("shell lock").show(&app, Utc::now());

    let worker = {
        let weak = app.as_weak();
        let shell = shell.clone();
        NetWorker::spawn(cfg.link_settings(), move |input: Input| {
            let weak = weak.clone();
            let shell = shell.clone();
            let _ = slint::invoke_from_event_loop(move || {
                if let Some(app) = weak.upgrade() {
                    let mut sh = shell.lock().expect("shell lock");
                    let now = Utc::now();
                    sh.input(input, now);
                    sh.show(&app, now);
                }
            });
        })
    };
    let _status = player_events.and_then(|rx| crate::status::forward(rx, worker.reporter()));

    // Clock, highlight expiry.
    let clock = slint::Timer::default();
    {
        let weak = app.as_weak();
        let shell = shell.clone();
        clock.start(slint::TimerMode::Repeated, Duration::from_millis(250), move || {
            if let Some(app) = weak.upgrade() {
                shell.lock().expect("shell lock").show(&app, Utc::now());
            }
        });
    }
    // Ticker at 30 frames per second; the offset wraps once the text has gone round, so it
    // stays precise however long the screen runs.
    let ticker = slint::Timer::default();
    {
        let weak = app.as_weak();
        let mut last = Instant::now();
        let mut phase = 0f64;
        let speed = cfg.ticker_speed as f64;
        ticker.start(slint::TimerMode::Repeated, Duration::from_millis(33), move || {
            if let Some(app) = weak.upgrade() {
                let now = Instant::now();
                phase = ticker_phase(phase, (now - last).as_secs_f64() * speed, app.global::<HallAdapter>().get_ticker_cycle());
                last = now;
                app.global::<HallAdapter>().set_ticker_offset(phase as f32);
            }
        });
    }
    app.run()?;
    drop(worker);
    Ok(())
}

/// The ticker's next offset: `phase` moved by `step`, wrapped by `cycle` (unknown when 0).
pub fn ticker_phase(phase: f64, step: f64, cycle: f32) -> f64 {
    let next = phase + step;
    if cycle > 1.0 {
        next % cycle as f64
    } else {
        next
    }
}

/// The hall screen on Slint's software renderer with no window system (one per process).
pub struct Headless {
    screen: qcall_screen::Headless,
    pub app: AppWindow,
}

impl Headless {
    pub fn new(width: u32, height: u32) -> Result<Headless, UiError> {
        let screen = qcall_screen::Headless::install(width, height)?;
        let app = AppWindow::new()?;
        app.show()?;
        Ok(Headless { screen, app })
    }

    /// Moves the renderer's clock forward (finishes running animations).
    pub fn advance(&self, d: Duration) {
        self.screen.advance(d);
    }

    /// Renders a frame if anything changed since the last one; returns whether it drew.
    pub fn draw_if_needed(&mut self) -> bool {
        self.screen.draw_if_needed()
    }

    /// Renders a full frame now.
    pub fn frame(&mut self) -> Frame {
        self.screen.frame()
    }
}

#[derive(Debug, Error)]
pub enum ScreenshotError {
    #[error("no snapshot from {url} within {secs} s: is the qcall server running there?")]
    NotSynced { url: String, secs: u64 },
    #[error(transparent)]
    Ui(#[from] UiError),
}

/// `--screenshot`: connects, syncs with the hall's snapshot, follows the stream for `follow`
/// more, renders one frame at the configured size and writes it as PNG.
pub fn screenshot(cfg: &Config, out: &std::path::Path, follow: Duration) -> Result<(), ScreenshotError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = NetWorker::spawn(cfg.link_settings(), move |i| {
        let _ = tx.send(i);
    });
    let mut controller = Controller::new(cfg.controller_settings());
    let sync_limit = Duration::from_secs(10);
    let deadline = Instant::now() + sync_limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(input) => {
                let snapshot = matches!(&input, Input::Message(m) if m.is_snapshot());
                controller.handle(input, Utc::now());
                if snapshot {
                    break;
                }
            }
            Err(_) => {
                return Err(ScreenshotError::NotSynced { url: cfg.server.clone(), secs: sync_limit.as_secs() })
            }
        }
    }
    let end = Instant::now() + follow;
    while let Ok(input) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        controller.handle(input, Utc::now());
    }
    drop(worker);
    let mut h = Headless::new(cfg.width, cfg.height)?;
    apply(&h.app, &controller.view(Utc::now()), None);
    // Start the ticker text just inside the left edge.
    let design_width = cfg.width as f32 * 1080.0 / cfg.height as f32;
    h.app.global::<HallAdapter>().set_ticker_offset(design_width - 30.0);
    h.advance(Duration::from_secs(1));
    h.frame().write_png(out).map_err(UiError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ticker_phase;

    #[test]
    fn ticker_offset_wraps_once_round() {
        assert_eq!(ticker_phase(2700.0, 200.0, 2780.0), 120.0);
        assert_eq!(ticker_phase(100.0, 5.0, 0.0), 105.0, "no wrap before the view reports the cycle");
    }
}
