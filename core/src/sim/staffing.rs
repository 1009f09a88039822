//! Staffing advice (`qcall simulate --staff`): per hall and hour, the fewest counters open
//! that keep the p90 wait of the tickets taken in that hour under a target, on the profile.
//!
//! Each hall is simulated with its first k counters (by number) open, for every k; the advice
//! for an hour is the smallest k that meets the target then. With it goes the duty leader's
//! what-if from the day with one counter fewer: forked at the hour, what a new ticket would
//! wait, and with the next counter opened then (`State::forecast`). A stricter target can only ask for
//! as many counters or more: every k meeting it meets the looser one too.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{run, waits_by_hour, Setup};
use crate::domain::{Millis, Topology};

#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    pub target_ms: f64,
    /// Per hall: its id, its counters, and per local hour the counters needed (`None`: even
    /// all of them do not meet the target).
    pub halls: Vec<(String, usize, BTreeMap<u32, Option<usize>>)>,
    /// Per hall and hour needing k ≥ 2 counters: with one fewer open, what a new ticket at half
    /// past would wait, and with the k-th opened then — the duty leader's what-if, forked from
    /// that day (ms).
    pub what_if: Vec<BTreeMap<u32, (Millis, Millis)>>,
}

fn p90(waits: &mut [Millis]) -> f64 {
    if waits.is_empty() {
        return 0.0;
    }
    waits.sort_unstable();
    let i = ((waits.len() as f64 * 0.9).ceil() as usize).clamp(1, waits.len()) - 1;
    waits[i] as f64
}

/// The p90 wait per hall and hour with the first k counters of each hall open, for every k.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    halls: Vec<(String, usize)>,
    /// by_k[k - 1][hall][hour] = p90 wait in ms.
    by_k: Vec<Vec<BTreeMap<u32, f64>>>,
    /// what_if[k - 1][hall][hour] = (before, after) of opening one more counter at the hour.
    what_if: Vec<Vec<BTreeMap<u32, (Millis, Millis)>>>,
}

impl Table {
    pub fn measure(topo: &Arc<Topology>, setup: &Setup) -> Table {
        let halls: Vec<(String, usize)> =
            topo.halls.iter().enumerate().map(|(h, d)| (d.id.clone(), topo.counters.iter().filter(|c| c.hall == h).count())).collect();
        let most = halls.iter().map(|h| h.1).max().unwrap_or(0);
        let (by_k, what_if) = (1..=most)
            .map(|k| {
                let out = run(topo, &Setup { counters_per_hall: Some(k), what_ifs: true, ..setup.clone() });
                let mut what_if = vec![BTreeMap::new(); halls.len()];
                for (h, hour, w) in &out.what_ifs {
                    what_if[*h].insert(*hour, (w.before_ms, w.after_ms));
                }
                let p90s = waits_by_hour(topo, &out).into_iter().map(|m| m.into_iter().map(|(h, mut w)| (h, p90(&mut w))).collect()).collect();
                (p90s, what_if)
            })
            .unzip();
        Table { halls, by_k, what_if }
    }

    /// The fewest counters per hall and hour that keep the p90 wait within `target_ms`.
    pub fn advice(&self, target_ms: f64) -> Advice {
        let halls = self
            .halls
            .iter()
            .enumerate()
            .map(|(h, (id, counters))| {
                let hours: BTreeMap<u32, Option<usize>> = self
                    .by_k
                    .iter()
                    .flat_map(|k| k[h].keys().copied())
                    .collect::<std::collections::BTreeSet<u32>>()
                    .into_iter()
                    .map(|hour| {
                        let need = (1..=*counters).find(|&k| self.by_k[k - 1][h].get(&hour).is_none_or(|p| *p <= target_ms));
                        (hour, need)
                    })
                    .collect();
                (id.clone(), *counters, hours)
            })
            .collect::<Vec<_>>();
        let what_if = halls
            .iter()
            .enumerate()
            .map(|(h, (_, _, hours))| {
                hours
                    .iter()
                    .filter_map(|(hour, need)| {
                        let k = need.filter(|&k| k >= 2)?;
                        Some((*hour, *self.what_if[k - 2][h].get(hour)?))
                    })
                    .collect()
            })
            .collect();
        Advice { target_ms, halls, what_if }
    }
}

pub fn advice(topo: &Arc<Topology>, setup: &Setup, target_ms: f64) -> Advice {
    Table::measure(topo, setup).advice(target_ms)
}

impl Advice {
    pub fn text(&self) -> String {
        let mut s = format!("counters to open for a p90 wait under {:.0} min (建议开窗数)\n", self.target_ms / 60_000.0);
        for (h, (hall, counters, hours)) in self.halls.iter().enumerate() {
            s += &format!("\nhall {hall} ({counters} counters)\n");
            for (hour, need) in hours {
                s += &format!(
                    "  {hour:02}:00  {}",
                    need.map_or_else(|| format!("more than {counters}: the target cannot be met"), |k| k.to_string())
                );
                if let (Some(k), Some((before, after))) = (need, self.what_if[h].get(hour)) {
                    let m = |ms: &Millis| (ms + 59_999) / 60_000;
                    s += &format!("   (with {} open, a new ticket at :30 waits {} min; {} min if one more opens then)", k - 1, m(before), m(after));
                }
                s += "\n";
            }
        }
        s
    }
}
