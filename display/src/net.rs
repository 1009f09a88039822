//! The link to the server: a worker thread with its own tokio runtime follows the hall's event
//! stream through `qcall-client` (reconnects with backoff and jitter, resumes with
//! `?since=SEQ`) and feeds the controller's closed [`Input`] enum through a callback. When the
//! display is a configured device, the same thread reports its status (audio) to the server,
//! again after every reconnect.

use std::thread::JoinHandle;

use qcall_client::{Client, ClientOptions, FollowEvent, FollowSettings, LinkState, Reporter};
use qcall_wire::{DeviceStatusReport, EventScope};
use tokio::sync::{mpsc, watch};
use tracing::error;

use crate::controller::Input;

#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub server: String,
    pub hall: String,
    pub client: ClientOptions,
    pub follow: FollowSettings,
    /// Resume after this `seq` on the first connection (later ones resume after the last seen).
    pub since: Option<u64>,
    /// This display as a device the server knows (id, token): its status is reported.
    pub device: Option<(String, String)>,
}

/// Handle to the network worker; dropping it stops the worker.
pub struct NetWorker {
    stop: watch::Sender<bool>,
    reports: mpsc::UnboundedSender<DeviceStatusReport>,
    thread: Option<JoinHandle<()>>,
}

/// Hands status reports to the network worker from any thread.
#[derive(Clone)]
pub struct DeviceReporter(mpsc::UnboundedSender<DeviceStatusReport>);

impl DeviceReporter {
    pub fn report(&self, r: DeviceStatusReport) {
        let _ = self.0.send(r);
    }
}

impl NetWorker {
    /// Starts following the hall's events; every [`Input`] goes to `sink`, in order.
    pub fn spawn(settings: LinkSettings, sink: impl Fn(Input) + Send + 'static) -> NetWorker {
        let (stop, stop_rx) = watch::channel(false);
        let (reports, reports_rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("qcall-net".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
                rt.block_on(run(settings, sink, stop_rx, reports_rx));
            })
            .expect("spawn network thread");
        NetWorker { stop, reports, thread: Some(thread) }
    }

    /// Reports this display's status to the server (when it is a configured device).
    pub fn reporter(&self) -> DeviceReporter {
        DeviceReporter(self.reports.clone())
    }
}

impl Drop for NetWorker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn run(
    settings: LinkSettings,
    sink: impl Fn(Input),
    mut stop: watch::Receiver<bool>,
    mut reports: mpsc::UnboundedReceiver<DeviceStatusReport>,
) {
    let client = match Client::new(&settings.server, &settings.client) {
        Ok(c) => c,
        Err(e) => {
            error!(error = %e, "cannot reach the server");
            sink(Input::Disconnected { reason: e.to_string() });
            return;
        }
    };
    let reporter = settings
        .device
        .as_ref()
        .map(|(id, token)| Reporter::spawn(client.with_token(token), id.clone(), settings.follow.backoff));
    let (_follower, mut events) = client.follow(EventScope::Hall(settings.hall.clone()), settings.since, settings.follow);
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Some(FollowEvent::Link(LinkState::Up)) => {
                    if let Some(r) = &reporter {
                        r.reconnected();
                    }
                    sink(Input::Connected);
                }
                Some(FollowEvent::Link(LinkState::Down { reason })) => sink(Input::Disconnected { reason }),
                Some(FollowEvent::Message(m)) => sink(Input::Message(m)),
                None => return,
            },
            r = reports.recv() => match (r, &reporter) {
                (Some(r), Some(reporter)) => reporter.report(r),
                (Some(_), None) => {}
                (None, _) => {}
            },
            _ = stop.changed() => return,
        }
    }
}
