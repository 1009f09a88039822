//! Hall state, tickets, issuing, sign-in, device status, publicity, health. Each handler: parse
//! strictly, authorise, submit to the engine, answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::{AppError, AppState, Caller, JsonBody, NoBody};
use crate::auth::{hash_token, new_token, verify_pin, Principal};
use crate::domain::{Command, TicketId};
use crate::engine::{Outcome, Request};
use crate::view;

pub async fn healthz(State(s): State<AppState>) -> Json<wire::HealthResponse> {
    let seq = s.engine.shared.core.read().seq;
    Json(wire::HealthResponse { status: "ok".into(), seq })
}

/// Counters for operators and the benchmark (supervisor only).
pub async fn metrics(State(s): State<AppState>, Caller(who): Caller) -> Result<Json<wire::MetricsResponse>, AppError> {
    if !who.is_supervisor() {
        return Err(AppError::forbidden("metrics are for supervisors"));
    }
    let shared = &s.engine.shared;
    let (seq, tickets_in_memory, subscribers) = {
        let core = shared.core.read();
        (core.seq, core.state.tickets().count() as u64, shared.events.receiver_count() as u64)
    };
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Json(wire::MetricsResponse {
        seq,
        commits: load(&shared.commits),
        batches: load(&shared.batches_applied),
        writer_busy_us: load(&shared.writer_busy_us),
        tickets_in_memory,
        subscribers,
    }))
}

pub async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such endpoint")
}

pub async fn method_not_allowed() -> AppError {
    AppError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
}

pub async fn halls(State(s): State<AppState>) -> Json<wire::HallsResponse> {
    let core = s.engine.shared.core.read();
    Json(wire::HallsResponse { version: wire::API_VERSION, seq: core.seq, halls: view::halls(&core) })
}

pub async fn hall(State(s): State<AppState>, Path(hall): Path<String>) -> Result<Json<wire::HallInfo>, AppError> {
    let h = hall_ix(&s, &hall)?;
    let core = s.engine.shared.core.read();
    Ok(Json(view::hall(&core, h)))
}

pub fn hall_ix(s: &AppState, hall: &str) -> Result<usize, AppError> {
    s.cfg.topology.hall_ix(hall).ok_or_else(|| AppError::new(ErrorCode::UnknownHall, format!("no hall `{}`", clip(hall))))
}

pub fn counter_ix(s: &AppState, counter: &str) -> Result<usize, AppError> {
    s.cfg
        .topology
        .counter_ix(counter)
        .ok_or_else(|| AppError::new(ErrorCode::UnknownCounter, format!("no counter `{}`", clip(counter))))
}

pub fn service_ix(s: &AppState, service: &str) -> Result<usize, AppError> {
    s.cfg
        .topology
        .service_ix(service)
        .ok_or_else(|| AppError::new(ErrorCode::UnknownService, format!("no service `{}`", clip(service))))
}

/// Echo at most 40 characters of client input in messages.
pub fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

pub fn ticket_id(id: &str) -> Result<TicketId, AppError> {
    id.parse().map_err(|_| AppError::new(ErrorCode::UnknownTicket, "ticket ids are numbers"))
}

pub fn ticket_view(s: &AppState, id: TicketId) -> Option<wire::Ticket> {
    let core = s.engine.shared.core.read();
    core.state.ticket(id).map(|t| view::ticket(&core.state, t))
}

/// A ticket from memory, or else from the database (an earlier day's).
pub async fn find_ticket(s: &AppState, id: TicketId) -> Result<Option<wire::Ticket>, AppError> {
    if let Some(t) = ticket_view(s, id) {
        return Ok(Some(t));
    }
    let reader = s.reader.clone();
    let topo = s.cfg.topology.clone();
    tokio::task::spawn_blocking(move || crate::queries::ticket(&reader.lock(), &topo, id))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
        .map_err(|e| AppError::internal(e.to_string()))
}

pub async fn issue(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(hall): Path<String>,
    JsonBody(req): JsonBody<wire::IssueRequest>,
) -> Result<impl IntoResponse, AppError> {
    let h = hall_ix(&s, &hall)?;
    match &who {
        Principal::Kiosk { hall, .. } if *hall == h => {}
        Principal::Supervisor { .. } => {}
        Principal::Kiosk { .. } => return Err(AppError::forbidden("a kiosk may only issue tickets in its own hall")),
        _ => return Err(AppError::forbidden("only kiosks issue tickets")),
    }
    let service = service_ix(&s, &req.service)?;
    if let Some(r) = &req.request_id {
        if r.is_empty() || r.len() > 64 || !r.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AppError::new(ErrorCode::BadRequestId, "request_id must be 1-64 printable ASCII characters"));
        }
    }
    let cmd = Command::Issue { hall: h, service, priority: req.priority.unwrap_or_default(), request_id: req.request_id };
    let id = match s.engine.submit(Request::Domain(cmd)).await? {
        Outcome::Existing(id) => id,
        Outcome::Applied(msgs) => {
            return match msgs.iter().find_map(|b| match &b.msg.kind {
                wire::EventKind::TicketIssued { ticket } => Some(ticket.clone()),
                _ => None,
            }) {
                Some(t) => Ok((StatusCode::CREATED, Json(t))),
                None => Err(AppError::internal("issue produced no ticket")),
            }
        }
    };
    let t = ticket_view(&s, id).ok_or_else(|| AppError::internal("repeated ticket vanished"))?;
    Ok((StatusCode::OK, Json(t)))
}

pub async fn ticket(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<wire::Ticket>, AppError> {
    let id = ticket_id(&id)?;
    find_ticket(&s, id).await?.map(Json).ok_or_else(|| AppError::new(ErrorCode::UnknownTicket, format!("no ticket {id}")))
}

pub async fn requeue(State(s): State<AppState>, Caller(who): Caller, Path(id): Path<String>, NoBody: NoBody) -> Result<Json<wire::Ticket>, AppError> {
    let id = ticket_id(&id)?;
    let hall = {
        let core = s.engine.shared.core.read();
        core.state
            .ticket(id)
            .map(|t| t.hall)
            .ok_or_else(|| AppError::new(ErrorCode::UnknownTicket, format!("no ticket {id}")))?
    };
    match &who {
        Principal::Supervisor { .. } => {}
        Principal::Clerk { counter, .. } if s.cfg.topology.counters[*counter].hall == hall => {}
        _ => return Err(AppError::forbidden("only a clerk of the ticket's hall or a supervisor may requeue it")),
    }
    s.engine.submit(Request::Domain(Command::Requeue { ticket: id })).await?;
    ticket_view(&s, id).map(Json).ok_or_else(|| AppError::internal("requeued ticket vanished"))
}

pub async fn sign_in(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<wire::SessionRequest>,
) -> Result<(StatusCode, Json<wire::SessionResponse>), AppError> {
    let counter = counter_ix(&s, &req.counter)?;
    let wrong = || AppError::new(ErrorCode::WrongCredentials, "unknown clerk or wrong PIN");
    let clerk = s.cfg.clerk(&req.clerk).ok_or_else(wrong)?.clone();
    if req.pin.len() > 64 {
        return Err(wrong());
    }
    let pin = req.pin.clone();
    let hash = clerk.pin_hash.clone();
    let ok = tokio::task::spawn_blocking(move || verify_pin(&pin, &hash)).await.map_err(|e| AppError::internal(e.to_string()))?;
    if !ok {
        tracing::warn!(clerk = %clerk.id, "wrong PIN");
        return Err(wrong());
    }
    let token = new_token();
    s.engine.submit(Request::SignIn { counter, clerk: clerk.id.clone(), token_hash: hash_token(&token) }).await?;
    let def = &s.cfg.topology.counters[counter];
    tracing::info!(clerk = %clerk.id, counter = %def.id, "signed in");
    Ok((
        StatusCode::CREATED,
        Json(wire::SessionResponse {
            token,
            clerk: clerk.id,
            clerk_name: clerk.name,
            counter: def.id.clone(),
            counter_number: def.number,
            hall: s.cfg.topology.halls[def.hall].id.clone(),
        }),
    ))
}

pub async fn sign_out(State(s): State<AppState>, Caller(who): Caller, headers: axum::http::HeaderMap) -> Result<StatusCode, AppError> {
    let Principal::Clerk { counter, .. } = who else {
        return Err(AppError::forbidden("only clerk sessions sign out"));
    };
    let token = super::bearer(&headers).ok_or_else(AppError::unauthorized)?;
    s.engine.submit(Request::SignOut { counter, token_hash: hash_token(token) }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn device_status(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(device): Path<String>,
    JsonBody(req): JsonBody<wire::DeviceStatusReport>,
) -> Result<StatusCode, AppError> {
    let dev = s
        .cfg
        .devices
        .iter()
        .find(|d| d.id == device)
        .ok_or_else(|| AppError::new(ErrorCode::UnknownDevice, format!("no device `{}`", clip(&device))))?;
    match &who {
        Principal::Supervisor { .. } => {}
        Principal::Kiosk { device, .. } | Principal::Display { device, .. } | Principal::Pad { device, .. }
            if *device == dev.id => {}
        _ => return Err(AppError::forbidden("a device reports only its own status")),
    }
    if req.code.len() > 64 || req.message.chars().count() > 200 {
        return Err(AppError::new(ErrorCode::TooLong, "code is at most 64 bytes, message at most 200 characters"));
    }
    let status = wire::DeviceStatus {
        device: dev.id.clone(),
        kind: dev.kind.name().into(),
        ok: req.ok,
        code: req.code,
        message: req.message,
        at: view::time(s.clock.now()),
    };
    s.engine.submit(Request::DeviceStatus { device: dev.id.clone(), hall: dev.hall, status }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_publicity(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(hall): Path<String>,
    JsonBody(req): JsonBody<wire::PublicityRequest>,
) -> Result<Json<wire::HallInfo>, AppError> {
    let h = hall_ix(&s, &hall)?;
    if !who.is_supervisor() {
        return Err(AppError::forbidden("only supervisors edit publicity"));
    }
    if req.messages.len() > 50 || req.messages.iter().any(|m| m.chars().count() > 500) {
        return Err(AppError::new(ErrorCode::TooLong, "at most 50 messages of at most 500 characters"));
    }
    s.engine.submit(Request::Domain(Command::SetPublicity { hall: h, messages: req.messages })).await?;
    let core = s.engine.shared.core.read();
    Ok(Json(view::hall(&core, h)))
}
