//! The state as stored: read back when the server starts.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{booking_state_from, counter_state_from, ticket_state_from, DbError, Row, Store, StoreError};
use crate::vals;
use crate::domain::{Booking, Bookings, Call, Counter, CounterState, Millis, Person, Priority, Record, State, Ticket, TicketId, RECENT_CALLS};

/// How far back the arrival curves look.
pub const HISTORY_DAYS: i64 = 56;

impl Store {
    /// The state as stored, plus the last event `seq`. A store with no day yet starts at `now`.
    pub fn load(&mut self, now: Millis) -> Result<(State, u64), StoreError> {
        let e = self.err();
        let topo = self.topo.clone();
        let meta = |db: &mut super::Db, key: &str| -> Result<Option<String>, DbError> {
            db.query_opt("SELECT value FROM meta WHERE key = ?1", vals![key])?.map(|r| r.get(0)).transpose()
        };
        let day = meta(&mut self.db, "day").map_err(&e)?;
        let clock_day = topo.business_day(now);
        let day = day.and_then(|d| d.parse::<NaiveDate>().ok()).unwrap_or(clock_day);
        if day > clock_day {
            return Err(StoreError::DayAhead { place: self.db.place().to_string(), stored: day, clock: clock_day });
        }
        // Ids go on within this store's own range: tickets transferred here from another
        // hall's server keep theirs.
        let (low, high) = (self.id_base, self.id_base + super::EDGE_ID_RANGE);
        let next_id: u64 = self
            .db
            .query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM tickets WHERE id > ?1 AND id < ?2", vals![low, high])
            .and_then(|r| r.get(0))
            .map_err(&e)?;
        let next_id = next_id.max(self.id_base + 1);
        let last_seq = self.last_seq()?;

        let mut counters = Vec::new();
        let rows = self
            .db
            .query("SELECT id, state, clerk, current, last_finished, last_finished_at, paused_at, pause_reason FROM counters", &[])
            .map_err(&e)?;
        for r in rows {
            let (id, state, clerk, current, lf, lfa, paused_at, reason) = (|| -> Result<_, DbError> {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Option<String>>(2)?,
                    r.get::<Option<u64>>(3)?,
                    r.get::<Option<u64>>(4)?,
                    r.get::<Option<i64>>(5)?,
                    r.get::<Option<i64>>(6)?,
                    r.get::<Option<String>>(7)?,
                ))
            })()
            .map_err(&e)?;
            let Some(ix) = topo.counter_ix(&id) else {
                tracing::warn!(counter = %id, "stored counter is no longer configured; ignored");
                continue;
            };
            let state = counter_state_from(&state).map_err(|u| self.corrupt("counters.state", &u.0))?;
            let last_finished = lf.zip(lfa).map(|(t, at)| (t as TicketId, at));
            // A pause stored before pauses had reasons: since the start, for an unnamed reason.
            let pause = (state == CounterState::Paused).then(|| (paused_at.unwrap_or(0), reason.unwrap_or_default()));
            counters.push((ix, Counter { state, clerk, current, last_finished, pause }));
        }

        // The day's tickets, those at a counter, and those the last rollover carried.
        const COLUMNS: &str = "SELECT id, day, issued_hall, issued_service, seq, hall, service, priority, state, issued_at,
                        queued_at, called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating,
                        slot_start, remote_code, arrived_at, held_at FROM tickets";
        let mut rows = self
            .db
            .query(&format!("{COLUMNS} WHERE day = ?1 OR id IN (SELECT current FROM counters WHERE current IS NOT NULL)"), vals![day.to_string()])
            .map_err(&e)?;
        let carried: Vec<u64> = meta(&mut self.db, "carried").map_err(&e)?.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default();
        let mut seen: std::collections::HashSet<u64> = rows.iter().filter_map(|r| r.get(0).ok()).collect();
        for id in carried {
            if seen.insert(id) {
                rows.extend(self.db.query_opt(&format!("{COLUMNS} WHERE id = ?1"), vals![id]).map_err(&e)?);
            }
        }
        let mut tickets = Vec::new();
        for r in &rows {
            let hall_of = |i| -> Result<Option<usize>, DbError> { Ok(topo.hall_ix(&r.get::<String>(i)?)) };
            let service_of = |i| -> Result<Option<usize>, DbError> { Ok(topo.service_ix(&r.get::<String>(i)?)) };
            let (Some(issued_hall), Some(issued_service), Some(hall), Some(service)) =
                (hall_of(2).map_err(&e)?, service_of(3).map_err(&e)?, hall_of(5).map_err(&e)?, service_of(6).map_err(&e)?)
            else {
                tracing::warn!("stored ticket refers to a hall or service no longer configured; ignored");
                continue;
            };
            let state = ticket_state_from(&r.get::<String>(8).map_err(&e)?).map_err(|u| self.corrupt("tickets.state", &u.0))?;
            let t = (|| -> Result<Ticket, DbError> {
                Ok(Ticket {
                    id: r.get(0)?,
                    day: r.get::<String>(1)?.parse().unwrap_or(day),
                    issued_hall,
                    issued_service,
                    seq: r.get(4)?,
                    hall,
                    service,
                    priority: if r.get::<String>(7)? == "priority" { Priority::Priority } else { Priority::Normal },
                    state,
                    issued_at: r.get(9)?,
                    queued_at: r.get(10)?,
                    called_at: r.get(11)?,
                    finished_at: r.get(12)?,
                    counter: r.get::<Option<String>>(13)?.and_then(|c| topo.counter_ix(&c)),
                    clerk: r.get(14)?,
                    call_count: r.get(15)?,
                    transferred: r.get(16)?,
                    request_id: r.get(17)?,
                    rating: r.get(18)?,
                    slot: r.get(19)?,
                    remote: match r.get::<Option<String>>(20)? {
                        Some(code) => Some(crate::domain::Remote { code: code.into(), arrived_at: r.get(21)?, held_at: r.get(22)? }),
                        None => None,
                    },
                })
            })()
            .map_err(&e)?;
            tickets.push(t);
        }
        tickets.sort_by_key(|t| t.id);

        let mut publicity = Vec::new();
        for r in self.db.query("SELECT hall, messages FROM publicity", &[]).map_err(&e)? {
            let (hall, msgs): (String, String) = (r.get(0).map_err(&e)?, r.get(1).map_err(&e)?);
            if let (Some(h), Ok(m)) = (topo.hall_ix(&hall), serde_json::from_str::<Vec<String>>(&msgs)) {
                publicity.push((h, m));
            }
        }

        let recent = self.recent_calls(topo.day_start(day))?;
        let bookings = self.bookings(now)?;
        let mut st = State::restore(topo.clone(), day, next_id as TicketId, tickets, counters, publicity, recent, bookings, now);
        // Halls taken over from their edges are run here; on the day of the takeover, numbered
        // past the edge's last forwarded number by its margin.
        let mut elsewhere = st.elsewhere().clone();
        for (hall, at, skip) in self.takeovers()? {
            let Some(h) = topo.hall_ix(&hall) else { continue };
            elsewhere.remove(&h);
            if topo.business_day(at) == day {
                let last = crate::queries::edge_last_numbers(&mut self.db, &topo, &hall, &day.to_string()).map_err(&e)?;
                st.number_after(h, &last.iter().map(|n| n + skip).collect::<Vec<_>>());
            }
        }
        st.set_elsewhere(elsewhere, topo.central);
        // A hall server rebuilt from the core's copy today numbers above what the dead box may
        // have printed (`edge::RESTORE_SKIP`).
        if let (false, Some(r)) = (topo.central, meta(&mut self.db, "edge_restored").map_err(&e)?) {
            let r: serde_json::Value = serde_json::from_str(&r).unwrap_or_default();
            let own = (0..topo.halls.len()).find(|h| !st.runs_elsewhere(*h));
            if let (Some(h), Some(d), Some(after)) = (own, r["day"].as_str(), r["after"].as_array()) {
                if d == day.to_string() {
                    st.number_after(h, &after.iter().map(|n| n.as_u64().unwrap_or(0) as u32).collect::<Vec<_>>());
                }
            }
        }
        st.set_arrival_curves(self.arrival_curves(day)?.map(std::sync::Arc::new));
        Ok((st, last_seq))
    }

    /// When taxpayers came on earlier days, for the estimates of `day`: per hall, service and
    /// quarter hour, the mean tickets taken at the kiosk (appointments come by their slot) over
    /// the last [`HISTORY_DAYS`] days the hall issued tickets on — the same weekday's when there
    /// are three of them, else all. `None` before the first such day.
    pub fn arrival_curves(&mut self, day: NaiveDate) -> Result<Option<crate::domain::estimate::ArrivalCurves>, StoreError> {
        use chrono::Datelike;
        let e = self.err();
        let topo = self.topo.clone();
        let from = day - chrono::Duration::days(HISTORY_DAYS);
        // (day, hall, service, priority, quarter)
        let mut rows: Vec<(NaiveDate, usize, usize, bool, usize)> = vec![];
        self.db
            .for_each(
                "SELECT day, issued_hall, issued_service, priority, issued_at FROM tickets
                  WHERE day >= ?1 AND day < ?2 AND slot_start IS NULL",
                vals![from.to_string(), day.to_string()],
                |r| {
                    let (d, h, s, p, at): (String, String, String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                    if let (Ok(d), Some(h), Some(s)) = (d.parse::<NaiveDate>(), topo.hall_ix(&h), topo.service_ix(&s)) {
                        let quarter = (topo.local(at).1 / 15).min(95) as usize;
                        rows.push((d, h, s, p == "priority", quarter));
                    }
                    Ok(true)
                },
            )
            .map_err(&e)?;
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
    fn bookings(&mut self, now: Millis) -> Result<Bookings, StoreError> {
        use chrono::Datelike;
        let e = self.err();
        let topo = self.topo.clone();
        let (today, _) = topo.local(now);
        let next_id: u64 = self.db.query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM appointments", &[]).and_then(|r| r.get(0)).map_err(&e)?;
        let rows = self
            .db
            .query(
                "SELECT id, code, hall, service, day, slot, state, person, name, phone, created_at, changed_at, ticket, request_id, conflict_at
                 FROM appointments WHERE day >= ?1",
                vals![today.to_string()],
            )
            .map_err(&e)?;
        let mut list = vec![];
        for r in &rows {
            let state = booking_state_from(&r.get::<String>(6).map_err(&e)?).map_err(|u| self.corrupt("appointments.state", &u.0))?;
            if let Some(b) = booking_row(r, &topo, state, today).map_err(&e)? {
                list.push(b);
            }
        }
        // This month's no-shows (by their day) and cancellations (by when they were made).
        let month = (today.year(), today.month());
        let first = today.with_day(1).unwrap_or(today);
        let mut records: HashMap<String, Record> = HashMap::new();
        let rows = self
            .db
            .query(
                "SELECT person || '/' || phone, state, day, changed_at, created_at FROM appointments
                  WHERE state IN ('no_show', 'cancelled') AND day >= ?1",
                vals![(first - chrono::Duration::days(62)).to_string()],
            )
            .map_err(&e)?;
        for r in rows {
            let person: String = r.get(0).map_err(&e)?;
            let state: String = r.get(1).map_err(&e)?;
            let day: NaiveDate = r.get::<String>(2).map_err(&e)?.parse().unwrap_or(today);
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
        for r in self.db.query("SELECT person, until FROM appointment_bans", &[]).map_err(&e)? {
            let until: NaiveDate = r.get::<String>(1).map_err(&e)?.parse().unwrap_or(today);
            if until > today {
                records.entry(r.get(0).map_err(&e)?).or_default().banned_until = Some(until);
            }
        }
        Ok(Bookings::restore(list, records, month, next_id))
    }

    /// The calls since `since` (the start of the business day), oldest first: the newest
    /// [`RECENT_CALLS`] of each hall, read back from the event log.
    fn recent_calls(&mut self, since: Millis) -> Result<Vec<Call>, StoreError> {
        let e = self.err();
        let topo = self.topo.clone();
        let mut per_hall = vec![0usize; topo.halls.len()];
        let mut calls = Vec::new();
        self.db
            .for_each(
                "SELECT at, hall, body FROM events WHERE type = 'ticket_called' AND at >= ?1 ORDER BY seq DESC",
                vals![since],
                |r| {
                    if per_hall.iter().all(|&n| n >= RECENT_CALLS) {
                        return Ok(false);
                    }
                    let at: Millis = r.get(0)?;
                    let Some(h) = r.get::<Option<String>>(1)?.and_then(|h| topo.hall_ix(&h)) else { return Ok(true) };
                    if per_hall[h] >= RECENT_CALLS {
                        return Ok(true);
                    }
                    let body: String = r.get(2)?;
                    let Ok(msg) = serde_json::from_str::<qcall_wire::StreamMessage>(&body) else { return Ok(true) };
                    if let qcall_wire::EventKind::TicketCalled { ticket, counter, call_count, .. } = msg.kind {
                        if let Some(c) = topo.counter_ix(&counter) {
                            per_hall[h] += 1;
                            calls.push(Call { ticket: ticket.id, counter: c, call_count, at });
                        }
                    }
                    Ok(true)
                },
            )
            .map_err(&e)?;
        calls.reverse();
        Ok(calls)
    }
}

/// A booking as stored (`None`: its hall or service is no longer configured).
pub(crate) fn booking_row(r: &Row, topo: &crate::domain::Topology, state: crate::domain::BookingState, today: NaiveDate) -> Result<Option<Booking>, DbError> {
    let (Some(hall), Some(service)) = (topo.hall_ix(&r.get::<String>(2)?), topo.service_ix(&r.get::<String>(3)?)) else {
        return Ok(None);
    };
    Ok(Some(Booking {
        id: r.get(0)?,
        code: r.get(1)?,
        hall,
        service,
        date: r.get::<String>(4)?.parse().unwrap_or(today),
        slot: r.get(5)?,
        state,
        who: Person { person: r.get(7)?, name: r.get(8)?, phone: r.get(9)? },
        created_at: r.get(10)?,
        changed_at: r.get(11)?,
        ticket: r.get(12)?,
        request_id: r.get(13)?,
        conflict_at: r.get(14)?,
    }))
}
