//! A standby server (PostgreSQL): it listens from the start, but until it holds the writer's
//! lease it answers everything with 503 `standby` and where the active server is, and
//! `/healthz` says so (a proxy's health check then sends nothing its way). Once it takes the
//! lease and has loaded the state, the same sockets serve the application.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use qcall_wire as wire;
use tower::ServiceExt;

/// What a socket serves: the standby's answers, then the application.
#[derive(Clone, Default)]
pub struct Gate {
    app: Arc<parking_lot::RwLock<Option<Router>>>,
    /// The active server's URL, as its lease says.
    active: Arc<parking_lot::Mutex<Option<String>>>,
}

impl Gate {
    /// A gate for another socket (the public face) that knows the same active server.
    pub fn sibling(&self) -> Gate {
        Gate { app: Arc::default(), active: self.active.clone() }
    }

    pub fn set_active(&self, url: &str) {
        *self.active.lock() = (!url.is_empty()).then(|| url.to_string());
    }

    /// From now on, the application answers.
    pub fn open(&self, app: Router) {
        *self.app.write() = Some(app);
    }

    pub fn router(&self) -> Router {
        let gate = self.clone();
        Router::new().fallback_service(tower::service_fn(move |req: Request<Body>| {
            let gate = gate.clone();
            async move {
                let app = gate.app.read().clone();
                Ok::<_, std::convert::Infallible>(match app {
                    Some(app) => app.oneshot(req).await.unwrap_or_else(|e| match e {}),
                    None => gate.standby(req.uri().path()),
                })
            }
        }))
    }

    fn standby(&self, path: &str) -> Response {
        let active = self.active.lock().clone();
        if path == "/healthz" {
            let body = wire::HealthResponse {
                status: "standby".into(),
                role: "standby".into(),
                active: active.clone(),
                upstream: None,
                seq: 0,
                store: wire::StoreHealth::default(),
                problems: vec![match &active {
                    Some(a) => format!("standby: the active server is {a}"),
                    None => "standby: waiting for the writer's lease".into(),
                }],
            };
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        }
        let message = match &active {
            Some(a) => format!("this server is the standby; the active one is {a}"),
            None => "this server is the standby, waiting to take over".into(),
        };
        let mut detail = wire::ErrorDetail::new(wire::ErrorCode::Standby, message);
        detail.active = active;
        detail.retry_after_s = Some(1);
        let mut r = (StatusCode::SERVICE_UNAVAILABLE, Json(wire::ErrorBody { error: detail })).into_response();
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
        r
    }
}
