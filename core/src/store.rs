//! SQLite persistence: WAL, `synchronous=FULL`, append-only migrations tracked in
//! `user_version`. Only the engine's writer thread writes; every batch is one transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use std::collections::HashMap;

use crate::domain::{
    Booking, BookingState, Bookings, Call, Counter, CounterState, Millis, Person, Priority, Record, State, Ticket, TicketId,
    TicketState, Topology, RECENT_CALLS,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("database {path}: cannot create its directory: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("database {path}: schema version {found} is newer than this program knows ({known})")]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error(
        "database {path}: its business day {stored} is later than the clock's {clock}. The clock \
         is wrong (the server never goes back in time: fix the clock and start again), or the \
         database comes from another machine"
    )]
    DayAhead { path: PathBuf, stored: NaiveDate, clock: NaiveDate },
}

/// Append-only: never edit a released step, add a new one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: initial schema
    "CREATE TABLE tickets (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        issued_hall TEXT NOT NULL,
        issued_service TEXT NOT NULL,
        seq INTEGER NOT NULL,
        number TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        priority TEXT NOT NULL,
        state TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        queued_at INTEGER NOT NULL,
        called_at INTEGER,
        finished_at INTEGER,
        counter TEXT,
        clerk TEXT,
        call_count INTEGER NOT NULL,
        transferred INTEGER NOT NULL,
        request_id TEXT,
        rating INTEGER,
        UNIQUE (day, issued_hall, issued_service, seq)
    );
    CREATE UNIQUE INDEX tickets_request ON tickets (day, request_id) WHERE request_id IS NOT NULL;
    CREATE INDEX tickets_day_state ON tickets (day, state);
    CREATE TABLE counters (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        clerk TEXT,
        current INTEGER,
        last_finished INTEGER,
        last_finished_at INTEGER
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        hall TEXT,
        type TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        clerk TEXT NOT NULL,
        counter TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE publicity (hall TEXT PRIMARY KEY, messages TEXT NOT NULL);
    CREATE TABLE devices (device TEXT PRIMARY KEY, body TEXT NOT NULL);",
    // 2: sessions remember the PIN hash they were made with (a changed PIN voids them); the
    // calls are indexed (only they: issuing pays nothing) so a start finds the day's calls fast
    "ALTER TABLE sessions ADD COLUMN pin_fp TEXT NOT NULL DEFAULT '';
    CREATE INDEX events_calls ON events (seq) WHERE type = 'ticket_called';",
    // 3: appointments (personal data kept `retention_days`, then folded into counts) and the
    // slot of an appointment's ticket
    "ALTER TABLE tickets ADD COLUMN slot_start INTEGER;
    CREATE TABLE appointments (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        day TEXT NOT NULL,
        slot INTEGER NOT NULL,
        state TEXT NOT NULL,
        person TEXT NOT NULL,
        name TEXT NOT NULL,
        phone TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        changed_at INTEGER,
        ticket INTEGER,
        request_id TEXT NOT NULL
    );
    CREATE INDEX appointments_day ON appointments (day, hall);
    CREATE INDEX appointments_code ON appointments (code);
    CREATE TABLE appointment_bans (person TEXT PRIMARY KEY, until TEXT NOT NULL);
    CREATE TABLE appointment_counts (
        day TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        booked INTEGER NOT NULL,
        cancelled INTEGER NOT NULL,
        checked_in INTEGER NOT NULL,
        no_show INTEGER NOT NULL,
        PRIMARY KEY (day, hall, service)
    );",
    // 4: the audit trail of supervisors' and administrators' actions (kept `audit_days`)
    "CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        client TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);",
    // 5: why and since when a counter is paused, and every pause (per reason and clerk; the
    // clerk is forgotten after `retention_days` like a ticket's)
    "ALTER TABLE counters ADD COLUMN paused_at INTEGER;
    ALTER TABLE counters ADD COLUMN pause_reason TEXT;
    CREATE TABLE pauses (
        id INTEGER PRIMARY KEY,
        counter TEXT NOT NULL,
        hall TEXT NOT NULL,
        clerk TEXT,
        reason TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER
    );
    CREATE INDEX pauses_started ON pauses (started_at);",
    // 6: alerts for the duty leader (the wire alert as JSON in `body`) and the webhook outbox
    "CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        hall TEXT NOT NULL,
        raised_at INTEGER NOT NULL,
        cleared_at INTEGER,
        acked_at INTEGER,
        body TEXT NOT NULL
    );
    CREATE INDEX alerts_live ON alerts (cleared_at);
    CREATE TABLE webhook_outbox (
        id INTEGER PRIMARY KEY,
        alert INTEGER NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        delivered_at INTEGER,
        last_error TEXT
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at) WHERE delivered_at IS NULL;
    CREATE TABLE cases (
        id INTEGER PRIMARY KEY,
        ticket INTEGER NOT NULL UNIQUE,
        number TEXT NOT NULL,
        day TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        counter TEXT NOT NULL,
        clerk TEXT,
        rated_at INTEGER NOT NULL,
        score INTEGER NOT NULL,
        reasons TEXT NOT NULL DEFAULT '[]',
        deadline TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open',
        notes TEXT NOT NULL DEFAULT '[]',
        closed_by TEXT,
        closed_at INTEGER,
        summary TEXT
    );
    CREATE INDEX cases_state ON cases (state, deadline);",
];

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

/// Why a change to a case was refused.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("no such case")]
    Unknown,
    #[error("the case is closed")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A webhook delivery attempt's outcome (written by the writer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxUpdate {
    Delivered { id: i64, at: Millis },
    Failed { id: i64, next_at: Millis, error: String },
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
}

pub struct EventRow<'a> {
    pub seq: u64,
    pub at: Millis,
    pub hall: Option<&'a str>,
    pub kind: &'a str,
    pub body: &'a str,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    topo: Arc<Topology>,
}

/// The schema version this qcall's migrations reach.
pub fn schema_version_known() -> i64 {
    MIGRATIONS.len() as i64
}

/// How long a statement waits for a database another connection holds.
pub const DEFAULT_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: path.to_path_buf(), source })?;
    }
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
    Ok(conn)
}

/// When the newest event in the database at `path` happened (`None`: no file, no events).
/// Reads only; takes no lock.
pub fn last_event_at(path: &Path) -> Result<Option<Millis>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let has_events: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')", [], |r| r.get(0))
        .map_err(err)?;
    if !has_events {
        return Ok(None);
    }
    conn.query_row("SELECT at FROM events ORDER BY seq DESC LIMIT 1", [], |r| r.get(0)).optional().map_err(err)
}

impl Store {
    pub fn open(path: &Path, topo: Arc<Topology>) -> Result<Store, StoreError> {
        let conn = open_connection(path)?;
        let mut store = Store { conn, path: path.to_path_buf(), topo };
        store.migrate()?;
        Ok(store)
    }

    /// A commit waits at most this long for the database (then its batch fails).
    pub fn set_busy_timeout(&self, t: std::time::Duration) -> Result<(), StoreError> {
        self.conn.busy_timeout(t).map_err(self.err())
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(self.err())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { path: self.path.clone(), found: version, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(err)?;
            tx.commit().map_err(err)?;
            tracing::info!(step = i + 1, "database migrated");
        }
        Ok(())
    }

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
            let state = counter_state_from(&state);
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
                        slot_start
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
                    state: ticket_state_from(&r.get::<_, String>(8)?),
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
        let st = State::restore(topo.clone(), day, next_id as TicketId, tickets, counters, publicity, recent, bookings, now);
        Ok((st, last_seq as u64))
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
                state: booking_state_from(&r.get::<_, String>(6).map_err(&e)?),
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

    /// Personal data of bookings of days before `before` goes: the rows are counted into
    /// `appointment_counts`, then deleted; bans that ended by `today` go too. Returns how many
    /// booking rows went.
    /// Appends one entry to the audit trail.
    pub fn audit(&mut self, e: &AuditRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT INTO audit (at, actor, action, target, detail, client) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .and_then(|mut st| st.execute(params![e.at, e.actor, e.action, e.target, e.detail, e.client]))
            .map_err(self.err())?;
        Ok(())
    }

    /// Forgets who served the tickets of days before `before` (the clerk's id), where the
    /// ticket is done with (finished, no-show, expired): their counts stay, per counter and
    /// service, without the person. Returns how many tickets were changed.
    pub fn purge_clerks(&mut self, before: NaiveDate) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE tickets SET clerk = NULL
                  WHERE day < ?1 AND clerk IS NOT NULL AND state IN ('finished', 'no_show', 'expired')",
                [before.to_string()],
            )
            .and_then(|n| {
                let pauses = self.conn.execute(
                    "UPDATE pauses SET clerk = NULL WHERE started_at < ?1 AND clerk IS NOT NULL AND ended_at IS NOT NULL",
                    [self.topo.day_start(before)],
                )?;
                let cases = self.conn.execute(
                    "UPDATE cases SET clerk = NULL WHERE day < ?1 AND clerk IS NOT NULL AND state = 'closed'",
                    [before.to_string()],
                )?;
                Ok(n + pauses + cases)
            })
            .map_err(self.err())
    }

    /// Deletes the audit entries from before `before` (ms); returns how many went.
    pub fn purge_audit(&mut self, before: Millis) -> Result<usize, StoreError> {
        self.conn.execute("DELETE FROM audit WHERE at < ?1", [before]).map_err(self.err())
    }

    pub fn purge_bookings(&mut self, before: NaiveDate, today: NaiveDate) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute(
            "INSERT INTO appointment_counts (day, hall, service, booked, cancelled, checked_in, no_show)
             SELECT day, hall, service, COUNT(*), SUM(state = 'cancelled'), SUM(state = 'checked_in'), SUM(state = 'no_show')
             FROM appointments WHERE day < ?1 GROUP BY day, hall, service
             ON CONFLICT (day, hall, service) DO UPDATE SET booked = booked + excluded.booked,
                cancelled = cancelled + excluded.cancelled, checked_in = checked_in + excluded.checked_in,
                no_show = no_show + excluded.no_show",
            [before.to_string()],
        )
        .map_err(e)?;
        let n = tx.execute("DELETE FROM appointments WHERE day < ?1", [before.to_string()]).map_err(e)?;
        tx.execute("DELETE FROM appointment_bans WHERE until <= ?1", [today.to_string()]).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(n)
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

    /// When the newest stored event happened.
    pub fn last_event_at(&self) -> Result<Option<Millis>, StoreError> {
        self.conn
            .query_row("SELECT at FROM events ORDER BY seq DESC LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// The newest `limit` event bodies, oldest first (for `?since=` replay after a restart).
    pub fn recent_events(&self, limit: usize) -> Result<Vec<(u64, Option<String>, String)>, StoreError> {
        let e = self.err();
        let mut stmt =
            self.conn.prepare("SELECT seq, hall, body FROM events ORDER BY seq DESC LIMIT ?1").map_err(&e)?;
        let rows = stmt
            .query_map([limit as i64], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)))
            .map_err(&e)?;
        let mut out: Vec<_> = rows.collect::<Result<_, _>>().map_err(&e)?;
        out.reverse();
        Ok(out)
    }

    pub fn sessions(&self) -> Result<Vec<SessionRow>, StoreError> {
        let e = self.err();
        let mut stmt = self.conn.prepare("SELECT token_hash, clerk, counter, created_at, pin_fp FROM sessions").map_err(&e)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SessionRow { token_hash: r.get(0)?, clerk: r.get(1)?, counter: r.get(2)?, created_at: r.get(3)?, pin_fp: r.get(4)? })
            })
            .map_err(&e)?;
        rows.collect::<Result<_, _>>().map_err(e)
    }

    pub fn devices(&self) -> Result<Vec<String>, StoreError> {
        let e = self.err();
        let mut stmt = self.conn.prepare("SELECT body FROM devices").map_err(&e)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(&e)?;
        rows.collect::<Result<_, _>>().map_err(e)
    }

    /// The alerts whose condition lasts, by key, and the id the next alert gets.
    pub fn alerts_live(&self) -> Result<(std::collections::BTreeMap<String, qcall_wire::Alert>, u64), StoreError> {
        let e = self.err();
        let mut stmt = self.conn.prepare("SELECT key, body FROM alerts WHERE cleared_at IS NULL").map_err(&e)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(&e)?;
        let mut live = std::collections::BTreeMap::new();
        for row in rows {
            let (key, body) = row.map_err(&e)?;
            if let Ok(a) = serde_json::from_str::<qcall_wire::Alert>(&body) {
                live.insert(key, a);
            }
        }
        let next: i64 = self.conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM alerts", [], |r| r.get(0)).map_err(&e)?;
        Ok((live, next as u64))
    }

    /// One alert by id, with its condition key.
    pub fn alert(&self, id: u64) -> Result<Option<(String, qcall_wire::Alert)>, StoreError> {
        use rusqlite::OptionalExtension;
        let row: Option<(String, String)> = self
            .conn
            .query_row("SELECT key, body FROM alerts WHERE id = ?1", [id as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(self.err())?;
        Ok(row.and_then(|(k, b)| serde_json::from_str(&b).ok().map(|a| (k, a))))
    }

    /// Sets the reasons of the case of `ticket` (the pad's answer after a 差评).
    pub fn case_reasons(&mut self, ticket: TicketId, reasons: &[String]) -> Result<(), CaseError> {
        use rusqlite::OptionalExtension;
        let path = self.path.clone();
        let e = move |source| StoreError::Sqlite { path: path.clone(), source };
        let json = serde_json::to_string(reasons).unwrap_or_else(|_| "[]".into());
        let tx = self.conn.transaction().map_err(&e)?;
        let state: Option<String> =
            tx.query_row("SELECT state FROM cases WHERE ticket = ?1", [ticket as i64], |r| r.get(0)).optional().map_err(&e)?;
        let Some(state) = state else { return Err(CaseError::Unknown) };
        // A closed case is what was reported: its reasons stay as they were.
        if state != "open" {
            return Err(CaseError::Closed);
        }
        tx.execute("UPDATE cases SET reasons = ?2 WHERE ticket = ?1", params![ticket as i64, json]).map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(())
    }

    /// Appends a note to an open case; closes it when `close` holds a summary.
    pub fn case_note(&mut self, id: u64, note: &qcall_wire::CaseNote, close: Option<&str>) -> Result<(), CaseError> {
        use rusqlite::OptionalExtension;
        let path = self.path.clone();
        let e = move |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(&e)?;
        let row: Option<(String, String)> =
            tx.query_row("SELECT state, notes FROM cases WHERE id = ?1", [id as i64], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(&e)?;
        let Some((state, notes)) = row else { return Err(CaseError::Unknown) };
        if state != "open" {
            return Err(CaseError::Closed);
        }
        let mut notes: Vec<qcall_wire::CaseNote> = serde_json::from_str(&notes).unwrap_or_default();
        notes.push(note.clone());
        let json = serde_json::to_string(&notes).unwrap_or_else(|_| "[]".into());
        match close {
            None => tx.execute("UPDATE cases SET notes = ?2 WHERE id = ?1", params![id as i64, json]),
            Some(summary) => tx.execute(
                "UPDATE cases SET notes = ?2, state = 'closed', closed_by = ?3, closed_at = ?4, summary = ?5 WHERE id = ?1",
                params![id as i64, json, note.by, note.at.timestamp_millis(), summary],
            ),
        }
        .map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(())
    }

    /// Records a webhook delivery attempt.
    pub fn outbox_update(&mut self, u: &OutboxUpdate) -> Result<(), StoreError> {
        match u {
            OutboxUpdate::Delivered { id, at } => self
                .conn
                .execute("UPDATE webhook_outbox SET delivered_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1", params![id, at]),
            OutboxUpdate::Failed { id, next_at, error } => self.conn.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
                params![id, next_at, error],
            ),
        }
        .map_err(self.err())?;
        Ok(())
    }

    /// Write one batch in one transaction; returns once it is durable.
    pub fn commit(&mut self, b: &Batch<'_>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |source| StoreError::Sqlite { path: path.clone(), source };
        let topo = self.topo.clone();
        let tx = self.conn.transaction().map_err(e)?;
        if let Some(day) = b.day {
            tx.prepare_cached("INSERT INTO meta (key, value) VALUES ('day', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .and_then(|mut s| s.execute([day.to_string()]))
                .map_err(e)?;
        }
        if let Some(carried) = &b.carried {
            let ids = serde_json::to_string(carried).unwrap_or_else(|_| "[]".into());
            tx.prepare_cached("INSERT INTO meta (key, value) VALUES ('carried', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .and_then(|mut s| s.execute([ids]))
                .map_err(e)?;
        }
        if let Some(day) = b.expire_before {
            tx.prepare_cached("UPDATE tickets SET state = 'expired' WHERE day < ?1 AND state IN ('waiting', 'no_show')")
                .and_then(|mut s| s.execute([day.to_string()]))
                .map_err(e)?;
            // Still at a counter when the day ended: 未办结 (the counters' rows are written too).
            tx.prepare_cached("UPDATE tickets SET state = 'unfinished' WHERE day < ?1 AND state = 'called'")
                .and_then(|mut s| s.execute([day.to_string()]))
                .map_err(e)?;
        }
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO tickets (id, day, issued_hall, issued_service, seq, number, hall, service, priority,
                        state, issued_at, queued_at, called_at, finished_at, counter, clerk, call_count, transferred,
                        request_id, rating, slot_start)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
                     ON CONFLICT (id) DO UPDATE SET hall = excluded.hall, service = excluded.service,
                        state = excluded.state, queued_at = excluded.queued_at, called_at = excluded.called_at,
                        finished_at = excluded.finished_at, counter = excluded.counter, clerk = excluded.clerk,
                        call_count = excluded.call_count, transferred = excluded.transferred, rating = excluded.rating",
                )
                .map_err(e)?;
            for t in &b.tickets {
                stmt.execute(params![
                    t.id as i64,
                    t.day.to_string(),
                    topo.halls[t.issued_hall].id,
                    topo.services[t.issued_service].id,
                    t.seq,
                    topo.number(t.issued_service, t.seq),
                    topo.halls[t.hall].id,
                    topo.services[t.service].id,
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
                    t.clerk,
                    t.call_count,
                    t.transferred as i64,
                    t.request_id,
                    t.rating,
                    t.slot,
                ])
                .map_err(e)?;
            }
        }
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO counters (id, state, clerk, current, last_finished, last_finished_at, paused_at, pause_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state, clerk = excluded.clerk,
                        current = excluded.current, last_finished = excluded.last_finished,
                        last_finished_at = excluded.last_finished_at, paused_at = excluded.paused_at,
                        pause_reason = excluded.pause_reason",
                )
                .map_err(e)?;
            for (ix, c) in &b.counters {
                stmt.execute(params![
                    topo.counters[*ix].id,
                    counter_state_str(c.state),
                    c.clerk,
                    c.current.map(|t| t as i64),
                    c.last_finished.map(|(t, _)| t as i64),
                    c.last_finished.map(|(_, at)| at),
                    c.pause.as_ref().map(|(at, _)| *at),
                    c.pause.as_ref().map(|(_, r)| r.as_str()),
                ])
                .map_err(e)?;
            }
        }
        for (key, a) in &b.alerts {
            let body = serde_json::to_string(a).unwrap_or_default();
            tx.prepare_cached(
                "INSERT INTO alerts (id, key, kind, hall, raised_at, cleared_at, acked_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET cleared_at = excluded.cleared_at, acked_at = excluded.acked_at, body = excluded.body",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.id as i64,
                    key,
                    a.kind.as_str(),
                    a.hall,
                    a.raised_at.timestamp_millis(),
                    a.cleared_at.map(|t| t.timestamp_millis()),
                    a.acked_at.map(|t| t.timestamp_millis()),
                    body
                ])
            })
            .map_err(e)?;
        }
        for c in &b.cases {
            tx.prepare_cached(
                "INSERT INTO cases (ticket, number, day, hall, service, counter, clerk, rated_at, score, deadline)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (ticket) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    c.ticket as i64,
                    c.number,
                    c.day.to_string(),
                    c.hall,
                    c.service,
                    c.counter,
                    c.clerk,
                    c.rated_at,
                    c.score,
                    c.deadline.to_string()
                ])
            })
            .map_err(e)?;
        }
        for (alert, event, body) in &b.outbox {
            tx.prepare_cached("INSERT INTO webhook_outbox (alert, event, body, next_at) VALUES (?1, ?2, ?3, 0)")
                .and_then(|mut s| s.execute(params![*alert as i64, event, body]))
                .map_err(e)?;
        }
        for p in &b.pauses {
            match p {
                PauseRow::Start { counter, clerk, reason, at } => {
                    let def = &topo.counters[*counter];
                    tx.prepare_cached("INSERT INTO pauses (counter, hall, clerk, reason, started_at) VALUES (?1, ?2, ?3, ?4, ?5)")
                        .and_then(|mut s| s.execute(params![def.id, topo.halls[def.hall].id, clerk, reason, at]))
                        .map_err(e)?;
                }
                PauseRow::End { counter, at } => {
                    tx.prepare_cached("UPDATE pauses SET ended_at = ?2 WHERE counter = ?1 AND ended_at IS NULL")
                        .and_then(|mut s| s.execute(params![topo.counters[*counter].id, at]))
                        .map_err(e)?;
                }
            }
        }
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO events (seq, at, hall, type, body) VALUES (?1, ?2, ?3, ?4, ?5)").map_err(e)?;
            for ev in &b.events {
                stmt.execute(params![ev.seq as i64, ev.at, ev.hall, ev.kind, ev.body]).map_err(e)?;
            }
        }
        if b.sessions_clear {
            tx.execute("DELETE FROM sessions", []).map_err(e)?;
        }
        for token in &b.sessions_remove {
            tx.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1").and_then(|mut s| s.execute([token])).map_err(e)?;
        }
        for s in &b.sessions_add {
            tx.prepare_cached("INSERT INTO sessions (token_hash, clerk, counter, created_at, pin_fp) VALUES (?1, ?2, ?3, ?4, ?5)")
                .and_then(|mut st| st.execute(params![s.token_hash, s.clerk, s.counter, s.created_at, s.pin_fp]))
                .map_err(e)?;
        }
        for (hall, msgs) in &b.publicity {
            let json = serde_json::to_string(msgs).unwrap_or_default();
            tx.prepare_cached("INSERT INTO publicity (hall, messages) VALUES (?1, ?2) ON CONFLICT (hall) DO UPDATE SET messages = excluded.messages")
                .and_then(|mut s| s.execute(params![topo.halls[*hall].id, json]))
                .map_err(e)?;
        }
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO appointments (id, code, hall, service, day, slot, state, person, name, phone, created_at,
                        changed_at, ticket, request_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at,
                        ticket = excluded.ticket",
                )
                .map_err(e)?;
            for bk in &b.bookings {
                stmt.execute(params![
                    bk.id as i64,
                    bk.code,
                    topo.halls[bk.hall].id,
                    topo.services[bk.service].id,
                    bk.date.to_string(),
                    bk.slot,
                    booking_state_str(bk.state),
                    bk.who.person,
                    bk.who.name,
                    bk.who.phone,
                    bk.created_at,
                    bk.changed_at,
                    bk.ticket.map(|t| t as i64),
                    bk.request_id,
                ])
                .map_err(e)?;
            }
        }
        for (person, until) in &b.bans {
            match until {
                Some(u) => tx
                    .prepare_cached("INSERT INTO appointment_bans (person, until) VALUES (?1, ?2) ON CONFLICT (person) DO UPDATE SET until = excluded.until")
                    .and_then(|mut s| s.execute(params![person, u.to_string()])),
                None => tx.prepare_cached("DELETE FROM appointment_bans WHERE person = ?1").and_then(|mut s| s.execute([person])),
            }
            .map_err(e)?;
        }
        for (device, body) in &b.devices {
            tx.prepare_cached("INSERT INTO devices (device, body) VALUES (?1, ?2) ON CONFLICT (device) DO UPDATE SET body = excluded.body")
                .and_then(|mut s| s.execute(params![device, body]))
                .map_err(e)?;
        }
        tx.commit().map_err(e)
    }
}

pub fn ticket_state_str(s: TicketState) -> &'static str {
    match s {
        TicketState::Waiting => "waiting",
        TicketState::Called => "called",
        TicketState::Finished => "finished",
        TicketState::NoShow => "no_show",
        TicketState::Expired => "expired",
        TicketState::Unfinished => "unfinished",
    }
}

pub fn ticket_state_from(s: &str) -> TicketState {
    match s {
        "waiting" => TicketState::Waiting,
        "called" => TicketState::Called,
        "finished" => TicketState::Finished,
        "no_show" => TicketState::NoShow,
        "unfinished" => TicketState::Unfinished,
        _ => TicketState::Expired,
    }
}

fn counter_state_str(s: CounterState) -> &'static str {
    match s {
        CounterState::Closed => "closed",
        CounterState::Open => "open",
        CounterState::Paused => "paused",
    }
}

fn counter_state_from(s: &str) -> CounterState {
    match s {
        "open" => CounterState::Open,
        "paused" => CounterState::Paused,
        _ => CounterState::Closed,
    }
}

/// Free bytes on the disk holding `path` (`None` when it cannot be read).
pub fn free_space(path: &Path) -> Option<u64> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

pub fn booking_state_str(s: BookingState) -> &'static str {
    match s {
        BookingState::Booked => "booked",
        BookingState::Cancelled => "cancelled",
        BookingState::CheckedIn => "checked_in",
        BookingState::NoShow => "no_show",
    }
}

pub fn booking_state_from(s: &str) -> BookingState {
    match s {
        "cancelled" => BookingState::Cancelled,
        "checked_in" => BookingState::CheckedIn,
        "no_show" => BookingState::NoShow,
        _ => BookingState::Booked,
    }
}
