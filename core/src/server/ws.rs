//! Event streams over WebSocket: a snapshot (or an exact replay after `?since=`), then every
//! event as it is committed. A subscriber that falls [`SUBSCRIBER_BACKLOG`] events behind, or
//! whose socket does not take a message within [`SEND_TIMEOUT`], is dropped; it reconnects with
//! `?since=` and resyncs. Memory per subscriber is therefore bounded.
//!
//! [`SUBSCRIBER_BACKLOG`]: crate::engine::SUBSCRIBER_BACKLOG

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use qcall_wire::{self as wire, ErrorCode};
use tokio::sync::broadcast::error::RecvError;

use super::api::hall_ix;
use super::{AppError, AppState};
use crate::engine::Broadcast;
use crate::view;

pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest message a subscriber may send.
pub const MAX_INCOMING: usize = 4 * 1024;
const PING_EVERY: Duration = Duration::from_secs(15);

type Upgrade = Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>;

pub async fn all_events(State(s): State<AppState>, q: Result<Query<wire::StreamQuery>, axum::extract::rejection::QueryRejection>, ws: Upgrade) -> Response {
    upgrade(s, None, q, ws)
}

pub async fn hall_events(
    State(s): State<AppState>,
    Path(hall): Path<String>,
    q: Result<Query<wire::StreamQuery>, axum::extract::rejection::QueryRejection>,
    ws: Upgrade,
) -> Response {
    match hall_ix(&s, &hall) {
        Ok(h) => upgrade(s, Some(h), q, ws),
        Err(e) => e.into_response(),
    }
}

fn upgrade(s: AppState, hall: Option<usize>, q: Result<Query<wire::StreamQuery>, axum::extract::rejection::QueryRejection>, ws: Upgrade) -> Response {
    let Ok(Query(q)) = q else {
        return AppError::new(ErrorCode::BadQuery, "the only parameter is since=<seq>").into_response();
    };
    let Ok(permit) = s.streams.clone().try_acquire_owned() else {
        return AppError::new(ErrorCode::ServerBusy, "too many event streams open; try again later").retry_after(5).into_response();
    };
    let Ok(ws) = ws else {
        return AppError::new(ErrorCode::WebsocketRequired, "this endpoint is a WebSocket; connect with an upgrade request")
            .into_response();
    };
    // Clients only ever ping: anything bigger than a few KiB is refused (close 1009).
    ws.max_message_size(MAX_INCOMING).max_frame_size(MAX_INCOMING).on_upgrade(move |socket| async move {
        stream(s, hall, q.since, socket).await;
        drop(permit);
    })
}

async fn stream(s: AppState, hall: Option<usize>, since: Option<u64>, socket: WebSocket) {
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
                .then(|| core.ring.iter().filter(|b| b.seq > since && b.concerns(hall)).map(|b| b.json.clone()).collect())
        });
        let first = replay.unwrap_or_else(|| {
            let halls = match hall {
                Some(h) => vec![view::hall(&core, h, s.clock.now())],
                None => view::halls(&core, s.clock.now()),
            };
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
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(b) => {
                    if !b.concerns(hall) {
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
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if send(&mut tx, Message::Ping(Default::default())).await.is_err() {
                    return;
                }
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
