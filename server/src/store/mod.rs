//! SQLite persistence: WAL, `synchronous=FULL`, append-only migrations tracked in
//! `user_version`. Only the engine's writer thread writes; every batch is one transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension};

mod batch;
mod load;
mod schema;
mod text;

pub use batch::{AuditRow, Batch, CaseRow, CaseUpdate, EventRow, NoticeRow, NoticeUpdate, OutboxUpdate, PauseRow, PhoneRow, Purge, Purged, SessionRow};
pub use schema::{open_connection, schema_version_known, DEFAULT_BUSY_TIMEOUT, MIGRATIONS};
pub use text::{
    booking_state_from, booking_state_str, counter_state_from, counter_state_str, ticket_state_from, ticket_state_str, UnknownText,
};

use crate::domain::{Millis, TicketId, Topology};

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
    #[error("database {path}: `{column}` holds `{value}`, which this program does not know")]
    Corrupt { path: PathBuf, column: &'static str, value: String },
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
    conn: Connection,
    path: PathBuf,
    topo: Arc<Topology>,
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

    fn corrupt(&self, column: &'static str, value: &str) -> StoreError {
        StoreError::Corrupt { path: self.path.clone(), column, value: value.chars().take(80).collect() }
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

    /// The numbers left for `day`'s tickets, and the messages already made for them (by
    /// ticket and kind).
    pub fn ticket_phones(&self, day: NaiveDate) -> Result<(Vec<(TicketId, String)>, Vec<(TicketId, String)>), StoreError> {
        let e = self.err();
        let d = day.to_string();
        let mut stmt = self.conn.prepare("SELECT ticket, phone FROM ticket_phones WHERE day = ?1").map_err(&e)?;
        let phones = stmt
            .query_map([&d], |r| Ok((r.get::<_, i64>(0)? as TicketId, r.get::<_, String>(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(&e)?;
        let mut stmt = self.conn.prepare("SELECT ticket, kind FROM sms_outbox WHERE day = ?1").map_err(&e)?;
        let made = stmt
            .query_map([&d], |r| Ok((r.get::<_, i64>(0)? as TicketId, r.get::<_, String>(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(&e)?;
        Ok((phones, made))
    }

    /// The case with this id, or the case of this ticket, as it is stored.
    pub fn case_now(&self, by: CaseKey) -> Result<Option<CaseNow>, StoreError> {
        let (sql, key) = match by {
            CaseKey::Id(id) => ("SELECT id, state, reasons, notes FROM cases WHERE id = ?1", id as i64),
            CaseKey::Ticket(t) => ("SELECT id, state, reasons, notes FROM cases WHERE ticket = ?1", t as i64),
        };
        self.conn
            .query_row(sql, [key], |r| {
                let (id, state, reasons, notes): (i64, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                Ok((id, state, reasons, notes))
            })
            .optional()
            .map_err(self.err())?
            .map(|(id, state, reasons, notes)| {
                let open = match state.as_str() {
                    "open" => true,
                    "closed" => false,
                    other => return Err(self.corrupt("cases.state", other)),
                };
                let reasons = serde_json::from_str(&reasons).map_err(|_| self.corrupt("cases.reasons", &reasons))?;
                let notes = serde_json::from_str(&notes).map_err(|_| self.corrupt("cases.notes", &notes))?;
                Ok(CaseNow { id: id as u64, open, reasons, notes })
            })
            .transpose()
    }

}

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
        drop(Store::open(&path, cfg.topology.clone()).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO counters (id, state, clerk, current, last_finished, last_finished_at) VALUES ('E01', 'half-open', NULL, NULL, NULL, NULL)", [])
            .unwrap();
        let store = Store::open(&path, cfg.topology.clone()).unwrap();
        let e = store.load(now).err().expect("refused").to_string();
        assert!(e.contains("counters.state") && e.contains("half-open"), "{e}");
    }
}
