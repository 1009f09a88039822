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
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

use super::{is_urgent, pick, CounterState, Millis, Opening, Priority, Queue, State, TicketId};

/// Arrivals expected during the run are taken from this much of the recent past.
const RATE_WINDOW_MS: Millis = 60 * 60_000;
/// … but never less, early in the day.
const MIN_RATE_WINDOW_MS: Millis = 5 * 60_000;
/// Ids of the expected arrivals in a forward run (above every real ticket id).
const PHANTOM: TicketId = TicketId::MAX / 2;
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
}

impl Default for EstimateRules {
    fn default() -> Self {
        EstimateRules { estimator: Estimator::Forward, lean_percent: 8 }
    }
}

/// Which estimate tickets, screens and kiosks show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Estimator {
    Simple,
    #[default]
    Forward,
}

impl Estimator {
    pub fn parse(s: &str) -> Option<Estimator> {
        match s {
            "simple" => Some(Estimator::Simple),
            "forward" => Some(Estimator::Forward),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Estimator::Simple => "simple",
            Estimator::Forward => "forward",
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
}

/// The id the forward run gives a ticket that is not taken yet ([`State::forward`]'s `extra`).
pub const NEW_TICKET: TicketId = TicketId::MAX;

/// The outcome of one forward run over a hall.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forward {
    /// Milliseconds from `now` until each waiting ticket is called; tickets no open counter
    /// of the hall would call within [`HORIZON_MS`] are missing.
    pub waits: HashMap<TicketId, Millis>,
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
        let mut refused = HashSet::new();
        let first = self.forward_run(hall, now, extra, Staffing::Now, true, &HashSet::new(), Some(&mut refused));
        if refused.is_empty() {
            return first;
        }
        // Some of the expected taxpayers would be called only after closing: the kiosk would
        // not give them a ticket. Run again without them.
        self.forward_run(hall, now, extra, Staffing::Now, true, &refused, None)
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
            let counted = staffing == Staffing::Planned || self.counters[c].state != CounterState::Closed;
            if counted && def.services.iter().any(|s| !def.preferred.contains(s)) {
                for &s in &def.preferred {
                    preferred_over_others[s] = true;
                }
            }
        }
        // Expected service time per service, leaned, for the whole run.
        let service_ms: Vec<i64> = (0..self.topo.services.len()).map(|s| self.leaned_ms(s, now)).collect();
        let mut arrivals = if arrivals { self.expected_arrivals(hall, now, &preferred_over_others, &service_ms) } else { Arrivals::none() };
        // Expected arrivals in the queues now: id -> (service, urgent, queued at).
        let mut phantoms: HashMap<TicketId, (usize, bool, Millis)> = HashMap::new();

        // Counters by the time they are free: open ones only (a paused counter may be gone for
        // long; leaning towards later is the safe side).
        let mut free: BinaryHeap<Reverse<(Millis, usize)>> = BinaryHeap::new();
        for &c in &counters {
            let live = &self.counters[c];
            let at = match live.state {
                CounterState::Closed if staffing == Staffing::Planned => now,
                CounterState::Closed => continue,
                CounterState::Paused => now + PAUSE_RETURN_MS,
                CounterState::Open => now,
            };
            let at = match live.current.and_then(|id| self.tickets.get(&id)) {
                Some(t) => {
                    let expected = service_ms[t.service];
                    let passed = now - t.called_at.unwrap_or(now);
                    at + (expected - passed).max(expected / 4)
                }
                None => at,
            };
            // A counter planned to close calls nobody after.
            if let Some(at) = self.topo.counter_from(c, at) {
                free.push(Reverse((at, c)));
            }
        }
        let free_counters = free.len();

        let mut out = Forward::default();
        let empty = BTreeSet::new();
        // Per service: when the run calls its last waiting ticket from the back of the queue.
        let mut last_normal = vec![Millis::MIN; queues.len()];
        while left > 0 {
            let Some(Reverse((at, c))) = free.pop() else { break };
            if at - now > HORIZON_MS {
                break;
            }
            arrivals.admit(at, &mut queues, &mut phantoms, skip);
            let def = &self.topo.counters[c];
            let Some(id) = pick(def, direct.get(&c).unwrap_or(&empty), &queues, at) else {
                // Nothing this counter may call will come from the queues as they are.
                continue;
            };
            let service = if let Some((service, urgent, queued_at)) = phantoms.remove(&id) {
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
            if let Some(next) = self.topo.counter_from(c, at + service_ms[service]) {
                free.push(Reverse((next, c)));
            }
        }
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
        Arrivals { until, close, work, next, gaps, ids: PHANTOM, transfers: HashSet::new(), admitted: vec![] }
    }

    /// Waiting tickets in `hall`'s queues.
    fn hall_waiting(&self, hall: usize) -> usize {
        self.queues[hall].iter().map(|q| q.urgent.len() + q.normal.len() + q.appointments.len() + q.away.len()).sum::<usize>()
            + (0..self.topo.counters.len()).filter(|&c| self.topo.counters[c].hall == hall).map(|c| self.direct[c].len()).sum::<usize>()
    }

    /// The estimator to use for `hall` now: the forward one falls back to the simple one in a
    /// hall longer than [`FORWARD_LIMIT`].
    fn effective(&self, estimator: Estimator, hall: usize) -> Estimator {
        if estimator == Estimator::Forward && self.hall_waiting(hall) > FORWARD_LIMIT {
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
        }
    }

    /// The likely range of a forward estimate of `est_s` in `hall`, when it is wide (at least
    /// [`RANGE_MIN_S`] from low to high, for estimates from [`RANGE_FROM_S`]): the sum of the services ahead at each counter varies
    /// with the service times' coefficient of variation over the square root of their number,
    /// and pauses and arrivals add [`BASE_SPREAD`]; ±1.28 of that (80 %), rounded out to whole
    /// minutes.
    pub fn wait_range_s(&self, hall: usize, est_s: u32) -> Option<(u32, u32)> {
        // A short wait is one figure: a range would say more than it helps.
        if self.topo.estimates.estimator != Estimator::Forward || est_s < RANGE_FROM_S {
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
            Estimator::Forward => {
                match self.forward_run(hall, now, Some((service, Priority::Normal)), Staffing::Planned, false, &HashSet::new(), None).waits.get(&NEW_TICKET) {
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
        }
    }
}

/// Expected arrivals during a forward run: one stream per service and urgency, evenly spaced.
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
}

impl Arrivals {
    fn none() -> Arrivals {
        Arrivals { until: Millis::MIN, close: Millis::MAX, next: BinaryHeap::new(), gaps: vec![], ids: PHANTOM, transfers: HashSet::new(), admitted: vec![], work: 0.0 }
    }

    /// Whether the expected arrival `id` takes a ticket at the kiosk (and may be refused one).
    fn gated(&self, id: TicketId) -> bool {
        !self.transfers.contains(&id)
    }

    /// Puts every arrival due by `at` into the queues.
    fn admit(&mut self, at: Millis, queues: &mut [Queue], phantoms: &mut HashMap<TicketId, (usize, bool, Millis)>, skip: &HashSet<TicketId>) {
        while let Some(&Reverse((t, stream))) = self.next.peek() {
            if t > at || t >= self.until {
                return;
            }
            self.next.pop();
            let (service, kind, gap) = self.gaps[stream];
            self.ids += 1;
            self.next.push(Reverse((t + gap, stream)));
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
