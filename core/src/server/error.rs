//! One error type for every HTTP answer: `{"error": {"code", "message"}}` with a fitting
//! status. Internal failures are logged once here and shown to the client without details.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qcall_wire::{ErrorBody, ErrorDetail};

use crate::domain::DomainError;
use crate::engine::EngineError;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Logged, never sent.
    pub internal: Option<String>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError { status, code, message: message.into(), internal: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn unauthorized() -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid `Authorization: Bearer <token>` is required")
    }
    pub fn unauthorized_with(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn internal(detail: impl Into<String>) -> AppError {
        AppError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; nothing was changed".into(),
            internal: Some(detail.into()),
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> AppError {
        use DomainError as D;
        let (status, code) = match &e {
            D::SoldOut { .. } => (StatusCode::CONFLICT, "sold_out"),
            D::QueueEmpty => (StatusCode::NOT_FOUND, "queue_empty"),
            D::NoCurrentTicket => (StatusCode::CONFLICT, "no_current_ticket"),
            D::CounterPaused => (StatusCode::CONFLICT, "counter_paused"),
            D::CounterClosed => (StatusCode::CONFLICT, "counter_closed"),
            D::AlreadyPaused => (StatusCode::CONFLICT, "already_paused"),
            D::NotPaused => (StatusCode::CONFLICT, "not_paused"),
            D::Busy(_) => (StatusCode::CONFLICT, "counter_busy"),
            D::UnknownTicket => (StatusCode::NOT_FOUND, "unknown_ticket"),
            D::WrongTicketState { .. } => (StatusCode::CONFLICT, "wrong_ticket_state"),
            D::OtherHall(_) => (StatusCode::CONFLICT, "other_hall"),
            D::NotServed(_) => (StatusCode::CONFLICT, "not_served"),
            D::NoTransferTarget => (StatusCode::UNPROCESSABLE_ENTITY, "no_transfer_target"),
            D::TransferHallMismatch(_) => (StatusCode::UNPROCESSABLE_ENTITY, "transfer_hall_mismatch"),
            D::TransferNoop => (StatusCode::UNPROCESSABLE_ENTITY, "transfer_noop"),
            D::BadScore => (StatusCode::UNPROCESSABLE_ENTITY, "bad_score"),
            D::RatingNotAllowed => (StatusCode::CONFLICT, "rating_not_allowed"),
            D::AlreadyRated => (StatusCode::CONFLICT, "already_rated"),
            D::StaleDay => (StatusCode::SERVICE_UNAVAILABLE, "retry"),
        };
        AppError::new(status, code, e.to_string())
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> AppError {
        match e {
            EngineError::Domain(d) => d.into(),
            EngineError::RequestIdReused => {
                AppError::new(StatusCode::CONFLICT, "request_id_reused", "request_id was already used for a different request")
            }
            EngineError::Store(s) => AppError::internal(s),
            EngineError::Stopped => AppError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is stopping"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Some(detail) = &self.internal {
            tracing::error!(code = self.code, detail = %detail, "request failed");
        } else if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = self.code, message = %self.message, "request refused");
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}
