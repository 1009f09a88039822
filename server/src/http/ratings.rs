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
