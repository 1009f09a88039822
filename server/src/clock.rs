//! Where the server's time comes from. The domain never reads a clock: the engine asks one of
//! these and passes the time in.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::domain::Millis;

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch, UTC.
    fn now(&self) -> Millis;

    /// Was this clock set by hand (it must then not start before the stored history)?
    fn chosen(&self) -> bool {
        false
    }
}

/// The system's wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: Millis) -> ManualClock {
        ManualClock(AtomicI64::new(at))
    }

    pub fn set(&self, at: Millis) {
        self.0.store(at, Ordering::SeqCst);
    }

    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// A clock set to a chosen time at start that runs on at normal speed from there
/// (`qcall serve --clock-start`: tests and demos at a chosen hour).
#[derive(Debug)]
pub struct OffsetClock {
    start: Millis,
    since: std::time::Instant,
}

impl OffsetClock {
    pub fn starting_at(start: Millis) -> OffsetClock {
        OffsetClock { start, since: std::time::Instant::now() }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Millis {
        self.start + self.since.elapsed().as_millis() as Millis
    }

    fn chosen(&self) -> bool {
        true
    }
}
