//! The kiosk's logic, free of IO: events in, commands out, and a view model for the screen.
//!
//! The UI thread and the worker thread only feed [`Event`]s to [`Controller::handle`], carry out
//! the [`Command`]s it returns and draw [`Controller::view`]. Everything here is tested without a
//! window, a network or a printer.

use chrono::{DateTime, Datelike, Utc};
use qcall_wire::{DeviceStatusReport, HallInfo, Priority, QueueInfo, Ticket};

use crate::config::{Config, Language};
use crate::escpos::{self, Layout, PrinterFault, PrinterHealth, TicketPrint};

/// Work for the worker thread. A closed set: the worker handles exactly these.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Ask the printer for its status (DLE EOT 1, 2, 4); answer with [`Event::PrinterChecked`].
    CheckPrinter,
    /// Issue a ticket; retries after network errors reuse `request_id`. Answer: [`Event::Issued`].
    Issue { service: String, priority: Priority, request_id: String },
    /// Write the rendered ticket to the printer. Answer: [`Event::Printed`].
    Print { bytes: Vec<u8> },
    /// Report this kiosk's printer status to the server. Answer: [`Event::DeviceReported`].
    ReportDevice(DeviceStatusReport),
    /// Stop the worker.
    Shutdown,
}

/// Why issuing a ticket failed.
#[derive(Debug, Clone, PartialEq)]
pub enum IssueFailure {
    /// The server could not be reached (after retries with the same request id).
    Network(String),
    /// The server answered with an error body.
    Server { status: u16, code: String, message: String },
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
    /// A tap on the ticket screen: back to home now.
    Dismiss,
    /// Once a second: clock, returning home, printer polling.
    Tick,
    /// Full state from the event stream (connected).
    Snapshot(Vec<HallInfo>),
    /// A hall's queues changed.
    Queues { hall: String, queues: Vec<QueueInfo> },
    /// The event stream is down.
    Disconnected,
    PrinterChecked(Result<PrinterHealth, PrinterFault>),
    Issued(Result<Ticket, IssueFailure>),
    Printed(Result<(), PrinterFault>),
    DeviceReported(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Home,
    /// 正在出票…
    Printing,
    /// 请取走您的号票
    Ticket,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    CheckingPrinter,
    Issuing,
    /// The request failed on the network: a new tap on the same service reuses the id.
    FailedNetwork,
}

#[derive(Debug, Clone, PartialEq)]
struct Shown {
    ticket: Ticket,
    print_failed: Option<PrinterFault>,
    printed: bool,
    until: DateTime<Utc>,
}

/// Severity of the banner under the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Banner {
    pub text: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OtherHallView {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub id: String,
    pub prefix: String,
    pub title: String,
    pub subtitle: String,
    pub waiting: String,
    pub wait: String,
    pub enabled: bool,
    pub others: Vec<OtherHallView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TicketView {
    pub number: String,
    pub service: String,
    pub ahead: String,
    pub wait: String,
    pub headline: String,
    /// Set when the printer failed: the number on screen is all the taxpayer has.
    pub print_failed: String,
    pub countdown: u32,
    pub priority: bool,
}

/// What the screen shows; the UI only copies it.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub screen: Screen,
    pub en: bool,
    pub hall_title: String,
    pub hall_subtitle: String,
    pub clock: String,
    pub services: Vec<ServiceView>,
    pub issuing_enabled: bool,
    pub banner: Option<Banner>,
    pub priority_lane: bool,
    pub priority_mode: bool,
    pub ticket: Option<TicketView>,
}

/// How long a transient message (sold out, network error) stays.
const MESSAGE_S: i64 = 6;
/// Wait after a failed device status report before the next try.
const REPORT_RETRY_S: i64 = 10;
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
    reported: Option<(bool, String)>,
    /// After a failed report, the next try waits until then.
    report_retry_at: DateTime<Utc>,
    pending: Option<Pending>,
    shown: Option<Shown>,
    message: Option<(String, String, DateTime<Utc>)>,
}

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
            report_retry_at: now,
            pending: None,
            shown: None,
            message: None,
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

    /// Issuing is possible: server reachable, printer healthy, not busy.
    pub fn can_issue(&self) -> bool {
        self.link == Link::Up
            && matches!(self.printer, PrinterState::Ok(_) | PrinterState::Unknown)
            && self.my_hall().is_some()
    }

    fn desired_report(&self) -> Option<(bool, String, String)> {
        match &self.printer {
            PrinterState::Unknown => None,
            PrinterState::Ok(h) if h.paper_near_end => {
                Some((true, "paper_near_end".into(), "打印机纸将用尽 / paper near end".into()))
            }
            PrinterState::Ok(_) => Some((true, String::new(), String::new())),
            PrinterState::Fault(f) => Some((false, f.code().into(), format!("{} / {}", f.message_zh(), f)))
        }
    }

    fn maybe_report(&mut self, out: &mut Vec<Command>) {
        if self.link != Link::Up || self.now < self.report_retry_at {
            return;
        }
        if let Some((ok, code, message)) = self.desired_report() {
            let key = (ok, code.clone());
            if self.reported.as_ref() != Some(&key) {
                self.reported = Some(key);
                out.push(Command::ReportDevice(DeviceStatusReport { ok, code, message }));
            }
        }
    }

    fn set_message(&mut self, zh: &str, en: &str) {
        self.message = Some((zh.into(), en.into(), self.now + chrono::Duration::seconds(MESSAGE_S)));
    }

    fn schedule_check(&mut self) {
        let secs = match self.printer {
            PrinterState::Ok(_) => IDLE_POLL_S,
            _ => self.cfg.printer.status_poll.as_secs() as i64,
        };
        self.next_check = self.now + chrono::Duration::seconds(secs);
    }

    fn go_home(&mut self) {
        self.screen = Screen::Home;
        self.language = self.cfg.language;
        self.priority_mode = false;
    }

    /// Handles one event at time `now`; returns the commands to carry out.
    pub fn handle(&mut self, event: Event, now: DateTime<Utc>) -> Vec<Command> {
        self.now = now;
        let mut out = vec![];
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
            Event::Dismiss => {
                if self.screen == Screen::Ticket {
                    self.go_home();
                }
            }
            Event::Tick => {}
            Event::Snapshot(halls) => {
                self.halls = halls;
                if self.link != Link::Up {
                    // Whatever was last reported may have been lost with the link.
                    self.reported = None;
                }
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
                if let Some(p) = self.pending.as_mut().filter(|p| p.stage == Stage::CheckingPrinter) {
                    match &self.printer {
                        PrinterState::Ok(_) if self.link == Link::Up => {
                            p.stage = Stage::Issuing;
                            out.push(Command::Issue {
                                service: p.service.clone(),
                                priority: p.priority,
                                request_id: p.request_id.clone(),
                            });
                        }
                        _ => {
                            // Nothing was issued: the fault banner explains why.
                            self.pending = None;
                            self.go_home();
                        }
                    }
                }
            }
            Event::Issued(Ok(ticket)) => {
                self.pending = None;
                let bytes = escpos::render(&self.ticket_print(&ticket), &Layout::for_paper(self.cfg.printer.paper));
                self.shown = Some(Shown { ticket, print_failed: None, printed: false, until: now });
                out.push(Command::Print { bytes });
            }
            Event::Issued(Err(failure)) => {
                self.go_home();
                match failure {
                    IssueFailure::Network(_) => {
                        if let Some(p) = self.pending.as_mut() {
                            p.stage = Stage::FailedNetwork;
                        }
                        self.set_message("网络异常，未能取号，请稍后重试", "Network problem: no ticket was issued. Please try again.");
                    }
                    IssueFailure::Server { code, message, .. } => {
                        self.pending = None;
                        let (zh, en) = match code.as_str() {
                            "sold_out" => ("该业务今日号票已发完", "This service has no more tickets today."),
                            "unknown_service" => ("该业务暂不可用", "This service is not available."),
                            "unauthorized" | "forbidden" => ("取号机未获授权，请联系工作人员", "This kiosk is not authorised. Please ask staff."),
                            _ => ("系统繁忙，请稍后重试", "The system is busy. Please try again."),
                        };
                        tracing::warn!(%code, %message, "issue refused");
                        self.set_message(zh, en);
                    }
                }
            }
            Event::Printed(result) => {
                let stay = chrono::Duration::from_std(self.cfg.return_home).unwrap_or_default();
                if let Some(s) = self.shown.as_mut() {
                    s.until = now + stay;
                    match result {
                        Ok(()) => s.printed = true,
                        Err(f) => {
                            // A ticket that did not print stays on screen twice as long.
                            s.until = now + stay + stay;
                            s.print_failed = Some(f.clone());
                            self.printer = PrinterState::Fault(f);
                            self.schedule_check();
                        }
                    }
                    self.screen = Screen::Ticket;
                }
            }
            Event::DeviceReported(ok) => {
                if !ok {
                    // Try again later, not at once: a server refusing reports must not be flooded.
                    self.reported = None;
                    self.report_retry_at = now + chrono::Duration::seconds(REPORT_RETRY_S);
                }
            }
        }

        // Time-driven work, on every event.
        if self.screen == Screen::Ticket && self.shown.as_ref().is_some_and(|s| now >= s.until) {
            self.go_home();
        }
        if let Some((_, _, until)) = &self.message {
            if now >= *until {
                self.message = None;
            }
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
            self.set_message("该业务今日号票已发完", "This service has no more tickets today.");
            return;
        }
        let priority = if self.priority_mode { Priority::Priority } else { Priority::Normal };
        let request_id = match &self.pending {
            Some(p) if p.stage == Stage::FailedNetwork && p.service == service && p.priority == priority => p.request_id.clone(),
            _ => fresh,
        };
        self.priority_mode = false;
        self.message = None;
        self.screen = Screen::Printing;
        self.pending = Some(Pending { service, priority, request_id: request_id.clone(), stage: Stage::CheckingPrinter });
        if !self.check_in_flight {
            self.check_in_flight = true;
            out.push(Command::CheckPrinter);
        }
    }

    /// What goes on paper for `ticket`.
    pub fn ticket_print(&self, ticket: &Ticket) -> TicketPrint {
        let hall = self.halls.iter().find(|h| h.id == ticket.hall);
        let service = hall.and_then(|h| h.services.iter().find(|s| s.id == ticket.service));
        let local = ticket.issued_at.with_timezone(&self.cfg.timezone);
        TicketPrint {
            hall_zh: hall.map(|h| h.name_zh.clone()).unwrap_or_else(|| ticket.hall.clone()),
            hall_en: hall.map(|h| h.name_en.clone()).unwrap_or_default(),
            service_zh: service.map(|s| s.name_zh.clone()).unwrap_or_else(|| ticket.service.clone()),
            service_en: service.map(|s| s.name_en.clone()).unwrap_or_default(),
            number: ticket.number.clone(),
            priority: ticket.priority == Priority::Priority,
            waiting_ahead: ticket.waiting_ahead,
            est_wait_s: ticket.est_wait_s,
            issued_at: local.format("%Y-%m-%d %H:%M").to_string(),
            qr_url: format!("{}/t/{}", self.cfg.public_base_url, ticket.id),
            notice: self.cfg.printer.notice.clone(),
        }
    }

    fn clock(&self) -> String {
        let local = self.now.with_timezone(&self.cfg.timezone);
        let wd = local.weekday().num_days_from_monday() as usize;
        match self.language {
            Language::Zh => {
                const DAYS: [&str; 7] = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"];
                format!("{}  {}  {}", local.format("%Y年%m月%d日"), DAYS[wd], local.format("%H:%M"))
            }
            Language::En => local.format("%a %d %b %Y  %H:%M").to_string(),
        }
    }

    pub fn view(&self) -> View {
        let en = self.language == Language::En;
        let pick = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
        let hall = self.my_hall();
        let issuing = self.can_issue() && self.screen == Screen::Home;

        let banner = if self.link != Link::Up {
            Some(Banner {
                text: if self.link == Link::Connecting {
                    pick("正在连接系统…", "Connecting to the queue system…")
                } else {
                    pick("系统连接中断，暂停取号，正在自动重连", "System connection lost: tickets paused, reconnecting")
                },
                severity: if self.link == Link::Connecting { Severity::Info } else { Severity::Error },
            })
        } else if let PrinterState::Fault(f) = &self.printer {
            Some(Banner { text: pick(f.message_zh(), f.message_en()), severity: Severity::Error })
        } else if let Some((zh, e, _)) = &self.message {
            Some(Banner { text: pick(zh, e), severity: Severity::Warning })
        } else if self.priority_mode {
            Some(Banner {
                text: pick("绿色通道：请选择业务，将优先叫号", "Priority lane: choose a service; you will be called first"),
                severity: Severity::Info,
            })
        } else {
            None
        };

        let services = hall
            .map(|h| {
                h.services
                    .iter()
                    .map(|s| {
                        let others = self
                            .halls
                            .iter()
                            .filter(|o| o.id != h.id)
                            .filter_map(|o| {
                                let os = o.services.iter().find(|x| x.id == s.id)?;
                                Some(OtherHallView {
                                    name: if en { o.name_en.clone() } else { o.name_zh.clone() },
                                    text: queue_text(en, os.waiting, os.est_wait_s, os.sold_out),
                                })
                            })
                            .collect();
                        ServiceView {
                            id: s.id.clone(),
                            prefix: s.prefix.clone(),
                            title: pick(&s.name_zh, &s.name_en),
                            subtitle: pick(&s.name_en, &s.name_zh),
                            waiting: if s.sold_out {
                                pick("今日已发完", "No more today")
                            } else if en {
                                format!("{} waiting", s.waiting)
                            } else {
                                format!("等候 {} 人", s.waiting)
                            },
                            wait: if s.sold_out {
                                String::new()
                            } else if en {
                                format!("wait {}", escpos::wait_minutes_en(s.est_wait_s))
                            } else {
                                format!("预计{}", escpos::wait_minutes_zh(s.est_wait_s))
                            },
                            enabled: issuing && !s.sold_out,
                            others,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();

        let ticket = self.shown.as_ref().filter(|_| self.screen == Screen::Ticket).map(|s| {
            let t = &s.ticket;
            let svc = self
                .halls
                .iter()
                .find(|h| h.id == t.hall)
                .and_then(|h| h.services.iter().find(|x| x.id == t.service))
                .map(|x| pick(&x.name_zh, &x.name_en))
                .unwrap_or_else(|| t.service.clone());
            let left = (s.until - self.now).num_seconds().max(0) as u32;
            TicketView {
                number: t.number.clone(),
                service: svc,
                ahead: if en { format!("{} people ahead of you", t.waiting_ahead) } else { format!("前面还有 {} 人", t.waiting_ahead) },
                wait: if en {
                    format!("Estimated wait: {}", escpos::wait_minutes_en(t.est_wait_s))
                } else {
                    format!("预计等候{}", escpos::wait_minutes_zh(t.est_wait_s))
                },
                headline: if s.print_failed.is_some() {
                    pick("您的号码", "Your number")
                } else {
                    pick("请取走您的号票", "Please take your ticket")
                },
                print_failed: match &s.print_failed {
                    Some(_) => pick(
                        "号票未能打印，请记住您的号码，已为您排队",
                        "The ticket could not be printed. Please remember your number: you are in the queue.",
                    ),
                    None => String::new(),
                },
                countdown: left,
                priority: t.priority == Priority::Priority,
            }
        });

        View {
            screen: self.screen,
            en,
            hall_title: hall
                .map(|h| pick(&h.name_zh, &h.name_en))
                .unwrap_or_else(|| pick(&self.cfg.hall_name_zh, &self.cfg.hall_name_en)),
            hall_subtitle: hall
                .map(|h| pick(&h.name_en, &h.name_zh))
                .unwrap_or_else(|| pick(&self.cfg.hall_name_en, &self.cfg.hall_name_zh)),
            clock: self.clock(),
            services,
            issuing_enabled: issuing,
            banner,
            priority_lane: self.cfg.priority_lane,
            priority_mode: self.priority_mode,
            ticket,
        }
    }
}

/// "3人 · 约6分钟" for another hall's queue.
pub fn queue_text(en: bool, waiting: u32, est_wait_s: u32, sold_out: bool) -> String {
    match (en, sold_out) {
        (false, true) => "今日已发完".into(),
        (true, true) => "no more today".into(),
        (false, false) => format!("{} 人 · {}", waiting, escpos::wait_minutes_zh(est_wait_s)),
        (true, false) if est_wait_s < 60 => format!("{waiting} waiting · <1 min"),
        (true, false) => format!("{} waiting · ~{} min", waiting, est_wait_s.div_ceil(60)),
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
            counter: None,
            counter_number: None,
            call_count: 0,
            transferred: false,
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
        let expected = escpos::render(&c.ticket_print(&ticket("A012", Priority::Normal)), &Layout::for_paper(escpos::PaperWidth::Mm80));
        assert_eq!(cmds, vec![Command::Print { bytes: expected }]);
        assert!(c.handle(Event::Printed(Ok(())), secs(2)).is_empty());
        let v = c.view();
        assert_eq!(v.screen, Screen::Ticket);
        let t = v.ticket.unwrap();
        assert_eq!(t.number, "A012");
        assert_eq!(t.headline, "请取走您的号票");
        assert_eq!(t.ahead, "前面还有 3 人");
        assert_eq!(t.wait, "预计等候约6分钟");
        assert_eq!(t.countdown, 8);
        assert!(t.print_failed.is_empty());
        // Back home after return_home_s (8 s).
        c.handle(Event::Tick, secs(9));
        assert_eq!(c.view().screen, Screen::Ticket);
        c.handle(Event::Tick, secs(10));
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
        assert_eq!(cmds, vec![Command::Issue { service: "invoice".into(), priority: Priority::Normal, request_id: "r2".into() }]);
    }

    #[test]
    fn paper_end_refuses_issuing_reports_and_recovers() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        let cmds = c.handle(Event::PrinterChecked(Err(PrinterFault::PaperEnd)), secs(1));
        assert_eq!(
            cmds,
            vec![Command::ReportDevice(DeviceStatusReport {
                ok: false,
                code: "paper_end".into(),
                message: "打印机缺纸，请联系工作人员 / paper end / 缺纸".into()
            })]
        );
        let v = c.view();
        assert_eq!(v.screen, Screen::Home);
        assert!(!v.issuing_enabled);
        assert!(v.services.iter().all(|s| !s.enabled));
        assert_eq!(v.banner.as_ref().unwrap().text, "打印机缺纸，请联系工作人员");
        assert_eq!(v.banner.unwrap().severity, Severity::Error);
        // Taps are ignored while faulted.
        assert!(tap(&mut c, "filing", "r2", secs(2)).is_empty());
        // The printer is asked again after status_poll_s (3 s).
        assert!(c.handle(Event::Tick, secs(3)).is_empty());
        assert_eq!(c.handle(Event::Tick, secs(4)), vec![Command::CheckPrinter]);
        assert!(c.handle(Event::Tick, secs(5)).is_empty(), "one check at a time");
        let cmds = c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(5));
        assert_eq!(cmds, vec![Command::ReportDevice(DeviceStatusReport { ok: true, code: String::new(), message: String::new() })]);
        assert!(c.view().issuing_enabled);
        assert_eq!(c.view().banner, None);
    }

    #[test]
    fn print_failure_after_issue_still_shows_the_number() {
        let mut c = ready();
        tap(&mut c, "filing", "r1", secs(1));
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), secs(1));
        c.handle(Event::Issued(Ok(ticket("A012", Priority::Normal))), secs(1));
        let cmds = c.handle(Event::Printed(Err(PrinterFault::Port("timeout".into()))), secs(2));
        assert!(matches!(&cmds[..], [Command::ReportDevice(r)] if !r.ok && r.code == "port_error"));
        let v = c.view();
        assert_eq!(v.screen, Screen::Ticket);
        let t = v.ticket.unwrap();
        assert_eq!(t.number, "A012");
        assert_eq!(t.headline, "您的号码");
        assert_eq!(t.print_failed, "号票未能打印，请记住您的号码，已为您排队");
        assert_eq!(t.countdown, 16);
        // It stays longer than a printed ticket: 16 s.
        c.handle(Event::Tick, secs(12));
        assert_eq!(c.view().screen, Screen::Ticket);
        c.handle(Event::Tick, secs(18));
        assert_eq!(c.view().screen, Screen::Home);
        assert!(!c.view().issuing_enabled);
    }

    #[test]
    fn disconnected_disables_issuing_and_recovers() {
        let mut c = ready();
        c.handle(Event::Disconnected, secs(1));
        let v = c.view();
        assert!(!v.issuing_enabled);
        assert_eq!(v.banner.unwrap().text, "系统连接中断，暂停取号，正在自动重连");
        assert!(tap(&mut c, "filing", "r1", secs(2)).is_empty());
        // Back: the device status is reported again (it may have been lost).
        let cmds = c.handle(Event::Snapshot(halls()), secs(3));
        assert!(matches!(&cmds[..], [Command::ReportDevice(r)] if r.ok));
        assert!(c.view().issuing_enabled);
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
        let q = QueueInfo { service: "filing".into(), waiting: 0, est_wait_s: 0, open_counters: 1, sold_out: false };
        c.handle(Event::Queues { hall: "west".into(), queues: vec![q] }, secs(1));
        assert_eq!(c.view().services[0].others[0].text, "0 人 · 少于1分钟");
        let q = QueueInfo { service: "invoice".into(), waiting: 9, est_wait_s: 0, open_counters: 1, sold_out: true };
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
            Event::Issued(Err(IssueFailure::Server { status: 409, code: "sold_out".into(), message: "sold out".into() })),
            secs(1),
        );
        assert_eq!(c.view().banner.unwrap().text, "该业务今日号票已发完");
        // The message goes away by itself.
        c.handle(Event::Tick, secs(8));
        assert_eq!(c.view().banner, None);
    }

    #[test]
    fn a_failed_report_is_retried_later_not_at_once() {
        let mut c = ready();
        assert!(c.handle(Event::DeviceReported(false), secs(1)).is_empty());
        assert!(c.handle(Event::Tick, secs(5)).is_empty());
        let cmds = c.handle(Event::Tick, secs(11));
        assert!(matches!(&cmds[..], [Command::ReportDevice(r)] if r.ok), "{cmds:?}");
        assert!(c.handle(Event::DeviceReported(true), secs(11)).is_empty());
        assert!(c.handle(Event::Tick, secs(12)).is_empty(), "reported once, then quiet");
    }

    #[test]
    fn clock_in_local_time() {
        let c = ready();
        assert_eq!(c.view().clock, "2026年11月26日  星期四  09:14");
    }
}
