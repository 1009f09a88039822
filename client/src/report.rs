//! A device's status, reported until the server has it.
//!
//! The device says what its status is now ([`Reporter::report`]); the reporter sends it, one
//! report at a time and in order (a late "ok" never overtakes the "paper end" that followed
//! it), retries with backoff as long as it takes, and sends the current status again after
//! every reconnect of the device's event stream ([`Reporter::reconnected`]): the server may have
//! restarted from a backup, or the last report may have been lost with the link.

use qcall_wire::DeviceStatusReport;
use tokio::sync::mpsc;

use crate::follow::{Backoff, BackoffSettings};
use crate::Client;

enum Msg {
    Set(DeviceStatusReport),
    Reconnected,
}

/// Handle to the reporting task; dropping it stops the task.
pub struct Reporter {
    tx: mpsc::UnboundedSender<Msg>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Reporter {
    /// Starts reporting as `device` (the client carries the device's token) on the current
    /// tokio runtime. Nothing is sent until the first [`Reporter::report`].
    pub fn spawn(client: Client, device: String, backoff: BackoffSettings) -> Reporter {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(client, device, backoff, rx));
        Reporter { tx, task }
    }

    /// The device's status now. Repeating an unchanged status sends nothing.
    pub fn report(&self, report: DeviceStatusReport) {
        let _ = self.tx.send(Msg::Set(report));
    }

    /// The device's link to the server is back: send the status again.
    pub fn reconnected(&self) {
        let _ = self.tx.send(Msg::Reconnected);
    }

    /// A handle that can be used from any thread.
    pub fn handle(&self) -> ReporterHandle {
        ReporterHandle { tx: self.tx.clone() }
    }
}

/// A [`Reporter`]'s input, usable from any thread (it does not keep the task alive).
#[derive(Clone)]
pub struct ReporterHandle {
    tx: mpsc::UnboundedSender<Msg>,
}

impl ReporterHandle {
    pub fn report(&self, report: DeviceStatusReport) {
        let _ = self.tx.send(Msg::Set(report));
    }
    pub fn reconnected(&self) {
        let _ = self.tx.send(Msg::Reconnected);
    }
}

struct Pending {
    want: Option<DeviceStatusReport>,
    sent: bool,
}

impl Pending {
    fn take(&mut self, msg: Msg, backoff: &mut Backoff) {
        match msg {
            Msg::Set(r) => {
                if self.want.as_ref() != Some(&r) {
                    self.want = Some(r);
                    self.sent = false;
                    backoff.reset();
                }
            }
            Msg::Reconnected => {
                self.sent = false;
                backoff.reset();
            }
        }
    }
}

async fn run(client: Client, device: String, settings: BackoffSettings, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut backoff = Backoff::new(settings);
    let mut p = Pending { want: None, sent: true };
    loop {
        if let (Some(report), false) = (p.want.clone(), p.sent) {
            match client.report_device(&device, &report).await {
                Ok(()) => {
                    tracing::debug!(%device, ok = report.ok, code = %report.code, "device status reported");
                    p.sent = true;
                    backoff.reset();
                }
                Err(e) => {
                    let wait = backoff.next_wait();
                    tracing::warn!(%device, error = %e, retry_in_ms = wait.as_millis() as u64, "device status not reported");
                    tokio::select! {
                        msg = rx.recv() => match msg {
                            Some(m) => p.take(m, &mut backoff),
                            None => return,
                        },
                        _ = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
            }
        }
        // Sent: the same status again every HEARTBEAT, so the server sees the device alive.
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => p.take(m, &mut backoff),
                None => return,
            },
            _ = tokio::time::sleep(HEARTBEAT) => {
                if p.want.is_some() {
                    p.sent = false;
                }
            }
        }
    }
}

/// How often a device's status is sent again while nothing changes: the server calls a device
/// offline after `[alerts] device_offline_s` (60) without one.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(20);
