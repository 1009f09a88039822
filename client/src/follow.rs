//! An event stream that stays up.
//!
//! [`Client::follow`] connects, hands on the snapshot and every event, and when the link drops
//! reconnects after an exponential backoff with jitter, resuming with `?since=` the last `seq`
//! it handed on. The server then replays exactly the missed events, or sends a fresh snapshot
//! when it no longer has them. Duplicates (`seq` not above the last one) are dropped. On the
//! all-halls stream, whose `seq`s have no gaps, a gap means something was lost: the follower
//! reconnects with `?since=` to fill it. (A hall's stream skips other halls' `seq`s by design.)
//!
//! Besides the messages, the follower reports its link: [`LinkState::Up`] when connected,
//! [`LinkState::Down`] with the reason when a connection attempt failed or the link dropped.

use std::time::Duration;

use qcall_wire::{EventScope, StreamMessage};
use rand::Rng;
use tokio::sync::mpsc;

use crate::events::{EventStream, Frame};
use crate::Client;

/// Reconnect waits: `initial`, doubling up to `max`, each shortened by up to `jitter` (0..1)
/// of itself at random so that many devices do not reconnect in step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffSettings {
    pub initial: Duration,
    pub max: Duration,
    pub jitter: f64,
}

impl Default for BackoffSettings {
    fn default() -> Self {
        BackoffSettings { initial: Duration::from_millis(500), max: Duration::from_secs(10), jitter: 0.2 }
    }
}

#[derive(Debug, Clone)]
pub struct Backoff {
    settings: BackoffSettings,
    next: Duration,
}

impl Backoff {
    pub fn new(settings: BackoffSettings) -> Backoff {
        Backoff { settings, next: settings.initial }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.settings.max);
        let jitter = self.settings.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return base;
        }
        let cut = rand::thread_rng().gen_range(0.0..jitter);
        base.mul_f64(1.0 - cut)
    }

    pub fn reset(&mut self) {
        self.next = self.settings.initial;
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FollowSettings {
    pub backoff: BackoffSettings,
    /// A ping is sent after this long without a frame; the link is given up after twice that.
    pub keepalive: Duration,
}

impl Default for FollowSettings {
    fn default() -> Self {
        FollowSettings { backoff: BackoffSettings::default(), keepalive: Duration::from_secs(15) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Up,
    Down { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum FollowEvent {
    Link(LinkState),
    Message(Box<StreamMessage>),
}

/// A running follower; dropping it stops it.
pub struct Follower {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Follows a stream on the current tokio runtime; events arrive on the receiver, in order.
    /// `since`: resume after this `seq` on the first connection.
    pub fn follow(
        &self,
        scope: EventScope,
        since: Option<u64>,
        settings: FollowSettings,
    ) -> (Follower, mpsc::UnboundedReceiver<FollowEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = self.clone();
        let task = tokio::spawn(async move {
            client
                .follow_with(scope, since, settings, move |e| {
                    let _ = tx.send(e);
                })
                .await
        });
        (Follower { task }, rx)
    }

    /// Follows a stream forever, handing every event to `sink`.
    pub async fn follow_with(&self, scope: EventScope, since: Option<u64>, settings: FollowSettings, mut sink: impl FnMut(FollowEvent)) {
        let mut backoff = Backoff::new(settings.backoff);
        let mut last = since;
        loop {
            let url = self.events_url(&scope, last);
            match self.connect_ws(&url).await {
                Ok(stream) => {
                    tracing::info!(%url, "event stream connected");
                    sink(FollowEvent::Link(LinkState::Up));
                    let (reason, got_any) = read(stream, &scope, &settings, &mut last, &mut sink).await;
                    tracing::warn!(%reason, "event stream lost");
                    if got_any {
                        backoff.reset();
                    }
                    sink(FollowEvent::Link(LinkState::Down { reason }));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "event stream: connect failed");
                    sink(FollowEvent::Link(LinkState::Down { reason: e.to_string() }));
                }
            }
            tokio::time::sleep(backoff.next_wait()).await;
        }
    }
}

/// What to do with a message, given the last `seq` handed on.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Deliver,
    Duplicate,
    /// `seq`s between were lost (all-halls stream only).
    Gap,
}

fn judge(scope: &EventScope, last: Option<u64>, m: &StreamMessage) -> Verdict {
    if m.is_snapshot() {
        return Verdict::Deliver;
    }
    match last {
        Some(l) if m.seq <= l => Verdict::Duplicate,
        Some(l) if *scope == EventScope::All && m.seq > l + 1 => Verdict::Gap,
        _ => Verdict::Deliver,
    }
}

/// Reads until the link drops; returns why, and whether anything arrived.
async fn read(
    mut stream: EventStream,
    scope: &EventScope,
    settings: &FollowSettings,
    last: &mut Option<u64>,
    sink: &mut impl FnMut(FollowEvent),
) -> (String, bool) {
    let mut pinged = false;
    let mut got_any = false;
    loop {
        let frame = match tokio::time::timeout(settings.keepalive, stream.next_frame()).await {
            Err(_) if !pinged => {
                pinged = true;
                if let Err(e) = stream.ping().await {
                    return (e.to_string(), got_any);
                }
                continue;
            }
            Err(_) => return ("no answer to ping".into(), got_any),
            Ok(None) => return ("closed".into(), got_any),
            Ok(Some(Err(e))) => return (e.to_string(), got_any),
            Ok(Some(Ok(f))) => f,
        };
        pinged = false;
        match frame {
            Frame::Message(m) => {
                got_any = true;
                match judge(scope, *last, &m) {
                    Verdict::Deliver => {
                        *last = Some(m.seq);
                        sink(FollowEvent::Message(m));
                    }
                    Verdict::Duplicate => tracing::debug!(seq = m.seq, "duplicate event skipped"),
                    Verdict::Gap => {
                        let reason = format!("gap after seq {}: got {}; resyncing", last.unwrap_or(0), m.seq);
                        stream.close().await;
                        return (reason, got_any);
                    }
                }
            }
            Frame::Close(f) => return (format!("closed by the server: {f:?}"), got_any),
            Frame::Unreadable(_) | Frame::Control => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qcall_wire::EventKind;

    #[test]
    fn backoff_doubles_to_the_ceiling_with_bounded_jitter_and_resets() {
        let s = BackoffSettings { initial: Duration::from_millis(500), max: Duration::from_secs(3), jitter: 0.0 };
        let mut b = Backoff::new(s);
        let waits: Vec<u64> = (0..6).map(|_| b.next_wait().as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 3000, 3000, 3000]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_millis(500));

        let mut b = Backoff::new(BackoffSettings { jitter: 0.25, ..s });
        for base in [500u64, 1000, 2000, 3000, 3000] {
            let w = b.next_wait().as_millis() as u64;
            assert!(w <= base && w >= base * 3 / 4, "{w} for {base}");
        }
    }

    fn msg(seq: u64, snapshot: bool) -> StreamMessage {
        StreamMessage {
            seq,
            at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            hall: None,
            kind: if snapshot {
                EventKind::Snapshot { halls: vec![] }
            } else {
                EventKind::PublicityUpdated { messages: vec![] }
            },
            queues: vec![],
        }
    }

    #[test]
    fn duplicates_are_dropped_and_gaps_on_the_all_halls_stream_resync() {
        let all = EventScope::All;
        let hall = EventScope::Hall("east".into());
        assert_eq!(judge(&all, None, &msg(7, false)), Verdict::Deliver);
        assert_eq!(judge(&all, Some(7), &msg(8, false)), Verdict::Deliver);
        assert_eq!(judge(&all, Some(7), &msg(7, false)), Verdict::Duplicate);
        assert_eq!(judge(&all, Some(7), &msg(3, false)), Verdict::Duplicate);
        assert_eq!(judge(&all, Some(7), &msg(9, false)), Verdict::Gap);
        assert_eq!(judge(&hall, Some(7), &msg(9, false)), Verdict::Deliver, "a hall's stream skips other halls");
        assert_eq!(judge(&all, Some(7), &msg(2, true)), Verdict::Deliver, "a snapshot always resets");
    }
}
