//! `GET /api/v1/reports/tickets?from=&to=[&hall=][&format=csv]`: every ticket of a period with
//! its arrival, call and finish times, counter, clerk and rating (supervisors only), as JSON or
//! as CSV for spreadsheets.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qcall_wire as wire;

use super::extract::Period;
use super::csv::{csv_response, csv_table};
use super::{AppError, AppState, SupervisorCaller};
use crate::queries::ticket_rows;

pub async fn tickets(State(s): State<AppState>, SupervisorCaller(who): SupervisorCaller, p: Period) -> Result<Response, AppError> {
    let detail = format!("{}..{} {} {:?}", p.from, p.to, p.hall.as_deref().unwrap_or("all halls"), p.format);
    super::audit(&s, &super::actor(&who), "report_exported", "tickets", &detail, None).await;
    let format = p.format;
    let rows = super::read(&s, move |conn| ticket_rows(conn, &p.from, &p.to, p.hall.as_deref())).await?;
    match format {
        wire::ReportFormat::Json => Ok(Json(rows).into_response()),
        wire::ReportFormat::Csv => csv_response(tickets_csv(&rows, s.cfg.topology.tz)),
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
