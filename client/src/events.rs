//! One WebSocket connection to an event stream.

use futures_util::{SinkExt, StreamExt};
use qcall_wire::{EventScope, StreamMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{Client, ClientError, Result};

/// What arrived on a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Message(Box<StreamMessage>),
    /// A text frame that is not a stream message (skipped by followers).
    Unreadable(String),
    /// The server closed the stream, with its close code and reason.
    Close(Option<(u16, String)>),
    /// A ping, a pong or a binary frame.
    Control,
}

/// An open event stream: a snapshot (or the replay after `since`), then every event.
pub struct EventStream {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Opens one event stream, resuming after `since` when given.
    /// With several servers, a stream that cannot be opened moves this client on to the next
    /// one (its follower's next attempt goes there).
    pub async fn connect_events(&self, scope: &EventScope, since: Option<u64>) -> Result<EventStream> {
        let tried = self.base().to_string();
        let r = self.connect_ws(&self.events_url(scope, since)).await;
        if r.is_err() {
            self.next_server(&tried);
        }
        r
    }

    /// Opens a WebSocket to any `ws://`/`wss://` URL of this server (e.g. with a query the
    /// typed calls never send), with this client's token: a device or staff stream, with
    /// permits of its own and everything its caller may see.
    pub async fn connect_ws(&self, url: &str) -> Result<EventStream> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().map_err(|e| ClientError::BadUrl(format!("{url}: {e}")))?;
        if let Some(t) = self.token() {
            let v = format!("Bearer {t}").parse().map_err(|_| ClientError::BadUrl("the token is not a header value".into()))?;
            req.headers_mut().insert("authorization", v);
        }
        let connector = self.tls().map(tokio_tungstenite::Connector::Rustls);
        let connect = tokio_tungstenite::connect_async_tls_with_config(req, None, true, connector);
        let (ws, _) = tokio::time::timeout(self.connect_timeout(), connect)
            .await
            .map_err(|_| ClientError::Network(format!("{url}: connect timed out")))?
            .map_err(|e| ClientError::Network(format!("{url}: {e}")))?;
        Ok(EventStream { ws })
    }
}

impl EventStream {
    /// The next frame; `None` once the connection is gone.
    pub async fn next_frame(&mut self) -> Option<Result<Frame>> {
        let msg = match self.ws.next().await? {
            Ok(m) => m,
            Err(e) => return Some(Err(ClientError::Network(e.to_string()))),
        };
        Some(Ok(match msg {
            Message::Text(t) => match serde_json::from_str::<StreamMessage>(t.as_str()) {
                Ok(m) => Frame::Message(Box::new(m)),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable stream message");
                    Frame::Unreadable(t.to_string())
                }
            },
            Message::Close(f) => Frame::Close(f.map(|f| (u16::from(f.code), f.reason.to_string()))),
            _ => Frame::Control,
        }))
    }

    /// The next stream message, skipping control frames; `None` when the stream closed.
    pub async fn next_message(&mut self) -> Option<Result<StreamMessage>> {
        loop {
            match self.next_frame().await? {
                Ok(Frame::Message(m)) => return Some(Ok(*m)),
                Ok(Frame::Close(_)) => return None,
                Ok(Frame::Unreadable(_) | Frame::Control) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    pub async fn ping(&mut self) -> Result<()> {
        self.ws.send(Message::Ping(Vec::new().into())).await.map_err(|e| ClientError::Network(e.to_string()))
    }

    /// Sends a text frame (clients only ever ping; this is for tests of the server's limits).
    pub async fn send_text(&mut self, text: String) -> Result<()> {
        self.ws.send(Message::Text(text.into())).await.map_err(|e| ClientError::Network(e.to_string()))
    }

    /// Closes the stream politely.
    pub async fn close(mut self) {
        let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        let _ = self.ws.send(Message::Close(Some(frame))).await;
    }
}
