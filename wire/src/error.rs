//! Error codes: every `{"error": {"code", "message"}}` the server sends carries one of these.
//!
//! The code is the contract (clients branch on it, the web pages translate it); the message is
//! for people and may change. Each code has one HTTP status.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal => $status:literal,)*) => {
        /// Every error code of the API, serialised as its snake_case name.
        ///
        /// [`ErrorCode::Unknown`] stands for a code this build does not know (a newer server);
        /// the server never sends it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
            /// A code this build does not know.
            Unknown,
        }

        impl ErrorCode {
            /// Every code the server may send.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// The HTTP status this code is sent with.
            pub fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                    ErrorCode::Unknown => 500,
                }
            }

            /// The code named `s`; [`ErrorCode::Unknown`] when there is none.
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $($name => ErrorCode::$variant,)*
                    _ => ErrorCode::Unknown,
                }
            }
        }
    };
}

error_codes! {
    // Requests the server cannot read.
    /// The body is larger than the server takes (16 KiB).
    BodyTooLarge = "body_too_large" => 413,
    /// The body could not be read.
    BadBody = "bad_body" => 400,
    /// The body is not UTF-8.
    BadUtf8 = "bad_utf8" => 400,
    /// The body is not the JSON this endpoint takes.
    BadJson = "bad_json" => 400,
    /// The query string is not what this endpoint takes.
    BadQuery = "bad_query" => 400,
    /// A string is longer than allowed.
    TooLong = "too_long" => 400,
    /// A required text (a case's closing summary, a note) is empty.
    EmptyText = "empty_text" => 400,
    /// `request_id` is not 1-64 printable ASCII characters.
    BadRequestId = "bad_request_id" => 400,
    /// A plain HTTP request to a WebSocket endpoint.
    WebsocketRequired = "websocket_required" => 400,
    /// A body that is not `Content-Type: application/json`.
    UnsupportedMediaType = "unsupported_media_type" => 415,
    /// The `Host` header names a host this server does not answer for.
    UnknownHost = "unknown_host" => 421,
    /// A request sent by a page of another site (`Origin`).
    BadOrigin = "bad_origin" => 403,
    /// No such endpoint.
    NotFound = "not_found" => 404,
    /// The endpoint does not take this method.
    MethodNotAllowed = "method_not_allowed" => 405,
    // Who is asking.
    /// No valid bearer token.
    Unauthorized = "unauthorized" => 401,
    /// Sign-in with an unknown clerk or a wrong PIN.
    WrongCredentials = "wrong_credentials" => 401,
    /// Too many wrong PINs or passwords for this account or from this address: locked for a
    /// while (`retry_after_s`), the right PIN included.
    SigninLocked = "signin_locked" => 429,
    /// The server is checking too many PINs at once; try again in a moment (`retry_after_s`).
    ServerBusy = "server_busy" => 429,
    /// The clerk may not sign in at this counter (their halls and counters are configured).
    CounterNotAllowed = "counter_not_allowed" => 403,
    /// Another clerk is signed in at the counter (`clerk`, `clerk_name`); sign in with
    /// `take_over` to replace them.
    CounterTaken = "counter_taken" => 409,
    /// The caller may not do this.
    Forbidden = "forbidden" => 403,
    // Unknown things.
    UnknownHall = "unknown_hall" => 404,
    UnknownService = "unknown_service" => 404,
    UnknownCounter = "unknown_counter" => 404,
    UnknownTicket = "unknown_ticket" => 404,
    UnknownDevice = "unknown_device" => 404,
    /// No ticket was issued for this `request_id` today.
    UnknownRequest = "unknown_request" => 404,
    // The queue said no.
    /// The service's tickets for today are all issued.
    SoldOut = "sold_out" => 409,
    /// Nobody waits for this counter.
    QueueEmpty = "queue_empty" => 404,
    NoCurrentTicket = "no_current_ticket" => 409,
    CounterPaused = "counter_paused" => 409,
    CounterClosed = "counter_closed" => 409,
    AlreadyPaused = "already_paused" => 409,
    NotPaused = "not_paused" => 409,
    /// A pause without one of the configured reasons (`pause_reasons` in the counter queue).
    UnknownPauseReason = "unknown_pause_reason" => 400,
    /// No alert with this id.
    UnknownAlert = "unknown_alert" => 404,
    /// No 好差评 case with this id (or for this ticket).
    UnknownCase = "unknown_case" => 404,
    /// The case is closed already.
    CaseClosed = "case_closed" => 409,
    /// A reason that is not one of `[ratings] reasons`.
    UnknownRatingReason = "unknown_rating_reason" => 400,
    /// The counter still serves a ticket.
    CounterBusy = "counter_busy" => 409,
    WrongTicketState = "wrong_ticket_state" => 409,
    OtherHall = "other_hall" => 409,
    /// The counter does not serve that service.
    NotServed = "not_served" => 409,
    NoTransferTarget = "no_transfer_target" => 422,
    TransferHallMismatch = "transfer_hall_mismatch" => 422,
    TransferNoop = "transfer_noop" => 422,
    BadScore = "bad_score" => 422,
    RatingNotAllowed = "rating_not_allowed" => 409,
    AlreadyRated = "already_rated" => 409,
    /// A `request_id` was used before for a different request.
    RequestIdReused = "request_id_reused" => 409,
    // Opening hours.
    /// The hall issues no tickets now; `at`: when it does again.
    HallClosed = "hall_closed" => 409,
    /// This service issues no more tickets today (the wait would run past closing); `at`:
    /// when it does again.
    ServiceClosed = "service_closed" => 409,
    // Appointments.
    /// The slot has no free place.
    SlotFull = "slot_full" => 409,
    /// The day or slot cannot be booked (too far ahead, too soon, past, not a slot).
    OutsideBookingWindow = "outside_booking_window" => 422,
    /// The hall is closed that day (weekend or holiday).
    ClosedDay = "closed_day" => 422,
    /// The person has a booking for this service that day, or as many bookings that day as
    /// allowed.
    DuplicateBooking = "duplicate_booking" => 409,
    /// Too many no-shows or cancellations this month: no booking until `at`.
    BookingBanned = "booking_banned" => 403,
    InvalidIdNumber = "invalid_id_number" => 422,
    InvalidPhone = "invalid_phone" => 422,
    InvalidName = "invalid_name" => 422,
    /// No booking with that code (and phone), or none today for that ID number.
    UnknownBooking = "unknown_booking" => 404,
    /// The booking was cancelled.
    BookingCancelled = "booking_cancelled" => 409,
    /// Cancelling closed `cancel_before_minutes` before the slot.
    CancelTooLate = "cancel_too_late" => 409,
    /// Check-in opens at `at`.
    TooEarly = "too_early" => 409,
    /// The check-in window is over (the booking became a no-show): take an ordinary ticket.
    TooLate = "too_late" => 410,
    /// The booking is for another hall (`hall`).
    WrongHall = "wrong_hall" => 409,
    /// Too many bookings from this address; try again later (`retry_after_s`).
    TooManyBookings = "too_many_bookings" => 429,
    /// A public booking needs the one-time code sent to the booker's phone.
    PhoneCodeRequired = "phone_code_required" => 422,
    /// The one-time code is wrong, used up or expired: ask for a new one.
    WrongPhoneCode = "wrong_phone_code" => 422,
    /// A code was sent to this phone a moment ago, or too many this hour (`retry_after_s`).
    TooManyCodes = "too_many_codes" => 429,
    /// No text messages can be sent (no `[sms]` provider configured).
    SmsUnavailable = "sms_unavailable" => 503,
    // Remote tickets (线上取号).
    /// The hall takes no remote tickets.
    RemoteOff = "remote_off" => 404,
    /// The hall's remote tickets for today are all taken: take a number at the hall.
    RemoteQuotaFull = "remote_quota_full" => 409,
    /// This phone has a remote ticket of this hall today already (`ticket`'s page is linked).
    RemoteTaken = "remote_taken" => 409,
    /// A hall edge's upload does not follow what the core holds: ask what it holds
    /// (`GET /api/v1/edges/{hall}/log`) and upload from there.
    EdgeGap = "edge_gap" => 409,
    /// The hall is run by another server (its hall's own server, or the core for bookings):
    /// send this there.
    HallElsewhere = "hall_elsewhere" => 409,
    /// It needs the link between a hall's own server and the core, which is down now (a
    /// transfer between halls, a booking for today at a cut-off hall): nothing was changed;
    /// try again when the link is back.
    UpstreamUnavailable = "upstream_unavailable" => 503,
    // The server itself.
    /// Try again in a moment (the business day is turning over).
    Retry = "retry" => 503,
    ShuttingDown = "shutting_down" => 503,
    /// The database did not take the change (it failed, or is changing primaries): nothing
    /// was acknowledged; repeat the request (issuing with the same `request_id`).
    StoreUnavailable = "store_unavailable" => 503,
    /// This server is the standby of a bureau on PostgreSQL: the active one (`active`) serves;
    /// this one takes over when it dies.
    Standby = "standby" => 503,
    /// Something failed inside the server; nothing was changed.
    Internal = "internal" => 500,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(ErrorCode::parse(&s))
    }
}

/// Every error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds until trying again makes sense (`signin_locked`, `server_busy`; also the
    /// `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// The clerk signed in at the counter (`counter_taken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk_name: Option<String>,
    /// When: check-in opens (`too_early`), a ban ends (`booking_banned`), tickets can be taken
    /// again (`hall_closed`, `service_closed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// The hall meant (`wrong_hall`: where the booking is; `counter_not_allowed`: the counter's
    /// hall, which the clerk does not work in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall: Option<String>,
    /// Where the active server is (`standby`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
}

impl ErrorDetail {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorDetail {
        ErrorDetail { code, message: message.into(), retry_after_s: None, clerk: None, clerk_name: None, at: None, hall: None, active: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_parse() {
        for &c in ErrorCode::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), c);
            assert!((400..600).contains(&c.status()), "{c}");
        }
        let b: ErrorBody = serde_json::from_str(r#"{"error":{"code":"from_the_future","message":"x"}}"#).unwrap();
        assert_eq!(b.error.code, ErrorCode::Unknown);
        let names: std::collections::BTreeSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len(), "names are unique");
    }
}
