//! 好差评 cases (supervisors): listed, noted (回访, 整改, 申诉, 复核), closed; the pad's reasons
//! after a 差评; every rating of a period exported with its case.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::csv::{csv_response, csv_table};
use super::extract::{ItsPad, Period, TicketAt};
use super::{AppError, AppState, JsonBody, StrictQuery, SupervisorCaller};
use crate::auth::Principal;
use crate::engine::Request;

fn supervisor(who: &Principal) -> Result<String, AppError> {
    match who {
        Principal::Supervisor { id } => Ok(id.clone()),
        _ => Err(AppError::forbidden("好差评 cases are for supervisors")),
    }
}

async fn today(s: &AppState) -> String {
    s.engine.shared.core.read().await.state.day().to_string()
}

fn named(s: &AppState, mut c: wire::Case) -> wire::Case {
    c.clerk_name = c.clerk.as_deref().and_then(|id| s.cfg.clerk(id)).map(|k| k.name.clone()).unwrap_or_default();
    c
}

pub async fn list(State(s): State<AppState>, _: SupervisorCaller, StrictQuery(q): StrictQuery<wire::CasesQuery>) -> Result<Json<wire::CasesResponse>, AppError> {
    let which = q.state.unwrap_or_else(|| "open".into());
    if !["open", "overdue", "closed", "all"].contains(&which.as_str()) {
        return Err(AppError::new(ErrorCode::BadQuery, "state is open, overdue, closed or all"));
    }
    let today = today(&s).await;
    let cases = super::read(&s, move |conn| crate::queries::cases(conn, &which, &today)).await?;
    Ok(Json(wire::CasesResponse { cases: cases.into_iter().map(|c| named(&s, c)).collect() }))
}

async fn one(s: &AppState, id: u64) -> Result<wire::Case, AppError> {
    let today = today(s).await;
    super::read(s, move |conn| crate::queries::case(conn, id, &today)).await?
        .map(|c| named(s, c))
        .ok_or_else(|| AppError::new(ErrorCode::UnknownCase, "no 好差评 case with this id"))
}

fn text(field: &str, t: &str) -> Result<String, AppError> {
    let t = t.trim();
    if t.is_empty() {
        return Err(AppError::new(ErrorCode::EmptyText, format!("{field} is required")));
    }
    if t.chars().count() > 1000 {
        return Err(AppError::new(ErrorCode::TooLong, format!("{field} must be at most 1000 characters")));
    }
    Ok(t.to_string())
}

pub async fn note(State(s): State<AppState>, SupervisorCaller(who): SupervisorCaller, Path(id): Path<u64>, JsonBody(req): JsonBody<wire::CaseNoteRequest>) -> Result<Json<wire::Case>, AppError> {
    let by = supervisor(&who)?;
    let note = wire::CaseNote { at: crate::view::time(s.clock.now()), by, kind: req.kind, text: text("text", &req.text)? };
    s.engine.submit(Request::CaseNote { id, note, close: None }).await?;
    one(&s, id).await.map(Json)
}

pub async fn close(State(s): State<AppState>, SupervisorCaller(who): SupervisorCaller, Path(id): Path<u64>, JsonBody(req): JsonBody<wire::CaseCloseRequest>) -> Result<Json<wire::Case>, AppError> {
    let by = supervisor(&who)?;
    let summary = text("summary", &req.summary)?;
    let note = wire::CaseNote { at: crate::view::time(s.clock.now()), by, kind: wire::CaseNoteKind::Note, text: format!("办结 · closed: {summary}") };
    let row = super::audit_row(&s, &super::actor(&who), "case_closed", &id.to_string(), "", None);
    s.engine.submit_audited(Request::CaseNote { id, note, close: Some(summary) }, row).await?;
    one(&s, id).await.map(Json)
}

/// The pad of the counter that served the ticket (or a supervisor) says what was wrong.
pub async fn reasons(State(s): State<AppState>, TicketAt { id, who, .. }: TicketAt<ItsPad>, JsonBody(req): JsonBody<wire::RatingReasonsRequest>) -> Result<StatusCode, AppError> {
    let known = &s.cfg.topology.rating_reasons;
    let mut reasons: Vec<String> = Vec::new();
    for r in req.reasons {
        if !known.contains(&r) {
            return Err(AppError::new(ErrorCode::UnknownRatingReason, format!("the reasons are {}", known.join("、"))));
        }
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    let detail = if reasons.is_empty() { "（无）".to_string() } else { reasons.join("、") };
    // Every change of what the case says, by whom and from where, with the change.
    let row = super::audit_row(&s, &super::actor(&who), "case_reasons", &format!("ticket:{id}"), &detail, None);
    s.engine.submit_audited(Request::CaseReasons { ticket: id, reasons }, row).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every rating of a period with its reasons and case, JSON or CSV.
pub async fn ratings_report(State(s): State<AppState>, SupervisorCaller(who): SupervisorCaller, p: Period) -> Result<Response, AppError> {
    let detail = format!("{}..{} {} {:?}", p.from, p.to, p.hall.as_deref().unwrap_or("all halls"), p.format);
    super::audit(&s, &super::actor(&who), "report_exported", "ratings", &detail, None).await;
    let format = p.format;
    let rows = super::read(&s, move |conn| crate::queries::rating_rows(conn, &p.from, &p.to, p.hall.as_deref())).await?;
    match format {
        wire::ReportFormat::Json => Ok(Json(rows).into_response()),
        wire::ReportFormat::Csv => {
            let tz = s.cfg.topology.tz;
            let local = |ms: Option<i64>| {
                ms.and_then(chrono::DateTime::from_timestamp_millis).map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
            };
            let header = ["ticket", "day", "number", "hall", "service", "counter", "clerk", "finished_at", "score", "reasons", "case"];
            csv_response(csv_table(
                &header,
                rows.iter().map(|r| {
                    vec![
                        r.ticket.to_string(),
                        r.day.clone(),
                        r.number.clone(),
                        r.hall.clone(),
                        r.service.clone(),
                        r.counter.clone(),
                        r.clerk.clone().unwrap_or_default(),
                        local(r.finished_at),
                        r.score.to_string(),
                        r.reasons.join("、"),
                        r.case_state.clone(),
                    ]
                }),
            ))
        }
    }
}
