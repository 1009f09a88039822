//! Simulation profiles (`config/profiles/*.toml`): TOML -> raw -> validated [`Profile`].

use std::collections::BTreeMap;

use serde::Deserialize;

/// Why a profile was refused: the file, the field and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: field `{field}`: {reason}")]
    Invalid { file: String, field: String, reason: String },
}
use crate::domain::Topology;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    /// Tickets a hall issues on such a day (before `arrival_factor`).
    tickets_per_hall: f64,
    #[serde(default = "one")]
    arrival_factor: f64,
    /// Relative arrivals by local time, `"HH:MM" = weight` for the quarter hour starting there;
    /// quarters not named take the weight of the last named one before them.
    intensity: BTreeMap<String, f64>,
    services: BTreeMap<String, RawService>,
    #[serde(default)]
    priority_share: f64,
    #[serde(default)]
    no_show_share: f64,
    #[serde(default)]
    recall_share: f64,
    #[serde(default)]
    transfer_share: f64,
    /// Every counter serves every service (一窗式).
    #[serde(default)]
    one_window: bool,
    #[serde(default)]
    staff: RawStaff,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    share: f64,
    mean_s: f64,
    /// Standard deviation of the log of service times (lognormal).
    #[serde(default = "default_spread")]
    spread: f64,
}

fn default_spread() -> f64 {
    0.5
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStaff {
    /// Counters that sign out during the day: the highest-numbered `counters` of each hall.
    #[serde(default)]
    close: Vec<RawClose>,
    /// Pauses per counter and day, each `pause_minutes` long, at random times.
    #[serde(default)]
    pauses_per_counter: f64,
    #[serde(default = "default_pause")]
    pause_minutes: f64,
}

fn default_pause() -> f64 {
    10.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClose {
    counters: usize,
    at: String,
    /// Known in the morning (the counters' `hours` say so) or not.
    #[serde(default)]
    planned: bool,
}

/// A validated profile, with service names resolved against the topology.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub tickets_per_hall: f64,
    /// Arrival weight of each quarter hour of the day (96 entries), normalised over the
    /// quarters in which halls issue tickets at run time.
    pub quarters: Vec<f64>,
    /// Per service index: (share of arrivals, mean service s, log spread).
    pub services: Vec<ServiceMix>,
    pub priority_share: f64,
    pub no_show_share: f64,
    pub recall_share: f64,
    pub transfer_share: f64,
    pub one_window: bool,
    /// (counters per hall, minute of the day) sign-outs.
    /// (counters per hall, minute of the day, planned) sign-outs: a planned one is in the
    /// counters' `hours`.
    pub close: Vec<(usize, u32, bool)>,
    pub pauses_per_counter: f64,
    pub pause_minutes: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceMix {
    pub share: f64,
    pub mean_s: f64,
    pub spread: f64,
}

impl Profile {
    pub fn parse(text: &str, file: &str, name: &str, topo: &Topology) -> Result<Profile, ProfileError> {
        let bad = |field: &str, reason: String| ProfileError::Invalid { file: file.to_string(), field: field.to_string(), reason };
        let raw: RawProfile = toml::from_str(text).map_err(|e| ProfileError::Parse { file: file.to_string(), message: e.to_string() })?;
        // Written as a negation so that NaN is refused too.
        if !(raw.tickets_per_hall > 0.0 && raw.tickets_per_hall <= 100_000.0) {
            return Err(bad("tickets_per_hall", format!("{} is not between 0 and 100000", raw.tickets_per_hall)));
        }
        if !(raw.arrival_factor > 0.0 && raw.arrival_factor <= 20.0) {
            return Err(bad("arrival_factor", format!("{} is not between 0 and 20", raw.arrival_factor)));
        }
        let share = |field: &str, v: f64| if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(bad(field, format!("{v} is not a share between 0 and 1"))) };
        let mut marks: Vec<(u32, f64)> = vec![];
        for (k, w) in &raw.intensity {
            let m = parse_hhmm(k).ok_or_else(|| bad("intensity", format!("{k:?} is not a time HH:MM")))?;
            // `is_nan` too: NaN is not a weight.
            if m % 15 != 0 || w.is_nan() || *w < 0.0 {
                return Err(bad("intensity", format!("{k:?} = {w}: times are quarter hours, weights not negative")));
            }
            marks.push((m / 15, *w));
        }
        marks.sort_by_key(|(q, _)| *q);
        let mut quarters = vec![0.0; 96];
        for (i, q) in quarters.iter_mut().enumerate() {
            *q = marks.iter().take_while(|(m, _)| *m as usize <= i).last().map_or(0.0, |(_, w)| *w);
        }
        if quarters.iter().all(|w| *w == 0.0) {
            return Err(bad("intensity", "every quarter has weight 0: nobody would come".into()));
        }
        let mut services = vec![ServiceMix { share: 0.0, mean_s: 1.0, spread: 0.0 }; topo.services.len()];
        for (id, s) in &raw.services {
            let ix = topo.service_ix(id).ok_or_else(|| bad(&format!("services.{id}"), "no such service in the config".into()))?;
            let valid = (10.0..=36_000.0).contains(&s.mean_s) && (0.0..=2.0).contains(&s.spread) && s.share.is_finite() && s.share >= 0.0;
            if !valid {
                return Err(bad(&format!("services.{id}"), "share ≥ 0, mean_s 10–36000 and spread 0–2".into()));
            }
            services[ix] = ServiceMix { share: s.share, mean_s: s.mean_s, spread: s.spread };
        }
        let total: f64 = services.iter().map(|s| s.share).sum();
        if total <= 0.0 {
            return Err(bad("services", "no service has a share above 0".into()));
        }
        for s in &mut services {
            s.share /= total;
        }
        let mut close = vec![];
        for (i, c) in raw.staff.close.iter().enumerate() {
            let m = parse_hhmm(&c.at).ok_or_else(|| bad(&format!("staff.close[{i}].at"), format!("{:?} is not a time HH:MM", c.at)))?;
            close.push((c.counters, m, c.planned));
        }
        Ok(Profile {
            name: name.to_string(),
            tickets_per_hall: raw.tickets_per_hall * raw.arrival_factor,
            quarters,
            services,
            priority_share: share("priority_share", raw.priority_share)?,
            no_show_share: share("no_show_share", raw.no_show_share)?,
            recall_share: share("recall_share", raw.recall_share)?,
            transfer_share: share("transfer_share", raw.transfer_share)?,
            one_window: raw.one_window,
            close,
            pauses_per_counter: raw.staff.pauses_per_counter.max(0.0),
            pause_minutes: raw.staff.pause_minutes.clamp(1.0, 240.0),
        })
    }
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}
