//! `GET /api/v1/reports/tickets?from=&to=[&hall=][&format=csv]`: every ticket of a period with
//! its arrival, call and finish times, counter, clerk and rating (supervisors only), as JSON or
//! as CSV for spreadsheets.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qcall_wire as wire;

use super::api::hall_ix;
use super::stats::period;
use super::{AppError, AppState, Caller, StrictQuery};
use crate::queries::ticket_rows;

pub async fn tickets(State(s): State<AppState>, Caller(who): Caller, StrictQuery(q): StrictQuery<wire::PeriodQuery>) -> Result<Response, AppError> {
    if !who.is_supervisor() {
        return Err(AppError::forbidden("ticket reports are for supervisors"));
    }
    let (from, to) = period(&q)?;
    let hall = q.hall.as_deref().filter(|h| !h.is_empty()).map(|h| hall_ix(&s, h)).transpose()?;
    let hall_id = hall.map(|h| s.cfg.topology.halls[h].id.clone());
    let detail = format!("{from}..{to} {} {:?}", hall_id.as_deref().unwrap_or("all halls"), q.format.unwrap_or_default());
    super::audit(&s, &super::actor(&who), "report_exported", "tickets", &detail, None).await;
    let rows = super::read(&s, move |conn| ticket_rows(conn, &from, &to, hall_id.as_deref())).await?;
    match q.format.unwrap_or_default() {
        wire::ReportFormat::Json => Ok(Json(rows).into_response()),
        wire::ReportFormat::Csv => csv_response(tickets_csv(&rows, s.cfg.topology.tz)),
    }
}

/// A CSV body as the answer (or an internal error when it could not be written).
pub fn csv_response(body: Result<String, csv::Error>) -> Result<Response, AppError> {
    let body = body.map_err(|e| AppError::internal(e.to_string()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}

/// CSV for spreadsheets: a byte-order mark (they then read the Chinese as UTF-8), the header,
/// CRLF line ends, fields quoted where needed, formula-like cells defused.
pub fn csv_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    w.write_record(header)?;
    for fields in rows {
        w.write_record(fields.iter().map(|f| safe_cell(f).into_owned()))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

/// A spreadsheet would run a cell that starts with one of these as a formula.
fn safe_cell(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}").into()
    } else {
        v.into()
    }
}

/// The rows as CSV ([`csv_table`]) with local times.
pub fn tickets_csv(rows: &[wire::TicketRow], tz: chrono_tz::Tz) -> Result<String, csv::Error> {
    let local = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let secs = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) if b >= a => ((b - a + 500) / 1000).to_string(),
        _ => String::new(),
    };
    let header = [
        "day", "number", "hall", "service", "priority", "state", "arrived", "called", "finished", "wait_s", "service_s", "counter",
        "clerk", "calls", "transferred", "rating",
    ];
    let rows = rows.iter().map(|r| {
        vec![
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
        ]
    });
    csv_table(&header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(number: &str, clerk: &str) -> wire::TicketRow {
        wire::TicketRow {
            id: 1,
            day: "2026-11-26".into(),
            number: number.into(),
            hall: "east".into(),
            service: "filing".into(),
            priority: "normal".into(),
            state: "finished".into(),
            issued_at: 1_795_654_800_000,
            called_at: Some(1_795_654_860_000),
            finished_at: Some(1_795_654_980_000),
            counter: Some("E01".into()),
            clerk: Some(clerk.into()),
            call_count: 1,
            transferred: false,
            rating: Some(5),
        }
    }

    #[test]
    fn csv_quotes_fields_and_defuses_formulas() {
        let rows = [row("A001", "clerk01"), row("A002", "Zhang, \"Wei\""), row("A003", "=HYPERLINK(\"http://x\")"), row("A004", "-2+3")];
        let csv = tickets_csv(&rows, chrono_tz::Asia::Shanghai).unwrap();
        assert!(csv.starts_with('\u{feff}'));
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert!(lines[0].starts_with("day,number,hall,service,"));
        assert_eq!(lines[1], "2026-11-26,A001,east,filing,normal,finished,2026-11-26 09:00:00,2026-11-26 09:01:00,2026-11-26 09:03:00,60,120,E01,clerk01,1,false,5");
        assert!(lines[2].contains(",\"Zhang, \"\"Wei\"\"\","), "{}", lines[2]);
        assert!(lines[3].contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{}", lines[3]);
        assert!(lines[4].contains(",'-2+3,"), "{}", lines[4]);
        // A real CSV reader gets the cells back (defused ones with their quote mark).
        let mut r = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
        let clerks: Vec<String> = r.records().map(|x| x.unwrap()[12].to_string()).collect();
        assert_eq!(clerks, ["clerk01", "Zhang, \"Wei\"", "'=HYPERLINK(\"http://x\")", "'-2+3"]);
    }
}
