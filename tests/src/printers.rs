//! Printers as their reference says they behave, on every link the kiosk supports: the fault
//! table through the kiosk and `test-print`, a USB printer-class device, a network printer and
//! the logo stored in the printer.

use std::process::Command as Proc;
use std::time::Duration;

use qcall_kiosk::config::{Config, PrinterTarget};
use qcall_kiosk::controller::{Event, PrinterState, Screen};
use qcall_kiosk::escpos::{self, LogoKey, PrinterFault, PrinterHealth};
use qcall_kiosk::printer;
use qcall_kiosk::worker::Headless;

use crate::kiosk::{east_config, pty_lock, ready, Condition, SimPrinter, LIMIT};
use crate::util::{bin, Server};

/// Each fault a printer can be in, what the kiosk must call it and what it reports.
const FAULTS: [(Condition, PrinterFault, &str, &str, &str); 4] = [
    (Condition::PaperEnd, PrinterFault::PaperEnd, "打印机缺纸，请联系工作人员", "The printer is out of paper. Please ask staff for help.", "paper_end"),
    (Condition::CoverOpen, PrinterFault::CoverOpen, "打印机盖未关，请联系工作人员", "The printer cover is open. Please ask staff for help.", "cover_open"),
    (Condition::CutterError, PrinterFault::Error, "打印机故障，请联系工作人员", "The printer has a fault. Please ask staff for help.", "printer_error"),
    (Condition::FeedButton, PrinterFault::Offline, "打印机离线，请联系工作人员", "The printer is offline. Please ask staff for help.", "offline"),
];

fn test_print(printer: &str) -> (Option<i32>, String, String) {
    let out = Proc::new(bin("qcall-kiosk")).args(["--server", "http://127.0.0.1:9", "test-print", "--printer", printer]).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The kiosk's printer status as the server holds it, when its code is `code`.
fn device_status(server: &Server, code: &str) -> Option<qcall_wire::DeviceStatus> {
    let api = qcall_client::Client::new(&server.url, &Default::default()).unwrap().with_token("demo-supervisor");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let halls = rt.block_on(api.halls()).unwrap();
    let east = halls.halls.into_iter().find(|h| h.id == "east").unwrap();
    east.devices.into_iter().find(|d| d.device == "kiosk-east-1" && d.code == code)
}

/// Waits (keeping the kiosk running) until the server shows the kiosk's printer with `code`.
fn wait_for_device(server: &Server, h: &mut Headless, code: &str) -> qcall_wire::DeviceStatus {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        if let Some(d) = device_status(server, code) {
            return d;
        }
        assert!(std::time::Instant::now() < deadline, "the server never showed {code}");
        h.pump_until(Duration::from_millis(100), |_| false);
    }
}

/// A kiosk on `cfg`'s printer becomes ready, issues a ticket and prints exactly its bytes.
pub(crate) fn kiosk_prints_a_ticket(cfg: &Config, sim: &SimPrinter) -> Headless {
    let mut h = Headless::start(cfg.clone(), printer::open(&cfg.printer).unwrap());
    assert!(h.pump_until(LIMIT, ready), "kiosk never became ready: {:?}", h.controller.printer());
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket));
    assert!(sim.wait_for_cut(LIMIT), "ticket never printed");
    let ticket = h.controller.last_ticket().cloned().unwrap();
    assert_eq!(sim.received(), escpos::render(&h.controller.ticket_print(&ticket), &cfg.printer.layout()));
    h
}

#[test]
fn every_printer_fault_is_named_on_the_kiosk_to_the_server_and_by_test_print() {
    let _pty = pty_lock();
    let server = Server::start();
    let sim = SimPrinter::start(Condition::Ready);
    let cfg = east_config(&server.url, &sim.path);
    let mut h = Headless::start(cfg, printer::open(&east_config(&server.url, &sim.path).printer).unwrap());
    assert!(h.pump_until(LIMIT, ready), "kiosk never became ready");

    for (condition, fault, zh, en, code) in FAULTS {
        sim.set(condition);
        h.tap("filing");
        // The ticket is issued all the same, and shown on screen rather than printed.
        assert!(
            h.pump_until(LIMIT, |c| c.printer() == &PrinterState::Fault(fault.clone()) && c.screen() == Screen::Ticket),
            "{condition:?}: the kiosk shows {:?}",
            h.controller.printer()
        );
        assert!(!h.controller.view().ticket.unwrap().print_failed.is_empty(), "{condition:?}");
        h.dispatch(Event::Dismiss);
        let v = h.controller.view();
        assert_eq!(v.screen, Screen::Home);
        assert!(v.issuing_enabled, "{condition:?}: walk-ins go on");
        let banner = v.banner.unwrap().text;
        assert!(banner.starts_with(zh.trim_end_matches("，请联系工作人员")) && banner.contains("仍可取号"), "{condition:?}: {banner}");
        h.dispatch(Event::ToggleLanguage);
        let banner = h.controller.view().banner.unwrap().text;
        assert!(banner.starts_with(en.trim_end_matches(" Please ask staff for help.")) && banner.contains("still issued"), "{condition:?}: {banner}");
        h.dispatch(Event::ToggleLanguage);
        let d = wait_for_device(&server, &mut h, code);
        assert!(!d.ok);
        assert!(d.message.starts_with(zh), "{}", d.message);

        sim.set(Condition::Ready);
        assert!(h.pump_until(LIMIT, |c| matches!(c.printer(), PrinterState::Ok(_))), "{condition:?}: did not recover");
    }
    assert!(sim.received().is_empty(), "no ticket reached a stopped printer");

    // Paper near end: a warning the hall's staff see, while tickets still print.
    sim.set(Condition::PaperNearEnd);
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "no ticket on near end");
    assert!(sim.wait_for_cut(LIMIT), "the ticket was not printed");
    assert_eq!(h.controller.printer(), &PrinterState::Ok(PrinterHealth { paper_near_end: true }));
    let d = wait_for_device(&server, &mut h, "paper_near_end");
    assert!(d.ok, "near end is a warning, not a fault");
    assert!(d.message.contains("纸将用尽"), "{}", d.message);
    drop(h);

    // test-print, against a printer of its own, names the same faults in both languages.
    let sim = SimPrinter::start(Condition::Ready);
    for (condition, fault, _, _, _) in FAULTS {
        sim.set(condition);
        let (code, _, stderr) = test_print(&sim.path);
        assert_eq!(code, Some(2), "{condition:?}: {stderr}");
        assert!(stderr.contains(&format!("printer fault: {fault}")), "{condition:?}: {stderr}");
        println!("MEASURE test-print on {condition:?}: {}", stderr.trim());
    }
    assert!(sim.received().is_empty(), "test-print prints nothing on a fault");
    sim.set(Condition::PaperNearEnd);
    let (code, stdout, stderr) = test_print(&sim.path);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("paper near end / 纸将用尽"), "{stderr}");
    assert!(stdout.starts_with("printed a sample ticket"), "{stdout}");
    assert!(sim.wait_for_cut(LIMIT));
}

#[test]
fn a_usb_printer_class_device_prints_tickets_and_names_its_faults() {
    let _pty = pty_lock();
    let server = Server::start();
    // A pty stands in for /dev/usb/lp0: opened as a plain device, read back with poll.
    let sim = SimPrinter::start(Condition::Ready);
    let mut cfg = east_config(&server.url, &sim.path);
    cfg.printer.target = PrinterTarget::Usb(sim.path.clone().into());
    let mut h = kiosk_prints_a_ticket(&cfg, &sim);
    h.dispatch(Event::Dismiss);
    sim.set(Condition::PaperEnd);
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.printer() == &PrinterState::Fault(PrinterFault::PaperEnd)), "{:?}", h.controller.printer());
    h.dispatch(Event::Dismiss);
    assert_eq!(h.controller.view().banner.unwrap().text, "打印机缺纸 · 仍可取号：号码显示在屏幕上，可扫码查看");
    drop(h);

    let sim = SimPrinter::start(Condition::CoverOpen);
    let usb = format!("usb:{}", sim.path);
    let (code, _, stderr) = test_print(&usb);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cover open / 打印机盖未关") && stderr.contains(&usb), "{stderr}");
    sim.set(Condition::Ready);
    let (code, stdout, stderr) = test_print(&usb);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(sim.wait_for_cut(LIMIT));
    assert_eq!(stdout.trim(), format!("printed a sample ticket: {} bytes to {usb}", sim.received().len()));
}

#[test]
fn a_network_printer_prints_tickets_reconnects_and_names_its_faults() {
    let server = Server::start();
    let sim = SimPrinter::start_tcp(Condition::Ready);
    let mut cfg = east_config(&server.url, "unused");
    cfg.printer.target = PrinterTarget::parse(&sim.path).unwrap();
    let mut h = kiosk_prints_a_ticket(&cfg, &sim);

    // The printer drops the idle connection: the next ticket reconnects and prints.
    h.dispatch(Event::Dismiss);
    sim.hang_up();
    sim.clear_received();
    h.tap("invoice");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "{:?}", h.controller.printer());
    assert!(sim.wait_for_cut(LIMIT), "ticket after reconnect never printed");
    assert!(h.controller.last_ticket().unwrap().number.starts_with('B'));

    // The connection goes dead without being closed: no answer on it, so the kiosk opens a
    // fresh one before calling the printer silent, and prints.
    h.dispatch(Event::Dismiss);
    sim.abandon_connection();
    sim.clear_received();
    h.tap("invoice");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "{:?}", h.controller.printer());
    assert!(sim.wait_for_cut(LIMIT), "ticket after a dead connection never printed");

    h.dispatch(Event::Dismiss);
    sim.set(Condition::PaperEnd);
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.printer() == &PrinterState::Fault(PrinterFault::PaperEnd)), "{:?}", h.controller.printer());
    sim.set(Condition::Ready);
    assert!(h.pump_until(LIMIT, |c| matches!(c.printer(), PrinterState::Ok(_))), "did not recover");
    drop(h);

    let sim = SimPrinter::start_tcp(Condition::CutterError);
    let (code, _, stderr) = test_print(&sim.path);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("printer error / 打印机故障") && stderr.contains(&sim.path), "{stderr}");
    sim.set(Condition::Ready);
    let (code, stdout, stderr) = test_print(&sim.path);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(sim.wait_for_cut(LIMIT));
    assert!(stdout.contains(&sim.path), "{stdout}");
    // Switched off: the connection is refused, and the fault names the address.
    let path = sim.path.clone();
    drop(sim);
    let (code, _, stderr) = test_print(&path);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&path) && stderr.contains("printer port"), "{stderr}");
}

#[test]
fn printer_setup_stores_the_logo_once_and_tickets_print_it_by_key() {
    let _pty = pty_lock();
    let logo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/logo.png");
    let logo = logo.to_str().unwrap();
    let setup = |printer: &str, logo: &str| {
        let out = Proc::new(bin("qcall-kiosk")).args(["printer-setup", "--logo", logo, "--printer", printer]).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    // A printer that is out of paper stores nothing.
    let sim = SimPrinter::start(Condition::PaperEnd);
    let (code, _, stderr) = setup(&sim.path, logo);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(sim.received().is_empty());

    sim.set(Condition::Ready);
    let (code, stdout, stderr) = setup(&sim.path, logo);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(sim.wait_for_cut(LIMIT));
    let stored = sim.received();
    let lines = escpos::describe(&stored);
    assert!(lines.contains(&"GS ( L: delete NV graphic \"QC\"".to_string()), "{lines:#?}");
    assert!(lines.contains(&"GS ( L: define NV graphic \"QC\" 384x88 dots, 4224 data bytes".to_string()), "{lines:#?}");
    assert_eq!(sim.logos_printed(), ["QC"], "printed once at setup");
    assert!(stdout.contains("logo_key = \"QC\"") && stdout.contains("11 bytes each"), "{stdout}");
    println!("MEASURE printer-setup sends {} bytes once; {}", stored.len(), stdout.trim());

    // The kiosk prints it by key on every ticket.
    let server = Server::start();
    let mut cfg = east_config(&server.url, &sim.path);
    cfg.printer.logo = Some(LogoKey(*b"QC"));
    let mut h = Headless::start(cfg.clone(), printer::open(&cfg.printer).unwrap());
    assert!(h.pump_until(LIMIT, ready));
    let before = sim.received().len();
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket));
    let deadline = std::time::Instant::now() + LIMIT;
    while !(sim.received().len() > before && sim.received().ends_with(&escpos::feed_and_cut(4))) {
        assert!(std::time::Instant::now() < deadline, "ticket never printed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let ticket_bytes = sim.received()[before..].to_vec();
    let ticket = h.controller.last_ticket().cloned().unwrap();
    assert_eq!(ticket_bytes, escpos::render(&h.controller.ticket_print(&ticket), &cfg.printer.layout()));
    assert_eq!(&ticket_bytes[7..18], &escpos::nv_print(LogoKey(*b"QC")));
    // The logo goes by its 2-byte key, never as a bitmap (thousands of bytes): the whole ticket,
    // its QR code's link with the ticket's key included, stays a few hundred bytes.
    assert!(ticket_bytes.len() < 400, "{} bytes", ticket_bytes.len());
    assert_eq!(sim.logos_printed(), ["QC", "QC"]);
    println!("MEASURE bytes per ticket with the stored logo: {} (the logo itself: 11)", ticket_bytes.len());
    drop(h);

    // A printer that never had the logo stored prints the ticket without it.
    let bare = SimPrinter::start(Condition::Ready);
    let mut cfg = east_config(&server.url, &bare.path);
    cfg.printer.logo = Some(LogoKey(*b"QC"));
    let mut h = Headless::start(cfg, printer::open(&east_config(&server.url, &bare.path).printer).unwrap());
    assert!(h.pump_until(LIMIT, ready));
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket));
    assert!(bare.wait_for_cut(LIMIT));
    let got = bare.received();
    let print_logo = escpos::nv_print(LogoKey(*b"QC"));
    assert!(got.windows(print_logo.len()).any(|w| w == print_logo), "the ticket asks for the logo");
    assert!(bare.logos_printed().is_empty(), "but this printer has none stored, so none prints");

    // A logo wider than the paper is refused before anything is sent.
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.png");
    {
        let f = std::fs::File::create(&wide).unwrap();
        let mut enc = png::Encoder::new(f, 600, 10);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&[0u8; 6000]).unwrap();
    }
    let fresh = SimPrinter::start(Condition::Ready);
    let (code, _, stderr) = setup(&fresh.path, wide.to_str().unwrap());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("600x10 dots") && stderr.contains("at most 576 dots wide"), "{stderr}");
    assert!(fresh.received().is_empty());
}
