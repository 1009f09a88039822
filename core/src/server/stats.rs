//! Handlers behind the clerk console and the rating pad: a counter's queue, ratings (满意度评价)
//! and today's statistics per counter and per clerk.
//!
//! Who may do what:
//! - `GET /api/v1/counters/{counter}/queue`: the clerk signed in at that counter, or a supervisor.
//! - `POST /api/v1/tickets/{id}/rating`: the rating pad of the counter that finished the ticket
//!   (within `rating_window_s` of 办结, once), or a supervisor (same rule, counter taken from
//!   the ticket).
//! - `GET /api/v1/stats/today[?hall=]`: a supervisor sees every counter and clerk; a clerk sees
//!   only the row of their own counter and their own row. Everyone else is refused.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use qcall_wire as wire;
use serde::{Deserialize, Serialize};

use super::api::{counter_ix, hall_ix, ticket_id};
use super::{AppError, AppState, Caller, JsonBody};
use crate::auth::Principal;
use crate::domain::{Command, Ticket, TicketState};
use crate::engine::Request;
use crate::reports::{period_stats, ticket_rows, ServiceStats};
use crate::view;

/// At most this many waiting tickets are listed (the total is always given).
pub const QUEUE_LIST_MAX: usize = 200;

/// A ticket in a counter's lists.
#[derive(Debug, Serialize)]
pub struct QueueTicket {
    pub id: u64,
    pub number: String,
    pub service: String,
    pub priority: wire::Priority,
    pub state: TicketState,
    pub transferred: bool,
    /// Sent to this very counter by a transfer.
    pub to_this_counter: bool,
    pub issued_at: DateTime<Utc>,
    /// When it (re-)entered the queue it waits in.
    pub queued_at: DateTime<Utc>,
    pub called_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub call_count: u32,
}

/// `GET /api/v1/counters/{counter}/queue`.
#[derive(Debug, Serialize)]
pub struct CounterQueue {
    /// Server time, so pages can show durations without trusting their own clock.
    pub now: DateTime<Utc>,
    pub day: String,
    pub hall: String,
    pub counter: wire::CounterInfo,
    /// The clerk signed in at the counter.
    pub clerk: Option<String>,
    /// The ticket being served, with its times.
    pub current: Option<QueueTicket>,
    /// Waiting tickets this counter may call, in call-next order (at most [`QUEUE_LIST_MAX`]).
    pub waiting: Vec<QueueTicket>,
    pub waiting_total: u32,
    /// Today's no-shows of the hall, latest first: any of them may be called again.
    pub no_shows: Vec<QueueTicket>,
    /// Tickets this counter finished today.
    pub served_today: u32,
    /// Tickets this counter marked no-show today.
    pub no_shows_today: u32,
}

fn queue_ticket(st: &crate::domain::State, t: &Ticket, counter: usize) -> QueueTicket {
    QueueTicket {
        id: t.id,
        number: st.number(t),
        service: st.topology().services[t.service].id.clone(),
        priority: t.priority,
        state: t.state,
        transferred: t.transferred,
        to_this_counter: t.state == TicketState::Waiting && t.counter == Some(counter),
        issued_at: view::time(t.issued_at),
        queued_at: view::time(t.queued_at),
        called_at: t.called_at.map(view::time),
        finished_at: t.finished_at.map(view::time),
        call_count: t.call_count,
    }
}

pub async fn queue(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>) -> Result<Json<CounterQueue>, AppError> {
    let c = counter_ix(&s, &counter)?;
    match &who {
        Principal::Supervisor { .. } => {}
        Principal::Clerk { counter, .. } if *counter == c => {}
        Principal::Clerk { .. } => return Err(AppError::forbidden("a clerk may only read the queue of the counter they signed in at")),
        _ => return Err(AppError::forbidden("only clerks and supervisors read counter queues")),
    }
    let now = view::time(s.clock.now());
    let core = s.engine.shared.core.read();
    let st = &core.state;
    let topo = st.topology();
    let hall = topo.counters[c].hall;
    let day = st.day();
    let waiting_ids = st.waiting_for_counter(c);
    let waiting = waiting_ids.iter().take(QUEUE_LIST_MAX).filter_map(|id| st.ticket(*id)).map(|t| queue_ticket(st, t, c)).collect();
    let mut no_shows: Vec<&Ticket> =
        st.tickets().filter(|t| t.day == day && t.hall == hall && t.state == TicketState::NoShow).collect();
    no_shows.sort_by_key(|t| std::cmp::Reverse((t.finished_at, t.id)));
    let mine = |state: TicketState| st.tickets().filter(|t| t.day == day && t.counter == Some(c) && t.state == state).count() as u32;
    let counter_state = st.counter(c);
    Ok(Json(CounterQueue {
        now,
        day: day.to_string(),
        hall: topo.halls[hall].id.clone(),
        counter: view::counter(st, c),
        clerk: counter_state.clerk.clone(),
        current: counter_state.current.and_then(|id| st.ticket(id)).map(|t| queue_ticket(st, t, c)),
        waiting,
        waiting_total: waiting_ids.len() as u32,
        no_shows: no_shows.into_iter().take(QUEUE_LIST_MAX).map(|t| queue_ticket(st, t, c)).collect(),
        served_today: mine(TicketState::Finished),
        no_shows_today: mine(TicketState::NoShow),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意.
    pub score: u8,
}

#[derive(Debug, Serialize)]
pub struct RatingResponse {
    pub ticket: u64,
    pub number: String,
    pub counter: String,
    pub score: u8,
}

pub async fn rate(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RatingRequest>,
) -> Result<(StatusCode, Json<RatingResponse>), AppError> {
    let id = ticket_id(&id)?;
    let (ticket_counter, number) = {
        let core = s.engine.shared.core.read();
        let t = core.state.ticket(id).ok_or_else(|| AppError::not_found("unknown_ticket", format!("no ticket {id} today")))?;
        (t.counter, core.state.number(t))
    };
    let counter = match &who {
        Principal::Pad { counter, .. } => *counter,
        Principal::Supervisor { .. } => ticket_counter.ok_or_else(|| {
            AppError::new(StatusCode::CONFLICT, "rating_not_allowed", "this ticket was not served at a counter")
        })?,
        _ => return Err(AppError::forbidden("only the rating pad of the counter that served the ticket may rate it")),
    };
    if ticket_counter != Some(counter) {
        return Err(AppError::forbidden("only the rating pad of the counter that served the ticket may rate it"));
    }
    let window_ms = i64::from(s.cfg.rating_window_s) * 1000;
    s.engine.submit(Request::Domain(Command::Rate { counter, ticket: id, score: req.score, window_ms })).await?;
    let counter_id = s.cfg.topology.counters[counter].id.clone();
    tracing::info!(ticket = id, counter = %counter_id, score = req.score, "rated");
    Ok((StatusCode::CREATED, Json(RatingResponse { ticket: id, number, counter: counter_id, score: req.score })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    pub hall: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CounterStats {
    pub counter: String,
    pub hall: String,
    pub number: u32,
    #[serde(flatten)]
    pub stats: ServiceStats,
}

#[derive(Debug, Serialize)]
pub struct ClerkStats {
    pub clerk: String,
    pub name: String,
    #[serde(flatten)]
    pub stats: ServiceStats,
}

/// `GET /api/v1/stats/today`.
#[derive(Debug, Serialize)]
pub struct TodayStats {
    pub day: String,
    /// The hall asked for; `None`: all halls.
    pub hall: Option<String>,
    /// Every configured counter (of the hall), served or not.
    pub counters: Vec<CounterStats>,
    /// Every clerk who called a ticket today (in the hall).
    pub clerks: Vec<ClerkStats>,
}

pub async fn today(
    State(s): State<AppState>,
    Caller(who): Caller,
    q: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TodayStats>, AppError> {
    let Ok(Query(q)) = q else {
        return Err(AppError::bad_request("bad_query", "the only parameter is hall=<hall id>"));
    };
    let day = s.engine.shared.core.read().state.day().to_string();
    let (hall, counters, clerks) = stats_between(&s, &who, &day, &day, q.hall.as_deref()).await?;
    Ok(Json(TodayStats { day, hall, counters, clerks }))
}

/// Per counter and per clerk over business days `from..=to`, as the caller may see them.
async fn stats_between(
    s: &AppState,
    who: &Principal,
    from: &str,
    to: &str,
    hall: Option<&str>,
) -> Result<(Option<String>, Vec<CounterStats>, Vec<ClerkStats>), AppError> {
    let hall = hall.filter(|h| !h.is_empty()).map(|h| hall_ix(s, h)).transpose()?;
    // A clerk sees their own counter's row and their own row only.
    let only: Option<(usize, String)> = match who {
        Principal::Supervisor { .. } => None,
        Principal::Clerk { clerk, counter } => Some((*counter, clerk.clone())),
        _ => return Err(AppError::forbidden("only supervisors and clerks read statistics")),
    };
    let topo = s.cfg.topology.clone();
    let hall_id = hall.map(|h| topo.halls[h].id.clone());
    let reader = s.reader.clone();
    let (from2, to2, hall2) = (from.to_string(), to.to_string(), hall_id.clone());
    let (by_counter, by_clerk) = tokio::task::spawn_blocking(move || -> rusqlite::Result<_> {
        let conn = reader.lock();
        Ok((
            period_stats(&conn, &from2, &to2, hall2.as_deref(), false)?,
            period_stats(&conn, &from2, &to2, hall2.as_deref(), true)?,
        ))
    })
    .await
    .map_err(|e| AppError::internal(e.to_string()))?
    .map_err(|e| AppError::internal(e.to_string()))?;

    let counters = topo
        .counters
        .iter()
        .enumerate()
        .filter(|(_, c)| hall.is_none_or(|h| c.hall == h))
        .filter(|(ix, _)| only.as_ref().is_none_or(|(mine, _)| mine == ix))
        .map(|(_, c)| CounterStats {
            counter: c.id.clone(),
            hall: topo.halls[c.hall].id.clone(),
            number: c.number,
            stats: by_counter.iter().find(|(id, _)| *id == c.id).map(|(_, st)| st.clone()).unwrap_or_else(empty_stats),
        })
        .collect();
    let clerks = by_clerk
        .into_iter()
        .filter(|(id, _)| only.as_ref().is_none_or(|(_, mine)| mine == id))
        .map(|(id, stats)| ClerkStats { name: s.cfg.clerk(&id).map(|c| c.name.clone()).unwrap_or_default(), clerk: id, stats })
        .collect();
    Ok((hall_id, counters, clerks))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    from: String,
    to: String,
    #[serde(default)]
    hall: Option<String>,
    /// `json` (default) or `csv` (for spreadsheets).
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/stats?from=&to=[&hall=]`.
#[derive(Debug, Serialize)]
pub struct PeriodStats {
    pub from: String,
    pub to: String,
    pub hall: Option<String>,
    pub counters: Vec<CounterStats>,
    pub clerks: Vec<ClerkStats>,
}

/// Longest period one report may cover.
const MAX_PERIOD_DAYS: i64 = 366;

fn period(q: &PeriodQuery) -> Result<(String, String), AppError> {
    let date = |v: &str, name: &str| {
        v.parse::<chrono::NaiveDate>()
            .map_err(|_| AppError::bad_request("bad_query", format!("{name} must be a date like 2026-03-01")))
    };
    let (from, to) = (date(&q.from, "from")?, date(&q.to, "to")?);
    if to < from || (to - from).num_days() >= MAX_PERIOD_DAYS {
        return Err(AppError::bad_request("bad_query", format!("from..to must run forwards and cover at most {MAX_PERIOD_DAYS} days")));
    }
    Ok((from.to_string(), to.to_string()))
}

fn period_query(
    q: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<PeriodQuery, AppError> {
    q.map(|Query(q)| q).map_err(|_| AppError::bad_request("bad_query", "parameters: from=YYYY-MM-DD, to=YYYY-MM-DD, optional hall and format"))
}

/// Statistics per counter and per clerk over a period (supervisor; a clerk gets own rows).
pub async fn between(
    State(s): State<AppState>,
    Caller(who): Caller,
    q: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PeriodStats>, AppError> {
    let q = period_query(q)?;
    let (from, to) = period(&q)?;
    if q.format.is_some() {
        return Err(AppError::bad_request("bad_query", "statistics are JSON only; the ticket report has format=csv"));
    }
    let (hall, counters, clerks) = stats_between(&s, &who, &from, &to, q.hall.as_deref()).await?;
    Ok(Json(PeriodStats { from, to, hall, counters, clerks }))
}

/// `GET /api/v1/reports/tickets?from=&to=[&hall=][&format=csv]`: every ticket of the period
/// with its arrival, call and finish times, counter, clerk and rating (supervisors only).
pub async fn tickets_report(
    State(s): State<AppState>,
    Caller(who): Caller,
    q: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    if !who.is_supervisor() {
        return Err(AppError::forbidden("ticket reports are for supervisors"));
    }
    let q = period_query(q)?;
    let (from, to) = period(&q)?;
    let hall = q.hall.as_deref().filter(|h| !h.is_empty()).map(|h| hall_ix(&s, h)).transpose()?;
    let hall_id = hall.map(|h| s.cfg.topology.halls[h].id.clone());
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(AppError::bad_request("bad_query", "format is json or csv")),
    };
    let reader = s.reader.clone();
    let rows = tokio::task::spawn_blocking(move || ticket_rows(&reader.lock(), &from, &to, hall_id.as_deref()))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
        .map_err(|e| AppError::internal(e.to_string()))?;
    if !csv {
        return Ok(Json(rows).into_response());
    }
    let tz = s.cfg.topology.tz;
    let local = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let secs = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) if b >= a => ((b - a + 500) / 1000).to_string(),
        _ => String::new(),
    };
    // A byte-order mark so spreadsheet programs read the Chinese names as UTF-8.
    let mut out = String::from("\u{feff}day,number,hall,service,priority,state,arrived,called,finished,wait_s,service_s,counter,clerk,calls,transferred,rating\r\n");
    for r in rows {
        let fields = [
            r.day.clone(),
            r.number.clone(),
            r.hall.clone(),
            r.service.clone(),
            r.priority.clone(),
            r.state.clone(),
            local(Some(r.issued_at)),
            local(r.called_at),
            local(r.finished_at),
            secs(Some(r.issued_at), r.called_at),
            if r.state == "finished" { secs(r.called_at, r.finished_at) } else { String::new() },
            r.counter.clone().unwrap_or_default(),
            r.clerk.clone().unwrap_or_default(),
            r.call_count.to_string(),
            r.transferred.to_string(),
            r.rating.map(|x| x.to_string()).unwrap_or_default(),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response())
}

fn empty_stats() -> ServiceStats {
    ServiceStats { ratings: (1..=5).map(|s: u8| (s.to_string(), 0)).collect(), ..ServiceStats::default() }
}
