//! One error type for every HTTP answer: `{"error": {"code", "message"}}`, the status given by
//! the code (`qcall-wire`'s [`ErrorCode`]). Internal failures are logged once here and shown to
//! the client without details.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qcall_wire::{ErrorBody, ErrorCode, ErrorDetail};

use crate::domain::DomainError;
use crate::engine::EngineError;

#[derive(Debug)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// Sent as `retry_after_s` and the `Retry-After` header.
    pub retry_after_s: Option<u64>,
    /// Who holds a counter (`counter_taken`).
    pub clerk: Option<(String, String)>,
    /// When (`too_early`, `booking_banned`, `hall_closed`, …).
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// Which hall (`wrong_hall`).
    pub hall: Option<String>,
    /// Logged, never sent.
    pub internal: Option<String>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError { code, message: message.into(), retry_after_s: None, clerk: None, at: None, hall: None, internal: None }
    }
    pub fn retry_after(mut self, secs: u64) -> AppError {
        self.retry_after_s = Some(secs.max(1));
        self
    }
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    pub fn unauthorized() -> AppError {
        AppError::new(ErrorCode::Unauthorized, "a valid `Authorization: Bearer <token>` is required")
    }
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Forbidden, message)
    }
    pub fn bad_json(e: impl std::fmt::Display) -> AppError {
        AppError::new(ErrorCode::BadJson, format!("invalid JSON body: {e}"))
    }
    pub fn internal(detail: impl Into<String>) -> AppError {
        AppError { internal: Some(detail.into()), ..AppError::new(ErrorCode::Internal, "internal error; nothing was changed") }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> AppError {
        use DomainError as D;
        let at = |t: &Option<crate::domain::Millis>| t.map(crate::view::time);
        let extra = match &e {
            D::HallClosed { next_open } | D::ServiceClosed { next_open, .. } => (at(next_open), None),
            D::TooEarly(opens) => (Some(crate::view::time(*opens)), None),
            _ => (None, None),
        };
        let code = match &e {
            D::SoldOut { .. } => ErrorCode::SoldOut,
            D::QueueEmpty => ErrorCode::QueueEmpty,
            D::NoCurrentTicket => ErrorCode::NoCurrentTicket,
            D::CounterPaused => ErrorCode::CounterPaused,
            D::CounterClosed => ErrorCode::CounterClosed,
            D::AlreadyPaused => ErrorCode::AlreadyPaused,
            D::NotPaused => ErrorCode::NotPaused,
            D::UnknownPauseReason { .. } => ErrorCode::UnknownPauseReason,
            D::Busy(_) => ErrorCode::CounterBusy,
            D::UnknownTicket => ErrorCode::UnknownTicket,
            D::WrongTicketState { .. } => ErrorCode::WrongTicketState,
            D::OtherHall(_) => ErrorCode::OtherHall,
            D::NotServed(_) => ErrorCode::NotServed,
            D::NoTransferTarget => ErrorCode::NoTransferTarget,
            D::TransferHallMismatch(_) => ErrorCode::TransferHallMismatch,
            D::TransferNoop => ErrorCode::TransferNoop,
            D::BadScore => ErrorCode::BadScore,
            D::RatingNotAllowed => ErrorCode::RatingNotAllowed,
            D::AlreadyRated => ErrorCode::AlreadyRated,
            D::StaleDay => ErrorCode::Retry,
            D::CounterTaken { .. } => ErrorCode::CounterTaken,
            D::HallClosed { .. } => ErrorCode::HallClosed,
            D::ServiceClosed { .. } => ErrorCode::ServiceClosed,
            D::SlotFull => ErrorCode::SlotFull,
            D::OutsideBookingWindow(_) => ErrorCode::OutsideBookingWindow,
            D::ClosedDay(_) => ErrorCode::ClosedDay,
            D::DuplicateBooking(_) => ErrorCode::DuplicateBooking,
            D::BookingBanned(_) => ErrorCode::BookingBanned,
            D::UnknownBooking => ErrorCode::UnknownBooking,
            D::BookingCancelled => ErrorCode::BookingCancelled,
            D::CancelTooLate => ErrorCode::CancelTooLate,
            D::TooEarly(_) => ErrorCode::TooEarly,
            D::TooLate => ErrorCode::TooLate,
            D::WrongHall(_) => ErrorCode::WrongHall,
            D::RequestIdReused => ErrorCode::RequestIdReused,
            D::RemoteOff => ErrorCode::RemoteOff,
            D::Elsewhere(_) => ErrorCode::HallElsewhere,
            D::RemoteQuotaFull(_) => ErrorCode::RemoteQuotaFull,
            // Never shown: the engine answers these with what was made before.
            D::CodeTaken | D::RepeatedBooking(_) | D::RepeatedTicket(_) => ErrorCode::Internal,
        };
        let mut err = AppError::new(code, e.to_string());
        err.at = extra.0;
        err.hall = extra.1;
        err
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> AppError {
        match e {
            EngineError::Domain(d) => d.into(),
            EngineError::RequestIdReused => {
                AppError::new(ErrorCode::RequestIdReused, "request_id was already used for a different request")
            }
            EngineError::Store(s) => AppError {
                internal: Some(s),
                ..AppError::new(ErrorCode::StoreUnavailable, "the database did not confirm the change: try again in a moment (a repeated request is never carried out twice)")
                    .retry_after(1)
            },
            EngineError::Stopped => AppError::new(ErrorCode::ShuttingDown, "the server is stopping"),
            EngineError::UpstreamUnavailable(hall) => AppError::new(
                ErrorCode::UpstreamUnavailable,
                format!("the link to {hall}'s own server is down: nothing was changed; try again when it is back"),
            ),
            EngineError::EdgeGap(held) => AppError::new(ErrorCode::EdgeGap, format!("the upload does not follow seq {held}, the last one held: upload from {}", held + 1)),
            EngineError::Fenced(why) => AppError::new(ErrorCode::Standby, format!("this server is no longer the active one ({why})")),
            EngineError::UnknownAlert => AppError::new(ErrorCode::UnknownAlert, "no alert with this id"),
            EngineError::UnknownCase => AppError::new(ErrorCode::UnknownCase, "no 好差评 case with this id or for this ticket"),
            EngineError::CaseClosed => AppError::new(ErrorCode::CaseClosed, "the case is closed already"),
            EngineError::RemoteTaken(number) => AppError::new(
                ErrorCode::RemoteTaken,
                format!("此手机今天已在本厅线上取号 {number} · this phone has remote ticket {number} in this hall today"),
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Some(detail) = &self.internal {
            tracing::error!(code = %self.code, detail = %detail, "request failed");
        } else if status.is_server_error() {
            tracing::warn!(code = %self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = %self.code, message = %self.message, "request refused");
        }
        let mut detail = ErrorDetail::new(self.code, self.message);
        detail.retry_after_s = self.retry_after_s;
        detail.at = self.at;
        detail.hall = self.hall;
        if let Some((id, name)) = self.clerk {
            detail.clerk = Some(id);
            detail.clerk_name = Some(name);
        }
        let mut resp = (status, Json(ErrorBody { error: detail })).into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s));
        }
        resp
    }
}
