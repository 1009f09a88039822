//! `qcall simulate`: whole business days driven through the real domain ([`State::apply`]) in
//! simulated time — no server, no sleeping, the same seed gives the same report.
//!
//! Taxpayers arrive per hall and service as a Poisson process whose rate follows the profile's
//! quarter-hour weights over the hall's issuing hours; a share take 绿色通道 tickets. Clerks sign
//! in at opening, call the next ticket by the real rule whenever they are free, serve for a
//! lognormal time, sometimes wait for a taxpayer who comes late (a recall) or never (a no-show),
//! sometimes transfer a ticket, pause, or sign out for good. Every ticket's estimate is taken at
//! issue and again ten minutes later from each estimator, and compared with when it was called.
//!
//! With [`Setup::forks`], the day is also forked at each ticket's issue and the rest of it drawn
//! anew, to find how close any estimate could have come ([`report::Bound`]). What happens to a
//! taxpayer is drawn when they come ([`Fate`]), so a fork changes only what is still to come.

pub mod profile;
pub mod report;
pub mod staffing;

/// Where the simulated days also go, command by command: the server's real engine and store
/// (`qcall simulate --store`). Each answers whether it agrees with the simulation.
pub trait Mirror {
    /// `cmd` at `now`, which the simulation `applied` (or refused), leaving `memory`.
    fn submit(&mut self, cmd: Command, now: Millis, applied: bool, memory: &State) -> Result<(), String>;
    /// A last comparison with `memory` at `now`.
    fn restart(&mut self, now: Millis, memory: &State) -> Result<(), String>;
    /// When taxpayers came on the days stored before `day` (what the server's estimates learn).
    fn arrival_curves(&mut self, _day: NaiveDate) -> Option<crate::domain::estimate::ArrivalCurves> {
        None
    }
}

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::estimate::Estimator;
use crate::domain::{Command, CounterState, Event, Millis, Priority, State, TicketId, TicketState, Topology};
pub use profile::Profile;
pub use report::Report;

/// The estimators compared on every simulated day.
pub const ESTIMATORS: [Estimator; 2] = [Estimator::Simple, Estimator::Forward];
/// The second estimate is taken this long after issue (the ticket's status page).
pub const LATER_MS: Millis = 10 * 60_000;
/// A taxpayer's walk to the counter after being called.
const WALK_MS: Millis = 20_000;
/// How long a clerk waits before recalling, and again before marking a no-show.
const RECALL_AFTER_MS: Millis = 45_000;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Setup {
    pub profile: Profile,
    pub days: u32,
    pub seed: u64,
    /// The first day simulated (later days are the following working days).
    pub first_day: NaiveDate,
    /// Counters open per hall: `None` all, `Some(k)` only the first `k` by number (staffing).
    pub counters_per_hall: Option<usize>,
    /// Forks of the day at each ticket's issue, for the bound ([`report::Bound`]); 0: none.
    pub forks: u32,
    /// Also the forked estimate ([`Estimator::Forked`]), with its ranges…
    pub forked: bool,
    /// … telling this quantile of a ticket's waits in the forks.
    pub fork_quantile: f64,
    /// The estimates know when taxpayers come by time of day, as if learnt from many earlier
    /// days of this profile ([`State::set_arrival_curves`]).
    pub learnt_arrivals: bool,
    /// Half past every hour, each hall's what-if ([`crate::domain::estimate::WhatIf`]): what a
    /// new ticket would wait with the closed counter that helps most opened then
    /// (`--staff` reports it).
    pub what_ifs: bool,
}

impl Setup {
    /// The estimators compared: [`ESTIMATORS`], and the forked one when asked for.
    pub fn estimators(&self) -> Vec<Estimator> {
        let mut v = ESTIMATORS.to_vec();
        if self.forked {
            v.push(Estimator::Forked);
        }
        v
    }
}

/// One ticket's life as the simulation saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRecord {
    pub hall: usize,
    pub service: usize,
    pub issued_at: Millis,
    pub called_at: Option<Millis>,
    /// Per estimator in [`ESTIMATORS`] order: ms estimated at issue.
    pub at_issue: Vec<Millis>,
    /// Per estimator: ms estimated from [`LATER_MS`] after issue, when still waiting then.
    pub later: Option<Vec<Millis>>,
    /// The range shown at issue with the forward estimate (ms), when it was wide.
    pub range: Option<(Millis, Millis)>,
    /// The forked estimate's range at issue (ms), when it was made.
    pub forked_range: Option<(Millis, Millis)>,
    /// Its waits in the day forked at its issue ([`Setup::forks`] of them), the rest of the day
    /// drawn anew ([`Day::fork`]).
    pub forked: Option<Vec<Millis>>,
}

/// What happens to a taxpayer, drawn when they come (whether they get a ticket or not, so that
/// every run of a day draws the same for the same taxpayer): per call (the first, and any
/// after a transfer) whether they come late or never and whether they are sent on, and per
/// service how long it takes. Each is found from a key and the call's or service's number, so
/// a fork can change what is still to come by changing the keys.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fate {
    /// The calls' key (the no-show / recall roll, the transfer roll, and where to).
    calls_key: u64,
    /// The service times' key.
    services_key: u64,
    calls: u64,
    services: u64,
}

impl Fate {
    fn draw(rng: &mut StdRng, draws: &mut StdRng) -> Fate {
        Fate { calls_key: rng.gen(), services_key: draws.gen(), calls: 0, services: 0 }
    }

    /// The rolls of the call just made.
    fn call(&self) -> [f64; 3] {
        let k = self.calls.wrapping_mul(3);
        [0, 1, 2].map(|j| unit(self.calls_key ^ mix(k + j)))
    }

    /// A standard normal deviate for the service just begun (Box–Muller).
    fn z(&self) -> f64 {
        let k = self.services.wrapping_mul(2);
        let (u1, u2) = (unit(self.services_key ^ mix(k)).max(1e-12), unit(self.services_key ^ mix(k + 1)));
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform value in [0, 1) from `x`.
fn unit(x: u64) -> f64 {
    (mix(x) >> 11) as f64 / (1u64 << 53) as f64
}

/// A day forked at one ticket's issue, run until that ticket is called.
#[derive(Debug, Clone, Copy)]
struct Fork {
    ticket: TicketId,
    called: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A taxpayer takes a ticket.
    Arrive { hall: usize, service: usize, priority: bool },
    /// The counter's clerk looks for the next ticket.
    Free { counter: usize },
    /// The customer at the counter is done.
    Done { counter: usize, ticket: TicketId },
    /// Nobody came yet: recall, or give up.
    NoShowCheck { counter: usize, ticket: TicketId, recalled: bool },
    /// The customer who was slow reaches the counter.
    Arrived { counter: usize, ticket: TicketId },
    PauseStart { counter: usize },
    PauseEnd { counter: usize },
    /// The counter signs out for the day (after its current customer).
    Leave { counter: usize },
    /// Take the ticket's second estimate.
    Later { ticket: TicketId },
    /// Counters of `hall` sign in at an opening.
    Open { hall: usize },
    /// The hall's what-if, half past an hour ([`Setup::what_ifs`]).
    Look { hall: usize },
}

/// The outcome of a run: every ticket, plus counter busy and open times.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub tickets: Vec<TicketRecord>,
    /// Per counter: ms busy with a customer, ms signed in.
    pub busy_ms: Vec<Millis>,
    pub open_ms: Vec<Millis>,
    /// Taxpayers who found issuing stopped (last tickets before closing), per hall…
    pub turned_away: Vec<u32>,
    /// … and when (hall, time).
    pub turned_away_at: Vec<(usize, Millis)>,
    pub days: Vec<NaiveDate>,
    /// Tickets still at a counter when their business day ended: a clerk waiting for someone
    /// all evening. Zero unless the simulated clerks are wrong.
    pub held_at_day_end: u32,
    /// With [`Setup::what_ifs`]: (hall, local hour, what opening one more counter then would do).
    pub what_ifs: Vec<(usize, u32, crate::domain::estimate::WhatIf)>,
}

/// Runs the simulation.
pub fn run(topo: &Arc<Topology>, setup: &Setup) -> Outcome {
    run_with(topo, setup, None).unwrap_or_default()
}

/// Runs the simulation, mirroring every command into the real engine and store when `mirror`
/// is given (an error says where memory and the store parted).
pub fn run_with(topo: &Arc<Topology>, setup: &Setup, mut mirror: Option<&mut (dyn Mirror + 'static)>) -> Result<Outcome, String> {
    let topo = prepare(topo, setup);
    let mut rng = StdRng::seed_from_u64(setup.seed);
    // Service times come from their own stream: a fork draws them anew without changing
    // anything else.
    let mut draws = StdRng::seed_from_u64(setup.seed ^ 0x5EED_0F5E_4F1C_E500);
    let mut out = Outcome {
        busy_ms: vec![0; topo.counters.len()],
        open_ms: vec![0; topo.counters.len()],
        turned_away: vec![0; topo.halls.len()],
        ..Outcome::default()
    };
    let mut day = setup.first_day;
    let mut state: Option<State> = None;
    for _ in 0..setup.days {
        while !topo.calendar.is_open_day(day) {
            day += chrono::Duration::days(1);
        }
        let mut sim = Day::new(&topo, setup, day, state.take(), (rng, draws), mirror.as_deref_mut());
        sim.run(&mut out);
        if let Some(e) = sim.failure.take() {
            return Err(e);
        }
        (rng, draws) = (sim.rng, sim.draws);
        state = Some(sim.state);
        out.days.push(day);
        day += chrono::Duration::days(1);
    }
    // A last comparison after the last day.
    if let (Some(m), Some(st), Some(last)) = (mirror, &state, out.days.last()) {
        m.restart(topo.day_start(*last + chrono::Duration::days(1)) - 1, st)?;
    }
    Ok(out)
}

/// When the profile's taxpayers come, per hall, service and quarter hour: what many earlier
/// days of it would teach.
fn curves(topo: &Topology, p: &Profile, date: NaiveDate) -> crate::domain::estimate::ArrivalCurves {
    let per = (0..topo.halls.len())
        .map(|h| {
            let issuing: Vec<bool> = (0..96)
                .map(|q| {
                    let m = q as u32 * 15;
                    topo.hall_open_day(h, date)
                        && topo.halls[h].hours.iter().any(|&(a, b)| m >= a && m + 15 <= b.saturating_sub(topo.last_ticket_minutes))
                })
                .collect();
            let weight: f64 = (0..96).filter(|&q| issuing[q]).map(|q| p.quarters[q]).sum();
            p.services
                .iter()
                .map(|mix| {
                    (0..96)
                        .map(|q| {
                            let e = if issuing[q] && weight > 0.0 { p.tickets_per_hall * mix.share * p.quarters[q] / weight } else { 0.0 };
                            (e * (1.0 - p.priority_share), e * p.priority_share)
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    crate::domain::estimate::ArrivalCurves { per }
}

/// The topology as the profile has it (一窗式: every counter serves every service; a planned
/// closing is in the counters' `hours`).
fn prepare(topo: &Arc<Topology>, setup: &Setup) -> Arc<Topology> {
    let profile = &setup.profile;
    let quantile_percent = (setup.fork_quantile * 100.0).round().clamp(1.0, 99.0) as u32;
    if !profile.one_window && !profile.close.iter().any(|c| c.2) && topo.estimates.quantile_percent == quantile_percent {
        return topo.clone();
    }
    let mut t = (**topo).clone();
    t.estimates.quantile_percent = quantile_percent;
    t.estimates.range_percent = (t.estimates.range_percent.0.min(quantile_percent - 1), t.estimates.range_percent.1.max(quantile_percent + 1));
    if profile.one_window {
        let all: Vec<usize> = (0..t.services.len()).collect();
        for c in &mut t.counters {
            c.services = all.clone();
            c.preferred.clear();
        }
    }
    for h in 0..t.halls.len() {
        // The counters that close: the last staffed ones by number, as the day has them.
        let mut mine: Vec<usize> = (0..t.counters.len()).filter(|&c| t.counters[c].hall == h).collect();
        mine.sort_by_key(|&c| t.counters[c].number);
        mine.truncate(setup.counters_per_hall.unwrap_or(usize::MAX));
        let open = t.halls[h].hours.first().map_or(0, |p| p.0);
        for &(k, minute, planned) in &profile.close {
            for &c in mine.iter().rev().take(k).filter(|_| planned) {
                t.counters[c].hours = vec![(open, minute)];
            }
        }
    }
    Arc::new(t)
}

struct Day<'a> {
    topo: &'a Arc<Topology>,
    setup: &'a Setup,
    date: NaiveDate,
    state: State,
    rng: StdRng,
    /// Service times' stream.
    draws: StdRng,
    /// Every taxpayer's fate, by ticket.
    fates: HashMap<TicketId, Fate>,
    /// Set in a fork.
    fork: Option<Fork>,
    queue: BinaryHeap<Reverse<(Millis, u64, Ev)>>,
    seq: u64,
    /// Index into the outcome's tickets, by ticket id.
    records: HashMap<TicketId, usize>,
    /// Counters that run today, and since when each is signed in / serving.
    staffed: Vec<bool>,
    signed_in_at: Vec<Option<Millis>>,
    serving_since: Vec<Option<Millis>>,
    leaving: Vec<bool>,
    paused: Vec<bool>,
    /// Called tickets whose taxpayer reached the counter.
    arrived: HashSet<TicketId>,
    mirror: Option<&'a mut (dyn Mirror + 'static)>,
    /// Where memory and the store parted (the run stops).
    failure: Option<String>,
}

impl<'a> Day<'a> {
    fn new(
        topo: &'a Arc<Topology>,
        setup: &'a Setup,
        date: NaiveDate,
        state: Option<State>,
        (rng, draws): (StdRng, StdRng),
        mirror: Option<&'a mut (dyn Mirror + 'static)>,
    ) -> Day<'a> {
        let start = topo.day_start(date);
        let mut state = state.unwrap_or_else(|| State::new(topo.clone(), start));
        let mut mirror = mirror;
        if setup.learnt_arrivals {
            state.set_arrival_curves(Some(Arc::new(curves(topo, &setup.profile, date))));
        } else if let Some(m) = mirror.as_deref_mut() {
            // As the server learns it: from the days stored so far.
            state.set_arrival_curves(m.arrival_curves(date).map(Arc::new));
        }
        let mut staffed = vec![true; topo.counters.len()];
        if let Some(k) = setup.counters_per_hall {
            for h in 0..topo.halls.len() {
                let mut mine: Vec<usize> = (0..topo.counters.len()).filter(|&c| topo.counters[c].hall == h).collect();
                mine.sort_by_key(|&c| topo.counters[c].number);
                for &c in mine.iter().skip(k) {
                    staffed[c] = false;
                }
            }
        }
        let n = topo.counters.len();
        Day {
            topo,
            setup,
            date,
            state,
            rng,
            draws,
            fates: HashMap::new(),
            fork: None,
            queue: BinaryHeap::new(),
            seq: 0,
            records: HashMap::new(),
            staffed,
            signed_in_at: vec![None; n],
            serving_since: vec![None; n],
            leaving: vec![false; n],
            paused: vec![false; n],
            arrived: HashSet::new(),
            mirror,
            failure: None,
        }
    }

    /// Applies `cmd` at `now` to the state, and through the engine when mirroring (which
    /// applies a `Tick` before every batch: so does memory then).
    fn apply(&mut self, cmd: Command, now: Millis) -> Result<Vec<Event>, crate::domain::DomainError> {
        let Some(m) = self.mirror.as_deref_mut() else { return self.state.apply(cmd, now) };
        let _ = self.state.apply(Command::Tick, now);
        let r = self.state.apply(cmd.clone(), now);
        if self.failure.is_none() {
            if let Err(e) = m.submit(cmd, now, r.is_ok(), &self.state) {
                self.failure = Some(e);
            }
        }
        r
    }

    fn at(&mut self, t: Millis, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, ev)));
    }

    /// The taxpayers coming to hall `h` after `from` today.
    fn schedule_arrivals(&mut self, h: usize, from: Millis) {
        let p = &self.setup.profile;
        let topo = self.topo;
        // Quarters in which the hall issues tickets, and the day's weight over them.
        let issuing: Vec<usize> = (0..96)
            .filter(|&q| {
                let m = q as u32 * 15;
                topo.halls[h].hours.iter().any(|&(a, b)| m >= a && m + 15 <= b.saturating_sub(topo.last_ticket_minutes))
            })
            .collect();
        let weight: f64 = issuing.iter().map(|&q| p.quarters[q]).sum();
        if weight <= 0.0 {
            return;
        }
        for &q in &issuing {
            let start = topo.at(self.date, q as u32 * 15);
            if start + 900_000 <= from {
                continue;
            }
            for (s, mix) in p.services.iter().enumerate() {
                let expected = p.tickets_per_hall * mix.share * p.quarters[q] / weight;
                if expected <= 0.0 {
                    continue;
                }
                // A Poisson process over the quarter: exponential gaps (from `from` on: it
                // has no memory).
                let rate_per_ms = expected / 900_000.0;
                let mut t = start.max(from) as f64;
                loop {
                    t += -self.rng.gen::<f64>().max(1e-12).ln() / rate_per_ms;
                    if t >= (start + 900_000) as f64 {
                        break;
                    }
                    let priority = self.rng.gen::<f64>() < p.priority_share;
                    self.at(t as Millis, Ev::Arrive { hall: h, service: s, priority });
                }
            }
        }
    }

    fn schedule_day(&mut self) {
        let p = &self.setup.profile;
        let topo = self.topo;
        for h in 0..topo.halls.len() {
            if !topo.hall_open_day(h, self.date) {
                continue;
            }
            for &(open, close) in &topo.halls[h].hours {
                self.at(topo.at(self.date, open), Ev::Open { hall: h });
                if self.setup.what_ifs {
                    // Half past each hour the hall is open then: the hour's queue has formed.
                    for minute in (open / 60 * 60 + 30..close).step_by(60).filter(|&m| m >= open) {
                        self.at(topo.at(self.date, minute), Ev::Look { hall: h });
                    }
                }
            }
            self.schedule_arrivals(h, Millis::MIN);
            // Pauses and sign-outs of this hall's counters.
            let (first, last) = (
                topo.halls[h].hours.first().map_or(0, |p| p.0),
                topo.halls[h].hours.last().map_or(0, |p| p.1),
            );
            let mut mine: Vec<usize> = (0..topo.counters.len()).filter(|&c| topo.counters[c].hall == h && self.staffed[c]).collect();
            mine.sort_by_key(|&c| topo.counters[c].number);
            for &c in &mine {
                let n = poisson(&mut self.rng, p.pauses_per_counter);
                for _ in 0..n {
                    let m = first as f64 + self.rng.gen::<f64>() * f64::from(last.saturating_sub(first));
                    self.at(topo.at(self.date, 0) + (m * 60_000.0) as Millis, Ev::PauseStart { counter: c });
                }
            }
            for &(k, minute, _) in &p.close {
                for &c in mine.iter().rev().take(k) {
                    self.at(topo.at(self.date, minute), Ev::Leave { counter: c });
                }
            }
        }
    }

    /// This day as it is at `now`, forked: whatever is not decided yet is drawn anew
    /// (`variant` picks how) from the profile — who comes from now on, whether the waiting
    /// come when called and are sent on, how long the services not begun take. What is
    /// decided stays: the services under way end when they would, and the pauses and
    /// sign-outs of the day come as planned.
    fn fork(&self, ticket: TicketId, variant: u64, now: Millis) -> Day<'a> {
        let key = self.setup.seed ^ ticket.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (variant + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut rng = StdRng::seed_from_u64(key);
        let mut draws = StdRng::seed_from_u64(key ^ 0x5EED_0F5E_4F1C_E500);
        let mut fates = self.fates.clone();
        for f in fates.values_mut() {
            // What was drawn for calls made and services begun has happened.
            let fresh = Fate::draw(&mut rng, &mut draws);
            (f.calls_key, f.services_key) = (fresh.calls_key, fresh.services_key);
        }
        let queue = self.queue.iter().filter(|Reverse((_, _, ev))| !matches!(ev, Ev::Arrive { .. })).cloned().collect();
        let mut day = Day {
            topo: self.topo,
            setup: self.setup,
            date: self.date,
            state: self.state.clone(),
            rng,
            draws,
            fates,
            fork: Some(Fork { ticket, called: None }),
            queue,
            seq: self.seq,
            records: HashMap::new(),
            staffed: self.staffed.clone(),
            signed_in_at: self.signed_in_at.clone(),
            serving_since: self.serving_since.clone(),
            leaving: self.leaving.clone(),
            paused: self.paused.clone(),
            arrived: self.arrived.clone(),
            mirror: None,
            failure: None,
        };
        for h in 0..self.topo.halls.len() {
            if self.topo.hall_open_day(h, self.date) {
                day.schedule_arrivals(h, now + 1);
            }
        }
        day
    }

    /// Runs a fork until its ticket is called: ms from `now`, or `None` when it never is.
    fn run_fork(mut self, now: Millis) -> Option<Millis> {
        let n = self.topo.counters.len();
        let mut scratch = Outcome { busy_ms: vec![0; n], open_ms: vec![0; n], turned_away: vec![0; self.topo.halls.len()], ..Outcome::default() };
        let end = self.topo.day_start(self.date + chrono::Duration::days(1)) - 1;
        while let Some(Reverse((t, _, ev))) = self.queue.pop() {
            if t >= end {
                break;
            }
            self.handle(ev, t, &mut scratch);
            if let Some(called) = self.fork.and_then(|f| f.called) {
                return Some(called - now);
            }
        }
        None
    }

    fn run(&mut self, out: &mut Outcome) {
        let start = self.topo.day_start(self.date);
        let _ = self.apply(Command::Tick, start);
        self.schedule_day();
        // The business day ends at the next one's start: whoever still waits then was never
        // called (the domain refuses calls in a stale day).
        let end = self.topo.day_start(self.date + chrono::Duration::days(1)) - 1;
        while let Some(Reverse((now, _, ev))) = self.queue.pop() {
            if now >= end || self.failure.is_some() {
                break;
            }
            self.handle(ev, now, out);
        }
        // The day is over: everyone signs out.
        out.held_at_day_end += (0..self.topo.counters.len()).filter(|&c| self.state.counter(c).current.is_some()).count() as u32;
        for c in 0..self.topo.counters.len() {
            self.sign_out(c, end, out);
        }
    }

    fn sign_out(&mut self, c: usize, now: Millis, out: &mut Outcome) {
        if let Some(since) = self.signed_in_at[c].take() {
            out.open_ms[c] += now - since;
            let _ = self.apply(Command::SignOut { counter: c }, now);
        }
    }

    fn handle(&mut self, ev: Ev, now: Millis, out: &mut Outcome) {
        let p = &self.setup.profile;
        match ev {
            Ev::Open { hall } => {
                for c in 0..self.topo.counters.len() {
                    if self.topo.counters[c].hall == hall && self.staffed[c] && !self.leaving[c] && self.signed_in_at[c].is_none() {
                        let clerk = format!("sim-{}", self.topo.counters[c].id);
                        if self.apply(Command::SignIn { counter: c, clerk, take_over: true }, now).is_ok() {
                            self.signed_in_at[c] = Some(now);
                            self.at(now, Ev::Free { counter: c });
                        }
                    }
                }
            }
            Ev::Look { hall } => {
                if self.fork.is_none() {
                    if let Some(w) = self.state.forecast(hall, now, false, Some(0)).what_if {
                        out.what_ifs.push((hall, self.topo.local(now).1 / 60, w));
                    }
                }
            }
            Ev::Arrive { hall, service, priority } => {
                let priority = if priority { Priority::Priority } else { Priority::Normal };
                let fate = Fate::draw(&mut self.rng, &mut self.draws);
                let Ok(events) = self.apply(Command::Issue { hall, service, priority, request_id: None }, now) else {
                    out.turned_away[hall] += 1;
                    out.turned_away_at.push((hall, now));
                    return;
                };
                let Some(id) = events.iter().find_map(|e| match e {
                    Event::TicketIssued { ticket } => Some(*ticket),
                    _ => None,
                }) else {
                    return;
                };
                self.fates.insert(id, fate);
                if self.fork.is_some() {
                    self.wake(hall, now);
                    return;
                }
                let mut at_issue: Vec<Millis> = ESTIMATORS.iter().map(|e| i64::from(self.state.ticket_estimate_s(*e, id, now)) * 1000).collect();
                let forward_s = (at_issue[1] / 1000) as u32;
                let range = self.state.wait_range_s(hall, forward_s).map(|(a, b)| (i64::from(a) * 1000, i64::from(b) * 1000));
                let mut forked_range = None;
                if self.setup.forked {
                    // As the server's forecast worker: the hall forked after the ticket is taken.
                    let f = self.state.forecast(hall, now, false, None);
                    match f.tickets.get(&id) {
                        Some(t) => {
                            at_issue.push(t.wait_ms);
                            forked_range = Some((t.low_ms, t.high_ms));
                        }
                        None => at_issue.push(at_issue[1]),
                    }
                }
                self.records.insert(id, out.tickets.len());
                out.tickets.push(TicketRecord { hall, service, issued_at: now, called_at: None, at_issue, later: None, range, forked_range, forked: None });
                self.at(now + LATER_MS, Ev::Later { ticket: id });
                self.wake(hall, now);
                if self.setup.forks > 0 {
                    let forked = (0..u64::from(self.setup.forks)).filter_map(|v| self.fork(id, v, now).run_fork(now)).collect::<Vec<_>>();
                    if let Some(r) = out.tickets.last_mut() {
                        r.forked = Some(forked);
                    }
                }
            }
            Ev::Later { ticket } => {
                if self.fork.is_none() && self.state.ticket(ticket).is_some_and(|t| t.state == TicketState::Waiting) {
                    if self.setup.forked {
                        let hall = self.state.ticket(ticket).map_or(0, |t| t.hall);
                        let f = self.state.forecast(hall, now, false, None);
                        self.state.publish_forecast(Arc::new(f));
                    }
                    let later = self.setup.estimators().iter().map(|e| i64::from(self.state.ticket_estimate_s(*e, ticket, now)) * 1000).collect();
                    if let Some(&i) = self.records.get(&ticket) {
                        out.tickets[i].later = Some(later);
                    }
                }
            }
            Ev::Free { counter } => {
                if !self.idle(counter) {
                    return;
                }
                if self.leaving[counter] {
                    self.sign_out(counter, now, out);
                    return;
                }
                let Ok(events) = self.apply(Command::CallNext { counter }, now) else {
                    // Nothing to call: outside the opening hours the clerk signs out (lunch, the
                    // evening) and comes back at the next opening.
                    let hall = self.topo.counters[counter].hall;
                    if matches!(self.topo.opening(hall, now), crate::domain::Opening::Closed { .. }) && !self.paused[counter] {
                        self.sign_out(counter, now, out);
                    }
                    return;
                };
                let Some(id) = events.iter().find_map(|e| match e {
                    Event::TicketCalled { ticket, .. } => Some(*ticket),
                    _ => None,
                }) else {
                    return;
                };
                if let Some(f) = self.fork.as_mut().filter(|f| f.ticket == id) {
                    f.called = Some(now);
                    return;
                }
                self.serving_since[counter] = Some(now);
                // A transferred ticket is called again: it has not come to this call yet.
                self.arrived.remove(&id);
                if let Some(&i) = self.records.get(&id) {
                    out.tickets[i].called_at.get_or_insert(now);
                }
                let fate = self.fates.entry(id).or_insert(Fate { calls_key: id, services_key: id, calls: 0, services: 0 });
                fate.calls += 1;
                let roll = fate.call()[0];
                if roll < p.no_show_share + p.recall_share {
                    self.at(now + RECALL_AFTER_MS, Ev::NoShowCheck { counter, ticket: id, recalled: false });
                    if roll >= p.no_show_share {
                        // Late, but comes after the recall.
                        self.at(now + RECALL_AFTER_MS + WALK_MS, Ev::Arrived { counter, ticket: id });
                    }
                } else {
                    self.at(now + WALK_MS, Ev::Arrived { counter, ticket: id });
                }
            }
            Ev::NoShowCheck { counter, ticket, recalled } => {
                if self.state.counter(counter).current != Some(ticket) || self.arrived.contains(&ticket) {
                    return;
                }
                if !recalled {
                    let _ = self.apply(Command::Recall { counter }, now);
                    self.at(now + RECALL_AFTER_MS, Ev::NoShowCheck { counter, ticket, recalled: true });
                } else if self.apply(Command::NoShow { counter }, now).is_ok() {
                    self.end_service(counter, now, out);
                }
            }
            Ev::Arrived { counter, ticket } => {
                if self.state.counter(counter).current != Some(ticket) {
                    return;
                }
                self.arrived.insert(ticket);
                let service = self.state.ticket(ticket).map_or(0, |t| t.service);
                let mix = p.services[service];
                let z = self.fates.get_mut(&ticket).map_or(0.0, |f| {
                    f.services += 1;
                    f.z()
                });
                let ms = lognormal(mix.mean_s, mix.spread, z) * 1000.0;
                self.at(now + ms as Millis, Ev::Done { counter, ticket });
            }
            Ev::Done { counter, ticket } => {
                if self.state.counter(counter).current != Some(ticket) {
                    return;
                }
                let rolls = self.fates.get(&ticket).map_or([1.0; 3], Fate::call);
                let transfer = rolls[1] < p.transfer_share;
                let hall = self.topo.counters[counter].hall;
                let current = self.state.ticket(ticket).map_or(0, |t| t.service);
                let others: Vec<usize> = (0..self.topo.services.len())
                    .filter(|&s| s != current && self.topo.counters.iter().any(|c| c.hall == hall && c.services.contains(&s)))
                    .collect();
                let done = if transfer && !others.is_empty() {
                    let to = others[((rolls[2] * others.len() as f64) as usize).min(others.len() - 1)];
                    self.apply(Command::Transfer { counter, service: Some(to), to_counter: None, hall: None }, now).is_ok()
                } else {
                    false
                };
                if !done {
                    let _ = self.apply(Command::Finish { counter }, now);
                }
                self.end_service(counter, now, out);
                if done {
                    self.wake(hall, now);
                }
            }
            Ev::PauseStart { counter } => {
                if self.signed_in_at[counter].is_none() || self.paused[counter] {
                    return;
                }
                if self.state.counter(counter).current.is_some() {
                    // After this customer.
                    self.at(now + 60_000, Ev::PauseStart { counter });
                    return;
                }
                if self.apply(Command::Pause { counter, reason: crate::domain::DEFAULT_PAUSE_REASONS[2].into() }, now).is_ok() {
                    self.paused[counter] = true;
                    self.at(now + (p.pause_minutes * 60_000.0) as Millis, Ev::PauseEnd { counter });
                }
            }
            Ev::PauseEnd { counter } => {
                if self.paused[counter] && self.apply(Command::Resume { counter }, now).is_ok() {
                    self.paused[counter] = false;
                    self.at(now, Ev::Free { counter });
                }
            }
            Ev::Leave { counter } => {
                self.leaving[counter] = true;
                if self.paused[counter] {
                    let _ = self.apply(Command::Resume { counter }, now);
                    self.paused[counter] = false;
                }
                if self.idle(counter) {
                    self.sign_out(counter, now, out);
                }
            }
        }
    }

    /// Idle counters of `hall` look up.
    fn wake(&mut self, hall: usize, now: Millis) {
        for c in 0..self.topo.counters.len() {
            if self.topo.counters[c].hall == hall && self.idle(c) {
                self.at(now, Ev::Free { counter: c });
            }
        }
    }

    fn idle(&self, c: usize) -> bool {
        let live = self.state.counter(c);
        live.state == CounterState::Open && live.current.is_none()
    }

    fn end_service(&mut self, counter: usize, now: Millis, out: &mut Outcome) {
        if let Some(since) = self.serving_since[counter].take() {
            out.busy_ms[counter] += now - since;
        }
        self.at(now, Ev::Free { counter });
    }
}

/// A Poisson-distributed count with mean `mean` (Knuth; small means only).
fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    let limit = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.gen::<f64>();
        if p <= limit || k > 1000 {
            return k;
        }
        k += 1;
    }
}

/// The lognormal value with the given mean and log spread at standard normal deviate `z`.
fn lognormal(mean: f64, spread: f64, z: f64) -> f64 {
    let mu = mean.ln() - spread * spread / 2.0;
    (mu + spread * z).exp()
}

/// Waits per hall and local hour of arrival, for the staffing advice. A taxpayer turned away
/// or never called counts as an endless wait.
pub fn waits_by_hour(topo: &Topology, outcome: &Outcome) -> Vec<BTreeMap<u32, Vec<Millis>>> {
    let mut v = vec![BTreeMap::new(); topo.halls.len()];
    let mut add = |hall: usize, at: Millis, wait: Millis| {
        let (_, minute) = topo.local(at);
        v[hall].entry(minute / 60).or_insert_with(Vec::new).push(wait);
    };
    for t in &outcome.tickets {
        add(t.hall, t.issued_at, t.called_at.map_or(Millis::MAX, |c| c - t.issued_at));
    }
    for &(hall, at) in &outcome.turned_away_at {
        add(hall, at, Millis::MAX);
    }
    v
}
