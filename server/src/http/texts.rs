//! `POST /api/v1/tickets/{id}/phone`: a taxpayer leaves a mobile number on the ticket page
//! for the near-turn and called messages (sent by `sms::spawn_texts`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::extract::ticket_id;
use super::{AppError, AppState, JsonBody};
use crate::domain::appointments::{mask_phone, valid_phone};
use crate::engine::Request;

pub async fn leave_phone(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<wire::TicketPhoneRequest>,
) -> Result<(StatusCode, Json<wire::TicketPhone>), AppError> {
    let id = ticket_id(&id)?;
    if !s.cfg.ticket_texts() {
        return Err(AppError::new(ErrorCode::SmsUnavailable, "this hall sends no text messages about tickets"));
    }
    let phone = req.phone.trim().to_string();
    if !valid_phone(&phone) {
        return Err(AppError::new(ErrorCode::InvalidPhone, "phone: an 11-digit mobile number such as 13812341234"));
    }
    let code = req.phone_code.trim();
    if code.is_empty() {
        return Err(AppError::new(ErrorCode::PhoneCodeRequired, "phone_code: send one with POST /api/v1/appointments/phone-code"));
    }
    let now = s.clock.now();
    let taken = s.phone_codes.lock().take(&phone, code, now).map_err(|e| AppError::new(ErrorCode::WrongPhoneCode, e.to_string()))?;
    if let Err(e) = s.engine.submit(Request::SetPhone { ticket: id, phone: phone.clone() }).await {
        s.phone_codes.lock().restore(taken);
        return Err(e.into());
    }
    tracing::info!(ticket = id, phone = %mask_phone(&phone), "number left for the ticket's messages");
    Ok((StatusCode::CREATED, Json(wire::TicketPhone { ticket: id, phone: mask_phone(&phone) })))
}
