//! The printer port: a small trait with two implementations, a serial port and `file:PATH`.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::{FlowControl, Parity, PrinterConfig, PrinterTarget};
use crate::escpos::{parse_status, status_request, PrinterFault, PrinterHealth, STATUS_QUERIES};

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
        PrinterTarget::Serial(_) => Ok(Box::new(SerialPrinter::open(cfg)?)),
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

/// An ESC/POS printer on a serial port (or a pseudo-terminal standing in for one).
///
/// The port is opened lazily and reopened after an error, so a printer that was unplugged
/// and plugged back in recovers by itself.
pub struct SerialPrinter {
    cfg: PrinterConfig,
    path: String,
    port: Option<Box<dyn serialport::SerialPort>>,
}

impl SerialPrinter {
    pub fn open(cfg: &PrinterConfig) -> Result<Self, PrinterFault> {
        let PrinterTarget::Serial(path) = &cfg.target else {
            return Err(PrinterFault::Port("not a serial printer".into()));
        };
        let mut p = SerialPrinter { cfg: cfg.clone(), path: path.clone(), port: None };
        // A missing port is a fault shown on screen, not a reason to refuse to start.
        let _ = p.port();
        Ok(p)
    }

    fn port(&mut self) -> Result<&mut Box<dyn serialport::SerialPort>, PrinterFault> {
        if self.port.is_none() {
            let c = &self.cfg;
            let port = serialport::new(&self.path, c.baud)
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
                .map_err(|e| PrinterFault::Port(format!("{}: {e}", self.path)))?;
            tracing::info!(path = %self.path, baud = c.baud, "printer port open");
            self.port = Some(port);
        }
        Ok(self.port.as_mut().expect("just opened"))
    }

    fn query(&mut self, n: u8) -> Result<Option<u8>, PrinterFault> {
        let timeout = self.cfg.status_timeout;
        let path = self.path.clone();
        let port = self.port()?;
        let _ = port.clear(serialport::ClearBuffer::Input);
        port.write_all(&status_request(n)).map_err(|e| PrinterFault::Port(format!("{path}: {e}")))?;
        port.set_timeout(timeout).map_err(|e| PrinterFault::Port(format!("{path}: {e}")))?;
        let deadline = Instant::now() + timeout;
        let mut b = [0u8; 1];
        let result = loop {
            match port.read(&mut b) {
                // XON/XOFF never look like status bytes (bits 1 and 4 are always set in status).
                Ok(1) if b[0] == 0x11 || b[0] == 0x13 => {}
                Ok(1) => break Ok(Some(b[0])),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(PrinterFault::Port(format!("{path}: {e}"))),
            }
            if Instant::now() >= deadline {
                break Ok(None);
            }
        };
        let write_timeout = self.cfg.write_timeout;
        if let Some(p) = self.port.as_mut() {
            let _ = p.set_timeout(write_timeout);
        }
        result
    }
}

impl PrinterPort for SerialPrinter {
    fn status(&mut self) -> Result<PrinterHealth, PrinterFault> {
        let mut health = PrinterHealth::default();
        for n in STATUS_QUERIES {
            match self.query(n) {
                Ok(Some(byte)) => {
                    let h = parse_status(n, byte)?;
                    health.paper_near_end |= h.paper_near_end;
                }
                Ok(None) => return Err(PrinterFault::NoReply),
                Err(e) => {
                    self.port = None;
                    return Err(e);
                }
            }
        }
        Ok(health)
    }

    fn write_ticket(&mut self, bytes: &[u8]) -> Result<(), PrinterFault> {
        let path = self.path.clone();
        let timeout = self.cfg.write_timeout;
        let port = self.port()?;
        let r = write_with_deadline(port.as_mut(), bytes, timeout).map_err(|e| PrinterFault::Port(format!("{path}: {e}")));
        if r.is_err() {
            self.port = None;
        }
        r
    }

    fn describe(&self) -> String {
        format!("serial:{} {} baud", self.path, self.cfg.baud)
    }
}

/// Writes everything or gives up after `timeout` in total (a stuck port, e.g. flow control held).
fn write_with_deadline(port: &mut dyn serialport::SerialPort, mut bytes: &[u8], timeout: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + timeout;
    while !bytes.is_empty() {
        match port.write(bytes) {
            Ok(0) => return Err(std::io::Error::new(std::io::ErrorKind::WriteZero, "printer accepted no bytes")),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out (printer not taking data)"));
            }
            Err(e) => return Err(e),
        }
        if Instant::now() > deadline && !bytes.is_empty() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out (printer not taking data)"));
        }
    }
    // No tcdrain here: with flow control held it could block without limit.
    Ok(())
}
