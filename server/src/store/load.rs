//! The state as stored: read back when the server starts.

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::OptionalExtension;

use super::{booking_state_from, counter_state_from, ticket_state_from, Store, StoreError};
use crate::domain::{Booking, Bookings, Call, Counter, CounterState, Millis, Person, Priority, Record, State, Ticket, TicketId, RECENT_CALLS};

/// How far back the arrival curves look.
pub const HISTORY_DAYS: i64 = 56;

impl Store {
    /// The state as stored, plus the last event `seq`. A store with no day yet starts at `now`.
    pub fn load(&self, now: Millis) -> Result<(State, u64), StoreError> {
        let e = self.err();
        let topo = &self.topo;
        let day: Option<String> =
            self.conn.query_row("SELECT value FROM meta WHERE key = 'day'", [], |r| r.get(0)).optional().map_err(&e)?;
        let clock_day = topo.business_day(now);
        let day = day.and_then(|d| d.parse::<NaiveDate>().ok()).unwrap_or(clock_day);
        if day > clock_day {
            return Err(StoreError::DayAhead { path: self.path.clone(), stored: day, clock: clock_day });
        }
        let next_id: i64 = self.conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM tickets", [], |r| r.get(0)).map_err(&e)?;
        let last_seq: i64 = self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).map_err(&e)?;

        let mut counters = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT id, state, clerk, current, last_finished, last_finished_at, paused_at, pause_reason FROM counters")
            .map_err(&e)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .map_err(&e)?;
        for row in rows {
            let (id, state, clerk, current, lf, lfa, paused_at, reason) = row.map_err(&e)?;
            let Some(ix) = topo.counter_ix(&id) else {
                tracing::warn!(counter = %id, "stored counter is no longer configured; ignored");
                continue;
            };
            let state = counter_state_from(&state).map_err(|u| self.corrupt("counters.state", &u.0))?;
            let last_finished = lf.zip(lfa).map(|(t, at)| (t as TicketId, at));
            // A pause stored before pauses had reasons: since the start, for an unnamed reason.
            let pause = (state == CounterState::Paused).then(|| (paused_at.unwrap_or(0), reason.unwrap_or_default()));
            counters.push((ix, Counter { state, clerk, current: current.map(|c| c as TicketId), last_finished, pause }));
        }
        drop(stmt);

        let mut tickets = Vec::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, day, issued_hall, issued_service, seq, hall, service, priority, state, issued_at,
                        queued_at, called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating,
                        slot_start, remote_code, arrived_at, held_at
                 FROM tickets WHERE day = ?1
                    OR id IN (SELECT current FROM counters WHERE current IS NOT NULL)
                    OR id IN (SELECT j.value FROM meta, json_each(meta.value) AS j WHERE meta.key = 'carried')",
            )
            .map_err(&e)?;
        let mut rows = stmt.query([day.to_string()]).map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            let hall_of = |i| -> rusqlite::Result<Option<usize>> { Ok(topo.hall_ix(&r.get::<_, String>(i)?)) };
            let service_of = |i| -> rusqlite::Result<Option<usize>> { Ok(topo.service_ix(&r.get::<_, String>(i)?)) };
            let (Some(issued_hall), Some(issued_service), Some(hall), Some(service)) =
                (hall_of(2).map_err(&e)?, service_of(3).map_err(&e)?, hall_of(5).map_err(&e)?, service_of(6).map_err(&e)?)
            else {
                tracing::warn!("stored ticket refers to a hall or service no longer configured; ignored");
                continue;
            };
            let t = (|| -> rusqlite::Result<Ticket> {
                Ok(Ticket {
                    id: r.get::<_, i64>(0)? as TicketId,
                    day: r.get::<_, String>(1)?.parse().unwrap_or(day),
                    issued_hall,
                    issued_service,
                    seq: r.get(4)?,
                    hall,
                    service,
                    priority: if r.get::<_, String>(7)? == "priority" { Priority::Priority } else { Priority::Normal },
                    state: ticket_state_from(&r.get::<_, String>(8)?)?,
                    issued_at: r.get(9)?,
                    queued_at: r.get(10)?,
                    called_at: r.get(11)?,
                    finished_at: r.get(12)?,
                    counter: r.get::<_, Option<String>>(13)?.and_then(|c| topo.counter_ix(&c)),
                    clerk: r.get(14)?,
                    call_count: r.get(15)?,
                    transferred: r.get::<_, i64>(16)? != 0,
                    request_id: r.get(17)?,
                    rating: r.get(18)?,
                    slot: r.get(19)?,
                    remote: match r.get::<_, Option<String>>(20)? {
                        Some(code) => Some(crate::domain::Remote { code: code.into(), arrived_at: r.get(21)?, held_at: r.get(22)? }),
                        None => None,
                    },
                })
            })()
            .map_err(&e)?;
            tickets.push(t);
        }
        drop(rows);
        drop(stmt);

        let mut publicity = Vec::new();
        let mut stmt = self.conn.prepare("SELECT hall, messages FROM publicity").map_err(&e)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(&e)?;
        for row in rows {
            let (hall, msgs) = row.map_err(&e)?;
            if let (Some(h), Ok(m)) = (topo.hall_ix(&hall), serde_json::from_str::<Vec<String>>(&msgs)) {
                publicity.push((h, m));
            }
        }
        drop(stmt);

        let recent = self.recent_calls(topo.day_start(day))?;
        let bookings = self.bookings(now)?;
        let mut st = State::restore(topo.clone(), day, next_id as TicketId, tickets, counters, publicity, recent, bookings, now);
        st.set_arrival_curves(self.arrival_curves(day)?.map(std::sync::Arc::new));
        Ok((st, last_seq as u64))
    }

    /// When taxpayers came on earlier days, for the estimates of `day`: per hall, service and
    /// quarter hour, the mean tickets taken at the kiosk (appointments come by their slot) over
    /// the last [`HISTORY_DAYS`] days the hall issued tickets on — the same weekday's when there
    /// are three of them, else all. `None` before the first such day.
    pub fn arrival_curves(&self, day: NaiveDate) -> Result<Option<crate::domain::estimate::ArrivalCurves>, StoreError> {
        use chrono::Datelike;
        let e = self.err();
        let topo = &self.topo;
        let from = day - chrono::Duration::days(HISTORY_DAYS);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT day, issued_hall, issued_service, priority, issued_at FROM tickets
                  WHERE day >= ?1 AND day < ?2 AND slot_start IS NULL",
            )
            .map_err(&e)?;
        // (day, hall, service, priority, quarter)
        let mut rows: Vec<(NaiveDate, usize, usize, bool, usize)> = vec![];
        let mut q = stmt.query([from.to_string(), day.to_string()]).map_err(&e)?;
        while let Some(r) = q.next().map_err(&e)? {
            let (d, h, s, p, at): (String, String, String, String, i64) =
                (r.get(0).map_err(&e)?, r.get(1).map_err(&e)?, r.get(2).map_err(&e)?, r.get(3).map_err(&e)?, r.get(4).map_err(&e)?);
            let (Ok(d), Some(h), Some(s)) = (d.parse::<NaiveDate>(), topo.hall_ix(&h), topo.service_ix(&s)) else { continue };
            let quarter = (topo.local(at).1 / 15).min(95) as usize;
            rows.push((d, h, s, p == "priority", quarter));
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let mut per = vec![vec![vec![(0.0, 0.0); 96]; topo.services.len()]; topo.halls.len()];
        for (h, hall) in per.iter_mut().enumerate() {
            let days: std::collections::BTreeSet<NaiveDate> = rows.iter().filter(|r| r.1 == h).map(|r| r.0).collect();
            let same: std::collections::BTreeSet<NaiveDate> = days.iter().copied().filter(|d| d.weekday() == day.weekday()).collect();
            let used = if same.len() >= 3 { same } else { days };
            if used.is_empty() {
                continue;
            }
            let n = used.len() as f64;
            for &(_, _, s, priority, quarter) in rows.iter().filter(|r| r.1 == h && used.contains(&r.0)) {
                let x = &mut hall[s][quarter];
                if priority {
                    x.1 += 1.0 / n;
                } else {
                    x.0 += 1.0 / n;
                }
            }
        }
        Ok(Some(crate::domain::estimate::ArrivalCurves { per }))
    }

    /// Today's and later bookings, this month's no-shows and cancellations per person, and the
    /// bans in force.
    fn bookings(&self, now: Millis) -> Result<Bookings, StoreError> {
        use chrono::Datelike;
        let e = self.err();
        let topo = &self.topo;
        let (today, _) = topo.local(now);
        let next_id: i64 = self.conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM appointments", [], |r| r.get(0)).map_err(&e)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, code, hall, service, day, slot, state, person, name, phone, created_at, changed_at, ticket, request_id
                 FROM appointments WHERE day >= ?1",
            )
            .map_err(&e)?;
        let mut rows = stmt.query([today.to_string()]).map_err(&e)?;
        let mut list = vec![];
        while let Some(r) = rows.next().map_err(&e)? {
            let (Some(hall), Some(service)) =
                (topo.hall_ix(&r.get::<_, String>(2).map_err(&e)?), topo.service_ix(&r.get::<_, String>(3).map_err(&e)?))
            else {
                continue;
            };
            list.push(Booking {
                id: r.get::<_, i64>(0).map_err(&e)? as u64,
                code: r.get(1).map_err(&e)?,
                hall,
                service,
                date: r.get::<_, String>(4).map_err(&e)?.parse().unwrap_or(today),
                slot: r.get(5).map_err(&e)?,
                state: booking_state_from(&r.get::<_, String>(6).map_err(&e)?).map_err(|u| self.corrupt("appointments.state", &u.0))?,
                who: Person { person: r.get(7).map_err(&e)?, name: r.get(8).map_err(&e)?, phone: r.get(9).map_err(&e)? },
                created_at: r.get(10).map_err(&e)?,
                changed_at: r.get(11).map_err(&e)?,
                ticket: r.get::<_, Option<i64>>(12).map_err(&e)?.map(|t| t as u64),
                request_id: r.get(13).map_err(&e)?,
            });
        }
        drop(rows);
        drop(stmt);
        // This month's no-shows (by their day) and cancellations (by when they were made).
        let month = (today.year(), today.month());
        let first = today.with_day(1).unwrap_or(today);
        let mut records: HashMap<String, Record> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT person || '/' || phone, state, day, changed_at, created_at FROM appointments
                  WHERE state IN ('no_show', 'cancelled') AND day >= ?1",
            )
            .map_err(&e)?;
        let mut rows = stmt.query([(first - chrono::Duration::days(62)).to_string()]).map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            let person: String = r.get(0).map_err(&e)?;
            let state: String = r.get(1).map_err(&e)?;
            let day: NaiveDate = r.get::<_, String>(2).map_err(&e)?.parse().unwrap_or(today);
            let changed: Option<Millis> = r.get(3).map_err(&e)?;
            let created: Millis = r.get(4).map_err(&e)?;
            // A cancellation right after booking never counted.
            if state == "cancelled" && changed.is_some_and(|c| c - created < crate::domain::appointments::FREE_CANCEL_MS) {
                continue;
            }
            // Counted when it happened (a no-show when its window closed).
            let when = changed.map(|c| topo.local(c).0).unwrap_or(day);
            if (when.year(), when.month()) != month || when > today {
                continue;
            }
            let rec = records.entry(person).or_default();
            if state == "cancelled" {
                rec.cancels += 1;
            } else {
                rec.no_shows += 1;
            }
        }
        drop(rows);
        drop(stmt);
        let mut stmt = self.conn.prepare("SELECT person, until FROM appointment_bans").map_err(&e)?;
        let mut rows = stmt.query([]).map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            let until: NaiveDate = r.get::<_, String>(1).map_err(&e)?.parse().unwrap_or(today);
            if until > today {
                records.entry(r.get(0).map_err(&e)?).or_default().banned_until = Some(until);
            }
        }
        Ok(Bookings::restore(list, records, month, next_id as u64))
    }

    /// The calls since `since` (the start of the business day), oldest first: the newest
    /// [`RECENT_CALLS`] of each hall, read back from the event log.
    fn recent_calls(&self, since: Millis) -> Result<Vec<Call>, StoreError> {
        let e = self.err();
        let topo = &self.topo;
        let mut stmt = self
            .conn
            .prepare("SELECT at, type, hall, body FROM events WHERE type = 'ticket_called' ORDER BY seq DESC")
            .map_err(&e)?;
        let mut rows = stmt.query([]).map_err(&e)?;
        let mut per_hall = vec![0usize; topo.halls.len()];
        let mut calls = Vec::new();
        while let Some(r) = rows.next().map_err(&e)? {
            let at: Millis = r.get(0).map_err(&e)?;
            if at < since || per_hall.iter().all(|&n| n >= RECENT_CALLS) {
                break;
            }
            if r.get_ref(1).map_err(&e)?.as_str().ok() != Some("ticket_called") {
                continue;
            }
            let Some(h) = r.get::<_, Option<String>>(2).map_err(&e)?.and_then(|h| topo.hall_ix(&h)) else { continue };
            if per_hall[h] >= RECENT_CALLS {
                continue;
            }
            let body: String = r.get(3).map_err(&e)?;
            let Ok(msg) = serde_json::from_str::<qcall_wire::StreamMessage>(&body) else { continue };
            if let qcall_wire::EventKind::TicketCalled { ticket, counter, call_count, .. } = msg.kind {
                if let Some(c) = topo.counter_ix(&counter) {
                    per_hall[h] += 1;
                    calls.push(Call { ticket: ticket.id, counter: c, call_count, at });
                }
            }
        }
        calls.reverse();
        Ok(calls)
    }
}
