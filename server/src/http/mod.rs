//! HTTP + WebSocket server (axum): the contract the kiosk, the display, the web pages and the
//! tests use. Handlers validate and authorise, then hand commands to the [`Engine`]. Every
//! request, answer and error code is a `qcall-wire` type.
//!
//! - [`api`]: hall state, tickets, issuing, sign-in, device status, publicity, health;
//! - [`counters`]: one handler per counter action; [`queue`]: a counter's lists;
//! - [`ratings`], [`stats`], [`reports`]: 满意度评价, statistics, the ticket report (JSON/CSV);
//! - [`ws`]: the event streams; [`pages`]: the embedded web pages.

mod alerts;
mod api;
mod appointments;
mod cases;
mod counters;
mod csv;
mod edges;
mod error;
mod extract;
mod guard;
mod listen;
mod overview;
mod pages;
mod queue;
mod ratings;
mod remote;
mod reports;
mod sms;
pub mod standby;
mod stats;
pub mod supervisors;
mod texts;
mod ws;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::routing::{get, post, put};
use axum::Router;
use qcall_wire::ErrorCode;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

pub use error::AppError;

use crate::auth::{Principal, Tokens};
use crate::secret::hash_token;
use crate::config::Config;
use crate::engine::{Clock, Engine, Request as EngineRequest};
use crate::signin::{HashPool, Limiter};
use crate::store::Store;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 16 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<Config>,
    pub engine: Engine,
    pub tokens: Arc<Tokens>,
    pub clock: Arc<dyn Clock>,
    /// A second connection for reads that the writer does not serve (old tickets, reports).
    pub reader: Arc<parking_lot::Mutex<crate::store::Db>>,
    pub shutdown: watch::Receiver<bool>,
    /// Failed sign-ins per account and address.
    pub limiter: Arc<Limiter>,
    /// Where argon2 checks run, a few at a time.
    pub hashes: Arc<HashPool>,
    /// Event streams open at once (each holds a permit).
    pub streams: Arc<ws::Streams>,
    /// How often the public may book, look up, and ask for codes.
    pub limits: Arc<appointments::Limits>,
    /// One-time codes sent to bookers' phones.
    pub phone_codes: Arc<parking_lot::Mutex<crate::phone_codes::PhoneCodes>>,
    pub sms: Arc<sms::Sender>,
    /// Supervisors signed in with their password.
    pub supervisor_sessions: Arc<supervisors::Sessions>,
    /// Signs tickets' own links ([`AppState::ticket_link_key`]); kept in the database.
    pub ticket_key: Arc<[u8]>,
    /// A hall edge's link to the core (`[edge]`), as its uploader last saw it.
    pub upstream: Arc<parking_lot::Mutex<Option<qcall_wire::UpstreamHealth>>>,
    /// A hall edge's client of the core, as the edge itself (transfers to other halls).
    pub core_client: Option<qcall_client::Client>,
}

impl AppState {
    /// The key in a ticket's own link (`/t/{id}?k=…`, the printed QR code's): whoever holds the
    /// paper may rate the ticket on the phone. A ticket's id alone is guessable; this is not.
    pub fn ticket_link_key(&self, id: crate::domain::TicketId) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.ticket_key).expect("any key length");
        mac.update(&id.to_be_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// The forked estimator's worker's handles.
    pub fn forecaster(&self) -> crate::forecast::Forecaster {
        crate::forecast::Forecaster {
            engine: self.engine.clone(),
            clock: self.clock.clone(),
            long_queue: self.cfg.alerts.queue_length,
            topology: self.cfg.topology.clone(),
        }
    }

    /// A ticket's own link, with its key.
    pub fn ticket_link(&self, id: crate::domain::TicketId) -> String {
        format!("{}/t/{id}?k={}", self.cfg.public_base_url.trim_end_matches('/'), self.ticket_link_key(id))
    }
}

/// Which face of the server a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// The halls' LAN: devices, staff pages, the supervisors' API, metrics (and the public
    /// routes too, when there is no separate public face).
    Lan,
    /// The internet, behind a reverse proxy (`[server] public_listen`): only what taxpayers'
    /// phones need.
    Public,
}

/// The routes of a face. Both have what a taxpayer's phone needs — booking, the booking's
/// page, the ticket page, their API, the hall state and stream as the public screens show them;
/// the LAN face has everything else too.
fn routes(face: Face) -> Router<AppState> {
    let lan = face == Face::Lan;
    let mut r = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/api/v1/halls", get(api::halls))
        .route("/api/v1/halls/{hall}", get(api::hall))
        .route("/api/v1/halls/{hall}/events", get(ws::hall_events))
        .route("/api/v1/tickets/{id}", get(api::ticket))
        .route("/api/v1/tickets/{id}/phone", post(texts::leave_phone))
        .route("/api/v1/halls/{hall}/remote-tickets", post(remote::take))
        .route("/api/v1/tickets/{id}/phone-rating", post(ratings::rate_by_phone))
        .route("/api/v1/appointments", if lan { post(appointments::book).get(appointments::list) } else { post(appointments::book) })
        .route("/api/v1/appointments/slots", get(appointments::slots))
        .route("/api/v1/appointments/phone-code", post(appointments::phone_code))
        .route("/api/v1/appointments/lookup", post(appointments::my_bookings))
        .route("/api/v1/appointments/{code}/view", post(appointments::view_booking))
        .route("/api/v1/appointments/{code}/cancel", post(appointments::cancel))
        .route("/t/{id}", get(pages::ticket))
        .route("/book", get(pages::book))
        .route("/now", get(pages::remote))
        .route("/book/{code}", get(pages::book_code))
        .route("/book/qr/{file}", get(pages::book_qr))
        .route("/web/{file}", if lan { get(pages::asset) } else { get(pages::public_asset) });
    if lan {
        r = r
            .route("/api/v1/metrics", get(api::metrics))
            .route("/metrics", get(api::prometheus))
            .route("/api/v1/halls/{hall}/tickets", post(api::issue))
            .route("/api/v1/halls/{hall}/requests/{request_id}", get(api::by_request))
            .route("/api/v1/halls/{hall}/check-in", post(appointments::check_in))
            .route("/api/v1/appointments/stats", get(appointments::stats))
            .route("/api/v1/halls/{hall}/publicity", put(api::set_publicity))
            .route("/api/v1/halls/{hall}/takeover", post(edges::takeover))
            .route("/api/v1/events", get(ws::all_events))
            .route("/api/v1/tickets/{id}/requeue", post(api::requeue))
            .route("/api/v1/tickets/{id}/rating", post(ratings::rate))
            .route("/api/v1/sessions", post(api::sign_in).delete(api::sign_out))
            .route("/api/v1/supervisor-sessions", post(supervisors::sign_in).delete(supervisors::sign_out))
            .route("/api/v1/audit", get(supervisors::audit_trail))
            .route("/api/v1/overview", get(overview::overview))
            .route("/api/v1/alerts", get(alerts::list))
            .route("/api/v1/alerts/{id}/ack", post(alerts::ack))
            .route("/api/v1/cases", get(cases::list))
            .route("/api/v1/cases/{id}/notes", post(cases::note))
            .route("/api/v1/cases/{id}/close", post(cases::close))
            .route("/api/v1/tickets/{id}/rating/reasons", post(cases::reasons))
            .route("/api/v1/reports/ratings", get(cases::ratings_report))
            .route("/api/v1/devices/{device}/status", post(api::device_status))
            .route(
                "/api/v1/edges/{hall}/log",
                post(edges::upload).layer(DefaultBodyLimit::max(edges::MAX_UPLOAD)).get(edges::held),
            )
            .route("/api/v1/edges/{hall}/feed", get(edges::feed))
            .route("/api/v1/edges/{hall}/transfers", post(edges::transfer))
            .route("/api/v1/edges/{hall}/copy", get(edges::copy))
            .route("/api/v1/edges/{hall}/config", get(edges::config))
            .route("/api/v1/counters/{counter}/queue", get(queue::queue))
            .route("/api/v1/counters/{counter}/on-duty", get(counters::on_duty))
            .route("/api/v1/counters/{counter}/call-next", post(counters::call_next))
            .route("/api/v1/counters/{counter}/call", post(counters::call))
            .route("/api/v1/counters/{counter}/recall", post(counters::recall))
            .route("/api/v1/counters/{counter}/no-show", post(counters::no_show))
            .route("/api/v1/counters/{counter}/finish", post(counters::finish))
            .route("/api/v1/counters/{counter}/transfer", post(counters::transfer))
            .route("/api/v1/counters/{counter}/pause", post(counters::pause))
            .route("/api/v1/counters/{counter}/resume", post(counters::resume))
            .route("/api/v1/counters/{counter}/close", post(counters::close))
            .route("/api/v1/counters/{counter}/open", post(counters::open))
            .route("/api/v1/stats/today", get(stats::today))
            .route("/api/v1/stats", get(stats::between))
            .route("/api/v1/stats/hourly", get(stats::hourly))
            .route("/api/v1/reports/summary", get(stats::summary))
            .route("/api/v1/reports/tickets", get(reports::tickets))
            .route("/counter", get(pages::counter))
            .route("/supervisor", get(pages::supervisor))
            .route("/supervisor/reports", get(pages::supervisor_reports))
            .route("/screen/counter/{counter}", get(pages::screen))
            .route("/rate/{counter}", get(pages::rate));
    }
    r
}

/// The halls' LAN face: everything (the public routes too).
pub fn router(state: AppState) -> Router {
    finish(routes(Face::Lan), state, Face::Lan)
}

/// The public face alone (`[server] public_listen`): no staff sign-in, no devices, no
/// supervisors' API, no metrics.
pub fn public_router(state: AppState) -> Router {
    finish(routes(Face::Public), state, Face::Public)
}

fn finish(routes: Router<AppState>, state: AppState, face: Face) -> Router {
    routes
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(axum::Extension(face))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &Request| tracing::info_span!("request", method = %req.method(), path = %req.uri().path())),
        )
        .with_state(state)
}

/// A request body within [`MAX_BODY`], with read failures as JSON 4xx.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::new(ErrorCode::BodyTooLarge, format!("request bodies are limited to {MAX_BODY} bytes"))
            } else {
                AppError::new(ErrorCode::BadBody, "the request body could not be read")
            }
        })
    }
}

/// A JSON body parsed strictly, with every failure as a JSON 4xx.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| AppError::new(ErrorCode::BadUtf8, "the body is not UTF-8"))?;
        serde_json::from_str(text).map(JsonBody).map_err(AppError::bad_json)
    }
}

/// No body, or an empty JSON object: what actions without parameters take.
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Empty {}
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoBody);
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| AppError::new(ErrorCode::BadUtf8, "the body is not UTF-8"))?;
        serde_json::from_str::<Empty>(text).map(|_| NoBody).map_err(AppError::bad_json)
    }
}

/// A query string parsed strictly into a `qcall-wire` query type; failures are `bad_query`.
pub struct StrictQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| StrictQuery(q.0))
            .map_err(|e| AppError::new(ErrorCode::BadQuery, e.body_text()))
    }
}

/// The caller, from `Authorization: Bearer <token>`.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(AppError::unauthorized)?;
        let hash = hash_token(token);
        if let Some(p) = state.tokens.get(&hash) {
            return Ok(Caller(p.clone()));
        }
        let now = state.clock.now();
        if let Some(id) = state.supervisor_sessions.get(&hash, now) {
            return Ok(Caller(Principal::Supervisor { id }));
        }
        let core = state.engine.shared.core.read().await;
        match core.sessions.get(&hash) {
            // An idle session is over even before the sweep closes its counter.
            Some(s) if s.idle_ms(now) <= state.cfg.session_idle_ms => {
                s.touch(now);
                Ok(Caller(Principal::Clerk { clerk: s.clerk.clone(), counter: s.counter }))
            }
            _ => Err(AppError::unauthorized()),
        }
    }
}

/// The caller, who must be a supervisor: checked before the query or body is read, so a
/// caller without the role hears 401/403 whatever else is wrong with the request.
pub struct SupervisorCaller(pub Principal);

impl FromRequestParts<AppState> for SupervisorCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(who) = Caller::from_request_parts(parts, state).await?;
        if !who.is_supervisor() {
            return Err(AppError::forbidden("this is for supervisors"));
        }
        Ok(SupervisorCaller(who))
    }
}

/// A clerk or a supervisor (statistics), checked before the query is read.
pub struct StaffCaller(pub Principal);

impl FromRequestParts<AppState> for StaffCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(who) = Caller::from_request_parts(parts, state).await?;
        if !matches!(who, Principal::Supervisor { .. } | Principal::Clerk { .. }) {
            return Err(AppError::forbidden("only supervisors and clerks read statistics"));
        }
        Ok(StaffCaller(who))
    }
}

/// The caller when the request has a token (a wrong token is still refused), else `None`.
pub struct MaybeCaller(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) && bearer(&parts.headers).is_none() {
            return Ok(MaybeCaller(None));
        }
        Caller::from_request_parts(parts, state).await.map(|c| MaybeCaller(Some(c.0)))
    }
}

/// The client's IP address (none in in-process tests): the peer, or behind a trusted reverse
/// proxy (`[server] trusted_proxies`) the address it forwarded the request for.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl ClientAddr {
    pub fn of(parts: &Parts, cfg: &Config) -> Option<std::net::IpAddr> {
        let peer = listen::peer(parts)?.ip();
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        Some(crate::net::client(peer, forwarded, &cfg.trusted_proxies))
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(ClientAddr::of(parts, &s.cfg)))
    }
}

tokio::task_local! {
    /// The client address of the request being handled (set by the guard), for the audit
    /// trail of every staff action.
    pub static CLIENT: Option<std::net::IpAddr>;
}

/// The bearer token: `Authorization: Bearer <token>`, or for a browser's WebSocket (which
/// cannot send that header) the subprotocol `qcall.bearer.<token>` it offers beside `qcall`.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let token = match headers.get(header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().ok()?;
            v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))?.trim()
        }
        None => headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)?
            .to_str()
            .ok()?
            .split(',')
            .find_map(|p| p.trim().strip_prefix("qcall.bearer."))?,
    };
    (!token.is_empty() && token.len() <= 256).then_some(token)
}

/// The application without a listener: the store opened, the state loaded, the writer running.
/// [`App::router`] serves it (tests call it in-process); [`Server`] puts it on a socket.
pub struct App {
    pub state: AppState,
    shutdown_tx: watch::Sender<bool>,
    writer: std::thread::JoinHandle<()>,
    _lock: Option<crate::store::DbLock>,
}

impl App {
    /// Opens the store and loads it. Blocking: call it off the async threads. On PostgreSQL it
    /// waits until this server holds the writer's lease.
    pub fn build(cfg: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let (store, lock) = App::open_store(&cfg, |_| {})?;
        App::build_with(cfg, clock, store, lock)
    }

    /// The store, opened and migrated, its writer's lease held (PostgreSQL; `waiting` sees the
    /// active server's lease meanwhile), or its lock file (SQLite).
    pub fn open_store(
        cfg: &Config,
        waiting: impl FnMut(&crate::store::lease::Lease),
    ) -> anyhow::Result<(Store, Option<crate::store::DbLock>)> {
        let at = cfg.store();
        let lock = match &at {
            crate::store::StoreAt::Sqlite(path) => Some(crate::store::DbLock::take(path)?),
            crate::store::StoreAt::Postgres(_) => None,
        };
        let mut store = Store::open(&at, cfg.topology.clone())?;
        tracing::info!(schema = store.schema_version()?, db = %store.place(), "database opened");
        let holder = format!("{}:{}", hostname(), std::process::id());
        let mut waiting = waiting;
        let mut told = false;
        store.take_lease(&holder, &cfg.advertise_url, |lease| {
            if !told {
                tracing::info!(active = %lease.address, holder = %lease.holder, "standby: another server is the active one; taking over when its lease lapses");
                told = true;
            }
            waiting(lease)
        })?;
        Ok((store, lock))
    }

    /// The app on a store [`App::open_store`] opened.
    pub fn build_with(cfg: Config, clock: Arc<dyn Clock>, mut store: Store, lock: Option<crate::store::DbLock>) -> anyhow::Result<App> {
        let cfg = Arc::new(cfg);
        store.set_busy_timeout(cfg.commit_timeout)?;
        if let Some(edge) = &cfg.edge {
            store.set_id_base(crate::store::edge_id_base(edge.hall));
        }
        if clock.chosen() {
            let now = clock.now();
            if let Some(last) = store.last_event_at()?.filter(|&last| now < last) {
                anyhow::bail!(
                    "--clock-start {} is before the last stored event ({}): time in {} may only move forward",
                    crate::view::time(now).to_rfc3339(),
                    crate::view::time(last).to_rfc3339(),
                    store.place()
                );
            }
        }
        // One line, however many: the clerks whose PIN may be a 4-digit one.
        let short: Vec<&str> = cfg.clerks.iter().filter(|c| c.short_pin).map(|c| c.id.as_str()).collect();
        if !short.is_empty() {
            tracing::warn!(
                clerks = %short.join(","),
                "{} clerks have a PIN hash made before PINs needed six digits (it may be a 4-digit PIN): make new ones with `qcall hash-pin`",
                short.len()
            );
        }
        let (engine, writer) = Engine::start(store, clock.clone())?;
        if let Ok(mut core) = engine.shared.core.try_write() {
            core.texts.notify = cfg.notify.clone();
        }
        let mut reader = cfg.store().connect()?;
        if cfg.postgres.is_some() {
            let ms = cfg.commit_timeout.as_millis().max(1) * 10;
            reader.session(&format!("SET statement_timeout = {ms}"))?;
        }
        let ticket_key: String = reader.query_one("SELECT value FROM meta WHERE key = 'ticket_key'", &[])?.get(0)?;
        let (shutdown_tx, shutdown) = watch::channel(false);
        let state = AppState {
            tokens: Arc::new(Tokens::from_config(&cfg)),
            limiter: Arc::new(Limiter::new(cfg.sign_in)),
            hashes: Arc::new(HashPool::for_this_machine()),
            streams: ws::Streams::new(cfg.max_connections, cfg.public_streams, cfg.public_streams_per_address),
            limits: Arc::new(appointments::Limits::new(&cfg)),
            phone_codes: Arc::default(),
            sms: Arc::new(sms::Sender::new(cfg.sms.clone())),
            supervisor_sessions: Arc::new(supervisors::Sessions::default()),
            ticket_key: ticket_key.into_bytes().into(),
            upstream: Arc::new(parking_lot::Mutex::new(cfg.edge.as_ref().map(|e| qcall_wire::UpstreamHealth { upstream: e.upstream.clone(), ..Default::default() }))),
            core_client: cfg.edge.as_ref().map(crate::edge::core_client).transpose()?,
            cfg,
            engine,
            clock,
            reader: Arc::new(parking_lot::Mutex::new(reader)),
            shutdown,
        };
        Ok(App { state, shutdown_tx, writer, _lock: lock })
    }

    /// Ends the stored sessions the config no longer backs: a clerk removed, or their PIN
    /// changed since they signed in.
    pub async fn drop_stale_sessions(&self) -> anyhow::Result<()> {
        let stale: Vec<String> = {
            let core = self.state.engine.shared.core.read().await;
            core.sessions
                .iter()
                .filter(|(_, s)| self.state.cfg.clerk(&s.clerk).is_none_or(|c| c.pin_fp != s.pin_fp))
                .map(|(k, s)| {
                    tracing::warn!(clerk = %s.clerk, "session ended: the clerk is no longer configured or their PIN changed");
                    k.clone()
                })
                .collect()
        };
        if !stale.is_empty() {
            self.state.engine.submit(EngineRequest::EndSessions { token_hashes: stale }).await?;
        }
        Ok(())
    }

    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Ends event streams, lets the writer finish what it has, and waits for it.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let App { state, writer, .. } = self;
        // The writer ends when the last engine handle is gone and its queue is drained.
        drop(state);
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    }
}

pub struct Server {
    pub addr: SocketAddr,
    public_addr: Option<SocketAddr>,
    app: App,
    task: tokio::task::JoinHandle<()>,
    /// Stops the listeners (they serve the standby's answers before the app).
    listeners_tx: watch::Sender<bool>,
}

/// This machine's name, for the writer's lease.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into())
}

impl Server {
    /// Bind, open the store, load the state and serve. On PostgreSQL, while another server
    /// holds the writer's lease, this one listens as its standby ([`standby::Gate`]).
    pub async fn start(cfg: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
        let listen = cfg.listen.clone();
        let files = listen::raise_open_files_limit();
        let limits = listen::Limits { header_timeout: cfg.header_timeout, max_connections: cfg.max_connections };
        if (limits.max_connections as u64).saturating_add(64) > files {
            tracing::warn!(files, max_connections = limits.max_connections, "the open-files limit is below max_connections");
        }
        let listener =
            tokio::net::TcpListener::bind(&listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        // The public face on its own socket, with its own connections: the internet cannot
        // take the halls' places.
        let public = match cfg.public_listen.clone() {
            Some(p) => {
                let l = tokio::net::TcpListener::bind(&p).await.map_err(|e| anyhow::anyhow!("cannot listen on {p} (public_listen): {e}"))?;
                Some(l)
            }
            None => None,
        };
        let public_addr = public.as_ref().map(|l| l.local_addr()).transpose()?;
        let tls = cfg.tls.as_ref().map(|t| t.server_config());
        let grace = Duration::from_secs(5);
        let (listeners_tx, listeners_rx) = watch::channel(false);
        let gate = standby::Gate::default();
        let public_gate = gate.sibling();
        let (waiting, opened, public_opened) = (gate.clone(), gate.clone(), public_gate.clone());
        let serve = move || {
            let lan = listen::serve(listener, tls.clone(), gate.router(), limits, listeners_rx.clone(), grace);
            match public {
                None => tokio::spawn(lan),
                Some(l) => {
                    let public = listen::serve(l, tls, public_gate.router(), limits, listeners_rx, grace);
                    tokio::spawn(async move {
                        tokio::join!(lan, public);
                    })
                }
            }
        };
        // On PostgreSQL the sockets answer as a standby while the lease is someone else's; on
        // SQLite connections wait in the kernel's queue until the state is loaded.
        let on_postgres = cfg.postgres.is_some();
        let mut serve = Some(serve);
        let early = if on_postgres { serve.take().map(|f| f()) } else { None };
        let app = tokio::task::spawn_blocking(move || {
            let (store, lock) = App::open_store(&cfg, |lease| waiting.set_active(&lease.address))?;
            App::build_with(cfg, clock, store, lock)
        })
        .await??;
        app.drop_stale_sessions().await?;
        spawn_ticker(app.state.clone());
        crate::forecast::spawn(app.state.forecaster(), app.state.shutdown.clone());
        if let Some(url) = app.state.cfg.alerts.webhook_url.clone() {
            alerts::spawn_webhook(app.state.clone(), url);
        }
        if app.state.cfg.ticket_texts() {
            sms::spawn_texts(app.state.clone());
        }
        if on_postgres {
            spawn_lease_keeper(app.state.clone());
        }
        if let Some(edge) = app.state.cfg.edge.clone() {
            crate::edge::spawn(crate::edge::Uplink {
                edge,
                cfg: app.state.cfg.clone(),
                clock: app.state.clock.clone(),
                reader: app.state.reader.clone(),
                engine: app.state.engine.clone(),
                status: app.state.upstream.clone(),
                shutdown: app.state.shutdown.clone(),
            });
        }
        opened.open(app.router());
        public_opened.open(public_router(app.state.clone()));
        let task = match (early, serve) {
            (Some(t), _) => t,
            (None, Some(f)) => f(),
            (None, None) => unreachable!("the sockets serve from one place"),
        };
        Ok(Server { addr, public_addr, app, task, listeners_tx })
    }

    /// Resolves when another server took the writer's lease from this one (PostgreSQL).
    pub async fn fenced(&self) {
        let mut rx = self.app.state.engine.shared.fenced_tx.subscribe();
        let _ = rx.wait_for(|f| *f).await;
    }

    /// The public face's address, when it has its own (`[server] public_listen`).
    pub fn public_addr(&self) -> Option<SocketAddr> {
        self.public_addr
    }

    pub fn engine(&self) -> &Engine {
        &self.app.state.engine
    }

    /// Serving HTTPS.
    pub fn tls(&self) -> bool {
        self.app.state.cfg.tls.is_some()
    }

    /// Stop accepting, close event streams, let the writer finish what it has.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.app.shutdown_tx.send(true);
        let _ = self.listeners_tx.send(true);
        if tokio::time::timeout(Duration::from_secs(6), self.task).await.is_err() {
            tracing::warn!("connections did not close within 6 s");
        }
        self.app.shutdown().await;
        Ok(())
    }
}

/// Renews the writer's lease while nothing else commits (PostgreSQL).
fn spawn_lease_keeper(s: AppState) {
    let mut shutdown = s.shutdown.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(crate::store::lease::RENEW / 2);
        loop {
            tokio::select! {
                _ = every.tick() => {
                    if let Err(e) = s.engine.submit(EngineRequest::Renew).await {
                        tracing::warn!(error = %e, "the writer's lease was not renewed");
                    }
                }
                _ = stopped(&mut shutdown) => return,
            }
        }
    });
}

/// Rolls the business day over on time even when nobody issues a ticket (a `Tick` every 5 s;
/// the writer also applies one before every batch), ends idle clerk sessions, and purges old
/// booking personal data at start and every hour.
fn spawn_ticker(s: AppState) {
    let mut shutdown = s.shutdown.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                _ = every.tick() => {
                    if ticks % 720 == 0 {
                        let purge = EngineRequest::Purge { audit_days: s.cfg.audit_days, clerk_days: s.cfg.retention_days };
                        let _ = s.engine.submit(purge).await;
                    }
                    ticks += 1;
                    daily_backup(&s).await;
                    let _ = s.engine.submit(EngineRequest::Domain(crate::domain::Command::Tick)).await;
                    let _ = s.engine.submit(EngineRequest::ExpireIdle { idle_ms: s.cfg.session_idle_ms }).await;
                    let _ = s.engine.submit(EngineRequest::CheckAlerts(s.cfg.alerts.clone())).await;
                }
                _ = stopped(&mut shutdown) => break,
            }
        }
    });
}

/// Runs a query on the read connection, off the async threads.
pub async fn read<T: Send + 'static>(
    s: &AppState,
    query: impl FnOnce(&mut crate::store::Db) -> Result<T, crate::store::DbError> + Send + 'static,
) -> Result<T, AppError> {
    let reader = s.reader.clone();
    tokio::task::spawn_blocking(move || query(&mut reader.lock()))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
        .map_err(|e| AppError::internal(e.to_string()))
}

/// An entry of the audit trail, now, with the client's address (given, else the request's).
pub fn audit_row(s: &AppState, who: &str, action: &str, target: &str, detail: &str, client: Option<std::net::IpAddr>) -> crate::store::AuditRow {
    crate::store::AuditRow {
        at: s.clock.now(),
        actor: who.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        detail: detail.chars().take(500).collect(),
        client: client.or_else(|| CLIENT.try_with(|c| *c).ok().flatten()).map_or_else(|| "-".to_string(), |a| a.to_string()),
    }
}

/// Records something that changed nothing (a report exported, a list viewed, a failed
/// sign-in) in the audit trail. A change is recorded with it: `Engine::submit_audited`.
/// A failure to record is logged, not returned.
pub async fn audit(s: &AppState, who: &str, action: &str, target: &str, detail: &str, client: Option<std::net::IpAddr>) {
    if let Err(e) = s.engine.submit(EngineRequest::Audit(audit_row(s, who, action, target, detail, client))).await {
        tracing::error!(error = %e, action, "audit entry not recorded");
    }
}

/// Who a principal is, for the audit trail.
pub fn actor(p: &Principal) -> String {
    match p {
        Principal::Supervisor { id } => format!("supervisor:{id}"),
        Principal::Clerk { clerk, .. } => format!("clerk:{clerk}"),
        Principal::Kiosk { device, .. }
        | Principal::Display { device, .. }
        | Principal::Pad { device, .. }
        | Principal::Booking { device }
        | Principal::Edge { device, .. } => {
            format!("device:{device}")
        }
    }
}

/// The daily backup of `[backup]`, when it is due (see [`crate::maintenance::daily`]); off the
/// async threads, one at a time. A failure is logged and tried again at the next tick.
pub async fn daily_backup(s: &AppState) {
    static RUNNING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let Some(b) = s.cfg.backups.clone() else { return };
    if RUNNING.swap(true, std::sync::atomic::Ordering::AcqRel) {
        return;
    }
    let local = crate::view::time(s.clock.now()).with_timezone(&s.cfg.topology.tz).naive_local();
    let db = s.cfg.db.clone();
    let done = tokio::task::spawn_blocking(move || crate::maintenance::daily(&db, &b, local)).await;
    RUNNING.store(false, std::sync::atomic::Ordering::Release);
    match done {
        Ok(Ok((made, deleted))) => {
            if let Some((file, sum)) = made {
                tracing::info!(file = %file.display(), tickets = sum.tickets, last_seq = sum.last_seq, bytes = sum.bytes, "daily backup made");
            }
            for f in deleted {
                tracing::info!(file = %f.display(), "old daily backup deleted");
            }
        }
        Ok(Err(e)) => tracing::error!(error = %e, "daily backup failed"),
        Err(e) => tracing::error!(error = %e, "daily backup task failed"),
    }
}

/// Events and answers are small: send them now, not after Nagle's delay.
pub fn no_delay(tcp: &tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
}

/// Resolves once shutdown has begun.
/// Every half second until the server stops: the rows `due` finds on the read connection at
/// the server's time, handed to `each` in order (an outbox's sender). `each` answering `false`
/// ends it (the engine stopped).
pub async fn drain_outbox<T, D, E, F>(s: &AppState, what: &'static str, due: D, mut each: E)
where
    T: Send + 'static,
    D: Fn(&mut crate::store::Db, crate::domain::Millis) -> Result<Vec<T>, crate::store::DbError> + Send + Sync + Clone + 'static,
    E: FnMut(T) -> F,
    F: std::future::Future<Output = bool>,
{
    let mut shutdown = s.shutdown.clone();
    let mut every = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopped(&mut shutdown) => return,
        }
        let (now, reader, due) = (s.clock.now(), s.reader.clone(), due.clone());
        let rows = match tokio::task::spawn_blocking(move || due(&mut reader.lock(), now)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "{what} cannot be read");
                continue;
            }
            Err(_) => continue,
        };
        for row in rows {
            if !each(row).await {
                return;
            }
        }
    }
}

pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await.map(|_| ());
}
