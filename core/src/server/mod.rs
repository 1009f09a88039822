//! HTTP + WebSocket server (axum): the contract the kiosk, the display, the web pages and the
//! tests use. Handlers validate and authorise, then hand commands to the [`Engine`].

mod api;
mod error;
mod pages;
mod stats;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

pub use error::AppError;

use crate::auth::{hash_token, Principal, Tokens};
use crate::config::Config;
use crate::engine::{Clock, Engine, SystemClock};
use crate::store::Store;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 16 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<Config>,
    pub engine: Engine,
    pub tokens: Arc<Tokens>,
    pub clock: Arc<dyn Clock>,
    pub reader: Arc<parking_lot::Mutex<rusqlite::Connection>>,
    pub shutdown: watch::Receiver<bool>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/api/v1/metrics", get(api::metrics))
        .route("/api/v1/halls", get(api::halls))
        .route("/api/v1/halls/{hall}", get(api::hall))
        .route("/api/v1/halls/{hall}/tickets", post(api::issue))
        .route("/api/v1/halls/{hall}/publicity", axum::routing::put(api::set_publicity))
        .route("/api/v1/halls/{hall}/events", get(ws::hall_events))
        .route("/api/v1/events", get(ws::all_events))
        .route("/api/v1/tickets/{id}", get(api::ticket))
        .route("/api/v1/tickets/{id}/requeue", post(api::requeue))
        .route("/api/v1/sessions", post(api::sign_in).delete(api::sign_out))
        .route("/api/v1/counters/{counter}/{action}", post(api::counter_action))
        .route("/api/v1/devices/{device}/status", post(api::device_status))
        .route("/api/v1/counters/{counter}/queue", get(stats::queue))
        .route("/api/v1/tickets/{id}/rating", post(stats::rate))
        .route("/api/v1/stats/today", get(stats::today))
        .route("/api/v1/stats", get(stats::between))
        .route("/api/v1/reports/tickets", get(stats::tickets_report))
        .route("/counter", get(pages::counter))
        .route("/screen/counter/{counter}", get(pages::screen))
        .route("/rate/{counter}", get(pages::rate))
        .route("/t/{id}", get(pages::ticket))
        .route("/web/{file}", get(pages::asset))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
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
                AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("request bodies are limited to {MAX_BODY} bytes"))
            } else {
                AppError::bad_request("bad_body", "the request body could not be read")
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
        let text = std::str::from_utf8(&bytes).map_err(|_| AppError::bad_request("bad_utf8", "the body is not UTF-8"))?;
        serde_json::from_str(text).map(JsonBody).map_err(|e| AppError::bad_request("bad_json", format!("invalid JSON body: {e}")))
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
        let core = state.engine.shared.core.read();
        match core.sessions.get(&hash) {
            Some(s) => Ok(Caller(Principal::Clerk { clerk: s.clerk.clone(), counter: s.counter })),
            None => Err(AppError::unauthorized()),
        }
    }
}

pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))?.trim();
    (!token.is_empty() && token.len() <= 256).then_some(token)
}

pub struct Server {
    pub addr: SocketAddr,
    pub engine: Engine,
    shutdown_tx: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    writer: std::thread::JoinHandle<()>,
}

impl Server {
    /// Open the store, load the state, bind and start serving.
    pub async fn start(cfg: Config) -> anyhow::Result<Server> {
        let cfg = Arc::new(cfg);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let db = cfg.db.clone();
        let topo = cfg.topology.clone();
        let clock2 = clock.clone();
        let (engine, writer, reader) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let store = Store::open(&db, topo)?;
            let (engine, writer) = Engine::start(store, clock2)?;
            let reader = crate::store::open_connection(&db)?;
            Ok((engine, writer, reader))
        })
        .await??;
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown_tx, shutdown) = watch::channel(false);
        let state = AppState {
            tokens: Arc::new(Tokens::from_config(&cfg)),
            cfg,
            engine: engine.clone(),
            clock,
            reader: Arc::new(parking_lot::Mutex::new(reader)),
            shutdown: shutdown.clone(),
        };
        spawn_ticker(engine.clone(), shutdown.clone());
        let app = router(state);
        let mut sd = shutdown.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener.tap_io(no_delay), app)
                .with_graceful_shutdown(async move { stopped(&mut sd).await })
                .await
        });
        Ok(Server { addr, engine, shutdown_tx, task, writer })
    }

    /// Stop accepting, close event streams, let the writer finish what it has.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown_tx.send(true);
        match tokio::time::timeout(Duration::from_secs(5), self.task).await {
            Ok(r) => r??,
            Err(_) => tracing::warn!("connections did not close within 5 s"),
        }
        drop(self.engine);
        // The writer ends when the last engine handle is gone and its queue is drained.
        let writer = self.writer;
        tokio::task::spawn_blocking(move || {
            let _ = writer.join();
        })
        .await?;
        Ok(())
    }
}

/// Rolls the business day over on time even when nobody issues a ticket.
fn spawn_ticker(engine: Engine, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = every.tick() => {
                    let _ = engine.submit(crate::engine::Request::Domain(crate::domain::Command::Tick)).await;
                }
                _ = stopped(&mut shutdown) => break,
            }
        }
    });
}

/// Events and answers are small: send them now, not after Nagle's delay.
pub fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
}

/// Resolves once shutdown has begun.
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await.map(|_| ());
}
