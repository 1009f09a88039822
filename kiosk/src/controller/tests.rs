//! The controller's behaviour, event by event, on a controlled clock.

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
        est_wait_range_s: None,
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
        ticket_texts: true,
        remote_left: None,
        link: None,
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
        remote: None,
        page: None,
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
            OtherHallView { name: "西区办税服务厅".into(), text: "1 人 · 少于5分钟".into() },
            OtherHallView { name: "中区办税服务厅".into(), text: "7 人 · 约14分钟".into() },
        ]
    );
    let q = QueueInfo { service: "filing".into(), waiting: 0, est_wait_s: 0, est_wait_range_s: None, open_counters: 1, sold_out: false, closed_until: None, overtime: false, unstaffed: false, full: false };
    c.handle(Event::Queues { hall: "west".into(), queues: vec![q] }, secs(1));
    assert_eq!(c.view().services[0].others[0].text, "0 人 · 少于5分钟");
    let q = QueueInfo { service: "invoice".into(), waiting: 9, est_wait_s: 0, est_wait_range_s: None, open_counters: 1, sold_out: true, closed_until: None, overtime: false, unstaffed: false, full: false };
    c.handle(Event::Queues { hall: "east".into(), queues: vec![q] }, secs(1));
    let v = c.view();
    assert_eq!(v.services[1].waiting, "今日已发完");
    assert!(!v.services[1].enabled);
    assert!(v.services[0].enabled);
}

#[test]
fn a_cut_off_hall_shows_its_waits_as_unavailable_until_it_is_heard_from_again() {
    let mut c = ready();
    let since = DateTime::parse_from_rfc3339("2026-11-26T10:02:13+08:00").unwrap().with_timezone(&Utc);
    let cut = qcall_wire::HallLink { online: false, since: Some(since) };
    c.handle(Event::HallLink { hall: "west".into(), link: cut }, secs(1));
    let v = c.view();
    let others: Vec<&str> = v.services[0].others.iter().map(|o| o.text.as_str()).collect();
    assert_eq!(others, ["暂不可用", "7 人 · 约14分钟"]);
    assert!(v.services[0].enabled, "this hall's own tickets go on");
    c.handle(Event::ToggleLanguage, secs(2));
    assert_eq!(c.view().services[0].others[0].text, "unavailable");
    c.handle(Event::ToggleLanguage, secs(3));
    c.handle(Event::HallLink { hall: "west".into(), link: qcall_wire::HallLink { online: true, since: None } }, secs(4));
    assert_eq!(c.view().services[0].others[0].text, "1 人 · 少于5分钟");
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

// 短信提醒: a mobile number for the ticket's text reminders.

/// A printed ticket on the screen (at `secs(2)`).
fn with_ticket(c: &mut Controller) {
    take_ticket(c, "filing", secs(2), Ok(()));
    assert_eq!(c.screen(), Screen::Ticket);
}

fn type_phone(c: &mut Controller, digits: &str, at: DateTime<Utc>) {
    for d in digits.chars() {
        // (A faulted printer is asked again on any event: nothing else comes of a key.)
        let cmds = c.handle(Event::PhoneKey(d), at);
        assert!(cmds.iter().all(|c| *c == Command::CheckPrinter), "{cmds:?}");
    }
}

fn phone_view(c: &Controller) -> PhoneView {
    c.view().phone.expect("the phone screen")
}

/// The number typed is nowhere in the controller's state or view (as logged or printed).
fn forgotten(c: &Controller) {
    assert_eq!(c.phone, None);
    let all = format!("{c:?} {:?}", c.view());
    assert!(!all.contains("13812341234") && !all.contains("1234 1234"), "{all}");
}

#[test]
fn phone_step_types_a_number_sends_it_and_confirms() {
    let mut c = ready();
    with_ticket(&mut c);
    assert_eq!(c.view().ticket.unwrap().phone_offer, "短信提醒：轮到前发短信通知我");
    assert!(c.handle(Event::OpenPhone, secs(3)).is_empty());
    assert_eq!(c.screen(), Screen::Phone);
    let v = phone_view(&c);
    // Before any digit: what it is for, and that it is deleted.
    assert_eq!(v.purpose, "号码仅用于本号的叫号短信提醒，当日营业结束即删除");
    assert_eq!((v.number_label.as_str(), v.number.as_str()), ("您的号码", "A012"));
    assert_eq!((v.input.as_str(), v.placeholder.as_str()), ("", "请输入 11 位手机号码"));
    assert!(v.keys_enabled && !v.can_submit && v.can_close && v.note.is_empty() && v.done.is_empty());
    assert_eq!((v.submit_label.as_str(), v.close_label.as_str(), v.clear_label.as_str()), ("确定", "跳过", "清空"));

    type_phone(&mut c, "1381234", secs(4));
    assert_eq!(phone_view(&c).input, "138 1234");
    c.handle(Event::PhoneBackspace, secs(4));
    assert_eq!(phone_view(&c).input, "138 123");
    // Only digits, at most 11.
    type_phone(&mut c, "4x12349", secs(5));
    let v = phone_view(&c);
    assert_eq!(v.input, "138 1234 1234");
    assert!(v.can_submit);
    assert!(!format!("{v:?}").contains("1234 1234"), "the view's Debug masks it: {v:?}");

    let cmds = c.handle(Event::PhoneSubmit, secs(6));
    assert_eq!(cmds, vec![Command::LeavePhone { ticket: 17, phone: PhoneNumber::new("13812341234") }]);
    assert_eq!(format!("{cmds:?}"), "[LeavePhone { ticket: 17, phone: PhoneNumber(138****1234) }]", "logged masked");
    let v = phone_view(&c);
    assert!(v.sending && !v.keys_enabled && !v.can_submit && !v.can_close);
    assert_eq!(v.note, "正在登记…");
    // Nothing changes while it is on its way: no second request, no leaving.
    assert!(c.handle(Event::PhoneSubmit, secs(6)).is_empty());
    c.handle(Event::PhoneKey('5'), secs(6));
    c.handle(Event::ClosePhone, secs(6));
    assert_eq!(c.screen(), Screen::Phone);
    assert_eq!(phone_view(&c).input, "138 1234 1234");

    c.handle(Event::PhoneLeft(Ok("138****1234".into())), secs(7));
    let v = phone_view(&c);
    assert_eq!(v.done, "已登记 138****1234，轮到前将短信提醒您");
    assert!(!v.sending && v.note.is_empty());
    // Taken: the number itself is gone from the kiosk.
    assert!(c.phone.as_ref().is_some_and(|p| p.input.as_str().is_empty()));
    assert!(!format!("{c:?}").contains("13812341234"));
    // Home after a few seconds.
    c.handle(Event::Tick, secs(7 + PHONE_DONE_S - 1));
    assert_eq!(c.screen(), Screen::Phone);
    c.handle(Event::Tick, secs(7 + PHONE_DONE_S));
    assert_eq!(c.screen(), Screen::Home);
    forgotten(&c);
}

#[test]
fn phone_confirmation_goes_home_at_a_touch() {
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::OpenPhone, secs(3));
    type_phone(&mut c, "13912345678", secs(3));
    c.handle(Event::PhoneSubmit, secs(3));
    c.handle(Event::PhoneLeft(Ok("139****5678".into())), secs(4));
    c.handle(Event::ClosePhone, secs(5));
    assert_eq!(c.screen(), Screen::Home);
    forgotten(&c);
    // A late or stray answer changes nothing.
    c.handle(Event::PhoneLeft(Ok("139****5678".into())), secs(6));
    assert_eq!(c.screen(), Screen::Home);
}

#[test]
fn an_invalid_number_is_refused_before_anything_is_sent() {
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::OpenPhone, secs(3));
    // Ten digits.
    type_phone(&mut c, "1381234123", secs(3));
    assert!(!phone_view(&c).can_submit);
    assert!(c.handle(Event::PhoneSubmit, secs(3)).is_empty());
    assert_eq!(phone_view(&c).note, "请输入 1 开头的 11 位手机号码");
    // Eleven, but no mobile number (the server takes 1, then 3-9).
    c.handle(Event::PhoneClear, secs(4));
    assert_eq!(phone_view(&c).input, "");
    assert!(phone_view(&c).note.is_empty(), "a key clears the note");
    for bad in ["23812341234", "12812341234"] {
        c.handle(Event::PhoneClear, secs(4));
        type_phone(&mut c, bad, secs(4));
        assert!(!phone_view(&c).can_submit, "{bad}");
        assert!(c.handle(Event::PhoneSubmit, secs(4)).is_empty(), "{bad}");
        assert_eq!(phone_view(&c).note, "请输入 1 开头的 11 位手机号码");
    }
    assert_eq!(c.screen(), Screen::Phone);
}

#[test]
fn a_refusal_is_said_plainly_and_can_be_tried_again_or_skipped() {
    let server = |code: ErrorCode, status: u16| IssueFailure::Server { status, code, message: "server words".into(), at: None, hall: None };
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::OpenPhone, secs(3));
    type_phone(&mut c, "13812341234", secs(3));
    c.handle(Event::PhoneSubmit, secs(3));
    // The network: the number stays, 确定 sends it again.
    c.handle(Event::PhoneLeft(Err(IssueFailure::Network("timeout".into()))), secs(5));
    let v = phone_view(&c);
    assert_eq!(v.note, "网络异常，号码未登记，请再按确定");
    assert!(v.can_submit && v.keys_enabled && v.can_close && !v.sending);
    assert_eq!(v.input, "138 1234 1234");
    let again = c.handle(Event::PhoneSubmit, secs(6));
    assert_eq!(again, vec![Command::LeavePhone { ticket: 17, phone: PhoneNumber::new("13812341234") }]);
    // Refused: fix it and try again.
    c.handle(Event::PhoneLeft(Err(server(ErrorCode::InvalidPhone, 422))), secs(7));
    let v = phone_view(&c);
    assert_eq!(v.note, "该号码无法登记，请核对后重新输入");
    assert!(v.keys_enabled && v.can_submit);
    c.handle(Event::PhoneSubmit, secs(8));
    // The ticket was called meanwhile: nothing more to do here but leave.
    c.handle(Event::PhoneLeft(Err(server(ErrorCode::WrongTicketState, 409))), secs(9));
    let v = phone_view(&c);
    assert_eq!(v.note, "本号已不在等候中，无需短信提醒");
    assert!(!v.keys_enabled && !v.can_submit && v.can_close);
    assert!(c.handle(Event::PhoneSubmit, secs(9)).is_empty());
    c.handle(Event::ClosePhone, secs(10));
    assert_eq!(c.screen(), Screen::Home);
    forgotten(&c);

    // The other answers, in plain words (and in English).
    let cases = [
        (server(ErrorCode::SmsUnavailable, 503), "This hall is not sending text reminders now: please watch the screens.", false),
        (server(ErrorCode::UnknownTicket, 404), "This ticket is no longer waiting: no reminder can be set.", false),
        (server(ErrorCode::PhoneCodeRequired, 422), "This kiosk cannot take numbers now: scan your ticket's QR code to leave one on your phone.", false),
        (server(ErrorCode::Forbidden, 403), "This kiosk cannot take numbers now: scan your ticket's QR code to leave one on your phone.", false),
        (server(ErrorCode::Internal, 500), "The system is busy. Please try again.", true),
    ];
    for (failure, said, retry) in cases {
        let mut c = ready();
        c.handle(Event::ToggleLanguage, secs(1));
        with_ticket(&mut c);
        c.handle(Event::OpenPhone, secs(3));
        type_phone(&mut c, "13812341234", secs(3));
        c.handle(Event::PhoneSubmit, secs(3));
        c.handle(Event::PhoneLeft(Err(failure)), secs(4));
        let v = phone_view(&c);
        assert_eq!((v.note.as_str(), v.can_submit), (said, retry));
    }
}

#[test]
fn skipping_goes_home_and_forgets_the_number() {
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::OpenPhone, secs(3));
    type_phone(&mut c, "1381234", secs(4));
    assert!(c.handle(Event::ClosePhone, secs(5)).is_empty(), "nothing sent");
    assert_eq!(c.screen(), Screen::Home);
    forgotten(&c);
    // Doing nothing on the ticket screen: home as ever, nothing asked.
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::Tick, secs(2 + 30));
    assert_eq!(c.screen(), Screen::Home);
    assert!(c.view().phone.is_none());
    // A scan while typing does not take the number's screen away.
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::OpenPhone, secs(3));
    assert!(c.handle(Event::Scanned { text: "27318846".into(), fresh_request_id: "s".into() }, secs(4)).is_empty());
    assert_eq!(c.screen(), Screen::Phone);
}

#[test]
fn the_phone_screen_times_out_and_forgets_the_number() {
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::OpenPhone, secs(3));
    type_phone(&mut c, "13812341234", secs(10));
    c.handle(Event::Tick, secs(10 + 59));
    assert_eq!(c.screen(), Screen::Phone);
    // A key gives another minute.
    c.handle(Event::PhoneBackspace, secs(69));
    c.handle(Event::Tick, secs(69 + 59));
    assert_eq!(c.screen(), Screen::Phone);
    c.handle(Event::Tick, secs(69 + 60));
    assert_eq!(c.screen(), Screen::Home);
    forgotten(&c);

    // No answer at all: given up on, the number forgotten; a late answer changes nothing.
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::OpenPhone, secs(3));
    type_phone(&mut c, "13812341234", secs(3));
    c.handle(Event::PhoneSubmit, secs(3));
    c.handle(Event::Tick, secs(3 + PHONE_SEND_S));
    assert_eq!(c.screen(), Screen::Home);
    forgotten(&c);
    c.handle(Event::PhoneLeft(Ok("138****1234".into())), secs(40));
    assert_eq!(c.screen(), Screen::Home);
}

#[test]
fn phone_step_is_offered_only_when_the_hall_texts_and_the_ticket_waits() {
    // The hall sends no texts: no button, and the event does nothing.
    let mut c = ready();
    let mut hs = halls();
    hs[0].ticket_texts = false;
    c.handle(Event::Snapshot(hs), t0());
    with_ticket(&mut c);
    assert_eq!(c.view().ticket.unwrap().phone_offer, "");
    c.handle(Event::OpenPhone, secs(3));
    assert_eq!(c.screen(), Screen::Ticket);

    // The server is out of reach: nothing could take the number.
    let mut c = ready();
    with_ticket(&mut c);
    c.handle(Event::Disconnected, secs(3));
    assert_eq!(c.view().ticket.unwrap().phone_offer, "");
    c.handle(Event::OpenPhone, secs(3));
    assert_eq!(c.screen(), Screen::Ticket);

    // A checked-in ticket already called (shown again): not waiting, no texts to come.
    let mut c = ready();
    let mut t = ticket("A012", Priority::Normal);
    t.state = TicketState::Called;
    c.handle(Event::CheckedIn(Ok(qcall_wire::CheckedIn { ticket: t, again: true })), secs(2));
    assert_eq!(c.screen(), Screen::Ticket);
    assert_eq!(c.view().ticket.unwrap().phone_offer, "");
    c.handle(Event::OpenPhone, secs(3));
    assert_eq!(c.screen(), Screen::Ticket);

    // Not from home.
    let mut c = ready();
    c.handle(Event::OpenPhone, secs(1));
    assert_eq!(c.screen(), Screen::Home);
}

/// Without paper the screen is all the taxpayer has: the step is offered (a text is worth
/// most to them), keeps the number in sight, and leads back to it rather than home.
#[test]
fn paperless_the_phone_step_is_offered_and_leads_back_to_the_number() {
    let mut c = ready();
    take_ticket(&mut c, "filing", secs(2), Err(PrinterFault::PaperEnd));
    let tv = c.view().ticket.unwrap();
    assert!(!tv.print_failed.is_empty());
    assert_eq!(tv.phone_offer, "短信提醒：轮到前发短信通知我");
    c.handle(Event::OpenPhone, secs(3));
    let v = phone_view(&c);
    assert_eq!((v.number.as_str(), v.close_label.as_str()), ("A012", "返回"));
    // Back: the number on screen again, for the unprinted ticket's full time.
    type_phone(&mut c, "13812", secs(20));
    c.handle(Event::ClosePhone, secs(50));
    assert_eq!(c.screen(), Screen::Ticket);
    forgotten(&c);
    assert_eq!(c.view().ticket.unwrap().countdown, 60);
    // Left: confirmed, then back to the number, which now says where the texts go.
    c.handle(Event::OpenPhone, secs(51));
    type_phone(&mut c, "13812341234", secs(52));
    c.handle(Event::PhoneSubmit, secs(52));
    c.handle(Event::PhoneLeft(Ok("138****1234".into())), secs(53));
    assert_eq!(phone_view(&c).done, "已登记 138****1234，轮到前将短信提醒您");
    c.handle(Event::Tick, secs(53 + PHONE_DONE_S));
    assert_eq!(c.screen(), Screen::Ticket);
    let tv = c.view().ticket.unwrap();
    assert_eq!((tv.phone_offer.as_str(), tv.phone_left.as_str()), ("", "已登记短信提醒 138****1234"));
    forgotten(&c);
    // Nobody there any more: home after the ticket's time.
    c.handle(Event::Tick, secs(53 + PHONE_DONE_S + 60));
    assert_eq!(c.screen(), Screen::Home);
}

#[test]
fn phone_step_in_english() {
    let mut c = ready();
    c.handle(Event::ToggleLanguage, secs(1));
    with_ticket(&mut c);
    assert_eq!(c.view().ticket.unwrap().phone_offer, "Text me before my turn");
    c.handle(Event::OpenPhone, secs(3));
    let v = phone_view(&c);
    assert_eq!(v.title, "Text reminders");
    assert_eq!(v.purpose, "Used only for this ticket's reminders; deleted at the end of the day");
    assert_eq!((v.submit_label.as_str(), v.close_label.as_str()), ("OK", "Skip"));
    type_phone(&mut c, "13812341234", secs(4));
    c.handle(Event::PhoneSubmit, secs(4));
    c.handle(Event::PhoneLeft(Ok("138****1234".into())), secs(5));
    assert_eq!(phone_view(&c).done, "Saved 138****1234: we will text you before your turn.");
    c.handle(Event::ClosePhone, secs(6));
    assert!(!c.view().en, "the next taxpayer starts in the kiosk's language");
}

#[test]
fn phone_step_in_elder_mode_waits_longer_and_ends_the_visit() {
    let mut c = ready();
    c.handle(Event::ToggleElder, secs(1));
    with_ticket(&mut c);
    c.handle(Event::OpenPhone, secs(3));
    assert!(c.view().elder, "the phone screen is drawn in 长者模式");
    c.handle(Event::Tick, secs(3 + 100));
    assert_eq!(c.screen(), Screen::Phone, "60 s is not enough in 长者模式");
    type_phone(&mut c, "13812341234", secs(103));
    c.handle(Event::PhoneSubmit, secs(103));
    c.handle(Event::PhoneLeft(Ok("138****1234".into())), secs(104));
    c.handle(Event::Tick, secs(104 + PHONE_DONE_S));
    assert_eq!(c.screen(), Screen::Phone, "the confirmation stays twice as long");
    c.handle(Event::Tick, secs(104 + 2 * PHONE_DONE_S));
    assert_eq!(c.screen(), Screen::Home);
    assert!(!c.elder(), "the visit is over");
    // Timed out in 长者模式: after two minutes.
    c.handle(Event::ToggleElder, secs(200));
    take_ticket(&mut c, "filing", secs(201), Ok(()));
    c.handle(Event::OpenPhone, secs(202));
    c.handle(Event::Tick, secs(202 + 119));
    assert_eq!(c.screen(), Screen::Phone);
    c.handle(Event::Tick, secs(202 + 120));
    assert_eq!(c.screen(), Screen::Home);
    assert!(!c.elder());
    forgotten(&c);
}

#[test]
fn phone_numbers_are_masked_grouped_and_checked() {
    let p = PhoneNumber::new("13812341234");
    assert_eq!((p.masked(), p.grouped()), ("138****1234".to_string(), "138 1234 1234".to_string()));
    assert_eq!(format!("{p:?}"), "PhoneNumber(138****1234)");
    assert!(p.is_valid());
    assert_eq!(format!("{:?}", PhoneNumber::new("1381")), "PhoneNumber(****)");
    assert_eq!(PhoneNumber::new("1381").grouped(), "138 1");
    for bad in ["", "1381234123", "138123412345", "23812341234", "11812341234", "1381234123x"] {
        assert!(!PhoneNumber::new(bad).is_valid(), "{bad}");
    }
}
