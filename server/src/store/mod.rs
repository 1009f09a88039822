//! Persistence: embedded SQLite (WAL, `synchronous=FULL`) or PostgreSQL, append-only
//! migrations per dialect. Only the engine's writer thread writes; every batch is one
//! transaction. On PostgreSQL the writer holds a lease ([`lease`]) that every commit renews.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;

mod batch;
mod db;
pub mod lease;
pub mod scratch;
mod load;
pub mod schema;
mod text;

pub use batch::{put_ticket_rows, EDGE_TICKET_COLUMNS, AuditRow, Batch, EdgeHallRow, FeedRow, CaseRow, CaseUpdate, EventRow, NoticeRow, NoticeUpdate, OutboxUpdate, PauseRow, PhoneRow, Purge, Purged, SessionRow};
pub(crate) use load::booking_row;
pub use db::{Db, DbError, Dialect, FromValue, PgSettings, Row, Value};
pub use schema::{open_connection, schema_version_known, schema_version_known_in, DEFAULT_BUSY_TIMEOUT, MIGRATIONS, PG_MIGRATIONS};
pub use text::{
    booking_state_from, booking_state_str, counter_state_from, counter_state_str, ticket_state_from, ticket_state_str, UnknownText,
};

use crate::domain::{Millis, TicketId, Topology};
use crate::vals;

/// Where the bureau's database is.
#[derive(Debug, Clone)]
pub enum StoreAt {
    /// An embedded SQLite file (the default).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`[store] kind = "postgres"`).
    Postgres(PgSettings),
}

impl StoreAt {
    /// Where it is, for messages (a PostgreSQL URL without its password).
    pub fn place(&self) -> String {
        match self {
            StoreAt::Sqlite(p) => p.display().to_string(),
            StoreAt::Postgres(s) => s.shown(),
        }
    }

    /// A new connection to it.
    pub fn connect(&self) -> Result<Db, StoreError> {
        match self {
            StoreAt::Sqlite(p) => open_connection(p),
            StoreAt::Postgres(s) => Db::postgres(s).map_err(|source| StoreError::Db { place: s.shown(), source }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {place}: {source}")]
    Db { place: String, source: DbError },
    #[error("database {}: cannot create its directory: {source}", path.display())]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("database {place}: schema version {found} is newer than this program knows ({known})")]
    TooNew { place: String, found: i64, known: i64 },
    #[error(
        "database {place}: its business day {stored} is later than the clock's {clock}. The clock \
         is wrong (the server never goes back in time: fix the clock and start again), or the \
         database comes from another machine"
    )]
    DayAhead { place: String, stored: NaiveDate, clock: NaiveDate },
    #[error("database {place}: `{column}` holds `{value}`, which this program does not know")]
    Corrupt { place: String, column: &'static str, value: String },
}

impl StoreError {
    /// The database refused this server's commit: another server holds the writer's lease.
    pub fn is_fenced(&self) -> bool {
        matches!(self, StoreError::Db { source: DbError::Fenced { .. }, .. })
    }
}

/// What a case is, for a change to check against: open or not, its reasons and notes.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseNow {
    pub id: u64,
    pub open: bool,
    pub reasons: Vec<String>,
    pub notes: Vec<qcall_wire::CaseNote>,
}

pub struct Store {
    db: Db,
    topo: Arc<Topology>,
    /// PostgreSQL: the writer's lease epoch this server holds (every commit checks it).
    epoch: Option<i64>,
    /// When the lease was last renewed.
    renewed: Option<std::time::Instant>,
    /// Ticket ids start above this (a hall edge's range: its hall in the high bits).
    id_base: u64,
}

/// When the newest event in the database at `path` happened (`None`: no file, no events).
/// Reads only; takes no lock.
pub fn last_event_at(at: &StoreAt) -> Result<Option<Millis>, StoreError> {
    if let StoreAt::Sqlite(path) = at {
        if !path.exists() {
            return Ok(None);
        }
        let err = |source: rusqlite::Error| StoreError::Db { place: path.display().to_string(), source: source.into() };
        let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
        let has_events: bool = conn
            .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')", [], |r| r.get(0))
            .map_err(err)?;
        if !has_events {
            return Ok(None);
        }
        return rusqlite::OptionalExtension::optional(conn.query_row("SELECT at FROM events ORDER BY seq DESC LIMIT 1", [], |r| r.get(0)))
            .map_err(err);
    }
    let mut db = at.connect()?;
    let place = at.place();
    let e = |source| StoreError::Db { place: place.clone(), source };
    let exists = db.query_one("SELECT CAST(COUNT(*) AS BIGINT) FROM information_schema.tables WHERE table_name = 'events'", &[]).map_err(e)?;
    if exists.get::<i64>(0).map_err(e)? == 0 {
        return Ok(None);
    }
    db.query_opt("SELECT at FROM events ORDER BY seq DESC LIMIT 1", &[]).map_err(e)?.map(|r| r.get(0)).transpose().map_err(e)
}

impl Store {
    pub fn open(at: &StoreAt, topo: Arc<Topology>) -> Result<Store, StoreError> {
        let db = at.connect()?;
        let mut store = Store { db, topo, epoch: None, renewed: None, id_base: 0 };
        store.migrate()?;
        Ok(store)
    }

    /// Ticket ids of this store start above `base` (see [`edge_id_base`]).
    pub fn set_id_base(&mut self, base: u64) {
        self.id_base = base;
    }

    /// A commit waits at most this long for the database (then its batch fails).
    pub fn set_busy_timeout(&mut self, t: std::time::Duration) -> Result<(), StoreError> {
        let e = self.err();
        match self.db.sqlite() {
            Some(c) => c.busy_timeout(t).map_err(|x| e(x.into())),
            None => {
                let ms = t.as_millis().max(1);
                self.db.session(&format!("SET statement_timeout = {ms}")).map_err(self.err())
            }
        }
    }

    /// The schema version the database is at.
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        schema::version(&mut self.db).map_err(self.err())
    }

    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Where the database is, for messages.
    pub fn place(&self) -> &str {
        self.db.place()
    }

    /// The connection (for the store's own modules and SQLite-only tooling in tests).
    pub fn db(&mut self) -> &mut Db {
        &mut self.db
    }

    fn err(&self) -> impl Fn(DbError) -> StoreError + 'static {
        let place = self.db.place().to_string();
        move |source| StoreError::Db { place: place.clone(), source }
    }

    fn corrupt(&self, column: &'static str, value: &str) -> StoreError {
        StoreError::Corrupt { place: self.db.place().to_string(), column, value: value.chars().take(80).collect() }
    }

    /// When the newest stored event happened.
    pub fn last_event_at(&mut self) -> Result<Option<Millis>, StoreError> {
        let e = self.err();
        self.db.query_opt("SELECT at FROM events ORDER BY seq DESC LIMIT 1", &[]).map_err(&e)?.map(|r| r.get(0)).transpose().map_err(e)
    }

    /// The newest `limit` event bodies, oldest first (for `?since=` replay after a restart).
    pub fn recent_events(&mut self, limit: usize) -> Result<Vec<(u64, Option<String>, String)>, StoreError> {
        let e = self.err();
        let rows = self.db.query("SELECT seq, hall, body FROM events ORDER BY seq DESC LIMIT ?1", vals![limit]).map_err(&e)?;
        let mut out = rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).collect::<Result<Vec<_>, DbError>>().map_err(e)?;
        out.reverse();
        Ok(out)
    }

    /// The last event's sequence number (0 without events).
    pub fn last_seq(&mut self) -> Result<u64, StoreError> {
        let e = self.err();
        self.db.query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[]).and_then(|r| r.get(0)).map_err(e)
    }

    /// Per hall id: the highest `seq` of the hall edge's log held here.
    pub fn edge_held(&mut self) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let e = self.err();
        let rows = self.db.query("SELECT hall, MAX(seq) FROM edge_log GROUP BY hall", &[]).map_err(&e)?;
        rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect::<Result<_, DbError>>().map_err(e)
    }

    /// The last item of each hall edge's feed (at the core), and the last one applied (at an
    /// edge: hall `""`).
    pub fn edge_feed_last(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        let e = self.err();
        let rows = self.db.query("SELECT hall, MAX(seq) FROM edge_feed GROUP BY hall", &[]).map_err(&e)?;
        let mut out: Vec<(String, u64)> = rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect::<Result<_, DbError>>().map_err(&e)?;
        if let Some(r) = self.db.query_opt("SELECT value FROM meta WHERE key = 'edge_feed_held'", &[]).map_err(&e)? {
            let v: String = r.get(0).map_err(&e)?;
            out.push((String::new(), v.parse().unwrap_or(0)));
        }
        Ok(out)
    }

    /// The halls the core took over from their edges: (hall, when, skip).
    pub fn takeovers(&mut self) -> Result<Vec<(String, i64, u32)>, StoreError> {
        let e = self.err();
        let rows = self.db.query("SELECT hall, at, skip FROM hall_takeovers ORDER BY hall", &[]).map_err(&e)?;
        rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).collect::<Result<_, DbError>>().map_err(e)
    }

    /// Runs a read on the writer's own connection (what a change needs to know first).
    pub fn read<T>(&mut self, f: impl FnOnce(&mut Db) -> Result<T, DbError>) -> Result<T, StoreError> {
        let e = self.err();
        f(&mut self.db).map_err(e)
    }

    /// What is known of the halls run by their edges.
    pub fn edge_halls(&mut self) -> Result<Vec<EdgeHallRow>, StoreError> {
        let e = self.err();
        let rows = self.db.query("SELECT hall, seen_at, cut_since, overview FROM edge_halls ORDER BY hall", &[]).map_err(&e)?;
        rows.iter()
            .map(|r| Ok(EdgeHallRow { hall: r.get(0)?, seen_at: r.get(1)?, cut_since: r.get(2)?, overview: r.get(3)? }))
            .collect::<Result<_, DbError>>()
            .map_err(e)
    }

    pub fn sessions(&mut self) -> Result<Vec<SessionRow>, StoreError> {
        let e = self.err();
        let rows = self.db.query("SELECT token_hash, clerk, counter, created_at, pin_fp FROM sessions", &[]).map_err(&e)?;
        rows.iter()
            .map(|r| Ok(SessionRow { token_hash: r.get(0)?, clerk: r.get(1)?, counter: r.get(2)?, created_at: r.get(3)?, pin_fp: r.get(4)? }))
            .collect::<Result<_, DbError>>()
            .map_err(e)
    }

    pub fn devices(&mut self) -> Result<Vec<String>, StoreError> {
        let e = self.err();
        let rows = self.db.query("SELECT body FROM devices", &[]).map_err(&e)?;
        rows.iter().map(|r| r.get(0)).collect::<Result<_, DbError>>().map_err(e)
    }

    /// The alerts whose condition lasts, by key, and the id the next alert gets.
    pub fn alerts_live(&mut self) -> Result<(std::collections::BTreeMap<String, qcall_wire::Alert>, u64), StoreError> {
        let e = self.err();
        let mut live = std::collections::BTreeMap::new();
        for r in self.db.query("SELECT key, body FROM alerts WHERE cleared_at IS NULL", &[]).map_err(&e)? {
            let (key, body): (String, String) = (r.get(0).map_err(&e)?, r.get(1).map_err(&e)?);
            if let Ok(a) = serde_json::from_str::<qcall_wire::Alert>(&body) {
                live.insert(key, a);
            }
        }
        let next: i64 = self.db.query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM alerts", &[]).and_then(|r| r.get(0)).map_err(&e)?;
        Ok((live, next as u64))
    }

    /// One alert by id, with its condition key.
    pub fn alert(&mut self, id: u64) -> Result<Option<(String, qcall_wire::Alert)>, StoreError> {
        let e = self.err();
        let row = self.db.query_opt("SELECT key, body FROM alerts WHERE id = ?1", vals![id]).map_err(&e)?;
        let Some(r) = row else { return Ok(None) };
        let (k, b): (String, String) = (r.get(0).map_err(&e)?, r.get(1).map_err(&e)?);
        Ok(serde_json::from_str(&b).ok().map(|a| (k, a)))
    }

    /// The numbers left for `day`'s tickets, and the messages already made for them (by
    /// ticket and kind).
    pub fn ticket_phones(&mut self, day: NaiveDate) -> Result<(Vec<(TicketId, String)>, Vec<(TicketId, String)>), StoreError> {
        let e = self.err();
        let d = day.to_string();
        let pairs = |rows: Vec<Row>| rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect::<Result<Vec<_>, DbError>>();
        let phones = self.db.query("SELECT ticket, phone FROM ticket_phones WHERE day = ?1", vals![&d]).and_then(pairs).map_err(&e)?;
        let made = self.db.query("SELECT ticket, kind FROM sms_outbox WHERE day = ?1", vals![&d]).and_then(pairs).map_err(&e)?;
        Ok((phones, made))
    }

    /// The case with this id, or the case of this ticket, as it is stored.
    pub fn case_now(&mut self, by: CaseKey) -> Result<Option<CaseNow>, StoreError> {
        let (sql, key) = match by {
            CaseKey::Id(id) => ("SELECT id, state, reasons, notes FROM cases WHERE id = ?1", id),
            CaseKey::Ticket(t) => ("SELECT id, state, reasons, notes FROM cases WHERE ticket = ?1", t),
        };
        let e = self.err();
        let Some(r) = self.db.query_opt(sql, vals![key]).map_err(&e)? else { return Ok(None) };
        let (id, state, reasons, notes): (u64, String, String, String) =
            (r.get(0).map_err(&e)?, r.get(1).map_err(&e)?, r.get(2).map_err(&e)?, r.get(3).map_err(&e)?);
        let open = match state.as_str() {
            "open" => true,
            "closed" => false,
            other => return Err(self.corrupt("cases.state", other)),
        };
        let reasons = serde_json::from_str(&reasons).map_err(|_| self.corrupt("cases.reasons", &reasons))?;
        let notes = serde_json::from_str(&notes).map_err(|_| self.corrupt("cases.notes", &notes))?;
        Ok(Some(CaseNow { id, open, reasons, notes }))
    }
}

/// The ids of a hall edge's tickets start above this: the hall in the high bits, so ids are
/// unique across halls without asking anyone, and stay below 2^53 (exact in JavaScript).
pub fn edge_id_base(hall: usize) -> u64 {
    (hall as u64 + 1) * EDGE_ID_RANGE
}

/// How many ticket ids each server has: the core's below it, each hall edge's above its base.
pub const EDGE_ID_RANGE: u64 = 1 << 40;

/// Which case: by its id, or by the ticket that was rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKey {
    Id(u64),
    Ticket(TicketId),
}

/// Free bytes on the disk holding `path` (`None` when it cannot be read).
pub fn free_space(path: &Path) -> Option<u64> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// The database's lock file, held for the server's life: one server per database.
pub struct DbLock {
    _file: std::fs::File,
}

impl DbLock {
    pub fn take(db: &std::path::Path) -> anyhow::Result<DbLock> {
        use std::io::{Read, Seek, Write};
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let path = std::path::PathBuf::from(format!("{}.lock", db.display()));
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            anyhow::bail!(
                "database {} is in use by PID {} (lock file {}): one server per database",
                db.display(),
                pid.trim(),
                path.display()
            );
        }
        file.set_len(0)?;
        file.seek(std::io::SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(DbLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every enum column is read strictly: text no state has is refused with the column named,
    /// not read as some default (a closed counter, an expired ticket, a live booking).
    #[test]
    fn unknown_text_in_a_state_column_is_refused() {
        for v in ["waiting", "called", "finished", "no_show", "expired", "unfinished"] {
            assert_eq!(ticket_state_str(ticket_state_from(v).unwrap()), v);
        }
        for v in ["booked", "cancelled", "checked_in", "no_show"] {
            assert_eq!(booking_state_str(booking_state_from(v).unwrap()), v);
        }
        for v in ["closed", "open", "paused"] {
            assert_eq!(counter_state_str(counter_state_from(v).unwrap()), v);
        }
        assert!(ticket_state_from("served").is_err() && booking_state_from("").is_err() && counter_state_from("Open").is_err());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let cfg = crate::config::Config::embedded().unwrap();
        let now = cfg.topology.day_start(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()) + 9 * 3_600_000;
        let at = StoreAt::Sqlite(path.clone());
        drop(Store::open(&at, cfg.topology.clone()).unwrap());
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO counters (id, state, clerk, current, last_finished, last_finished_at) VALUES ('E01', 'half-open', NULL, NULL, NULL, NULL)", [])
            .unwrap();
        let mut store = Store::open(&at, cfg.topology.clone()).unwrap();
        let e = store.load(now).err().expect("refused").to_string();
        assert!(e.contains("counters.state") && e.contains("half-open"), "{e}");
    }
}
