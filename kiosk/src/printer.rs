//! The printer port: a small trait, [`PrinterPort`], with a file stand-in and one ESC/POS printer
//! that speaks over any of three links: a serial port (RS-232, USB-serial, USB-CDC
//! `/dev/ttyACM0`), a USB printer-class device (`/dev/usb/lp0`, Linux `usblp`, which reads
//! status back) and a network printer (raw TCP, port 9100). All three ask the same `DLE EOT`
//! status before each ticket and report faults the same way.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{FlowControl, Parity, PrinterConfig, PrinterTarget};
use crate::escpos::{interpret, is_status_byte, status_request, PrinterFault, PrinterHealth};

/// Where ticket bytes go.
pub trait PrinterPort: Send {
    /// Asks the printer how it is (before each ticket).
    fn status(&mut self) -> Result<PrinterHealth, PrinterFault>;
    /// Writes all bytes, or fails within the configured write timeout.
    fn write_ticket(&mut self, bytes: &[u8]) -> Result<(), PrinterFault>;
    /// Human-readable description for logs.
    fn describe(&self) -> String;
}

/// Opens the configured printer.
pub fn open(cfg: &PrinterConfig) -> Result<Box<dyn PrinterPort>, PrinterFault> {
    match &cfg.target {
        PrinterTarget::File(path) => Ok(Box::new(FilePrinter { path: path.clone() })),
        _ => Ok(Box::new(EscPosPrinter::open(cfg))),
    }
}

/// Appends tickets to a file: for development without a printer. Always healthy.
pub struct FilePrinter {
    pub path: PathBuf,
}

impl PrinterPort for FilePrinter {
    fn status(&mut self) -> Result<PrinterHealth, PrinterFault> {
        Ok(PrinterHealth::default())
    }

    fn write_ticket(&mut self, bytes: &[u8]) -> Result<(), PrinterFault> {
        if let Some(dir) = self.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| PrinterFault::Port(format!("{}: {e}", dir.display())))?;
            }
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| PrinterFault::Port(format!("{}: {e}", self.path.display())))?;
        f.write_all(bytes).map_err(|e| PrinterFault::Port(format!("{}: {e}", self.path.display())))
    }

    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }
}

/// A byte pipe to a printer, both ways, with deadlines.
trait Link: Send {
    /// Writes all of `bytes` or fails at `deadline` (a printer that stopped taking data).
    fn send(&mut self, bytes: &[u8], deadline: Instant) -> std::io::Result<()>;
    /// The next byte from the printer; `None` when nothing came by `deadline`.
    fn recv(&mut self, deadline: Instant) -> std::io::Result<Option<u8>>;
    /// Drops whatever the printer sent before (late answers, XON/XOFF).
    fn discard_input(&mut self);
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(ErrorKind::TimedOut, "write timed out (printer not taking data)")
}

/// A serial port (or a pseudo-terminal standing in for one).
struct SerialLink(Box<dyn serialport::SerialPort>);

impl Link for SerialLink {
    fn send(&mut self, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if Instant::now() >= deadline {
                return Err(timed_out());
            }
            self.0.set_timeout(remaining(deadline))?;
            match self.0.write(bytes) {
                Ok(0) => return Err(std::io::Error::new(ErrorKind::WriteZero, "printer accepted no bytes")),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::TimedOut => return Err(timed_out()),
                Err(e) => return Err(e),
            }
        }
        // No tcdrain here: with flow control held it could block without limit.
        Ok(())
    }

    fn recv(&mut self, deadline: Instant) -> std::io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        loop {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            self.0.set_timeout(remaining(deadline))?;
            match self.0.read(&mut b) {
                Ok(1) => return Ok(Some(b[0])),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::TimedOut => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn discard_input(&mut self) {
        let _ = self.0.clear(serialport::ClearBuffer::Input);
    }
}

/// A character device opened without blocking: a USB printer-class device (`usblp` answers
/// status on read) or anything else that behaves like one. Waits with `poll`.
struct DeviceLink(File);

impl DeviceLink {
    /// Waits until the device is ready for `flags`; `false` at the deadline.
    fn wait(&self, flags: rustix::event::PollFlags, deadline: Instant) -> std::io::Result<bool> {
        loop {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ts = rustix::event::Timespec { tv_sec: left.as_secs() as _, tv_nsec: left.subsec_nanos() as _ };
            let mut fds = [rustix::event::PollFd::new(&self.0, flags)];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) => return Ok(false),
                Ok(_) => {
                    let got = fds[0].revents();
                    if got.intersects(rustix::event::PollFlags::ERR | rustix::event::PollFlags::NVAL | rustix::event::PollFlags::HUP) {
                        return Err(std::io::Error::new(ErrorKind::BrokenPipe, "device gone"));
                    }
                    return Ok(true);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Link for DeviceLink {
    fn send(&mut self, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if Instant::now() >= deadline {
                return Err(timed_out());
            }
            match self.0.write(bytes) {
                Ok(0) => return Err(std::io::Error::new(ErrorKind::WriteZero, "printer accepted no bytes")),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if !self.wait(rustix::event::PollFlags::OUT, deadline)? {
                        return Err(timed_out());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn recv(&mut self, deadline: Instant) -> std::io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        loop {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            match self.0.read(&mut b) {
                Ok(1) => return Ok(Some(b[0])),
                // usblp may answer 0 bytes while the printer has nothing to say yet.
                Ok(_) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if !self.wait(rustix::event::PollFlags::IN, deadline)? {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn discard_input(&mut self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = self.0.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

/// A network printer's raw port (9100).
struct TcpLink(TcpStream);

impl Link for TcpLink {
    fn send(&mut self, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if Instant::now() >= deadline {
                return Err(timed_out());
            }
            self.0.set_write_timeout(Some(remaining(deadline)))?;
            match self.0.write(bytes) {
                Ok(0) => return Err(std::io::Error::new(ErrorKind::WriteZero, "printer closed the connection")),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(timed_out()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn recv(&mut self, deadline: Instant) -> std::io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        loop {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            self.0.set_read_timeout(Some(remaining(deadline)))?;
            match self.0.read(&mut b) {
                Ok(1) => return Ok(Some(b[0])),
                Ok(_) => return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "printer closed the connection")),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn discard_input(&mut self) {
        if self.0.set_nonblocking(true).is_ok() {
            let mut buf = [0u8; 64];
            while let Ok(n) = self.0.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            let _ = self.0.set_nonblocking(false);
        }
    }
}

/// An ESC/POS printer on a serial, USB printer-class or network link.
///
/// The link is opened lazily and reopened after an error, so a printer that was unplugged,
/// switched off or restarted recovers by itself.
pub struct EscPosPrinter {
    cfg: PrinterConfig,
    link: Option<Box<dyn Link>>,
}

impl EscPosPrinter {
    pub fn open(cfg: &PrinterConfig) -> Self {
        let mut p = EscPosPrinter { cfg: cfg.clone(), link: None };
        // A missing printer is a fault shown on screen, not a reason to refuse to start.
        let _ = p.link();
        p
    }

    fn port_error(&self, e: impl std::fmt::Display) -> PrinterFault {
        PrinterFault::Port(format!("{}: {e}", self.cfg.target.describe()))
    }

    fn link(&mut self) -> Result<&mut Box<dyn Link>, PrinterFault> {
        if self.link.is_none() {
            let link = self.connect().map_err(|e| self.port_error(e))?;
            tracing::info!(printer = %self.describe(), "printer link open");
            self.link = Some(link);
        }
        Ok(self.link.as_mut().expect("just opened"))
    }

    fn connect(&self) -> std::io::Result<Box<dyn Link>> {
        let c = &self.cfg;
        Ok(match &c.target {
            PrinterTarget::Serial(path) => Box::new(SerialLink(open_serial(path, c)?)),
            PrinterTarget::Usb(path) => Box::new(open_device(path)?),
            PrinterTarget::Tcp(addr) => {
                let mut last = std::io::Error::new(ErrorKind::NotFound, "the name resolves to no address");
                for a in addr.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&a, c.connect_timeout) {
                        Ok(s) => {
                            let _ = s.set_nodelay(true);
                            return Ok(Box::new(TcpLink(s)));
                        }
                        Err(e) => last = e,
                    }
                }
                return Err(last);
            }
            PrinterTarget::File(_) => return Err(std::io::Error::other("a file is not a printer link")),
        })
    }

    /// One `DLE EOT n` round trip: the first status byte that comes back, skipping XON/XOFF and
    /// anything else that cannot be status.
    fn query(&mut self, n: u8) -> Result<Option<u8>, PrinterFault> {
        let timeout = self.cfg.status_timeout;
        let write_timeout = self.cfg.write_timeout;
        let link = self.link()?;
        link.discard_input();
        let r = (|| {
            link.send(&status_request(n), Instant::now() + write_timeout)?;
            let deadline = Instant::now() + timeout;
            loop {
                match link.recv(deadline)? {
                    Some(b) if is_status_byte(b) => return Ok(Some(b)),
                    Some(_) => {}
                    None => return Ok(None),
                }
            }
        })();
        r.map_err(|e: std::io::Error| self.port_error(e))
    }

    /// Asks `DLE EOT 1`, `2` and `4` and reads them together (see [`interpret`]).
    fn ask(&mut self) -> Result<PrinterHealth, PrinterFault> {
        let mut answers = [0u8; 3];
        for (slot, n) in answers.iter_mut().zip([1, 2, 4]) {
            *slot = self.query(n)?.ok_or(PrinterFault::NoReply)?;
        }
        interpret(answers[0], answers[1], answers[2])
    }
}

impl PrinterPort for EscPosPrinter {
    fn status(&mut self) -> Result<PrinterHealth, PrinterFault> {
        let reused = self.link.is_some();
        match self.ask() {
            Err(fault @ (PrinterFault::Port(_) | PrinterFault::NoReply)) => {
                self.link = None;
                // A network printer closes idle connections (or one whose cable was pulled
                // answers nothing until TCP gives up), and a USB printer may have been replugged:
                // one fresh link before calling it a fault.
                if reused {
                    tracing::debug!(%fault, "printer link went stale; reopening");
                    let r = self.ask();
                    if matches!(r, Err(PrinterFault::Port(_) | PrinterFault::NoReply)) {
                        self.link = None;
                    }
                    r
                } else {
                    Err(fault)
                }
            }
            r => r,
        }
    }

    fn write_ticket(&mut self, bytes: &[u8]) -> Result<(), PrinterFault> {
        let deadline = Instant::now() + self.cfg.write_timeout;
        let link = self.link()?;
        let r = link.send(bytes, deadline);
        r.map_err(|e| {
            self.link = None;
            self.port_error(e)
        })
    }

    fn describe(&self) -> String {
        self.cfg.target.describe_with(self.cfg.baud)
    }
}

fn open_serial(path: &str, c: &PrinterConfig) -> std::io::Result<Box<dyn serialport::SerialPort>> {
    serialport::new(path, c.baud)
        .data_bits(match c.data_bits {
            5 => serialport::DataBits::Five,
            6 => serialport::DataBits::Six,
            7 => serialport::DataBits::Seven,
            _ => serialport::DataBits::Eight,
        })
        .parity(match c.parity {
            Parity::None => serialport::Parity::None,
            Parity::Odd => serialport::Parity::Odd,
            Parity::Even => serialport::Parity::Even,
        })
        .stop_bits(if c.stop_bits == 2 { serialport::StopBits::Two } else { serialport::StopBits::One })
        .flow_control(match c.flow_control {
            FlowControl::None => serialport::FlowControl::None,
            FlowControl::XonXoff => serialport::FlowControl::Software,
            FlowControl::RtsCts => serialport::FlowControl::Hardware,
        })
        .timeout(c.write_timeout)
        .open()
        .map_err(std::io::Error::from)
}

fn open_device(path: &Path) -> std::io::Result<DeviceLink> {
    let f = OpenOptions::new().read(true).write(true).custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32).open(path)?;
    Ok(DeviceLink(f))
}
