//! Web pages embedded in the binary: the clerk console (`/counter`), the small screen above a
//! window (`/screen/counter/{counter}`), the rating pad (`/rate/{counter}`) and the public
//! status page of a ticket (`/t/{id}`, the QR code printed on every ticket).
//!
//! The pages are static HTML + CSS + JS from `core/web/`; they talk to the JSON API and the
//! hall event stream like any other client.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use qcall_wire as wire;

use super::{AppError, AppState};
use crate::view;

const COUNTER_HTML: &str = include_str!("../../web/counter.html");
const SCREEN_HTML: &str = include_str!("../../web/screen.html");
const RATE_HTML: &str = include_str!("../../web/rate.html");
const APP_CSS: &str = include_str!("../../web/app.css");
const APP_JS: &str = include_str!("../../web/app.js");
const COUNTER_JS: &str = include_str!("../../web/counter.js");
const SCREEN_JS: &str = include_str!("../../web/screen.js");
const RATE_JS: &str = include_str!("../../web/rate.js");

/// Scripts and styles come only from this server; no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn respond(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut r = body.into().into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    r
}

fn html(body: impl Into<axum::body::Body>) -> Response {
    respond("text/html; charset=utf-8", body)
}

fn known_counter(s: &AppState, counter: &str) -> Result<(), AppError> {
    super::api::counter_ix(s, counter).map(|_| ())
}

pub async fn counter() -> Response {
    html(COUNTER_HTML)
}

pub async fn screen(State(s): State<AppState>, Path(counter): Path<String>) -> Result<Response, AppError> {
    known_counter(&s, &counter)?;
    Ok(html(SCREEN_HTML))
}

pub async fn rate(State(s): State<AppState>, Path(counter): Path<String>) -> Result<Response, AppError> {
    known_counter(&s, &counter)?;
    Ok(html(RATE_HTML))
}

/// `/web/{file}`: the shared stylesheet and the page scripts.
pub async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    let (ct, body) = match file.as_str() {
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "counter.js" => ("text/javascript; charset=utf-8", COUNTER_JS),
        "screen.js" => ("text/javascript; charset=utf-8", SCREEN_JS),
        "rate.js" => ("text/javascript; charset=utf-8", RATE_JS),
        _ => return Err(AppError::not_found("not_found", "no such file")),
    };
    Ok(respond(ct, body))
}

/// Seconds between reloads of the ticket status page.
const TICKET_REFRESH_S: u32 = 15;

/// `/t/{id}`: where the QR code on a printed ticket points. Number, state, people ahead and
/// the estimate; reloads itself. Shows nothing personal.
pub async fn ticket(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, AppError> {
    let id: u64 = id.parse().map_err(|_| AppError::not_found("unknown_ticket", "ticket ids are numbers"))?;
    let found = {
        let core = s.engine.shared.core.read();
        core.state.ticket(id).map(|t| {
            let topo = core.state.topology();
            let hall = &topo.halls[t.hall];
            (view::ticket(&core.state, t), format!("{} {}", hall.name_zh, hall.name_en))
        })
    };
    let (t, hall_name) = match found {
        Some(x) => x,
        None => {
            let reader = s.reader.clone();
            let topo = s.cfg.topology.clone();
            let t = tokio::task::spawn_blocking(move || crate::reports::ticket_from_db(&reader.lock(), &topo, id))
                .await
                .map_err(|e| AppError::internal(e.to_string()))?
                .map_err(|e| AppError::internal(e.to_string()))?
                .ok_or_else(|| AppError::not_found("unknown_ticket", format!("no ticket {id}")))?;
            let hall_name = s
                .cfg
                .topology
                .hall_ix(&t.hall)
                .map(|h| format!("{} {}", s.cfg.topology.halls[h].name_zh, s.cfg.topology.halls[h].name_en))
                .unwrap_or_default();
            (t, hall_name)
        }
    };
    let service = s
        .cfg
        .topology
        .service_ix(&t.service)
        .map(|i| &s.cfg.topology.services[i])
        .map(|sv| format!("{} {}", sv.name_zh, sv.name_en))
        .unwrap_or_default();
    Ok(html(ticket_page(&t, &hall_name, &service, s.cfg.topology.tz)))
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// ("约 12 分钟", "about 12 min").
fn minutes(s: u32) -> (String, String) {
    if s < 60 {
        ("不到 1 分钟".to_string(), "under 1 min".to_string())
    } else {
        let m = s.div_ceil(60);
        (format!("约 {m} 分钟"), format!("about {m} min"))
    }
}

fn ticket_page(t: &wire::Ticket, hall: &str, service: &str, tz: chrono_tz::Tz) -> String {
    use wire::TicketState as S;
    let window = t.counter_number.map(|n| format!("{n} 号窗口 · window {n}")).unwrap_or_default();
    let (state_class, state, detail) = match t.state {
        S::Waiting => (
            "waiting",
            "等候中 · Waiting".to_string(),
            format!(
                "<div class=\"facts\"><div><span class=\"k\">前面还有 · People ahead</span><span class=\"v\" id=\"ahead\">{}</span></div>\
                 <div><span class=\"k\">预计等候 · Estimated wait</span><span class=\"v\" id=\"estimate\">{}</span>\
                 <span class=\"k\">{}</span></div></div>",
                t.waiting_ahead,
                esc(&minutes(t.est_wait_s).0),
                esc(&minutes(t.est_wait_s).1)
            ),
        ),
        S::Called => (
            "called",
            "请到窗口办理 · Please go to".to_string(),
            format!("<p class=\"big-window\" id=\"window\">{}</p>", esc(&window)),
        ),
        S::Finished => ("done", "已办结 · Finished".to_string(), "<p>感谢您的耐心等候。Thank you for waiting.</p>".to_string()),
        S::NoShow => (
            "noshow",
            "已过号 · Missed".to_string(),
            "<p>您的号码已过号，请到窗口咨询。Your number was called while you were away; please ask at a counter.</p>".to_string(),
        ),
        S::Expired => ("done", "已失效 · Expired".to_string(), "<p>该号码已过期。This ticket has expired.</p>".to_string()),
    };
    let live = matches!(t.state, S::Waiting | S::Called);
    let refresh = if live { format!("<meta http-equiv=\"refresh\" content=\"{TICKET_REFRESH_S}\">") } else { String::new() };
    let note = if live { format!("<p class=\"muted\">本页每 {TICKET_REFRESH_S} 秒自动刷新 · refreshes every {TICKET_REFRESH_S} s</p>") } else { String::new() };
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
         <title>{number} · 排队状态 Ticket status</title><link rel=\"stylesheet\" href=\"/web/app.css\"></head>\
         <body class=\"ticket-page\"><main class=\"ticket-card state-{state_class}\">\
         <p class=\"muted\">{hall}</p><h1 id=\"number\">{number}</h1><p class=\"service\">{service}</p>\
         <p class=\"state\" id=\"state\">{state}</p>{detail}\
         <p class=\"muted\">取号时间 · Issued {issued}</p>{note}</main></body></html>",
        number = esc(&t.number),
        hall = esc(hall),
        service = esc(service),
        issued = t.issued_at.with_timezone(&tz).format("%H:%M"),
    )
}
