//! The database for the bureau's IT staff: a consistent copy while the server serves
//! (`qcall backup`), putting a copy back (`qcall restore`), and a check of a database or a
//! backup (`qcall check-db`).
//!
//! A backup is `VACUUM INTO` on a read-only connection: one read transaction, so the copy is
//! the database as of one commit, and the server's writer is never blocked (WAL). It is
//! written next to its final name and renamed when complete, so a half-written backup never
//! carries the final name.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("{}: {source}", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("database {place}: {source}")]
    Db { place: String, source: crate::store::DbError },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("{} already exists: choose another name or remove it first", .0.display())]
    Exists(PathBuf),
    #[error("{} is not a qcall database (no schema version)", .0.display())]
    NotQcall(PathBuf),
    #[error("{} fails its check ({} problems, the first: {first}); nothing was restored", path.display(), count)]
    Damaged { path: PathBuf, count: usize, first: String },
    #[error("{0}; stop the server first")]
    InUse(String),
}

/// What a backup or a check found in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub schema_version: i64,
    pub tickets: i64,
    pub events: i64,
    /// The last event's sequence number (0 without events).
    pub last_seq: i64,
    pub bytes: u64,
}

/// The outcome of `check-db`: every problem found, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub summary: Summary,
    pub problems: Vec<String>,
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> MaintenanceError + '_ {
    move |source| MaintenanceError::Sqlite { path: path.to_path_buf(), source }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> MaintenanceError + '_ {
    move |source| MaintenanceError::Io { path: path.to_path_buf(), source }
}

fn open_read_only(path: &Path) -> Result<Connection, MaintenanceError> {
    if !path.exists() {
        return Err(MaintenanceError::Missing(path.to_path_buf()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sqlite(path))?;
    conn.busy_timeout(crate::store::DEFAULT_BUSY_TIMEOUT).map_err(sqlite(path))?;
    Ok(conn)
}

fn summary(conn: &Connection, path: &Path) -> Result<Summary, MaintenanceError> {
    let e = sqlite(path);
    let schema_version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(&e)?;
    if schema_version == 0 {
        return Err(MaintenanceError::NotQcall(path.to_path_buf()));
    }
    let tickets = conn.query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0)).map_err(&e)?;
    let (events, last_seq) =
        conn.query_row("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events", [], |r| Ok((r.get(0)?, r.get(1)?))).map_err(&e)?;
    let bytes = std::fs::metadata(path).map_err(io(path))?.len();
    Ok(Summary { schema_version, tickets, events, last_seq, bytes })
}

/// Copies `db` to `out` as of one moment, while a server may keep writing to it.
pub fn backup(db: &Path, out: &Path) -> Result<Summary, MaintenanceError> {
    if out.exists() {
        return Err(MaintenanceError::Exists(out.to_path_buf()));
    }
    let conn = open_read_only(db)?;
    summary(&conn, db)?;
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let _ = std::fs::remove_file(&partial);
    let target = partial.to_str().ok_or_else(|| MaintenanceError::Io {
        path: partial.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the backup's path is not UTF-8"),
    })?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(sqlite(db))?;
    drop(conn);
    std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(io(&partial))?;
    std::fs::rename(&partial, out).map_err(io(out))?;
    sync_dir(out)?;
    let copy = open_read_only(out)?;
    summary(&copy, out)
}

fn sync_dir(file: &Path) -> Result<(), MaintenanceError> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}

/// Checks a database file (or a backup) without changing it: SQLite's `integrity_check` and
/// the domain's invariants ([`check_db`]).
pub fn check(db: &Path) -> Result<Check, MaintenanceError> {
    let conn = open_read_only(db)?;
    let summary = summary(&conn, db)?;
    let known = crate::store::schema_version_known();
    if summary.schema_version > known {
        let problems = vec![format!("schema version {} is newer than this qcall knows ({known})", summary.schema_version)];
        return Ok(Check { summary, problems });
    }
    let e = sqlite(db);
    let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(&e)?;
    let integrity: Vec<String> = stmt.query_map([], |r| r.get(0)).map_err(&e)?.collect::<Result<_, _>>().map_err(&e)?;
    drop(stmt);
    let mut problems: Vec<String> = integrity.into_iter().filter(|l| l != "ok").map(|l| format!("integrity: {l}")).collect();
    let mut conn = crate::store::Db::from_sqlite(conn, db.display().to_string());
    problems.extend(invariants(&mut conn).map_err(|source| MaintenanceError::Db { place: db.display().to_string(), source })?);
    Ok(Check { summary, problems })
}

/// Checks a PostgreSQL database without changing it: the schema version and the domain's
/// invariants (its own checksums and `amcheck` are PostgreSQL's tools).
pub fn check_postgres(db: &mut crate::store::Db) -> Result<Check, MaintenanceError> {
    use crate::vals;
    let place = db.place().to_string();
    let e = |source| MaintenanceError::Db { place: place.clone(), source };
    let schema_version = crate::store::schema::version(db).map_err(e)?;
    if schema_version == 0 {
        return Err(MaintenanceError::NotQcall(PathBuf::from(&place)));
    }
    let r = db
        .query_one(
            "SELECT (SELECT COUNT(*) FROM tickets), (SELECT COUNT(*) FROM events), (SELECT COALESCE(MAX(seq), 0) FROM events),
                    pg_database_size(current_database())",
            vals![],
        )
        .map_err(e)?;
    let summary = Summary {
        schema_version,
        tickets: r.get(0).map_err(e)?,
        events: r.get(1).map_err(e)?,
        last_seq: r.get(2).map_err(e)?,
        bytes: r.get(3).map_err(e)?,
    };
    let known = crate::store::schema_version_known_in(crate::store::Dialect::Postgres);
    if summary.schema_version > known {
        let problems = vec![format!("schema version {} is newer than this qcall knows ({known})", summary.schema_version)];
        return Ok(Check { summary, problems });
    }
    let problems = invariants(db).map_err(e)?;
    Ok(Check { summary, problems })
}

/// The domain's invariants, in words for each breach: a ticket number given once per hall,
/// service and day; every event's ticket exists; every counter's current ticket exists, is
/// called and is at that counter, and no ticket is at two counters.
fn invariants(db: &mut crate::store::Db) -> Result<Vec<String>, crate::store::DbError> {
    use crate::store::Dialect;
    let mut problems = Vec::new();
    for r in db.query(
        "SELECT day, issued_hall, number, COUNT(*) FROM tickets GROUP BY day, issued_hall, number HAVING COUNT(*) > 1",
        &[],
    )? {
        problems.push(format!("number {} given {} times in {} on {}", r.get::<String>(2)?, r.get::<i64>(3)?, r.get::<String>(1)?, r.get::<String>(0)?));
    }
    let named = match db.dialect() {
        Dialect::Sqlite => "COALESCE(json_extract(body, '$.ticket.id'), json_extract(body, '$.ticket_id'))",
        Dialect::Postgres => "CAST(COALESCE(CAST(body AS JSON)->'ticket'->>'id', CAST(body AS JSON)->>'ticket_id') AS BIGINT)",
    };
    for r in db.query(
        &format!(
            "SELECT e.seq, e.type, x.id FROM events e
               JOIN (SELECT seq, {named} AS id FROM events) x ON x.seq = e.seq
              WHERE x.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.id)"
        ),
        &[],
    )? {
        problems.push(format!("event {} ({}) names ticket {}, which does not exist", r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?));
    }
    for r in db.query(
        "SELECT c.id, c.current, t.state, t.counter FROM counters c LEFT JOIN tickets t ON t.id = c.current
          WHERE c.current IS NOT NULL AND (t.id IS NULL OR t.state != 'called' OR t.counter IS DISTINCT FROM c.id)",
        &[],
    )? {
        let (counter, ticket) = (r.get::<String>(0)?, r.get::<i64>(1)?);
        problems.push(match r.get::<Option<String>>(2)? {
            None => format!("counter {counter} serves ticket {ticket}, which does not exist"),
            Some(state) => format!(
                "counter {counter} serves ticket {ticket}, which is {state} at {}",
                r.get::<Option<String>>(3)?.unwrap_or_else(|| "no counter".into())
            ),
        });
    }
    for r in db.query(
        "SELECT current, string_agg(id, ', ') FROM counters WHERE current IS NOT NULL GROUP BY current HAVING COUNT(*) > 1",
        &[],
    )? {
        problems.push(format!("ticket {} is at several counters: {}", r.get::<i64>(0)?, r.get::<String>(1)?));
    }
    Ok(problems)
}

/// Puts the backup `from` in place of `db`, which no server may have open. The database it
/// replaces is kept beside it as `{db}.before-restore-{time}` (with its WAL files).
pub fn restore(from: &Path, db: &Path, stamp: &str) -> Result<(Summary, Option<PathBuf>), MaintenanceError> {
    let checked = check(from)?;
    if let Some(first) = checked.problems.first() {
        return Err(MaintenanceError::Damaged { path: from.to_path_buf(), count: checked.problems.len(), first: first.clone() });
    }
    let _lock = crate::store::DbLock::take(db).map_err(|e| MaintenanceError::InUse(e.to_string()))?;
    let mut kept = None;
    if db.exists() {
        let old = PathBuf::from(format!("{}.before-restore-{stamp}", db.display()));
        for suffix in ["", "-wal", "-shm"] {
            let (a, b) = (PathBuf::from(format!("{}{suffix}", db.display())), PathBuf::from(format!("{}{suffix}", old.display())));
            if a.exists() {
                std::fs::rename(&a, &b).map_err(io(&a))?;
            }
        }
        kept = Some(old);
    }
    let partial = PathBuf::from(format!("{}.partial", db.display()));
    std::fs::copy(from, &partial).map_err(io(&partial))?;
    std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(io(&partial))?;
    std::fs::rename(&partial, db).map_err(io(db))?;
    sync_dir(db)?;
    let conn = open_read_only(db)?;
    Ok((summary(&conn, db)?, kept))
}

/// What a daily run did: the backup made (if it was time and there was none) and the old
/// backups deleted.
pub type Daily = (Option<(PathBuf, Summary)>, Vec<PathBuf>);

/// The file of the daily backup of `date`.
pub fn daily_file(b: &crate::config::Backups, date: chrono::NaiveDate) -> PathBuf {
    b.dir.join(format!("qcall-{date}.db"))
}

/// The daily backup: at `local` (the business day's local time), makes the day's backup
/// when it is time and there is none yet, and after making one deletes the daily backups
/// older than `keep_days` (so failing backups never cost the old ones). Returns the backup
/// made, if one was, and the files deleted. Other files in the directory are left alone.
pub fn daily(
    db: &Path,
    b: &crate::config::Backups,
    local: chrono::NaiveDateTime,
) -> Result<Daily, MaintenanceError> {
    use chrono::Timelike;
    let minute = local.time().hour() * 60 + local.time().minute();
    let today = local.date();
    let mut made = None;
    let file = daily_file(b, today);
    if minute >= b.at_minute && !file.exists() {
        std::fs::create_dir_all(&b.dir).map_err(io(&b.dir))?;
        made = Some((file.clone(), backup(db, &file)?));
    }
    let mut deleted = Vec::new();
    if made.is_none() {
        return Ok((made, deleted));
    }
    let Ok(entries) = std::fs::read_dir(&b.dir) else { return Ok((made, deleted)) };
    let oldest = today - chrono::Duration::days(i64::from(b.keep_days) - 1);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(date) = name.strip_prefix("qcall-").and_then(|n| n.strip_suffix(".db")).and_then(|d| d.parse::<chrono::NaiveDate>().ok())
        else {
            continue;
        };
        if date < oldest {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            deleted.push(entry.path());
        }
    }
    Ok((made, deleted))
}
