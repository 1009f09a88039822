//! The link to the server: a worker thread with its own tokio runtime follows the hall's event
//! stream over WebSocket, reconnects with backoff and resumes with `?since=SEQ`. It feeds the
//! controller's closed [`Input`] enum through a callback.

use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use qcall_wire::StreamMessage;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use crate::controller::Input;

/// Exponential backoff: `initial`, doubling up to `max`; `reset` after a good connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max, next: initial }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let w = self.next;
        self.next = (self.next * 2).min(self.max);
        w
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// The event stream's URL: `http://h:p` + hall (+ since) -> `ws://h:p/api/v1/halls/{hall}/events?since=N`.
pub fn events_url(server: &str, hall: &str, since: Option<u64>) -> String {
    let base = server.trim_end_matches('/');
    let ws = match base.strip_prefix("http://") {
        Some(rest) => format!("ws://{rest}"),
        None => match base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => base.to_string(),
        },
    };
    match since {
        Some(s) => format!("{ws}/api/v1/halls/{hall}/events?since={s}"),
        None => format!("{ws}/api/v1/halls/{hall}/events"),
    }
}

#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub server: String,
    pub hall: String,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A ping is sent after this long without a message; the link is dropped after twice that.
    pub keepalive: Duration,
    /// Resume after this `seq` on the first connection (later ones resume after the last seen).
    pub since: Option<u64>,
}

/// Handle to the network worker; dropping it stops the worker.
pub struct NetWorker {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl NetWorker {
    /// Starts following the hall's events; every [`Input`] goes to `sink`, in order.
    pub fn spawn(settings: LinkSettings, sink: impl Fn(Input) + Send + 'static) -> NetWorker {
        let (stop, stop_rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("qcall-net".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
                rt.block_on(follow(settings, sink, stop_rx));
            })
            .expect("spawn network thread");
        NetWorker { stop, thread: Some(thread) }
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

async fn follow(settings: LinkSettings, sink: impl Fn(Input), mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(settings.backoff_initial, settings.backoff_max);
    let mut last_seq: Option<u64> = settings.since;
    loop {
        let url = events_url(&settings.server, &settings.hall, last_seq);
        debug!(%url, "connecting");
        let connect = tokio::select! {
            r = tokio_tungstenite::connect_async(url.as_str()) => r,
            _ = stop.changed() => return,
        };
        match connect {
            Ok((ws, _)) => {
                info!(%url, "event stream connected");
                backoff.reset();
                sink(Input::Connected);
                let reason = match read(ws, &settings, &sink, &mut last_seq, &mut stop).await {
                    Some(reason) => reason,
                    None => return,
                };
                warn!(%reason, "event stream lost");
                sink(Input::Disconnected { reason });
            }
            Err(e) => {
                debug!(error = %e, "connect failed");
                sink(Input::Disconnected { reason: e.to_string() });
            }
        }
        let wait = backoff.next_wait();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Reads until the link drops (returns why) or the worker is stopped (returns `None`).
async fn read<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    settings: &LinkSettings,
    sink: &impl Fn(Input),
    last_seq: &mut Option<u64>,
    stop: &mut watch::Receiver<bool>,
) -> Option<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let mut pinged = false;
    loop {
        let msg = tokio::select! {
            m = tokio::time::timeout(settings.keepalive, rx.next()) => m,
            _ = stop.changed() => {
                let _ = tx.send(Message::Close(None)).await;
                return None;
            }
        };
        let msg = match msg {
            Err(_elapsed) if !pinged => {
                pinged = true;
                if let Err(e) = tx.send(Message::Ping(Vec::new().into())).await {
                    return Some(e.to_string());
                }
                continue;
            }
            Err(_elapsed) => return Some("no answer to ping".into()),
            Ok(None) => return Some("closed".into()),
            Ok(Some(Err(e))) => return Some(e.to_string()),
            Ok(Some(Ok(m))) => m,
        };
        pinged = false;
        match msg {
            Message::Text(text) => match serde_json::from_str::<StreamMessage>(text.as_str()) {
                Ok(m) => {
                    *last_seq = Some(last_seq.map_or(m.seq, |s| s.max(m.seq)));
                    sink(Input::Message(Box::new(m)));
                }
                Err(e) => warn!(error = %e, "unreadable stream message skipped"),
            },
            Message::Close(frame) => return Some(format!("closed by server: {frame:?}")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(3));
        let waits: Vec<u64> = (0..6).map(|_| b.next_wait().as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 3000, 3000, 3000]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_millis(500));
    }

    #[test]
    fn events_url_resumes_with_since() {
        assert_eq!(events_url("http://127.0.0.1:8080/", "east", None), "ws://127.0.0.1:8080/api/v1/halls/east/events");
        assert_eq!(
            events_url("http://127.0.0.1:8080", "west", Some(42)),
            "ws://127.0.0.1:8080/api/v1/halls/west/events?since=42"
        );
    }
}
