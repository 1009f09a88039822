//! Read-only queries on the database: tickets no longer in memory, statistics and reports.

use rusqlite::{Connection, OptionalExtension};

use crate::domain::Topology;
use chrono::NaiveDate;
use qcall_wire as wire;

/// A ticket from an earlier day, as stored.
pub fn ticket(conn: &Connection, topo: &Topology, id: u64) -> rusqlite::Result<Option<wire::Ticket>> {
    conn.prepare_cached(
        "SELECT number, hall, service, priority, state, day, issued_at, counter, call_count, transferred, slot_start,
                remote_code, arrived_at
         FROM tickets WHERE id = ?1",
    )?
    .query_row([id as i64], |r| {
        let counter: Option<String> = r.get(7)?;
        let state: String = r.get(4)?;
        Ok(wire::Ticket {
            id,
            number: r.get(0)?,
            hall: r.get(1)?,
            service: r.get(2)?,
            priority: if r.get::<_, String>(3)? == "priority" { wire::Priority::Priority } else { wire::Priority::Normal },
            state: crate::store::ticket_state_from(&state)?,
            day: r.get(5)?,
            issued_at: crate::view::time(r.get(6)?),
            waiting_ahead: 0,
            est_wait_s: 0,
            est_wait_range_s: None,
            counter_number: counter.as_deref().and_then(|c| topo.counter_ix(c)).map(|c| topo.counters[c].number),
            counter,
            call_count: r.get(8)?,
            transferred: r.get::<_, i64>(9)? != 0,
            appointment: r.get::<_, Option<i64>>(10)?.map(|start| wire::AppointmentSlot {
                start: crate::view::time(start),
                end: crate::view::time(start + i64::from(topo.appointments.slot_minutes) * 60_000),
            }),
            overtime: false,
            unstaffed: false,
            remote: match r.get::<_, Option<String>>(11)? {
                Some(_) => Some(wire::RemoteStatus { checked_in: r.get::<_, Option<i64>>(12)?.is_some(), held_until: None }),
                None => None,
            },
            page: None,
        })
    })
    .optional()
}

/// Statistics of the business days `from..=to` (`YYYY-MM-DD`) grouped by `key` (`counter` or `clerk`).
///
/// Every ticket counts for the counter and the clerk that called it last. Wait is measured
/// from issue to that call (a transferred ticket's wait therefore includes its first service).
/// `hall`: only tickets of that hall; `None`: all halls.
pub fn period_stats(
    conn: &Connection,
    from: &str,
    to: &str,
    hall: Option<&str>,
    by_clerk: bool,
) -> rusqlite::Result<Vec<(String, wire::ServiceStats)>> {
    let sql = if by_clerk {
        STATS_SQL.replace("{key}", "clerk")
    } else {
        STATS_SQL.replace("{key}", "counter")
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params![from, hall, to], |r| {
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
            r.get::<_, String>(0)?,
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
    })?;
    rows.collect()
}

/// Pause time between `from` and `to` (ms) per hall, clerk and reason, in the caller's order:
/// pauses begun in the period and seconds paused within it (a pause still going counts until
/// `now`). The clerk is `None` once forgotten (`retention_days`).
pub fn pause_totals(conn: &Connection, from: i64, to: i64, now: i64, hall: Option<&str>) -> rusqlite::Result<Vec<wire::PauseStats>> {
    let mut stmt = conn.prepare_cached(
        "SELECT hall, clerk, reason,
                SUM(CASE WHEN started_at >= ?1 THEN 1 ELSE 0 END),
                SUM(MAX(0, MIN(COALESCE(ended_at, ?3), ?2) - MAX(started_at, ?1)))
           FROM pauses
          WHERE started_at < ?2 AND COALESCE(ended_at, ?3) > ?1 AND (?4 IS NULL OR hall = ?4)
          GROUP BY hall, clerk, reason
          ORDER BY hall, clerk, reason",
    )?;
    let rows = stmt.query_map(rusqlite::params![from, to, now, hall], |r| {
        Ok(wire::PauseStats {
            hall: r.get(0)?,
            clerk: r.get(1)?,
            name: String::new(),
            reason: r.get(2)?,
            pauses: r.get(3)?,
            seconds: (r.get::<_, i64>(4)?.max(0) / 1000) as u64,
        })
    })?;
    rows.collect()
}

const STATS_SQL: &str = "SELECT {key},
        COALESCE(SUM(state = 'finished'), 0),
        COALESCE(SUM(state = 'no_show'), 0),
        COALESCE(SUM(state = 'unfinished'), 0),
        AVG(CASE WHEN called_at IS NOT NULL THEN called_at - issued_at END),
        AVG(CASE WHEN state = 'finished' AND called_at IS NOT NULL THEN finished_at - called_at END),
        COALESCE(SUM(rating = 1), 0), COALESCE(SUM(rating = 2), 0), COALESCE(SUM(rating = 3), 0),
        COALESCE(SUM(rating = 4), 0), COALESCE(SUM(rating = 5), 0)
    FROM tickets
    WHERE day BETWEEN ?1 AND ?3 AND (?2 IS NULL OR hall = ?2) AND {key} IS NOT NULL
        AND state IN ('called', 'finished', 'no_show', 'unfinished')
    GROUP BY {key}
    ORDER BY {key}";

/// Every ticket of the business days `from..=to`, in order of arrival.
pub fn ticket_rows(conn: &Connection, from: &str, to: &str, hall: Option<&str>) -> rusqlite::Result<Vec<wire::TicketRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, day, number, hall, service, priority, state, issued_at, called_at, finished_at, counter, clerk,
                call_count, transferred, rating
         FROM tickets WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR hall = ?3)
         ORDER BY issued_at, id",
    )?;
    let rows = stmt.query_map(rusqlite::params![from, to, hall], |r| {
        Ok(wire::TicketRow {
            id: r.get::<_, i64>(0)? as u64,
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
            transferred: r.get::<_, i64>(13)? != 0,
            rating: r.get(14)?,
        })
    })?;
    rows.collect()
}

fn booking_row(r: &rusqlite::Row<'_>, topo: &Topology) -> rusqlite::Result<Option<crate::domain::Booking>> {
    let (Some(hall), Some(service)) = (topo.hall_ix(&r.get::<_, String>(2)?), topo.service_ix(&r.get::<_, String>(3)?)) else {
        return Ok(None);
    };
    Ok(Some(crate::domain::Booking {
        id: r.get::<_, i64>(0)? as u64,
        code: r.get(1)?,
        hall,
        service,
        date: r.get::<_, String>(4)?.parse().unwrap_or_default(),
        slot: r.get(5)?,
        state: crate::store::booking_state_from(&r.get::<_, String>(6)?)?,
        who: crate::domain::Person { person: r.get(7)?, name: r.get(8)?, phone: r.get(9)? },
        created_at: r.get(10)?,
        changed_at: r.get(11)?,
        ticket: r.get::<_, Option<i64>>(12)?.map(|t| t as u64),
        request_id: r.get(13)?,
    }))
}

const BOOKING_COLUMNS: &str =
    "id, code, hall, service, day, slot, state, person, name, phone, created_at, changed_at, ticket, request_id";

/// The latest booking with this code still holding its personal data.
pub fn booking_by_code(conn: &Connection, topo: &Topology, code: &str) -> rusqlite::Result<Option<crate::domain::Booking>> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM appointments WHERE code = ?1 ORDER BY day DESC, id DESC LIMIT 1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([code])?;
    match rows.next()? {
        Some(r) => booking_row(r, topo),
        None => Ok(None),
    }
}

/// Every booking of `date` (in `hall`), by slot.
pub fn bookings_of_day(
    conn: &Connection,
    topo: &Topology,
    date: chrono::NaiveDate,
    hall: Option<usize>,
) -> rusqlite::Result<Vec<crate::domain::Booking>> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM appointments WHERE day = ?1 AND (?2 IS NULL OR hall = ?2) ORDER BY slot, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let hall_id = hall.map(|h| topo.halls[h].id.clone());
    let mut rows = stmt.query(rusqlite::params![date.to_string(), hall_id])?;
    let mut out = vec![];
    while let Some(r) = rows.next()? {
        out.extend(booking_row(r, topo)?);
    }
    Ok(out)
}

/// Bookings per day and hall over `from..=to`: the rows still kept and the counts of purged ones.
pub fn booking_stats(conn: &Connection, from: &str, to: &str, hall: Option<&str>) -> rusqlite::Result<Vec<wire::AppointmentDayStats>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, hall, SUM(booked), SUM(cancelled), SUM(checked_in), SUM(no_show) FROM (
            SELECT day, hall, COUNT(*) AS booked, SUM(state = 'cancelled') AS cancelled,
                   SUM(state = 'checked_in') AS checked_in, SUM(state = 'no_show') AS no_show
            FROM appointments WHERE day BETWEEN ?1 AND ?2 GROUP BY day, hall
            UNION ALL
            SELECT day, hall, booked, cancelled, checked_in, no_show FROM appointment_counts WHERE day BETWEEN ?1 AND ?2)
         WHERE ?3 IS NULL OR hall = ?3
         GROUP BY day, hall ORDER BY day, hall",
    )?;
    let rows = stmt.query_map(rusqlite::params![from, to, hall], |r| {
        Ok(wire::AppointmentDayStats {
            day: r.get(0)?,
            hall: r.get(1)?,
            booked: r.get(2)?,
            cancelled: r.get(3)?,
            checked_in: r.get(4)?,
            no_show: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// The audit trail between two instants (ms, `to` exclusive), oldest first.
pub fn audit(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<Vec<wire::AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, actor, action, target, detail, client FROM audit WHERE at >= ?1 AND at < ?2 ORDER BY at, id LIMIT 100000",
    )?;
    let rows = stmt.query_map([from, to], |r| {
        Ok(wire::AuditEntry {
            at: crate::view::time(r.get(0)?),
            actor: r.get(1)?,
            action: r.get(2)?,
            target: r.get(3)?,
            detail: r.get(4)?,
            client: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// The newest `limit` alerts, newest first.
pub fn alerts(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<wire::Alert>> {
    let mut stmt = conn.prepare_cached("SELECT body FROM alerts ORDER BY id DESC LIMIT ?1")?;
    let rows = stmt.query_map([limit], |r| r.get::<_, String>(0))?;
    Ok(rows.filter_map(|b| b.ok().and_then(|b| serde_json::from_str(&b).ok())).collect())
}

/// One alert as stored.
pub fn alert(conn: &Connection, id: u64) -> rusqlite::Result<Option<wire::Alert>> {
    let body: Option<String> = conn.query_row("SELECT body FROM alerts WHERE id = ?1", [id as i64], |r| r.get(0)).optional()?;
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// Webhook messages due at `now`, oldest first: (id, body, attempts so far).
pub fn outbox_due(conn: &Connection, now: i64, limit: u32) -> rusqlite::Result<Vec<(i64, String, u32)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, body, attempts FROM webhook_outbox WHERE delivered_at IS NULL AND next_at <= ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![now, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
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
pub fn texts_due(conn: &Connection, now: i64, limit: u32) -> rusqlite::Result<Vec<DueText>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, ticket, kind, day, phone, params, attempts FROM sms_outbox
          WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_at <= ?1 AND phone IS NOT NULL ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![now, limit], |r| {
        Ok(DueText {
            id: r.get(0)?,
            ticket: r.get::<_, i64>(1)? as u64,
            kind: r.get(2)?,
            day: r.get(3)?,
            phone: r.get(4)?,
            params: r.get(5)?,
            attempts: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// Messages about tickets sent to `phone` on `day`.
/// Per hall id: the day's text messages about tickets, (sent, failed: given up or to be tried
/// again).
pub fn texts_of_day(conn: &Connection, day: &str) -> rusqlite::Result<std::collections::HashMap<String, (u32, u32)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.issued_hall, SUM(o.sent_at IS NOT NULL), SUM(o.sent_at IS NULL AND (o.gave_up_at IS NOT NULL OR o.attempts > 0))
           FROM sms_outbox o JOIN tickets t ON t.id = o.ticket WHERE o.day = ?1 GROUP BY t.issued_hall",
    )?;
    let rows = stmt.query_map([day], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
    rows.collect()
}

pub fn texts_sent(conn: &Connection, phone: &str, day: &str) -> rusqlite::Result<u32> {
    conn.query_row("SELECT COUNT(*) FROM sms_outbox WHERE phone = ?1 AND day = ?2 AND sent_at IS NOT NULL", [phone, day], |r| r.get(0))
}

fn case_from_row(r: &rusqlite::Row<'_>, today: &str) -> rusqlite::Result<wire::Case> {
    let state: String = r.get(12)?;
    let deadline: String = r.get(11)?;
    let reasons: String = r.get(10)?;
    let notes: String = r.get(13)?;
    Ok(wire::Case {
        id: r.get::<_, i64>(0)? as u64,
        ticket: r.get::<_, i64>(1)? as u64,
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
        closed_at: r.get::<_, Option<i64>>(15)?.map(crate::view::time),
        summary: r.get(16)?,
    })
}

const CASE_COLUMNS: &str =
    "id, ticket, number, day, hall, service, counter, clerk, rated_at, score, reasons, deadline, state, notes, closed_by, closed_at, summary";

/// 好差评 cases: `open` (oldest deadline first), `overdue` (open past their deadline), `closed`
/// or `all` (newest first, at most 1000). `today` decides what is overdue.
pub fn cases(conn: &Connection, which: &str, today: &str) -> rusqlite::Result<Vec<wire::Case>> {
    let filter = match which {
        "open" => "state = 'open' AND ?1 = ?1 ORDER BY deadline, id",
        "overdue" => "state = 'open' AND deadline < ?1 ORDER BY deadline, id",
        "closed" => "state = 'closed' AND ?1 = ?1 ORDER BY id DESC LIMIT 1000",
        _ => "?1 = ?1 ORDER BY id DESC LIMIT 1000",
    };
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE {filter}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([today], |r| case_from_row(r, today))?;
    rows.collect()
}

pub fn case(conn: &Connection, id: u64, today: &str) -> rusqlite::Result<Option<wire::Case>> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1");
    conn.query_row(&sql, [id as i64], |r| case_from_row(r, today)).optional()
}

/// Every rated ticket of the business days `from..=to` with its case, in order of finishing.
pub fn rating_rows(conn: &Connection, from: &str, to: &str, hall: Option<&str>) -> rusqlite::Result<Vec<wire::RatingRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.day, t.number, t.hall, t.service, t.counter, t.clerk, t.finished_at, t.rating,
                COALESCE(c.reasons, '[]'), COALESCE(c.state, 'none')
           FROM tickets t LEFT JOIN cases c ON c.ticket = t.id
          WHERE t.day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR t.hall = ?3) AND t.rating IS NOT NULL
          ORDER BY t.finished_at, t.id",
    )?;
    let rows = stmt.query_map(rusqlite::params![from, to, hall], |r| {
        let reasons: String = r.get(9)?;
        Ok(wire::RatingRow {
            ticket: r.get::<_, i64>(0)? as u64,
            day: r.get(1)?,
            number: r.get(2)?,
            hall: r.get(3)?,
            service: r.get(4)?,
            counter: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            clerk: r.get(6)?,
            finished_at: r.get(7)?,
            score: r.get(8)?,
            reasons: serde_json::from_str(&reasons).unwrap_or_default(),
            case_state: r.get(10)?,
        })
    })?;
    rows.collect()
}

/// The period's tickets by local hour of issue (see [`wire::HourlyStats`]).
pub fn hourly(conn: &Connection, tz: chrono_tz::Tz, from: &str, to: &str, hall: Option<&str>) -> rusqlite::Result<Vec<wire::HourPoint>> {
    use chrono::Timelike;
    let mut stmt = conn.prepare_cached(
        "SELECT issued_at, called_at, state FROM tickets WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR hall = ?3)",
    )?;
    let mut hours: Vec<(wire::HourPoint, i64, u32)> =
        (0..24).map(|h| (wire::HourPoint { hour: h, issued: 0, served: 0, no_shows: 0, mean_wait_s: None }, 0, 0)).collect();
    let mut rows = stmt.query(rusqlite::params![from, to, hall])?;
    while let Some(r) = rows.next()? {
        let issued: i64 = r.get(0)?;
        let called: Option<i64> = r.get(1)?;
        let state: String = r.get(2)?;
        let Some(t) = chrono::DateTime::from_timestamp_millis(issued) else { continue };
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
    }
    Ok(hours
        .into_iter()
        .map(|(mut p, sum, n)| {
            p.mean_wait_s = (n > 0).then(|| (sum / i64::from(n) / 1000) as u32);
            p
        })
        .collect())
}

/// The period report's rows: the tickets of business days `from..=to` (of `hall`), and the pauses within them.
pub fn report_rows(conn: &Connection, topo: &Topology, from: NaiveDate, to: NaiveDate, hall: Option<&str>) -> rusqlite::Result<(Vec<crate::report::Row>, Vec<crate::report::Pause>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, hall, service, counter, clerk, issued_at, called_at, finished_at, state, rating
           FROM tickets WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR hall = ?3)",
    )?;
    let rows = stmt.query_map(rusqlite::params![from.to_string(), to.to_string(), hall], |r| {
        Ok(crate::report::Row {
            day: r.get::<_, String>(0)?.parse().unwrap_or(from),
            hall: r.get(1)?,
            service: r.get(2)?,
            counter: r.get(3)?,
            clerk: r.get(4)?,
            issued_at: r.get(5)?,
            called_at: r.get(6)?,
            finished_at: r.get(7)?,
            state: r.get(8)?,
            rating: r.get(9)?,
        })
    })?;
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let (a, b) = (topo.day_start(from), topo.day_start(to.succ_opt().unwrap_or(to)));
    let mut stmt = conn.prepare_cached(
        "SELECT hall, counter, clerk, MAX(0, MIN(COALESCE(ended_at, ?2), ?2) - MAX(started_at, ?1))
           FROM pauses WHERE started_at < ?2 AND COALESCE(ended_at, ?2) > ?1 AND (?3 IS NULL OR hall = ?3)",
    )?;
    let pauses = stmt
        .query_map(rusqlite::params![a, b, hall], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, (r.get::<_, i64>(3)?.max(0) / 1000) as u64)))?
        .collect::<rusqlite::Result<Vec<crate::report::Pause>>>()?;
    Ok((rows, pauses))
}
