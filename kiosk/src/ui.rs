//! The Slint side: copying the [`View`] into the window's adapters, wiring callbacks in one
//! place, the windowed kiosk, and headless rendering (`qcall-screen`).

use std::sync::{Arc, Mutex, OnceLock};

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use thiserror::Error;

use crate::config::{Config, Orientation};
use crate::controller::{Command, Controller, Event, Screen, Severity, View};
use crate::printer;
use crate::voice::{Guide, Voice};
use qcall_audio::player::Output;
use crate::worker::{new_request_id, Sink, Worker};

/// The code Slint generates from `kiosk/ui/kiosk.slint`.
mod generated {
    #![allow(clippy::todo)]
    slint::include_modules!();
}
pub use generated::*;

#[derive(Debug, Error)]
pub enum UiError {
    #[error("window system: {0}")]
    Platform(String),
}

impl From<slint::PlatformError> for UiError {
    fn from(e: slint::PlatformError) -> Self {
        UiError::Platform(e.to_string())
    }
}

fn services_model(view: &View) -> ModelRc<ServiceItem> {
    let items: Vec<ServiceItem> = view
        .services
        .iter()
        .map(|s| ServiceItem {
            id: s.id.as_str().into(),
            prefix: s.prefix.as_str().into(),
            title: s.title.as_str().into(),
            subtitle: s.subtitle.as_str().into(),
            waiting: s.waiting.as_str().into(),
            wait: s.wait.as_str().into(),
            enabled: s.enabled,
            others: ModelRc::new(VecModel::from(
                s.others.iter().map(|o| OtherHall { name: o.name.as_str().into(), text: o.text.as_str().into() }).collect::<Vec<_>>(),
            )),
        })
        .collect();
    ModelRc::new(VecModel::from(items))
}

/// Copies `view` into the window. `last` is the previously applied view: the service list is
/// only rebuilt when it changed (so a button being pressed is not recreated under a finger).
pub fn apply(win: &KioskWindow, view: &View, last: Option<&View>, orientation: Orientation) {
    let k = win.global::<KioskAdapter>();
    k.set_screen(match view.screen {
        Screen::Home => 0,
        Screen::Printing => 1,
        Screen::Ticket => 2,
        Screen::CheckIn => 3,
        Screen::Phone => 4,
    });
    k.set_en(view.en);
    k.set_elder_button(view.elder_button);
    k.set_elder(view.elder);
    k.set_portrait(orientation == Orientation::Portrait);
    k.set_hall_title(view.hall_title.as_str().into());
    k.set_hall_subtitle(view.hall_subtitle.as_str().into());
    k.set_clock(view.clock.as_str().into());
    match &view.banner {
        Some(b) => {
            k.set_banner(b.text.as_str().into());
            k.set_banner_severity(match b.severity {
                Severity::Info => 0,
                Severity::Warning => 1,
                Severity::Error => 2,
            });
        }
        None => k.set_banner(SharedString::new()),
    }
    let h = win.global::<HomeAdapter>();
    if last.map(|l| &l.services) != Some(&view.services) {
        h.set_services(services_model(view));
    }
    h.set_priority_lane(view.priority_lane);
    h.set_priority_mode(view.priority_mode);
    h.set_issuing_enabled(view.issuing_enabled);
    h.set_appointments(view.appointments);
    h.set_check_in_enabled(view.check_in_enabled);
    if let Some(c) = &view.check_in {
        let a = win.global::<CheckInAdapter>();
        a.set_input(c.input.as_str().into());
        a.set_note(c.note.as_str().into());
        a.set_note_hint(c.note_hint);
    }
    let t = win.global::<TicketAdapter>();
    t.set_printing(view.screen == Screen::Printing);
    if let Some(tv) = &view.ticket {
        t.set_headline(tv.headline.as_str().into());
        t.set_number(tv.number.as_str().into());
        t.set_service(tv.service.as_str().into());
        t.set_ahead(tv.ahead.as_str().into());
        t.set_wait(tv.wait.as_str().into());
        t.set_print_failed(tv.print_failed.as_str().into());
        t.set_priority(tv.priority);
        t.set_countdown(tv.countdown as i32);
        t.set_appointment(tv.appointment.as_str().into());
        t.set_overtime(tv.overtime.as_str().into());
        t.set_has_qr(!tv.qr_url.is_empty());
        t.set_qr(qr_image(&tv.qr_url));
        t.set_phone_offer(tv.phone_offer.as_str().into());
        t.set_phone_left(tv.phone_left.as_str().into());
    }
    // The number typed is copied while the screen is up, and cleared with it.
    let p = win.global::<PhoneAdapter>();
    let pv = view.phone.clone().unwrap_or_default();
    p.set_title(pv.title.as_str().into());
    p.set_purpose(pv.purpose.as_str().into());
    p.set_number_label(pv.number_label.as_str().into());
    p.set_number(pv.number.as_str().into());
    p.set_input(pv.input.as_str().into());
    p.set_placeholder(pv.placeholder.as_str().into());
    p.set_keys_enabled(pv.keys_enabled);
    p.set_can_submit(pv.can_submit);
    p.set_can_close(pv.can_close);
    p.set_note(pv.note.as_str().into());
    p.set_sending(pv.sending);
    p.set_done(pv.done.as_str().into());
    p.set_done_hint(pv.done_hint.as_str().into());
    p.set_submit_label(pv.submit_label.as_str().into());
    p.set_clear_label(pv.clear_label.as_str().into());
    p.set_close_label(pv.close_label.as_str().into());
}

/// The QR code of `url` as an image, one pixel a module with a 4-module quiet zone (the view
/// scales it up without smoothing); the last one is kept, as the ticket screen asks every second.
fn qr_image(url: &str) -> slint::Image {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(String, slint::Image)>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        if let Some((_, img)) = last.borrow().as_ref().filter(|(u, _)| u == url) {
            return img.clone();
        }
        let img = match qrcode::QrCode::new(url.as_bytes()) {
            Ok(code) if !url.is_empty() => {
                let w = code.width();
                let side = w + 8;
                let mut buf = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(side as u32, side as u32);
                let white = slint::Rgb8Pixel { r: 255, g: 255, b: 255 };
                let black = slint::Rgb8Pixel { r: 0, g: 0, b: 0 };
                let px = buf.make_mut_slice();
                px.fill(white);
                for (i, c) in code.to_colors().into_iter().enumerate() {
                    if c == qrcode::Color::Dark {
                        px[(i / w + 4) * side + i % w + 4] = black;
                    }
                }
                slint::Image::from_rgb8(buf)
            }
            _ => slint::Image::default(),
        };
        *last.borrow_mut() = Some((url.to_string(), img.clone()));
        img
    })
}

/// The controller living next to the window; every event goes through [`Shell::dispatch`].
struct Shell {
    controller: Mutex<Controller>,
    last: Mutex<Option<View>>,
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    window: slint::Weak<KioskWindow>,
    orientation: Orientation,
}

impl Shell {
    /// Runs on the UI thread.
    fn dispatch(&self, ev: Event) {
        let (cmds, view) = {
            let Ok(mut c) = self.controller.lock() else { return };
            let cmds = c.handle(ev, chrono::Utc::now());
            (cmds, c.view())
        };
        for cmd in cmds {
            let _ = self.commands.send(cmd);
        }
        if let Some(win) = self.window.upgrade() {
            let Ok(mut last) = self.last.lock() else { return };
            apply(&win, &view, last.as_ref(), self.orientation);
            *last = Some(view);
        }
    }
}

/// Opens the kiosk window and runs until it is closed.
pub fn run_window(cfg: Config, fullscreen: bool) -> Result<(), UiError> {
    let orientation = cfg.orientation;
    // Missing clips silence the kiosk (with a log line naming the file); they never stop it.
    let guide = match cfg.voice.enabled.then(|| Voice::load(&cfg.voice.dir)) {
        Some(Ok(voice)) => Some(Guide::new(voice, Output::Device, None)),
        Some(Err(e)) => {
            tracing::error!(error = %e, "spoken guidance off: set [voice] dir to the voice clips, or enabled = false");
            None
        }
        None => None,
    };
    let win = KioskWindow::new()?;
    let (w, h) = orientation.size();
    win.window().set_size(slint::PhysicalSize::new(w, h));
    if fullscreen {
        win.window().set_fullscreen(true);
    }

    let printer = printer::open(&cfg.printer).map_err(|e| UiError::Platform(e.to_string()))?;
    let shell_cell: Arc<OnceLock<Arc<Shell>>> = Arc::new(OnceLock::new());
    let cell = shell_cell.clone();
    let sink: Sink = Arc::new(move |ev: Event| {
        let cell = cell.clone();
        let _ = slint::invoke_from_event_loop(move || {
            if let Some(shell) = cell.get() {
                shell.dispatch(ev);
            }
        });
    });
    let worker = Worker::start(&cfg, printer, guide, sink);
    let mut controller = Controller::new(cfg, chrono::Utc::now());
    let first = controller.start();
    let shell = Arc::new(Shell {
        controller: Mutex::new(controller),
        last: Mutex::new(None),
        commands: worker.sender(),
        window: win.as_weak(),
        orientation,
    });
    let _ = shell_cell.set(shell.clone());
    for c in first {
        worker.send(c);
    }

    // All callbacks are wired here.
    let s = shell.clone();
    win.global::<HomeAdapter>().on_tap(move |id| s.dispatch(Event::Tap { service: id.to_string(), fresh_request_id: new_request_id() }));
    let s = shell.clone();
    win.global::<HomeAdapter>().on_toggle_priority(move || s.dispatch(Event::TogglePriority));
    let s = shell.clone();
    win.global::<KioskAdapter>().on_toggle_language(move || s.dispatch(Event::ToggleLanguage));
    let s = shell.clone();
    win.global::<KioskAdapter>().on_toggle_elder(move || s.dispatch(Event::ToggleElder));
    let s = shell.clone();
    win.global::<KioskAdapter>().on_touched(move || s.dispatch(Event::Touched));
    let s = shell.clone();
    win.global::<TicketAdapter>().on_dismiss(move || s.dispatch(Event::Dismiss));
    let s = shell.clone();
    win.global::<HomeAdapter>().on_open_check_in(move || s.dispatch(Event::OpenCheckIn));
    let c = win.global::<CheckInAdapter>();
    let s = shell.clone();
    c.on_key(move |k| {
        if let Some(ch) = k.chars().next() {
            s.dispatch(Event::CheckInKey(ch));
        }
    });
    let s = shell.clone();
    c.on_backspace(move || s.dispatch(Event::CheckInBackspace));
    let s = shell.clone();
    c.on_submit(move || s.dispatch(Event::CheckInSubmit { fresh_request_id: new_request_id() }));
    let s = shell.clone();
    c.on_close(move || s.dispatch(Event::CloseCheckIn));
    let s = shell.clone();
    win.global::<TicketAdapter>().on_open_phone(move || s.dispatch(Event::OpenPhone));
    let p = win.global::<PhoneAdapter>();
    let s = shell.clone();
    p.on_key(move |k| {
        if let Some(ch) = k.chars().next() {
            s.dispatch(Event::PhoneKey(ch));
        }
    });
    let s = shell.clone();
    p.on_backspace(move || s.dispatch(Event::PhoneBackspace));
    let s = shell.clone();
    p.on_clear(move || s.dispatch(Event::PhoneClear));
    let s = shell.clone();
    p.on_submit(move || s.dispatch(Event::PhoneSubmit));
    let s = shell.clone();
    p.on_close(move || s.dispatch(Event::ClosePhone));
    let s = shell.clone();
    let timer = slint::Timer::default();
    timer.start(slint::TimerMode::Repeated, std::time::Duration::from_secs(1), move || s.dispatch(Event::Tick));

    shell.dispatch(Event::Tick);
    win.run()?;
    drop(timer);
    drop(worker);
    Ok(())
}

/// Renders `view` with the software renderer (no window system) and returns RGBA pixels.
/// Installs the process's headless platform: call it once per process.
pub fn render_headless(view: &View, orientation: Orientation) -> Result<(u32, u32, Vec<u8>), UiError> {
    let (w, h) = orientation.size();
    let _screen = qcall_screen::Headless::install(w, h).map_err(|e| UiError::Platform(e.to_string()))?;
    let ui = KioskWindow::new()?;
    apply(&ui, view, None, orientation);
    ui.show()?;
    slint::platform::update_timers_and_animations();
    let shot = ui.window().take_snapshot()?;
    let (sw, sh) = (shot.width(), shot.height());
    let bytes = shot.as_bytes().to_vec();
    ui.hide()?;
    Ok((sw, sh, bytes))
}
