//! What one batch of commands changed, and its commit: one transaction for all of it.

use chrono::NaiveDate;

use super::{booking_state_str, counter_state_str, ticket_state_str, Db, DbError, Store, StoreError};
use crate::vals;
use crate::domain::{Booking, Counter, Millis, Priority, Ticket, TicketId, Topology};

/// A 好差评 case opened by a rating of 1 or 2 (written with the batch that rated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    pub ticket: TicketId,
    pub number: String,
    pub day: NaiveDate,
    pub hall: String,
    pub service: String,
    pub counter: String,
    pub clerk: Option<String>,
    pub rated_at: Millis,
    pub score: u8,
    pub deadline: NaiveDate,
}

/// A webhook delivery attempt's outcome (written by the writer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxUpdate {
    Delivered { id: i64, at: Millis },
    Failed { id: i64, next_at: Millis, error: String },
}

/// A number a taxpayer left for a ticket's messages (today's; deleted at the rollover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneRow {
    pub ticket: TicketId,
    pub day: NaiveDate,
    pub phone: String,
    pub at: Millis,
}

/// A text message about a ticket, into the outbox with the batch whose events caused it.
/// `kind` is `near_turn` or `called`: one of each per ticket at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub ticket: TicketId,
    pub kind: &'static str,
    pub day: NaiveDate,
    pub phone: String,
    /// The template's variables, as JSON.
    pub params: String,
    pub at: Millis,
}

/// A text message's sending attempt, as the sender reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeUpdate {
    Sent { id: i64, at: Millis },
    Failed { id: i64, next_at: Millis, error: String },
    /// Not sent, and never will be: too many tries, the number's daily limit, or its moment
    /// passed (the ticket was called before its near-turn message went).
    GaveUp { id: i64, at: Millis, why: String },
}

/// A pause began or ended (written with the batch that did it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseRow {
    Start { counter: usize, clerk: Option<String>, reason: String, at: Millis },
    End { counter: usize, at: Millis },
}

/// One action in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub at: Millis,
    /// `supervisor:duty`, `clerk:clerk01`, `device:kiosk-east-1`, or the account tried.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    /// The client's address (`-` when unknown).
    pub client: String,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_hash: String,
    pub clerk: String,
    pub counter: String,
    pub created_at: Millis,
    pub pin_fp: String,
}

/// Everything one batch of commands changed, written in one transaction.
#[derive(Default)]
pub struct Batch<'a> {
    pub day: Option<NaiveDate>,
    pub expire_before: Option<NaiveDate>,
    /// After a rollover: the older tickets the new day carries (at a counter then).
    pub carried: Option<Vec<TicketId>>,
    pub tickets: Vec<&'a Ticket>,
    pub counters: Vec<(usize, &'a Counter)>,
    pub events: Vec<EventRow<'a>>,
    /// Every session ends (the day rolled over), before `sessions_add`.
    pub sessions_clear: bool,
    pub sessions_add: Vec<SessionRow>,
    pub sessions_remove: Vec<String>,
    pub publicity: Vec<(usize, &'a [String])>,
    pub devices: Vec<(String, String)>,
    pub bookings: Vec<&'a Booking>,
    /// A person's ban (`None`: none any more).
    pub bans: Vec<(&'a str, Option<NaiveDate>)>,
    pub pauses: Vec<PauseRow>,
    /// Alerts raised, cleared or acknowledged, by condition key.
    pub alerts: Vec<(String, qcall_wire::Alert)>,
    /// (alert id, event type, body) to POST to the webhook.
    pub outbox: Vec<(u64, &'static str, String)>,
    pub cases: Vec<CaseRow>,
    /// Changes to open cases (reasons, notes, closing), each as the case now is.
    pub case_updates: Vec<CaseUpdate>,
    /// Webhook delivery attempts' outcomes.
    pub outbox_updates: Vec<OutboxUpdate>,
    /// Numbers left for tickets' messages.
    pub phones: Vec<PhoneRow>,
    /// Text messages the batch's events caused.
    pub notices: Vec<NoticeRow>,
    /// Text messages' sending attempts.
    pub notice_updates: Vec<NoticeUpdate>,
    /// The audit trail's new entries (each with the action it records, in this transaction).
    pub audit: Vec<AuditRow>,
    /// Old personal data and audit entries to delete.
    pub purge: Option<Purge>,
    /// Hall edges' events (by hall id; the core skipped those it held already) and their
    /// ticket rows.
    pub edge_events: Vec<(&'a str, &'a qcall_wire::EdgeEvent)>,
    pub edge_tickets: Vec<&'a qcall_wire::EdgeTicket>,
    /// What is known of halls run by their edges, as it now is.
    pub edge_halls: Vec<EdgeHallRow>,
    /// At the core: items for hall edges' feeds.
    pub edge_feed: Vec<FeedRow>,
    /// At a hall edge: the last item of the core's feed applied.
    pub feed_held: Option<u64>,
    /// Halls the core takes over from their edges: (hall, when, skip, the edge's log held).
    pub takeovers: Vec<(String, i64, u32, u64)>,
}

/// An item of a hall edge's feed (`edge_feed`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    pub hall: String,
    pub seq: u64,
    pub at: i64,
    pub body: String,
}

/// A hall run by its edge, as the core last heard of it (`edge_halls`).
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeHallRow {
    pub hall: String,
    pub seen_at: i64,
    pub cut_since: Option<i64>,
    /// The hall's overview (JSON) as its edge last told.
    pub overview: Option<String>,
}

/// A case as a change leaves it (written with the batch that changed it).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseUpdate {
    pub id: u64,
    pub reasons: Vec<String>,
    pub notes: Vec<qcall_wire::CaseNote>,
    /// Closed now: by whom, when (ms) and how it ended.
    pub closed: Option<(String, Millis, String)>,
}


/// What the hourly purge deletes: audit entries before `audit_before` (ms), who served tickets
/// of days before `clerks_before`, bookings' personal data of days before `bookings_before`,
/// and bans that ended by `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purge {
    pub audit_before: Millis,
    pub clerks_before: NaiveDate,
    pub bookings_before: NaiveDate,
    pub today: NaiveDate,
}

/// How many rows a purge deleted or made anonymous.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub audit: usize,
    pub clerks: usize,
    pub bookings: usize,
}

pub struct EventRow<'a> {
    pub seq: u64,
    pub at: Millis,
    pub hall: Option<&'a str>,
    pub kind: &'a str,
    pub body: &'a str,
}

/// The columns of a ticket row, in [`qcall_wire::EdgeTicket`]'s order (`tickets` and
/// `edge_tickets` have them all).
pub const EDGE_TICKET_COLUMNS: &str = "id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at,
    queued_at, called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating, slot_start, remote_code,
    arrived_at, held_at";

impl Store {
    /// Deletes what `p` says is old; how many rows each part touched.
    fn purge(db: &mut Db, topo: &Topology, p: &Purge) -> Result<Purged, DbError> {
        let audit = db.execute("DELETE FROM audit WHERE at < ?1", vals![p.audit_before])?;
        // Who served a ticket that is done with: the counts stay, without the person.
        let before = p.clerks_before.to_string();
        let clerks = db.execute(
            "UPDATE tickets SET clerk = NULL
              WHERE day < ?1 AND clerk IS NOT NULL AND state IN ('finished', 'no_show', 'expired', 'unfinished')",
            vals![&before],
        )? + db.execute(
            "UPDATE pauses SET clerk = NULL WHERE started_at < ?1 AND clerk IS NOT NULL AND ended_at IS NOT NULL",
            vals![topo.day_start(p.clerks_before)],
        )? + db.execute("UPDATE cases SET clerk = NULL WHERE day < ?1 AND clerk IS NOT NULL AND state = 'closed'", vals![&before])?;
        // Bookings' personal data: counted into `appointment_counts`, then deleted.
        db.execute(
            "INSERT INTO appointment_counts (day, hall, service, booked, cancelled, checked_in, no_show)
             SELECT day, hall, service, COUNT(*), SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END),
                    SUM(CASE WHEN state = 'checked_in' THEN 1 ELSE 0 END), SUM(CASE WHEN state = 'no_show' THEN 1 ELSE 0 END)
             FROM appointments WHERE day < ?1 GROUP BY day, hall, service
             ON CONFLICT (day, hall, service) DO UPDATE SET booked = appointment_counts.booked + excluded.booked,
                cancelled = appointment_counts.cancelled + excluded.cancelled,
                checked_in = appointment_counts.checked_in + excluded.checked_in,
                no_show = appointment_counts.no_show + excluded.no_show",
            vals![p.bookings_before.to_string()],
        )?;
        let bookings = db.execute("DELETE FROM appointments WHERE day < ?1", vals![p.bookings_before.to_string()])?;
        db.execute("DELETE FROM appointment_bans WHERE until <= ?1", vals![p.today.to_string()])?;
        Ok(Purged { audit, clerks, bookings })
    }

    /// Write one batch in one transaction; returns once it is durable. On PostgreSQL the
    /// transaction first renews this server's writer lease, and rolls back if another server
    /// took it ([`DbError::Fenced`]).
    pub fn commit(&mut self, b: &Batch<'_>) -> Result<Purged, StoreError> {
        let e = self.err();
        let topo = self.topo.clone();
        let epoch = self.epoch;
        let r = self.db.transaction(|db| {
            if let Some(epoch) = epoch {
                super::lease::renew(db, epoch)?;
            }
            Store::write(db, &topo, b)
        });
        if r.is_ok() && epoch.is_some() {
            self.renewed = Some(std::time::Instant::now());
        }
        r.map_err(e)
    }

    fn write(db: &mut Db, topo: &Topology, b: &Batch<'_>) -> Result<Purged, DbError> {
        if let Some(day) = b.day {
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('day', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vals![day.to_string()],
            )?;
        }
        if let Some(day) = b.expire_before {
            // The numbers taxpayers left are kept for their day only: gone with the rollover.
            db.execute("DELETE FROM ticket_phones WHERE day < ?1", vals![day.to_string()])?;
            db.execute("UPDATE sms_outbox SET phone = NULL WHERE day < ?1 AND phone IS NOT NULL", vals![day.to_string()])?;
        }
        if let Some(carried) = &b.carried {
            let ids = serde_json::to_string(carried).unwrap_or_else(|_| "[]".into());
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('carried', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vals![ids],
            )?;
        }
        if let Some(day) = b.expire_before {
            db.execute("UPDATE tickets SET state = 'expired' WHERE day < ?1 AND state IN ('waiting', 'no_show')", vals![day.to_string()])?;
            // Still at a counter when the day ended: 未办结 (the counters' rows are written too).
            db.execute("UPDATE tickets SET state = 'unfinished' WHERE day < ?1 AND state = 'called'", vals![day.to_string()])?;
        }
        for t in &b.tickets {
            db.execute(
                "INSERT INTO tickets (id, day, issued_hall, issued_service, seq, number, hall, service, priority,
                    state, issued_at, queued_at, called_at, finished_at, counter, clerk, call_count, transferred,
                    request_id, rating, slot_start, remote_code, arrived_at, held_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)
                 ON CONFLICT (id) DO UPDATE SET hall = excluded.hall, service = excluded.service,
                    state = excluded.state, queued_at = excluded.queued_at, called_at = excluded.called_at,
                    finished_at = excluded.finished_at, counter = excluded.counter, clerk = excluded.clerk,
                    call_count = excluded.call_count, transferred = excluded.transferred, rating = excluded.rating,
                    arrived_at = excluded.arrived_at, held_at = excluded.held_at",
                vals![
                    t.id,
                    t.day.to_string(),
                    &topo.halls[t.issued_hall].id,
                    &topo.services[t.issued_service].id,
                    t.seq,
                    topo.number(t.issued_service, t.seq),
                    &topo.halls[t.hall].id,
                    &topo.services[t.service].id,
                    match t.priority {
                        Priority::Normal => "normal",
                        Priority::Priority => "priority",
                    },
                    ticket_state_str(t.state),
                    t.issued_at,
                    t.queued_at,
                    t.called_at,
                    t.finished_at,
                    t.counter.map(|c| topo.counters[c].id.as_str()),
                    t.clerk.as_ref(),
                    t.call_count,
                    t.transferred,
                    t.request_id.as_ref(),
                    t.rating,
                    t.slot,
                    t.remote.as_ref().map(|r| &*r.code),
                    t.remote.as_ref().and_then(|r| r.arrived_at),
                    t.remote.as_ref().and_then(|r| r.held_at),
                ],
            )?;
        }
        for (ix, c) in &b.counters {
            db.execute(
                "INSERT INTO counters (id, state, clerk, current, last_finished, last_finished_at, paused_at, pause_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, clerk = excluded.clerk,
                    current = excluded.current, last_finished = excluded.last_finished,
                    last_finished_at = excluded.last_finished_at, paused_at = excluded.paused_at,
                    pause_reason = excluded.pause_reason",
                vals![
                    &topo.counters[*ix].id,
                    counter_state_str(c.state),
                    c.clerk.as_ref(),
                    c.current,
                    c.last_finished.map(|(t, _)| t),
                    c.last_finished.map(|(_, at)| at),
                    c.pause.as_ref().map(|(at, _)| *at),
                    c.pause.as_ref().map(|(_, r)| r.as_str()),
                ],
            )?;
        }
        for (key, a) in &b.alerts {
            let body = serde_json::to_string(a).unwrap_or_default();
            db.execute(
                "INSERT INTO alerts (id, key, kind, hall, raised_at, cleared_at, acked_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET cleared_at = excluded.cleared_at, acked_at = excluded.acked_at, body = excluded.body",
                vals![
                    a.id,
                    key,
                    a.kind.as_str(),
                    &a.hall,
                    a.raised_at.timestamp_millis(),
                    a.cleared_at.map(|t| t.timestamp_millis()),
                    a.acked_at.map(|t| t.timestamp_millis()),
                    body
                ],
            )?;
        }
        for c in &b.cases {
            db.execute(
                "INSERT INTO cases (ticket, number, day, hall, service, counter, clerk, rated_at, score, deadline)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (ticket) DO NOTHING",
                vals![c.ticket, &c.number, c.day.to_string(), &c.hall, &c.service, &c.counter, c.clerk.as_ref(), c.rated_at, c.score, c.deadline.to_string()],
            )?;
        }
        for (alert, event, body) in &b.outbox {
            db.execute("INSERT INTO webhook_outbox (alert, event, body, next_at) VALUES (?1, ?2, ?3, 0)", vals![*alert, *event, body])?;
        }
        for u in &b.outbox_updates {
            match u {
                OutboxUpdate::Delivered { id, at } => db.execute(
                    "UPDATE webhook_outbox SET delivered_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                    vals![id, at],
                ),
                OutboxUpdate::Failed { id, next_at, error } => db.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
                    vals![id, next_at, error],
                ),
            }?;
        }
        for p in &b.phones {
            db.execute(
                "INSERT INTO ticket_phones (ticket, day, phone, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (ticket) DO UPDATE SET phone = excluded.phone, created_at = excluded.created_at",
                vals![p.ticket, p.day.to_string(), &p.phone, p.at],
            )?;
        }
        for n in &b.notices {
            db.execute(
                "INSERT INTO sms_outbox (ticket, kind, day, phone, params, created_at, next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT (ticket, kind) DO NOTHING",
                vals![n.ticket, n.kind, n.day.to_string(), &n.phone, &n.params, n.at],
            )?;
        }
        for u in &b.notice_updates {
            match u {
                NoticeUpdate::Sent { id, at } => {
                    db.execute("UPDATE sms_outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1", vals![id, at])
                }
                NoticeUpdate::Failed { id, next_at, error } => db.execute(
                    "UPDATE sms_outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
                    vals![id, next_at, error],
                ),
                NoticeUpdate::GaveUp { id, at, why } => {
                    db.execute("UPDATE sms_outbox SET gave_up_at = ?2, last_error = ?3 WHERE id = ?1", vals![id, at, why])
                }
            }?;
        }
        for c in &b.case_updates {
            let reasons = serde_json::to_string(&c.reasons).unwrap_or_else(|_| "[]".into());
            let notes = serde_json::to_string(&c.notes).unwrap_or_else(|_| "[]".into());
            match &c.closed {
                None => db.execute("UPDATE cases SET reasons = ?2, notes = ?3 WHERE id = ?1", vals![c.id, reasons, notes]),
                Some((by, at, summary)) => db.execute(
                    "UPDATE cases SET reasons = ?2, notes = ?3, state = 'closed', closed_by = ?4, closed_at = ?5, summary = ?6 WHERE id = ?1",
                    vals![c.id, reasons, notes, by, at, summary],
                ),
            }?;
        }
        for a in &b.audit {
            db.execute(
                "INSERT INTO audit (at, actor, action, target, detail, client) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                vals![a.at, &a.actor, &a.action, &a.target, &a.detail, &a.client],
            )?;
        }
        let purged = match &b.purge {
            Some(p) => Store::purge(db, topo, p)?,
            None => Purged::default(),
        };
        for p in &b.pauses {
            match p {
                PauseRow::Start { counter, clerk, reason, at } => {
                    let def = &topo.counters[*counter];
                    db.execute(
                        "INSERT INTO pauses (counter, hall, clerk, reason, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        vals![&def.id, &topo.halls[def.hall].id, clerk.as_ref(), reason, at],
                    )?;
                }
                PauseRow::End { counter, at } => {
                    db.execute("UPDATE pauses SET ended_at = ?2 WHERE counter = ?1 AND ended_at IS NULL", vals![&topo.counters[*counter].id, at])?;
                }
            }
        }
        for ev in &b.events {
            db.execute("INSERT INTO events (seq, at, hall, type, body) VALUES (?1, ?2, ?3, ?4, ?5)", vals![ev.seq, ev.at, ev.hall, ev.kind, ev.body])?;
        }
        if b.sessions_clear {
            db.execute("DELETE FROM sessions", &[])?;
        }
        for token in &b.sessions_remove {
            db.execute("DELETE FROM sessions WHERE token_hash = ?1", vals![token])?;
        }
        for s in &b.sessions_add {
            db.execute(
                "INSERT INTO sessions (token_hash, clerk, counter, created_at, pin_fp) VALUES (?1, ?2, ?3, ?4, ?5)",
                vals![&s.token_hash, &s.clerk, &s.counter, s.created_at, &s.pin_fp],
            )?;
        }
        for (hall, msgs) in &b.publicity {
            let json = serde_json::to_string(msgs).unwrap_or_default();
            db.execute(
                "INSERT INTO publicity (hall, messages) VALUES (?1, ?2) ON CONFLICT (hall) DO UPDATE SET messages = excluded.messages",
                vals![&topo.halls[*hall].id, json],
            )?;
        }
        for bk in &b.bookings {
            db.execute(
                "INSERT INTO appointments (id, code, hall, service, day, slot, state, person, name, phone, created_at,
                    changed_at, ticket, request_id, conflict_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at,
                    ticket = excluded.ticket, conflict_at = excluded.conflict_at",
                vals![
                    bk.id,
                    &bk.code,
                    &topo.halls[bk.hall].id,
                    &topo.services[bk.service].id,
                    bk.date.to_string(),
                    bk.slot,
                    booking_state_str(bk.state),
                    &bk.who.person,
                    &bk.who.name,
                    &bk.who.phone,
                    bk.created_at,
                    bk.changed_at,
                    bk.ticket,
                    &bk.request_id,
                    bk.conflict_at,
                ],
            )?;
        }
        for (person, until) in &b.bans {
            match until {
                Some(u) => db.execute(
                    "INSERT INTO appointment_bans (person, until) VALUES (?1, ?2) ON CONFLICT (person) DO UPDATE SET until = excluded.until",
                    vals![*person, u.to_string()],
                ),
                None => db.execute("DELETE FROM appointment_bans WHERE person = ?1", vals![*person]),
            }?;
        }
        for (hall, e) in &b.edge_events {
            db.execute(
                "INSERT INTO edge_log (hall, seq, at, type, ev_hall, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hall, seq) DO NOTHING",
                vals![*hall, e.seq, e.at, &e.kind, e.hall.as_ref(), &e.body],
            )?;
        }
        put_ticket_rows(db, "edge_tickets", b.edge_tickets.iter().copied())?;
        for h in &b.edge_halls {
            db.execute(
                "INSERT INTO edge_halls (hall, seen_at, cut_since, overview) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hall) DO UPDATE SET seen_at = excluded.seen_at, cut_since = excluded.cut_since,
                    overview = COALESCE(excluded.overview, edge_halls.overview)",
                vals![&h.hall, h.seen_at, h.cut_since, h.overview.as_ref()],
            )?;
        }
        for (hall, at, skip, held) in &b.takeovers {
            db.execute(
                "INSERT INTO hall_takeovers (hall, at, skip, held) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hall) DO UPDATE SET at = excluded.at, skip = excluded.skip, held = excluded.held",
                vals![hall, *at, *skip, *held],
            )?;
        }
        for f in &b.edge_feed {
            db.execute("INSERT INTO edge_feed (hall, seq, at, body) VALUES (?1, ?2, ?3, ?4)", vals![&f.hall, f.seq, f.at, &f.body])?;
        }
        if let Some(n) = b.feed_held {
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('edge_feed_held', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vals![n.to_string()],
            )?;
        }
        for (device, body) in &b.devices {
            db.execute(
                "INSERT INTO devices (device, body) VALUES (?1, ?2) ON CONFLICT (device) DO UPDATE SET body = excluded.body",
                vals![device, body],
            )?;
        }
        Ok(purged)
    }
}

/// Writes ticket rows as another server holds them into `table` (`edge_tickets` at the core,
/// `tickets` at a hall edge taking the core's copy), each row as it now is.
pub fn put_ticket_rows<'a>(db: &mut Db, table: &str, rows: impl IntoIterator<Item = &'a qcall_wire::EdgeTicket>) -> Result<(), DbError> {
    for t in rows {
        db.execute(
            &format!(
                "INSERT INTO {table} ({EDGE_TICKET_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)
                 ON CONFLICT (id) DO UPDATE SET hall = excluded.hall, service = excluded.service,
                    state = excluded.state, queued_at = excluded.queued_at, called_at = excluded.called_at,
                    finished_at = excluded.finished_at, counter = excluded.counter, clerk = excluded.clerk,
                    call_count = excluded.call_count, transferred = excluded.transferred, rating = excluded.rating,
                    slot_start = excluded.slot_start, arrived_at = excluded.arrived_at, held_at = excluded.held_at"
            ),
            vals![
                t.id, &t.day, &t.issued_hall, &t.issued_service, t.seq, &t.number, &t.hall, &t.service, &t.priority, &t.state,
                t.issued_at, t.queued_at, t.called_at, t.finished_at, t.counter.as_ref(), t.clerk.as_ref(), t.call_count,
                t.transferred, t.request_id.as_ref(), t.rating, t.slot_start, t.remote_code.as_ref(), t.arrived_at, t.held_at,
            ],
        )?;
    }
    Ok(())
}
