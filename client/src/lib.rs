//! The one client of the qcall API, shared by the kiosk, the hall display, the benchmark and
//! the tests: nothing else speaks HTTP or WebSocket to the server.
//!
//! - [`Client`]: a typed call for every endpoint of the HTTP API, over `http://` or `https://`.
//! - [`EventStream`]: one WebSocket connection to an event stream.
//! - [`Client::follow`]: an event stream that stays up: snapshot, `?since=` resume, resync on
//!   a gap, exponential backoff with jitter, and the link's state ([`follow`]).
//! - [`Reporter`]: a device's status report that reaches the server eventually, is sent again
//!   after every reconnect and never gives up ([`report`]).
//! - [`config`]: what the device configs share (error shape, server URL, link settings).
//!
//! Every request and answer type is from `qcall-wire`.

pub mod config;
mod events;
pub mod follow;
mod http;
pub mod report;
mod tls;
/// TLS for other HTTPS peers of ours (the alert webhook): the system CAs, plus a PEM file.
pub use tls::client_config as tls_client_config;

pub use events::{EventStream, Frame};
pub use follow::{Backoff, BackoffSettings, FollowEvent, FollowSettings, Follower, LinkState};
pub use http::{Client, ClientOptions, RawResponse};
pub use report::{Reporter, ReporterHandle};

use qcall_wire::ErrorCode;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached, or the connection broke (the request may or may not
    /// have been carried out: repeat it with the same `request_id`).
    #[error("cannot reach the server: {0}")]
    Network(String),
    /// The server answered with an error.
    #[error("server answered {status} {code}: {message}")]
    Server { status: u16, code: ErrorCode, message: String, retry_after_s: Option<u64>, at: Option<qcall_wire::Time>, hall: Option<String> },
    /// The server's answer was not what the protocol says.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
    /// The server address is not an `http://` or `https://` URL.
    #[error("`{0}` is not an http:// or https:// server address")]
    BadUrl(String),
    #[error("TLS: {0}")]
    Tls(String),
}

impl ClientError {
    /// The same request may succeed in a moment: the network failed, or the server said so
    /// (`store_unavailable`, `standby`, `retry`).
    pub fn worth_repeating(&self) -> bool {
        matches!(
            self,
            ClientError::Network(_)
                | ClientError::Server { code: ErrorCode::StoreUnavailable | ErrorCode::Standby | ErrorCode::Retry, .. }
        )
    }

    /// The error code, when the server answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
