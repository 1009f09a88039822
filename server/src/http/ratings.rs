//! `POST /api/v1/tickets/{id}/rating` (满意度评价): the rating pad of the counter that finished
//! the ticket, within `rating_window_s` of 办结, once; or a supervisor (same rule, the counter
//! taken from the ticket).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::extract::{ItsPad, TicketAt};
use super::{AppError, AppState, JsonBody};
use crate::auth::Principal;
use crate::domain::Command;
use crate::engine::Request;

pub async fn rate(
    State(s): State<AppState>,
    TicketAt { id, counter: ticket_counter, number, who, .. }: TicketAt<ItsPad>,
    JsonBody(req): JsonBody<wire::RatingRequest>,
) -> Result<(StatusCode, Json<wire::RatingResponse>), AppError> {
    let only_pad = || AppError::forbidden("only the rating pad of the counter that served the ticket may rate it");
    let counter = match &who {
        Principal::Pad { counter, .. } => *counter,
        Principal::Supervisor { .. } => ticket_counter
            .ok_or_else(|| AppError::new(ErrorCode::RatingNotAllowed, "this ticket was not served at a counter"))?,
        _ => return Err(only_pad()),
    };
    if ticket_counter != Some(counter) {
        return Err(only_pad());
    }
    let window_ms = i64::from(s.cfg.rating_window_s) * 1000;
    s.engine.submit(Request::Domain(Command::Rate { counter, ticket: id, score: req.score, window_ms })).await?;
    let counter_id = s.cfg.topology.counters[counter].id.clone();
    tracing::info!(ticket = id, counter = %counter_id, score = req.score, "rated");
    let ask_reasons = if req.score <= 2 { s.cfg.topology.rating_reasons.clone() } else { vec![] };
    Ok((StatusCode::CREATED, Json(wire::RatingResponse { ticket: id, number, counter: counter_id, score: req.score, ask_reasons })))
}

/// `POST /api/v1/tickets/{id}/phone-rating`: the taxpayer rates a ticket finished today on its
/// page, reached by the printed QR code's link (its key proves the paper is in hand). A score of
/// 1 or 2 opens a 好差评 case with the reasons given, as a pad's does.
pub async fn rate_by_phone(
    State(s): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    JsonBody(req): JsonBody<wire::PhoneRatingRequest>,
) -> Result<(StatusCode, Json<wire::RatingResponse>), AppError> {
    let id = super::extract::ticket_id(&id)?;
    if !crate::phone_codes::same(s.ticket_link_key(id).as_bytes(), req.key.trim().as_bytes()) {
        return Err(AppError::forbidden("this link does not rate that ticket: use the QR code printed on it"));
    }
    let known = &s.cfg.topology.rating_reasons;
    let mut reasons: Vec<String> = Vec::new();
    for r in req.reasons.iter().filter(|_| req.score <= 2) {
        if !known.contains(r) {
            return Err(AppError::new(ErrorCode::UnknownRatingReason, format!("the reasons are {}", known.join("、"))));
        }
        if !reasons.contains(r) {
            reasons.push(r.clone());
        }
    }
    let (number, counter) = {
        let core = s.engine.shared.core.read().await;
        let t = core.state.ticket(id).ok_or_else(|| AppError::new(ErrorCode::UnknownTicket, format!("no ticket {id} today")))?;
        (core.state.number(t), t.counter)
    };
    s.engine.submit(Request::Domain(Command::RateByPhone { ticket: id, score: req.score })).await?;
    let counter_id = counter.map(|c| s.cfg.topology.counters[c].id.clone()).unwrap_or_default();
    tracing::info!(ticket = id, counter = %counter_id, score = req.score, "rated on the phone");
    if req.score <= 2 && !reasons.is_empty() {
        let detail = reasons.join("、");
        let row = super::audit_row(&s, "taxpayer:phone", "case_reasons", &format!("ticket:{id}"), &detail, None);
        s.engine.submit_audited(Request::CaseReasons { ticket: id, reasons }, row).await?;
    }
    Ok((StatusCode::CREATED, Json(wire::RatingResponse { ticket: id, number, counter: counter_id, score: req.score, ask_reasons: vec![] })))
}
