//! Supervisor (值班领导) sessions: sign in with id and password at `/supervisor` or
//! `POST /api/v1/supervisor-sessions`, get a bearer token.
//!
//! Sessions live in memory: a restart of the server signs supervisors out (their page signs in
//! again). The fixed `token_hash` of a supervisor stays valid for API clients.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use parking_lot::Mutex;
use qcall_wire as wire;

use super::{AppError, AppState, ClientAddr, JsonBody};
use crate::secret::{hash_token, new_token};
use crate::domain::Millis;
use wire::ErrorCode;

/// A supervisor session ends after this long without a request.
pub const IDLE_MS: Millis = 4 * 3_600_000;

#[derive(Default)]
pub struct Sessions {
    /// Token hash -> (supervisor id, last request).
    by_hash: Mutex<HashMap<String, (String, Millis)>>,
}

impl Sessions {
    pub fn insert(&self, token_hash: String, supervisor: String, now: Millis) {
        let mut m = self.by_hash.lock();
        m.retain(|_, (_, last)| now - *last <= IDLE_MS);
        m.insert(token_hash, (supervisor, now));
    }

    /// The supervisor of a live session, which this request keeps alive.
    pub fn get(&self, token_hash: &str, now: Millis) -> Option<String> {
        let mut m = self.by_hash.lock();
        match m.get_mut(token_hash) {
            Some((id, last)) if now - *last <= IDLE_MS => {
                *last = now;
                Some(id.clone())
            }
            Some(_) => {
                m.remove(token_hash);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, token_hash: &str) -> bool {
        self.by_hash.lock().remove(token_hash).is_some()
    }
}

pub async fn sign_in(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(req): JsonBody<wire::SupervisorSessionRequest>,
) -> Result<(StatusCode, Json<wire::SupervisorSessionResponse>), AppError> {
    let sup = s.cfg.supervisor(&req.supervisor).cloned();
    let hash = sup.as_ref().and_then(|x| x.password_hash.as_deref());
    super::api::check_secret(&s, &format!("supervisor:{}", req.supervisor), &req.password, hash, addr)
        .await
        .map_err(|e| if e.code == ErrorCode::WrongCredentials { AppError::new(ErrorCode::WrongCredentials, "unknown supervisor or wrong password") } else { e })?;
    let sup = sup.ok_or_else(|| AppError::internal("checked supervisor vanished"))?;
    let token = new_token();
    let now = s.clock.now();
    s.supervisor_sessions.insert(hash_token(&token), sup.id.clone(), now);
    tracing::info!(supervisor = %sup.id, client = ?addr, "supervisor signed in");
    super::audit(&s, &format!("supervisor:{}", sup.id), "sign_in", "", "", addr).await;
    Ok((
        StatusCode::CREATED,
        Json(wire::SupervisorSessionResponse {
            token,
            supervisor: sup.id,
            name: sup.name,
            idle_expires_at: crate::view::time(now + IDLE_MS).to_rfc3339(),
        }),
    ))
}

pub async fn sign_out(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Result<StatusCode, AppError> {
    let token = super::bearer(&headers).ok_or_else(AppError::unauthorized)?;
    if !s.supervisor_sessions.remove(&hash_token(token)) {
        return Err(AppError::unauthorized());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/audit?from=&to=` (supervisors): the audit trail of those days.
pub async fn audit_trail(
    State(s): State<AppState>,
    _: super::SupervisorCaller,
    super::StrictQuery(q): super::StrictQuery<wire::AuditQuery>,
) -> Result<Json<wire::AuditResponse>, AppError> {
    let (from, to) = super::extract::Period::new(&s, &q.from, &q.to, None, None)?.dates();
    let topo = &s.cfg.topology;
    let (from, to) = (topo.at(from, 0), topo.at(to + chrono::Duration::days(1), 0));
    let entries = super::read(&s, move |conn| crate::queries::audit(conn, from, to)).await?;
    Ok(Json(wire::AuditResponse { entries }))
}
