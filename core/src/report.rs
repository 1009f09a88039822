//! The duty leader's period report (`GET /api/v1/reports/summary`): tables per hall, service,
//! counter and clerk, tickets per day, the distribution of waits, and a day's hours beside the
//! same weekday of the 4 weeks before. [`summarise`] is pure over the rows the server reads from its store.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Timelike};

use crate::domain::Topology;
use qcall_wire as wire;

/// One stored ticket, as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub day: NaiveDate,
    pub hall: String,
    pub service: String,
    pub counter: Option<String>,
    pub clerk: Option<String>,
    pub issued_at: i64,
    pub called_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub state: String,
    pub rating: Option<u8>,
}

/// A pause: (hall, counter, clerk, seconds within the period).
pub type Pause = (String, String, Option<String>, u64);

#[derive(Default)]
struct Acc {
    issued: u32,
    served: u32,
    no_shows: u32,
    unfinished: u32,
    waits: Vec<i64>,
    service_ms: Vec<i64>,
    pause_s: Option<u64>,
    ratings: [u32; 5],
}

impl Acc {
    fn add(&mut self, r: &Row) {
        self.issued += 1;
        match r.state.as_str() {
            "finished" => self.served += 1,
            "no_show" => self.no_shows += 1,
            "unfinished" => self.unfinished += 1,
            _ => {}
        }
        if let Some(c) = r.called_at {
            self.waits.push((c - r.issued_at).max(0));
            if let (Some(f), "finished") = (r.finished_at, r.state.as_str()) {
                self.service_ms.push((f - c).max(0));
            }
        }
        if let Some(score @ 1..=5) = r.rating {
            self.ratings[usize::from(score) - 1] += 1;
        }
    }

    fn row(mut self, key: String, name: String) -> wire::ReportRow {
        let mean = |v: &[i64]| (!v.is_empty()).then(|| (v.iter().sum::<i64>() / v.len() as i64 / 1000) as u32);
        self.waits.sort_unstable();
        let p90 = (!self.waits.is_empty()).then(|| (self.waits[(self.waits.len() * 9).div_ceil(10) - 1] / 1000) as u32);
        wire::ReportRow {
            key,
            name,
            issued: self.issued,
            served: self.served,
            no_shows: self.no_shows,
            unfinished: self.unfinished,
            mean_wait_s: mean(&self.waits),
            p90_wait_s: p90,
            mean_service_s: mean(&self.service_ms),
            pause_s: self.pause_s,
            ratings: (1..=5).map(|n| (n.to_string(), self.ratings[n - 1])).collect(),
            bad: self.ratings[0] + self.ratings[1],
        }
    }
}

/// Names for the table rows: hall, service, counter, clerk id -> name.
pub struct Names<'a> {
    pub topo: &'a Topology,
    pub clerk: &'a dyn Fn(&str) -> Option<String>,
}

/// The report of `rows` (the period `from..=to`) and the 4 weeks of the same weekday before
/// `to` in `history`.
/// `hall`: the hall reported on (`None`: every hall), whose opening hours and working days the
/// charts show.
pub fn summarise(
    rows: &[Row],
    pauses: &[Pause],
    history: &[Row],
    from: NaiveDate,
    to: NaiveDate,
    names: &Names<'_>,
    hall: Option<usize>,
) -> wire::ReportSummary {
    let topo = names.topo;
    let mut totals = Acc::default();
    let mut halls: BTreeMap<String, Acc> = BTreeMap::new();
    let mut services: BTreeMap<String, Acc> = BTreeMap::new();
    let mut counters: BTreeMap<String, Acc> = BTreeMap::new();
    let mut clerks: BTreeMap<String, Acc> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, (u32, u32)> = BTreeMap::new();
    let mut waits = [0u32; 13];
    for r in rows {
        totals.add(r);
        halls.entry(r.hall.clone()).or_default().add(r);
        services.entry(r.service.clone()).or_default().add(r);
        if r.called_at.is_some() {
            if let Some(c) = &r.counter {
                counters.entry(c.clone()).or_default().add(r);
            }
            clerks.entry(r.clerk.clone().unwrap_or_else(|| "-".into())).or_default().add(r);
            let minutes = ((r.called_at.unwrap_or(r.issued_at) - r.issued_at).max(0) / 60_000) as usize;
            waits[(minutes / 5).min(12)] += 1;
        }
        let d = days.entry(r.day).or_default();
        d.0 += 1;
        if r.state == "finished" {
            d.1 += 1;
        }
    }
    for (hall, counter, clerk, s) in pauses {
        *totals.pause_s.get_or_insert(0) += s;
        *halls.entry(hall.clone()).or_default().pause_s.get_or_insert(0) += s;
        *counters.entry(counter.clone()).or_default().pause_s.get_or_insert(0) += s;
        *clerks.entry(clerk.clone().unwrap_or_else(|| "-".into())).or_default().pause_s.get_or_insert(0) += s;
    }
    let hall_name = |id: &str| topo.hall_ix(id).map(|h| topo.halls[h].name_zh.clone()).unwrap_or_default();
    let service_name = |id: &str| topo.service_ix(id).map(|s| topo.services[s].name_zh.clone()).unwrap_or_default();
    let counter_name = |id: &str| {
        topo.counter_ix(id).map(|c| format!("{} {}号", hall_name(&topo.halls[topo.counters[c].hall].id), topo.counters[c].number)).unwrap_or_default()
    };
    let by = |m: BTreeMap<String, Acc>, name: &dyn Fn(&str) -> String| -> Vec<wire::ReportRow> {
        m.into_iter().map(|(k, a)| { let n = name(&k); a.row(k, n) }).collect()
    };
    // The halls reported on, and whether any keeps hours (else every day and hour is open).
    let reported: Vec<usize> = match hall {
        Some(h) => vec![h],
        None => (0..topo.halls.len()).collect(),
    };
    let keeps_hours = reported.iter().any(|&h| !topo.halls[h].hours.is_empty());
    // Every working day of the period, also those without tickets; other days only with some.
    let mut per_day = vec![];
    let mut d = from;
    while d <= to {
        let (issued, served) = days.get(&d).copied().unwrap_or_default();
        if !keeps_hours || issued > 0 || reported.iter().any(|&h| topo.hall_open_day(h, d)) {
            per_day.push(wire::DayPoint { day: d.to_string(), issued, served });
        }
        d = d.succ_opt().unwrap_or(to + chrono::Duration::days(1));
    }
    // Hours of the day any reported hall is open in (an hour counts when a period overlaps it).
    let open_hours: Vec<u8> = (0..24u32)
        .filter(|&h| {
            !keeps_hours || reported.iter().flat_map(|&r| &topo.halls[r].hours).any(|&(a, b)| a < (h + 1) * 60 && b > h * 60)
        })
        .map(|h| h as u8)
        .collect();
    let hour_of = |t: i64| chrono::DateTime::from_timestamp_millis(t).map(|t| t.with_timezone(&topo.tz).hour() as usize).unwrap_or(0);
    let hours = |rs: &mut dyn Iterator<Item = &Row>| {
        let mut h = vec![(0u32, 0i64, 0u32); 24];
        for r in rs {
            let e = &mut h[hour_of(r.issued_at)];
            e.0 += 1;
            if let Some(c) = r.called_at {
                e.1 += (c - r.issued_at).max(0);
                e.2 += 1;
            }
        }
        h
    };
    let day_hours = hours(&mut rows.iter().filter(|r| r.day == to))
        .into_iter()
        .enumerate()
        .map(|(i, (n, sum, k))| wire::HourPoint { hour: i as u8, issued: n, served: 0, no_shows: 0, mean_wait_s: (k > 0).then(|| (sum / i64::from(k) / 1000) as u32) })
        .collect();
    let weekday_hours = hours(&mut history.iter())
        .into_iter()
        .enumerate()
        .map(|(i, (n, sum, k))| wire::HourMean { hour: i as u8, issued: f64::from(n) / 4.0, mean_wait_s: (k > 0).then(|| (sum / i64::from(k) / 1000) as u32) })
        .collect();
    wire::ReportSummary {
        from: from.to_string(),
        to: to.to_string(),
        hall: None,
        by_hall: by(halls, &|k| hall_name(k)),
        by_service: by(services, &|k| service_name(k)),
        by_counter: by(counters, &|k| counter_name(k)),
        by_clerk: by(clerks, &|k| if k == "-" { "（已隐去 · forgotten）".into() } else { (names.clerk)(k).unwrap_or_default() }),
        per_day,
        totals: totals.row("all".into(), "合计 · all".into()),
        open_hours,
        waits: waits
            .iter()
            .enumerate()
            .map(|(i, &n)| wire::WaitBucket { from_min: i as u32 * 5, to_min: (i < 12).then_some(i as u32 * 5 + 5), tickets: n })
            .collect(),
        day_hours,
        weekday_hours,
    }
}

/// The CSV of one table of the report: for the people who read it, minutes (one decimal)
/// rather than seconds, under Chinese headers ([`TABLE_HEADER`]).
pub fn table_csv(rows: &[wire::ReportRow]) -> Vec<Vec<String>> {
    let min = |v: Option<u64>| v.map(|s| format!("{:.1}", s as f64 / 60.0)).unwrap_or_default();
    rows.iter()
        .map(|r| {
            let mut v = vec![
                r.key.clone(),
                r.name.clone(),
                r.issued.to_string(),
                r.served.to_string(),
                r.no_shows.to_string(),
                r.unfinished.to_string(),
                min(r.mean_wait_s.map(u64::from)),
                min(r.p90_wait_s.map(u64::from)),
                min(r.mean_service_s.map(u64::from)),
                min(r.pause_s),
            ];
            v.extend((1..=5).rev().map(|n| r.ratings.get(&n.to_string()).copied().unwrap_or(0).to_string()));
            v.push(r.bad.to_string());
            v
        })
        .collect()
}

pub const TABLE_HEADER: [&str; 16] = [
    "编号",
    "名称",
    "取号",
    "办结",
    "过号",
    "未办结",
    "平均等候(分钟)",
    "P90等候(分钟)",
    "平均办理(分钟)",
    "暂停(分钟)",
    "非常满意",
    "满意",
    "基本满意",
    "不满意",
    "非常不满意",
    "差评",
];
