//! The worker thread: network and printer IO on a tokio runtime, fed by [`Command`]s, answering
//! with [`Event`]s through a sink (the UI's event loop, or a channel in tests).

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use qcall_client::{Client, ClientError, FollowEvent, LinkState, Reporter};
use qcall_wire::{EventKind, EventScope, IssueRequest};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::controller::{Command, Controller, Event, IssueFailure};
use crate::escpos::PrinterFault;
use crate::printer::PrinterPort;
use crate::voice::Guide;

pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// Tries per ticket request before the tap is reported as a network failure.
pub const ISSUE_ATTEMPTS: u32 = 3;

pub struct Worker {
    tx: mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// `guide` speaks the [`Command::Say`]s (none: the kiosk is silent).
    pub fn start(cfg: &Config, printer: Box<dyn PrinterPort>, guide: Option<Guide>, sink: Sink) -> Worker {
        let (tx, rx) = mpsc::unbounded_channel();
        let cfg = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("kiosk-worker".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the worker runtime");
                        return;
                    }
                };
                rt.block_on(run(cfg, printer, guide, sink, rx));
            })
            .expect("spawn worker thread");
        Worker { tx, thread: Some(thread) }
    }

    pub fn send(&self, cmd: Command) {
        let _ = self.tx.send(cmd);
    }

    /// A handle that can send commands from any thread.
    pub fn sender(&self) -> mpsc::UnboundedSender<Command> {
        self.tx.clone()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn run(cfg: Config, printer: Box<dyn PrinterPort>, guide: Option<Guide>, sink: Sink, mut rx: mpsc::UnboundedReceiver<Command>) {
    let client = match Client::new(&cfg.server, &cfg.link.client_options()) {
        Ok(c) => c.with_token(&cfg.token),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client");
            return;
        }
    };
    tracing::info!(server = %cfg.server, printer = %printer.describe(), kiosk = %cfg.id, hall = %cfg.hall, "worker started");
    // Device status reports go out one at a time, in order, and again after every reconnect.
    let reporter = Reporter::spawn(client.clone(), cfg.id.clone(), cfg.link.follow.backoff);
    let stream = tokio::spawn(follow(client.clone(), cfg.link.follow, sink.clone(), reporter.handle()));
    let scanned = sink.clone();
    let _scanner = cfg.scanner.clone().map(|s| crate::scanner::spawn(s, move |text| scanned(Event::Scanned { text, fresh_request_id: new_request_id() })));
    let printer = Arc::new(Mutex::new(printer));
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::CheckPrinter => {
                let p = printer.clone();
                let r = tokio::task::spawn_blocking(move || p.lock().map_err(|_| PrinterFault::Port("printer lock poisoned".into()))?.status())
                    .await
                    .unwrap_or_else(|e| Err(PrinterFault::Port(e.to_string())));
                if let Err(f) = &r {
                    tracing::warn!(fault = %f, "printer status");
                }
                sink(Event::PrinterChecked(r));
            }
            Command::Issue { service, priority, request_id } => {
                let req = IssueRequest { service, priority: Some(priority), request_id: Some(request_id) };
                let r = client.issue_with_retry(&cfg.hall, &req, ISSUE_ATTEMPTS).await.map_err(|e| match e {
                    ClientError::Server { status, code, message, at, hall, .. } => IssueFailure::Server { status, code, message, at, hall },
                    other => IssueFailure::Network(other.to_string()),
                });
                match &r {
                    Ok(t) => tracing::info!(number = %t.number, id = t.id, "ticket issued"),
                    Err(f) => tracing::warn!(failure = ?f, "ticket not issued"),
                }
                sink(Event::Issued(r));
            }
            Command::Print { bytes } => {
                let p = printer.clone();
                let started = Instant::now();
                let n = bytes.len();
                let r = tokio::task::spawn_blocking(move || {
                    p.lock().map_err(|_| PrinterFault::Port("printer lock poisoned".into()))?.write_ticket(&bytes)
                })
                .await
                .unwrap_or_else(|e| Err(PrinterFault::Port(e.to_string())));
                match &r {
                    Ok(()) => tracing::info!(bytes = n, elapsed_ms = started.elapsed().as_millis() as u64, "ticket printed"),
                    Err(f) => tracing::error!(fault = %f, "ticket not printed"),
                }
                sink(Event::Printed(r));
            }
            Command::ReportDevice(report) => reporter.report(report),
            // The guide's player has a thread of its own: this only queues the samples.
            Command::Say { prompt, language } => {
                if let Some(g) = &guide {
                    g.say(&prompt, language);
                }
            }
            Command::CheckIn { code, id_number, request_id } => {
                let req = qcall_wire::CheckInRequest { code, id_number, request_id: Some(request_id) };
                let r = client.check_in(&cfg.hall, &req).await.map_err(|e| match e {
                    ClientError::Server { status, code, message, at, hall, .. } => IssueFailure::Server { status, code, message, at, hall },
                    other => IssueFailure::Network(other.to_string()),
                });
                match &r {
                    Ok(c) => tracing::info!(number = %c.ticket.number, again = c.again, "appointment checked in"),
                    Err(f) => tracing::warn!(failure = ?f, "check-in refused"),
                }
                sink(Event::CheckedIn(r));
            }
            Command::LeavePhone { ticket, phone } => {
                // The hall's own kiosk is trusted: no one-time code. The number is logged masked.
                let r = client.leave_phone(ticket, phone.as_str(), "").await.map(|t| t.phone).map_err(|e| match e {
                    ClientError::Server { status, code, message, at, hall, .. } => IssueFailure::Server { status, code, message, at, hall },
                    other => IssueFailure::Network(other.to_string()),
                });
                match &r {
                    Ok(masked) => tracing::info!(ticket, phone = %masked, "number left for text reminders"),
                    Err(f) => tracing::warn!(ticket, phone = %phone.masked(), failure = ?f, "number not left"),
                }
                sink(Event::PhoneLeft(r));
            }
            Command::Settle { request_id } => {
                let r = client.issued_for(&cfg.hall, &request_id).await.map_err(|e| match e {
                    ClientError::Server { status, code, message, at, hall, .. } => IssueFailure::Server { status, code, message, at, hall },
                    other => IssueFailure::Network(other.to_string()),
                });
                tracing::info!(%request_id, found = ?r.as_ref().map(|t| t.as_ref().map(|t| t.number.clone())), "unanswered request settled");
                sink(Event::Settled(r));
            }
            Command::Shutdown => break,
        }
    }
    stream.abort();
}

/// Follows the all-halls event stream for as long as the worker runs (the client reconnects
/// and resumes with `?since=`); the kiosk needs every hall's queues for its other-hall waits.
async fn follow(client: Client, settings: qcall_client::FollowSettings, sink: Sink, reporter: qcall_client::ReporterHandle) {
    let (_follower, mut events) = client.follow(EventScope::All, None, settings);
    while let Some(e) = events.recv().await {
        match e {
            FollowEvent::Link(LinkState::Up) => {
                reporter.reconnected();
                sink(Event::Connected);
            }
            FollowEvent::Link(LinkState::Down { .. }) => sink(Event::Disconnected),
            FollowEvent::Message(m) => match m.kind {
                EventKind::Snapshot { halls } => {
                    sink(Event::ServerTime(m.at));
                    sink(Event::Snapshot(halls));
                }
                EventKind::HallLinkChanged { link } => {
                    if let Some(hall) = m.hall {
                        sink(Event::HallLink { hall, link });
                    }
                }
                _ => {
                    if let (Some(hall), false) = (m.hall, m.queues.is_empty()) {
                        sink(Event::Queues { hall, queues: m.queues });
                    }
                }
            },
        }
    }
}

/// A fresh random request id for one tap.
pub fn new_request_id() -> String {
    use rand::Rng;
    let v: u128 = rand::thread_rng().gen();
    format!("{v:032x}")
}

/// A kiosk without a window: the controller and the worker, driven from the calling thread.
/// The program's UI does the same work on Slint's event loop.
pub struct Headless {
    pub controller: Controller,
    /// Every command the controller gave, in order.
    pub commands: Vec<Command>,
    worker: Worker,
    rx: std::sync::mpsc::Receiver<Event>,
    last_tick: Instant,
}

impl Headless {
    pub fn start(cfg: Config, printer: Box<dyn PrinterPort>) -> Headless {
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        let sink: Sink = Arc::new(move |ev| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(ev);
            }
        });
        let worker = Worker::start(&cfg, printer, None, sink);
        let mut controller = Controller::new(cfg, chrono::Utc::now());
        let first = controller.start();
        let mut h = Headless { controller, commands: vec![], worker, rx, last_tick: Instant::now() };
        h.run(first);
        h
    }

    fn run(&mut self, cmds: Vec<Command>) {
        for c in cmds {
            self.commands.push(c.clone());
            self.worker.send(c);
        }
    }

    pub fn dispatch(&mut self, ev: Event) {
        let cmds = self.controller.handle(ev, chrono::Utc::now());
        self.run(cmds);
    }

    /// A tap on a service button, with a fresh request id.
    pub fn tap(&mut self, service: &str) {
        self.dispatch(Event::Tap { service: service.into(), fresh_request_id: new_request_id() });
    }

    /// Feeds worker events (and a tick each second) to the controller until `done` holds.
    /// `limit` only stops a test that would otherwise hang; it is not a performance bound.
    pub fn pump_until(&mut self, limit: Duration, mut done: impl FnMut(&Controller) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            if done(&self.controller) {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            match self.rx.recv_timeout((end - now).min(Duration::from_millis(200))) {
                Ok(ev) => self.dispatch(ev),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return false,
            }
            if self.last_tick.elapsed() >= Duration::from_secs(1) {
                self.last_tick = Instant::now();
                self.dispatch(Event::Tick);
            }
        }
    }
}
