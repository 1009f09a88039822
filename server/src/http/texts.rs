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
    headers: axum::http::HeaderMap,
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
    // The ticket's own hall kiosk is trusted: the taxpayer types the number there in person.
    let kiosk_hall = super::bearer(&headers).and_then(|t| match s.tokens.get(&crate::secret::hash_token(t)) {
        Some(crate::auth::Principal::Kiosk { hall, .. }) => Some(*hall),
        _ => None,
    });
    let code = req.phone_code.trim();
    let taken = match kiosk_hall {
        Some(h) => {
            let core = s.engine.shared.core.read().await;
            if core.state.ticket(id).is_some_and(|t| t.issued_hall != h) {
                return Err(AppError::forbidden("a kiosk takes numbers for its own hall's tickets only"));
            }
            None
        }
        None if code.is_empty() => {
            return Err(AppError::new(ErrorCode::PhoneCodeRequired, "phone_code: send one with POST /api/v1/appointments/phone-code"));
        }
        None => {
            let now = s.clock.now();
            Some(s.phone_codes.lock().take(&phone, code, now).map_err(|e| AppError::new(ErrorCode::WrongPhoneCode, e.to_string()))?)
        }
    };
    if let Err(e) = s.engine.submit(Request::SetPhone { ticket: id, phone: phone.clone() }).await {
        if let Some(taken) = taken {
            s.phone_codes.lock().restore(taken);
        }
        return Err(e.into());
    }
    tracing::info!(ticket = id, phone = %mask_phone(&phone), "number left for the ticket's messages");
    Ok((StatusCode::CREATED, Json(wire::TicketPhone { ticket: id, phone: mask_phone(&phone) })))
}
