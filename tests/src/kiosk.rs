//! The kiosk against a real server: a pseudo-terminal standing in for the printer's serial port,
//! the real `qcall-kiosk` binary, and headless screenshots.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command as Proc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use qcall_client::{Client, ClientOptions};
use qcall_kiosk::config::{Config, PrinterTarget};
use qcall_kiosk::controller::{Command, Controller, Event, Link, PrinterState, Screen};
use qcall_kiosk::escpos::{self, PrinterFault};
use qcall_kiosk::guide::Prompt;
use qcall_kiosk::printer;
use qcall_kiosk::worker::Headless;
use serialport::{SerialPort, TTYPort};

pub(crate) use crate::printer_sim::{Condition, SimPrinter};
use crate::util::{bin, Server};

/// Pseudo-terminal pairs are not thread-safe to create: one pty test at a time.
static PTY: Mutex<()> = Mutex::new(());

pub(crate) fn pty_lock() -> MutexGuard<'static, ()> {
    PTY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Only stops a test that would otherwise hang; never a performance bound.
pub(crate) const LIMIT: Duration = Duration::from_secs(30);

pub(crate) fn east_config(server: &str, printer_path: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk-east.toml");
    let mut cfg = Config::load(Some(&path)).unwrap().with_server(server).unwrap();
    cfg.printer.target = PrinterTarget::Serial(printer_path.to_string());
    cfg
}

fn kiosk_client(url: &str) -> Client {
    Client::new(url, &ClientOptions::default()).unwrap().with_token("demo-kiosk-east")
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// The east hall's kiosk on `server`, ready: a simulated printer behind a pty, and a pty for its
/// 2D scanner (write a code and a CR to the first port to scan it; keep the second open).
pub(crate) struct ScanningKiosk {
    pub h: Headless,
    pub sim: SimPrinter,
    pub scanner: TTYPort,
    pub _scanner_slave: TTYPort,
    pub paper: qcall_kiosk::escpos::PaperWidth,
}

pub(crate) fn kiosk_with_scanner(server: &str) -> ScanningKiosk {
    let sim = SimPrinter::start(Condition::Ready);
    let (scanner, scanner_slave) = TTYPort::pair().expect("scanner pty");
    let mut cfg = east_config(server, &sim.path);
    let paper = cfg.printer.paper;
    cfg.scanner = Some(qcall_kiosk::config::ScannerConfig { port: scanner_slave.name().unwrap(), baud: 9600 });
    let port = printer::open(&cfg.printer).unwrap();
    let mut h = Headless::start(cfg, port);
    assert!(h.pump_until(LIMIT, ready), "kiosk never became ready");
    ScanningKiosk { h, sim, scanner, _scanner_slave: scanner_slave, paper }
}

pub(crate) fn ready(c: &Controller) -> bool {
    c.link() == Link::Up && matches!(c.printer(), PrinterState::Ok(_))
}

#[test]
fn kiosk_issues_a_ticket_and_the_printer_receives_exactly_its_bytes() {
    let _pty = pty_lock();
    let server = Server::start();
    let sim = SimPrinter::start(Condition::Ready);
    let cfg = east_config(&server.url, &sim.path);
    let port = printer::open(&cfg.printer).unwrap();
    let mut h = Headless::start(cfg.clone(), port);
    assert!(h.pump_until(LIMIT, ready), "kiosk never became ready: {:?} {:?}", h.controller.link(), h.controller.printer());
    assert!(h.controller.view().issuing_enabled);

    let tapped = Instant::now();
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "no ticket screen");
    let ticket = h.controller.last_ticket().cloned().unwrap();
    assert_eq!(ticket.hall, "east");
    assert_eq!(ticket.service, "filing");
    assert!(ticket.number.starts_with('A'), "{}", ticket.number);
    let view = h.controller.view();
    let tv = view.ticket.unwrap();
    assert_eq!(tv.number, ticket.number);
    assert_eq!(tv.headline, "请取走您的号票");
    assert!(tv.print_failed.is_empty());

    // Exactly one issue request, with a request id.
    let issues: Vec<_> = h.commands.iter().filter(|c| matches!(c, Command::Issue { .. })).collect();
    assert_eq!(issues.len(), 1, "{issues:?}");

    // What reached the printer is exactly the rendered ticket, nothing more.
    let expected = escpos::render(&h.controller.ticket_print(&ticket), &cfg.printer.layout());
    let deadline = Instant::now() + LIMIT;
    while sim.received().len() < expected.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let got = sim.received();
    assert_eq!(got, expected);
    // And it says what the server said, in GB18030.
    let hall = escpos::encode_strict("东区办税服务厅").unwrap();
    assert!(got.windows(hall.len()).any(|w| w == hall.as_slice()));
    let number = [&[0x1D, 0x21, 0x55][..], ticket.number.as_bytes(), b"\n"].concat();
    assert!(got.windows(number.len()).any(|w| w == number.as_slice()), "number at 6x6");
    // The QR code: the ticket's status page at the server's public address (its
    // public_base_url, here the address it listens on).
    let url = format!("{}/t/{}", server.url, ticket.id);
    assert!(got.windows(url.len()).any(|w| w == url.as_bytes()), "QR holds {url}");
    assert_eq!(&got[..4], &[0x1B, 0x40, 0x1C, 0x26]);
    assert_eq!(&got[got.len() - 4..], &[0x1D, 0x56, 0x42, 0x04]);
    // The printer was asked 1, 2, 4 (at start and before the ticket).
    let asked = sim.status_requests();
    assert!(asked.len() >= 6 && asked[asked.len() - 3..] == [1, 2, 4], "{asked:?}");

    // The server knows the ticket.
    let api = kiosk_client(&server.url);
    let halls = block(api.halls()).unwrap();
    let east = halls.halls.iter().find(|h| h.id == "east").unwrap();
    assert_eq!(east.services.iter().find(|s| s.id == "filing").unwrap().waiting, 1);

    // The printer status was reported once (healthy), not over and over.
    let reports = h.commands.iter().filter(|c| matches!(c, Command::ReportDevice(_))).count();
    assert_eq!(reports, 1, "{:?}", h.commands);
    let east = halls.halls.iter().find(|h| h.id == "east").unwrap();
    assert!(east.devices.iter().any(|d| d.device == "kiosk-east-1" && d.ok), "{:?}", east.devices);

    let last = sim.last_byte_at().unwrap();
    println!(
        "MEASURE kiosk tap -> last byte on the pty: {:.1} ms ({} bytes, ticket {})",
        (last - tapped).as_secs_f64() * 1000.0,
        got.len(),
        ticket.number
    );
    println!("MEASURE ticket bytes read back from the pty:\n{}", escpos::hex(&got));
    for line in escpos::describe(&got) {
        println!("  {line}");
    }
}

/// A kiosk out of paper does not stop walk-ins: the ticket is issued and shown on screen, the
/// number large with the QR code of its status page, and said aloud; nothing reaches the
/// printer; the printer's fault reaches the server (and the duty leader) all the same.
#[test]
fn out_of_paper_the_ticket_is_issued_on_screen_reported_and_printing_recovers() {
    let _pty = pty_lock();
    let server = Server::start();
    let sim = SimPrinter::start(Condition::Ready);
    let cfg = east_config(&server.url, &sim.path);
    let port = printer::open(&cfg.printer).unwrap();
    let mut h = Headless::start(cfg, port);
    assert!(h.pump_until(LIMIT, ready), "kiosk never became ready");

    // The paper runs out; the next tap asks the printer first, and issues without paper.
    sim.set(Condition::PaperEnd);
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "no ticket on screen");
    assert!(matches!(h.controller.printer(), PrinterState::Fault(PrinterFault::PaperEnd)));
    let v = h.controller.view();
    let t = v.ticket.expect("the ticket screen");
    assert_eq!(t.number, "A001");
    assert!(t.print_failed.starts_with("已为您排队。号票未能打印，请记住号码，或到导税台取号"), "{}", t.print_failed);
    assert!(t.qr_url.contains(&format!("/t/{}?k=", h.controller.last_ticket().unwrap().id)), "the ticket's own link: {}", t.qr_url);
    let number: Vec<Prompt> = h
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Say { prompt: p @ Prompt::NotPrinted { .. }, .. } => Some(p.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(number, [Prompt::NotPrinted { number: "A001".into() }], "the number is said aloud");
    assert!(!h.commands.iter().any(|c| matches!(c, Command::Print { .. })), "nothing is sent to a printer without paper");
    assert!(sim.received().is_empty(), "nothing but status requests reached the printer");
    // Home again: the banner says tickets still come, and the services stay enabled.
    h.dispatch(Event::Dismiss);
    let v = h.controller.view();
    assert!(v.issuing_enabled && v.services.iter().all(|s| s.enabled), "walk-ins go on");
    assert!(v.banner.unwrap().text.contains("仍可取号"));

    // The server has the ticket and the kiosk's printer fault (the duty leader's alert).
    let api = kiosk_client(&server.url);
    let deadline = Instant::now() + LIMIT;
    let device = loop {
        let halls = block(api.halls()).unwrap();
        let east = halls.halls.into_iter().find(|h| h.id == "east").unwrap();
        assert_eq!(east.services.iter().find(|s| s.id == "filing").unwrap().waiting, 1);
        if let Some(d) = east.devices.iter().find(|d| d.device == "kiosk-east-1" && !d.ok) {
            break d.clone();
        }
        assert!(Instant::now() < deadline, "device status never reached the server");
        // Keep the kiosk running meanwhile (its events, retries).
        h.pump_until(Duration::from_millis(50), |_| false);
    };
    assert_eq!(device.code, "paper_end");
    assert!(device.message.contains("缺纸"), "{}", device.message);

    // Paper loaded: the kiosk notices by itself and prints again.
    sim.set(Condition::Ready);
    assert!(h.pump_until(LIMIT, |c| matches!(c.printer(), PrinterState::Ok(_))), "did not recover");
    assert_eq!(h.controller.view().banner, None);
    h.tap("invoice");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket && c.last_ticket().is_some_and(|t| t.number.starts_with('B'))));
    let deadline = Instant::now() + LIMIT;
    while !sim.received().ends_with(&[0x1D, 0x56, 0x42, 0x04]) {
        assert!(Instant::now() < deadline, "ticket never printed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let deadline = Instant::now() + LIMIT;
    loop {
        let halls = block(api.halls()).unwrap();
        let east = halls.halls.into_iter().find(|h| h.id == "east").unwrap();
        if east.devices.iter().any(|d| d.device == "kiosk-east-1" && d.ok) {
            break;
        }
        assert!(Instant::now() < deadline, "recovery never reported");
        h.pump_until(Duration::from_millis(50), |_| false);
    }
}

#[test]
fn a_printer_that_stops_taking_data_after_the_issue_still_leaves_the_number_on_screen() {
    let _pty = pty_lock();
    let server = Server::start();
    let sim = SimPrinter::start(Condition::Ready);
    let mut cfg = east_config(&server.url, &sim.path);
    cfg.printer.flow_control = qcall_kiosk::config::FlowControl::XonXoff;
    cfg.printer.write_timeout = Duration::from_millis(300);
    let port = printer::open(&cfg.printer).unwrap();
    let mut h = Headless::start(cfg, port);
    assert!(h.pump_until(LIMIT, ready));

    // The printer answers the status check, then holds the line with XOFF: the ticket is issued
    // but cannot be written. The write gives up after its timeout; nothing hangs.
    sim.xoff_after_next_status();
    h.tap("registration");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "no ticket screen");
    let ticket = h.controller.last_ticket().cloned().unwrap();
    assert!(ticket.number.starts_with('C'));
    let tv = h.controller.view().ticket.unwrap();
    assert_eq!(tv.number, ticket.number);
    assert_eq!(tv.headline, "您的号码");
    assert_eq!(tv.print_failed, "已为您排队。号票未能打印，请记住号码，或到导税台取号");
    assert!(matches!(h.controller.printer(), PrinterState::Fault(PrinterFault::Port(_))), "{:?}", h.controller.printer());
    assert!(sim.received().is_empty(), "nothing got through while held");
    // The ticket exists: the taxpayer is in the queue.
    let api = kiosk_client(&server.url);
    let halls = block(api.halls()).unwrap();
    let east = halls.halls.iter().find(|h| h.id == "east").unwrap();
    assert_eq!(east.services.iter().find(|s| s.id == "registration").unwrap().waiting, 1);

    // The taxpayer taps the screen; then XON: the printer takes data again and the kiosk
    // recovers by itself.
    h.dispatch(Event::Dismiss);
    assert!(h.controller.view().banner.is_some_and(|b| b.text.contains("仍可取号")), "faulted, and says tickets still come");
    sim.send_xon();
    assert!(h.pump_until(LIMIT, |c| matches!(c.printer(), PrinterState::Ok(_))), "did not recover: {:?}", h.controller.printer());
}

#[test]
fn server_down_disables_issuing_and_a_retry_never_makes_two_tickets() {
    let _pty = pty_lock();
    let mut server = Server::start();
    let sim = SimPrinter::start(Condition::Ready);
    let cfg = east_config(&server.url, &sim.path);
    let port = printer::open(&cfg.printer).unwrap();
    let mut h = Headless::start(cfg, port);
    assert!(h.pump_until(LIMIT, ready));

    server.stop();
    assert!(h.pump_until(LIMIT, |c| c.link() == Link::Down), "outage not noticed");
    let v = h.controller.view();
    assert!(!v.issuing_enabled);
    assert_eq!(v.banner.unwrap().text, "系统连接中断，暂停取号，正在自动重连");
    h.tap("filing");
    assert!(!h.commands.iter().any(|c| matches!(c, Command::Issue { .. })));

    server.start_again();
    assert!(h.pump_until(LIMIT, |c| c.link() == Link::Up && c.view().issuing_enabled), "did not reconnect");
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket));
    // The request id of that tap, sent again (as a retry after a lost answer would): same ticket.
    let Some(Command::Issue { service, priority, request_id }) =
        h.commands.iter().rev().find(|c| matches!(c, Command::Issue { .. })).cloned()
    else {
        panic!("no issue command")
    };
    let api = kiosk_client(&server.url);
    let again = block(api.issue(
        "east",
        &qcall_wire::IssueRequest { service, priority: Some(priority), request_id: Some(request_id) },
    ))
    .unwrap();
    assert_eq!(&again, h.controller.last_ticket().unwrap());
    let halls = block(api.halls()).unwrap();
    let east = halls.halls.iter().find(|h| h.id == "east").unwrap();
    assert_eq!(east.services.iter().find(|s| s.id == "filing").unwrap().waiting, 1);
}

#[test]
fn test_print_asks_status_first_and_refuses_on_paper_end() {
    let _pty = pty_lock();
    let sim = SimPrinter::start(Condition::PaperEnd);
    let out = Proc::new(bin("qcall-kiosk"))
        .args(["--server", "http://127.0.0.1:9", "test-print", "--printer", &sim.path])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("paper end / 缺纸"), "{stderr}");
    assert!(sim.received().is_empty(), "nothing printed on a fault");
    assert!(!sim.status_requests().is_empty());

    sim.set(Condition::Ready);
    let out = Proc::new(bin("qcall-kiosk"))
        .args(["--server", "http://127.0.0.1:9", "test-print", "--printer", &sim.path])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + LIMIT;
    while !sim.received().ends_with(&[0x1D, 0x56, 0x42, 0x04]) {
        assert!(Instant::now() < deadline, "sample ticket never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    let got = sim.received();
    assert_eq!(&got[..4], &[0x1B, 0x40, 0x1C, 0x26]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("printed a sample ticket: {} bytes to serial:{} 9600 baud", got.len(), sim.path));
}

#[test]
fn test_print_with_no_printer_answering_names_the_fault() {
    let _pty = pty_lock();
    // A pty with nobody answering status requests: no printer.
    let (_master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let out = Proc::new(bin("qcall-kiosk")).args(["test-print", "--printer", &path]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no printer"), "{stderr}");
    let out = Proc::new(bin("qcall-kiosk")).args(["test-print", "--printer", "/nonexistent/ttyUSB9"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/nonexistent/ttyUSB9"), "{stderr}");
}

#[test]
fn test_print_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.bin");
    let out = Proc::new(bin("qcall-kiosk"))
        .args(["--server", "http://127.0.0.1:9", "test-print", "--printer", &format!("file:{}", file.display())])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..4], &[0x1B, 0x40, 0x1C, 0x26]);
    assert_eq!(&bytes[bytes.len() - 4..], &[0x1D, 0x56, 0x42, 0x04]);
}

/// Reads a PNG written by `--screenshot` as (width, height, RGBA).
fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Pixels in the rectangle for which `pred(r, g, b)` holds.
fn count(img: &(u32, u32, Vec<u8>), x0: u32, y0: u32, x1: u32, y1: u32, pred: impl Fn(u8, u8, u8) -> bool) -> usize {
    let (w, _, px) = img;
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * w + x) * 4) as usize;
            if pred(px[i], px[i + 1], px[i + 2]) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn screenshot_draws_chinese_text() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("home.png");
    let run = Proc::new(bin("qcall-kiosk"))
        .args(["--server", &server.url, "--screenshot", out.to_str().unwrap(), "--landscape"])
        .args(["--config", concat!(env!("CARGO_MANIFEST_DIR"), "/../config/kiosk-east.toml")])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("1920x1080, live data"), "{stdout}");
    let img = read_png(&out);
    assert_eq!((img.0, img.1), (1920, 1080));
    let white = |r: u8, g: u8, b: u8| r > 200 && g > 200 && b > 200;
    // The header's first line is the hall name, 东区办税服务厅, and nothing else: white ink
    // on the blue bar, across the width of seven 56 px characters.
    let ink = count(&img, 40, 12, 460, 80, white);
    assert!(ink > 2000, "no Chinese ink in the hall title: {ink} white pixels");
    let columns = (40..460).filter(|&x| count(&img, x, 12, x + 1, 80, white) > 0).count();
    assert!(columns > 300, "the title's ink spans only {columns} columns");
    // The header right of the title (before the clock) is empty blue: the check is not vacuous.
    assert_eq!(count(&img, 700, 12, 900, 80, white), 0);
}

#[test]
fn screenshot_without_server_shows_the_outage_and_with_paper_end_that_tickets_still_come() {
    let _pty = pty_lock();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("down.png");
    let run = Proc::new(bin("qcall-kiosk"))
        .args(["--server", "http://127.0.0.1:9", "--screenshot", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("unreachable"));
    let img = read_png(&out);
    let red = |r: u8, g: u8, b: u8| r > 180 && g < 70 && b < 70;
    // The red banner under the header.
    assert!(count(&img, 0, 140, 1920, 200, red) > 50_000, "no outage banner");

    // A live server, but the printer reports paper end: an amber banner (tickets still come,
    // on screen), not the red of an outage.
    let server = Server::start();
    let sim = SimPrinter::start(Condition::PaperEnd);
    let cfg = dir.path().join("k.toml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/kiosk-east.toml"))
        .unwrap()
        .replace("port = \"file:data/kiosk-east-printer.bin\"", &format!("port = \"{}\"", sim.path));
    std::fs::write(&cfg, text).unwrap();
    let out = dir.path().join("paper.png");
    let run = Proc::new(bin("qcall-kiosk"))
        .args(["--config", cfg.to_str().unwrap(), "--server", &server.url, "--screenshot", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("printer fault: paper end / 缺纸"), "{stdout}");
    let img = read_png(&out);
    let amber = |r: u8, g: u8, b: u8| r > 220 && (150..210).contains(&g) && b < 60;
    assert!(count(&img, 0, 140, 1920, 200, amber) > 50_000, "no printer banner");
    assert!(count(&img, 0, 140, 1920, 200, red) < 1_000, "not the outage's red");
}

/// A TCP relay in front of the server that, while `swallow` is on, passes a ticket request on
/// to the server but never lets its answer back (the kiosk sees the connection drop).
struct LossyLink {
    port: u16,
    swallow: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl LossyLink {
    fn start(server_port: u16) -> LossyLink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let swallow = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (sw, st) = (swallow.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let server = std::net::TcpStream::connect(("127.0.0.1", server_port)).unwrap();
                let sw = sw.clone();
                std::thread::spawn(move || relay(client, server, sw));
            }
        });
        LossyLink { port, swallow, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LossyLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn relay(mut client: std::net::TcpStream, mut server: std::net::TcpStream, swallow: Arc<AtomicBool>) {
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    // Answers back, unless this connection is swallowing.
    let lost = Arc::new(AtomicBool::new(false));
    let lost2 = lost.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = s2.read(&mut buf) {
            if n == 0 || lost2.load(Ordering::SeqCst) || c2.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c2.shutdown(std::net::Shutdown::Both);
    });
    let mut buf = [0u8; 8192];
    while let Ok(n) = client.read(&mut buf) {
        if n == 0 || server.write_all(&buf[..n]).is_err() {
            break;
        }
        if swallow.load(Ordering::SeqCst) && buf[..n].windows(30).any(|w| w == b"POST /api/v1/halls/east/ticket") {
            // The server gets the request; the kiosk never gets the answer.
            lost.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            let _ = client.shutdown(std::net::Shutdown::Both);
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = server.shutdown(std::net::Shutdown::Both);
}

#[test]
fn a_ticket_whose_answer_was_lost_is_printed_before_any_other_is_issued() {
    let _pty = pty_lock();
    let server = Server::start();
    let link = LossyLink::start(server.port);
    let sim = SimPrinter::start(Condition::Ready);
    let cfg = east_config(&link.url(), &sim.path);
    let port = printer::open(&cfg.printer).unwrap();
    let mut h = Headless::start(cfg, port);
    assert!(h.pump_until(LIMIT, ready), "kiosk never became ready");

    // The taxpayer taps 申报纳税; the server issues the ticket but the answer is lost (three
    // times: the retries carry the same request id). The kiosk says no ticket was issued.
    link.swallow.store(true, Ordering::SeqCst);
    h.tap("filing");
    assert!(
        h.pump_until(LIMIT, |c| c.view().banner.is_some_and(|b| b.text == "网络异常，未能取号，请稍后重试")),
        "the lost answer is reported"
    );
    let api = kiosk_client(&server.url);
    let halls = block(api.halls()).unwrap();
    let east = halls.halls.iter().find(|h| h.id == "east").unwrap();
    assert_eq!(east.services.iter().find(|s| s.id == "filing").unwrap().waiting, 1, "the server did issue it");
    assert!(sim.received().is_empty(), "nothing printed yet");

    // The link is fine again; the taxpayer taps another service. The kiosk first asks what the
    // lost request made, prints that ticket, and issues nothing else.
    link.swallow.store(false, Ordering::SeqCst);
    h.tap("invoice");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket), "no ticket screen");
    let t = h.controller.last_ticket().cloned().unwrap();
    assert_eq!((t.number.as_str(), t.service.as_str()), ("A001", "filing"));
    assert_eq!(h.controller.view().ticket.unwrap().headline, "您刚才的取号已成功，请取走号票");
    assert!(h.commands.iter().any(|c| matches!(c, Command::Settle { .. })));
    let deadline = Instant::now() + LIMIT;
    while !sim.received().ends_with(&[0x1D, 0x56, 0x42, 0x04]) {
        assert!(Instant::now() < deadline, "the ticket never printed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let halls = block(api.halls()).unwrap();
    let east = halls.halls.iter().find(|h| h.id == "east").unwrap();
    let waiting = |s: &str| east.services.iter().find(|x| x.id == s).unwrap().waiting;
    assert_eq!((waiting("filing"), waiting("invoice")), (1, 0), "no orphan, no second ticket");
}
