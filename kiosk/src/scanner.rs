//! The hall kiosk's 2D barcode scanner: a serial (or USB-CDC) device that sends what it read
//! followed by a carriage return. Every line read is handed to a callback (the worker makes it
//! an `Event::Scanned`); a booking confirmation's QR code holds its 8-digit code.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::ScannerConfig;

/// Stops the reader thread when dropped.
pub struct Scanner {
    stop: Arc<AtomicBool>,
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Splits what arrives into lines (CR, LF or both end one); empty lines are skipped.
#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = vec![];
        for &b in bytes {
            if b == b'\r' || b == b'\n' {
                if !self.buf.is_empty() {
                    out.push(String::from_utf8_lossy(&self.buf).trim().to_string());
                    self.buf.clear();
                }
            } else if self.buf.len() < 512 {
                self.buf.push(b);
            }
        }
        out.retain(|l| !l.is_empty());
        out
    }
}

/// Reads the scanner on a thread of its own, reopening the port after errors; `read` gets
/// every line.
pub fn spawn(cfg: ScannerConfig, read: impl Fn(String) + Send + 'static) -> Scanner {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let spawned = std::thread::Builder::new().name("kiosk-scanner".into()).spawn(move || {
        let mut warned = false;
        while !flag.load(Ordering::SeqCst) {
            let port = serialport::new(&cfg.port, cfg.baud).timeout(Duration::from_millis(200)).open();
            let mut port = match port {
                Ok(p) => {
                    tracing::info!(port = %cfg.port, "scanner ready");
                    warned = false;
                    p
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(port = %cfg.port, error = %e, "scanner not available; retrying");
                        warned = true;
                    }
                    std::thread::sleep(Duration::from_secs(2));
                    continue;
                }
            };
            let mut lines = Lines::default();
            let mut buf = [0u8; 256];
            while !flag.load(Ordering::SeqCst) {
                match port.read(&mut buf) {
                    Ok(0) => std::thread::sleep(Duration::from_millis(20)),
                    Ok(n) => {
                        for text in lines.push(&buf[..n]) {
                            tracing::info!(chars = text.len(), "scanned");
                            read(text);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(e) => {
                        tracing::warn!(port = %cfg.port, error = %e, "scanner read failed; reopening");
                        std::thread::sleep(Duration::from_millis(500));
                        break;
                    }
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the scanner thread");
    }
    Scanner { stop }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_with_cr_lf_or_both() {
        let mut l = Lines::default();
        assert!(l.push(b"1234").is_empty());
        assert_eq!(l.push(b"5678\r"), ["12345678"]);
        assert_eq!(l.push(b"\nabc\r\n\r\n11010519491231002X\n"), ["abc", "11010519491231002X"]);
    }
}
