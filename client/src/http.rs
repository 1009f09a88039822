//! Typed calls for every endpoint of the HTTP API.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use qcall_wire as wire;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{ClientError, Result};

/// Connection settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Whole-request timeout; `None`: none.
    pub timeout: Option<Duration>,
    /// A PEM file with the certificate authority of an `https://` server (a bureau's own CA),
    /// trusted besides the system's.
    pub ca_file: Option<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions { connect_timeout: Duration::from_secs(3), timeout: Some(Duration::from_secs(8)), ca_file: None }
    }
}

/// The qcall API at one server, as one caller (a bearer token, or none).
///
/// Cheap to clone; clones share the connection pool. [`Client::with_token`] makes a caller
/// with another token on the same pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    token: Option<Arc<str>>,
}

struct Inner {
    /// `http(s)://host:port`, no trailing slash: one server, or the active one and its
    /// standbys (a bureau on PostgreSQL).
    bases: Vec<String>,
    /// Which of `bases` is the active one, as far as this client knows.
    current: std::sync::atomic::AtomicUsize,
    http: reqwest::Client,
    /// For `wss://` streams.
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
}

/// An answer read as it came, for callers that need the status and bytes themselves.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON; a body that is not JSON becomes a JSON string, an empty one `null`.
    pub fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|_| serde_json::Value::String(self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An error answer as the client reports it.
fn server_error(status: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<wire::ErrorBody>(body) {
        Ok(b) => ClientError::Server {
            status,
            code: b.error.code,
            message: b.error.message,
            retry_after_s: b.error.retry_after_s,
            at: b.error.at,
            hall: b.error.hall,
        },
        Err(_) => ClientError::Server {
            status,
            code: wire::ErrorCode::Unknown,
            message: String::from_utf8_lossy(body).chars().take(200).collect(),
            retry_after_s: None,
            at: None,
            hall: None,
        },
    }
}

/// `url` moved to the server at `base` (same path and query).
fn rebase(url: &mut reqwest::Url, base: &str) {
    if let Ok(b) = reqwest::Url::parse(base) {
        let _ = url.set_scheme(b.scheme());
        let _ = url.set_host(b.host_str());
        let _ = url.set_port(b.port());
    }
}

fn net(e: reqwest::Error) -> ClientError {
    // The chain says what really happened (refused, reset, timed out).
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    ClientError::Network(msg)
}

/// The URLs of `list` (`http://a:8080` or `http://a:8080,http://b:8080`), each checked, without
/// trailing slashes.
pub fn server_urls(list: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = vec![];
    for base in list.split(',') {
        let base = base.trim().trim_end_matches('/').to_string();
        let rest = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace) || r.contains('/')) {
            return Err(base);
        }
        out.push(base);
    }
    if out.iter().any(|b| b.starts_with("https://")) && out.iter().any(|b| b.starts_with("http://")) {
        return Err(format!("{list} (all http:// or all https://)"));
    }
    Ok(out)
}

impl Client {
    /// A client of the server at `base` (`http://host:port` or `https://…`), without a token.
    /// Several URLs, comma-separated, name a bureau's active server and its standbys (on
    /// PostgreSQL): the client uses the one that answers as active, and moves on when the one
    /// it uses refuses connections or answers 503 `standby`.
    pub fn new(base: &str, opts: &ClientOptions) -> Result<Client> {
        let bases = server_urls(base).map_err(ClientError::BadUrl)?;
        let https = bases[0].starts_with("https://");
        let mut builder = reqwest::Client::builder().connect_timeout(opts.connect_timeout).tcp_nodelay(true);
        if let Some(t) = opts.timeout {
            builder = builder.timeout(t);
        }
        let tls = if https {
            let cfg = crate::tls::client_config(opts.ca_file.as_deref())?;
            builder = builder.use_preconfigured_tls((*cfg).clone());
            Some(cfg)
        } else {
            None
        };
        let http = builder.build().map_err(|e| ClientError::Tls(e.to_string()))?;
        let inner = Inner { bases, current: Default::default(), http, tls, connect_timeout: opts.connect_timeout };
        Ok(Client { inner: Arc::new(inner), token: None })
    }

    /// The same server and pool, calling with `token`.
    pub fn with_token(&self, token: &str) -> Client {
        Client { inner: self.inner.clone(), token: Some(token.into()) }
    }

    /// The server's base URL (no trailing slash): of several, the one in use.
    pub fn base(&self) -> &str {
        &self.inner.bases[self.inner.current.load(std::sync::atomic::Ordering::Relaxed) % self.inner.bases.len()]
    }

    /// Every server URL this client knows.
    pub fn bases(&self) -> &[String] {
        &self.inner.bases
    }

    /// The next of several servers is the one to use (the current one refused, or is a
    /// standby). `from`: the base that failed (another caller may have moved on already).
    pub(crate) fn next_server(&self, from: &str) {
        let n = self.inner.bases.len();
        if n > 1 {
            let cur = self.inner.current.load(std::sync::atomic::Ordering::Relaxed) % n;
            if self.inner.bases[cur] == from {
                self.inner.current.store((cur + 1) % n, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(from, to = %self.inner.bases[(cur + 1) % n], "switching to another server");
            }
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub(crate) fn tls(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.inner.tls.clone()
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        self.inner.connect_timeout
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// Sends `req`; with several servers, again to the next one while the one tried refuses
    /// the connection (nothing was sent), is a standby, or says another server runs the hall
    /// (`hall_elsewhere`: a hall's devices naming its own server and the core): nothing was
    /// done there.
    async fn execute(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let mut req = req.build().map_err(net)?;
        let mut left = self.inner.bases.len();
        loop {
            left -= 1;
            let again = if left > 0 { req.try_clone() } else { None };
            let tried = self.base().to_string();
            match self.inner.http.execute(req).await {
                Ok(resp) if matches!(resp.status().as_u16(), 503 | 409) && again.is_some() => {
                    let status = resp.status().as_u16();
                    let body = resp.bytes().await.map_err(net)?;
                    match serde_json::from_slice::<wire::ErrorBody>(&body) {
                        Ok(b) if matches!(b.error.code, wire::ErrorCode::Standby | wire::ErrorCode::HallElsewhere) => {}
                        _ => return Err(server_error(status, &body)),
                    }
                }
                Ok(resp) => return Ok(resp),
                Err(e) if e.is_connect() && again.is_some() => tracing::debug!(error = %e, server = %tried, "no connection"),
                Err(e) => return Err(net(e)),
            }
            self.next_server(&tried);
            let mut next = again.expect("another try");
            rebase(next.url_mut(), self.base());
            req = next;
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.inner.http.request(method, self.url(path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, bytes::Bytes)> {
        let resp = self.execute(req).await?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(net)?;
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        Err(server_error(status, &body))
    }

    async fn typed<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let (_, body) = self.send(req).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.typed(self.request(reqwest::Method::GET, path)).await
    }

    async fn get_query<T: DeserializeOwned, Q: Serialize>(&self, path: &str, q: &Q) -> Result<T> {
        self.typed(self.request(reqwest::Method::GET, path).query(q)).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.typed(self.request(reqwest::Method::POST, path).json(body)).await
    }

    /// A POST without a body (counter actions).
    async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.typed(self.request(reqwest::Method::POST, path)).await
    }

    /// Any request, answered as it came (status and bytes, error statuses included). For
    /// tools and tests that must send what the typed calls never would.
    pub async fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Result<RawResponse> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::BadUrl(e.to_string()))?;
        let mut req = self.request(method, path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = self.execute(req).await?;
        let status = resp.status().as_u16();
        let content_type =
            resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.bytes().await.map_err(net)?.to_vec();
        Ok(RawResponse { status, content_type, body })
    }

    // --- Reading ------------------------------------------------------------------------

    /// `GET /api/v1/audit?from=&to=`: the audit trail of those days (supervisor).
    pub async fn audit(&self, q: &wire::AuditQuery) -> Result<wire::AuditResponse> {
        self.get_query("/api/v1/audit", q).await
    }

    /// `GET /metrics`: the server's figures in Prometheus text format (supervisor).
    pub async fn prometheus_metrics(&self) -> Result<String> {
        let (_, body) = self.send(self.request(reqwest::Method::GET, "/metrics")).await?;
        String::from_utf8(body.to_vec()).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<wire::HealthResponse> {
        self.get("/healthz").await
    }

    /// `GET /api/v1/metrics` (supervisors).
    pub async fn metrics(&self) -> Result<wire::MetricsResponse> {
        self.get("/api/v1/metrics").await
    }

    /// `GET /api/v1/halls`: every hall, and the `seq` it reflects.
    pub async fn halls(&self) -> Result<wire::HallsResponse> {
        self.get("/api/v1/halls").await
    }

    /// `GET /api/v1/halls/{hall}`.
    pub async fn hall(&self, hall: &str) -> Result<wire::HallInfo> {
        self.get(&format!("/api/v1/halls/{hall}")).await
    }

    /// `GET /api/v1/tickets/{id}` (today's or an older one).
    pub async fn ticket(&self, id: u64) -> Result<wire::Ticket> {
        self.get(&format!("/api/v1/tickets/{id}")).await
    }

    // --- Hall edges ----------------------------------------------------------------------

    /// `POST /api/v1/edges/{hall}/log`: the hall edge's next events and ticket rows; what the
    /// core holds now.
    pub async fn edge_upload(&self, hall: &str, up: &wire::EdgeUpload) -> Result<wire::EdgeHeld> {
        self.post(&format!("/api/v1/edges/{hall}/log"), up).await
    }

    /// `GET /api/v1/edges/{hall}/log`: the highest `seq` of the hall's log the core holds.
    pub async fn edge_held(&self, hall: &str) -> Result<wire::EdgeHeld> {
        self.get(&format!("/api/v1/edges/{hall}/log")).await
    }

    /// `GET /api/v1/edges/{hall}/feed?since=N&wait=S`: what the core sends the hall's edge
    /// after item `since`, when there is some or after `wait` seconds.
    pub async fn edge_feed(&self, hall: &str, since: u64, wait: u32) -> Result<wire::EdgeFeed> {
        self.get(&format!("/api/v1/edges/{hall}/feed?since={since}&wait={wait}")).await
    }

    /// `POST /api/v1/edges/{hall}/transfers`: the core takes a ticket the hall's edge transfers
    /// to another hall.
    pub async fn edge_transfer(&self, hall: &str, t: &wire::EdgeTransfer) -> Result<serde_json::Value> {
        self.post(&format!("/api/v1/edges/{hall}/transfers"), t).await
    }

    /// `GET /api/v1/edges/{hall}/config`: the core's config for its halls.
    pub async fn edge_config(&self, hall: &str) -> Result<wire::EdgeConfig> {
        self.get(&format!("/api/v1/edges/{hall}/config")).await
    }

    /// `GET /api/v1/edges/{hall}/copy?after=N`: the core's copy of the hall's log after N.
    pub async fn edge_copy(&self, hall: &str, after: u64) -> Result<wire::EdgeCopy> {
        self.get(&format!("/api/v1/edges/{hall}/copy?after={after}")).await
    }

    /// `POST /api/v1/halls/{hall}/takeover`: the core takes a hall over from its dead edge.
    pub async fn takeover(&self, hall: &str, req: &wire::TakeoverRequest) -> Result<wire::TakeoverResponse> {
        self.post(&format!("/api/v1/halls/{hall}/takeover"), req).await
    }

    // --- Kiosks -------------------------------------------------------------------------

    /// `POST /api/v1/halls/{hall}/tickets`: one attempt.
    pub async fn issue(&self, hall: &str, req: &wire::IssueRequest) -> Result<wire::Ticket> {
        self.post(&format!("/api/v1/halls/{hall}/tickets"), req).await
    }

    /// Issues a ticket, repeating the request with the same `request_id` after network
    /// failures and 503s that say "again" (`store_unavailable`, `standby`, `retry`: the server
    /// answers a repeated id with the ticket it already issued, never a second one). Waits
    /// 300 ms, then twice as long each time.
    pub async fn issue_with_retry(&self, hall: &str, req: &wire::IssueRequest, attempts: u32) -> Result<wire::Ticket> {
        let mut delay = Duration::from_millis(300);
        let mut attempt = 1;
        loop {
            match self.issue(hall, req).await {
                Err(e) if attempt < attempts && e.worth_repeating() => {
                    tracing::warn!(attempt, request_id = ?req.request_id, error = %e, "issue failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The ticket today's issue request `request_id` made in `hall`, or `None` when it made
    /// none (a kiosk settles a request whose answer it never got; nothing is issued).
    pub async fn issued_for(&self, hall: &str, request_id: &str) -> Result<Option<wire::Ticket>> {
        match self.get(&format!("/api/v1/halls/{hall}/requests/{request_id}")).await {
            Ok(t) => Ok(Some(t)),
            Err(ClientError::Server { code: wire::ErrorCode::UnknownRequest, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/halls/{hall}/check-in`: an appointment's ticket; `again` for a repeated
    /// check-in (the same ticket, answered 200 rather than 201).
    pub async fn check_in(&self, hall: &str, req: &wire::CheckInRequest) -> Result<wire::CheckedIn> {
        let (status, body) = self.send(self.request(reqwest::Method::POST, &format!("/api/v1/halls/{hall}/check-in")).json(req)).await?;
        let ticket = serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok(wire::CheckedIn { ticket, again: status == 200 })
    }

    // --- Appointments -------------------------------------------------------------------

    /// `GET /api/v1/appointments/slots?hall=&service=[&date=]`.
    pub async fn slots(&self, q: &wire::SlotsQuery) -> Result<wire::SlotsResponse> {
        self.get_query("/api/v1/appointments/slots", q).await
    }

    /// `POST /api/v1/appointments`: the booking, its personal data masked.
    pub async fn book(&self, req: &wire::BookingRequest) -> Result<wire::Booking> {
        self.post("/api/v1/appointments", req).await
    }

    /// `POST /api/v1/appointments/phone-code`: a one-time code to this phone, for booking.
    pub async fn phone_code(&self, phone: &str) -> Result<wire::PhoneCodeSent> {
        self.post("/api/v1/appointments/phone-code", &wire::PhoneCodeRequest { phone: phone.into() }).await
    }

    /// `POST /api/v1/tickets/{id}/phone`: texts to this phone when the ticket's turn is near and
    /// when it is called (`code`: the one-time code [`Client::phone_code`] had sent).
    pub async fn leave_phone(&self, ticket: u64, phone: &str, code: &str) -> Result<wire::TicketPhone> {
        let req = wire::TicketPhoneRequest { phone: phone.into(), phone_code: code.into() };
        self.post(&format!("/api/v1/tickets/{ticket}/phone"), &req).await
    }

    /// `POST /api/v1/halls/{hall}/remote-tickets`: a remote ticket (线上取号) of `service` for a
    /// phone proven by `code` ([`Client::phone_code`]); a retry with the same `request_id`
    /// answers with the same ticket.
    pub async fn take_remote_ticket(&self, hall: &str, req: &wire::RemoteTicketRequest) -> Result<wire::RemoteTicket> {
        self.post(&format!("/api/v1/halls/{hall}/remote-tickets"), req).await
    }

    /// `POST /api/v1/tickets/{id}/phone-rating`: rate a ticket finished today from its printed
    /// link (`key`: the link's `k`).
    pub async fn rate_by_phone(&self, ticket: u64, req: &wire::PhoneRatingRequest) -> Result<wire::RatingResponse> {
        self.post(&format!("/api/v1/tickets/{ticket}/phone-rating"), req).await
    }

    /// `POST /api/v1/appointments/{code}/view` `{phone}`.
    pub async fn booking(&self, code: &str, phone: &str) -> Result<wire::Booking> {
        self.post(&format!("/api/v1/appointments/{code}/view"), &wire::BookingLookup { phone: phone.into() }).await
    }

    /// `POST /api/v1/appointments/{code}/cancel` `{phone}`: cancel.
    pub async fn cancel_booking(&self, code: &str, phone: &str) -> Result<wire::Booking> {
        self.post(&format!("/api/v1/appointments/{code}/cancel"), &wire::BookingLookup { phone: phone.into() }).await
    }

    /// `GET /api/v1/appointments?date=[&hall=]` (supervisors): unmasked.
    pub async fn bookings(&self, q: &wire::AppointmentsQuery) -> Result<Vec<wire::Booking>> {
        self.get_query("/api/v1/appointments", q).await
    }

    /// `GET /api/v1/appointments/stats?from=&to=[&hall=]` (supervisors).
    pub async fn booking_stats(&self, q: &wire::PeriodQuery) -> Result<Vec<wire::AppointmentDayStats>> {
        self.get_query("/api/v1/appointments/stats", q).await
    }

    // --- Devices ------------------------------------------------------------------------

    /// `POST /api/v1/devices/{device}/status`.
    pub async fn report_device(&self, device: &str, report: &wire::DeviceStatusReport) -> Result<()> {
        self.send(self.request(reqwest::Method::POST, &format!("/api/v1/devices/{device}/status")).json(report)).await?;
        Ok(())
    }

    // --- Clerks -------------------------------------------------------------------------

    /// `POST /api/v1/sessions`: sign a clerk in at a counter. Call [`Client::with_token`]
    /// with the answer's token to act as that clerk.
    pub async fn sign_in(&self, req: &wire::SessionRequest) -> Result<wire::SessionResponse> {
        self.post("/api/v1/sessions", req).await
    }

    /// `POST /api/v1/supervisor-sessions`: a supervisor signs in with their password.
    pub async fn supervisor_sign_in(&self, req: &wire::SupervisorSessionRequest) -> Result<wire::SupervisorSessionResponse> {
        self.post("/api/v1/supervisor-sessions", req).await
    }

    /// `DELETE /api/v1/supervisor-sessions`: end this client's supervisor session.
    pub async fn supervisor_sign_out(&self) -> Result<()> {
        self.send(self.request(reqwest::Method::DELETE, "/api/v1/supervisor-sessions")).await?;
        Ok(())
    }

    /// `DELETE /api/v1/sessions`: end this client's clerk session.
    pub async fn sign_out(&self) -> Result<()> {
        self.send(self.request(reqwest::Method::DELETE, "/api/v1/sessions")).await?;
        Ok(())
    }

    fn action(counter: &str, action: &str) -> String {
        format!("/api/v1/counters/{counter}/{action}")
    }

    /// `POST /api/v1/counters/{counter}/call-next`.
    pub async fn call_next(&self, counter: &str) -> Result<wire::CounterActionResponse> {
        self.post_empty(&Self::action(counter, "call-next")).await
    }

    /// `POST /api/v1/counters/{counter}/call`: call one waiting or no-show ticket.
    pub async fn call(&self, counter: &str, req: &wire::CallRequest) -> Result<wire::CounterActionResponse> {
        self.post(&Self::action(counter, "call"), req).await
    }

    /// `POST /api/v1/counters/{counter}/recall`.
    pub async fn recall(&self, counter: &str) -> Result<wire::CounterActionResponse> {
        self.post_empty(&Self::action(counter, "recall")).await
    }

    /// `POST /api/v1/counters/{counter}/no-show`.
    pub async fn no_show(&self, counter: &str) -> Result<wire::CounterActionResponse> {
        self.post_empty(&Self::action(counter, "no-show")).await
    }

    /// `POST /api/v1/counters/{counter}/finish`.
    pub async fn finish(&self, counter: &str) -> Result<wire::CounterActionResponse> {
        self.post_empty(&Self::action(counter, "finish")).await
    }

    /// `POST /api/v1/counters/{counter}/transfer`.
    pub async fn transfer(&self, counter: &str, req: &wire::TransferRequest) -> Result<wire::CounterActionResponse> {
        self.post(&Self::action(counter, "transfer"), req).await
    }

    /// `POST /api/v1/counters/{counter}/pause`.
    pub async fn pause(&self, counter: &str, reason: &str) -> Result<wire::CounterActionResponse> {
        self.post(&Self::action(counter, "pause"), &wire::PauseRequest { reason: reason.to_string() }).await
    }

    /// `POST /api/v1/counters/{counter}/close`: signs out whoever is there.
    pub async fn close_counter(&self, counter: &str) -> Result<wire::CounterActionResponse> {
        self.post_empty(&Self::action(counter, "close")).await
    }

    /// `GET /api/v1/alerts?state=open|all` (supervisors).
    pub async fn alerts(&self, all: bool) -> Result<wire::AlertsResponse> {
        self.get(if all { "/api/v1/alerts?state=all" } else { "/api/v1/alerts?state=open" }).await
    }

    /// `POST /api/v1/alerts/{id}/ack` (supervisors): who and when are kept.
    pub async fn ack_alert(&self, id: u64) -> Result<wire::Alert> {
        self.post_empty(&format!("/api/v1/alerts/{id}/ack")).await
    }

    /// `GET /api/v1/cases?state=open|overdue|closed|all` (supervisors).
    pub async fn cases(&self, state: &str) -> Result<wire::CasesResponse> {
        self.get(&format!("/api/v1/cases?state={state}")).await
    }

    /// `POST /api/v1/cases/{id}/notes`.
    pub async fn case_note(&self, id: u64, req: &wire::CaseNoteRequest) -> Result<wire::Case> {
        self.post(&format!("/api/v1/cases/{id}/notes"), req).await
    }

    /// `POST /api/v1/cases/{id}/close`.
    pub async fn close_case(&self, id: u64, req: &wire::CaseCloseRequest) -> Result<wire::Case> {
        self.post(&format!("/api/v1/cases/{id}/close"), req).await
    }

    /// `GET /api/v1/reports/ratings` (JSON): every rating of a period with its case.
    pub async fn ratings_report(&self, q: &wire::PeriodQuery) -> Result<Vec<wire::RatingRow>> {
        let mut url = format!("/api/v1/reports/ratings?from={}&to={}", q.from, q.to);
        if let Some(h) = &q.hall {
            url.push_str(&format!("&hall={h}"));
        }
        self.get(&url).await
    }

    /// `GET /api/v1/stats/hourly` (supervisors): the period's tickets by hour of issue.
    pub async fn hourly_stats(&self, q: &wire::PeriodQuery) -> Result<wire::HourlyStats> {
        let mut url = format!("/api/v1/stats/hourly?from={}&to={}", q.from, q.to);
        if let Some(h) = &q.hall {
            url.push_str(&format!("&hall={h}"));
        }
        self.get(&url).await
    }

    /// `GET /api/v1/overview` (supervisors): every hall as the duty leader sees it.
    pub async fn overview(&self) -> Result<wire::Overview> {
        self.get("/api/v1/overview").await
    }

    /// `POST /api/v1/appointments/lookup`: the bookings made with this phone and ID number.
    pub async fn my_bookings(&self, req: &wire::MyBookingsRequest) -> Result<wire::MyBookings> {
        self.post("/api/v1/appointments/lookup", req).await
    }

    /// `GET /api/v1/counters/{counter}/on-duty`: who serves there (the counter's pad, its
    /// clerk, supervisors).
    pub async fn on_duty(&self, counter: &str) -> Result<wire::OnDuty> {
        self.get(&Self::action(counter, "on-duty")).await
    }

    /// `POST /api/v1/counters/{counter}/resume`.
    pub async fn resume(&self, counter: &str) -> Result<wire::CounterActionResponse> {
        self.post_empty(&Self::action(counter, "resume")).await
    }

    /// `GET /api/v1/counters/{counter}/queue`.
    pub async fn counter_queue(&self, counter: &str) -> Result<wire::CounterQueue> {
        self.get(&Self::action(counter, "queue")).await
    }

    /// `POST /api/v1/tickets/{id}/requeue`: a no-show waits again.
    pub async fn requeue(&self, ticket: u64) -> Result<wire::Ticket> {
        self.post_empty(&format!("/api/v1/tickets/{ticket}/requeue")).await
    }

    // --- Rating pads --------------------------------------------------------------------

    /// `POST /api/v1/tickets/{id}/rating`.
    pub async fn rate(&self, ticket: u64, req: &wire::RatingRequest) -> Result<wire::RatingResponse> {
        self.post(&format!("/api/v1/tickets/{ticket}/rating"), req).await
    }

    // --- Supervisors --------------------------------------------------------------------

    /// `PUT /api/v1/halls/{hall}/publicity`.
    pub async fn set_publicity(&self, hall: &str, req: &wire::PublicityRequest) -> Result<wire::HallInfo> {
        self.typed(self.request(reqwest::Method::PUT, &format!("/api/v1/halls/{hall}/publicity")).json(req)).await
    }

    /// `GET /api/v1/stats/today[?hall=]`.
    pub async fn stats_today(&self, q: &wire::StatsQuery) -> Result<wire::TodayStats> {
        self.get_query("/api/v1/stats/today", q).await
    }

    /// `GET /api/v1/stats?from=&to=[&hall=]`.
    pub async fn stats(&self, q: &wire::PeriodQuery) -> Result<wire::PeriodStats> {
        self.get_query("/api/v1/stats", q).await
    }

    /// `GET /api/v1/reports/tickets?from=&to=[&hall=]` as rows.
    pub async fn ticket_report(&self, q: &wire::PeriodQuery) -> Result<Vec<wire::TicketRow>> {
        let q = wire::PeriodQuery { format: None, ..q.clone() };
        self.get_query("/api/v1/reports/tickets", &q).await
    }

    /// The same report as CSV text (`format=csv`).
    pub async fn ticket_report_csv(&self, q: &wire::PeriodQuery) -> Result<String> {
        let q = wire::PeriodQuery { format: Some(wire::ReportFormat::Csv), ..q.clone() };
        let (_, body) = self.send(self.request(reqwest::Method::GET, "/api/v1/reports/tickets").query(&q)).await?;
        String::from_utf8(body.to_vec()).map_err(|e| ClientError::Decode(e.to_string()))
    }

    // --- Event streams ------------------------------------------------------------------

    /// The WebSocket URL of a stream, resuming after `since` when given.
    pub fn events_url(&self, scope: &wire::EventScope, since: Option<u64>) -> String {
        let q = since.map(|s| format!("?since={s}")).unwrap_or_default();
        self.ws_url(&format!("{}{q}", scope.path()))
    }

    /// `ws://` or `wss://` URL of a path on this server.
    pub fn ws_url(&self, path_and_query: &str) -> String {
        let base = self.base();
        let ws = match base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", base.strip_prefix("http://").unwrap_or(base)),
        };
        format!("{ws}{path_and_query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_for_http_and_https() {
        let c = Client::new("http://127.0.0.1:8080/", &ClientOptions::default()).unwrap();
        assert_eq!(c.base(), "http://127.0.0.1:8080");
        assert_eq!(c.events_url(&wire::EventScope::All, None), "ws://127.0.0.1:8080/api/v1/events");
        assert_eq!(
            c.events_url(&wire::EventScope::Hall("west".into()), Some(42)),
            "ws://127.0.0.1:8080/api/v1/halls/west/events?since=42"
        );
        let s = Client::new("https://qcall.example", &ClientOptions::default()).unwrap();
        assert_eq!(s.events_url(&wire::EventScope::All, Some(1)), "wss://qcall.example/api/v1/events?since=1");
        for bad in ["ws://x", "ftp://x", "http://", "127.0.0.1:8080", "http://a b", "http://a,", "http://a,https://b"] {
            assert!(matches!(Client::new(bad, &ClientOptions::default()), Err(ClientError::BadUrl(_))), "{bad}");
        }
        let two = Client::new("http://10.0.0.5:8080, http://10.0.0.6:8080/", &ClientOptions::default()).unwrap();
        assert_eq!(two.bases(), ["http://10.0.0.5:8080", "http://10.0.0.6:8080"]);
        assert_eq!(two.base(), "http://10.0.0.5:8080");
        two.next_server("http://10.0.0.5:8080");
        assert_eq!(two.events_url(&wire::EventScope::All, None), "ws://10.0.0.6:8080/api/v1/events");
        two.next_server("http://10.0.0.5:8080");
        assert_eq!(two.base(), "http://10.0.0.6:8080", "only the caller that saw it fail moves on");
    }
}
