//! The kiosk's logic, free of IO: events in, commands out, and a view model for the screen
//! ([`view`]).
//!
//! The UI thread and the worker thread only feed [`Event`]s to [`Controller::handle`], carry out
//! the [`Command`]s it returns and draw [`Controller::view`]. Everything here is tested without a
//! window, a network or a printer.

mod view;

use chrono::{DateTime, Utc};
use qcall_wire::{DeviceStatusReport, ErrorCode, HallInfo, Priority, QueueInfo, Ticket};

pub use self::view::{queue_text, Banner, OtherHallView, PhoneView, ServiceView, Severity, TicketView, View};
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
    /// 短信提醒: leave this mobile number for the ticket's text reminders (near turn, called);
    /// the hall's own kiosk needs no code. Answer: [`Event::PhoneLeft`].
    LeavePhone { ticket: u64, phone: PhoneNumber },
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
    /// A hall run by its own server was cut off or is heard from again.
    HallLink { hall: String, link: qcall_wire::HallLink },
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
    /// The 短信提醒 button of the ticket screen: the phone number screen.
    OpenPhone,
    /// A digit of the phone number keypad.
    PhoneKey(char),
    PhoneBackspace,
    /// The keypad's 清空: everything typed goes.
    PhoneClear,
    /// Leave the typed number (确定).
    PhoneSubmit,
    /// 跳过 / 返回, or a touch on the confirmation: the phone step ends.
    ClosePhone,
    /// The server took the number (masked by it: 138****1234), or said why not.
    PhoneLeft(Result<String, IssueFailure>),
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
    /// 短信提醒: keypad for a mobile number, after the ticket; then its confirmation.
    Phone,
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
    /// The number left for its text reminders, masked (138****1234).
    phone_left: Option<String>,
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

/// A mobile number typed on the kiosk. It is personal: its `Debug` shows it masked
/// (138****1234), so a logged command, event or state never holds the number itself.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn new(digits: impl Into<String>) -> Self {
        PhoneNumber(digits.into())
    }
    /// The number itself: for the request to the server only.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// 138****1234 (what is typed so far: one `*` a digit).
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
    /// A mainland mobile number, as the server takes it: 11 digits, `1`, then `3`–`9`.
    pub fn is_valid(&self) -> bool {
        let b = self.0.as_bytes();
        b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
    }
    /// As the screen shows it: 138 1234 1234.
    pub fn grouped(&self) -> String {
        let mut out = String::new();
        for (i, c) in self.0.chars().enumerate() {
            if i == 3 || i == 7 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }
}

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// 138****1234 for an 11-digit number; otherwise one `*` a character.
pub fn mask_phone(s: &str) -> String {
    if s.len() == 11 && s.is_ascii() {
        format!("{}****{}", &s[..3], &s[7..])
    } else {
        "*".repeat(s.chars().count())
    }
}

/// 短信提醒: the number being typed for the shown ticket, and what the server said.
#[derive(Debug, Clone, PartialEq)]
struct PhoneStep {
    ticket: u64,
    input: PhoneNumber,
    stage: PhoneStage,
    /// The last refusal (zh, en) …
    note: Option<(String, String)>,
    /// … and whether another try can help (a wrong number, the network), or not (the ticket
    /// is no longer waiting, the hall sends no texts).
    retry: bool,
    /// Typing: back home when nothing happens until then; sent: the answer is given up on;
    /// done: the confirmation goes.
    until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PhoneStage {
    Typing,
    Sending,
    /// Taken: the masked number, confirmed on screen.
    Done(String),
}

/// Seconds the phone screen stays after the number was taken.
const PHONE_DONE_S: i64 = 8;
/// Seconds an unanswered number request is waited for (the client gives up well before).
const PHONE_SEND_S: i64 = 30;

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
    /// 短信提醒 in progress (on [`Screen::Phone`] only).
    phone: Option<PhoneStep>,
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
            phone: None,
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

    /// Appointments or remote tickets (线上取号) can be checked in here now.
    pub fn check_in_enabled(&self) -> bool {
        self.can_issue() && self.my_hall().is_some_and(|h| h.appointments || h.remote_left.is_some())
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
        if matches!(self.screen, Screen::Ticket | Screen::Phone) {
            self.elder = false;
        }
        // A number typed and not taken never outlives the visit.
        self.phone = None;
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
                | Event::OpenPhone
                | Event::PhoneKey(_)
                | Event::PhoneBackspace
                | Event::PhoneClear
                | Event::PhoneSubmit
                | Event::ClosePhone
        );
        let idle = chrono::Duration::from_std(self.cfg.voice.idle).unwrap_or_default();
        // A touch after the kiosk stood idle: someone new is in front of it.
        let greet = touch && !matches!(event, Event::Tap { .. }) && self.last_touch.is_none_or(|t| now - t >= idle);
        if touch {
            self.last_touch = Some(now);
        }
        match event {
            Event::Tap { service, fresh_request_id } => self.tap(service, fresh_request_id, &mut out),
            Event::Tick | Event::ServerTime(_) => {}
            e @ (Event::TogglePriority | Event::ToggleLanguage | Event::ToggleElder | Event::Touched | Event::Dismiss) => self.on_screen(e),
            e @ (Event::Connected | Event::Snapshot(_) | Event::Queues { .. } | Event::HallLink { .. } | Event::Disconnected) => self.on_link(e),
            e @ (Event::PrinterChecked(_) | Event::Issued(_) | Event::Settled(_) | Event::Printed(_)) => self.on_issuing(e, &mut out),
            e @ (Event::OpenPhone
            | Event::PhoneKey(_)
            | Event::PhoneBackspace
            | Event::PhoneClear
            | Event::PhoneSubmit
            | Event::ClosePhone
            | Event::PhoneLeft(_)) => self.on_phone(e, &mut out),
            e => self.on_check_in(e, &mut out),
        }

        if greet && self.screen == Screen::Home {
            // A printer fault is for staff (the consoles and the duty leader are told); the
            // visitor can still take a ticket.
            self.say(Prompt::ChooseService, &mut out);
        }

        self.on_time(idle, &mut out);
        self.maybe_report(&mut out);
        out
    }

    /// Time-driven work, on every event: screens and messages that ran out, the printer's
    /// next check.
    fn on_time(&mut self, idle: chrono::Duration, out: &mut Vec<Command>) {
        let now = self.now;
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
        if self.screen == Screen::Phone {
            match self.phone.as_ref() {
                // Taken: the confirmation has been read.
                Some(p) if now >= p.until && matches!(p.stage, PhoneStage::Done(_)) => self.leave_phone_step(),
                // Nobody typed for a while (or no answer came): the visitor has gone.
                Some(p) if now >= p.until => self.go_home(),
                Some(_) => {}
                None => self.go_home(),
            }
        }
        if !self.check_in_flight && self.pending.as_ref().is_none_or(|p| p.stage == Stage::FailedNetwork) && now >= self.next_check {
            self.check_in_flight = true;
            out.push(Command::CheckPrinter);
        }
    }

    /// The visitor's taps besides a service: priority, language, 长者模式, dismissing the ticket.
    fn on_screen(&mut self, event: Event) {
        match event {
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
            _ => {}
        }
    }

    /// The server's stream: connected, the halls, queue changes, lost.
    fn on_link(&mut self, event: Event) {
        match event {
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
                            s.est_wait_range_s = q.est_wait_range_s;
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
            Event::HallLink { hall, link } => {
                if let Some(h) = self.halls.iter_mut().find(|h| h.id == hall) {
                    h.link = Some(link);
                }
            }
            Event::Disconnected => {
                self.link = Link::Down;
            }
            _ => {}
        }
    }

    /// A ticket's way: the printer checked, issued (or settled), printed.
    fn on_issuing(&mut self, event: Event, out: &mut Vec<Command>) {
        let now = self.now;
        match event {
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
            Event::Issued(Ok(ticket)) => self.print(ticket, false, out),
            Event::Settled(Ok(Some(ticket))) => {
                // The earlier tap did make a ticket: it is this taxpayer's; nothing new is issued.
                tracing::info!(number = %ticket.number, "an unanswered request had made a ticket; printing it");
                self.print(ticket, true, out);
            }
            Event::Settled(Ok(None)) => {
                if let Some(p) = self.pending.as_mut().filter(|p| p.stage == Stage::Settling) {
                    p.unsettled = None;
                    p.stage = Stage::Issuing;
                    out.push(Command::Issue { service: p.service.clone(), priority: p.priority, request_id: p.request_id.clone() });
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
                    self.say(Prompt::TakeTicket { ahead }, out);
                }
            }
            Event::Printed(Err(f)) => {
                self.printer = PrinterState::Fault(f.clone());
                self.schedule_check();
                self.show_unprinted(f, out);
            }
            _ => {}
        }
    }

    /// 预约签到: the screen, the keypad, the scanner, the server's answer.
    fn on_check_in(&mut self, event: Event, out: &mut Vec<Command>) {
        let now = self.now;
        let check_in_idle = self.check_in_idle();
        match event {
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
                    self.submit_check_in(input, fresh_request_id, out);
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
                        self.submit_check_in(input, fresh_request_id, out);
                    }
                }
            }
            Event::CheckedIn(Ok(qcall_wire::CheckedIn { ticket, again: false })) => {
                self.check_in = None;
                self.print(ticket, false, out);
            }
            Event::CheckedIn(Ok(qcall_wire::CheckedIn { ticket, again: true })) => {
                // Checked in before: the same number on screen, not a second slip.
                self.check_in = None;
                self.pending = None;
                let until = self.now + self.ticket_stay();
                self.shown = Some(Shown { ticket, earlier: false, again: true, print_failed: None, printed: false, until, phone_left: None });
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
            _ => {}
        }
    }

    /// The 短信提醒 button is on the ticket screen: the hall texts, the server is reachable,
    /// and the shown ticket of this hall waits and has no number yet. Also without paper: the
    /// taxpayer who has only the screen's number gains most from a text (the phone screen
    /// shows the number, and leads back to it).
    pub fn phone_offered(&self) -> bool {
        self.screen == Screen::Ticket
            && self.link == Link::Up
            && self.my_hall().is_some_and(|h| h.ticket_texts)
            && self.shown.as_ref().is_some_and(|s| {
                // A remote ticket (线上取号) was taken with a proven number already.
                s.ticket.state == qcall_wire::TicketState::Waiting
                    && s.ticket.hall == self.cfg.hall
                    && s.phone_left.is_none()
                    && s.ticket.remote.is_none()
            })
    }

    /// How long the phone screen waits for a key.
    fn phone_idle(&self) -> chrono::Duration {
        self.check_in_idle()
    }

    /// 短信提醒: the screen, the keypad, the server's answer.
    fn on_phone(&mut self, event: Event, out: &mut Vec<Command>) {
        let now = self.now;
        let idle = self.phone_idle();
        let on_screen = self.screen == Screen::Phone;
        // The keypad works while typing, and not after a refusal no retry can help.
        let typing = |p: &PhoneStep| on_screen && p.stage == PhoneStage::Typing && p.retry;
        match event {
            Event::OpenPhone if self.phone_offered() => {
                let ticket = self.shown.as_ref().map(|s| s.ticket.id).unwrap_or_default();
                self.screen = Screen::Phone;
                self.phone = Some(PhoneStep {
                    ticket,
                    input: PhoneNumber::default(),
                    stage: PhoneStage::Typing,
                    note: None,
                    retry: true,
                    until: now + idle,
                });
            }
            Event::PhoneKey(c) => {
                if let Some(p) = self.phone.as_mut().filter(|p| typing(p)) {
                    if c.is_ascii_digit() && p.input.0.len() < 11 {
                        p.input.0.push(c);
                    }
                    p.note = None;
                    p.until = now + idle;
                }
            }
            Event::PhoneBackspace | Event::PhoneClear => {
                if let Some(p) = self.phone.as_mut().filter(|p| typing(p)) {
                    if matches!(event, Event::PhoneClear) {
                        p.input.0.clear();
                    } else {
                        p.input.0.pop();
                    }
                    p.note = None;
                    p.until = now + idle;
                }
            }
            Event::PhoneSubmit => {
                if let Some(p) = self.phone.as_mut().filter(|p| typing(p)) {
                    p.until = now + idle;
                    if !p.input.is_valid() {
                        p.note = Some((text::PHONE_INVALID.zh.into(), text::PHONE_INVALID.en.into()));
                        return;
                    }
                    p.note = None;
                    p.stage = PhoneStage::Sending;
                    p.until = now + chrono::Duration::seconds(PHONE_SEND_S);
                    out.push(Command::LeavePhone { ticket: p.ticket, phone: p.input.clone() });
                }
            }
            // Not while the number is on its way: the answer decides what is shown.
            Event::ClosePhone if on_screen && self.phone.as_ref().is_none_or(|p| p.stage != PhoneStage::Sending) => {
                self.leave_phone_step();
            }
            Event::PhoneLeft(Ok(masked)) => {
                let stay = chrono::Duration::seconds(PHONE_DONE_S * self.patience() as i64);
                if let Some(p) = self.phone.as_mut().filter(|p| on_screen && p.stage == PhoneStage::Sending) {
                    // Taken: the number itself is no longer needed here.
                    p.input = PhoneNumber::default();
                    p.stage = PhoneStage::Done(masked.clone());
                    p.until = now + stay;
                    if let Some(s) = self.shown.as_mut() {
                        s.phone_left = Some(masked);
                    }
                }
            }
            Event::PhoneLeft(Err(failure)) => {
                let (note, retry) = self.phone_refusal(&failure);
                if let Some(p) = self.phone.as_mut().filter(|p| on_screen && p.stage == PhoneStage::Sending) {
                    p.stage = PhoneStage::Typing;
                    p.note = Some(note);
                    p.retry = retry;
                    p.until = now + idle;
                }
            }
            _ => {}
        }
    }

    /// The phone step ends (skipped, or the confirmation read): home, or back to the ticket's
    /// number when it was not printed (the screen is all the taxpayer has). The number goes.
    fn leave_phone_step(&mut self) {
        self.phone = None;
        let stay = self.ticket_stay();
        let now = self.now;
        match self.shown.as_mut().filter(|s| s.print_failed.is_some()) {
            Some(s) => {
                s.until = now + stay + stay;
                self.screen = Screen::Ticket;
            }
            None => self.go_home(),
        }
    }

    /// What the phone screen says about a refusal (zh, en), and whether trying again can help.
    fn phone_refusal(&self, failure: &IssueFailure) -> ((String, String), bool) {
        let t = |t: Text, retry: bool| ((t.zh.to_string(), t.en.to_string()), retry);
        match failure {
            IssueFailure::Network(_) => t(text::PHONE_NETWORK, true),
            IssueFailure::Server { code, .. } => match code {
                ErrorCode::InvalidPhone => t(text::PHONE_REFUSED, true),
                ErrorCode::SmsUnavailable => t(text::PHONE_UNAVAILABLE, false),
                ErrorCode::UnknownTicket | ErrorCode::WrongTicketState => t(text::PHONE_NOT_WAITING, false),
                ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::PhoneCodeRequired => t(text::PHONE_NOT_HERE, false),
                _ => t(text::BUSY, true),
            },
        }
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
        self.shown = Some(Shown { ticket, earlier, again: false, print_failed: None, printed: false, until: self.now, phone_left: None });
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
            // The server's link for the paper (with the key that lets its holder rate it).
            qr_url: ticket.page.clone().or_else(|| hall.map(|h| h.ticket_url(ticket.id))).unwrap_or_default(),
            remote: ticket.remote.is_some(),
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
mod tests;
