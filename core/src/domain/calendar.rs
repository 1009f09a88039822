//! Working days, opening hours and local times. Pure: dates and times in, answers out.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, TimeZone, Weekday};

use super::{Millis, Topology};

/// Which days a hall opens: Monday to Friday, except `holidays`, plus `workdays` (调休
/// Saturdays and Sundays worked instead).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    pub holidays: BTreeSet<NaiveDate>,
    pub workdays: BTreeSet<NaiveDate>,
    /// The years whose holidays and workdays are entered in full (the State Council's notice
    /// for each). Past them the halls would open on Spring Festival: a fault to report.
    pub years: BTreeSet<i32>,
}

impl Calendar {
    /// The year whose holidays are missing and matter on `today`: this year, or from
    /// 1 December the next one (the notice comes out in November).
    pub fn missing_year(&self, today: NaiveDate) -> Option<i32> {
        let year = today.year();
        if !self.years.contains(&year) {
            return Some(year);
        }
        (today.month() == 12 && !self.years.contains(&(year + 1))).then_some(year + 1)
    }

    pub fn is_open_day(&self, d: NaiveDate) -> bool {
        if self.workdays.contains(&d) {
            return true;
        }
        if self.holidays.contains(&d) {
            return false;
        }
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The `n`th working day after `day` (a 差评 case's deadline: `case_days` working days).
    pub fn working_days_after(&self, day: NaiveDate, n: u32) -> NaiveDate {
        let mut d = day;
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().unwrap_or(d);
            if self.is_open_day(d) {
                left -= 1;
            }
        }
        d
    }
}

/// Whether a hall issues tickets at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Tickets can be taken; the current opening period ends at `closes_at` (`None`: the hall
    /// has no hours: always open).
    Open { closes_at: Option<Millis> },
    /// No tickets until `next_open` (`None`: no opening within the next year).
    Closed { next_open: Option<Millis> },
}

impl Topology {
    /// Local date and minute of the day of `t`.
    pub fn local(&self, t: Millis) -> (NaiveDate, u32) {
        let utc = chrono::DateTime::from_timestamp_millis(t).unwrap_or_default();
        let local = self.tz.from_utc_datetime(&utc.naive_utc()).naive_local();
        let minute = chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local);
        (local.date(), minute)
    }

    /// The instant of local `date` at `minute` after midnight.
    pub fn at(&self, date: NaiveDate, minute: u32) -> Millis {
        let local = date.and_hms_opt(0, 0, 0).unwrap_or_default() + chrono::Duration::minutes(i64::from(minute));
        match self.tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
            chrono::LocalResult::None => self.tz.from_utc_datetime(&local).timestamp_millis(),
        }
    }

    /// The year whose holiday calendar is missing on `today`, when some hall keeps hours (the
    /// calendar decides nothing for halls that are always open).
    pub fn calendar_missing(&self, today: NaiveDate) -> Option<i32> {
        if self.halls.iter().all(|h| h.hours.is_empty()) {
            return None;
        }
        self.calendar.missing_year(today)
    }

    /// Is `hall` within its opening hours at `t` (staff at work; a hall without hours always is)?
    /// Unlike [`Topology::opening`], the last minutes before closing, when no tickets are
    /// issued, count as open.
    pub fn within_hours(&self, hall: usize, t: Millis) -> bool {
        let hours = &self.halls[hall].hours;
        if hours.is_empty() {
            return true;
        }
        let (date, minute) = self.local(t);
        self.calendar.is_open_day(date) && hours.iter().any(|&(a, b)| minute >= a && minute < b)
    }

    /// Is the hall's day `date` a working day with hours?
    pub fn hall_open_day(&self, hall: usize, date: NaiveDate) -> bool {
        !self.halls[hall].hours.is_empty() && self.calendar.is_open_day(date)
    }

    /// The first opening of `hall` at or after `t` (a period start), within a year.
    pub fn next_opening(&self, hall: usize, t: Millis) -> Option<Millis> {
        let hours = &self.halls[hall].hours;
        let (date, minute) = self.local(t);
        for i in 0..366 {
            let d = date + chrono::Duration::days(i);
            if !self.calendar.is_open_day(d) {
                continue;
            }
            for &(a, _) in hours {
                if i > 0 || a >= minute {
                    return Some(self.at(d, a));
                }
            }
        }
        None
    }

    /// Whether `hall` issues tickets at `t`: inside an opening period, and not within its last
    /// `last_ticket_minutes`.
    pub fn opening(&self, hall: usize, t: Millis) -> Opening {
        let hours = &self.halls[hall].hours;
        if hours.is_empty() {
            return Opening::Open { closes_at: None };
        }
        let (date, minute) = self.local(t);
        if self.calendar.is_open_day(date) {
            for &(a, b) in hours {
                if minute >= a && minute + self.last_ticket_minutes < b {
                    return Opening::Open { closes_at: Some(self.at(date, b)) };
                }
            }
        }
        Opening::Closed { next_open: self.next_opening(hall, t + 60_000) }
    }

    /// The first moment from `t` on, the same day, that counter `c` is planned to be staffed
    /// (its `hours`; `t` itself without them); `None` when its last period today has ended.
    pub fn counter_from(&self, c: usize, t: Millis) -> Option<Millis> {
        let hours = &self.counters[c].hours;
        if hours.is_empty() {
            return Some(t);
        }
        let (date, minute) = self.local(t);
        hours.iter().find(|&&(_, b)| minute < b).map(|&(a, _)| t.max(self.at(date, a)))
    }
}

/// Parses `HH:MM-HH:MM` into minutes of the day.
pub fn parse_period(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let m = |x: &str| -> Option<u32> {
        let (h, m) = x.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (a, b) = (m(a)?, m(b)?);
    (a < b).then_some((a, b))
}

pub fn format_minute(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}
