//! Event streams over WebSocket: a snapshot (or an exact replay after `?since=`), then every
//! event as it is committed. A subscriber that falls [`SUBSCRIBER_BACKLOG`] events behind, or
//! whose socket does not take a message within [`SEND_TIMEOUT`], is dropped; it reconnects with
//! `?since=` and resyncs. Memory per subscriber is therefore bounded.
//!
//! Who may hold a stream, and what it carries:
//! - devices and signed-in staff authenticate (`Authorization: Bearer`, or the token offered as
//!   the subprotocol `qcall.bearer.<token>` beside `qcall`, which is all a browser can send) and
//!   hold permits of their own: strangers cannot crowd a hall TV out;
//! - anonymous streams (phones on `/book` and `/t`) take at most `public_stream_share` of
//!   the pool and `public_streams_per_address` per client address (an IPv6 /64), and see only
//!   what a hall's public screens show: no ratings, alerts or device reports (and only one
//!   hall's stream, whose `seq`s skip by design: the all-halls stream is for staff);
//! - a socket that answers none of two pings in a row is closed;
//! - a full pool is logged with the address turned away and raises the `streams_full` alert.
//!
//! [`SUBSCRIBER_BACKLOG`]: crate::engine::SUBSCRIBER_BACKLOG

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use qcall_wire::{self as wire, ErrorCode};
use tokio::sync::broadcast::error::RecvError;

use super::extract::hall_ix;
use super::{AppError, AppState, ClientAddr, MaybeCaller};
use crate::auth::Principal;
use crate::engine::Broadcast;
use crate::view;

pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest message a subscriber may send.
pub const MAX_INCOMING: usize = 4 * 1024;
/// Pings a socket may leave unanswered in a row; at the next it is closed.
const MISSED_PINGS: u32 = 2;

type Upgrade = Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>;
type StreamQuery = Result<Query<wire::StreamQuery>, axum::extract::rejection::QueryRejection>;

/// Who a stream is for, and so what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anonymous: what a hall's public screens show.
    Public,
    /// A device or a signed-in person: everything (the all-halls stream is exact, with no
    /// gaps in `seq`, only for them).
    Staff,
}

impl Audience {
    fn of(who: Option<&Principal>) -> Audience {
        if who.is_some() {
            Audience::Staff
        } else {
            Audience::Public
        }
    }

    /// May this audience see an event of this kind?
    pub fn sees(self, kind: &wire::EventKind) -> bool {
        use wire::EventKind as K;
        match kind {
            K::AlertRaised { .. }
            | K::AlertCleared { .. }
            | K::AlertAcknowledged { .. }
            | K::TicketRated { .. }
            | K::DeviceStatusChanged { .. }
            | K::BookingSettled { .. } => {
                self == Audience::Staff
            }
            _ => true,
        }
    }
}

/// The event-stream permits: staff's and the public's, and the public's per address.
pub struct Streams {
    staff: Arc<tokio::sync::Semaphore>,
    public: Arc<tokio::sync::Semaphore>,
    per_address: parking_lot::Mutex<HashMap<IpAddr, u32>>,
    per_address_max: u32,
}

/// A held stream permit; dropping it frees the place.
pub struct Permit {
    _permit: tokio::sync::OwnedSemaphorePermit,
    address: Option<(Arc<Streams>, IpAddr)>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some((streams, a)) = self.address.take() {
            let mut m = streams.per_address.lock();
            if let Some(n) = m.get_mut(&a) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&a);
                }
            }
        }
    }
}

/// Why a stream was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    PoolFull,
    AddressFull,
}

impl Streams {
    /// `total` streams, of which anonymous ones take at most `public`, and `per_address` from
    /// one client address.
    pub fn new(total: usize, public: usize, per_address: u32) -> Arc<Streams> {
        Arc::new(Streams {
            staff: Arc::new(tokio::sync::Semaphore::new(total.saturating_sub(public).max(1))),
            public: Arc::new(tokio::sync::Semaphore::new(public.max(1))),
            per_address: parking_lot::Mutex::new(HashMap::new()),
            per_address_max: per_address,
        })
    }

    pub fn acquire(self: &Arc<Self>, audience: Audience, addr: Option<IpAddr>) -> Result<Permit, Refused> {
        if audience != Audience::Public {
            let p = self.staff.clone().try_acquire_owned().map_err(|_| Refused::PoolFull)?;
            return Ok(Permit { _permit: p, address: None });
        }
        let key = addr.map(crate::net::limit_key);
        let mut m = self.per_address.lock();
        if let Some(k) = key {
            if m.get(&k).copied().unwrap_or(0) >= self.per_address_max {
                return Err(Refused::AddressFull);
            }
        }
        let p = self.public.clone().try_acquire_owned().map_err(|_| Refused::PoolFull)?;
        if let Some(k) = key {
            *m.entry(k).or_default() += 1;
        }
        Ok(Permit { _permit: p, address: key.map(|k| (self.clone(), k)) })
    }
}

/// `/api/v1/events`: every hall's events, for devices and staff only.
pub async fn all_events(State(s): State<AppState>, ClientAddr(addr): ClientAddr, MaybeCaller(who): MaybeCaller, q: StreamQuery, ws: Upgrade) -> Response {
    if who.is_none() {
        return AppError::unauthorized().into_response();
    }
    upgrade(s, None, Audience::of(who.as_ref()), addr, q, ws)
}

/// `/api/v1/halls/{hall}/events`: one hall's, for anyone (anonymous: what its screens show).
pub async fn hall_events(
    State(s): State<AppState>,
    Path(hall): Path<String>,
    ClientAddr(addr): ClientAddr,
    MaybeCaller(who): MaybeCaller,
    q: StreamQuery,
    ws: Upgrade,
) -> Response {
    match hall_ix(&s, &hall) {
        Ok(h) => upgrade(s, Some(h), Audience::of(who.as_ref()), addr, q, ws),
        Err(e) => e.into_response(),
    }
}

/// A refusal that also ends the connection: a turned-away client holds no socket.
fn refuse(e: AppError) -> Response {
    let mut r = e.into_response();
    r.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    r
}

fn upgrade(s: AppState, hall: Option<usize>, audience: Audience, addr: Option<IpAddr>, q: StreamQuery, ws: Upgrade) -> Response {
    let Ok(Query(q)) = q else {
        return AppError::new(ErrorCode::BadQuery, "the only parameter is since=<seq>").into_response();
    };
    let Ok(ws) = ws else {
        return AppError::new(ErrorCode::WebsocketRequired, "this endpoint is a WebSocket; connect with an upgrade request")
            .into_response();
    };
    let permit = match s.streams.acquire(audience, addr) {
        Ok(p) => p,
        Err(why) => {
            let client = addr.map_or_else(|| "-".to_string(), |a| a.to_string());
            return match why {
                Refused::AddressFull => {
                    tracing::warn!(%client, max = s.cfg.public_streams_per_address, "event stream refused: this address holds its most");
                    refuse(AppError::new(ErrorCode::ServerBusy, "too many event streams from this address").retry_after(30))
                }
                Refused::PoolFull => {
                    s.engine.shared.signals.streams_full_at.store(s.clock.now(), std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(%client, ?audience, "event streams full: a stream was refused");
                    refuse(AppError::new(ErrorCode::ServerBusy, "too many event streams open; try again later").retry_after(5))
                }
            };
        }
    };
    // Clients only ever ping: anything bigger than a few KiB is refused (close 1009). A
    // browser that offered its token as a subprotocol gets `qcall` back.
    ws.protocols(["qcall"]).max_message_size(MAX_INCOMING).max_frame_size(MAX_INCOMING).on_upgrade(move |socket| async move {
        stream(s, hall, audience, q.since, socket).await;
        drop(permit);
    })
}

async fn stream(s: AppState, hall: Option<usize>, audience: Audience, since: Option<u64>, socket: WebSocket) {
    let span = tracing::debug_span!("events", hall = ?hall, since = ?since);
    let _e = span.enter();
    // Snapshot/replay and subscription under one read lock: the writer broadcasts under the
    // write lock, so nothing is missed and nothing comes twice.
    let (first, mut rx) = {
        let core = s.engine.shared.core.read().await;
        let rx = s.engine.shared.events.subscribe();
        let replay = since.and_then(|since| {
            if since == core.seq {
                return Some(vec![]);
            }
            let oldest = core.ring.front()?.seq;
            (since < core.seq && since + 1 >= oldest)
                .then(|| core.ring.iter().filter(|b| b.seq > since && b.concerns(hall) && audience.sees(&b.msg.kind)).map(|b| b.json.clone()).collect())
        });
        let first = replay.unwrap_or_else(|| {
            let mut halls = match hall {
                Some(h) => vec![core.hall_info(&s.cfg.public_base_url, h, s.clock.now())],
                None => core.halls_info(&s.cfg.public_base_url, s.clock.now()),
            };
            if audience == Audience::Public {
                halls = halls.into_iter().map(view::public_hall).collect();
            }
            let msg = wire::StreamMessage {
                seq: core.seq,
                at: view::time(s.clock.now()),
                hall: hall.map(|h| core.state.topology().halls[h].id.clone()),
                kind: wire::EventKind::Snapshot { halls },
                queues: vec![],
            };
            vec![serde_json::to_string(&msg).expect("wire types serialise")]
        });
        (first, rx)
    };
    drop(_e);
    let (mut tx, mut incoming) = socket.split();
    for text in first {
        if send(&mut tx, Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    let mut shutdown = s.shutdown.clone();
    let mut ping = tokio::time::interval(s.cfg.stream_ping);
    ping.tick().await;
    let mut unanswered = 0u32;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(b) => {
                    if !b.concerns(hall) || !audience.sees(&b.msg.kind) {
                        continue;
                    }
                    if send(&mut tx, text(&b)).await.is_err() {
                        s.engine.shared.dropped_subscribers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::info!("subscriber too slow; dropped");
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    s.engine.shared.dropped_subscribers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(missed = n, "subscriber fell behind; dropped to resync");
                    let _ = close(&mut tx, wire::CLOSE_LAGGED, "lagged: reconnect with ?since=").await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            msg = incoming.next() => match msg {
                Some(Ok(Message::Close(_))) | None => return,
                Some(Err(e)) => {
                    if too_big(e) {
                        tracing::warn!("a subscriber sent a message over {MAX_INCOMING} bytes; closed");
                        let _ = close(&mut tx, 1009, "message too big").await;
                    }
                    return;
                }
                // A pong, or anything: the other end is alive.
                Some(Ok(_)) => unanswered = 0,
            },
            _ = ping.tick() => {
                if unanswered >= MISSED_PINGS {
                    tracing::info!("subscriber answered no ping; closed");
                    let _ = close(&mut tx, 1001, "no answer to pings").await;
                    return;
                }
                if send(&mut tx, Message::Ping(Default::default())).await.is_err() {
                    return;
                }
                unanswered += 1;
            }
            _ = super::stopped(&mut shutdown) => {
                let _ = close(&mut tx, 1001, "server shutting down").await;
                return;
            }
        }
    }
}

fn text(b: &Arc<Broadcast>) -> Message {
    Message::Text(Utf8Bytes::from(b.json.as_str()))
}

async fn send<S>(tx: &mut S, msg: Message) -> Result<(), ()>
where
    S: futures_util::Sink<Message> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, tx.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn close<S>(tx: &mut S, code: u16, reason: &'static str) -> Result<(), ()>
where
    S: futures_util::Sink<Message> + Unpin,
{
    send(tx, Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await
}

/// The read failed because a message was over [`MAX_INCOMING`].
fn too_big(e: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    matches!(e.into_inner().downcast_ref::<Error>(), Some(Error::Capacity(CapacityError::MessageTooLong { .. })))
}
