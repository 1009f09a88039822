//! The kiosk's logic, free of IO: events in, commands out, and a view model for the screen
//! ([`view`]).
//!
//! The UI thread and the worker thread only feed [`Event`]s to [`Controller::handle`], carry out
//! the [`Command`]s it returns and draw [`Controller::view`]. Everything here is tested without a
//! window, a network or a printer.

mod view;

use chrono::{DateTime, Utc};
use qcall_wire::{DeviceStatusReport, ErrorCode, HallInfo, Priority, QueueInfo, Ticket};

pub use self::view::{queue_text, Banner, OtherHallView, ServiceView, Severity, TicketView, View};
use crate::config::{Config, Language};
use crate::escpos::{self, PrinterFault, PrinterHealth, TicketPrint};
use crate::guide::Prompt;
use crate::text::{self, Text};

/// The time zone of the clock and printed times until the server's hall state says otherwise.
pub const DEFAULT_TIME_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// Work for the worker thread. A closed set: the worker handles exactly these.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Ask the printer for its status (DLE EOT 1, 2, 4); answer with [`Event::PrinterChecked`].
    CheckPrinter,
    /// Issue a ticket; retries after network errors reuse `request_id`. Answer: [`Event::Issued`].
    Issue { service: String, priority: Priority, request_id: String },
    /// Ask whether an earlier issue request, whose answer never came, made a ticket (nothing
    /// is issued). Answer: [`Event::Settled`].
    Settle { request_id: String },
    /// Write the rendered ticket to the printer. Answer: [`Event::Printed`].
    Print { bytes: Vec<u8> },
    /// The kiosk's printer status changed: report it to the server (the reporter delivers it,
    /// and again after every reconnect). No answer.
    ReportDevice(DeviceStatusReport),
    /// Check an appointment in (by its code or the booker's ID number). Answer:
    /// [`Event::CheckedIn`].
    CheckIn { code: Option<String>, id_number: Option<String>, request_id: String },
    /// Say this (spoken guidance; the shell's [`crate::voice::Guide`] plays it, not the worker).
    Say { prompt: Prompt, language: Language },
    /// Stop the worker.
    Shutdown,
}

/// Why issuing a ticket failed.
#[derive(Debug, Clone, PartialEq)]
pub enum IssueFailure {
    /// The server could not be reached (after retries with the same request id).
    Network(String),
    /// The server answered with an error body (with the time or hall it names, if any).
    Server { status: u16, code: ErrorCode, message: String, at: Option<DateTime<Utc>>, hall: Option<String> },
}

/// Everything that can happen to a kiosk.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A service button was pressed. `fresh_request_id` is used unless a failed request for the
    /// same service is being retried.
    Tap { service: String, fresh_request_id: String },
    /// The 绿色通道 button: the next service tap issues a priority ticket.
    TogglePriority,
    ToggleLanguage,
    /// The 长者模式 button: larger type, one service a row, high contrast, more time.
    ToggleElder,
    /// A touch anywhere that is not a button (the screen is woken up).
    Touched,
    /// A tap on the ticket screen: back to home now.
    Dismiss,
    /// Once a second: clock, returning home, printer polling.
    Tick,
    /// The event stream is connected (a snapshot or the missed events follow).
    Connected,
    /// Full state from the event stream.
    Snapshot(Vec<HallInfo>),
    /// The server's time now (with every snapshot): the kiosk shows and reckons in it.
    ServerTime(DateTime<Utc>),
    /// A hall's queues changed.
    Queues { hall: String, queues: Vec<QueueInfo> },
    /// The event stream is down.
    Disconnected,
    PrinterChecked(Result<PrinterHealth, PrinterFault>),
    Issued(Result<Ticket, IssueFailure>),
    /// What an unanswered request made: its ticket, or nothing (`None`).
    Settled(Result<Option<Ticket>, IssueFailure>),
    Printed(Result<(), PrinterFault>),
    /// The 预约签到 button: the check-in screen.
    OpenCheckIn,
    /// Back home from the check-in screen.
    CloseCheckIn,
    /// A key of the check-in keypad: a digit or `X`.
    CheckInKey(char),
    CheckInBackspace,
    /// Check in what was typed.
    CheckInSubmit { fresh_request_id: String },
    /// The 2D scanner read this (a booking's QR code holds its code).
    Scanned { text: String, fresh_request_id: String },
    /// The check-in's ticket; `again`: checked in before, so shown, not printed again.
    CheckedIn(Result<qcall_wire::CheckedIn, IssueFailure>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Home,
    /// 正在出票…
    Printing,
    /// 请取走您的号票
    Ticket,
    /// 预约签到: keypad for the booking code or ID number.
    CheckIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PrinterState {
    Unknown,
    Ok(PrinterHealth),
    Fault(PrinterFault),
}

#[derive(Debug, Clone, PartialEq)]
struct Pending {
    service: String,
    priority: Priority,
    request_id: String,
    stage: Stage,
    /// An earlier request whose answer never came (the network failed): settled before a
    /// different ticket is issued, so that it does not become a ticket nobody holds.
    unsettled: Option<Box<Pending>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    CheckingPrinter,
    /// Asking about the unsettled request.
    Settling,
    Issuing,
    /// The request failed on the network: a new tap on the same service reuses the id.
    FailedNetwork,
}

#[derive(Debug, Clone, PartialEq)]
struct Shown {
    ticket: Ticket,
    /// The ticket of an earlier tap whose answer had been lost.
    earlier: bool,
    /// An appointment checked in before: shown again, not printed again.
    again: bool,
    print_failed: Option<PrinterFault>,
    printed: bool,
    until: DateTime<Utc>,
}

/// The check-in screen: what is typed, and what the last attempt said.
#[derive(Debug, Clone, PartialEq)]
struct CheckIn {
    input: String,
    /// A refusal or hint (zh, en), and whether it is a hint (come back later) rather than a
    /// refusal.
    note: Option<(String, String)>,
    hint: bool,
    /// The request in flight or failed on the network: (input, request id), reused when the
    /// same input is sent again.
    request: Option<(String, String)>,
    stage: CheckInStage,
    /// Back home when nothing happens until then.
    until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckInStage {
    Typing,
    CheckingPrinter,
    Sending,
}

/// Seconds the check-in screen waits for input before going home.
const CHECK_IN_IDLE_S: i64 = 60;

/// How long a transient message (sold out, network error) stays.
const MESSAGE_S: i64 = 6;
/// How often a healthy printer is asked while the kiosk is idle.
const IDLE_POLL_S: i64 = 30;

#[derive(Debug, Clone)]
pub struct Controller {
    cfg: Config,
    now: DateTime<Utc>,
    halls: Vec<HallInfo>,
    link: Link,
    language: Language,
    priority_mode: bool,
    screen: Screen,
    printer: PrinterState,
    check_in_flight: bool,
    next_check: DateTime<Utc>,
    /// The printer status last handed to the reporter.
    reported: Option<DeviceStatusReport>,
    pending: Option<Pending>,
    shown: Option<Shown>,
    message: Option<(Text, DateTime<Utc>)>,
    /// A message with a time or name in it (hall closed …), instead of `message`.
    dynamic_message: Option<(String, String, DateTime<Utc>)>,
    check_in: Option<CheckIn>,
    /// The server's clock minus this machine's (from [`Event::ServerTime`]).
    offset: chrono::Duration,
    /// 长者模式 is on.
    elder: bool,
    /// The last touch of the screen (by anyone).
    last_touch: Option<DateTime<Utc>>,
}

/// Clock differences below this are network delay, not a wrong clock.
const CLOCK_SLACK_MS: i64 = 2000;

impl Controller {
    pub fn new(cfg: Config, now: DateTime<Utc>) -> Self {
        let language = cfg.language;
        Controller {
            cfg,
            now,
            halls: vec![],
            link: Link::Connecting,
            language,
            priority_mode: false,
            screen: Screen::Home,
            printer: PrinterState::Unknown,
            check_in_flight: false,
            next_check: now,
            reported: None,
            pending: None,
            shown: None,
            message: None,
            dynamic_message: None,
            check_in: None,
            offset: chrono::Duration::zero(),
            elder: false,
            last_touch: None,
        }
    }

    /// Commands to run at start: ask the printer once.
    pub fn start(&mut self) -> Vec<Command> {
        self.check_in_flight = true;
        vec![Command::CheckPrinter]
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn link(&self) -> Link {
        self.link
    }
    pub fn printer(&self) -> &PrinterState {
        &self.printer
    }
    pub fn screen(&self) -> Screen {
        self.screen
    }
    /// The ticket on (or last on) the ticket screen.
    pub fn last_ticket(&self) -> Option<&Ticket> {
        self.shown.as_ref().map(|s| &s.ticket)
    }
    /// True while a tap is being processed (printer check, issue, print).
    pub fn busy(&self) -> bool {
        self.screen == Screen::Printing
    }

    fn my_hall(&self) -> Option<&HallInfo> {
        self.halls.iter().find(|h| h.id == self.cfg.hall)
    }

    /// Issuing is possible: the server is reachable. A printer fault does not stop walk-ins:
    /// the ticket is then shown on screen (number, QR code) and said aloud, not printed.
    pub fn can_issue(&self) -> bool {
        self.link == Link::Up && self.my_hall().is_some()
    }

    fn printer_fault(&self) -> Option<&PrinterFault> {
        match &self.printer {
            PrinterState::Fault(f) => Some(f),
            _ => None,
        }
    }

    /// The hall state's time zone (the server's business day), until then the default.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.my_hall().and_then(|h| h.time_zone.parse().ok()).unwrap_or(DEFAULT_TIME_ZONE)
    }

    fn desired_report(&self) -> Option<DeviceStatusReport> {
        let (ok, code, message) = match &self.printer {
            PrinterState::Unknown => return None,
            PrinterState::Ok(h) if h.paper_near_end => (true, "paper_near_end".into(), "打印机纸将用尽 / paper near end".into()),
            PrinterState::Ok(_) => (true, String::new(), String::new()),
            PrinterState::Fault(f) => (false, f.code().into(), format!("{} / {}", f.message_zh(), f)),
        };
        Some(DeviceStatusReport { ok, code, message })
    }

    fn maybe_report(&mut self, out: &mut Vec<Command>) {
        if let Some(r) = self.desired_report() {
            if self.reported.as_ref().map(|x| (x.ok, &x.code)) != Some((r.ok, &r.code)) {
                self.reported = Some(r.clone());
                out.push(Command::ReportDevice(r));
            }
        }
    }

    fn set_message(&mut self, text: Text) {
        self.dynamic_message = None;
        self.message = Some((text, self.now + chrono::Duration::seconds(MESSAGE_S * self.patience() as i64)));
    }

    fn set_dynamic_message(&mut self, zh: String, en: String) {
        self.message = None;
        self.dynamic_message = Some((zh, en, self.now + chrono::Duration::seconds(MESSAGE_S * self.patience() as i64)));
    }

    /// "周一 09:00" / "Mon 09:00" for a time in the hall's time zone ("13:30" today).
    fn when(&self, at: DateTime<Utc>) -> (String, String) {
        let tz = self.time_zone();
        let local = at.with_timezone(&tz);
        let hm = local.format("%H:%M").to_string();
        if self.is_today(at) {
            return (hm.clone(), hm);
        }
        let wd = chrono::Datelike::weekday(&local).num_days_from_monday() as usize;
        (format!("{} {hm}", text::WEEKDAYS_SHORT_ZH[wd]), format!("{} {hm}", local.format("%a")))
    }

    /// Is `at` on today's date in the hall's time zone?
    fn is_today(&self, at: DateTime<Utc>) -> bool {
        let tz = self.time_zone();
        at.with_timezone(&tz).date_naive() == self.now.with_timezone(&tz).date_naive()
    }

    /// What the kiosk says when tickets can be taken again only at `at`: `full` when the queue
    /// would not be served before the period closes (号源已满), else the hall is closed.
    fn closed_message(&self, at: DateTime<Utc>, full: bool) -> (String, String) {
        let (zh, en) = self.when(at);
        let morning = chrono::Timelike::hour(&self.now.with_timezone(&self.time_zone())) < 12;
        match (full, self.is_today(at)) {
            (true, true) => (
                format!("{}号源已满，请于 {zh} 后取号，或前往其他大厅", if morning { "上午" } else { "本时段" }),
                format!("{} tickets are all taken: come back from {en}, or go to another hall.", if morning { "This morning's" } else { "This period's" }),
            ),
            (true, false) => (
                format!("今日号源已满，下次取号时间 {zh}，或前往其他大厅"),
                format!("Today's tickets are all taken: again from {en}, or go to another hall."),
            ),
            (false, true) => (format!("暂停取号，请于 {zh} 后取号"), format!("No tickets now: again from {en}.")),
            (false, false) => (format!("{}，下次取号时间 {zh}", text::ISSUING_STOPPED.zh), format!("No more tickets today: again from {en}.")),
        }
    }

    /// The hall's name for a hall id (the id when unknown).
    fn hall_name(&self, id: &str) -> (String, String) {
        self.halls.iter().find(|h| h.id == id).map(|h| (h.name_zh.clone(), h.name_en.clone())).unwrap_or((id.into(), id.into()))
    }

    /// Appointments can be checked in here now.
    pub fn check_in_enabled(&self) -> bool {
        self.can_issue() && self.my_hall().is_some_and(|h| h.appointments)
    }

    fn schedule_check(&mut self) {
        let secs = match self.printer {
            PrinterState::Ok(_) => IDLE_POLL_S,
            _ => self.cfg.printer.status_poll.as_secs() as i64,
        };
        self.next_check = self.now + chrono::Duration::seconds(secs);
    }

    fn go_home(&mut self) {
        // The taxpayer who took the ticket is done: the next one starts in the standard mode.
        if self.screen == Screen::Ticket {
            self.elder = false;
        }
        self.screen = Screen::Home;
        self.language = self.cfg.language;
        self.priority_mode = false;
    }

    /// 长者模式 is on.
    pub fn elder(&self) -> bool {
        self.elder
    }

    /// How many times longer screens wait: twice as long in 长者模式.
    fn patience(&self) -> i32 {
        if self.elder {
            2
        } else {
            1
        }
    }

    /// How long the check-in screen waits for input.
    fn check_in_idle(&self) -> chrono::Duration {
        chrono::Duration::seconds(CHECK_IN_IDLE_S * self.patience() as i64)
    }

    fn say(&self, prompt: Prompt, out: &mut Vec<Command>) {
        if self.cfg.voice.enabled {
            out.push(Command::Say { prompt, language: self.language });
        }
    }

    /// Handles one event at time `now`; returns the commands to carry out.
    pub fn handle(&mut self, event: Event, now: DateTime<Utc>) -> Vec<Command> {
        if let Event::ServerTime(at) = event {
            let d = at - now;
            self.offset = if d.num_milliseconds().abs() > CLOCK_SLACK_MS { d } else { chrono::Duration::zero() };
        }
        let now = now + self.offset;
        self.now = now;
        let mut out = vec![];
        let touch = matches!(
            event,
            Event::Tap { .. }
                | Event::TogglePriority
                | Event::ToggleLanguage
                | Event::ToggleElder
                | Event::Touched
                | Event::Dismiss
                | Event::OpenCheckIn
                | Event::CloseCheckIn
                | Event::CheckInKey(_)
                | Event::CheckInBackspace
                | Event::CheckInSubmit { .. }
        );
        let idle = chrono::Duration::from_std(self.cfg.voice.idle).unwrap_or_default();
        let check_in_idle = self.check_in_idle();
        // A touch after the kiosk stood idle: someone new is in front of it.
        let greet = touch && !matches!(event, Event::Tap { .. }) && self.last_touch.is_none_or(|t| now - t >= idle);
        if touch {
            self.last_touch = Some(now);
        }
        match event {
            Event::Tap { service, fresh_request_id } => self.tap(service, fresh_request_id, &mut out),
            Event::TogglePriority => {
                if self.screen == Screen::Home && self.cfg.priority_lane {
                    self.priority_mode = !self.priority_mode;
                }
            }
            Event::ToggleLanguage => {
                self.language = match self.language {
                    Language::Zh => Language::En,
                    Language::En => Language::Zh,
                }
            }
            Event::ToggleElder => {
                if self.screen == Screen::Home && self.cfg.elder_mode {
                    self.elder = !self.elder;
                }
            }
            Event::Touched => {}
            Event::Dismiss => {
                if self.screen == Screen::Ticket {
                    self.go_home();
                }
            }
            Event::Tick | Event::ServerTime(_) => {}
            Event::Connected => {
                // Up once the kiosk knows the halls: after a resume the missed events follow;
                // on a first connection the snapshot (which sets it up) does.
                if !self.halls.is_empty() {
                    self.link = Link::Up;
                }
            }
            Event::Snapshot(halls) => {
                self.halls = halls;
                self.link = Link::Up;
            }
            Event::Queues { hall, queues } => {
                if let Some(h) = self.halls.iter_mut().find(|h| h.id == hall) {
                    for q in queues {
                        if let Some(s) = h.services.iter_mut().find(|s| s.id == q.service) {
                            s.waiting = q.waiting;
                            s.est_wait_s = q.est_wait_s;
                            s.open_counters = q.open_counters;
                            s.sold_out = q.sold_out;
                            s.closed_until = q.closed_until;
                            s.overtime = q.overtime;
                            s.unstaffed = q.unstaffed;
                            s.full = q.full;
                        }
                    }
                }
            }
            Event::Disconnected => {
                self.link = Link::Down;
            }
            Event::PrinterChecked(result) => {
                self.check_in_flight = false;
                self.printer = match result {
                    Ok(h) => PrinterState::Ok(h),
                    Err(f) => PrinterState::Fault(f),
                };
                self.schedule_check();
                // A printer fault does not stop issuing or check-in: the ticket is shown instead.
                let link_up = self.link == Link::Up;
                if let Some(ci) = self.check_in.as_mut().filter(|c| c.stage == CheckInStage::CheckingPrinter) {
                    if link_up {
                        ci.stage = CheckInStage::Sending;
                        let (input, request_id) = ci.request.clone().expect("a request is set before the printer check");
                        let (code, id_number) = if input.len() == 8 { (Some(input), None) } else { (None, Some(input)) };
                        out.push(Command::CheckIn { code, id_number, request_id });
                    } else {
                        // The link banner explains it; nothing was asked.
                        self.check_in = None;
                        self.go_home();
                    }
                }
                if let Some(p) = self.pending.as_mut().filter(|p| p.stage == Stage::CheckingPrinter) {
                    if !link_up {
                        // Nothing was issued: the link banner explains why. An earlier
                        // unanswered request stays to be settled.
                        self.pending = self.pending.take().and_then(|p| p.unsettled).map(|b| *b);
                        self.go_home();
                    } else if let Some(old) = &p.unsettled {
                        p.stage = Stage::Settling;
                        out.push(Command::Settle { request_id: old.request_id.clone() });
                    } else {
                        p.stage = Stage::Issuing;
                        out.push(Command::Issue { service: p.service.clone(), priority: p.priority, request_id: p.request_id.clone() });
                    }
                }
            }
            Event::Issued(Ok(ticket)) => self.print(ticket, false, &mut out),
            Event::Settled(Ok(Some(ticket))) => {
                // The earlier tap did make a ticket: it is this taxpayer's; nothing new is issued.
                tracing::info!(number = %ticket.number, "an unanswered request had made a ticket; printing it");
                self.print(ticket, true, &mut out);
            }
            Event::Settled(Ok(None)) => {
                if let Some(p) = self.pending.as_mut().filter(|p| p.stage == Stage::Settling) {
                    p.unsettled = None;
                    p.stage = Stage::Issuing;
                    out.push(Command::Issue { service: p.service.clone(), priority: p.priority, request_id: p.request_id.clone() });
                }
            }
            Event::OpenCheckIn => self.open_check_in(),
            Event::CloseCheckIn => {
                if self.screen == Screen::CheckIn {
                    self.check_in = None;
                    self.go_home();
                }
            }
            Event::CheckInKey(c) => {
                if let Some(ci) = self.check_in.as_mut().filter(|c| c.stage == CheckInStage::Typing && self.screen == Screen::CheckIn) {
                    let c = c.to_ascii_uppercase();
                    if (c.is_ascii_digit() || c == 'X') && ci.input.len() < 18 {
                        ci.input.push(c);
                    }
                    ci.note = None;
                    ci.until = now + check_in_idle;
                }
            }
            Event::CheckInBackspace => {
                if let Some(ci) = self.check_in.as_mut().filter(|c| c.stage == CheckInStage::Typing) {
                    ci.input.pop();
                    ci.note = None;
                    ci.until = now + check_in_idle;
                }
            }
            Event::CheckInSubmit { fresh_request_id } => {
                if self.screen == Screen::CheckIn {
                    let input = self.check_in.as_ref().map(|c| c.input.clone()).unwrap_or_default();
                    self.submit_check_in(input, fresh_request_id, &mut out);
                }
            }
            Event::Scanned { text, fresh_request_id } => {
                // A scan checks in from home or the check-in screen, whatever was typed.
                let input: String = text.trim().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
                if matches!(self.screen, Screen::Home | Screen::CheckIn | Screen::Ticket) && self.check_in_enabled() {
                    if self.screen == Screen::Ticket {
                        self.go_home();
                    }
                    if self.screen == Screen::Home {
                        self.open_check_in();
                    }
                    if let Some(ci) = self.check_in.as_mut().filter(|c| c.stage == CheckInStage::Typing) {
                        ci.input = input.to_ascii_uppercase().chars().take(18).collect();
                        let input = ci.input.clone();
                        self.submit_check_in(input, fresh_request_id, &mut out);
                    }
                }
            }
            Event::CheckedIn(Ok(qcall_wire::CheckedIn { ticket, again: false })) => {
                self.check_in = None;
                self.print(ticket, false, &mut out);
            }
            Event::CheckedIn(Ok(qcall_wire::CheckedIn { ticket, again: true })) => {
                // Checked in before: the same number on screen, not a second slip.
                self.check_in = None;
                self.pending = None;
                let until = self.now + self.ticket_stay();
                self.shown = Some(Shown { ticket, earlier: false, again: true, print_failed: None, printed: false, until });
                self.screen = Screen::Ticket;
            }
            Event::CheckedIn(Err(failure)) => {
                let note = self.check_in_refusal(&failure);
                let hint = matches!(failure, IssueFailure::Server { code: ErrorCode::TooEarly, .. });
                if let Some(ci) = self.check_in.as_mut() {
                    ci.hint = hint;
                    ci.stage = CheckInStage::Typing;
                    ci.until = now + check_in_idle;
                    if !matches!(failure, IssueFailure::Network(_)) {
                        // Answered: a new attempt is a new request.
                        ci.request = None;
                    }
                    ci.note = Some(note);
                    self.screen = Screen::CheckIn;
                }
            }
            Event::Settled(Err(_)) => {
                // Still unknown: keep the earlier request for next time, issue nothing now.
                self.pending = self.pending.take().and_then(|p| p.unsettled).map(|b| *b);
                self.go_home();
                self.set_message(text::NETWORK_FAILED);
            }
            Event::Issued(Err(failure)) => {
                self.go_home();
                match failure {
                    IssueFailure::Network(_) => {
                        if let Some(p) = self.pending.as_mut() {
                            p.stage = Stage::FailedNetwork;
                        }
                        self.set_message(text::NETWORK_FAILED);
                    }
                    IssueFailure::Server { code, message, at, .. } => {
                        self.pending = None;
                        tracing::warn!(%code, %message, "issue refused");
                        match (code, at) {
                            (ErrorCode::HallClosed | ErrorCode::ServiceClosed, Some(at)) => {
                                let (zh, en) = self.closed_message(at, code == ErrorCode::ServiceClosed);
                                self.set_dynamic_message(zh, en);
                            }
                            _ => self.set_message(match code {
                                ErrorCode::SoldOut => text::SOLD_OUT,
                                ErrorCode::UnknownService => text::SERVICE_UNAVAILABLE,
                                ErrorCode::HallClosed | ErrorCode::ServiceClosed => text::ISSUING_STOPPED,
                                ErrorCode::Unauthorized | ErrorCode::Forbidden => text::NOT_AUTHORISED,
                                _ => text::BUSY,
                            }),
                        }
                    }
                }
            }
            Event::Printed(Ok(())) => {
                let stay = self.ticket_stay();
                if let Some(s) = self.shown.as_mut() {
                    s.until = now + stay;
                    s.printed = true;
                    let ahead = s.ticket.waiting_ahead;
                    self.screen = Screen::Ticket;
                    self.say(Prompt::TakeTicket { ahead }, &mut out);
                }
            }
            Event::Printed(Err(f)) => {
                self.printer = PrinterState::Fault(f.clone());
                self.schedule_check();
                self.show_unprinted(f, &mut out);
            }
        }

        if greet && self.screen == Screen::Home {
            // A printer fault is for staff (the consoles and the duty leader are told); the
            // visitor can still take a ticket.
            self.say(Prompt::ChooseService, &mut out);
        }

        // Time-driven work, on every event.
        if self.screen == Screen::Ticket && self.shown.as_ref().is_some_and(|s| now >= s.until) {
            self.go_home();
        }
        if let Some((_, until)) = &self.message {
            if now >= *until {
                self.message = None;
            }
        }
        if self.dynamic_message.as_ref().is_some_and(|(_, _, until)| now >= *until) {
            self.dynamic_message = None;
        }
        if self.elder && self.screen == Screen::Home && self.last_touch.is_none_or(|t| now - t >= idle * 2) {
            // Nobody has touched it for a while: the next visitor starts in the standard mode.
            self.elder = false;
        }
        if self.screen == Screen::CheckIn && self.check_in.as_ref().is_some_and(|c| c.stage == CheckInStage::Typing && now >= c.until) {
            self.check_in = None;
            self.go_home();
        }
        if !self.check_in_flight && self.pending.as_ref().is_none_or(|p| p.stage == Stage::FailedNetwork) && now >= self.next_check {
            self.check_in_flight = true;
            out.push(Command::CheckPrinter);
        }
        self.maybe_report(&mut out);
        out
    }

    fn tap(&mut self, service: String, fresh: String, out: &mut Vec<Command>) {
        if self.screen == Screen::Ticket {
            self.go_home();
        }
        if self.screen != Screen::Home || !self.can_issue() {
            return;
        }
        let Some(info) = self.my_hall().and_then(|h| h.services.iter().find(|s| s.id == service)) else {
            return;
        };
        if info.sold_out {
            self.set_message(text::SOLD_OUT);
            return;
        }
        if let Some(at) = info.closed_until {
            let (zh, en) = self.closed_message(at, info.full);
            self.set_dynamic_message(zh, en);
            return;
        }
        let priority = if self.priority_mode { Priority::Priority } else { Priority::Normal };
        let failed = self.pending.take().filter(|p| p.stage == Stage::FailedNetwork);
        let (request_id, unsettled) = match failed {
            // The same tap again: the same request (the server never makes two tickets of it).
            Some(p) if p.service == service && p.priority == priority => (p.request_id, None),
            // A different one: first find out what the unanswered request made.
            Some(p) => (fresh, Some(Box::new(p))),
            None => (fresh, None),
        };
        self.priority_mode = false;
        self.message = None;
        self.screen = Screen::Printing;
        self.pending = Some(Pending { service, priority, request_id, stage: Stage::CheckingPrinter, unsettled });
        if !self.check_in_flight {
            self.check_in_flight = true;
            out.push(Command::CheckPrinter);
        }
    }

    fn open_check_in(&mut self) {
        if self.screen == Screen::Home && self.check_in_enabled() {
            self.screen = Screen::CheckIn;
            self.priority_mode = false;
            self.message = None;
            self.dynamic_message = None;
            self.check_in = Some(CheckIn {
                input: String::new(),
                note: None,
                hint: false,
                request: None,
                stage: CheckInStage::Typing,
                until: self.now + self.check_in_idle(),
            });
        }
    }

    /// Sends a check-in for `input` (8 digits: a booking code; 18 characters: an ID number)
    /// after the printer check.
    fn submit_check_in(&mut self, input: String, fresh: String, out: &mut Vec<Command>) {
        let now = self.now;
        let check_in_idle = self.check_in_idle();
        let Some(ci) = self.check_in.as_mut().filter(|c| c.stage == CheckInStage::Typing) else { return };
        ci.until = now + check_in_idle;
        let code = input.len() == 8 && input.bytes().all(|b| b.is_ascii_digit());
        if !(code || input.len() == 18) {
            ci.note = Some((text::CHECK_IN_FORMAT.zh.into(), text::CHECK_IN_FORMAT.en.into()));
            ci.hint = false;
            return;
        }
        let request_id = match &ci.request {
            Some((i, r)) if *i == input => r.clone(),
            _ => fresh,
        };
        ci.request = Some((input, request_id));
        ci.note = None;
        ci.stage = CheckInStage::CheckingPrinter;
        self.screen = Screen::Printing;
        if !self.check_in_flight {
            self.check_in_flight = true;
            out.push(Command::CheckPrinter);
        }
    }

    /// What the check-in screen says about a refusal (zh, en).
    fn check_in_refusal(&self, failure: &IssueFailure) -> (String, String) {
        let t = |t: Text| (t.zh.to_string(), t.en.to_string());
        match failure {
            IssueFailure::Network(_) => t(text::NETWORK_CHECK_IN),
            IssueFailure::Server { code, at, hall, .. } => match code {
                ErrorCode::TooEarly => match at {
                    Some(at) => {
                        let (zh, en) = self.when(*at);
                        (
                            format!("还未到签到时间，请于 {zh} 后签到，或先取普通号"),
                            format!("Check-in opens at {en}; or take an ordinary ticket now."),
                        )
                    }
                    None => t(text::TOO_EARLY),
                },
                ErrorCode::TooLate => t(text::TOO_LATE),
                ErrorCode::WrongHall => {
                    let (zh, en) = self.hall_name(hall.as_deref().unwrap_or(""));
                    (format!("您预约的是{zh}，请到该厅签到"), format!("Your appointment is at {en}: please check in there."))
                }
                ErrorCode::UnknownBooking => t(text::UNKNOWN_BOOKING),
                ErrorCode::BookingCancelled => t(text::BOOKING_CANCELLED),
                ErrorCode::Unauthorized | ErrorCode::Forbidden => t(text::NOT_AUTHORISED),
                _ => t(text::BUSY),
            },
        }
    }

    fn print(&mut self, ticket: Ticket, earlier: bool, out: &mut Vec<Command>) {
        self.pending = None;
        let bytes = escpos::render(&self.ticket_print(&ticket), &self.cfg.printer.layout());
        self.shown = Some(Shown { ticket, earlier, again: false, print_failed: None, printed: false, until: self.now });
        match self.printer_fault().cloned() {
            // No paper (or another fault): the ticket is the screen, its QR code and the voice.
            Some(f) => self.show_unprinted(f, out),
            None => out.push(Command::Print { bytes }),
        }
    }

    /// How long the ticket screen stays (twice as long in 长者模式).
    fn ticket_stay(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.cfg.return_home).unwrap_or_default() * self.patience()
    }

    /// The shown ticket did not print: the number large with its QR code, said aloud, on screen
    /// twice as long.
    fn show_unprinted(&mut self, f: PrinterFault, out: &mut Vec<Command>) {
        let stay = self.ticket_stay();
        let now = self.now;
        if let Some(s) = self.shown.as_mut() {
            s.until = now + stay + stay;
            s.print_failed = Some(f);
            let number = s.ticket.number.clone();
            self.screen = Screen::Ticket;
            self.say(Prompt::NotPrinted { number }, out);
        }
    }

    /// What goes on paper for `ticket`.
    pub fn ticket_print(&self, ticket: &Ticket) -> TicketPrint {
        let hall = self.halls.iter().find(|h| h.id == ticket.hall);
        let service = hall.and_then(|h| h.services.iter().find(|s| s.id == ticket.service));
        let local = ticket.issued_at.with_timezone(&self.time_zone());
        TicketPrint {
            hall_zh: hall.map(|h| h.name_zh.clone()).unwrap_or_else(|| ticket.hall.clone()),
            hall_en: hall.map(|h| h.name_en.clone()).unwrap_or_default(),
            service_zh: service.map(|s| s.name_zh.clone()).unwrap_or_else(|| ticket.service.clone()),
            service_en: service.map(|s| s.name_en.clone()).unwrap_or_default(),
            number: ticket.number.clone(),
            priority: ticket.priority == Priority::Priority,
            waiting_ahead: ticket.waiting_ahead,
            est_wait_s: ticket.est_wait_s,
            est_wait_range_s: ticket.est_wait_range_s,
            issued_at: local.format("%Y-%m-%d %H:%M").to_string(),
            qr_url: hall.map(|h| h.ticket_url(ticket.id)).unwrap_or_default(),
            appointment: ticket.appointment.map(|s| {
                let tz = self.time_zone();
                format!("{}-{}", s.start.with_timezone(&tz).format("%H:%M"), s.end.with_timezone(&tz).format("%H:%M"))
            }),
            overtime: ticket.overtime,
            unstaffed: ticket.unstaffed,
            notice: self.cfg.printer.notice.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qcall_wire::{ServiceInfo, TicketState};

    fn cfg() -> Config {
        Config::load(None).unwrap()
    }

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T01:14:00Z").unwrap().with_timezone(&Utc)
    }

    fn secs(n: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(n)
    }

    fn hall(id: &str, zh: &str, en: &str, waiting: u32) -> HallInfo {
        let svc = |id: &str, p: &str, zh: &str, en: &str| ServiceInfo {
            id: id.into(),
            prefix: p.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            waiting,
            est_wait_s: waiting * 120,
            open_counters: 2,
            sold_out: false,
            closed_until: None,
            overtime: false,
            unstaffed: false,
            full: false,
        };
        HallInfo {
            id: id.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            day: "2026-11-26".into(),
            services: vec![svc("filing", "A", "申报纳税", "Tax filing"), svc("invoice", "B", "发票业务", "Invoices")],
            counters: vec![],
            recent_calls: vec![],
            devices: vec![],
            publicity: vec![],
            time_zone: "Asia/Shanghai".into(),
            public_base_url: "http://127.0.0.1:8080".into(),
            address: String::new(),
            hours: vec![],
            appointments: true,
        }
    }

    fn halls() -> Vec<HallInfo> {
        vec![
            hall("east", "东区办税服务厅", "East Hall", 3),
            hall("west", "西区办税服务厅", "West Hall", 1),
            hall("central", "中区办税服务厅", "Central Hall", 7),
        ]
    }

    fn ticket(number: &str, priority: Priority) -> Ticket {
        Ticket {
            id: 17,
            number: number.into(),
            hall: "east".into(),
            service: "filing".into(),
            priority,
            state: TicketState::Waiting,
            day: "2026-11-26".into(),
            issued_at: t0(),
            waiting_ahead: 3,
            est_wait_s: 360,
            est_wait_range_s: None,
            counter: None,
            counter_number: None,
            call_count: 0,
            transferred: false,
            appointment: None,
            overtime: false,
            unstaffed: false,
        }
    }

    /// A controller that is connected and has a healthy printer.
    fn ready() -> Controller {
        let mut c = Controller::new(cfg(), t0());
        assert_eq!(c.start(), vec![Command::CheckPrinter]);
        c.handle(Event::Snapshot(halls()), t0());
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), t0());
        assert_eq!(cmds, vec![Command::ReportDevice(DeviceStatusReport { ok: true, code: String::new(), message: String::new() })]);
        c
    }

    fn tap(c: &mut Controller, service: &str, id: &str, at: DateTime<Utc>) -> Vec<Command> {
        c.handle(Event::Tap { service: service.into(), fresh_request_id: id.into() }, at)
    }

    #[test]
    fn tap_checks_printer_then_issues_then_prints() {
        let mut c = ready();
        assert!(c.view().issuing_enabled);
        assert_eq!(tap(&mut c, "filing", "r1", secs(1)), vec![Command::CheckPrinter]);
        assert_eq!(c.view().screen, Screen::Printing);
        assert!(!c.view().issuing_enabled);
        // A second tap while busy does nothing.
        assert_eq!(tap(&mut c, "invoice", "r2", secs(1)), vec![]);
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        assert_eq!(cmds, vec![Command::Issue { service: "filing".into(), priority: Priority::Normal, request_id: "r1".into() }]);
        let cmds = c.handle(Event::Issued(Ok(ticket("A012", Priority::Normal))), secs(2));
        let expected = escpos::render(&c.ticket_print(&ticket("A012", Priority::Normal)), &escpos::Layout::for_paper(escpos::PaperWidth::Mm80));
        assert_eq!(cmds, vec![Command::Print { bytes: expected }]);
        assert_eq!(
            c.handle(Event::Printed(Ok(())), secs(2)),
            vec![Command::Say { prompt: Prompt::TakeTicket { ahead: 3 }, language: Language::Zh }]
        );
        let v = c.view();
        assert_eq!(v.screen, Screen::Ticket);
        let t = v.ticket.unwrap();
        assert_eq!(t.number, "A012");
        assert_eq!(t.headline, "请取走您的号票");
        assert_eq!(t.ahead, "前面还有 3 人");
        assert_eq!(t.wait, "预计等候约6分钟");
        assert_eq!(t.countdown, 30);
        assert!(t.print_failed.is_empty());
        // Back home after return_home_s (30 s), or at a touch.
        c.handle(Event::Tick, secs(31));
        assert_eq!(c.view().screen, Screen::Ticket);
        c.handle(Event::Tick, secs(32));
        assert_eq!(c.view().screen, Screen::Home);
    }

    #[test]
    fn ticket_print_carries_names_time_and_status_url() {
        let c = ready();
        let p = c.ticket_print(&ticket("A012", Priority::Normal));
        assert_eq!(p.hall_zh, "东区办税服务厅");
        assert_eq!(p.service_zh, "申报纳税");
        // 01:14 UTC is 09:14 in Asia/Shanghai.
        assert_eq!(p.issued_at, "2026-11-26 09:14");
        assert_eq!(p.qr_url, "http://127.0.0.1:8080/t/17");
    }

    #[test]
    fn network_failure_keeps_request_id_for_the_retry() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(Event::Issued(Err(IssueFailure::Network("refused".into()))), secs(3));
        let v = c.view();
        assert_eq!(v.screen, Screen::Home);
        assert_eq!(v.banner.unwrap().text, "网络异常，未能取号，请稍后重试");
        // The same service again: the old id, never a second ticket.
        assert_eq!(tap(&mut c, "filing", "r2", secs(4)), vec![Command::CheckPrinter]);
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(4));
        assert_eq!(cmds, vec![Command::Issue { service: "filing".into(), priority: Priority::Normal, request_id: "r1".into() }]);
        c.handle(Event::Issued(Ok(ticket("A012", Priority::Normal))), secs(5));
        c.handle(Event::Printed(Ok(())), secs(5));
        c.handle(Event::Dismiss, secs(6));
        // After success a new tap is a new request.
        tap(&mut c, "filing", "r3", secs(7));
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(7));
        assert_eq!(cmds, vec![Command::Issue { service: "filing".into(), priority: Priority::Normal, request_id: "r3".into() }]);
    }

    #[test]
    fn another_service_after_a_network_failure_gets_a_fresh_id() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(Event::Issued(Err(IssueFailure::Network("timeout".into()))), secs(2));
        tap(&mut c, "invoice", "r2", secs(3));
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(3));
        assert_eq!(cmds, vec![Command::Settle { request_id: "r1".into() }], "the unanswered one is settled first");
        let cmds = c.handle(Event::Settled(Ok(None)), secs(3));
        assert_eq!(cmds, vec![Command::Issue { service: "invoice".into(), priority: Priority::Normal, request_id: "r2".into() }]);
    }

    #[test]
    fn out_of_paper_the_ticket_is_issued_and_shown_reported_and_printing_recovers() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        // The printer check finds no paper: the ticket is issued all the same, and the fault reported.
        let cmds = c.handle(Event::PrinterChecked(Err(PrinterFault::PaperEnd)), secs(1));
        assert_eq!(
            cmds,
            vec![
                Command::Issue { service: "filing".into(), priority: Priority::Normal, request_id: "r1".into() },
                Command::ReportDevice(DeviceStatusReport {
                    ok: false,
                    code: "paper_end".into(),
                    message: "打印机缺纸，请联系工作人员 / paper end / 缺纸".into()
                })
            ]
        );
        // Issued: nothing goes to the printer; the number is shown and said.
        let cmds = c.handle(Event::Issued(Ok(ticket("A012", Priority::Normal))), secs(2));
        assert_eq!(cmds, vec![Command::Say { prompt: Prompt::NotPrinted { number: "A012".into() }, language: Language::Zh }]);
        let v = c.view();
        assert_eq!(v.screen, Screen::Ticket);
        let t = v.ticket.unwrap();
        assert_eq!((t.number.as_str(), t.headline.as_str()), ("A012", "您的号码"));
        assert!(t.print_failed.starts_with("已为您排队"), "the reassurance first: {}", t.print_failed);
        assert_eq!(t.qr_url, "http://127.0.0.1:8080/t/17", "the QR code of the ticket's page");
        // Home: still issuing, under an amber banner that says so.
        c.handle(Event::Dismiss, secs(3));
        let v = c.view();
        assert!(v.issuing_enabled && v.services.iter().all(|s| s.enabled));
        let banner = v.banner.unwrap();
        assert_eq!((banner.text.as_str(), banner.severity), ("打印机缺纸 · 仍可取号：号码显示在屏幕上，可扫码查看", Severity::Warning));
        // The printer is asked again after status_poll_s (3 s).
        assert_eq!(c.handle(Event::Tick, secs(5)), vec![Command::CheckPrinter]);
        assert!(c.handle(Event::Tick, secs(6)).is_empty(), "one check at a time");
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(6));
        assert_eq!(cmds, vec![Command::ReportDevice(DeviceStatusReport { ok: true, code: String::new(), message: String::new() })]);
        assert!(c.view().issuing_enabled);
        assert_eq!(c.view().banner, None);
    }

    /// Why a hall issues no tickets, said so it does not contradict itself: a morning that is full
    /// (come back at 13:30, or go to another hall), a hall closed until another day; other halls'
    /// kiosks say 暂停取号, not a wait; no counter open says so instead of minutes.
    #[test]
    fn stops_are_worded_by_why_and_until_when() {
        let at = |hm: &str| DateTime::parse_from_rfc3339(&format!("2026-11-26T{hm}:00+08:00")).unwrap().with_timezone(&Utc);
        let mut c = ready();
        let mut halls = halls();
        for s in &mut halls[0].services {
            (s.closed_until, s.full) = (Some(at("13:30")), true);
        }
        c.handle(Event::Snapshot(halls.clone()), secs(1));
        let v = c.view();
        assert_eq!(v.banner.unwrap().text, "上午号源已满，请于 13:30 后取号，或前往其他大厅");
        assert_eq!(v.services[0].waiting, "号源已满");
        assert!(v.services.iter().all(|s| !s.enabled));
        c.handle(Event::ToggleLanguage, secs(2));
        assert_eq!(c.view().banner.unwrap().text, "This morning's tickets are all taken: come back from 13:30, or go to another hall.");
        c.handle(Event::ToggleLanguage, secs(2));
        // Closed until Friday (not full): no "today" in it.
        for s in &mut halls[0].services {
            (s.closed_until, s.full) = (Some(at("09:00") + chrono::Duration::days(1)), false);
        }
        c.handle(Event::Snapshot(halls.clone()), secs(3));
        assert_eq!(c.view().banner.unwrap().text, "今日已停止取号，下次取号时间 周五 09:00");
        // Another hall not issuing: 暂停取号 on this kiosk's 区域通办 panel; one with no counter
        // open: no made-up wait.
        let mut halls = self::halls();
        for s in &mut halls[1].services {
            (s.closed_until, s.full) = (Some(at("13:30")), true);
        }
        for s in &mut halls[2].services {
            s.unstaffed = true;
        }
        for s in &mut halls[0].services {
            s.unstaffed = true;
        }
        c.handle(Event::Snapshot(halls), secs(4));
        let v = c.view();
        let others: Vec<&str> = v.services[0].others.iter().map(|o| o.text.as_str()).collect();
        assert_eq!(others, ["暂停取号", "7 人 · 暂无窗口办理"]);
        assert_eq!(v.services[0].wait, "暂无窗口办理");
        assert!(v.services[0].enabled, "tickets are still taken");
    }

    #[test]
    fn print_failure_after_issue_still_shows_the_number() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(Event::Issued(Ok(ticket("A012", Priority::Normal))), secs(1));
        let cmds = c.handle(Event::Printed(Err(PrinterFault::Port("timeout".into()))), secs(2));
        assert!(matches!(&cmds[..], [Command::Say { prompt: Prompt::NotPrinted { number }, .. }, Command::ReportDevice(r)] if number == "A012" && !r.ok && r.code == "port_error"));
        let v = c.view();
        assert_eq!(v.screen, Screen::Ticket);
        let t = v.ticket.unwrap();
        assert_eq!(t.number, "A012");
        assert_eq!(t.headline, "您的号码");
        assert_eq!(t.print_failed, "已为您排队。号票未能打印，请记住号码，或到导税台取号");
        assert_eq!(t.countdown, 60);
        // It stays longer than a printed ticket: 60 s.
        c.handle(Event::Tick, secs(40));
        assert_eq!(c.view().screen, Screen::Ticket);
        c.handle(Event::Tick, secs(62));
        assert_eq!(c.view().screen, Screen::Home);
        assert!(c.view().issuing_enabled, "walk-ins go on without the printer");
    }

    #[test]
    fn disconnected_disables_issuing_and_recovers() {
        let mut c = ready();
        c.handle(Event::Disconnected, secs(1));
        let v = c.view();
        assert!(!v.issuing_enabled);
        assert_eq!(v.banner.unwrap().text, "系统连接中断，暂停取号，正在自动重连");
        assert!(tap(&mut c, "filing", "r1", secs(2)).is_empty());
        // Back (resumed: the missed events follow, no snapshot). The reporter sends the status
        // again by itself after a reconnect: the controller does not repeat it.
        assert!(c.handle(Event::Connected, secs(3)).is_empty());
        assert!(c.view().issuing_enabled);
    }

    #[test]
    fn printer_status_changes_are_reported_once_each() {
        let mut c = ready();
        let near = PrinterHealth { paper_near_end: true };
        let cmds = c.handle(Event::PrinterChecked(Ok(near)), secs(1));
        assert!(matches!(&cmds[..], [Command::ReportDevice(r)] if r.ok && r.code == "paper_near_end"), "{cmds:?}");
        assert!(c.handle(Event::PrinterChecked(Ok(near)), secs(40)).is_empty(), "unchanged: nothing to report");
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(80));
        assert!(matches!(&cmds[..], [Command::ReportDevice(r)] if r.ok && r.code.is_empty()), "{cmds:?}");
    }

    #[test]
    fn priority_lane_issues_one_priority_ticket() {
        let mut c = ready();
        c.handle(Event::TogglePriority, secs(1));
        assert!(c.view().priority_mode);
        assert_eq!(c.view().banner.unwrap().text, "绿色通道：请选择业务，将优先叫号");
        tap(&mut c, "invoice", "r1", secs(1));
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        assert_eq!(cmds, vec![Command::Issue { service: "invoice".into(), priority: Priority::Priority, request_id: "r1".into() }]);
        assert!(!c.view().priority_mode);
    }

    #[test]
    fn queues_update_counts_and_other_halls() {
        let mut c = ready();
        let v = c.view();
        assert_eq!(v.hall_title, "东区办税服务厅");
        assert_eq!(v.services[0].title, "申报纳税");
        assert_eq!(v.services[0].waiting, "等候 3 人");
        assert_eq!(v.services[0].wait, "预计约6分钟");
        assert_eq!(
            v.services[0].others,
            vec![
                OtherHallView { name: "西区办税服务厅".into(), text: "1 人 · 约2分钟".into() },
                OtherHallView { name: "中区办税服务厅".into(), text: "7 人 · 约14分钟".into() },
            ]
        );
        let q = QueueInfo { service: "filing".into(), waiting: 0, est_wait_s: 0, open_counters: 1, sold_out: false, closed_until: None, overtime: false, unstaffed: false, full: false };
        c.handle(Event::Queues { hall: "west".into(), queues: vec![q] }, secs(1));
        assert_eq!(c.view().services[0].others[0].text, "0 人 · 少于1分钟");
        let q = QueueInfo { service: "invoice".into(), waiting: 9, est_wait_s: 0, open_counters: 1, sold_out: true, closed_until: None, overtime: false, unstaffed: false, full: false };
        c.handle(Event::Queues { hall: "east".into(), queues: vec![q] }, secs(1));
        let v = c.view();
        assert_eq!(v.services[1].waiting, "今日已发完");
        assert!(!v.services[1].enabled);
        assert!(v.services[0].enabled);
    }

    #[test]
    fn english_toggle_and_reset_after_ticket() {
        let mut c = ready();
        c.handle(Event::ToggleLanguage, secs(1));
        let v = c.view();
        assert!(v.en);
        assert_eq!(v.hall_title, "East Hall");
        assert_eq!(v.services[0].title, "Tax filing");
        assert_eq!(v.services[0].subtitle, "申报纳税");
        assert_eq!(v.services[0].waiting, "3 waiting");
        assert_eq!(v.services[0].others[0].text, "1 waiting · ~2 min");
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(Event::Issued(Ok(ticket("A012", Priority::Normal))), secs(1));
        c.handle(Event::Printed(Ok(())), secs(1));
        assert_eq!(c.view().ticket.unwrap().headline, "Please take your ticket");
        c.handle(Event::Dismiss, secs(2));
        assert!(!c.view().en, "the next taxpayer starts in the configured language");
    }

    #[test]
    fn sold_out_answer_is_explained() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(
            Event::Issued(Err(IssueFailure::Server { status: 409, code: ErrorCode::SoldOut, message: "sold out".into(), at: None, hall: None })),
            secs(1),
        );
        assert_eq!(c.view().banner.unwrap().text, "该业务今日号票已发完");
        // The message goes away by itself.
        c.handle(Event::Tick, secs(8));
        assert_eq!(c.view().banner, None);
    }

    #[test]
    fn clock_in_local_time() {
        let c = ready();
        assert_eq!(c.view().clock, "2026年11月26日  星期四  09:14");
    }

    #[test]
    fn times_follow_the_servers_time_zone() {
        let mut c = ready();
        let mut hs = halls();
        hs[0].time_zone = "Asia/Urumqi".into();
        c.handle(Event::Snapshot(hs), t0());
        assert_eq!(c.view().clock, "2026年11月26日  星期四  07:14");
        assert_eq!(c.ticket_print(&ticket("A012", Priority::Normal)).issued_at, "2026-11-26 07:14");
    }

    #[test]
    fn a_different_tap_after_a_lost_answer_settles_the_old_request_first() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(Event::Issued(Err(IssueFailure::Network("reset".into()))), secs(3));
        // Another service: the printer, then the old request is asked about, nothing issued yet.
        assert_eq!(tap(&mut c, "invoice", "r2", secs(4)), vec![Command::CheckPrinter]);
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(4));
        assert_eq!(cmds, vec![Command::Settle { request_id: "r1".into() }]);
        // It had made a ticket: that one is printed, and nothing new is issued.
        let cmds = c.handle(Event::Settled(Ok(Some(ticket("A012", Priority::Normal)))), secs(5));
        assert!(matches!(&cmds[..], [Command::Print { .. }]), "{cmds:?}");
        c.handle(Event::Printed(Ok(())), secs(5));
        let v = c.view();
        assert_eq!(v.ticket.as_ref().unwrap().number, "A012");
        assert_eq!(v.ticket.unwrap().headline, "您刚才的取号已成功，请取走号票");
        // The next tap is an ordinary one.
        c.handle(Event::Dismiss, secs(6));
        tap(&mut c, "invoice", "r3", secs(7));
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(7));
        assert_eq!(cmds, vec![Command::Issue { service: "invoice".into(), priority: Priority::Normal, request_id: "r3".into() }]);
    }

    #[test]
    fn a_settled_request_that_made_nothing_lets_the_new_tap_issue() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(Event::Issued(Err(IssueFailure::Network("reset".into()))), secs(3));
        tap(&mut c, "invoice", "r2", secs(4));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(4));
        let cmds = c.handle(Event::Settled(Ok(None)), secs(5));
        assert_eq!(cmds, vec![Command::Issue { service: "invoice".into(), priority: Priority::Normal, request_id: "r2".into() }]);
        // Still no answer about the old one: it stays unsettled, nothing is issued.
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(Event::Issued(Err(IssueFailure::Network("reset".into()))), secs(3));
        tap(&mut c, "invoice", "r2", secs(4));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(4));
        assert!(c.handle(Event::Settled(Err(IssueFailure::Network("down".into()))), secs(5)).is_empty());
        assert_eq!(c.view().banner.unwrap().text, "网络异常，未能取号，请稍后重试");
        tap(&mut c, "invoice", "r4", secs(6));
        assert_eq!(c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(6)), vec![Command::Settle { request_id: "r1".into() }]);
    }

    fn says(cmds: &[Command]) -> Vec<(Prompt, Language)> {
        cmds.iter()
            .filter_map(|c| match c {
                Command::Say { prompt, language } => Some((prompt.clone(), *language)),
                _ => None,
            })
            .collect()
    }

    /// Taps `service` at `at` and carries the ticket through to the printer; returns what was
    /// said when it printed.
    fn take_ticket(c: &mut Controller, service: &str, at: DateTime<Utc>, printed: Result<(), PrinterFault>) -> Vec<(Prompt, Language)> {
        tap(c, service, "r", at);
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), at);
        c.handle(Event::Issued(Ok(ticket("A012", Priority::Normal))), at);
        says(&c.handle(Event::Printed(printed), at))
    }

    #[test]
    fn guidance_greets_a_new_visitor_tells_the_ticket_and_names_a_fault() {
        use Language::*;
        let mut c = ready();
        // The first touch after the kiosk stood idle: "请选择办理的业务"; touches right after: nothing.
        assert_eq!(says(&c.handle(Event::Touched, secs(1))), [(Prompt::ChooseService, Zh)]);
        assert!(says(&c.handle(Event::Touched, secs(5))).is_empty());
        // The language button is a touch too; what follows is said in the chosen language.
        assert!(says(&c.handle(Event::ToggleLanguage, secs(6))).is_empty());
        assert_eq!(take_ticket(&mut c, "filing", secs(7), Ok(())), [(Prompt::TakeTicket { ahead: 3 }, En)]);
        c.handle(Event::Dismiss, secs(8));
        // A minute later someone taps a service straight away: no greeting, just the ticket.
        assert_eq!(take_ticket(&mut c, "filing", secs(70), Ok(())), [(Prompt::TakeTicket { ahead: 3 }, Zh)]);
        c.handle(Event::Dismiss, secs(71));
        // A ticket that did not print: the number on screen is all there is.
        assert_eq!(take_ticket(&mut c, "filing", secs(72), Err(PrinterFault::Port("timeout".into()))), [(Prompt::NotPrinted { number: "A012".into() }, Zh)]);
        c.handle(Event::Dismiss, secs(73));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(74));
        // The paper ran out: found when someone taps; the ticket is issued, its number said to
        // them in their language.
        c.handle(Event::ToggleLanguage, secs(75));
        tap(&mut c, "filing", "r9", secs(75));
        assert!(says(&c.handle(Event::PrinterChecked(Err(PrinterFault::PaperEnd)), secs(75))).is_empty());
        let cmds = c.handle(Event::Issued(Ok(ticket("A013", Priority::Normal))), secs(75));
        assert_eq!(says(&cmds), [(Prompt::NotPrinted { number: "A013".into() }, En)]);
        c.handle(Event::Dismiss, secs(76));
        assert!(!c.view().en, "home is in the kiosk's language again");
        // The next visitor, while it is still out: greeted as ever (staff are told by the alert).
        assert_eq!(says(&c.handle(Event::Touched, secs(200))), [(Prompt::ChooseService, Zh)]);
        // Polling finds faults with nobody there: silent.
        assert!(says(&c.handle(Event::PrinterChecked(Err(PrinterFault::CoverOpen)), secs(203))).is_empty());

        // Switched off in the config: silent.
        let mut cfg = cfg();
        cfg.voice.enabled = false;
        let mut c = Controller::new(cfg, t0());
        c.handle(Event::Snapshot(halls()), t0());
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), t0());
        assert!(says(&c.handle(Event::Touched, secs(1))).is_empty());
        assert!(take_ticket(&mut c, "filing", secs(2), Ok(())).is_empty());
    }

    #[test]
    fn elder_mode_gives_more_time_and_ends_with_the_visit() {
        let mut c = ready();
        assert!(c.view().elder_button && !c.view().elder);
        c.handle(Event::ToggleElder, secs(1));
        assert!(c.elder() && c.view().elder);
        take_ticket(&mut c, "filing", secs(2), Ok(()));
        // The ticket stays twice as long (60 s instead of 30).
        assert_eq!(c.view().ticket.unwrap().countdown, 60);
        c.handle(Event::Tick, secs(40));
        assert_eq!(c.screen(), Screen::Ticket);
        c.handle(Event::Tick, secs(62));
        assert_eq!(c.screen(), Screen::Home);
        // The visit is over: the next taxpayer starts in the standard mode.
        assert!(!c.elder());

        // Switched on and left alone: back to standard after twice the idle time.
        c.handle(Event::ToggleElder, secs(70));
        assert!(c.elder());
        c.handle(Event::Tick, secs(70 + 119));
        assert!(c.elder());
        c.handle(Event::Tick, secs(70 + 120));
        assert!(!c.elder());

        // Messages stay longer too, and the check-in screen waits longer.
        c.handle(Event::ToggleElder, secs(200));
        c.handle(Event::OpenCheckIn, secs(201));
        assert_eq!(c.screen(), Screen::CheckIn);
        c.handle(Event::Tick, secs(201 + 100));
        assert_eq!(c.screen(), Screen::CheckIn, "60 s is not enough in 长者模式");
        c.handle(Event::Tick, secs(201 + 120));
        assert_eq!(c.screen(), Screen::Home);

        // Not offered: the button does nothing.
        let mut cfg = cfg();
        cfg.elder_mode = false;
        let mut c = Controller::new(cfg, t0());
        c.handle(Event::ToggleElder, secs(1));
        assert!(!c.elder() && !c.view().elder_button);
    }
}
