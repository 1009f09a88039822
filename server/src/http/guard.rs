//! Checks every request passes before a handler sees it:
//! - `Host` names this server (an IP address, `localhost`, the `listen` address, the host of
//!   `public_base_url`, or `allowed_hosts`): a page of another site whose name was pointed at
//!   this server (DNS rebinding) is refused;
//! - an `Origin`, where a browser sends one, is one of those hosts too (no requests from other
//!   sites' pages, e.g. a sign-in posted by a form elsewhere);
//! - a request with a body says `Content-Type: application/json` (a browser sends other
//!   types across sites without asking first).
//!
//! Every answer carries the server's own time in its `Date` header (the engine's clock, which
//! tests and demos may set): the pages reckon in it, never in the phone's or PC's clock.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use qcall_wire::ErrorCode;

use super::{AppError, AppState};

/// `host[:port]` -> host, lower-case; `[v6]:port` -> v6.
fn host_only(authority: &str) -> String {
    let a = authority.trim();
    let h = if let Some(rest) = a.strip_prefix('[') { rest.split(']').next().unwrap_or("") } else { a.rsplit_once(':').map_or(a, |(h, _)| h) };
    h.to_ascii_lowercase()
}

/// May a request name this host?
pub fn host_allowed(cfg: &crate::config::Config, authority: &str) -> bool {
    let host = host_only(authority);
    if host.parse::<std::net::IpAddr>().is_ok() {
        // An address is not a name: it cannot have been rebound.
        return true;
    }
    cfg.allowed_hosts.iter().any(|h| *h == host) || host_only(&cfg.listen) == host
}

fn has_body(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != "0")
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let client = super::ClientAddr::of(&parts, &s.cfg);
    let api = parts.uri.path().starts_with("/api/") || parts.uri.path() == "/metrics";
    let req = Request::from_parts(parts, body);
    let mut resp = super::CLIENT.scope(client, check(&s, req, next)).await;
    stamp_date(&mut resp, s.clock.now());
    let headers = resp.headers_mut();
    // Answers with personal data or live state are never kept by a browser or a proxy.
    if api {
        headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    if s.cfg.tls.is_some() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, header::HeaderValue::from_static("max-age=31536000"));
    }
    resp
}

async fn check(s: &AppState, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| req.uri().authority().map(|a| a.as_str()));
    if let Some(h) = host {
        if !host_allowed(&s.cfg, h) {
            tracing::warn!(host = %h, "request for an unknown host refused");
            return AppError::new(ErrorCode::UnknownHost, "this server does not answer for that host name").into_response();
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let authority = origin.split("://").nth(1).unwrap_or("");
        if origin != "null" && !host_allowed(&s.cfg, authority) || origin == "null" && *req.method() != Method::GET {
            tracing::warn!(%origin, path = %req.uri().path(), "cross-site request refused");
            return AppError::new(ErrorCode::BadOrigin, "requests from other sites' pages are refused").into_response();
        }
    }
    if has_body(req.method(), headers) && !is_json(headers) {
        return AppError::new(ErrorCode::UnsupportedMediaType, "request bodies must be `Content-Type: application/json`").into_response();
    }
    next.run(req).await
}

/// `Date: Sun, 06 Dec 2026 08:04:11 GMT` from the server's clock (hyper adds its own only when
/// an answer has none).
fn stamp_date(resp: &mut Response, now: crate::domain::Millis) {
    let date = crate::view::time(now).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(v) = header::HeaderValue::from_str(&date) {
        resp.headers_mut().insert(header::DATE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_by_address_name_and_config() {
        let mut cfg = crate::config::Config::embedded().unwrap();
        cfg.allowed_hosts.push("qcall.bureau.example".into());
        for ok in ["127.0.0.1:8080", "10.1.2.3", "[::1]:8080", "localhost:8080", "QCALL.bureau.example", "qcall.bureau.example:443"] {
            assert!(host_allowed(&cfg, ok), "{ok}");
        }
        for bad in ["evil.example:8080", "evil.example", "127.0.0.1.evil.example"] {
            assert!(!host_allowed(&cfg, bad), "{bad}");
        }
    }
}
