//! The forked estimator's worker (`[estimates] estimator = "forked"`): forks each hall off the
//! writer's path and publishes what its tickets are told.
//!
//! It follows the event stream. A hall whose queues changed is forked again, at most every
//! [`MIN_GAP`]; one with people waiting at least every [`REFRESH`] (time passes). After each
//! forecast it rests twice as long as the forecast took (at most a third of one core; a forecast is
//! bounded by [`crate::domain::estimate::FORECAST_STEPS`]). A fork runs
//! on a blocking thread from a snapshot of the state (a clone taken under the read lock), so
//! the writer never waits for it; the result goes to the writer as
//! [`Request::Forecast`], which puts it into the state and tells the screens when a new
//! ticket's wait changed. Until a hall has a fresh forecast its tickets are told the forward
//! estimate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use qcall_wire as wire;

use crate::domain::estimate::{Estimator, Forecast};
use crate::engine::{Clock, Engine, Request};

/// A hall is forked again no sooner than this after its last fork…
pub const MIN_GAP: Duration = Duration::from_secs(2);
/// … and no later than this while people wait in it.
pub const REFRESH: Duration = Duration::from_secs(30);

/// What the worker works with.
#[derive(Clone)]
pub struct Forecaster {
    pub engine: Engine,
    pub clock: Arc<dyn Clock>,
    /// Waiting tickets at which a hall's queue is long (`[alerts] queue_length`): the what-if
    /// of opening a counter is forecast from there.
    pub long_queue: u32,
    pub topology: Arc<crate::domain::Topology>,
}

/// Forks `hall` now from a snapshot of the state and publishes the result: what one round of
/// the worker does for a hall. Returns the forecast (tests and `qcall bench` look at it).
pub async fn refresh(f: &Forecaster, hall: usize) -> Option<Arc<Forecast>> {
    let snapshot = f.engine.shared.core.read().await.state.clone();
    let now = f.clock.now();
    let long_queue = Some(f.long_queue);
    let out = tokio::task::spawn_blocking(move || Arc::new(snapshot.forecast(hall, now, true, long_queue))).await.ok()?;
    f.engine.submit(Request::Forecast(out.clone())).await.ok()?;
    Some(out)
}

/// Whether `kind` may change what a hall's tickets wait (not alerts, devices, ratings, texts).
fn moves_waits(kind: &wire::EventKind) -> bool {
    use wire::EventKind as K;
    !matches!(
        kind,
        K::EstimatesChanged
            | K::AlertRaised { .. }
            | K::AlertCleared { .. }
            | K::AlertAcknowledged { .. }
            | K::DeviceStatusChanged { .. }
            | K::PublicityUpdated { .. }
            | K::TicketRated { .. }
    )
}

/// Starts the worker when the topology chooses the forked estimator; it ends when `shutdown`
/// turns true.
pub fn spawn(s: Forecaster, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let topo = s.topology.clone();
    if topo.estimates.estimator != Estimator::Forked {
        return;
    }
    let mut events = s.engine.shared.events.subscribe();
    s.engine.shared.internal_subscribers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tokio::spawn(async move {
        let halls = topo.halls.len();
        // Every hall is due at once: the server just started.
        let mut dirty = vec![true; halls];
        let mut last: Vec<Option<Instant>> = vec![None; halls];
        loop {
            let now = Instant::now();
            for h in 0..halls {
                let due = match last[h].map(|t| now - t) {
                    None => true,
                    Some(d) if dirty[h] && d >= MIN_GAP => true,
                    Some(d) if d >= REFRESH => s.engine.shared.core.read().await.state.hall_waiting(h) > 0,
                    Some(_) => false,
                };
                if due {
                    dirty[h] = false;
                    let started = Instant::now();
                    last[h] = Some(started);
                    if refresh(&s, h).await.is_none() {
                        tracing::warn!(hall = %topo.halls[h].id, "the forked estimate could not be published");
                    }
                    // At most a third of one core, however busy the halls are.
                    tokio::time::sleep(started.elapsed() * 2).await;
                }
            }
            // Sleep until the next hall could be due, or an event makes one so.
            let wake = tokio::time::sleep(Duration::from_millis(250));
            tokio::select! {
                m = events.recv() => match m {
                    Ok(b) => {
                        if moves_waits(&b.msg.kind) {
                            for &h in &b.halls {
                                if let Some(d) = dirty.get_mut(h) {
                                    *d = true;
                                }
                            }
                        }
                    }
                    // Missed some: every hall may have changed.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => dirty.iter_mut().for_each(|d| *d = true),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = wake => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
    });
}
