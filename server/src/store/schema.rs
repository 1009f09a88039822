//! The schema: append-only migrations per dialect (SQLite's tracked in `user_version`,
//! PostgreSQL's in `qcall_schema`), and how a SQLite connection is opened.

use std::path::Path;

use rusqlite::Connection;

use super::{Db, DbError, Dialect, Store, StoreError};
use crate::vals;

/// SQLite's steps. Append-only: never edit a released step, add a new one (and its
/// PostgreSQL twin in [`PG_MIGRATIONS`]).
pub const MIGRATIONS: &[&str] = &[
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
    // 7: numbers taxpayers left for their tickets' messages (today's only: gone at the
    // rollover), and the text-message outbox (one message of a kind per ticket)
    "CREATE TABLE ticket_phones (
        ticket INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        phone TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE sms_outbox (
        id INTEGER PRIMARY KEY,
        ticket INTEGER NOT NULL,
        kind TEXT NOT NULL,
        day TEXT NOT NULL,
        phone TEXT,
        params TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        sent_at INTEGER,
        gave_up_at INTEGER,
        last_error TEXT,
        UNIQUE (ticket, kind)
    );
    CREATE INDEX sms_outbox_due ON sms_outbox (next_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;",
    // 8: remote tickets (线上取号): the check-in code, arrival and hold; the key of tickets'
    // own links (the printed QR code's, which may rate the ticket)
    "ALTER TABLE tickets ADD COLUMN remote_code TEXT;
    ALTER TABLE tickets ADD COLUMN arrived_at INTEGER;
    ALTER TABLE tickets ADD COLUMN held_at INTEGER;
    CREATE UNIQUE INDEX tickets_remote_code ON tickets (day, remote_code) WHERE remote_code IS NOT NULL;
    INSERT INTO meta (key, value) VALUES ('ticket_key', lower(hex(randomblob(32)))) ON CONFLICT (key) DO NOTHING;",
    // 9: hall edges' logs as the core holds them: each event once by (hall, the edge's seq),
    // and the edges' ticket rows as last uploaded
    "CREATE TABLE edge_log (
        hall TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        type TEXT NOT NULL,
        ev_hall TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (hall, seq)
    );
    CREATE TABLE edge_tickets (
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
        slot_start INTEGER,
        remote_code TEXT,
        arrived_at INTEGER,
        held_at INTEGER
    );",
    // 10: hall edges, both ways: the core's last word from each edge hall (its overview, when
    // it was last heard from, since when it is cut off), what the core sends each edge
    // (bookings, cancellations, publicity, transfers: in order, by (hall, seq)), the halls
    // whose numbering the core took over from their edge, a booking's conflict, and every
    // hall's tickets for the statistics (a ticket that moved to another server's hall counts
    // there)
    "CREATE TABLE edge_halls (
        hall TEXT PRIMARY KEY,
        seen_at INTEGER NOT NULL,
        cut_since INTEGER,
        overview TEXT
    );
    CREATE TABLE edge_feed (
        hall TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (hall, seq)
    );
    CREATE TABLE hall_takeovers (
        hall TEXT PRIMARY KEY,
        at INTEGER NOT NULL,
        skip INTEGER NOT NULL,
        held INTEGER NOT NULL
    );
    ALTER TABLE appointments ADD COLUMN conflict_at INTEGER;
    CREATE VIEW bureau_tickets AS
        SELECT id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating, slot_start, remote_code, arrived_at, held_at FROM tickets WHERE state <> 'moved'
        UNION ALL
        SELECT id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating, slot_start, remote_code, arrived_at, held_at FROM edge_tickets WHERE state <> 'moved';",
];

/// PostgreSQL's steps: step 1 is the schema SQLite reached in 8 steps, plus the writer's lease.
/// Append-only as SQLite's. Within what PostgreSQL 9.6 accepts (BIGSERIAL, partial indexes,
/// `ON CONFLICT`), for the engines that follow it.
pub const PG_MIGRATIONS: &[&str] = &[
    // 1: the schema of SQLite's step 8, and the writer's lease (one row)
    "CREATE TABLE tickets (
        id BIGINT PRIMARY KEY,
        day TEXT NOT NULL,
        issued_hall TEXT NOT NULL,
        issued_service TEXT NOT NULL,
        seq BIGINT NOT NULL,
        number TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        priority TEXT NOT NULL,
        state TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        queued_at BIGINT NOT NULL,
        called_at BIGINT,
        finished_at BIGINT,
        counter TEXT,
        clerk TEXT,
        call_count BIGINT NOT NULL,
        transferred BIGINT NOT NULL,
        request_id TEXT,
        rating BIGINT,
        slot_start BIGINT,
        remote_code TEXT,
        arrived_at BIGINT,
        held_at BIGINT,
        UNIQUE (day, issued_hall, issued_service, seq)
    );
    CREATE UNIQUE INDEX tickets_request ON tickets (day, request_id) WHERE request_id IS NOT NULL;
    CREATE INDEX tickets_day_state ON tickets (day, state);
    CREATE UNIQUE INDEX tickets_remote_code ON tickets (day, remote_code) WHERE remote_code IS NOT NULL;
    CREATE TABLE counters (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        clerk TEXT,
        current BIGINT,
        last_finished BIGINT,
        last_finished_at BIGINT,
        paused_at BIGINT,
        pause_reason TEXT
    );
    CREATE TABLE events (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        hall TEXT,
        type TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX events_calls ON events (seq) WHERE type = 'ticket_called';
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        clerk TEXT NOT NULL,
        counter TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        pin_fp TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE publicity (hall TEXT PRIMARY KEY, messages TEXT NOT NULL);
    CREATE TABLE devices (device TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE appointments (
        id BIGINT PRIMARY KEY,
        code TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        day TEXT NOT NULL,
        slot BIGINT NOT NULL,
        state TEXT NOT NULL,
        person TEXT NOT NULL,
        name TEXT NOT NULL,
        phone TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        changed_at BIGINT,
        ticket BIGINT,
        request_id TEXT NOT NULL
    );
    CREATE INDEX appointments_day ON appointments (day, hall);
    CREATE INDEX appointments_code ON appointments (code);
    CREATE TABLE appointment_bans (person TEXT PRIMARY KEY, until TEXT NOT NULL);
    CREATE TABLE appointment_counts (
        day TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        booked BIGINT NOT NULL,
        cancelled BIGINT NOT NULL,
        checked_in BIGINT NOT NULL,
        no_show BIGINT NOT NULL,
        PRIMARY KEY (day, hall, service)
    );
    CREATE TABLE audit (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        client TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE TABLE pauses (
        id BIGSERIAL PRIMARY KEY,
        counter TEXT NOT NULL,
        hall TEXT NOT NULL,
        clerk TEXT,
        reason TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        ended_at BIGINT
    );
    CREATE INDEX pauses_started ON pauses (started_at);
    CREATE TABLE alerts (
        id BIGINT PRIMARY KEY,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        hall TEXT NOT NULL,
        raised_at BIGINT NOT NULL,
        cleared_at BIGINT,
        acked_at BIGINT,
        body TEXT NOT NULL
    );
    CREATE INDEX alerts_live ON alerts (cleared_at);
    CREATE TABLE webhook_outbox (
        id BIGSERIAL PRIMARY KEY,
        alert BIGINT NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL,
        delivered_at BIGINT,
        last_error TEXT
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at) WHERE delivered_at IS NULL;
    CREATE TABLE cases (
        id BIGSERIAL PRIMARY KEY,
        ticket BIGINT NOT NULL UNIQUE,
        number TEXT NOT NULL,
        day TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        counter TEXT NOT NULL,
        clerk TEXT,
        rated_at BIGINT NOT NULL,
        score BIGINT NOT NULL,
        reasons TEXT NOT NULL DEFAULT '[]',
        deadline TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open',
        notes TEXT NOT NULL DEFAULT '[]',
        closed_by TEXT,
        closed_at BIGINT,
        summary TEXT
    );
    CREATE INDEX cases_state ON cases (state, deadline);
    CREATE TABLE ticket_phones (
        ticket BIGINT PRIMARY KEY,
        day TEXT NOT NULL,
        phone TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE sms_outbox (
        id BIGSERIAL PRIMARY KEY,
        ticket BIGINT NOT NULL,
        kind TEXT NOT NULL,
        day TEXT NOT NULL,
        phone TEXT,
        params TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL,
        sent_at BIGINT,
        gave_up_at BIGINT,
        last_error TEXT,
        UNIQUE (ticket, kind)
    );
    CREATE INDEX sms_outbox_due ON sms_outbox (next_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;
    CREATE TABLE qcall_writer (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        epoch BIGINT NOT NULL,
        holder TEXT NOT NULL,
        address TEXT NOT NULL,
        renewed_at TIMESTAMPTZ NOT NULL
    );
    INSERT INTO qcall_writer (id, epoch, holder, address, renewed_at) VALUES (1, 0, '', '', '2000-01-01T00:00:00Z');",
    // 2: as SQLite's 9 (hall edges' logs)
    "CREATE TABLE edge_log (
        hall TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at BIGINT NOT NULL,
        type TEXT NOT NULL,
        ev_hall TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (hall, seq)
    );
    CREATE TABLE edge_tickets (
        id BIGINT PRIMARY KEY,
        day TEXT NOT NULL,
        issued_hall TEXT NOT NULL,
        issued_service TEXT NOT NULL,
        seq BIGINT NOT NULL,
        number TEXT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        priority TEXT NOT NULL,
        state TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        queued_at BIGINT NOT NULL,
        called_at BIGINT,
        finished_at BIGINT,
        counter TEXT,
        clerk TEXT,
        call_count BIGINT NOT NULL,
        transferred BIGINT NOT NULL,
        request_id TEXT,
        rating BIGINT,
        slot_start BIGINT,
        remote_code TEXT,
        arrived_at BIGINT,
        held_at BIGINT
    );",
    // 3: as SQLite's 10 (hall edges, both ways; takeovers)
    "CREATE TABLE edge_halls (
        hall TEXT PRIMARY KEY,
        seen_at BIGINT NOT NULL,
        cut_since BIGINT,
        overview TEXT
    );
    CREATE TABLE edge_feed (
        hall TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (hall, seq)
    );
    CREATE TABLE hall_takeovers (
        hall TEXT PRIMARY KEY,
        at BIGINT NOT NULL,
        skip BIGINT NOT NULL,
        held BIGINT NOT NULL
    );
    ALTER TABLE appointments ADD COLUMN conflict_at BIGINT;
    CREATE VIEW bureau_tickets AS
        SELECT id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating, slot_start, remote_code, arrived_at, held_at FROM tickets WHERE state <> 'moved'
        UNION ALL
        SELECT id, day, issued_hall, issued_service, seq, number, hall, service, priority, state, issued_at, queued_at, called_at, finished_at, counter, clerk, call_count, transferred, request_id, rating, slot_start, remote_code, arrived_at, held_at FROM edge_tickets WHERE state <> 'moved';",
];

/// The schema version this qcall's migrations reach, per dialect.
pub fn schema_version_known_in(d: Dialect) -> i64 {
    match d {
        Dialect::Sqlite => MIGRATIONS.len() as i64,
        Dialect::Postgres => PG_MIGRATIONS.len() as i64,
    }
}

/// The schema version a database is at (0: a new one).
pub fn version(db: &mut Db) -> Result<i64, DbError> {
    match db.sqlite() {
        Some(c) => Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?),
        None => {
            db.batch("CREATE TABLE IF NOT EXISTS qcall_schema (version BIGINT NOT NULL)")?;
            Ok(db.query_opt("SELECT MAX(version) FROM qcall_schema", &[])?.map(|r| r.get::<Option<i64>>(0)).transpose()?.flatten().unwrap_or(0))
        }
    }
}

/// The schema version this qcall's migrations reach.
pub fn schema_version_known() -> i64 {
    MIGRATIONS.len() as i64
}

/// How long a statement waits for a database another connection holds.
pub const DEFAULT_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A SQLite connection to the file at `path` (made with its directory when missing).
pub fn open_connection(path: &Path) -> Result<Db, StoreError> {
    let err = |source: rusqlite::Error| StoreError::Db { place: path.display().to_string(), source: source.into() };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: path.to_path_buf(), source })?;
    }
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
    Ok(Db::from_sqlite(conn, path.display().to_string()))
}

impl Store {
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        let e = self.err();
        let dialect = self.db.dialect();
        if dialect == Dialect::Postgres {
            // Two servers starting at once migrate one after the other.
            self.db.batch("SELECT pg_advisory_lock(7242001)").map_err(&e)?;
        }
        let r = self.migrate_steps(dialect);
        if dialect == Dialect::Postgres {
            let _ = self.db.batch("SELECT pg_advisory_unlock(7242001)");
        }
        r
    }

    fn migrate_steps(&mut self, dialect: Dialect) -> Result<(), StoreError> {
        let e = self.err();
        let version = version(&mut self.db).map_err(&e)?;
        let steps = match dialect {
            Dialect::Sqlite => MIGRATIONS,
            Dialect::Postgres => PG_MIGRATIONS,
        };
        let known = steps.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { place: self.db.place().to_string(), found: version, known });
        }
        for (i, sql) in steps.iter().enumerate().skip(version as usize) {
            self.db
                .transaction(|db| {
                    db.batch(sql)?;
                    match dialect {
                        Dialect::Sqlite => db.batch(&format!("PRAGMA user_version = {}", i + 1))?,
                        Dialect::Postgres => {
                            db.execute("INSERT INTO qcall_schema (version) VALUES (?1)", vals![i + 1])?;
                            if i == 0 {
                                let key: [u8; 32] = rand::random();
                                db.execute("INSERT INTO meta (key, value) VALUES ('ticket_key', ?1)", vals![hex::encode(key)])?;
                            }
                        }
                    }
                    Ok(())
                })
                .map_err(&e)?;
            tracing::info!(step = i + 1, "database migrated");
        }
        Ok(())
    }
}
