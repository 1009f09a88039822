//! `qcall-kiosk --screenshot`: one screen rendered with the software renderer (no window
//! system), from the server's live state and the printer's real status.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use qcall_wire::{Priority, Ticket, TicketState};

use crate::bringup::fetch_halls;
use crate::config::Config;
use crate::controller::{Command, Controller, Event, Screen};
use crate::escpos::{self, PrinterHealth};
use crate::{printer, ui};

/// Which screen to render (`--screen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shot {
    Home,
    Printing,
    /// The ticket screen with a sample ticket (nothing is issued).
    Ticket,
    /// The ticket screen after the printer failed: the number is all the taxpayer has.
    TicketNotPrinted,
    /// The appointment check-in keypad with a code being typed.
    CheckIn,
    /// The check-in screen refusing a code that came too early.
    CheckInTooEarly,
    /// The ticket screen of a checked-in appointment (a sample; nothing is checked in).
    AppointmentTicket,
    /// The home screen in 长者模式.
    Elder,
    /// 短信提醒: the phone number keypad after a sample ticket, a sample number typed.
    Phone,
    /// 短信提醒: the number taken (a sample; nothing is sent).
    PhoneDone,
    /// 短信提醒: the network failed (a sample refusal; nothing is sent).
    PhoneRefused,
}

/// `elder`: the screen as 长者模式 draws it (switched on at home, before the ticket).
pub fn screenshot(cfg: Config, out: &Path, shot: Shot, english: bool, elder: bool) -> anyhow::Result<ExitCode> {
    let orientation = cfg.orientation;
    let fetched = fetch_halls(&cfg);
    let mut halls = fetched.as_ref().map(|r| r.halls.clone());
    let phone = matches!(shot, Shot::Phone | Shot::PhoneDone | Shot::PhoneRefused);
    // The phone step needs a hall that texts; a sample of it is drawn whatever the server says.
    let mut forced_texts = false;
    if let Some(h) = halls.as_mut().and_then(|h| h.iter_mut().find(|h| h.id == cfg.hall)).filter(|h| phone && !h.ticket_texts) {
        h.ticket_texts = true;
        forced_texts = true;
    }
    let mut port = printer::open(&cfg.printer)?;
    let status = port.status();
    drop(port);
    // `now` is this machine's time; the controller reckons in the server's (`server_now`).
    let now = chrono::Utc::now();
    let server_now = fetched.as_ref().map_or(now, |r| r.at);
    let mut c = Controller::new(cfg.clone(), now);
    let _ = c.start();
    c.handle(Event::ServerTime(server_now), now);
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
    if forced_texts {
        source.push_str("; the hall's ticket_texts drawn as on");
    }
    if shot == Shot::Elder || elder {
        c.handle(Event::ToggleElder, now);
    }
    if matches!(shot, Shot::CheckIn | Shot::CheckInTooEarly) {
        c.handle(Event::OpenCheckIn, now);
        let typed = if shot == Shot::CheckIn { "2731" } else { "27318846" };
        for ch in typed.chars() {
            c.handle(Event::CheckInKey(ch), now);
        }
        if shot == Shot::CheckInTooEarly {
            c.handle(Event::CheckInSubmit { fresh_request_id: "screenshot".into() }, now);
            c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), now);
            let opens = server_now + chrono::Duration::minutes(25);
            let failure = crate::controller::IssueFailure::Server {
                status: 409,
                code: qcall_wire::ErrorCode::TooEarly,
                message: "check-in opens later".into(),
                at: Some(opens),
                hall: None,
            };
            c.handle(Event::CheckedIn(Err(failure)), now);
            source.push_str("; sample refusal, nothing sent");
        }
    } else if !matches!(shot, Shot::Home | Shot::Elder) {
        let service = halls
            .as_ref()
            .and_then(|h| h.iter().find(|h| h.id == cfg.hall))
            .and_then(|h| h.services.first().cloned())
            .context("the ticket screen needs the server's hall state")?;
        // Drive the controller as a tap would, with a sample ticket (nothing is issued).
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), now);
        c.handle(Event::Tap { service: service.id.clone(), fresh_request_id: "screenshot".into() }, now);
        c.handle(Event::PrinterChecked(Ok(PrinterHealth::default())), now);
        if matches!(shot, Shot::Ticket | Shot::TicketNotPrinted | Shot::AppointmentTicket | Shot::Phone | Shot::PhoneDone | Shot::PhoneRefused) {
            let ticket = Ticket {
                id: 0,
                number: format!("{}{:03}", service.prefix, service.waiting + 1),
                hall: cfg.hall.clone(),
                service: service.id.clone(),
                priority: Priority::Normal,
                state: TicketState::Waiting,
                day: server_now.with_timezone(&c.time_zone()).format("%Y-%m-%d").to_string(),
                issued_at: server_now,
                waiting_ahead: service.waiting,
                est_wait_s: service.est_wait_s,
                est_wait_range_s: None,
                counter: None,
                counter_number: None,
                call_count: 0,
                transferred: false,
                appointment: (shot == Shot::AppointmentTicket).then(|| {
                    let start = server_now + chrono::Duration::minutes(10);
                    qcall_wire::AppointmentSlot { start, end: start + chrono::Duration::minutes(30) }
                }),
                overtime: false,
                unstaffed: false,
                remote: None,
                page: None,
            };
            c.handle(Event::Issued(Ok(ticket)), now);
            if shot == Shot::TicketNotPrinted {
                c.handle(Event::Printed(Err(escpos::PrinterFault::PaperEnd)), now);
            } else {
                c.handle(Event::Printed(Ok(())), now);
            }
            source.push_str("; sample ticket, nothing issued");
        }
        if phone {
            c.handle(Event::OpenPhone, now);
            for d in "13812341234".chars() {
                c.handle(Event::PhoneKey(d), now);
            }
            if matches!(shot, Shot::PhoneDone | Shot::PhoneRefused) {
                let sent = c.handle(Event::PhoneSubmit, now);
                anyhow::ensure!(sent.iter().any(|c| matches!(c, Command::LeavePhone { .. })), "the phone step did not open");
                let answer = match shot {
                    Shot::PhoneDone => Ok("138****1234".into()),
                    _ => Err(crate::controller::IssueFailure::Network("sample".into())),
                };
                c.handle(Event::PhoneLeft(answer), now);
            }
            anyhow::ensure!(c.screen() == Screen::Phone, "the phone step did not open");
            source.push_str("; sample number, nothing sent");
        }
    }
    let (w, h, rgba) = ui::render_headless(&c.view(), orientation)?;
    qcall_screen::write_png(out, w, h, qcall_screen::ColorType::Rgba, &rgba)?;
    println!("wrote {} ({w}x{h}, {source})", out.display());
    Ok(ExitCode::SUCCESS)
}
