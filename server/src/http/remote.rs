//! `POST /api/v1/halls/{hall}/remote-tickets`: a remote ticket (线上取号) for today, taken on
//! the phone before coming and checked in at the hall's kiosk on arrival.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::appointments::limited;
use super::extract::{hall_ix, service_ix};
use super::{AppError, AppState, ClientAddr, JsonBody};
use crate::domain::appointments::{mask_phone, valid_phone};
use crate::domain::{Command, DomainError};
use crate::engine::{EngineError, Outcome, Request};

pub async fn take(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::extract::Path(hall): axum::extract::Path<String>,
    JsonBody(req): JsonBody<wire::RemoteTicketRequest>,
) -> Result<(StatusCode, Json<wire::RemoteTicket>), AppError> {
    let h = hall_ix(&s, &hall)?;
    let service = service_ix(&s, &req.service)?;
    if s.cfg.topology.halls[h].phone.remote_quota == 0 {
        return Err(AppError::new(ErrorCode::RemoteOff, "this hall takes no remote tickets: please take a number at the hall"));
    }
    let phone = req.phone.trim().to_string();
    if !valid_phone(&phone) {
        return Err(AppError::new(ErrorCode::InvalidPhone, "phone: an 11-digit mobile number such as 13812341234"));
    }
    let rid = req.request_id.trim();
    if rid.is_empty() || rid.len() > 64 || !rid.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AppError::new(ErrorCode::BadRequestId, "request_id must be 1-64 printable ASCII characters"));
    }
    let code = req.phone_code.trim();
    if code.is_empty() {
        return Err(AppError::new(ErrorCode::PhoneCodeRequired, "phone_code: send one with POST /api/v1/appointments/phone-code"));
    }
    let now = s.clock.now();
    if let Some(a) = addr {
        s.limits.bookings.take_addr(a, now).map_err(limited(ErrorCode::TooManyBookings, "tickets from this address"))?;
    }
    // A retry of a request that made its ticket: the same ticket, though the code is used up.
    let repeated = s.engine.shared.core.read().await.state.ticket_by_request(rid).filter(|t| t.remote.is_some()).map(|t| t.id);
    let taken = match repeated {
        Some(_) => None,
        None => Some(s.phone_codes.lock().take(&phone, code, now).map_err(|e| AppError::new(ErrorCode::WrongPhoneCode, e.to_string()))?),
    };
    for _ in 0..8 {
        let check_in = format!("{:08}", rand::random::<u32>() % 100_000_000);
        let cmd = Command::IssueRemote { hall: h, service, code: check_in, request_id: rid.to_string() };
        match s.engine.submit(Request::IssueRemote { cmd, phone: phone.clone() }).await {
            Err(EngineError::Domain(DomainError::CodeTaken)) => continue,
            Err(e) => {
                if let Some(t) = taken {
                    s.phone_codes.lock().restore(t);
                }
                return Err(e.into());
            }
            Ok(Outcome::Ticket { ticket, again }) => {
                let code = {
                    let core = s.engine.shared.core.read().await;
                    core.state.ticket(ticket.id).and_then(|t| t.remote.as_ref()).map(|r| r.code.to_string()).unwrap_or_default()
                };
                tracing::info!(number = %ticket.number, hall = %hall, phone = %mask_phone(&phone), again, "remote ticket taken");
                let page = format!("{}/t/{}?c={code}", s.cfg.public_base_url.trim_end_matches('/'), ticket.id);
                let status = if again { StatusCode::OK } else { StatusCode::CREATED };
                return Ok((status, Json(wire::RemoteTicket { ticket, code, page, phone: mask_phone(&phone) })));
            }
            Ok(other) => return Err(AppError::internal(format!("a remote ticket answered {other:?}"))),
        }
    }
    Err(AppError::internal("no free check-in code"))
}
