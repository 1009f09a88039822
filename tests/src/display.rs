//! The hall display against a real server process: following the event stream, keeping the last
//! state when the server goes away, reconnecting when it comes back, and not announcing calls
//! that are old by the time they arrive.

use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use qcall_display::controller::{Controller, Effect, Input, Link, Settings};
use qcall_client::{BackoffSettings, Client, ClientOptions, FollowSettings};
use qcall_display::net::{LinkSettings, NetWorker};

use crate::util::Server;

/// Upper bound for anything to happen; only a guard against hanging, never a measurement.
const PATIENCE: Duration = Duration::from_secs(30);

fn settings() -> Settings {
    Settings {
        hall: "east".into(),
        recent_rows: 8,
        highlight: Duration::from_secs(8),
        stale_after: Duration::from_secs(30),
        publicity: vec!["依法诚信纳税".into()],
    }
}

fn link(url: &str, since: Option<u64>) -> LinkSettings {
    let backoff = BackoffSettings { initial: Duration::from_millis(100), max: Duration::from_millis(800), jitter: 0.2 };
    LinkSettings {
        server: url.to_string(),
        hall: "east".into(),
        client: ClientOptions::default(),
        follow: FollowSettings { backoff, keepalive: Duration::from_secs(15) },
        since,
        device: None,
    }
}

/// A display without a screen: the real network worker feeding the real controller.
pub(crate) struct Display {
    pub(crate) controller: Controller,
    rx: mpsc::Receiver<Input>,
    worker: Option<NetWorker>,
    announced: Vec<Effect>,
}

impl Display {
    pub(crate) fn start(url: &str) -> Display {
        let mut d = Display { controller: Controller::new(settings()), rx: mpsc::channel().1, worker: None, announced: vec![] };
        d.connect(url, None);
        d
    }

    pub(crate) fn connect(&mut self, url: &str, since: Option<u64>) {
        let (tx, rx) = mpsc::channel();
        self.rx = rx;
        self.worker = Some(NetWorker::spawn(link(url, since), move |i| {
            let _ = tx.send(i);
        }));
    }

    pub(crate) fn disconnect(&mut self) {
        self.worker = None;
    }

    /// Feeds inputs (received "at" `clock()`) until `done` holds.
    pub(crate) fn until(&mut self, what: &str, clock: impl Fn() -> DateTime<Utc>, done: impl Fn(&Display) -> bool) {
        let deadline = std::time::Instant::now() + PATIENCE;
        while !done(self) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let input = self.rx.recv_timeout(left).unwrap_or_else(|_| panic!("display never saw: {what}; its state: {:?}", self.controller.state()));
            let effects = self.controller.handle(input, clock());
            self.announced.extend(effects);
        }
    }

    pub(crate) fn latest(&self) -> Option<String> {
        self.controller.state().latest.as_ref().map(|c| c.ticket.clone())
    }
}

pub(crate) fn announce(ticket: &str, counter: u32) -> Effect {
    Effect::Announce { ticket: ticket.into(), counter_number: counter }
}

struct Api {
    rt: tokio::runtime::Runtime,
    client: Client,
    /// clerk01's session at counter E01.
    clerk: Client,
}

impl Api {
    fn new(url: &str) -> Api {
        let client = Client::new(url, &ClientOptions::default()).unwrap();
        let mut api = Api { rt: tokio::runtime::Runtime::new().unwrap(), clerk: client.clone(), client };
        api.sign_in();
        api
    }

    /// Signs clerk01 in at E01 (again after a server restart).
    fn sign_in(&mut self) {
        let req = qcall_wire::SessionRequest { clerk: "clerk01".into(), pin: "1234".into(), counter: "E01".into(), take_over: true };
        let s = self.rt.block_on(self.client.sign_in(&req)).expect("sign in");
        self.clerk = self.client.with_token(&s.token);
    }

    /// Issues a filing ticket in the east hall; returns its number.
    fn issue(&self) -> String {
        let req = qcall_wire::IssueRequest { service: "filing".into(), priority: None, request_id: None };
        self.rt.block_on(self.client.with_token("demo-kiosk-east").issue("east", &req)).expect("issue").number
    }

    /// Calls the next ticket at counter E01 (number 1).
    fn call_next(&self) {
        self.rt.block_on(self.clerk.call_next("E01")).expect("call-next");
    }

    fn finish(&self) {
        self.rt.block_on(self.clerk.finish("E01")).expect("finish");
    }
}

#[test]
fn display_reconnects_after_the_server_restarts() {
    let mut server = Server::start();
    let mut api = Api::new(&server.url);
    let mut d = Display::start(&server.url);
    d.until("first snapshot", Utc::now, |d| d.controller.state().synced && d.controller.state().link == Link::Online);

    let first = api.issue();
    api.call_next();
    d.until("the first call", Utc::now, |d| d.announced.contains(&announce(&first, 1)));
    assert_eq!(d.latest().as_deref(), Some(first.as_str()));

    server.stop();
    d.until("the link dropping", Utc::now, |d| d.controller.state().link == Link::Offline);
    let view = d.controller.view(Utc::now());
    assert!(!view.connected);
    assert_eq!(view.latest_ticket, first, "the last state stays on screen while offline");

    server.start_again();
    d.until("reconnecting", Utc::now, |d| d.controller.state().link == Link::Online);
    api.sign_in();
    api.finish();
    let second = api.issue();
    api.call_next();
    d.until("a call after the restart", Utc::now, |d| d.announced.contains(&announce(&second, 1)));
    let view = d.controller.view(Utc::now());
    assert!(view.connected);
    assert_eq!(view.latest_ticket, second);
    assert_eq!(view.recent[0].ticket, second);
    assert_eq!(view.recent[0].counter, "1号窗口");
    assert_eq!(d.announced.iter().filter(|e| **e == announce(&first, 1)).count(), 1, "no call announced twice");
    d.disconnect();
}

#[test]
fn calls_missed_while_away_are_shown_but_old_ones_not_announced() {
    let server = Server::start();
    let api = Api::new(&server.url);
    let mut d = Display::start(&server.url);
    d.until("first snapshot", Utc::now, |d| d.controller.state().synced);

    // The display goes away; two calls happen meanwhile.
    d.disconnect();
    let since = d.controller.state().last_seq;
    let a = api.issue();
    let b = api.issue();
    api.call_next();
    api.finish();
    api.call_next();

    // It comes back (resuming with `since`) an hour later by its clock: both calls are shown,
    // neither is announced.
    d.connect(&server.url, since);
    let later = || Utc::now() + chrono::Duration::hours(1);
    d.until("the missed calls", later, |d| d.latest().as_deref() == Some(b.as_str()));
    assert!(d.announced.is_empty(), "stale calls announced: {:?}", d.announced);
    let tickets: Vec<String> = d.controller.state().recent.iter().map(|c| c.ticket.clone()).collect();
    assert_eq!(tickets, [b.clone()], "one row per counter: the newest call at counter 1");
    assert_ne!(a, b);

    // A call now is announced.
    api.finish();
    let c = api.issue();
    api.call_next();
    d.until("a live call", Utc::now, |d| d.announced.contains(&announce(&c, 1)));
    assert_eq!(d.announced, [announce(&c, 1)]);
    d.disconnect();
}

/// Counts near-white pixels (text) in a rectangle of an RGB(A) PNG.
fn ink(png_path: &std::path::Path, x0: u32, y0: u32, x1: u32, y1: u32) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.color_type.samples();
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = (y * info.width + x) as usize * bpp;
            if buf[i] > 200 && buf[i + 1] > 200 && buf[i + 2] > 200 {
                n += 1;
            }
        }
    }
    (info.width, info.height, n)
}

#[test]
fn screenshot_command_syncs_with_the_server_and_draws_the_hall() {
    let server = Server::start();
    let api = Api::new(&server.url);
    let number = api.issue();
    api.call_next();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("east.png");
    let run = std::process::Command::new(crate::util::bin("qcall-display"))
        .args(["--server", &server.url, "--screenshot"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // The hall name (东区办税服务厅, white on the header) drew top left; the called number's
    // counter (1号窗口, white) drew in the call panel.
    let (w, h, header) = ink(&out, 0, 0, 600, 80);
    assert_eq!((w, h), (1920, 1080));
    assert!(header > 2000, "hall name ink: {header} px");
    let (_, _, counter) = ink(&out, 1000, 150, 1900, 450);
    assert!(counter > 20_000, "counter ink: {counter} px ({number} called at counter 1)");
}
