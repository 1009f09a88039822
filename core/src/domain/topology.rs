//! The halls, services and counters as configured: what the state sequences over.

use chrono::{NaiveDate, TimeZone};

use super::{estimate, Calendar, Millis, Rules, DEFAULT_PAUSE_REASONS, DEFAULT_RATING_REASONS};

#[derive(Debug, Clone, PartialEq)]
pub struct HallDef {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub publicity: Vec<String>,
    pub address: String,
    /// Opening periods on working days, minutes after local midnight; empty: always open.
    pub hours: Vec<(u32, u32)>,
    /// What the hall offers taxpayers' phones.
    pub phone: PhoneRules,
}

/// What a hall offers taxpayers' phones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhoneRules {
    /// Texts before the turn and when called.
    pub texts: bool,
    /// Remote tickets (线上取号) a business day; 0: none.
    pub remote_quota: u32,
    /// How long a remote ticket whose turn came before its check-in is held (minutes).
    pub hold_minutes: u32,
    /// Finished tickets may be rated on the ticket page.
    pub ratings: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDef {
    pub id: String,
    pub prefix: char,
    pub name_zh: String,
    pub name_en: String,
    /// Mean service time assumed until today's observations are available.
    pub default_service_s: u32,
    /// Tickets per hall and business day, if capped.
    pub daily_cap: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CounterDef {
    pub id: String,
    pub hall: usize,
    pub number: u32,
    pub services: Vec<usize>,
    pub preferred: Vec<usize>,
    /// When the counter is planned to be staffed (minutes of the local day, in order); empty:
    /// whenever its hall is open. Estimates expect it to call only then.
    pub hours: Vec<(u32, u32)>,
}

/// Halls, services and counters: fixed for the life of the process.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub halls: Vec<HallDef>,
    pub services: Vec<ServiceDef>,
    pub counters: Vec<CounterDef>,
    /// Business day starts this many minutes after local midnight.
    pub day_start_min: u32,
    pub tz: chrono_tz::Tz,
    pub calendar: Calendar,
    /// Issuing stops this many minutes before an opening period closes.
    pub last_ticket_minutes: u32,
    pub appointments: Rules,
    pub estimates: estimate::EstimateRules,
    /// Why a counter may pause (午休, 业务学习, …); a pause names one of them.
    pub pause_reasons: Vec<String>,
    /// What a taxpayer may say was wrong after a 差评 (等候时间长, 服务态度, …).
    pub rating_reasons: Vec<String>,
    /// Working days to close a 差评 case.
    pub case_days: u32,
    /// Halls another server runs: at the core, the halls with a hall edge; at a hall edge,
    /// every hall but its own ([`super::State::set_elsewhere`]).
    pub elsewhere: std::collections::BTreeSet<usize>,
    /// This server is the core: it makes every hall's bookings and publicity.
    pub central: bool,
}

impl Topology {
    pub fn new(
        halls: Vec<HallDef>,
        services: Vec<ServiceDef>,
        counters: Vec<CounterDef>,
        day_start_min: u32,
        tz: chrono_tz::Tz,
    ) -> Topology {
        Topology {
            halls,
            services,
            counters,
            day_start_min,
            tz,
            calendar: Calendar::default(),
            last_ticket_minutes: 30,
            appointments: Rules::default(),
            estimates: estimate::EstimateRules::default(),
            pause_reasons: DEFAULT_PAUSE_REASONS.iter().map(|r| r.to_string()).collect(),
            rating_reasons: DEFAULT_RATING_REASONS.iter().map(|r| r.to_string()).collect(),
            case_days: 5,
            elsewhere: Default::default(),
            central: true,
        }
    }

    pub fn hall_ix(&self, id: &str) -> Option<usize> {
        self.halls.iter().position(|h| h.id == id)
    }
    pub fn service_ix(&self, id: &str) -> Option<usize> {
        self.services.iter().position(|s| s.id == id)
    }
    pub fn counter_ix(&self, id: &str) -> Option<usize> {
        self.counters.iter().position(|c| c.id == id)
    }

    /// The business day `now` falls in.
    pub fn business_day(&self, now: Millis) -> NaiveDate {
        let utc = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        let local = self.tz.from_utc_datetime(&utc.naive_utc()).naive_local();
        (local - chrono::Duration::minutes(i64::from(self.day_start_min))).date()
    }

    /// When business day `day` begins (ms since the epoch, UTC).
    pub fn day_start(&self, day: NaiveDate) -> Millis {
        let local = day.and_hms_opt(0, 0, 0).unwrap_or_default() + chrono::Duration::minutes(i64::from(self.day_start_min));
        // A start inside a DST gap or overlap takes the earliest valid instant.
        match self.tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
            chrono::LocalResult::None => self.tz.from_utc_datetime(&local).timestamp_millis(),
        }
    }

    pub fn number(&self, service: usize, seq: u32) -> String {
        format!("{}{:03}", self.services[service].prefix, seq)
    }

    /// Parse a ticket number such as `A012` into (service, seq).
    pub fn parse_number(&self, number: &str) -> Option<(usize, u32)> {
        let mut chars = number.chars();
        let prefix = chars.next()?.to_ascii_uppercase();
        let digits = chars.as_str();
        if digits.len() < 3 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let service = self.services.iter().position(|s| s.prefix == prefix)?;
        Some((service, digits.parse().ok()?))
    }
}
