//! JSON handlers. Each one: parse strictly, authorise, submit to the engine, answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use qcall_wire as wire;
use serde::Deserialize;

use super::{AppError, AppState, Caller, JsonBody, RawBody};
use crate::auth::{hash_token, new_token, verify_pin, Principal};
use crate::domain::{Command, TicketId};
use crate::engine::{Outcome, Request};
use crate::view;

pub async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let seq = s.engine.shared.core.read().seq;
    Json(serde_json::json!({ "status": "ok", "seq": seq }))
}

/// Counters for operators and the benchmark (supervisor only).
pub async fn metrics(State(s): State<AppState>, Caller(who): Caller) -> Result<Json<serde_json::Value>, AppError> {
    if !who.is_supervisor() {
        return Err(AppError::forbidden("metrics are for supervisors"));
    }
    let shared = &s.engine.shared;
    let (seq, tickets_in_memory, subscribers) = {
        let core = shared.core.read();
        (core.seq, core.state.tickets().count(), shared.events.receiver_count())
    };
    Ok(Json(serde_json::json!({
        "seq": seq,
        "commits": shared.commits.load(std::sync::atomic::Ordering::Relaxed),
        "batches": shared.batches_applied.load(std::sync::atomic::Ordering::Relaxed),
        "writer_busy_us": shared.writer_busy_us.load(std::sync::atomic::Ordering::Relaxed),
        "tickets_in_memory": tickets_in_memory,
        "subscribers": subscribers,
    })))
}

pub async fn not_found() -> AppError {
    AppError::not_found("not_found", "no such endpoint")
}

pub async fn method_not_allowed() -> AppError {
    AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method")
}

pub async fn halls(State(s): State<AppState>) -> Json<wire::HallsResponse> {
    let core = s.engine.shared.core.read();
    let halls = (0..core.state.topology().halls.len()).map(|h| view::hall(&core.state, h, &core.devices)).collect();
    Json(wire::HallsResponse { version: wire::API_VERSION, seq: core.seq, halls })
}

pub async fn hall(State(s): State<AppState>, Path(hall): Path<String>) -> Result<Json<wire::HallInfo>, AppError> {
    let h = hall_ix(&s, &hall)?;
    let core = s.engine.shared.core.read();
    Ok(Json(view::hall(&core.state, h, &core.devices)))
}

pub fn hall_ix(s: &AppState, hall: &str) -> Result<usize, AppError> {
    s.cfg.topology.hall_ix(hall).ok_or_else(|| AppError::not_found("unknown_hall", format!("no hall `{}`", clip(hall))))
}

pub fn counter_ix(s: &AppState, counter: &str) -> Result<usize, AppError> {
    s.cfg
        .topology
        .counter_ix(counter)
        .ok_or_else(|| AppError::not_found("unknown_counter", format!("no counter `{}`", clip(counter))))
}

fn service_ix(s: &AppState, service: &str) -> Result<usize, AppError> {
    s.cfg
        .topology
        .service_ix(service)
        .ok_or_else(|| AppError::not_found("unknown_service", format!("no service `{}`", clip(service))))
}

/// Echo at most 40 characters of client input in messages.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

pub fn ticket_id(id: &str) -> Result<TicketId, AppError> {
    id.parse().map_err(|_| AppError::not_found("unknown_ticket", "ticket ids are numbers"))
}

fn ticket_view(s: &AppState, id: TicketId) -> Option<wire::Ticket> {
    let core = s.engine.shared.core.read();
    core.state.ticket(id).map(|t| view::ticket(&core.state, t))
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
            return Err(AppError::bad_request("bad_request_id", "request_id must be 1-64 printable ASCII characters"));
        }
    }
    let cmd = Command::Issue { hall: h, service, priority: req.priority.unwrap_or_default(), request_id: req.request_id };
    let (status, id) = match s.engine.submit(Request::Domain(cmd)).await? {
        Outcome::Existing(id) => (StatusCode::OK, id),
        Outcome::Applied(msgs) => match msgs.iter().find_map(|b| match &b.msg.kind {
            wire::EventKind::TicketIssued { ticket } => Some(ticket.clone()),
            _ => None,
        }) {
            Some(t) => return Ok((StatusCode::CREATED, Json(t))),
            None => return Err(AppError::internal("issue produced no ticket")),
        },
    };
    let t = ticket_view(&s, id).ok_or_else(|| AppError::internal("repeated ticket vanished"))?;
    Ok((status, Json(t)))
}

pub async fn ticket(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<wire::Ticket>, AppError> {
    let id = ticket_id(&id)?;
    if let Some(t) = ticket_view(&s, id) {
        return Ok(Json(t));
    }
    // Older tickets are only in the database.
    let reader = s.reader.clone();
    let topo = s.cfg.topology.clone();
    let found = tokio::task::spawn_blocking(move || crate::reports::ticket_from_db(&reader.lock(), &topo, id))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
        .map_err(|e| AppError::internal(e.to_string()))?;
    found.map(Json).ok_or_else(|| AppError::not_found("unknown_ticket", format!("no ticket {id}")))
}

pub async fn requeue(State(s): State<AppState>, Caller(who): Caller, Path(id): Path<String>) -> Result<Json<wire::Ticket>, AppError> {
    let id = ticket_id(&id)?;
    let hall = {
        let core = s.engine.shared.core.read();
        core.state.ticket(id).map(|t| t.hall).ok_or_else(|| AppError::not_found("unknown_ticket", format!("no ticket {id}")))?
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
    let wrong = || AppError::unauthorized_with("wrong_credentials", "unknown clerk or wrong PIN");
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

/// Bodies of counter actions. Actions without parameters take no body, or `{}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Empty {}

pub async fn counter_action(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((counter, action)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Json<wire::CounterActionResponse>, AppError> {
    let c = counter_ix(&s, &counter)?;
    match &who {
        Principal::Supervisor { .. } => {}
        Principal::Clerk { counter, .. } if *counter == c => {}
        Principal::Clerk { .. } => return Err(AppError::forbidden("a clerk may only act on the counter they signed in at")),
        _ => return Err(AppError::forbidden("only clerks and supervisors act on counters")),
    }
    let parse = |allow_empty: bool| -> Result<serde_json::Value, AppError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return if allow_empty { Ok(serde_json::json!({})) } else { Err(AppError::bad_request("bad_json", "a JSON body is required")) };
        }
        let text = std::str::from_utf8(&body).map_err(|_| AppError::bad_request("bad_utf8", "the body is not UTF-8"))?;
        serde_json::from_str(text).map_err(|e| AppError::bad_request("bad_json", format!("invalid JSON body: {e}")))
    };
    let no_body = || -> Result<(), AppError> {
        let v = parse(true)?;
        serde_json::from_value::<Empty>(v).map(|_| ()).map_err(|e| AppError::bad_request("bad_json", format!("invalid JSON body: {e}")))
    };
    let cmd = match action.as_str() {
        "call-next" => no_body().map(|_| Command::CallNext { counter: c })?,
        "recall" => no_body().map(|_| Command::Recall { counter: c })?,
        "no-show" => no_body().map(|_| Command::NoShow { counter: c })?,
        "finish" => no_body().map(|_| Command::Finish { counter: c })?,
        "pause" => no_body().map(|_| Command::Pause { counter: c })?,
        "resume" => no_body().map(|_| Command::Resume { counter: c })?,
        "transfer" => {
            let req: wire::TransferRequest = serde_json::from_value(parse(false)?)
                .map_err(|e| AppError::bad_request("bad_json", format!("invalid JSON body: {e}")))?;
            Command::Transfer {
                counter: c,
                service: req.service.as_deref().map(|x| service_ix(&s, x)).transpose()?,
                to_counter: req.counter.as_deref().map(|x| counter_ix(&s, x)).transpose()?,
                hall: req.hall.as_deref().map(|x| hall_ix(&s, x)).transpose()?,
            }
        }
        "call" => {
            let req: wire::CallRequest = serde_json::from_value(parse(false)?)
                .map_err(|e| AppError::bad_request("bad_json", format!("invalid JSON body: {e}")))?;
            let ticket = match req.ticket {
                wire::TicketRef::Id(id) => id,
                wire::TicketRef::Number(n) => {
                    let core = s.engine.shared.core.read();
                    let hall = s.cfg.topology.counters[c].hall;
                    core.state
                        .ticket_by_number(hall, &n)
                        .map(|t| t.id)
                        .ok_or_else(|| AppError::not_found("unknown_ticket", format!("no ticket `{}` today in this hall", clip(&n))))?
                }
            };
            Command::Call { counter: c, ticket }
        }
        other => return Err(AppError::not_found("unknown_action", format!("no counter action `{}`", clip(other)))),
    };
    let outcome = s.engine.submit(Request::Domain(cmd)).await?;
    let ticket = match outcome {
        Outcome::Applied(msgs) => msgs.iter().rev().find_map(|b| match &b.msg.kind {
            wire::EventKind::TicketCalled { ticket, .. }
            | wire::EventKind::TicketFinished { ticket, .. }
            | wire::EventKind::TicketNoShow { ticket, .. }
            | wire::EventKind::TicketTransferred { ticket, .. } => Some(ticket.clone()),
            _ => None,
        }),
        Outcome::Existing(_) => None,
    };
    let core = s.engine.shared.core.read();
    Ok(Json(wire::CounterActionResponse { ticket, counter: view::counter(&core.state, c) }))
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
        .ok_or_else(|| AppError::not_found("unknown_device", format!("no device `{}`", clip(&device))))?;
    match &who {
        Principal::Supervisor { .. } => {}
        Principal::Kiosk { device, .. } | Principal::Display { device, .. } | Principal::Pad { device, .. }
            if *device == dev.id => {}
        _ => return Err(AppError::forbidden("a device reports only its own status")),
    }
    if req.code.len() > 64 || req.message.chars().count() > 200 {
        return Err(AppError::bad_request("too_long", "code is at most 64 bytes, message at most 200 characters"));
    }
    let status = wire::DeviceStatus {
        device: dev.id.clone(),
        kind: match dev.kind {
            crate::config::DeviceKind::Kiosk => "kiosk".into(),
            crate::config::DeviceKind::Display => "display".into(),
            crate::config::DeviceKind::Pad { .. } => "pad".into(),
        },
        ok: req.ok,
        code: req.code,
        message: req.message,
        at: view::time(s.clock.now()),
    };
    s.engine.submit(Request::DeviceStatus { device: dev.id.clone(), hall: dev.hall, status }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicityRequest {
    messages: Vec<String>,
}

pub async fn set_publicity(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(hall): Path<String>,
    JsonBody(req): JsonBody<PublicityRequest>,
) -> Result<Json<wire::HallInfo>, AppError> {
    let h = hall_ix(&s, &hall)?;
    if !who.is_supervisor() {
        return Err(AppError::forbidden("only supervisors edit publicity"));
    }
    if req.messages.len() > 50 || req.messages.iter().any(|m| m.chars().count() > 500) {
        return Err(AppError::bad_request("too_long", "at most 50 messages of at most 500 characters"));
    }
    s.engine.submit(Request::Domain(Command::SetPublicity { hall: h, messages: req.messages })).await?;
    let core = s.engine.shared.core.read();
    Ok(Json(view::hall(&core.state, h, &core.devices)))
}
