//! Read-only queries on the database: tickets no longer in memory, statistics and reports.

use crate::domain::Topology;
use crate::store::{Db, DbError, Row};
use crate::vals;
use chrono::NaiveDate;
use qcall_wire as wire;

/// A ticket from an earlier day, as stored.
pub fn ticket(db: &mut Db, topo: &Topology, id: u64) -> Result<Option<wire::Ticket>, DbError> {
    ticket_in(db, topo, id, "tickets")
}

/// A ticket of a hall its edge runs, as the core last heard of it (`edge_tickets`); a waiting
/// one with the people ahead of it then (waiting in its queue since before it).
pub fn edge_ticket_view(db: &mut Db, topo: &Topology, id: u64) -> Result<Option<wire::Ticket>, DbError> {
    let Some(mut t) = ticket_in(db, topo, id, "edge_tickets")? else { return Ok(None) };
    if t.state == wire::TicketState::Waiting {
        let r = db.query_one(
            "SELECT COUNT(*) FROM edge_tickets e, edge_tickets me
              WHERE me.id = ?1 AND e.day = me.day AND e.hall = me.hall AND e.service = me.service
                AND e.state = 'waiting' AND (e.queued_at < me.queued_at OR (e.queued_at = me.queued_at AND e.id < me.id))",
            vals![id],
        )?;
        t.waiting_ahead = r.get(0)?;
    }
    Ok(Some(t))
}

fn ticket_in(db: &mut Db, topo: &Topology, id: u64, table: &str) -> Result<Option<wire::Ticket>, DbError> {
    let row = db.query_opt(
        &format!(
            "SELECT number, hall, service, priority, state, day, issued_at, counter, call_count, transferred, slot_start,
                remote_code, arrived_at
         FROM {table} WHERE id = ?1"
        ),
        vals![id],
    )?;
    row.map(|r| {
        let counter: Option<String> = r.get(7)?;
        let state: String = r.get(4)?;
        Ok(wire::Ticket {
            id,
            number: r.get(0)?,
            hall: r.get(1)?,
            service: r.get(2)?,
            priority: if r.get::<String>(3)? == "priority" { wire::Priority::Priority } else { wire::Priority::Normal },
            state: crate::store::ticket_state_from(&state).map_err(|u| DbError::Other(format!("tickets.state: {u}")))?,
            day: r.get(5)?,
            issued_at: crate::view::time(r.get(6)?),
            waiting_ahead: 0,
            est_wait_s: 0,
            est_wait_range_s: None,
            counter_number: counter.as_deref().and_then(|c| topo.counter_ix(c)).map(|c| topo.counters[c].number),
            counter,
            call_count: r.get(8)?,
            transferred: r.get::<i64>(9)? != 0,
            appointment: r.get::<Option<i64>>(10)?.map(|start| wire::AppointmentSlot {
                start: crate::view::time(start),
                end: crate::view::time(start + i64::from(topo.appointments.slot_minutes) * 60_000),
            }),
            overtime: false,
            unstaffed: false,
            remote: match r.get::<Option<String>>(11)? {
                Some(_) => Some(wire::RemoteStatus { checked_in: r.get::<Option<i64>>(12)?.is_some(), held_until: None }),
                None => None,
            },
            page: None,
        })
    })
    .transpose()
}

/// Statistics of the business days `from..=to` (`YYYY-MM-DD`) grouped by `key` (`counter` or `clerk`).
///
/// Every ticket counts for the counter and the clerk that called it last. Wait is measured
/// from issue to that call (a transferred ticket's wait therefore includes its first service).
/// `hall`: only tickets of that hall; `None`: all halls.
pub fn period_stats(
    db: &mut Db,
    from: &str,
    to: &str,
    hall: Option<&str>,
    by_clerk: bool,
) -> Result<Vec<(String, wire::ServiceStats)>, DbError> {
    let sql = if by_clerk {
        STATS_SQL.replace("{key}", "clerk")
    } else {
        STATS_SQL.replace("{key}", "counter")
    };
    let rows = db.query(&sql, vals![from, hall, to])?;
    rows.iter().map(|r| {
        let ms_to_s = |v: Option<f64>| v.map(|ms| (ms / 1000.0).round().max(0.0) as u32);
        let mut ratings = std::collections::BTreeMap::new();
        let mut rated = 0;
        let mut sum = 0u32;
        for score in 1..=5u32 {
            let n: u32 = r.get(5 + score as usize)?;
            rated += n;
            sum += n * score;
            ratings.insert(score.to_string(), n);
        }
        Ok((
            r.get::<String>(0)?,
            wire::ServiceStats {
                served: r.get(1)?,
                no_shows: r.get(2)?,
                unfinished: r.get(3)?,
                mean_wait_s: ms_to_s(r.get(4)?),
                mean_service_s: ms_to_s(r.get(5)?),
                ratings,
                rated,
                mean_rating: (rated > 0).then(|| (f64::from(sum) / f64::from(rated) * 100.0).round() / 100.0),
            },
        ))
    }).collect()
}

/// Pause time between `from` and `to` (ms) per hall, clerk and reason, in the caller's order:
/// pauses begun in the period and seconds paused within it (a pause still going counts until
/// `now`). The clerk is `None` once forgotten (`retention_days`).
pub fn pause_totals(db: &mut Db, from: i64, to: i64, now: i64, hall: Option<&str>) -> Result<Vec<wire::PauseStats>, DbError> {
    let rows = db.query(
        "SELECT hall, clerk, reason,
                SUM(CASE WHEN started_at >= ?1 THEN 1 ELSE 0 END),
                CAST(SUM(GREATEST(0, LEAST(COALESCE(ended_at, ?3), ?2) - GREATEST(started_at, ?1))) AS BIGINT)
           FROM pauses
          WHERE started_at < ?2 AND COALESCE(ended_at, ?3) > ?1 AND (CAST(?4 AS TEXT) IS NULL OR hall = ?4)
          GROUP BY hall, clerk, reason
          ORDER BY hall, clerk, reason",
        vals![from, to, now, hall],
    )?;
    rows.iter().map(|r| {
        Ok(wire::PauseStats {
            hall: r.get(0)?,
            clerk: r.get(1)?,
            name: String::new(),
            reason: r.get(2)?,
            pauses: r.get(3)?,
            seconds: (r.get::<i64>(4)?.max(0) / 1000) as u64,
        })
    }).collect()
}

const STATS_SQL: &str = "SELECT {key},
        COALESCE(SUM(CASE WHEN state = 'finished' THEN 1 ELSE 0 END), 0),
        COALESCE(SUM(CASE WHEN state = 'no_show' THEN 1 ELSE 0 END), 0),
        COALESCE(SUM(CASE WHEN state = 'unfinished' THEN 1 ELSE 0 END), 0),
        AVG(CAST(CASE WHEN called_at IS NOT NULL THEN called_at - issued_at END AS DOUBLE PRECISION)),
        AVG(CAST(CASE WHEN state = 'finished' AND called_at IS NOT NULL THEN finished_at - called_at END AS DOUBLE PRECISION)),
        COALESCE(SUM(CASE WHEN rating = 1 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN rating = 2 THEN 1 ELSE 0 END), 0),
        COALESCE(SUM(CASE WHEN rating = 3 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN rating = 4 THEN 1 ELSE 0 END), 0),
        COALESCE(SUM(CASE WHEN rating = 5 THEN 1 ELSE 0 END), 0)
    FROM bureau_tickets
    WHERE day BETWEEN ?1 AND ?3 AND (CAST(?2 AS TEXT) IS NULL OR hall = ?2) AND {key} IS NOT NULL
        AND state IN ('called', 'finished', 'no_show', 'unfinished')
    GROUP BY {key}
    ORDER BY {key}";

/// Every ticket of the business days `from..=to`, in order of arrival.
pub fn ticket_rows(db: &mut Db, from: &str, to: &str, hall: Option<&str>) -> Result<Vec<wire::TicketRow>, DbError> {
    let rows = db.query(
        "SELECT id, day, number, hall, service, priority, state, issued_at, called_at, finished_at, counter, clerk,
                call_count, transferred, rating
         FROM bureau_tickets WHERE day BETWEEN ?1 AND ?2 AND (CAST(?3 AS TEXT) IS NULL OR hall = ?3)
         ORDER BY issued_at, id",
        vals![from, to, hall],
    )?;
    rows.iter().map(|r| {
        Ok(wire::TicketRow {
            id: r.get::<i64>(0)? as u64,
            day: r.get(1)?,
            number: r.get(2)?,
            hall: r.get(3)?,
            service: r.get(4)?,
            priority: r.get(5)?,
            state: r.get(6)?,
            issued_at: r.get(7)?,
            called_at: r.get(8)?,
            finished_at: r.get(9)?,
            counter: r.get(10)?,
            clerk: r.get(11)?,
            call_count: r.get(12)?,
            transferred: r.get::<i64>(13)? != 0,
            rating: r.get(14)?,
        })
    }).collect()
}

fn booking_row(r: &Row, topo: &Topology) -> Result<Option<crate::domain::Booking>, DbError> {
    let state = crate::store::booking_state_from(&r.get::<String>(6)?).map_err(|u| DbError::Other(format!("appointments.state: {u}")))?;
    crate::store::booking_row(r, topo, state, chrono::NaiveDate::default())
}

const BOOKING_COLUMNS: &str =
    "id, code, hall, service, day, slot, state, person, name, phone, created_at, changed_at, ticket, request_id, conflict_at";

/// The latest booking with this code still holding its personal data.
pub fn booking_by_code(db: &mut Db, topo: &Topology, code: &str) -> Result<Option<crate::domain::Booking>, DbError> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM appointments WHERE code = ?1 ORDER BY day DESC, id DESC LIMIT 1");
    match db.query_opt(&sql, vals![code])? {
        Some(r) => booking_row(&r, topo),
        None => Ok(None),
    }
}

/// Every booking of `date` (in `hall`), by slot.
pub fn bookings_of_day(
    db: &mut Db,
    topo: &Topology,
    date: chrono::NaiveDate,
    hall: Option<usize>,
) -> Result<Vec<crate::domain::Booking>, DbError> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM appointments WHERE day = ?1 AND (CAST(?2 AS TEXT) IS NULL OR hall = ?2) ORDER BY slot, id"
    );
    let hall_id = hall.map(|h| topo.halls[h].id.clone());
    let mut out = vec![];
    for r in db.query(&sql, vals![date.to_string(), hall_id])? {
        out.extend(booking_row(&r, topo)?);
    }
    Ok(out)
}

/// Bookings per day and hall over `from..=to`: the rows still kept and the counts of purged ones.
pub fn booking_stats(db: &mut Db, from: &str, to: &str, hall: Option<&str>) -> Result<Vec<wire::AppointmentDayStats>, DbError> {
    let rows = db.query(
        "SELECT day, hall, CAST(SUM(booked) AS BIGINT), CAST(SUM(cancelled) AS BIGINT), CAST(SUM(checked_in) AS BIGINT),
                CAST(SUM(no_show) AS BIGINT) FROM (
            SELECT day, hall, COUNT(*) AS booked, SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
                   SUM(CASE WHEN state = 'checked_in' THEN 1 ELSE 0 END) AS checked_in,
                   SUM(CASE WHEN state = 'no_show' THEN 1 ELSE 0 END) AS no_show
            FROM appointments WHERE day BETWEEN ?1 AND ?2 GROUP BY day, hall
            UNION ALL
            SELECT day, hall, booked, cancelled, checked_in, no_show FROM appointment_counts WHERE day BETWEEN ?1 AND ?2) AS x
         WHERE CAST(?3 AS TEXT) IS NULL OR hall = ?3
         GROUP BY day, hall ORDER BY day, hall",
        vals![from, to, hall],
    )?;
    rows.iter().map(|r| {
        Ok(wire::AppointmentDayStats {
            day: r.get(0)?,
            hall: r.get(1)?,
            booked: r.get(2)?,
            cancelled: r.get(3)?,
            checked_in: r.get(4)?,
            no_show: r.get(5)?,
        })
    }).collect()
}

/// The audit trail between two instants (ms, `to` exclusive), oldest first.
pub fn audit(db: &mut Db, from: i64, to: i64) -> Result<Vec<wire::AuditEntry>, DbError> {
    let rows = db.query(
        "SELECT at, actor, action, target, detail, client FROM audit WHERE at >= ?1 AND at < ?2 ORDER BY at, id LIMIT 100000",
        vals![from, to],
    )?;
    rows.iter().map(|r| {
        Ok(wire::AuditEntry {
            at: crate::view::time(r.get(0)?),
            actor: r.get(1)?,
            action: r.get(2)?,
            target: r.get(3)?,
            detail: r.get(4)?,
            client: r.get(5)?,
        })
    }).collect()
}

/// The newest `limit` alerts, newest first.
pub fn alerts(db: &mut Db, limit: u32) -> Result<Vec<wire::Alert>, DbError> {
    let rows = db.query("SELECT body FROM alerts ORDER BY id DESC LIMIT ?1", vals![limit])?;
    Ok(rows.iter().filter_map(|r| r.get::<String>(0).ok().and_then(|b| serde_json::from_str(&b).ok())).collect())
}

/// One alert as stored.
pub fn alert(db: &mut Db, id: u64) -> Result<Option<wire::Alert>, DbError> {
    let body: Option<String> = db.query_opt("SELECT body FROM alerts WHERE id = ?1", vals![id])?.map(|r| r.get(0)).transpose()?;
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// Webhook messages due at `now`, oldest first: (id, body, attempts so far).
pub fn outbox_due(db: &mut Db, now: i64, limit: u32) -> Result<Vec<(i64, String, u32)>, DbError> {
    let rows = db.query(
        "SELECT id, body, attempts FROM webhook_outbox WHERE delivered_at IS NULL AND next_at <= ?1 ORDER BY id LIMIT ?2",
        vals![now, limit],
    )?;
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).collect()
}

/// A text message due in the outbox.
#[derive(Debug, Clone)]
pub struct DueText {
    pub id: i64,
    pub ticket: u64,
    pub kind: String,
    pub day: String,
    pub phone: String,
    pub params: String,
    pub attempts: u32,
}

/// Text messages due at `now`, oldest first (a row whose number was deleted is not due).
pub fn texts_due(db: &mut Db, now: i64, limit: u32) -> Result<Vec<DueText>, DbError> {
    let rows = db.query(
        "SELECT id, ticket, kind, day, phone, params, attempts FROM sms_outbox
          WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_at <= ?1 AND phone IS NOT NULL ORDER BY id LIMIT ?2",
        vals![now, limit],
    )?;
    rows.iter().map(|r| {
        Ok(DueText {
            id: r.get(0)?,
            ticket: r.get::<i64>(1)? as u64,
            kind: r.get(2)?,
            day: r.get(3)?,
            phone: r.get(4)?,
            params: r.get(5)?,
            attempts: r.get(6)?,
        })
    }).collect()
}

/// Messages about tickets sent to `phone` on `day`.
/// Per hall id: the day's text messages about tickets, (sent, failed: given up or to be tried
/// again).
pub fn texts_of_day(db: &mut Db, day: &str) -> Result<std::collections::HashMap<String, (u32, u32)>, DbError> {
    let rows = db.query(
        "SELECT t.issued_hall, SUM(CASE WHEN o.sent_at IS NOT NULL THEN 1 ELSE 0 END),
                SUM(CASE WHEN o.sent_at IS NULL AND (o.gave_up_at IS NOT NULL OR o.attempts > 0) THEN 1 ELSE 0 END)
           FROM sms_outbox o JOIN tickets t ON t.id = o.ticket WHERE o.day = ?1 GROUP BY t.issued_hall",
        vals![day],
    )?;
    rows.iter().map(|r| Ok((r.get::<String>(0)?, (r.get(1)?, r.get(2)?)))).collect()
}

pub fn texts_sent(db: &mut Db, phone: &str, day: &str) -> Result<u32, DbError> {
    db.query_one("SELECT COUNT(*) FROM sms_outbox WHERE phone = ?1 AND day = ?2 AND sent_at IS NOT NULL", vals![phone, day])?.get(0)
}

fn case_from_row(r: &Row, today: &str) -> Result<wire::Case, DbError> {
    let state: String = r.get(12)?;
    let deadline: String = r.get(11)?;
    let reasons: String = r.get(10)?;
    let notes: String = r.get(13)?;
    Ok(wire::Case {
        id: r.get::<i64>(0)? as u64,
        ticket: r.get::<i64>(1)? as u64,
        number: r.get(2)?,
        day: r.get(3)?,
        hall: r.get(4)?,
        service: r.get(5)?,
        counter: r.get(6)?,
        clerk: r.get(7)?,
        clerk_name: String::new(),
        rated_at: crate::view::time(r.get(8)?),
        score: r.get(9)?,
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        overdue: state == "open" && deadline.as_str() < today,
        deadline,
        state: if state == "open" { wire::CaseState::Open } else { wire::CaseState::Closed },
        notes: serde_json::from_str(&notes).unwrap_or_default(),
        closed_by: r.get(14)?,
        closed_at: r.get::<Option<i64>>(15)?.map(crate::view::time),
        summary: r.get(16)?,
    })
}

const CASE_COLUMNS: &str =
    "id, ticket, number, day, hall, service, counter, clerk, rated_at, score, reasons, deadline, state, notes, closed_by, closed_at, summary";

/// 好差评 cases: `open` (oldest deadline first), `overdue` (open past their deadline), `closed`
/// or `all` (newest first, at most 1000). `today` decides what is overdue.
pub fn cases(db: &mut Db, which: &str, today: &str) -> Result<Vec<wire::Case>, DbError> {
    let (filter, params) = match which {
        "open" => ("state = 'open' ORDER BY deadline, id", vec![]),
        "overdue" => ("state = 'open' AND deadline < ?1 ORDER BY deadline, id", vec![today.into()]),
        "closed" => ("state = 'closed' ORDER BY id DESC LIMIT 1000", vec![]),
        _ => ("1 = 1 ORDER BY id DESC LIMIT 1000", vec![]),
    };
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE {filter}");
    db.query(&sql, &params)?.iter().map(|r| case_from_row(r, today)).collect()
}

pub fn case(db: &mut Db, id: u64, today: &str) -> Result<Option<wire::Case>, DbError> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1");
    db.query_opt(&sql, vals![id])?.map(|r| case_from_row(&r, today)).transpose()
}

/// Every rated ticket of the business days `from..=to` with its case, in order of finishing.
pub fn rating_rows(db: &mut Db, from: &str, to: &str, hall: Option<&str>) -> Result<Vec<wire::RatingRow>, DbError> {
    let rows = db.query(
        "SELECT t.id, t.day, t.number, t.hall, t.service, t.counter, t.clerk, t.finished_at, t.rating,
                COALESCE(c.reasons, '[]'), COALESCE(c.state, 'none')
           FROM bureau_tickets t LEFT JOIN cases c ON c.ticket = t.id
          WHERE t.day BETWEEN ?1 AND ?2 AND (CAST(?3 AS TEXT) IS NULL OR t.hall = ?3) AND t.rating IS NOT NULL
          ORDER BY t.finished_at, t.id",
        vals![from, to, hall],
    )?;
    rows.iter().map(|r| {
        let reasons: String = r.get(9)?;
        Ok(wire::RatingRow {
            ticket: r.get::<i64>(0)? as u64,
            day: r.get(1)?,
            number: r.get(2)?,
            hall: r.get(3)?,
            service: r.get(4)?,
            counter: r.get::<Option<String>>(5)?.unwrap_or_default(),
            clerk: r.get(6)?,
            finished_at: r.get(7)?,
            score: r.get(8)?,
            reasons: serde_json::from_str(&reasons).unwrap_or_default(),
            case_state: r.get(10)?,
        })
    }).collect()
}

/// The period's tickets by local hour of issue (see [`wire::HourlyStats`]).
pub fn hourly(db: &mut Db, tz: chrono_tz::Tz, from: &str, to: &str, hall: Option<&str>) -> Result<Vec<wire::HourPoint>, DbError> {
    use chrono::Timelike;
    let mut hours: Vec<(wire::HourPoint, i64, u32)> =
        (0..24).map(|h| (wire::HourPoint { hour: h, issued: 0, served: 0, no_shows: 0, mean_wait_s: None }, 0, 0)).collect();
    db.for_each(
        "SELECT issued_at, called_at, state FROM bureau_tickets WHERE day BETWEEN ?1 AND ?2 AND (CAST(?3 AS TEXT) IS NULL OR hall = ?3)",
        vals![from, to, hall],
        |r| {
        let issued: i64 = r.get(0)?;
        let called: Option<i64> = r.get(1)?;
        let state: String = r.get(2)?;
        let Some(t) = chrono::DateTime::from_timestamp_millis(issued) else { return Ok(true) };
        let (p, wait_sum, waits) = &mut hours[t.with_timezone(&tz).hour() as usize];
        p.issued += 1;
        match state.as_str() {
            "finished" => p.served += 1,
            "no_show" => p.no_shows += 1,
            _ => {}
        }
        if let Some(c) = called {
            *wait_sum += (c - issued).max(0);
            *waits += 1;
        }
        Ok(true)
    })?;
    Ok(hours
        .into_iter()
        .map(|(mut p, sum, n)| {
            p.mean_wait_s = (n > 0).then(|| (sum / i64::from(n) / 1000) as u32);
            p
        })
        .collect())
}

/// The period report's rows: the tickets of business days `from..=to` (of `hall`), and the pauses within them.
pub fn report_rows(db: &mut Db, topo: &Topology, from: NaiveDate, to: NaiveDate, hall: Option<&str>) -> Result<(Vec<crate::report::Row>, Vec<crate::report::Pause>), DbError> {
    let mut rows = vec![];
    db.for_each(
        "SELECT day, hall, service, counter, clerk, issued_at, called_at, finished_at, state, rating
           FROM bureau_tickets WHERE day BETWEEN ?1 AND ?2 AND (CAST(?3 AS TEXT) IS NULL OR hall = ?3)",
        vals![from.to_string(), to.to_string(), hall],
        |r| {
        rows.push(crate::report::Row {
            day: r.get::<String>(0)?.parse().unwrap_or(from),
            hall: r.get(1)?,
            service: r.get(2)?,
            counter: r.get(3)?,
            clerk: r.get(4)?,
            issued_at: r.get(5)?,
            called_at: r.get(6)?,
            finished_at: r.get(7)?,
            state: r.get(8)?,
            rating: r.get(9)?,
        });
        Ok(true)
    })?;
    let (a, b) = (topo.day_start(from), topo.day_start(to.succ_opt().unwrap_or(to)));
    let pauses = db
        .query(
            "SELECT hall, counter, clerk, GREATEST(0, LEAST(COALESCE(ended_at, ?2), ?2) - GREATEST(started_at, ?1))
               FROM pauses WHERE started_at < ?2 AND COALESCE(ended_at, ?2) > ?1 AND (CAST(?3 AS TEXT) IS NULL OR hall = ?3)",
            vals![a, b, hall],
        )?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, (r.get::<i64>(3)?.max(0) / 1000) as u64)))
        .collect::<Result<Vec<crate::report::Pause>, DbError>>()?;
    Ok((rows, pauses))
}

/// The events after `after`, oldest first, at most `limit` (a hall edge's next upload).
pub fn events_after(db: &mut Db, after: u64, limit: u32) -> Result<Vec<wire::EdgeEvent>, DbError> {
    let rows = db.query("SELECT seq, at, type, hall, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2", vals![after, limit])?;
    rows.iter().map(|r| Ok(wire::EdgeEvent { seq: r.get(0)?, at: r.get(1)?, kind: r.get(2)?, hall: r.get(3)?, body: r.get(4)? })).collect()
}

/// How many events come after `after`, and when the oldest of them happened.
pub fn events_pending(db: &mut Db, after: u64) -> Result<(u64, Option<i64>), DbError> {
    let r = db.query_one("SELECT COUNT(*), MIN(at) FROM events WHERE seq > ?1", vals![after])?;
    Ok((r.get(0)?, r.get(1)?))
}

/// Ticket rows by id, from `table` (`tickets`, or the core's `edge_tickets`), in id order.
pub fn ticket_rows_by_id(db: &mut Db, table: &str, ids: &[u64]) -> Result<Vec<wire::EdgeTicket>, DbError> {
    let sql = format!("SELECT {} FROM {table} WHERE id = ?1", crate::store::EDGE_TICKET_COLUMNS);
    let mut out = vec![];
    for &id in ids {
        if let Some(r) = db.query_opt(&sql, vals![id])? {
            out.push(edge_ticket(&r)?);
        }
    }
    Ok(out)
}

/// Every ticket row of `table`, in id order (the tests compare an edge's with the core's).
pub fn all_ticket_rows(db: &mut Db, table: &str) -> Result<Vec<wire::EdgeTicket>, DbError> {
    let sql = format!("SELECT {} FROM {table} ORDER BY id", crate::store::EDGE_TICKET_COLUMNS);
    db.query(&sql, &[])?.iter().map(edge_ticket).collect()
}

fn edge_ticket(r: &Row) -> Result<wire::EdgeTicket, DbError> {
    Ok(wire::EdgeTicket {
        id: r.get(0)?,
        day: r.get(1)?,
        issued_hall: r.get(2)?,
        issued_service: r.get(3)?,
        seq: r.get(4)?,
        number: r.get(5)?,
        hall: r.get(6)?,
        service: r.get(7)?,
        priority: r.get(8)?,
        state: r.get(9)?,
        issued_at: r.get(10)?,
        queued_at: r.get(11)?,
        called_at: r.get(12)?,
        finished_at: r.get(13)?,
        counter: r.get(14)?,
        clerk: r.get(15)?,
        call_count: r.get(16)?,
        transferred: r.get(17)?,
        request_id: r.get(18)?,
        rating: r.get(19)?,
        slot_start: r.get(20)?,
        remote_code: r.get(21)?,
        arrived_at: r.get(22)?,
        held_at: r.get(23)?,
    })
}

/// The tickets of the last business day before `day` (`YYYY-MM-DD`): a rollover to `day`
/// changed them.
pub fn ticket_ids_of_last_day_before(db: &mut Db, day: &str) -> Result<Vec<u64>, DbError> {
    let rows = db.query("SELECT id FROM tickets WHERE day = (SELECT MAX(day) FROM tickets WHERE day < ?1) ORDER BY id", vals![day])?;
    rows.iter().map(|r| r.get(0)).collect()
}

/// The items of a hall edge's feed after `since`, in order (their JSON).
pub fn feed_after(db: &mut Db, hall: &str, since: u64, limit: u32) -> Result<Vec<String>, DbError> {
    let rows = db.query("SELECT body FROM edge_feed WHERE hall = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3", vals![hall, since, limit])?;
    rows.iter().map(|r| r.get(0)).collect()
}

/// A day's rows of the tickets a hall's edge forwarded that were issued in or wait in `hall`.
pub fn edge_tickets_of_day(db: &mut Db, hall: &str, day: &str) -> Result<Vec<wire::EdgeTicket>, DbError> {
    let sql = format!("SELECT {} FROM edge_tickets WHERE day = ?1 AND (issued_hall = ?2 OR hall = ?2) ORDER BY id", crate::store::EDGE_TICKET_COLUMNS);
    db.query(&sql, vals![day, hall])?.iter().map(edge_ticket).collect()
}

/// Per service (in the topology's order): the last number of `hall` the core holds of its
/// edge's on `day`.
pub fn edge_last_numbers(db: &mut Db, topo: &Topology, hall: &str, day: &str) -> Result<Vec<u32>, DbError> {
    let rows = db.query("SELECT issued_service, MAX(seq) FROM edge_tickets WHERE day = ?1 AND issued_hall = ?2 GROUP BY issued_service", vals![day, hall])?;
    let mut out = vec![0; topo.services.len()];
    for r in rows {
        if let Some(s) = topo.service_ix(&r.get::<String>(0)?) {
            out[s] = r.get(1)?;
        }
    }
    Ok(out)
}

/// The core's copy of a hall edge's log after `seq`, in order.
pub fn edge_log_after(db: &mut Db, hall: &str, after: u64, limit: u32) -> Result<Vec<wire::EdgeEvent>, DbError> {
    let rows = db.query("SELECT seq, at, type, ev_hall, body FROM edge_log WHERE hall = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3", vals![hall, after, limit])?;
    rows.iter().map(|r| Ok(wire::EdgeEvent { seq: r.get(0)?, at: r.get(1)?, kind: r.get(2)?, hall: r.get(3)?, body: r.get(4)? })).collect()
}
