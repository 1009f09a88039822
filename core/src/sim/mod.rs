//! `qcall simulate`: whole business days driven through the real domain ([`State::apply`]) in
//! simulated time — no server, no sleeping, the same seed gives the same report.
//!
//! Taxpayers arrive per hall and service as a Poisson process whose rate follows the profile's
//! quarter-hour weights over the hall's issuing hours; a share take 绿色通道 tickets. Clerks sign
//! in at opening, call the next ticket by the real rule whenever they are free, serve for a
//! lognormal time, sometimes wait for a taxpayer who comes late (a recall) or never (a no-show),
//! sometimes transfer a ticket, pause, or sign out for good. Every ticket's estimate is taken at
//! issue and again ten minutes later from each estimator, and compared with when it was called.

pub mod profile;
pub mod report;
pub mod staffing;
pub mod store_run;

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
}

/// Runs the simulation.
pub fn run(topo: &Arc<Topology>, setup: &Setup) -> Outcome {
    run_with(topo, setup, None).unwrap_or_default()
}

/// Runs the simulation, mirroring every command into the real engine and store when `mirror`
/// is given (an error says where memory and the store parted).
pub fn run_with(topo: &Arc<Topology>, setup: &Setup, mut mirror: Option<&mut store_run::Mirror>) -> Result<Outcome, String> {
    let topo = prepare(topo, &setup.profile);
    let mut rng = StdRng::seed_from_u64(setup.seed);
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
        let mut sim = Day::new(&topo, setup, day, state.take(), &mut rng, mirror.as_deref_mut());
        sim.run(&mut out);
        if let Some(e) = sim.failure.take() {
            return Err(e);
        }
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

/// The topology as the profile has it (一窗式: every counter serves every service).
fn prepare(topo: &Arc<Topology>, profile: &Profile) -> Arc<Topology> {
    if !profile.one_window {
        return topo.clone();
    }
    let mut t = (**topo).clone();
    let all: Vec<usize> = (0..t.services.len()).collect();
    for c in &mut t.counters {
        c.services = all.clone();
        c.preferred.clear();
    }
    Arc::new(t)
}

struct Day<'a> {
    topo: &'a Arc<Topology>,
    setup: &'a Setup,
    date: NaiveDate,
    state: State,
    rng: &'a mut StdRng,
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
    mirror: Option<&'a mut store_run::Mirror>,
    /// Where memory and the store parted (the run stops).
    failure: Option<String>,
}

impl<'a> Day<'a> {
    fn new(
        topo: &'a Arc<Topology>,
        setup: &'a Setup,
        date: NaiveDate,
        state: Option<State>,
        rng: &'a mut StdRng,
        mirror: Option<&'a mut store_run::Mirror>,
    ) -> Day<'a> {
        let start = topo.day_start(date);
        let state = state.unwrap_or_else(|| State::new(topo.clone(), start));
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

    fn schedule_day(&mut self) {
        let p = &self.setup.profile;
        let topo = self.topo;
        for h in 0..topo.halls.len() {
            if !topo.hall_open_day(h, self.date) {
                continue;
            }
            for &(open, _) in &topo.halls[h].hours {
                self.at(topo.at(self.date, open), Ev::Open { hall: h });
            }
            // Quarters in which the hall issues tickets, and the day's weight over them.
            let issuing: Vec<usize> = (0..96)
                .filter(|&q| {
                    let m = q as u32 * 15;
                    topo.halls[h].hours.iter().any(|&(a, b)| m >= a && m + 15 <= b.saturating_sub(topo.last_ticket_minutes))
                })
                .collect();
            let weight: f64 = issuing.iter().map(|&q| p.quarters[q]).sum();
            if weight <= 0.0 {
                continue;
            }
            for &q in &issuing {
                let start = topo.at(self.date, q as u32 * 15);
                for (s, mix) in p.services.iter().enumerate() {
                    let expected = p.tickets_per_hall * mix.share * p.quarters[q] / weight;
                    if expected <= 0.0 {
                        continue;
                    }
                    // A Poisson process over the quarter: exponential gaps.
                    let rate_per_ms = expected / 900_000.0;
                    let mut t = start as f64;
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
            // Pauses and sign-outs of this hall's counters.
            let (first, last) = (
                topo.halls[h].hours.first().map_or(0, |p| p.0),
                topo.halls[h].hours.last().map_or(0, |p| p.1),
            );
            let mut mine: Vec<usize> = (0..topo.counters.len()).filter(|&c| topo.counters[c].hall == h && self.staffed[c]).collect();
            mine.sort_by_key(|&c| topo.counters[c].number);
            for &c in &mine {
                let n = poisson(self.rng, p.pauses_per_counter);
                for _ in 0..n {
                    let m = first as f64 + self.rng.gen::<f64>() * f64::from(last.saturating_sub(first));
                    self.at(topo.at(self.date, 0) + (m * 60_000.0) as Millis, Ev::PauseStart { counter: c });
                }
            }
            for &(k, minute) in &p.close {
                for &c in mine.iter().rev().take(k) {
                    self.at(topo.at(self.date, minute), Ev::Leave { counter: c });
                }
            }
        }
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
            Ev::Arrive { hall, service, priority } => {
                let priority = if priority { Priority::Priority } else { Priority::Normal };
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
                let at_issue: Vec<Millis> = ESTIMATORS.iter().map(|e| i64::from(self.state.ticket_estimate_s(*e, id, now)) * 1000).collect();
                let forward_s = (at_issue[1] / 1000) as u32;
                let range = self.state.wait_range_s(hall, forward_s).map(|(a, b)| (i64::from(a) * 1000, i64::from(b) * 1000));
                self.records.insert(id, out.tickets.len());
                out.tickets.push(TicketRecord { hall, service, issued_at: now, called_at: None, at_issue, later: None, range });
                self.at(now + LATER_MS, Ev::Later { ticket: id });
                // Idle counters of the hall look up.
                for c in 0..self.topo.counters.len() {
                    if self.topo.counters[c].hall == hall && self.idle(c) {
                        self.at(now, Ev::Free { counter: c });
                    }
                }
            }
            Ev::Later { ticket } => {
                if self.state.ticket(ticket).is_some_and(|t| t.state == TicketState::Waiting) {
                    let later = ESTIMATORS.iter().map(|e| i64::from(self.state.ticket_estimate_s(*e, ticket, now)) * 1000).collect();
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
                self.serving_since[counter] = Some(now);
                // A transferred ticket is called again: it has not come to this call yet.
                self.arrived.remove(&id);
                if let Some(&i) = self.records.get(&id) {
                    out.tickets[i].called_at.get_or_insert(now);
                }
                let roll = self.rng.gen::<f64>();
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
                let ms = lognormal(self.rng, mix.mean_s, mix.spread) * 1000.0;
                self.at(now + ms as Millis, Ev::Done { counter, ticket });
            }
            Ev::Done { counter, ticket } => {
                if self.state.counter(counter).current != Some(ticket) {
                    return;
                }
                let transfer = self.rng.gen::<f64>() < p.transfer_share;
                let hall = self.topo.counters[counter].hall;
                let current = self.state.ticket(ticket).map_or(0, |t| t.service);
                let others: Vec<usize> = (0..self.topo.services.len())
                    .filter(|&s| s != current && self.topo.counters.iter().any(|c| c.hall == hall && c.services.contains(&s)))
                    .collect();
                let done = if transfer && !others.is_empty() {
                    let to = others[self.rng.gen_range(0..others.len())];
                    self.apply(Command::Transfer { counter, service: Some(to), to_counter: None, hall: None }, now).is_ok()
                } else {
                    false
                };
                if !done {
                    let _ = self.apply(Command::Finish { counter }, now);
                }
                self.end_service(counter, now, out);
                if done {
                    for c in 0..self.topo.counters.len() {
                        if self.topo.counters[c].hall == hall && self.idle(c) {
                            self.at(now, Ev::Free { counter: c });
                        }
                    }
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

/// A lognormal value with the given mean and log spread.
fn lognormal(rng: &mut StdRng, mean: f64, spread: f64) -> f64 {
    // Box–Muller.
    let (u1, u2): (f64, f64) = (rng.gen::<f64>().max(1e-12), rng.gen());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(profile: &str, seed: u64) -> (Arc<Topology>, Setup) {
        let cfg = crate::config::Config::embedded().unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../config/profiles/{profile}.toml"));
        let profile = Profile::load(&path, &cfg.topology).unwrap();
        let first_day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        (cfg.topology.clone(), Setup { profile, days: 1, seed, first_day, counters_per_hall: None })
    }

    #[test]
    fn the_same_seed_gives_the_same_report_and_another_seed_another() {
        let (topo, s) = setup("ordinary-day", 7);
        let a = Report::new(&topo, &s, &run(&topo, &s));
        let b = Report::new(&topo, &s, &run(&topo, &s));
        assert_eq!(a, b);
        assert!(a.halls.iter().all(|h| h.tickets > 300), "{a:?}");
        let (_, s8) = setup("ordinary-day", 8);
        assert_ne!(Report::new(&topo, &s8, &run(&topo, &s8)).halls, a.halls);
    }

    #[test]
    fn staffing_never_asks_for_fewer_counters_when_the_target_gets_stricter() {
        let (topo, s) = setup("short-staffed", 3);
        let table = staffing::Table::measure(&topo, &s);
        let need = |target_min: f64| table.advice(target_min * 60_000.0);
        let (loose, mid, strict) = (need(40.0), need(20.0), need(5.0));
        let more = |a: Option<usize>, b: Option<usize>| b.unwrap_or(usize::MAX) >= a.unwrap_or(usize::MAX);
        let mut asked = 0;
        for h in 0..loose.halls.len() {
            for (hour, l) in &loose.halls[h].2 {
                let (m, st) = (mid.halls[h].2[hour], strict.halls[h].2[hour]);
                assert!(more(*l, m) && more(m, st), "hall {h} {hour}:00: {l:?} {m:?} {st:?}");
                asked += usize::from(st != *l);
            }
        }
        assert!(asked > 0, "the targets must make a difference somewhere");
    }

    #[test]
    fn a_transferred_ticket_that_nobody_answers_for_is_marked_a_no_show_and_the_counter_goes_on() {
        // Every other service ends in a transfer and every other call is never answered: a
        // transferred ticket called again must be able to be a no-show like any other.
        let cfg = crate::config::Config::embedded().unwrap();
        let text = "tickets_per_hall = 40\nintensity = { \"09:00\" = 1.0, \"11:00\" = 0.0 }\n\
                    no_show_share = 0.5\ntransfer_share = 0.5\n[services]\nfiling = { share = 1, mean_s = 60 }\n";
        let profile = Profile::parse(text, "p.toml", "p", &cfg.topology).unwrap();
        let first_day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let s = Setup { profile, days: 1, seed: 5, first_day, counters_per_hall: None };
        let out = run(&cfg.topology, &s);
        assert!(out.tickets.len() > 60, "{}", out.tickets.len());
        let uncalled = out.tickets.iter().filter(|t| t.called_at.is_none()).count();
        assert_eq!(uncalled, 0, "every ticket of a light morning is called");
        assert_eq!(out.held_at_day_end, 0, "no counter was left waiting for a taxpayer all day");
    }

    #[test]
    fn profiles_name_their_field_when_wrong() {
        let cfg = crate::config::Config::embedded().unwrap();
        let e = Profile::parse("tickets_per_hall = 10\nintensity = { \"09:07\" = 1 }\n[services]\nfiling = { share = 1, mean_s = 60 }\n", "p.toml", "p", &cfg.topology)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml: field `intensity`"), "{e}");
        let e = Profile::parse("tickets_per_hall = 10\nintensity = { \"09:00\" = 1 }\n[services]\ntaxi = { share = 1, mean_s = 60 }\n", "p.toml", "p", &cfg.topology)
            .unwrap_err()
            .to_string();
        assert!(e.contains("services.taxi") && e.contains("no such service"), "{e}");
    }
}
