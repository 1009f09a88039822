//! The server's HTTP API and event stream, as the kiosk uses them.

use std::time::Duration;

use futures_util::StreamExt;
use qcall_wire::{DeviceStatusReport, ErrorBody, HallsResponse, IssueRequest, StreamMessage, Ticket};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ApiError {
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("server answered {status} {code}: {message}")]
    Server { status: u16, code: String, message: String },
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Result<Api, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(8))
            .build()
            .map_err(|e| ApiError::Network(e.to_string()))?;
        Ok(Api { base: base.trim_end_matches('/').to_string(), token: token.to_string(), http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn decode<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, ApiError> {
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| ApiError::Network(e.to_string()))?;
        if status.is_success() {
            serde_json::from_slice(&body).map_err(|e| ApiError::Decode(e.to_string()))
        } else {
            match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(b) => Err(ApiError::Server { status: status.as_u16(), code: b.error.code, message: b.error.message }),
                Err(_) => Err(ApiError::Server {
                    status: status.as_u16(),
                    code: format!("http_{}", status.as_u16()),
                    message: String::from_utf8_lossy(&body).chars().take(200).collect(),
                }),
            }
        }
    }

    pub async fn halls(&self) -> Result<HallsResponse, ApiError> {
        let resp = self
            .http
            .get(format!("{}/api/v1/halls", self.base))
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        Self::decode(resp).await
    }

    /// One attempt to issue a ticket.
    pub async fn issue(&self, hall: &str, req: &IssueRequest) -> Result<Ticket, ApiError> {
        let resp = self
            .http
            .post(format!("{}/api/v1/halls/{}/tickets", self.base, hall))
            .bearer_auth(&self.token)
            .json(req)
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        Self::decode(resp).await
    }

    /// Issues a ticket, retrying network failures with the same request id (the server answers
    /// a repeated id with the ticket it already issued, never a second one).
    pub async fn issue_with_retry(&self, hall: &str, req: &IssueRequest, attempts: u32) -> Result<Ticket, ApiError> {
        let mut delay = Duration::from_millis(300);
        let mut last = ApiError::Network("no attempt".into());
        for attempt in 1..=attempts.max(1) {
            match self.issue(hall, req).await {
                Err(ApiError::Network(e)) => {
                    tracing::warn!(attempt, request_id = ?req.request_id, error = %e, "issue failed on the network; retrying");
                    last = ApiError::Network(e);
                    if attempt < attempts {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
                other => return other,
            }
        }
        Err(last)
    }

    pub async fn report_device(&self, device: &str, report: &DeviceStatusReport) -> Result<(), ApiError> {
        let resp = self
            .http
            .post(format!("{}/api/v1/devices/{}/status", self.base, device))
            .bearer_auth(&self.token)
            .json(report)
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        if resp.status().is_success() {
            // 204 No Content (or any body): accepted.
            return Ok(());
        }
        Self::decode::<serde_json::Value>(resp).await.map(|_| ())
    }

    /// WebSocket URL of the all-halls event stream.
    pub fn events_url(&self, since: Option<u64>) -> String {
        let ws = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        match since {
            Some(s) => format!("{ws}/api/v1/events?since={s}"),
            None => format!("{ws}/api/v1/events"),
        }
    }

    /// Follows the event stream until it ends; every message goes to `on_message`.
    /// Returns the last `seq` seen (for `?since=` on reconnect).
    pub async fn follow_events(
        &self,
        since: Option<u64>,
        mut on_message: impl FnMut(StreamMessage),
    ) -> Result<Option<u64>, ApiError> {
        let url = self.events_url(since);
        let (mut ws, _) = tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(url.as_str()))
            .await
            .map_err(|_| ApiError::Network(format!("{url}: connect timed out")))?
            .map_err(|e| ApiError::Network(format!("{url}: {e}")))?;
        let mut last = since;
        // A ping every 15 s; no message at all (a pong counts) for 45 s means the link is dead
        // even if TCP has not noticed.
        let mut ping = tokio::time::interval(Duration::from_secs(15));
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let idle = Duration::from_secs(45);
        let mut deadline = tokio::time::Instant::now() + idle;
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let msg = tokio::select! {
                _ = ping.tick() => {
                    ws.send(Message::Ping(Vec::new().into())).await.map_err(|e| ApiError::Network(e.to_string()))?;
                    continue;
                }
                _ = tokio::time::sleep_until(deadline) => return Err(ApiError::Network("event stream silent".into())),
                m = ws.next() => m,
            };
            deadline = tokio::time::Instant::now() + idle;
            match msg {
                None => return Ok(last),
                Some(Err(e)) => return Err(ApiError::Network(e.to_string())),
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<StreamMessage>(t.as_str()) {
                    Ok(m) => {
                        last = Some(m.seq);
                        on_message(m);
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable event ignored"),
                },
                Some(Ok(Message::Close(_))) => return Ok(last),
                Some(Ok(_)) => {}
            }
        }
    }
}
