//! A thermal printer that behaves as Epson's ESC/POS reference says, on the far side of a
//! pseudo-terminal (standing in for a serial port or a USB printer-class device) or of a TCP
//! connection (a network printer's raw port 9100).
//!
//! It answers `DLE EOT n` wherever the bytes appear in the stream, with every status bit a real
//! printer sets for its [`Condition`] (the offline bit comes with every cause), records all
//! other bytes it receives, and keeps graphics stored with `GS ( L` like non-volatile memory.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use qcall_kiosk::escpos::{self, STATUS_OK};
use serialport::{SerialPort, TTYPort};

/// What state the printer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    Ready,
    /// The roll is running low: still prints.
    PaperNearEnd,
    PaperEnd,
    CoverOpen,
    /// An autocutter error (unrecoverable until the cutter is cleared).
    CutterError,
    /// Stopped with no cause in `DLE EOT 2`/`4`: paper being fed with the feed button.
    FeedButton,
}

impl Condition {
    /// The answers to `DLE EOT 1`, `2`, `3` and `4` as the reference sets them. Bits 1 and 4
    /// are always set (0x12). `DLE EOT 1` bit 3: offline (set whenever the printer stopped).
    /// `DLE EOT 2`: bit 2 cover open, bit 3 paper fed by the button, bit 5 stopped by paper end,
    /// bit 6 error. `DLE EOT 3`: bit 3 autocutter error. `DLE EOT 4`: bits 2-3 near end,
    /// bits 5-6 paper end (the near-end sensor is then empty too).
    pub(crate) fn answers(self) -> [u8; 4] {
        const OFFLINE: u8 = STATUS_OK | 0x08;
        match self {
            Condition::Ready => [STATUS_OK; 4],
            Condition::PaperNearEnd => [STATUS_OK, STATUS_OK, STATUS_OK, STATUS_OK | 0x0C],
            Condition::PaperEnd => [OFFLINE, STATUS_OK | 0x20, STATUS_OK, STATUS_OK | 0x0C | 0x60],
            Condition::CoverOpen => [OFFLINE, STATUS_OK | 0x04, STATUS_OK, STATUS_OK],
            Condition::CutterError => [OFFLINE, STATUS_OK | 0x40, STATUS_OK | 0x08, STATUS_OK],
            Condition::FeedButton => [OFFLINE, STATUS_OK | 0x08, STATUS_OK, STATUS_OK],
        }
    }
}

/// The printer's mind, shared by its transport thread and the test.
struct Brain {
    condition: Condition,
    received: Vec<u8>,
    status_requests: Vec<u8>,
    last_byte_at: Option<Instant>,
    held: Vec<u8>,
    /// Send XOFF (0x13) just before the answer to the next DLE EOT 4: the printer goes busy
    /// right after saying it is fine.
    xoff_after_status: bool,
}

impl Brain {
    /// Takes bytes from the host; returns what the printer sends back.
    fn feed(&mut self, bytes: &[u8], now: Instant) -> Vec<u8> {
        let mut reply = vec![];
        for &b in bytes {
            self.held.push(b);
            match self.held.as_slice() {
                [0x10] | [0x10, 0x04] => continue,
                [0x10, 0x04, q] => {
                    let q = *q;
                    self.status_requests.push(q);
                    if (1..=4).contains(&q) {
                        let answer = self.condition.answers()[q as usize - 1];
                        if q == 4 && std::mem::take(&mut self.xoff_after_status) {
                            reply.push(0x13);
                        }
                        reply.push(answer);
                    }
                }
                _ => {
                    self.received.extend_from_slice(&self.held);
                    self.last_byte_at = Some(now);
                }
            }
            self.held.clear();
        }
        reply
    }
}

pub(crate) struct SimPrinter {
    brain: Arc<Mutex<Brain>>,
    /// Bytes the printer sends on its own (XON).
    xon: Mutex<std::sync::mpsc::Sender<u8>>,
    /// Network printer: close the open connection (as printers do with idle ones).
    hang_up: Arc<AtomicBool>,
    /// Network printer: stop answering on the open connection without closing it (a cable
    /// pulled and put back, a printer restarted behind a switch), and take the next one.
    abandon: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The slave side stays open so the master never sees a hang-up between opens.
    _slave: Option<TTYPort>,
    /// The pty's device path, or `tcp://127.0.0.1:PORT`.
    pub(crate) path: String,
}

impl SimPrinter {
    fn parts(condition: Condition) -> (Arc<Mutex<Brain>>, Arc<AtomicBool>, Arc<AtomicBool>) {
        let brain = Brain { condition, received: vec![], status_requests: vec![], last_byte_at: None, held: vec![], xoff_after_status: false };
        (Arc::new(Mutex::new(brain)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)))
    }

    fn flag() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    /// A printer on the master side of a pty: its slave path is the "serial port" or the
    /// "USB printer device" the kiosk opens.
    pub(crate) fn start(condition: Condition) -> SimPrinter {
        let (mut master, slave) = TTYPort::pair().expect("pty pair");
        let path = slave.name().expect("pty name");
        master.set_timeout(Duration::from_millis(20)).unwrap();
        let (brain, stop, hang_up) = Self::parts(condition);
        let (b, st) = (brain.clone(), stop.clone());
        let (xon_tx, xon_rx) = std::sync::mpsc::channel::<u8>();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !st.load(Ordering::SeqCst) {
                while let Ok(x) = xon_rx.try_recv() {
                    let _ = master.write_all(&[x]);
                }
                let n = match master.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                let reply = b.lock().unwrap().feed(&buf[..n], Instant::now());
                if !reply.is_empty() {
                    let _ = master.write_all(&reply);
                }
            }
        });
        SimPrinter { brain, xon: Mutex::new(xon_tx), hang_up, abandon: Self::flag(), stop, thread: Some(thread), _slave: Some(slave), path }
    }

    /// A network printer listening on 127.0.0.1 (one connection at a time, as most do).
    pub(crate) fn start_tcp(condition: Condition) -> SimPrinter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let path = format!("tcp://{}", listener.local_addr().unwrap());
        let (brain, stop, hang_up) = Self::parts(condition);
        let abandon = Self::flag();
        let (b, st, hu, ab) = (brain.clone(), stop.clone(), hang_up.clone(), abandon.clone());
        let (xon_tx, _xon_rx) = std::sync::mpsc::channel::<u8>();
        let thread = std::thread::spawn(move || {
            let mut conn: Option<TcpStream> = None;
            // Connections left open but never read again.
            let mut abandoned: Vec<TcpStream> = vec![];
            let mut buf = [0u8; 512];
            while !st.load(Ordering::SeqCst) {
                if hu.swap(false, Ordering::SeqCst) {
                    conn = None;
                }
                if ab.swap(false, Ordering::SeqCst) {
                    abandoned.extend(conn.take());
                }
                let Some(c) = conn.as_mut() else {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(false).unwrap();
                            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
                            conn = Some(s);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                    continue;
                };
                match c.read(&mut buf) {
                    Ok(0) => conn = None,
                    Ok(n) => {
                        let reply = b.lock().unwrap().feed(&buf[..n], Instant::now());
                        if !reply.is_empty() && c.write_all(&reply).is_err() {
                            conn = None;
                        }
                    }
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(_) => conn = None,
                }
            }
        });
        SimPrinter { brain, xon: Mutex::new(xon_tx), hang_up, abandon, stop, thread: Some(thread), _slave: None, path }
    }

    pub(crate) fn set(&self, condition: Condition) {
        self.brain.lock().unwrap().condition = condition;
    }

    pub(crate) fn received(&self) -> Vec<u8> {
        self.brain.lock().unwrap().received.clone()
    }

    pub(crate) fn clear_received(&self) {
        self.brain.lock().unwrap().received.clear();
    }

    pub(crate) fn status_requests(&self) -> Vec<u8> {
        self.brain.lock().unwrap().status_requests.clone()
    }

    pub(crate) fn last_byte_at(&self) -> Option<Instant> {
        self.brain.lock().unwrap().last_byte_at
    }

    pub(crate) fn xoff_after_next_status(&self) {
        self.brain.lock().unwrap().xoff_after_status = true;
    }

    pub(crate) fn send_xon(&self) {
        self.xon.lock().unwrap().send(0x11).unwrap();
    }

    /// A network printer closes the connection it has open.
    pub(crate) fn hang_up(&self) {
        self.hang_up.store(true, Ordering::SeqCst);
    }

    /// A network printer stops answering on its open connection, without closing it.
    pub(crate) fn abandon_connection(&self) {
        self.abandon.store(true, Ordering::SeqCst);
    }

    /// Waits until the received bytes end with a cut (a whole ticket), or `limit` passes.
    pub(crate) fn wait_for_cut(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.received().ends_with(&escpos::feed_and_cut(4)) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// What came out on paper, as the printer's non-volatile memory makes it: the keys of the
    /// stored graphics printed, in order. A graphic printed by a key that holds none is
    /// skipped, as the reference says a printer does.
    pub(crate) fn logos_printed(&self) -> Vec<String> {
        let mut stored = BTreeSet::new();
        let mut printed = vec![];
        for line in escpos::describe(&self.received()) {
            let key = |prefix: &str| line.strip_prefix(prefix).map(|r| r.split('"').nth(1).unwrap_or("").to_string());
            if let Some(k) = key("GS ( L: define NV graphic ") {
                stored.insert(k);
            } else if let Some(k) = key("GS ( L: delete NV graphic ") {
                stored.remove(&k);
            } else if let Some(k) = key("GS ( L: print NV graphic ") {
                if stored.contains(&k) {
                    printed.push(k);
                }
            }
        }
        printed
    }
}

impl Drop for SimPrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
