//! Statistics per counter and per clerk: `GET /api/v1/stats/today[?hall=]` and
//! `GET /api/v1/stats?from=&to=[&hall=]`. A supervisor sees every counter and clerk; a clerk
//! only the row of their counter and their own row; everyone else is refused.

use axum::extract::State;
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::extract::{hall_ix, Period};
use super::{AppError, AppState, StaffCaller, StrictQuery, SupervisorCaller};
use crate::auth::Principal;
use crate::queries::{pause_totals, period_stats};

pub async fn today(State(s): State<AppState>, StaffCaller(who): StaffCaller, StrictQuery(q): StrictQuery<wire::StatsQuery>) -> Result<Json<wire::TodayStats>, AppError> {
    let day = s.engine.shared.core.read().await.state.day().to_string();
    let (hall, counters, clerks, pauses) = stats_between(&s, &who, &day, &day, q.hall.as_deref()).await?;
    Ok(Json(wire::TodayStats { day, hall, counters, clerks, pauses }))
}

pub async fn between(State(s): State<AppState>, StaffCaller(who): StaffCaller, p: Period) -> Result<Json<wire::PeriodStats>, AppError> {
    if p.format_given {
        return Err(AppError::new(ErrorCode::BadQuery, "statistics are JSON only; the ticket report has format=csv"));
    }
    let (hall, counters, clerks, pauses) = stats_between(&s, &who, &p.from, &p.to, p.hall.as_deref()).await?;
    Ok(Json(wire::PeriodStats { from: p.from, to: p.to, hall, counters, clerks, pauses }))
}

/// Per counter and per clerk over business days `from..=to`, as the caller may see them.
async fn stats_between(
    s: &AppState,
    who: &Principal,
    from: &str,
    to: &str,
    hall: Option<&str>,
) -> Result<(Option<String>, Vec<wire::CounterStats>, Vec<wire::ClerkStats>, Vec<wire::PauseStats>), AppError> {
    let hall = hall.filter(|h| !h.is_empty()).map(|h| hall_ix(s, h)).transpose()?;
    // A clerk sees their own counter's row and their own row only.
    let only: Option<(usize, String)> = match who {
        Principal::Supervisor { .. } => None,
        Principal::Clerk { clerk, counter } => Some((*counter, clerk.clone())),
        _ => return Err(AppError::forbidden("only supervisors and clerks read statistics")),
    };
    let topo = s.cfg.topology.clone();
    let hall_id = hall.map(|h| topo.halls[h].id.clone());
    let (from2, to2, hall2) = (from.to_string(), to.to_string(), hall_id.clone());
    let day = |d: &str| d.parse::<chrono::NaiveDate>().map_err(|_| AppError::new(ErrorCode::BadQuery, format!("`{d}` is not a date")));
    let (from_ms, to_ms) = (topo.day_start(day(from)?), topo.day_start(day(to)?.succ_opt().unwrap_or(chrono::NaiveDate::MAX)));
    let now = s.clock.now();
    let (by_counter, by_clerk, pauses) = super::read(s, move |conn| {
        Ok((
            period_stats(conn, &from2, &to2, hall2.as_deref(), false)?,
            period_stats(conn, &from2, &to2, hall2.as_deref(), true)?,
            pause_totals(conn, from_ms, to_ms, now, hall2.as_deref())?,
        ))
    })
    .await?;

    let counters = topo
        .counters
        .iter()
        .enumerate()
        .filter(|(_, c)| hall.is_none_or(|h| c.hall == h))
        .filter(|(ix, _)| only.as_ref().is_none_or(|(mine, _)| mine == ix))
        .map(|(_, c)| wire::CounterStats {
            counter: c.id.clone(),
            hall: topo.halls[c.hall].id.clone(),
            number: c.number,
            stats: by_counter.iter().find(|(id, _)| *id == c.id).map(|(_, st)| st.clone()).unwrap_or_else(wire::ServiceStats::empty),
        })
        .collect();
    let clerks = by_clerk
        .into_iter()
        .filter(|(id, _)| only.as_ref().is_none_or(|(_, mine)| mine == id))
        .map(|(id, stats)| wire::ClerkStats { name: s.cfg.clerk(&id).map(|c| c.name.clone()).unwrap_or_default(), clerk: id, stats })
        .collect();
    let pauses = pauses
        .into_iter()
        .filter(|p| only.as_ref().is_none_or(|(_, mine)| p.clerk.as_ref() == Some(mine)))
        .map(|p| wire::PauseStats { name: p.clerk.as_deref().and_then(|c| s.cfg.clerk(c)).map(|c| c.name.clone()).unwrap_or_default(), ..p })
        .collect();
    Ok((hall_id, counters, clerks, pauses))
}

/// `GET /api/v1/stats/hourly`: supervisors.
pub async fn hourly(State(s): State<AppState>, _: SupervisorCaller, p: Period) -> Result<Json<wire::HourlyStats>, AppError> {
    if p.format_given {
        return Err(AppError::new(ErrorCode::BadQuery, "hourly statistics are JSON only"));
    }
    let (tz, f, t, h) = (s.cfg.topology.tz, p.from.clone(), p.to.clone(), p.hall.clone());
    let hours = super::read(&s, move |conn| crate::queries::hourly(conn, tz, &f, &t, h.as_deref())).await?;
    Ok(Json(wire::HourlyStats { from: p.from, to: p.to, hall: p.hall, hours }))
}

/// `GET /api/v1/reports/summary`: the period report of `/supervisor/reports` (JSON), or one of
/// its tables as CSV (`table=hall|service|counter|clerk&format=csv`).
pub async fn summary(
    State(s): State<AppState>,
    SupervisorCaller(who): SupervisorCaller,
    StrictQuery(q): StrictQuery<wire::SummaryQuery>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let p = Period::new(&s, &q.from, &q.to, q.hall.as_deref(), None)?;
    let (from, to) = (p.from.clone(), p.to.clone());
    let table = match (q.format.unwrap_or_default(), q.table.as_deref()) {
        (wire::ReportFormat::Json, None) => None,
        (wire::ReportFormat::Csv, Some(t @ ("hall" | "service" | "counter" | "clerk"))) => Some(t.to_string()),
        _ => return Err(AppError::new(ErrorCode::BadQuery, "JSON without table, or format=csv with table=hall|service|counter|clerk")),
    };
    let hall_id = p.hall.clone();
    let hall = hall_id.as_deref().and_then(|h| s.cfg.topology.hall_ix(h));
    if table.is_some() {
        let detail = format!("{from}..{to} {} {}", hall_id.as_deref().unwrap_or("all halls"), table.as_deref().unwrap_or(""));
        super::audit(&s, &super::actor(&who), "report_exported", "summary", &detail, None).await;
    }
    let (f, t) = (from.parse::<chrono::NaiveDate>().unwrap_or_default(), to.parse::<chrono::NaiveDate>().unwrap_or_default());
    let (cfg, h) = (s.cfg.clone(), hall_id.clone());
    let mut summary = super::read(&s, move |conn| {
        let topo = &cfg.topology;
        let (rows, pauses) = crate::queries::report_rows(conn, topo, f, t, h.as_deref())?;
        let mut history = vec![];
        for weeks in 1..=4 {
            let d = t - chrono::Duration::weeks(weeks);
            history.extend(crate::queries::report_rows(conn, topo, d, d, h.as_deref())?.0);
        }
        let clerk = |id: &str| cfg.clerk(id).map(|c| c.name.clone());
        let names = crate::report::Names { topo, clerk: &clerk };
        Ok(crate::report::summarise(&rows, &pauses, &history, f, t, &names, hall))
    })
    .await?;
    summary.hall = hall_id;
    match table.as_deref() {
        None => Ok(Json(summary).into_response()),
        Some(t) => {
            let rows = match t {
                "hall" => &summary.by_hall,
                "service" => &summary.by_service,
                "counter" => &summary.by_counter,
                _ => &summary.by_clerk,
            };
            super::csv::csv_response(super::csv::csv_table(&crate::report::TABLE_HEADER, crate::report::table_csv(rows)))
        }
    }
}
