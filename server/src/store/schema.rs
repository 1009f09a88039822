//! The schema: append-only migrations tracked in `user_version`, and how a connection is opened.

use std::path::Path;

use rusqlite::Connection;

use super::{Store, StoreError};

/// Append-only: never edit a released step, add a new one.
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
];

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

impl Store {
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
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
}
