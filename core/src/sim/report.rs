//! What a simulation run shows: waits per hall and service, counter utilisation, and how
//! far each estimator was from the real waits.

use serde::Serialize;

use super::{Outcome, Setup, LATER_MS};
use crate::domain::{Millis, Topology};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub profile: String,
    pub days: u32,
    pub seed: u64,
    pub halls: Vec<HallReport>,
    pub estimators: Vec<EstimatorReport>,
    /// How close any estimate could come ([`super::Setup::forks`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<Bound>,
    /// Over more than a week: each estimator's MAE at issue per week of days, to see what the
    /// estimates learn as the history grows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_week: Vec<Vec<f64>>,
}

/// How close any estimate could come. Each ticket's day is forked at its issue: the forks
/// know the profile the day is drawn from, everything so far, when each service under way will
/// end, and the pauses and sign-outs planned; the rest of the day (who comes, who answers a
/// call, how long services take) is drawn anew. An estimate at issue knows no more, so none
/// can do better on these tickets than the best choice from a ticket's own waits (the real one
/// and its forks'), made knowing them — which is what these figures are.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bound {
    pub forks: u32,
    pub tickets: usize,
    /// Each ticket told the median of its waits.
    pub median: Errors,
    /// The least mean absolute error (minutes) with at most [`UNDER_TARGET`] of the tickets
    /// told a wait more than 5 minutes shorter than it was.
    pub least_mae_min: f64,
}

/// The share of tickets an estimate may tell more than 5 minutes too little.
pub const UNDER_TARGET: f64 = 0.10;
const FIVE_MIN: Millis = 5 * 60_000;

impl Bound {
    /// `None` without forks.
    pub fn new(out: &Outcome, forks: u32) -> Option<Bound> {
        if forks == 0 {
            return None;
        }
        // Per ticket: the real wait first, then the forks' (tickets some fork never called
        // are left out).
        let waits: Vec<Vec<Millis>> = out
            .tickets
            .iter()
            .filter_map(|t| {
                let real = t.called_at? - t.issued_at;
                let forked = t.forked.as_ref().filter(|f| f.len() == forks as usize)?;
                Some(std::iter::once(real).chain(forked.iter().copied()).collect())
            })
            .collect();
        // Each ticket's choice weighing absolute error against `lambda` minutes per
        // underestimate by more than 5 minutes; the mean absolute error (min) and the share
        // told too little over all samples.
        let choose = |lambda: f64| -> (f64, f64) {
            let (mut abs, mut under, mut n) = (0.0, 0.0, 0.0);
            for w in &waits {
                let cost = |e: Millis| {
                    let a = w.iter().map(|&x| (x - e).abs() as f64 / 60_000.0).sum::<f64>();
                    let u = w.iter().filter(|&&x| x - e > FIVE_MIN).count() as f64;
                    (a + lambda * u, a, u)
                };
                let best = w.iter().flat_map(|&x| [x, x - FIVE_MIN]).map(cost).min_by(|a, b| a.0.total_cmp(&b.0)).unwrap_or((0.0, 0.0, 0.0));
                abs += best.1;
                under += best.2;
                n += w.len() as f64;
            }
            (abs / n.max(1.0), under / n.max(1.0))
        };
        // The trade-off from lambda 0 (medians) up; between two choices the target lies on the
        // line joining them (telling some tickets one and some the other).
        let mut least = f64::NAN;
        let mut prev = choose(0.0);
        if prev.1 <= UNDER_TARGET {
            least = prev.0;
        } else {
            for i in 1..=400 {
                let next = choose(f64::from(i) * 0.25);
                if next.1 <= UNDER_TARGET {
                    let t = if prev.1 > next.1 { (prev.1 - UNDER_TARGET) / (prev.1 - next.1) } else { 1.0 };
                    least = prev.0 + t * (next.0 - prev.0);
                    break;
                }
                prev = next;
            }
        }
        let pairs: Vec<(Millis, Millis)> = waits
            .iter()
            .flat_map(|w| {
                let mut s = w.clone();
                s.sort_unstable();
                let m = s[(s.len() - 1) / 2];
                w.iter().map(move |&x| (m, x)).collect::<Vec<_>>()
            })
            .collect();
        Some(Bound { forks, tickets: waits.len(), median: errors(&pairs), least_mae_min: least })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HallReport {
    pub hall: String,
    pub tickets: usize,
    pub turned_away: u32,
    /// Busy time over signed-in time of the hall's counters.
    pub utilisation: f64,
    pub services: Vec<ServiceReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceReport {
    pub service: String,
    pub tickets: usize,
    pub mean_wait_s: f64,
    pub p90_wait_s: f64,
    pub max_wait_s: f64,
}

/// Errors of one estimator, estimate minus real wait.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Errors {
    pub tickets: usize,
    pub mae_min: f64,
    pub p90_abs_min: f64,
    /// Mean of estimate − real: negative means too low.
    pub bias_min: f64,
    pub within_5_min: f64,
    /// Share of tickets told a wait more than 5 minutes shorter than it was.
    pub under_by_5_min: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EstimatorReport {
    pub estimator: String,
    pub at_issue: Errors,
    /// The estimate on the status page ten minutes after issue, against the wait left then.
    pub after_10_min: Errors,
    /// The forward estimate's ranges ("约 12–18 分钟").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
}

/// How the ranges shown at issue did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ranges {
    /// Share of tickets shown a range instead of one figure.
    pub shown: f64,
    /// Of those, the share whose real wait was inside it.
    pub inside: f64,
    /// The median range's width.
    pub median_width_min: f64,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn errors(pairs: &[(Millis, Millis)]) -> Errors {
    let diffs: Vec<f64> = pairs.iter().map(|(est, real)| (est - real) as f64 / 60_000.0).collect();
    let n = diffs.len().max(1) as f64;
    let mut abs: Vec<f64> = diffs.iter().map(|d| d.abs()).collect();
    abs.sort_by(f64::total_cmp);
    Errors {
        tickets: diffs.len(),
        mae_min: abs.iter().sum::<f64>() / n,
        p90_abs_min: pct(&abs, 0.9),
        bias_min: diffs.iter().sum::<f64>() / n,
        within_5_min: diffs.iter().filter(|d| d.abs() <= 5.0).count() as f64 / n,
        under_by_5_min: diffs.iter().filter(|d| **d < -5.0).count() as f64 / n,
    }
}

impl Report {
    pub fn new(topo: &Topology, setup: &Setup, out: &Outcome) -> Report {
        let halls = (0..topo.halls.len())
            .map(|h| {
                let counters: Vec<usize> = (0..topo.counters.len()).filter(|&c| topo.counters[c].hall == h).collect();
                let busy: Millis = counters.iter().map(|&c| out.busy_ms[c]).sum();
                let open: Millis = counters.iter().map(|&c| out.open_ms[c]).sum();
                let services = (0..topo.services.len())
                    .map(|s| {
                        let mut waits: Vec<f64> = out
                            .tickets
                            .iter()
                            .filter(|t| t.hall == h && t.service == s)
                            .filter_map(|t| t.called_at.map(|c| (c - t.issued_at) as f64 / 1000.0))
                            .collect();
                        waits.sort_by(f64::total_cmp);
                        ServiceReport {
                            service: topo.services[s].id.clone(),
                            tickets: out.tickets.iter().filter(|t| t.hall == h && t.service == s).count(),
                            mean_wait_s: waits.iter().sum::<f64>() / waits.len().max(1) as f64,
                            p90_wait_s: pct(&waits, 0.9),
                            max_wait_s: waits.last().copied().unwrap_or(0.0),
                        }
                    })
                    .collect();
                HallReport {
                    hall: topo.halls[h].id.clone(),
                    tickets: out.tickets.iter().filter(|t| t.hall == h).count(),
                    turned_away: out.turned_away[h],
                    utilisation: if open > 0 { busy as f64 / open as f64 } else { 0.0 },
                    services,
                }
            })
            .collect();
        let estimators = setup
            .estimators()
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let at_issue: Vec<(Millis, Millis)> =
                    out.tickets.iter().filter_map(|t| t.called_at.map(|c| (t.at_issue[i], c - t.issued_at))).collect();
                let later: Vec<(Millis, Millis)> = out
                    .tickets
                    .iter()
                    .filter_map(|t| Some((t.later.as_ref()?[i], t.called_at? - t.issued_at - LATER_MS)))
                    .collect();
                use crate::domain::estimate::Estimator;
                let ranges = matches!(e, Estimator::Forward | Estimator::Forked).then(|| {
                    let called: Vec<_> = out.tickets.iter().filter(|t| t.called_at.is_some()).collect();
                    let range = |t: &super::TicketRecord| if *e == Estimator::Forked { t.forked_range } else { t.range };
                    let with: Vec<_> = called.iter().filter_map(|t| Some((range(t)?, t.called_at? - t.issued_at))).collect();
                    let mut widths: Vec<f64> = with.iter().map(|((a, b), _)| (b - a) as f64 / 60_000.0).collect();
                    widths.sort_by(f64::total_cmp);
                    Ranges {
                        shown: with.len() as f64 / called.len().max(1) as f64,
                        inside: with.iter().filter(|((a, b), real)| (*a..=*b).contains(real)).count() as f64 / with.len().max(1) as f64,
                        median_width_min: pct(&widths, 0.5),
                    }
                });
                EstimatorReport { estimator: e.name().into(), at_issue: errors(&at_issue), after_10_min: errors(&later), ranges }
            })
            .collect();
        let by_week = if out.days.len() > 5 {
            out.days
                .chunks(5)
                .map(|week| {
                    let (from, to) = (topo.day_start(week[0]), topo.day_start(*week.last().expect("a chunk is not empty") + chrono::Duration::days(1)));
                    (0..setup.estimators().len())
                        .map(|i| {
                            let pairs: Vec<(Millis, Millis)> = out
                                .tickets
                                .iter()
                                .filter(|t| (from..to).contains(&t.issued_at))
                                .filter_map(|t| t.called_at.map(|c| (t.at_issue[i], c - t.issued_at)))
                                .collect();
                            errors(&pairs).mae_min
                        })
                        .collect()
                })
                .collect()
        } else {
            vec![]
        };
        Report {
            profile: setup.profile.name.clone(),
            days: setup.days,
            seed: setup.seed,
            halls,
            estimators,
            bound: Bound::new(out, setup.forks),
            by_week,
        }
    }

    /// The figures as text, one table per hall and one for the estimators.
    pub fn text(&self) -> String {
        let mut s = format!("profile {} · {} day(s) · seed {}\n", self.profile, self.days, self.seed);
        for h in &self.halls {
            s += &format!(
                "\nhall {}: {} tickets, {} turned away, counters busy {:.0} % of their time\n",
                h.hall,
                h.tickets,
                h.turned_away,
                h.utilisation * 100.0
            );
            s += "  service        tickets  mean wait  p90 wait  max wait (min)\n";
            for sv in &h.services {
                s += &format!(
                    "  {:<14} {:>7}  {:>9.1}  {:>8.1}  {:>8.1}\n",
                    sv.service,
                    sv.tickets,
                    sv.mean_wait_s / 60.0,
                    sv.p90_wait_s / 60.0,
                    sv.max_wait_s / 60.0
                );
            }
        }
        s += "\nestimates against real waits (minutes; bias < 0: too low)\n";
        s += "  estimator  when         tickets    MAE  p90 |err|   bias  within ±5  under by >5\n";
        for e in &self.estimators {
            for (when, x) in [("at issue", &e.at_issue), ("10 min later", &e.after_10_min)] {
                s += &format!(
                    "  {:<9}  {:<12} {:>7}  {:>5.2}  {:>9.2}  {:>5.2}  {:>8.1} %  {:>10.1} %\n",
                    e.estimator,
                    when,
                    x.tickets,
                    x.mae_min,
                    x.p90_abs_min,
                    x.bias_min,
                    x.within_5_min * 100.0,
                    x.under_by_5_min * 100.0
                );
            }
        }
        for e in &self.estimators {
            if let Some(r) = &e.ranges {
                s += &format!(
                    "  {} ranges: shown on {:.1} % of tickets; real wait inside {:.1} % of them; median width {:.1} min\n",
                    e.estimator,
                    r.shown * 100.0,
                    r.inside * 100.0,
                    r.median_width_min
                );
            }
        }
        if !self.by_week.is_empty() {
            s += "\nMAE at issue per week of days (minutes):\n  week";
            for e in &self.estimators {
                s += &format!(" {:>9}", e.estimator);
            }
            s += "\n";
            for (w, maes) in self.by_week.iter().enumerate() {
                s += &format!("  {:>4}", w + 1);
                for m in maes {
                    s += &format!(" {m:>9.2}");
                }
                s += "\n";
            }
        }
        if let Some(b) = &self.bound {
            s += &format!(
                "\nbound ({} tickets, each day forked {} times at its issue, the rest of it drawn anew from the\n\
                 profile): told the median of its waits, MAE {:.2}, {:.1} % told more than 5 min too little;\n\
                 with at most {:.0} % told too little, no estimate has an MAE under {:.2}\n",
                b.tickets,
                b.forks,
                b.median.mae_min,
                b.median.under_by_5_min * 100.0,
                UNDER_TARGET * 100.0,
                b.least_mae_min
            );
        }
        s
    }
}
