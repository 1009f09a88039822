//! Wait estimates, pure.
//!
//! - [`Estimator::Simple`]: people ahead × mean service time ÷ open counters of the service
//!   ([`State::estimate_s`]).
//! - [`Estimator::Forward`]: the call-next rule run forward from the current state
//!   ([`State::forward`]): every open counter finishes its current customer (the expected
//!   service time less what has passed, never less than a quarter of it), a paused one comes
//!   back after [`PAUSE_RETURN_MS`], a counter with planned `hours` calls only within them,
//!   then each calls by the real rule — transfers and 绿色通道
//!   first, started appointments, preferred services, the rest — taking the expected service
//!   time of what it called. Taxpayers keep coming while the queue is worked off: the run adds
//!   them at the hall's rate of the last hour per service (绿色通道 and transferred tickets go
//!   to the front, others join the back, and a counter preferring their service takes them
//!   first), until issuing stops for the day. Normal arrivals are only simulated for services
//!   that a counter prefers over others it serves: elsewhere they never get ahead of anyone
//!   waiting. Near closing the kiosk refuses tickets that would be called after it, and the
//!   run expects nobody the kiosk would refuse: a taxpayer it would call only after closing,
//!   and anyone of a service once that service stops issuing — at once when its last waiting
//!   ticket would be called after closing, or, in a hall that gets more work than its counters
//!   do, when the work coming in has pushed the back of the queue there. When the run finds
//!   any, it runs again without them. The expected
//!   service times are the mean of the service's last [`RECENT_SERVICES`] served today, with the
//!   configured default counted as [`PRIOR_SERVICES`] of them and the services still running
//!   counted as long as they are expected to take in all ([`State::expected_service_ms`]: early
//!   in the day only the short ones have finished), leaned up by
//!   [`EstimateRules::lean_percent`] because a late estimate hurts more than an early one.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::hash::{BuildHasherDefault, Hasher};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{is_urgent, pick, CounterState, Millis, Opening, Priority, Queue, State, TicketId};

/// Maps and sets of the runs, keyed by ticket (or counter) ids: small integers that need no
/// protection from chosen keys, hashed by one multiplication (SipHash cost a fifth of a fork).
pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<IdHasher>>;
pub type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<IdHasher>>;

/// The hasher of [`HashMap`] (Fx: rotate, xor, multiply).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Arrivals expected during the run are taken from this much of the recent past.
const RATE_WINDOW_MS: Millis = 60 * 60_000;
/// … but never less, early in the day.
const MIN_RATE_WINDOW_MS: Millis = 5 * 60_000;
/// Ids of the expected arrivals in a forward run (above every real ticket id).
const PHANTOM: TicketId = TicketId::MAX / 2;
/// Ids of the appointments booked for later in a forward run (above the expected arrivals').
const BOOKED: TicketId = TicketId::MAX / 4 * 3;
/// Above this many waiting tickets in a hall the forward run's cost is not worth it: the
/// simple estimate is used (a hall that long is better served by opening counters).
pub const FORWARD_LIMIT: usize = 2000;
/// A range is shown when it spans at least this many seconds…
pub const RANGE_MIN_S: u32 = 4 * 60;
/// … for an estimate of at least this many.
pub const RANGE_FROM_S: u32 = 10 * 60;
/// The relative spread pauses, arrivals and closings add to any estimate.
const BASE_SPREAD: f64 = 0.12;
/// Service times' coefficient of variation until five were seen.
const DEFAULT_CV: f64 = 0.6;
/// A forward run looks no further ahead than this: what no counter would call by then (a
/// service nobody open serves while others keep coming) gets the simple estimate.
const HORIZON_MS: Millis = 12 * 3_600_000;

/// A paused counter is expected back this long after any moment of its pause.
const PAUSE_RETURN_MS: Millis = 10 * 60_000;

/// The configured default service time counts as this many services finished.
const PRIOR_SERVICES: i64 = 5;

/// Service times the forward estimate learns from, per service.
pub const RECENT_SERVICES: usize = 100;

/// How estimates are made (`[estimates]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstimateRules {
    pub estimator: Estimator,
    /// Expected service times are leaned up by this many percent: a late estimate hurts more
    /// than an early one.
    pub lean_percent: u32,
    /// The forked estimator: forks per hall…
    pub forks: u32,
    /// … the percentile of a ticket's waits in the forks it is told…
    pub quantile_percent: u32,
    /// … and the range it is shown (low and high percentiles).
    pub range_percent: (u32, u32),
}

impl Default for EstimateRules {
    fn default() -> Self {
        EstimateRules { estimator: Estimator::Forward, lean_percent: 8, forks: FORKS, quantile_percent: 60, range_percent: (5, 95) }
    }
}

/// Which estimate tickets, screens and kiosks show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Estimator {
    Simple,
    #[default]
    Forward,
    /// The day forked ([`State::forecast`]): a quantile of each ticket's waits in the forks,
    /// and a range between two others. Computed off the writer's path and published into the
    /// state ([`State::publish_forecast`]); until a hall has one, the forward estimate.
    Forked,
}

impl Estimator {
    pub fn parse(s: &str) -> Option<Estimator> {
        match s {
            "simple" => Some(Estimator::Simple),
            "forward" => Some(Estimator::Forward),
            "forked" => Some(Estimator::Forked),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Estimator::Simple => "simple",
            Estimator::Forward => "forward",
            Estimator::Forked => "forked",
        }
    }
}

/// Which counters a forward run counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Staffing {
    /// Those open or paused now: what a ticket's wait is told by.
    Now,
    /// Every counter planned to be staffed (within its `hours`; all day without), closed ones
    /// too: whether a service stops issuing before closing is not decided by who happens to
    /// be signed in (a counter opened at 10:00 must not make the hall stop issuing).
    Planned,
    /// Those open or paused now, and this one opened now whatever its `hours` (the duty
    /// leader's what-if: an emergency window).
    NowAnd(usize),
}

impl Staffing {
    /// Whether closed counter `c` is counted on.
    fn counts_closed(self, c: usize) -> bool {
        match self {
            Staffing::Now => false,
            Staffing::Planned => true,
            Staffing::NowAnd(x) => x == c,
        }
    }
}

/// The id the forward run gives a ticket that is not taken yet ([`State::forward`]'s `extra`).
pub const NEW_TICKET: TicketId = TicketId::MAX;

/// The outcome of one forward run over a hall.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forward {
    /// Milliseconds from `now` until each waiting ticket is called; tickets no open counter
    /// of the hall would call within [`HORIZON_MS`] are missing.
    pub waits: HashMap<TicketId, Millis>,
    /// Counters' calls and expected arrivals the run went through: its cost.
    pub steps: u64,
}

impl State {
    /// The service time of `service` in ms learnt from the ones finished today: their mean, with
    /// the configured default counted as [`PRIOR_SERVICES`] of them.
    pub fn learned_service_ms(&self, service: usize) -> i64 {
        let (total, n) = self.finished_services(service);
        total / n
    }

    /// The services of `service` finished today, the default counted as [`PRIOR_SERVICES`] of
    /// them: their total ms, and how many.
    fn finished_services(&self, service: usize) -> (i64, i64) {
        let o = &self.observed[service];
        let default = i64::from(self.topo.services[service].default_service_s) * 1000;
        (PRIOR_SERVICES * default + o.recent.iter().map(|e| e.2).sum::<i64>(), PRIOR_SERVICES + o.recent.len() as i64)
    }

    /// The expected service time of `service` in ms for the forward estimate at `now` (see the
    /// module documentation), before the lean. Early in the day only the short services have
    /// finished while the long ones are still running: each one running counts as what it is
    /// expected to take in all, having taken so long already (its mean above that under a
    /// lognormal law of the service's coefficient of variation), with the mean found again from
    /// that, a few times over.
    pub fn expected_service_ms(&self, service: usize, now: Millis) -> i64 {
        let (finished, n) = self.finished_services(service);
        let (finished, n) = (finished as f64, n as f64);
        let running: Vec<f64> = self
            .counters
            .iter()
            .filter_map(|c| self.tickets.get(&c.current?))
            .filter(|t| t.service == service && t.day == self.day)
            .map(|t| (now - t.called_at.unwrap_or(now)).max(1) as f64)
            .collect();
        let cv = self.cv_of(service);
        let mut mean = finished / n;
        for _ in 0..4 {
            mean = (finished + running.iter().map(|&e| mean_beyond(mean, cv, e)).sum::<f64>()) / (n + running.len() as f64);
        }
        mean as i64
    }

    /// The coefficient of variation of `service`'s service times today ([`DEFAULT_CV`] until
    /// five were seen).
    fn cv_of(&self, service: usize) -> f64 {
        cv(&self.observed[service].recent.iter().map(|e| e.2 as f64).collect::<Vec<_>>())
    }

    fn leaned_ms(&self, service: usize, now: Millis) -> i64 {
        self.expected_service_ms(service, now) * (100 + i64::from(self.topo.estimates.lean_percent)) / 100
    }

    /// Runs the call-next rule of `hall` forward from `now` (see the module documentation).
    /// `extra`: a ticket not yet taken, of this service and priority, at the back of its queue
    /// (what a new ticket would wait); it appears in the result as [`NEW_TICKET`].
    pub fn forward(&self, hall: usize, now: Millis, extra: Option<(usize, Priority)>) -> Forward {
        let mut refused = HashSet::default();
        let mut prep = Prep::default();
        let first = self.forward_run(hall, now, extra, Staffing::Now, true, &HashSet::default(), Some(&mut refused), None, Some(&mut prep));
        if refused.is_empty() {
            return first;
        }
        // Some of the expected taxpayers would be called only after closing: the kiosk would
        // not give them a ticket. Run again without them.
        self.forward_run(hall, now, extra, Staffing::Now, true, &refused, None, None, Some(&mut prep))
    }

    /// [`State::forward`] with these counters, with or without the arrivals expected
    /// meanwhile, leaving out the expected arrivals in `skip`; the ones called only after
    /// closing or never are put into `late`.
    #[allow(clippy::too_many_arguments)]
    fn forward_run(
        &self,
        hall: usize,
        now: Millis,
        extra: Option<(usize, Priority)>,
        staffing: Staffing,
        arrivals: bool,
        skip: &HashSet<TicketId>,
        mut late: Option<&mut HashSet<TicketId>>,
        mut draws: Option<&mut Draws>,
        mut prep: Option<&mut Prep>,
    ) -> Forward {
        let mut queues: Vec<Queue> = self.queues[hall].clone();
        // A remote ticket not checked in yet is expected to come in time: it waits in its place.
        for q in &mut queues {
            let away = std::mem::take(&mut q.away);
            q.normal.extend(away);
            q.held.clear();
        }
        let counters: Vec<usize> = (0..self.topo.counters.len()).filter(|&c| self.topo.counters[c].hall == hall).collect();
        let mut direct: HashMap<usize, BTreeSet<(Millis, TicketId)>> =
            counters.iter().map(|&c| (c, self.direct[c].clone())).collect();
        if let Some((service, priority)) = extra {
            let key = (now, NEW_TICKET);
            if priority == Priority::Priority {
                queues[service].urgent.insert(key);
            } else {
                queues[service].normal.insert(key);
            }
        }
        let mut left: usize = queues.iter().map(|q| q.urgent.len() + q.normal.len() + q.appointments.len()).sum::<usize>()
            + direct.values().map(BTreeSet::len).sum::<usize>();
        // A normal arrival joins the back of its queue: it goes ahead of a waiting ticket only at
        // a counter that prefers its service and also serves another. Only those are simulated.
        let mut preferred_over_others = vec![false; self.topo.services.len()];
        for &c in &counters {
            let def = &self.topo.counters[c];
            let counted = staffing.counts_closed(c) || self.counters[c].state != CounterState::Closed;
            if counted && def.services.iter().any(|s| !def.preferred.contains(s)) {
                for &s in &def.preferred {
                    preferred_over_others[s] = true;
                }
            }
        }
        // Expected service time per service, leaned, for the whole run (a fork draws each one
        // around the mean instead: its spread is the estimate's, not a lean).
        let (service_ms, cvs) = match prep.as_deref_mut().and_then(|p| p.services.clone()) {
            Some(x) => x,
            None => {
                let service_ms: Vec<i64> = (0..self.topo.services.len())
                    .map(|s| if draws.is_some() { self.expected_service_ms(s, now) } else { self.leaned_ms(s, now) })
                    .collect();
                let cvs: Vec<f64> = (0..self.topo.services.len()).map(|s| self.cv_of(s)).collect();
                if let Some(p) = prep.as_deref_mut() {
                    p.services = Some((service_ms.clone(), cvs.clone()));
                }
                (service_ms, cvs)
            }
        };
        // What the arrivals are expected from (the same for every fork of a hall at a moment:
        // worked out once, it reads every ticket of the day).
        let (mut arrivals, level) = match prep.as_deref_mut() {
            Some(Prep { arrivals: Some(a), level, .. }) => (a.clone(), *level),
            _ => {
                let a = if arrivals { self.expected_arrivals(hall, now, &preferred_over_others, &service_ms) } else { Arrivals::none() };
                let level = self.curve_level(hall, now);
                if let Some(p) = prep {
                    (p.arrivals, p.level) = (Some(a.clone()), level);
                }
                (a, level)
            }
        };
        if let (true, Some(level)) = (arrivals.until > now, level) {
            // Learnt from earlier days: the kiosk's tickets by time of day; transfers stay at
            // the last hour's rate.
            if let Some(list) = self.curve_arrivals(hall, now, arrivals.until, &preferred_over_others, draws.as_deref_mut().map(|d| &mut d.rng), level) {
                arrivals.use_list(list);
            }
        }
        if let Some(d) = draws.as_deref_mut() {
            arrivals.draw_gaps(now, &mut d.rng);
        }
        // Expected arrivals in the queues now: id -> (service, urgent, queued at).
        let mut phantoms: HashMap<TicketId, (usize, bool, Millis)> = HashMap::default();
        // Appointments booked for later today: each comes at its slot and goes ahead of the
        // walk-ins from then on. (slot start, service, id), latest first.
        let mut booked: Vec<(Millis, usize, TicketId)> = if arrivals.until > now { self.booked_later(hall, now) } else { vec![] };
        let mut booked_in: HashMap<TicketId, (usize, Millis)> = HashMap::default();

        // When a counter calls from `at` on: within its planned hours (an emergency window of
        // the what-if stays until the hall closes).
        let counter_from = |c: usize, at: Millis| if staffing == Staffing::NowAnd(c) { Some(at) } else { self.topo.counter_from(c, at) };
        // Counters by the time they are free: open ones only (a paused counter may be gone for
        // long; leaning towards later is the safe side).
        let mut free: BinaryHeap<Reverse<(Millis, usize)>> = BinaryHeap::new();
        for &c in &counters {
            let live = &self.counters[c];
            let at = match live.state {
                CounterState::Closed if staffing.counts_closed(c) => now,
                CounterState::Closed => continue,
                CounterState::Paused => now + PAUSE_RETURN_MS,
                CounterState::Open => now,
            };
            let at = match live.current.and_then(|id| self.tickets.get(&id)) {
                Some(t) => {
                    let expected = service_ms[t.service];
                    let passed = now - t.called_at.unwrap_or(now);
                    match draws.as_deref_mut() {
                        Some(d) => at + d.remaining(expected, cvs[t.service], passed),
                        None => at + (expected - passed).max(expected / 4),
                    }
                }
                None => at,
            };
            // A counter planned to close calls nobody after.
            if let Some(at) = counter_from(c, at) {
                free.push(Reverse((at, c)));
            }
        }
        let free_counters = free.len();

        let mut out = Forward::default();
        let empty = BTreeSet::new();
        // Per service: when the run calls its last waiting ticket from the back of the queue.
        let mut last_normal = vec![Millis::MIN; queues.len()];
        while left > 0 {
            out.steps += 1;
            let Some(Reverse((at, c))) = free.pop() else { break };
            if at - now > HORIZON_MS {
                break;
            }
            arrivals.admit(at, &mut queues, &mut phantoms, skip);
            while booked.last().is_some_and(|b| b.0 <= at) {
                let (start, service, id) = booked.pop().expect("peeked");
                queues[service].appointments.insert((start, start, id));
                booked_in.insert(id, (service, start));
            }
            let def = &self.topo.counters[c];
            let Some(id) = pick(def, direct.get(&c).unwrap_or(&empty), &queues, at) else {
                // Nothing this counter may call will come from the queues as they are.
                continue;
            };
            let service = if let Some((service, start)) = booked_in.remove(&id) {
                queues[service].appointments.remove(&(start, start, id));
                service
            } else if let Some((service, urgent, queued_at)) = phantoms.remove(&id) {
                if at > arrivals.close && arrivals.gated(id) {
                    if let Some(late) = late.as_deref_mut() {
                        late.insert(id);
                    }
                }
                let q = &mut queues[service];
                if urgent {
                    q.urgent.remove(&(queued_at, id));
                } else {
                    q.normal.remove(&(queued_at, id));
                }
                service
            } else if id == NEW_TICKET {
                let (service, priority) = extra.expect("only the extra ticket has this id");
                let q = &mut queues[service];
                if priority == Priority::Priority {
                    q.urgent.remove(&(now, id));
                } else {
                    q.normal.remove(&(now, id));
                }
                service
            } else {
                let t = &self.tickets[&id];
                let key = (t.queued_at, t.id);
                match t.counter {
                    Some(tc) => {
                        if let Some(d) = direct.get_mut(&tc) {
                            d.remove(&key);
                        }
                    }
                    None => {
                        let q = &mut queues[t.service];
                        if is_urgent(t) {
                            q.urgent.remove(&key);
                        } else if let Some(slot) = t.slot {
                            q.appointments.remove(&(slot, t.queued_at, t.id));
                        } else {
                            q.normal.remove(&key);
                            last_normal[t.service] = last_normal[t.service].max(at);
                        }
                    }
                }
                t.service
            };
            if id < PHANTOM || id == NEW_TICKET {
                left -= 1;
                out.waits.insert(id, at - now);
            }
            let took = match draws.as_deref_mut() {
                Some(d) => d.service(service_ms[service], cvs[service]),
                None => service_ms[service],
            };
            if let Some(next) = counter_from(c, at + took) {
                free.push(Reverse((next, c)));
            }
        }
        out.steps += arrivals.ids - PHANTOM;
        if let Some(late) = late {
            // Still waiting when the run stopped short of calling every ticket: never called.
            if left > 0 {
                late.extend(phantoms.keys().filter(|id| arrivals.gated(**id)));
            }
            // A service stops issuing when a ticket at the back of its queue would be called
            // only after closing: already, when its last waiting ticket is (or is never called);
            // in an overloaded hall, when the work arriving has pushed the back of the queue
            // there. Nobody of it gets a ticket from then on, 绿色通道 included.
            let staffed = free_counters as f64;
            let stops: Vec<Millis> = (0..queues.len())
                .map(|s| {
                    let back = last_normal[s].max(now);
                    if back > arrivals.close || queues[s].normal.iter().any(|&(_, id)| id < PHANTOM) {
                        now
                    } else if arrivals.work > staffed && staffed > 0.0 {
                        now + ((arrivals.close - back) as f64 * staffed / arrivals.work) as Millis
                    } else {
                        Millis::MAX
                    }
                })
                .collect();
            late.extend(arrivals.admitted.iter().filter(|(_, s, t)| *t >= stops[*s]).map(|(id, _, _)| *id));
        }
        out
    }

    /// Today's appointments in `hall` booked for slots starting after `now` (not checked in):
    /// (slot start, service, id above every expected arrival's), latest first.
    fn booked_later(&self, hall: usize, now: Millis) -> Vec<(Millis, usize, TicketId)> {
        let mut out: Vec<(Millis, usize, TicketId)> = self
            .bookings
            .by_id
            .values()
            .filter(|b| b.hall == hall && b.date == self.day && b.state == super::appointments::BookingState::Booked)
            .map(|b| (self.topo.at(b.date, b.slot), b.service, BOOKED + b.id as TicketId))
            .filter(|b| b.0 > now)
            .collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        out
    }

    /// The taxpayers expected to take tickets in `hall` from `now` until issuing stops: at each
    /// service's rate over the last hour, urgent ones (绿色通道, transferred in) apart.
    fn expected_arrivals(&self, hall: usize, now: Millis, normal_matters: &[bool], service_ms: &[i64]) -> Arrivals {
        let (until, close) = match self.topo.opening(hall, now) {
            Opening::Open { closes_at: Some(close) } => (close - i64::from(self.topo.last_ticket_minutes) * 60_000, close),
            Opening::Open { closes_at: None } => (now + HORIZON_MS, Millis::MAX),
            Opening::Closed { .. } => (now, now),
        };
        let services = self.topo.services.len();
        // Per service: normal, 绿色通道, transferred in.
        let mut counts = vec![[0u32; 3]; services];
        let mut first = now;
        let from = now - RATE_WINDOW_MS;
        for t in self.tickets.values().filter(|t| t.hall == hall && t.day == self.day) {
            if t.issued_at > from && t.issued_at <= now && t.issued_hall == hall {
                counts[t.issued_service][usize::from(t.priority == Priority::Priority)] += 1;
                first = first.min(t.issued_at);
            }
            if t.transferred && t.queued_at > from && t.queued_at <= now {
                counts[t.service][2] += 1;
            }
        }
        let window = (now - first).clamp(MIN_RATE_WINDOW_MS, RATE_WINDOW_MS);
        let mut next = BinaryHeap::new();
        let mut gaps = vec![];
        let work = counts.iter().enumerate().map(|(s, c)| c.iter().sum::<u32>() as f64 * service_ms[s] as f64).sum::<f64>() / window as f64;
        for (service, c) in counts.iter().enumerate() {
            for (kind, &n) in c.iter().enumerate() {
                if n > 0 && (kind > 0 || normal_matters[service]) {
                    let gap = window / Millis::from(n);
                    next.push(Reverse((now + gap, gaps.len())));
                    gaps.push((service, kind, gap));
                }
            }
        }
        Arrivals { until, close, work, next, gaps, ids: PHANTOM, transfers: HashSet::default(), admitted: vec![], rng: None, list: vec![] }
    }

    /// Waiting tickets in `hall`'s queues.
    pub fn hall_waiting(&self, hall: usize) -> usize {
        self.queues[hall].iter().map(|q| q.urgent.len() + q.normal.len() + q.appointments.len() + q.away.len()).sum::<usize>()
            + (0..self.topo.counters.len()).filter(|&c| self.topo.counters[c].hall == hall).map(|c| self.direct[c].len()).sum::<usize>()
    }

    /// The estimator to use for `hall` now: the forward one falls back to the simple one in a
    /// hall longer than [`FORWARD_LIMIT`].
    fn effective(&self, estimator: Estimator, hall: usize) -> Estimator {
        if estimator != Estimator::Simple && self.hall_waiting(hall) > FORWARD_LIMIT {
            Estimator::Simple
        } else {
            estimator
        }
    }

    /// Seconds a waiting ticket is expected to wait from `now`, by `estimator`.
    pub fn ticket_estimate_s(&self, estimator: Estimator, id: TicketId, now: Millis) -> u32 {
        let Some(t) = self.tickets.get(&id) else { return 0 };
        if t.state != super::TicketState::Waiting {
            return 0;
        }
        let simple = || self.estimate_s(t.hall, t.service, self.waiting_ahead(t, now));
        match self.effective(estimator, t.hall) {
            Estimator::Simple => simple(),
            Estimator::Forward => self.forward(t.hall, now, None).waits.get(&id).map_or_else(simple, |ms| secs(*ms)),
            Estimator::Forked => match self.ticket_told(id, now) {
                Some((s, _)) => s,
                None => self.ticket_estimate_s(Estimator::Forward, id, now),
            },
        }
    }

    /// The likely range of a forward estimate of `est_s` in `hall`, when it is wide (at least
    /// [`RANGE_MIN_S`] from low to high, for estimates from [`RANGE_FROM_S`]): the sum of the services ahead at each counter varies
    /// with the service times' coefficient of variation over the square root of their number,
    /// and pauses and arrivals add [`BASE_SPREAD`]; ±1.28 of that (80 %), rounded out to whole
    /// minutes.
    pub fn wait_range_s(&self, hall: usize, est_s: u32) -> Option<(u32, u32)> {
        // A short wait is one figure: a range would say more than it helps.
        if est_s < RANGE_FROM_S {
            return None;
        }
        let services: Vec<usize> = (0..self.topo.services.len())
            .filter(|&s| self.topo.counters.iter().any(|c| c.hall == hall && c.services.contains(&s)))
            .collect();
        if services.is_empty() {
            return None;
        }
        let mean = services.iter().map(|&s| self.learned_service_ms(s)).sum::<i64>() as f64 / services.len() as f64;
        let cv = self.service_cv(hall);
        let n = (f64::from(est_s) * 1000.0 / mean.max(1.0)).max(1.0);
        let rel = (cv * cv / n + BASE_SPREAD * BASE_SPREAD).sqrt() * 1.28;
        let low = (f64::from(est_s) * (1.0 - rel)).max(0.0);
        let high = f64::from(est_s) * (1.0 + rel);
        let (low, high) = ((low / 60.0).floor() as u32 * 60, (high / 60.0).ceil() as u32 * 60);
        (high.saturating_sub(low) >= RANGE_MIN_S).then_some((low, high))
    }

    /// The coefficient of variation of the service times seen today in `hall`'s services.
    fn service_cv(&self, hall: usize) -> f64 {
        let services: Vec<usize> =
            (0..self.topo.services.len()).filter(|&s| self.topo.counters.iter().any(|c| c.hall == hall && c.services.contains(&s))).collect();
        cv(&services.iter().flat_map(|&s| self.observed[s].recent.iter().map(|e| e.2 as f64)).collect::<Vec<_>>())
    }

    /// Counters of `hall` serving `service` planned to be staffed from `now` on today, signed in
    /// or not.
    pub fn planned_counters(&self, hall: usize, service: usize, now: Millis) -> u32 {
        self.topo
            .counters
            .iter()
            .enumerate()
            .filter(|(c, def)| def.hall == hall && def.services.contains(&service) && self.topo.counter_from(*c, now).is_some())
            .count() as u32
    }

    /// Whether a ticket taken now would be called before `close`: the queue as it is, without
    /// the arrivals the full estimate expects (they stop when issuing stops), by the counters
    /// planned to be staffed ([`Staffing::Planned`]).
    pub fn called_before(&self, hall: usize, service: usize, now: Millis, close: Millis) -> bool {
        // Without a run: the people waiting shared out over the planned counters (none left
        // today: never called).
        let planned = || match self.planned_counters(hall, service, now) {
            0 => Millis::MAX / 4,
            n => i64::from(self.waiting(hall, service)) * self.mean_service_ms(service) / i64::from(n),
        };
        let est = match self.effective(self.topo.estimates.estimator, hall) {
            Estimator::Simple => planned(),
            // Whether issuing stops is decided by the expected run, whatever the tickets are told.
            Estimator::Forward | Estimator::Forked => {
                match self
                    .forward_run(hall, now, Some((service, Priority::Normal)), Staffing::Planned, false, &HashSet::default(), None, None, None)
                    .waits
                    .get(&NEW_TICKET)
                {
                    Some(ms) => *ms,
                    None => planned(),
                }
            }
        };
        now + est <= close
    }

    /// Seconds a ticket taken now would wait, by `estimator`.
    pub fn new_ticket_estimate_s(&self, estimator: Estimator, hall: usize, service: usize, priority: Priority, now: Millis) -> u32 {
        let simple = || self.estimate_s(hall, service, self.waiting(hall, service));
        match self.effective(estimator, hall) {
            Estimator::Simple => simple(),
            Estimator::Forward => {
                self.forward(hall, now, Some((service, priority))).waits.get(&NEW_TICKET).map_or_else(simple, |ms| secs(*ms))
            }
            Estimator::Forked => match self.new_ticket_told(hall, service, now).filter(|_| priority == Priority::Normal) {
                Some((s, _)) => s,
                None => self.new_ticket_estimate_s(Estimator::Forward, hall, service, priority, now),
            },
        }
    }
}

/// What the runs of one estimate share: the service times expected, the arrivals expected
/// (before any fork draws them) and today's level against the learnt curves.
#[derive(Default)]
struct Prep {
    arrivals: Option<Arrivals>,
    level: Option<f64>,
    /// Expected service time and its coefficient of variation per service.
    services: Option<(Vec<i64>, Vec<f64>)>,
}

/// Expected arrivals during a forward run: one stream per service and urgency, evenly spaced.
#[derive(Clone)]
struct Arrivals {
    until: Millis,
    /// When the hall closes: a taxpayer who would be called after it gets no ticket.
    close: Millis,
    /// Counter time the expected taxpayers bring per unit of time.
    work: f64,
    /// (next arrival, stream).
    next: BinaryHeap<Reverse<(Millis, usize)>>,
    /// Per stream: service, kind (0 normal, 1 绿色通道, 2 transferred in), gap.
    gaps: Vec<(usize, usize, Millis)>,
    ids: TicketId,
    /// The expected arrivals that are transfers: they come from counters, not the kiosk.
    transfers: HashSet<TicketId>,
    /// The others admitted so far, with their service and arrival.
    admitted: Vec<(TicketId, usize, Millis)>,
    /// In a fork: the gaps are drawn (a Poisson process at each stream's rate), not even.
    rng: Option<StdRng>,
    /// Arrivals from the learnt curves (time, service, kind), latest first: used instead of
    /// the normal and 绿色通道 streams.
    list: Vec<(Millis, usize, usize)>,
}

impl Arrivals {
    fn none() -> Arrivals {
        Arrivals {
            until: Millis::MIN,
            close: Millis::MAX,
            next: BinaryHeap::new(),
            gaps: vec![],
            ids: PHANTOM,
            transfers: HashSet::default(),
            admitted: vec![],
            work: 0.0,
            rng: None,
            list: vec![],
        }
    }

    /// The kiosk's arrivals come from `list` (latest first); only transfers stay streams.
    fn use_list(&mut self, list: Vec<(Millis, usize, usize)>) {
        let keep: Vec<usize> = (0..self.gaps.len()).filter(|&i| self.gaps[i].1 == 2).collect();
        self.next = self.next.drain().filter(|Reverse((_, i))| keep.contains(i)).collect();
        self.list = list;
    }

    /// From now on the gaps are drawn: the first arrival of each stream too.
    fn draw_gaps(&mut self, now: Millis, rng: &mut StdRng) {
        let mut own = StdRng::seed_from_u64(rng.gen());
        let live: Vec<usize> = self.next.iter().map(|Reverse((_, i))| *i).collect();
        let next = live.into_iter().map(|i| Reverse((now + exponential(&mut own, self.gaps[i].2), i))).collect();
        self.next = next;
        self.rng = Some(own);
    }

    /// Whether the expected arrival `id` takes a ticket at the kiosk (and may be refused one).
    fn gated(&self, id: TicketId) -> bool {
        !self.transfers.contains(&id)
    }

    /// Puts every arrival due by `at` into the queues.
    fn admit(&mut self, at: Millis, queues: &mut [Queue], phantoms: &mut HashMap<TicketId, (usize, bool, Millis)>, skip: &HashSet<TicketId>) {
        // The list's and the streams' arrivals in the order they come: the ids follow it.
        loop {
            let listed = self.list.last().map(|x| x.0);
            let streamed = self.next.peek().map(|Reverse((t, _))| *t);
            let (t, service, kind) = match (listed, streamed) {
                (Some(l), s) if s.is_none_or(|s| l <= s) => {
                    let (t, service, kind) = *self.list.last().expect("peeked");
                    if t > at || t >= self.until {
                        return;
                    }
                    self.list.pop();
                    (t, service, kind)
                }
                (_, Some(t)) => {
                    if t > at || t >= self.until {
                        return;
                    }
                    let Some(Reverse((_, stream))) = self.next.pop() else { return };
                    let (service, kind, gap) = self.gaps[stream];
                    let gap = match self.rng.as_mut() {
                        Some(rng) => exponential(rng, gap),
                        None => gap,
                    };
                    self.next.push(Reverse((t + gap, stream)));
                    (t, service, kind)
                }
                _ => return,
            };
            self.ids += 1;
            if skip.contains(&self.ids) {
                continue;
            }
            if kind == 2 {
                self.transfers.insert(self.ids);
            } else {
                self.admitted.push((self.ids, service, t));
            }
            let urgent = kind > 0;
            let key = (t, self.ids);
            if urgent {
                queues[service].urgent.insert(key);
            } else {
                queues[service].normal.insert(key);
            }
            phantoms.insert(self.ids, (service, urgent, t));
        }
    }
}

/// Tickets expected per hall, service and quarter hour of the day, learnt from earlier days:
/// `per[hall][service][quarter]` = (normal, 绿色通道).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArrivalCurves {
    pub per: Vec<Vec<Vec<(f64, f64)>>>,
}

/// How many tickets the curve's day so far counts for against today's own (the blend: today's
/// level weighs in as it is seen).
const CURVE_PRIOR_TICKETS: f64 = 10.0;

impl State {
    /// How busy today is against the curves of `hall` (tickets taken so far against what they
    /// expected by now, blended; 0.5–2), when there are curves.
    fn curve_level(&self, hall: usize, now: Millis) -> Option<f64> {
        let curves = self.curves.as_ref()?.per.get(hall)?;
        let minute = self.topo.local(now).1;
        let seen = self.tickets.values().filter(|t| t.issued_hall == hall && t.day == self.day && t.issued_at <= now).count() as f64;
        let mut expected_so_far = 0.0;
        for q in 0..96usize {
            let (a, b) = (q as u32 * 15, q as u32 * 15 + 15);
            let part = if b <= minute { 1.0 } else if a >= minute { 0.0 } else { f64::from(minute - a) / 15.0 };
            expected_so_far += curves.iter().map(|c| c.get(q).map_or(0.0, |x| x.0 + x.1)).sum::<f64>() * part;
        }
        Some(((seen + CURVE_PRIOR_TICKETS) / (expected_so_far + CURVE_PRIOR_TICKETS)).clamp(0.5, 2.0))
    }

    /// What earlier days say arrives when: estimates use it, scaled to today's level, instead
    /// of the last hour's rate.
    pub fn set_arrival_curves(&mut self, curves: Option<std::sync::Arc<ArrivalCurves>>) {
        self.curves = curves;
    }

    pub fn arrival_curves(&self) -> Option<&ArrivalCurves> {
        self.curves.as_deref()
    }

    /// Arrivals from the curves, when there are some for `hall`: (time, service, kind 0 normal /
    /// 1 绿色通道), latest first, from `now` until `until`; drawn when `rng` is given (a Poisson
    /// number per quarter, at even random times), else evenly where the expected count
    /// crosses a whole number.
    fn curve_arrivals(
        &self,
        hall: usize,
        now: Millis,
        until: Millis,
        normal_matters: &[bool],
        mut rng: Option<&mut StdRng>,
        level: f64,
    ) -> Option<Vec<(Millis, usize, usize)>> {
        let curves = self.curves.as_ref()?.per.get(hall)?;
        let day0 = self.topo.at(self.topo.local(now).0, 0);
        let mut out = vec![];
        for (service, curve) in curves.iter().enumerate() {
            for kind in 0..2 {
                if kind == 0 && !normal_matters[service] {
                    continue;
                }
                let mut acc = 0.0;
                for (q, x) in curve.iter().enumerate() {
                    let (a, b) = (day0 + q as i64 * 900_000, day0 + (q as i64 + 1) * 900_000);
                    let (from, to) = (a.max(now), b.min(until));
                    if to <= from {
                        continue;
                    }
                    let e = if kind == 0 { x.0 } else { x.1 } * level * (to - from) as f64 / 900_000.0;
                    match rng.as_deref_mut() {
                        Some(r) => {
                            for _ in 0..poisson(r, e) {
                                out.push((from + (r.gen::<f64>() * (to - from) as f64) as Millis, service, kind));
                            }
                        }
                        None => {
                            // Where the running count crosses a whole number.
                            let start = acc;
                            acc += e;
                            let mut k = start.floor() + 1.0;
                            while k <= acc {
                                out.push((from + ((k - start) / e * (to - from) as f64) as Millis, service, kind));
                                k += 1.0;
                            }
                        }
                    }
                }
            }
        }
        out.sort_unstable_by(|a, b| b.cmp(a));
        Some(out)
    }
}

/// A Poisson number of mean `mean` (Knuth; a normal approximation for large means).
fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * standard_normal(rng)).round().max(0.0) as u32;
    }
    let l = (-mean).exp();
    let (mut k, mut p) = (0u32, 1.0);
    loop {
        p *= rng.gen::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// Forks of a hall per forked estimate, unless configured.
pub const FORKS: u32 = 32;

/// The forks' seed for an estimate of `id` at `now`: the same estimate twice is the same.
pub fn fork_seed(id: TicketId, now: Millis) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (now as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// What a fork draws instead of expecting: service times (lognormal around the learnt mean with
/// the service's spread) and the gaps between arrivals.
pub struct Draws {
    rng: StdRng,
}

impl Draws {
    pub fn new(seed: u64) -> Draws {
        Draws { rng: StdRng::seed_from_u64(seed) }
    }

    /// A lognormal service time of this mean and coefficient of variation.
    fn service(&mut self, mean: i64, cv: f64) -> Millis {
        let var = (1.0 + cv * cv).ln();
        let mu = (mean.max(1) as f64).ln() - var / 2.0;
        (mu + var.sqrt() * standard_normal(&mut self.rng)).exp() as Millis
    }

    /// What is left of a service that has taken `passed` so far: a draw beyond it.
    fn remaining(&mut self, mean: i64, cv: f64, passed: Millis) -> Millis {
        for _ in 0..16 {
            let x = self.service(mean, cv);
            if x > passed {
                return x - passed;
            }
        }
        (mean_beyond(mean as f64, cv, passed.max(1) as f64) as Millis - passed).max(mean / 8)
    }
}

/// A standard normal deviate (Box–Muller).
fn standard_normal(rng: &mut StdRng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.gen::<f64>().max(1e-12), rng.gen());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// An exponential gap of this mean.
fn exponential(rng: &mut StdRng, mean: Millis) -> Millis {
    (-(rng.gen::<f64>().max(1e-12)).ln() * mean as f64) as Millis
}

/// The waits a hall's forks gave each waiting ticket: what a forked estimate is told from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forked {
    /// Per ticket ([`NEW_TICKET`]: the one not yet taken), its waits in ms, sorted; a fork in
    /// which no counter would call it leaves it out.
    pub waits: HashMap<TicketId, Vec<Millis>>,
    pub forks: u32,
}

impl Forked {
    /// The `q` quantile of a ticket's waits (ms), when every fork called it.
    pub fn quantile(&self, id: TicketId, q: f64) -> Option<Millis> {
        let w = self.waits.get(&id).filter(|w| w.len() as u32 == self.forks && !w.is_empty())?;
        let ix = ((w.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        Some(w[ix])
    }
}

impl State {
    /// The hall's day forked `forks` times from `now`: each fork runs the call-next rule forward
    /// as [`State::forward`] does, but draws the service times (the ones under way beyond what
    /// they took already) and the gaps between arrivals instead of taking their means. `extra`:
    /// a ticket not yet taken ([`NEW_TICKET`]). The same `seed` gives the same forks.
    pub fn forked(&self, hall: usize, now: Millis, extra: Option<(usize, Priority)>, forks: u32, seed: u64) -> Forked {
        self.forked_with(hall, now, extra, forks, seed, Staffing::Now)
    }

    fn forked_with(&self, hall: usize, now: Millis, extra: Option<(usize, Priority)>, forks: u32, seed: u64, staffing: Staffing) -> Forked {
        let mut out = Forked { waits: HashMap::default(), forks };
        let mut draws = Draws::new(seed);
        let mut prep = Prep::default();
        for _ in 0..forks {
            // As the forward run: taxpayers the kiosk would refuse (called only after closing)
            // are left out, the fork run again with the same draws without them.
            let mut again = Draws { rng: draws.rng.clone() };
            let mut refused = HashSet::default();
            let mut run = self.forward_run(hall, now, extra, staffing, true, &HashSet::default(), Some(&mut refused), Some(&mut draws), Some(&mut prep));
            if !refused.is_empty() {
                run = self.forward_run(hall, now, extra, staffing, true, &refused, None, Some(&mut again), Some(&mut prep));
                draws = again;
            }
            for (id, ms) in run.waits {
                if id < PHANTOM || id == NEW_TICKET {
                    out.waits.entry(id).or_default().push(ms);
                }
            }
        }
        for w in out.waits.values_mut() {
            w.sort_unstable();
        }
        out
    }
}

/// What a forked estimate tells a ticket: its wait and range, in ms from the forecast's `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Told {
    pub wait_ms: Millis,
    pub low_ms: Millis,
    pub high_ms: Millis,
}

/// The duty leader's what-if: a new ticket of `service` with `counter` opened now as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhatIf {
    pub counter: usize,
    pub service: usize,
    pub before_ms: Millis,
    pub after_ms: Millis,
}

/// A hall's forked estimates at one moment ([`State::forecast`]): what its tickets are told
/// until the next one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forecast {
    pub hall: usize,
    pub day: chrono::NaiveDate,
    pub at: Millis,
    /// Every waiting ticket some fork called in all forks.
    pub tickets: HashMap<TicketId, Told>,
    /// Per service: a new (normal) ticket taken at `at`; none where the hall does not serve it
    /// or not every fork would call it.
    pub new: Vec<Option<Told>>,
    /// When the queue is long: the closed counter whose opening helps most, and what it changes.
    pub what_if: Option<WhatIf>,
}

impl Forked {
    fn told(&self, id: TicketId, rules: &EstimateRules) -> Option<Told> {
        let pc = |p: u32| f64::from(p) / 100.0;
        Some(Told {
            wait_ms: self.quantile(id, pc(rules.quantile_percent))?,
            low_ms: self.quantile(id, pc(rules.range_percent.0))?,
            high_ms: self.quantile(id, pc(rules.range_percent.1))?,
        })
    }
}

/// Forecasts as published, per hall: derived, not state (two states are equal whatever they
/// were told).
#[derive(Debug, Clone, Default)]
pub struct Published(Vec<Option<std::sync::Arc<Forecast>>>);

impl PartialEq for Published {
    fn eq(&self, _: &Published) -> bool {
        true
    }
}

/// A forecast goes through at most this many steps ([`Forward::steps`]) in all its forks
/// (some 50 ms of one core here): a larger hall gets fewer forks…
pub const FORECAST_STEPS: u64 = 300_000;
/// … and under this many, none (the forward estimate is told).
pub const MIN_FORKS: u32 = 8;

/// A forecast older than this is not used (its worker is stuck): the forward estimate is.
pub const FORECAST_STALE_MS: Millis = 3 * 60_000;

impl State {
    /// The hall forked from `now` ([`EstimateRules::forks`] times, [`State::forked`]): each
    /// waiting ticket's told wait and range; with `new_tickets`, a new ticket's of every
    /// service the hall serves (a run each, the same draws); with `long_queue` and more than
    /// that many waiting, the what-if of opening the closed counter that serves the most of
    /// them.
    pub fn forecast(&self, hall: usize, now: Millis, new_tickets: bool, long_queue: Option<u32>) -> Forecast {
        let mut rules = self.topo.estimates;
        let seed = fork_seed(hall as TicketId, now);
        let mut out = Forecast { hall, day: self.day, at: now, tickets: HashMap::default(), new: vec![None; self.topo.services.len()], what_if: None };
        // A new ticket of a service waits as one of any other served by the same counters
        // with the same preference: one run per kind of service.
        let kind = |s: usize| -> Vec<(usize, bool)> {
            (0..self.topo.counters.len())
                .filter(|&c| self.topo.counters[c].hall == hall && self.topo.counters[c].services.contains(&s))
                .map(|c| (c, self.topo.counters[c].preferred.contains(&s)))
                .collect()
        };
        // (kind: the hall's counters serving it and whether they prefer it, its services)
        type Kinds = Vec<(Vec<(usize, bool)>, Vec<usize>)>;
        let mut kinds: Kinds = vec![];
        if new_tickets {
            for s in 0..self.topo.services.len() {
                let k = kind(s);
                if k.is_empty() {
                    continue;
                }
                match kinds.iter_mut().find(|(x, _)| *x == k) {
                    Some((_, list)) => list.push(s),
                    None => kinds.push((k, vec![s])),
                }
            }
        }
        let long = long_queue.is_some_and(|l| self.hall_waiting(hall) > l as usize);
        // As many forks as the budget allows (a hall of thousands gets the forward estimate).
        let runs = 1 + kinds.len() as u64 + if long { 2 } else { 0 };
        let steps = self.forward(hall, now, None).steps.max(1);
        rules.forks = rules.forks.min(u32::try_from(FORECAST_STEPS / (steps * runs)).unwrap_or(u32::MAX));
        if rules.forks < MIN_FORKS {
            return out;
        }
        let base = self.forked(hall, now, None, rules.forks, seed);
        out.tickets = base.waits.keys().filter_map(|&id| Some((id, base.told(id, &rules)?))).collect();
        let new_one = |s: usize, staffing: Staffing| {
            self.forked_with(hall, now, Some((s, Priority::Normal)), rules.forks, seed, staffing).told(NEW_TICKET, &rules)
        };
        for (_, services) in &kinds {
            let told = new_one(services[0], Staffing::Now);
            for &s in services {
                out.new[s] = told;
            }
        }
        if long {
            let waiting = |s: usize| self.waiting(hall, s);
            let open = self
                .topo
                .counters
                .iter()
                .enumerate()
                .filter(|(c, def)| def.hall == hall && self.counters[*c].state == CounterState::Closed)
                .map(|(c, def)| (def.services.iter().map(|&s| waiting(s)).sum::<u32>(), Reverse(c)))
                .filter(|(n, _)| *n > 0)
                .max()
                .map(|(_, Reverse(c))| c);
            if let Some(c) = open {
                let service = *self.topo.counters[c].services.iter().max_by_key(|&&s| (waiting(s), Reverse(s))).expect("serves one");
                let before = out.new[service].or_else(|| new_one(service, Staffing::Now));
                let after = new_one(service, Staffing::NowAnd(c));
                if let (Some(b), Some(a)) = (before, after) {
                    out.what_if = Some(WhatIf { counter: c, service, before_ms: b.wait_ms, after_ms: a.wait_ms });
                }
            }
        }
        out
    }

    /// Makes `f` what its hall's tickets are told (the forked estimator). Whether what a new
    /// ticket is told changed by a minute or more for some service (worth telling the screens).
    pub fn publish_forecast(&mut self, f: std::sync::Arc<Forecast>) -> bool {
        let h = f.hall;
        if self.forecasts.0.len() <= h {
            self.forecasts.0.resize(self.topo.halls.len().max(h + 1), None);
        }
        let minutes = |f: Option<&Forecast>| -> Vec<Option<(Millis, Millis, Millis)>> {
            match f {
                Some(f) => f.new.iter().map(|t| t.map(|t| (t.wait_ms / 60_000, t.low_ms / 60_000, t.high_ms / 60_000))).collect(),
                None => vec![],
            }
        };
        let changed = minutes(self.forecasts.0[h].as_deref()) != minutes(Some(&f));
        self.forecasts.0[h] = Some(f);
        changed
    }

    /// `hall`'s forecast, when the forked estimator has a fresh one of today.
    pub fn forecast_of(&self, hall: usize, now: Millis) -> Option<&Forecast> {
        self.forecasts
            .0
            .get(hall)?
            .as_deref()
            .filter(|f| f.day == self.day && now - f.at <= FORECAST_STALE_MS && now >= f.at)
    }

    /// What the forked estimate tells waiting ticket `id` at `now`: seconds, and the range.
    /// A ticket taken since the forecast is told what a new ticket of its service was.
    pub fn ticket_told(&self, id: TicketId, now: Millis) -> Option<(u32, (u32, u32))> {
        let t = self.tickets.get(&id)?;
        let f = self.forecast_of(t.hall, now)?;
        let (told, from) = match f.tickets.get(&id) {
            Some(told) => (*told, f.at),
            None if t.issued_at >= f.at && t.priority == Priority::Normal && t.slot.is_none() && !t.transferred => {
                (f.new.get(t.service).copied().flatten()?, t.issued_at)
            }
            None => return None,
        };
        Some(told_s(told, now - from))
    }

    /// What waiting ticket `id` is told at `now` by the configured estimator: seconds, and a
    /// range when the estimate has one worth showing ([`shown_range`]; the forked estimator's
    /// only from its forks).
    pub fn ticket_wait(&self, id: TicketId, now: Millis) -> (u32, Option<(u32, u32)>) {
        let Some(t) = self.tickets.get(&id).filter(|t| t.state == super::TicketState::Waiting) else { return (0, None) };
        if self.topo.estimates.estimator == Estimator::Forked && self.effective(Estimator::Forked, t.hall) == Estimator::Forked {
            if let Some((s, range)) = self.ticket_told(id, now) {
                return (s, shown_range(s, range));
            }
        }
        let s = self.ticket_estimate_s(self.topo.estimates.estimator, id, now);
        (s, self.forward_range(t.hall, s))
    }

    /// The forward estimate's range, where it is the one configured (the forked estimator
    /// tells no range but its forks').
    fn forward_range(&self, hall: usize, s: u32) -> Option<(u32, u32)> {
        (self.topo.estimates.estimator == Estimator::Forward).then(|| self.wait_range_s(hall, s)).flatten()
    }

    /// What a new ticket of `service` in `hall` is told at `now` (as [`State::ticket_wait`]).
    pub fn new_ticket_wait(&self, hall: usize, service: usize, now: Millis) -> (u32, Option<(u32, u32)>) {
        if self.topo.estimates.estimator == Estimator::Forked && self.effective(Estimator::Forked, hall) == Estimator::Forked {
            if let Some((s, range)) = self.new_ticket_told(hall, service, now) {
                return (s, shown_range(s, range));
            }
        }
        let s = self.new_ticket_estimate_s(self.topo.estimates.estimator, hall, service, Priority::Normal, now);
        (s, self.forward_range(hall, s))
    }

    /// What the forked estimate tells a new ticket of `service` in `hall` at `now`.
    pub fn new_ticket_told(&self, hall: usize, service: usize, now: Millis) -> Option<(u32, (u32, u32))> {
        let f = self.forecast_of(hall, now)?;
        Some(told_s(f.new.get(service).copied().flatten()?, 0))
    }
}

/// The range of a forked estimate of `s` seconds, as shown: whole minutes around it (the low
/// end down, the high one up), when the estimate is not short ([`SHORT_S`]) and the range
/// spans at least [`RANGE_SHOWN_S`].
pub fn shown_range(s: u32, (low, high): (u32, u32)) -> Option<(u32, u32)> {
    let (low, high) = (low.min(s) / 60 * 60, high.max(s).div_ceil(60) * 60);
    (s >= SHORT_S && high - low >= RANGE_SHOWN_S).then_some((low, high))
}

/// A wait under this is told as short (少于 5 分钟), without a range.
pub const SHORT_S: u32 = 5 * 60;
/// A forked range narrower than this is told as one figure.
pub const RANGE_SHOWN_S: u32 = 3 * 60;

/// A told wait `passed` ms later, in seconds: (wait, (low, high)).
fn told_s(t: Told, passed: Millis) -> (u32, (u32, u32)) {
    (secs(t.wait_ms - passed), (secs(t.low_ms - passed), secs(t.high_ms - passed)))
}

/// The coefficient of variation of `samples` ([`DEFAULT_CV`] for fewer than five).
fn cv(samples: &[f64]) -> f64 {
    if samples.len() < 5 {
        return DEFAULT_CV;
    }
    let m = samples.iter().sum::<f64>() / samples.len() as f64;
    let var = samples.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (samples.len() - 1) as f64;
    if m > 0.0 {
        var.sqrt() / m
    } else {
        DEFAULT_CV
    }
}

/// The mean of a lognormal service time of mean `mean` and coefficient of variation `cv` that
/// has taken `elapsed` so far.
fn mean_beyond(mean: f64, cv: f64, elapsed: f64) -> f64 {
    if cv < 1e-3 {
        return mean.max(elapsed);
    }
    let var = (1.0 + cv * cv).ln();
    let sigma = var.sqrt();
    let z = (mean.ln() - var / 2.0 - elapsed.ln()) / sigma;
    let tail = normal_cdf(z);
    if tail < 1e-9 {
        return elapsed;
    }
    (mean * normal_cdf(z + sigma) / tail).max(elapsed)
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26, error < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

fn secs(ms: Millis) -> u32 {
    u32::try_from((ms.max(0) + 999) / 1000).unwrap_or(u32::MAX)
}
