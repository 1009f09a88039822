//! The writer's lease on PostgreSQL: exactly one active server per database, fenced inside it.
//!
//! One row (`qcall_writer`) carries an epoch, who holds it and where it serves. A server takes
//! the lease when the row was not renewed for [`LEASE`] (its holder died or lost the database),
//! which makes the epoch one higher. Every commit's transaction renews the row *for its own
//! epoch* first, and rolls back when no row matched: a writer that was stopped, cut off or
//! slow and came back after another took over can never commit. The row lock orders a renewal
//! and a takeover: whichever commits first wins, the other sees the new row.
//!
//! The database's clock decides the lease's age, so the servers' clocks need not agree.

use super::{Db, DbError, Store, StoreError};
use crate::vals;

/// A lease not renewed for this long may be taken by a standby.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(5);
/// The active server renews at least this often, even when idle.
pub const RENEW: std::time::Duration = std::time::Duration::from_secs(1);

/// The lease row as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub epoch: i64,
    pub holder: String,
    /// Where the active server serves (its URL for devices and browsers).
    pub address: String,
    /// Milliseconds since it was last renewed, by the database's clock.
    pub age_ms: i64,
}

pub fn read(db: &mut Db) -> Result<Lease, DbError> {
    let r = db.query_one(
        "SELECT epoch, holder, address,
                CAST(EXTRACT(EPOCH FROM (clock_timestamp() - renewed_at)) * 1000 AS BIGINT)
           FROM qcall_writer WHERE id = 1",
        &[],
    )?;
    Ok(Lease { epoch: r.get(0)?, holder: r.get(1)?, address: r.get(2)?, age_ms: r.get(3)? })
}

/// Takes the lease if its holder let it lapse: the new epoch, or `None` (someone holds it).
pub fn try_take(db: &mut Db, holder: &str, address: &str) -> Result<Option<i64>, DbError> {
    let ms = LEASE.as_millis() as i64;
    let r = db.query_opt(
        "UPDATE qcall_writer SET epoch = epoch + 1, holder = ?1, address = ?2, renewed_at = clock_timestamp()
          WHERE id = 1 AND (epoch = 0 OR renewed_at < clock_timestamp() - CAST(?3 AS BIGINT) * INTERVAL '1 millisecond')
          RETURNING epoch",
        vals![holder, address, ms],
    )?;
    r.map(|r| r.get(0)).transpose()
}

/// Renews the lease for `epoch` inside the caller's transaction; [`DbError::Fenced`] when
/// another server took it.
pub fn renew(db: &mut Db, epoch: i64) -> Result<(), DbError> {
    let n = db.execute("UPDATE qcall_writer SET renewed_at = clock_timestamp() WHERE id = 1 AND epoch = ?1", vals![epoch])?;
    if n == 1 {
        return Ok(());
    }
    let now = read(db).map(|l| l.epoch).unwrap_or(-1);
    Err(DbError::Fenced { held: epoch, now })
}

/// Gives the lease up at a clean stop, so a standby need not wait for it to lapse.
pub fn release(db: &mut Db, epoch: i64) -> Result<(), DbError> {
    db.execute(
        "UPDATE qcall_writer SET renewed_at = '2000-01-01T00:00:00Z' WHERE id = 1 AND epoch = ?1",
        vals![epoch],
    )?;
    Ok(())
}

impl Store {
    /// PostgreSQL: waits until this server holds the writer's lease, calling `waiting` with the
    /// active server's lease each time it looks (every [`RENEW`]). SQLite: returns at once
    /// (its lock file keeps to one server per database).
    pub fn take_lease(&mut self, holder: &str, address: &str, mut waiting: impl FnMut(&Lease)) -> Result<(), StoreError> {
        if self.db.sqlite().is_some() {
            return Ok(());
        }
        let e = self.err();
        loop {
            match try_take(&mut self.db, holder, address) {
                Ok(Some(epoch)) => {
                    tracing::info!(epoch, "writer's lease taken: this server is the active one");
                    self.epoch = Some(epoch);
                    self.renewed = Some(std::time::Instant::now());
                    return Ok(());
                }
                Ok(None) => {
                    if let Ok(l) = read(&mut self.db) {
                        waiting(&l);
                    }
                }
                Err(err) if err.is_connection() => tracing::warn!(error = %err, "the database cannot be reached; trying again"),
                Err(err) => return Err(e(err)),
            }
            std::thread::sleep(RENEW);
        }
    }

    /// The lease epoch this server holds (PostgreSQL, once taken).
    pub fn epoch(&self) -> Option<i64> {
        self.epoch
    }

    /// Renews the lease when the last renewal is [`RENEW`] old (an idle writer's heartbeat).
    pub fn keep_lease(&mut self) -> Result<(), StoreError> {
        let Some(epoch) = self.epoch else { return Ok(()) };
        if self.renewed.is_some_and(|t| t.elapsed() < RENEW) {
            return Ok(());
        }
        let e = self.err();
        self.db.transaction(|db| renew(db, epoch)).map_err(e)?;
        self.renewed = Some(std::time::Instant::now());
        Ok(())
    }

    /// Since when the lease has not been renewed (`None`: no lease, or renewed).
    pub fn lease_unrenewed_for(&self) -> Option<std::time::Duration> {
        self.epoch.and(self.renewed).map(|t| t.elapsed())
    }

    /// Gives the lease up (a clean stop).
    pub fn release_lease(&mut self) {
        if let Some(epoch) = self.epoch.take() {
            if let Err(e) = release(&mut self.db, epoch) {
                tracing::warn!(error = %e, "the writer's lease was not given up; a standby takes over when it lapses");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditRow, Batch, StoreAt};

    /// Ages the lease by `ms` as the database's clock sees it (instead of waiting).
    fn age(db: &mut Db, ms: i64) {
        db.execute("UPDATE qcall_writer SET renewed_at = renewed_at - CAST(?1 AS BIGINT) * INTERVAL '1 millisecond'", vals![ms]).unwrap();
    }

    fn audit(n: &str) -> Batch<'static> {
        let row = AuditRow { at: 1, actor: "test".into(), action: n.into(), target: "-".into(), detail: String::new(), client: "-".into() };
        Batch { audit: vec![row], ..Batch::default() }
    }

    fn count(db: &mut Db, action: &str) -> i64 {
        db.query_one("SELECT COUNT(*) FROM audit WHERE action = ?1", vals![action]).unwrap().get(0).unwrap()
    }

    /// One writer at a time, fenced inside the database: a standby takes the lease only once
    /// it lapsed, and the old writer, come back, can commit nothing (its transaction rolls back
    /// whole) and learns it was replaced.
    #[test]
    fn a_writer_whose_lease_was_taken_over_can_commit_nothing() {
        let at = StoreAt::Postgres(crate::store::scratch::shared().new_database().unwrap());
        let topo = crate::config::Config::embedded().unwrap().topology;
        let mut a = Store::open(&at, topo.clone()).unwrap();
        a.take_lease("a", "http://10.0.0.1:8080", |_| panic!("the first server waits for nobody")).unwrap();
        assert_eq!(a.epoch(), Some(1));
        let mut b = Store::open(&at, topo.clone()).unwrap();
        assert_eq!(try_take(b.db(), "b", "http://10.0.0.2:8080").unwrap(), None, "a holds it");
        let l = read(b.db()).unwrap();
        assert_eq!((l.epoch, l.holder.as_str(), l.address.as_str()), (1, "a", "http://10.0.0.1:8080"));
        a.commit(&audit("a-1")).unwrap();

        // `a` stops (SIGSTOP, a cut cable) for longer than the lease: `b` takes over.
        age(b.db(), LEASE.as_millis() as i64 + 1);
        let mut seen = vec![];
        b.take_lease("b", "http://10.0.0.2:8080", |l| seen.push(l.epoch)).unwrap();
        assert_eq!(b.epoch(), Some(2));
        assert!(seen.is_empty(), "taken at once: {seen:?}");

        // `a` comes back and commits: refused, and nothing of its batch is stored.
        let err = a.commit(&audit("a-2")).unwrap_err();
        assert!(err.is_fenced(), "{err}");
        assert_eq!(count(b.db(), "a-2"), 0);
        // Its idle heartbeat is refused too.
        a.renewed = None;
        assert!(a.keep_lease().unwrap_err().is_fenced());
        b.commit(&audit("b-1")).unwrap();
        assert_eq!((count(b.db(), "a-1"), count(b.db(), "b-1")), (1, 1));

        // A clean stop gives the lease up: the next server takes it without waiting.
        b.release_lease();
        let mut c = Store::open(&at, topo).unwrap();
        assert_eq!(try_take(c.db(), "c", "http://10.0.0.3:8080").unwrap(), Some(3));
    }
}
