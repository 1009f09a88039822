//! The display's logic: state after a series of inputs, with no window and no IO.
//!
//! Inputs are the link's ups and downs and the messages of the hall's event stream; the output
//! is the state (turned into a [`ViewModel`] for the screen) plus [`Effect`]s, i.e. calls to
//! announce. Time is passed in.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use qcall_wire::{CallInfo, EventKind, HallInfo, QueueInfo, StreamMessage};

use crate::announce::{en_line, zh_line};

/// What the controller is fed, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The WebSocket to the server is open.
    Connected,
    /// The link dropped (or a connection attempt failed).
    Disconnected { reason: String },
    /// One message of the hall's event stream.
    Message(Box<StreamMessage>),
}

/// What the controller asks the outside to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Announce { ticket: String, counter_number: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Never connected yet.
    Connecting,
    Online,
    /// Was online, lost the link; the last state stays on screen.
    Offline,
}

/// A call as shown: the latest call and the rows of the recent list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub ticket_id: u64,
    pub ticket: String,
    pub counter: String,
    pub counter_number: u32,
    pub call_count: u32,
    pub at: DateTime<Utc>,
    pub appointment: bool,
    /// 绿色通道: tagged so that it does not look like 插队.
    pub priority: bool,
}

impl From<&CallInfo> for Call {
    fn from(c: &CallInfo) -> Self {
        Call {
            ticket_id: c.ticket_id,
            ticket: c.number.clone(),
            counter: c.counter.clone(),
            counter_number: c.counter_number,
            call_count: c.call_count,
            at: c.at,
            appointment: c.appointment,
            priority: c.priority,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRow {
    pub id: String,
    pub prefix: String,
    pub name_zh: String,
    pub name_en: String,
    pub waiting: u32,
    /// What a new ticket would wait ([`wait_text`]).
    pub wait: String,
}

/// What the screen says of a new ticket's wait: "约15–25分钟" (the estimate's range), "约8分钟",
/// "少于5分钟", "暂无窗口办理" when no counter serving it is open, nothing when tickets cannot be
/// taken now.
pub fn wait_text(est_wait_s: u32, range: Option<[u32; 2]>, unstaffed: bool, closed: bool) -> String {
    if closed {
        String::new()
    } else if unstaffed {
        "暂无窗口办理".into()
    } else {
        match qcall_wire::WaitMinutes::of(est_wait_s, range) {
            qcall_wire::WaitMinutes::Short => "少于5分钟".into(),
            qcall_wire::WaitMinutes::About(m) => format!("约{m}分钟"),
            qcall_wire::WaitMinutes::Between(a, b) => format!("约{a}–{b}分钟"),
        }
    }
}

/// Settings the controller needs (from the display config).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub hall: String,
    pub recent_rows: usize,
    pub highlight: Duration,
    pub stale_after: Duration,
    /// Publicity lines from config, shown until the server sends non-empty ones.
    pub publicity: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub link: Link,
    /// A snapshot of the hall has arrived at least once.
    pub synced: bool,
    pub hall_name_zh: String,
    pub hall_name_en: String,
    pub day: String,
    pub services: Vec<ServiceRow>,
    /// One row per counter, newest first, at most `recent_rows`.
    pub recent: Vec<Call>,
    pub latest: Option<Call>,
    pub highlight_until: Option<DateTime<Utc>>,
    /// Lines on the ticker now.
    pub publicity: Vec<String>,
    /// The `seq` of the last stream message applied.
    pub last_seq: Option<u64>,
    /// The server's business time zone (from the hall state); the clock shows local time in it.
    pub time_zone: chrono_tz::Tz,
}

/// The clock's time zone until the server's hall state says otherwise.
pub const DEFAULT_TIME_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

pub struct Controller {
    settings: Settings,
    state: State,
    /// (ticket id, call count) of every call seen, so a fresh snapshot can tell new calls.
    known_calls: HashSet<(u64, u32)>,
    /// The server's clock minus this machine's, from the last snapshot: the screen shows the
    /// server's time and judges calls by it, whatever this machine's clock says.
    offset: chrono::Duration,
}

/// Clock differences below this are network delay, not a wrong clock.
const CLOCK_SLACK_MS: i64 = 2000;

impl Controller {
    pub fn new(settings: Settings) -> Controller {
        let state = State {
            link: Link::Connecting,
            synced: false,
            hall_name_zh: String::new(),
            hall_name_en: String::new(),
            day: String::new(),
            services: Vec::new(),
            recent: Vec::new(),
            latest: None,
            highlight_until: None,
            publicity: settings.publicity.clone(),
            last_seq: None,
            time_zone: DEFAULT_TIME_ZONE,
        };
        Controller { settings, state, known_calls: HashSet::new(), offset: chrono::Duration::zero() }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Applies one input received at `now`; returns the announcements to make, in order.
    pub fn handle(&mut self, input: Input, now: DateTime<Utc>) -> Vec<Effect> {
        if let Input::Message(m) = &input {
            if matches!(m.kind, EventKind::Snapshot { .. }) {
                let d = m.at - now;
                self.offset = if d.num_milliseconds().abs() > CLOCK_SLACK_MS { d } else { chrono::Duration::zero() };
            }
        }
        let now = now + self.offset;
        match input {
            Input::Connected => {
                self.state.link = Link::Online;
                Vec::new()
            }
            Input::Disconnected { .. } => {
                if self.state.link == Link::Online {
                    self.state.link = Link::Offline;
                }
                Vec::new()
            }
            Input::Message(m) => self.message(*m, now),
        }
    }

    fn message(&mut self, m: StreamMessage, now: DateTime<Utc>) -> Vec<Effect> {
        if let EventKind::Snapshot { halls } = &m.kind {
            let Some(hall) = halls.iter().find(|h| h.id == self.settings.hall) else {
                return Vec::new();
            };
            let effects = self.snapshot(hall, now);
            self.state.last_seq = Some(m.seq);
            return effects;
        }
        if self.state.last_seq.is_some_and(|s| m.seq <= s) {
            // Already applied (a replay overlapping what was seen).
            return Vec::new();
        }
        if m.hall.as_deref().is_some_and(|h| h != self.settings.hall) {
            self.state.last_seq = Some(m.seq);
            return Vec::new();
        }
        self.state.last_seq = Some(m.seq);
        self.queues(&m.queues);
        let mut effects = Vec::new();
        match m.kind {
            EventKind::TicketCalled { ticket, counter, counter_number, call_count, .. } => {
                let call = Call {
                    ticket_id: ticket.id,
                    appointment: ticket.appointment.is_some(),
                    priority: ticket.priority == qcall_wire::Priority::Priority,
                    ticket: ticket.number,
                    counter,
                    counter_number,
                    call_count,
                    at: m.at,
                };
                if self.record_call(call.clone(), now) {
                    effects.push(Effect::Announce { ticket: call.ticket, counter_number: call.counter_number });
                }
            }
            EventKind::DayRolledOver { day, .. } => {
                self.state.day = day;
                self.state.recent.clear();
                self.state.latest = None;
                self.state.highlight_until = None;
            }
            EventKind::PublicityUpdated { messages } => self.set_publicity(&messages),
            _ => {}
        }
        effects
    }

    /// Shows a call; returns whether to announce it (it is fresh enough).
    fn record_call(&mut self, call: Call, now: DateTime<Utc>) -> bool {
        self.known_calls.insert((call.ticket_id, call.call_count));
        self.state.recent.retain(|c| c.counter != call.counter);
        self.state.recent.insert(0, call.clone());
        self.state.recent.truncate(self.settings.recent_rows);
        let newer = self.state.latest.as_ref().is_none_or(|l| call.at >= l.at);
        if newer {
            self.state.latest = Some(call.clone());
        }
        let fresh = self.is_fresh(call.at, now);
        if fresh && newer {
            self.state.highlight_until = Some(now + self.settings.highlight);
        }
        fresh
    }

    fn is_fresh(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let age = now.signed_duration_since(at);
        age <= chrono::Duration::from_std(self.settings.stale_after).unwrap_or(chrono::Duration::MAX)
    }

    fn snapshot(&mut self, hall: &HallInfo, now: DateTime<Utc>) -> Vec<Effect> {
        let first = !self.state.synced;
        self.state.synced = true;
        self.state.hall_name_zh = hall.name_zh.clone();
        self.state.hall_name_en = hall.name_en.clone();
        if let Ok(tz) = hall.time_zone.parse() {
            self.state.time_zone = tz;
        }
        if !first && hall.day != self.state.day {
            self.state.latest = None;
            self.state.highlight_until = None;
        }
        self.state.day = hall.day.clone();
        self.state.services = hall
            .services
            .iter()
            .map(|s| ServiceRow {
                id: s.id.clone(),
                prefix: s.prefix.clone(),
                name_zh: s.name_zh.clone(),
                name_en: s.name_en.clone(),
                waiting: s.waiting,
                wait: wait_text(s.est_wait_s, s.est_wait_range_s, s.unstaffed, s.closed_until.is_some()),
            })
            .collect();
        self.set_publicity(&hall.publicity);

        // Calls this display has not seen (it was away), oldest first. Announced only when
        // fresh, and never on the first snapshot after start.
        let mut unseen: Vec<Call> = hall
            .recent_calls
            .iter()
            .filter(|c| !self.known_calls.contains(&(c.ticket_id, c.call_count)))
            .map(Call::from)
            .collect();
        unseen.reverse();

        // One row per counter, newest first: the hall's recent calls, completed by each
        // counter's current ticket (a busy counter can push the others out of the recent list).
        let mut calls: Vec<Call> = hall.recent_calls.iter().map(Call::from).collect();
        calls.extend(hall.counters.iter().filter_map(|c| {
            c.current.as_ref().map(|t| Call {
                ticket_id: t.id,
                ticket: t.number.clone(),
                counter: c.id.clone(),
                counter_number: c.number,
                call_count: t.call_count,
                at: t.called_at,
                appointment: t.appointment.is_some(),
                priority: t.priority,
            })
        }));
        calls.sort_by(|a, b| b.at.cmp(&a.at));
        let mut recent: Vec<Call> = Vec::new();
        for c in calls {
            if !recent.iter().any(|r| r.counter == c.counter) {
                recent.push(c);
            }
        }
        recent.truncate(self.settings.recent_rows);
        if let Some(newest) = recent.first() {
            self.state.latest = Some(newest.clone());
        }
        self.state.recent = recent;

        let mut effects = Vec::new();
        for c in unseen {
            self.known_calls.insert((c.ticket_id, c.call_count));
            if !first && self.is_fresh(c.at, now) {
                self.state.highlight_until = Some(now + self.settings.highlight);
                effects.push(Effect::Announce { ticket: c.ticket, counter_number: c.counter_number });
            }
        }
        effects
    }

    fn queues(&mut self, queues: &[QueueInfo]) {
        for q in queues {
            if let Some(row) = self.state.services.iter_mut().find(|s| s.id == q.service) {
                row.waiting = q.waiting;
                row.wait = wait_text(q.est_wait_s, q.est_wait_range_s, q.unstaffed, q.closed_until.is_some());
            }
        }
    }

    fn set_publicity(&mut self, messages: &[String]) {
        let lines: Vec<String> = messages.iter().map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
        self.state.publicity = if lines.is_empty() { self.settings.publicity.clone() } else { lines };
    }

    /// What the screen shows at `now` (this machine's time), the clock in the server's time and
    /// time zone.
    pub fn view(&self, now: DateTime<Utc>) -> ViewModel {
        let now = now + self.offset;
        let s = &self.state;
        let local = now.with_timezone(&s.time_zone);
        const WEEKDAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
        let date_text = format!(
            "{}年{}月{}日 星期{}",
            local.year(),
            local.month(),
            local.day(),
            WEEKDAYS[local.weekday().num_days_from_monday() as usize]
        );
        let (latest_ticket, latest_counter, latest_zh, latest_en) = match &s.latest {
            // 绿色通道 is said on the screen, so that a number called ahead of others is understood.
            Some(c) if c.priority => (
                c.ticket.clone(),
                format!("{}号窗口", c.counter_number),
                format!("{}（绿色通道）", zh_line(&c.ticket, c.counter_number)),
                format!("{} (priority lane)", en_line(&c.ticket, c.counter_number)),
            ),
            Some(c) => (
                c.ticket.clone(),
                format!("{}号窗口", c.counter_number),
                zh_line(&c.ticket, c.counter_number),
                en_line(&c.ticket, c.counter_number),
            ),
            None => (String::new(), String::new(), "请留意叫号".to_string(), "Please wait for your number".to_string()),
        };
        let (connected, connection_text) = match s.link {
            Link::Online => (true, "已连接".to_string()),
            Link::Connecting => (false, "正在连接…".to_string()),
            Link::Offline => (false, "连接中断，正在重连…".to_string()),
        };
        ViewModel {
            hall_name: if s.hall_name_zh.is_empty() { self.settings.hall.clone() } else { s.hall_name_zh.clone() },
            hall_name_en: s.hall_name_en.clone(),
            date_text,
            clock_text: local.format("%H:%M:%S").to_string(),
            has_call: s.latest.is_some(),
            latest_ticket,
            latest_counter,
            latest_zh,
            latest_en,
            highlight: s.highlight_until.is_some_and(|u| now < u),
            recent: s
                .recent
                .iter()
                .map(|c| RecentRow {
                    counter: format!("{}号窗口", c.counter_number),
                    ticket: c.ticket.clone(),
                    appointment: c.appointment,
                    priority: c.priority,
                })
                .collect(),
            waiting: s
                .services
                .iter()
                .map(|r| WaitingRow {
                    prefix: r.prefix.clone(),
                    name: r.name_zh.clone(),
                    name_en: r.name_en.clone(),
                    waiting: r.waiting,
                    wait: r.wait.clone(),
                })
                .collect(),
            ticker_text: ticker_text(&s.publicity),
            connected,
            connection_text,
        }
    }
}

/// The ticker's one long line.
pub fn ticker_text(lines: &[String]) -> String {
    let body = lines.join("　　◆　　");
    if body.is_empty() {
        body
    } else {
        format!("税法宣传　　{body}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentRow {
    pub counter: String,
    pub ticket: String,
    /// A 预约 (appointment) ticket: marked on the screen.
    pub appointment: bool,
    /// A 绿色通道 ticket: marked on the screen.
    pub priority: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRow {
    pub prefix: String,
    pub name: String,
    pub name_en: String,
    pub waiting: u32,
    pub wait: String,
}

/// Everything the screen shows, as text; applied to the Slint adapter in one place.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewModel {
    pub hall_name: String,
    pub hall_name_en: String,
    pub date_text: String,
    pub clock_text: String,
    pub has_call: bool,
    pub latest_ticket: String,
    pub latest_counter: String,
    pub latest_zh: String,
    pub latest_en: String,
    pub highlight: bool,
    pub recent: Vec<RecentRow>,
    pub waiting: Vec<WaitingRow>,
    pub ticker_text: String,
    pub connected: bool,
    pub connection_text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use qcall_wire::{CounterInfo, CounterState, Priority, ServiceInfo, Ticket, TicketState};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap()
    }

    fn settings() -> Settings {
        Settings {
            hall: "east".into(),
            recent_rows: 3,
            highlight: Duration::from_secs(8),
            stale_after: Duration::from_secs(30),
            publicity: vec!["依法诚信纳税".into()],
        }
    }

    fn service(id: &str, prefix: &str, zh: &str, waiting: u32) -> ServiceInfo {
        ServiceInfo {
            id: id.into(),
            prefix: prefix.into(),
            name_zh: zh.into(),
            name_en: id.into(),
            waiting,
            est_wait_s: 0,
            est_wait_range_s: None,
            open_counters: 1,
            sold_out: false,
            closed_until: None,
            overtime: false,
            unstaffed: false,
            full: false,
        }
    }

    fn call_info(id: u64, number: &str, counter: u32, count: u32, at: DateTime<Utc>) -> CallInfo {
        CallInfo {
            ticket_id: id,
            number: number.into(),
            service: "filing".into(),
            counter: format!("E{counter:02}"),
            counter_number: counter,
            call_count: count,
            at,
            appointment: false,
            priority: false,
        }
    }

    fn hall(recent: Vec<CallInfo>, publicity: Vec<&str>) -> HallInfo {
        HallInfo {
            id: "east".into(),
            name_zh: "东区办税服务厅".into(),
            name_en: "East Hall".into(),
            day: "2026-09-22".into(),
            services: vec![service("filing", "A", "申报纳税", 4), service("invoice", "B", "发票业务", 2)],
            counters: vec![CounterInfo {
                id: "E01".into(),
                number: 1,
                state: CounterState::Open,
                services: vec!["filing".into()],
                preferred: vec![],
                current: None,
                paused_since: None,
                pause_reason: None,
            }],
            recent_calls: recent,
            devices: vec![],
            publicity: publicity.into_iter().map(String::from).collect(),
            time_zone: "Asia/Shanghai".into(),
            public_base_url: "http://127.0.0.1:8080".into(),
            address: String::new(),
            hours: vec![],
            appointments: false,
            ticket_texts: false,
            remote_left: None,
            link: None,
        }
    }

    fn snapshot(seq: u64, at: DateTime<Utc>, h: HallInfo) -> Input {
        Input::Message(Box::new(StreamMessage {
            seq,
            at,
            hall: Some("east".into()),
            kind: EventKind::Snapshot { halls: vec![h] },
            queues: vec![],
        }))
    }

    fn ticket(id: u64, number: &str) -> Ticket {
        Ticket {
            id,
            number: number.into(),
            hall: "east".into(),
            service: "filing".into(),
            priority: Priority::Normal,
            state: TicketState::Called,
            day: "2026-09-22".into(),
            issued_at: t(0),
            waiting_ahead: 0,
            est_wait_s: 0,
            est_wait_range_s: None,
            counter: None,
            counter_number: None,
            call_count: 1,
            transferred: false,
            appointment: None,
            overtime: false,
            unstaffed: false,
            remote: None,
            page: None,
        }
    }

    fn event(seq: u64, at: DateTime<Utc>, kind: EventKind, queues: Vec<(&str, u32)>) -> Input {
        Input::Message(Box::new(StreamMessage {
            seq,
            at,
            hall: Some("east".into()),
            kind,
            queues: queues
                .into_iter()
                .map(|(s, w)| QueueInfo { service: s.into(), waiting: w, est_wait_s: 0, est_wait_range_s: None, open_counters: 1, sold_out: false, closed_until: None, overtime: false, unstaffed: false, full: false })
                .collect(),
        }))
    }

    fn called(seq: u64, at: DateTime<Utc>, id: u64, number: &str, counter: u32, count: u32) -> Input {
        event(
            seq,
            at,
            EventKind::TicketCalled {
                ticket: ticket(id, number),
                counter: format!("E{counter:02}"),
                counter_number: counter,
                call_count: count,
                recall: count > 1,
            },
            vec![("filing", 3)],
        )
    }

    fn announce(ticket: &str, counter: u32) -> Effect {
        Effect::Announce { ticket: ticket.into(), counter_number: counter }
    }


    /// A 绿色通道 call is said to be one, so that a number called ahead of others is understood.
    #[test]
    fn a_priority_lane_call_is_tagged() {
        let mut c = Controller::new(settings());
        c.handle(Input::Connected, t(0));
        c.handle(snapshot(10, t(0), hall(vec![], vec![])), t(0));
        let mut prio = ticket(5, "B005");
        prio.priority = qcall_wire::Priority::Priority;
        let call = event(
            11,
            t(1),
            EventKind::TicketCalled { ticket: prio, counter: "E02".into(), counter_number: 2, call_count: 1, recall: false },
            vec![],
        );
        assert_eq!(c.handle(call, t(1)), [announce("B005", 2)]);
        let v = c.view(t(2));
        assert_eq!(v.latest_zh, "请 B005 号到 2 号窗口办理（绿色通道）");
        assert_eq!(v.latest_en, "Number B005, please go to counter 2 (priority lane)");
        assert!(v.recent[0].priority && !v.recent[0].appointment);
        assert_eq!(c.handle(called(12, t(3), 1, "B001", 1, 1), t(3)), [announce("B001", 1)]);
        assert!(!c.view(t(4)).recent[0].priority, "only that one");
    }

    #[test]
    fn snapshot_then_calls_then_recall() {
        let mut c = Controller::new(settings());
        assert_eq!(c.view(t(0)).connection_text, "正在连接…");
        assert!(c.handle(Input::Connected, t(0)).is_empty());
        let first = snapshot(10, t(0), hall(vec![call_info(1, "A001", 2, 1, t(-100))], vec![]));
        assert!(c.handle(first, t(0)).is_empty(), "history in the first snapshot is not announced");
        let v = c.view(t(0));
        assert_eq!(v.hall_name, "东区办税服务厅");
        assert_eq!(v.latest_ticket, "A001");
        assert!(!v.highlight);
        assert_eq!(v.waiting.iter().map(|w| w.waiting).collect::<Vec<_>>(), [4, 2]);
        assert_eq!(v.ticker_text, "税法宣传　　依法诚信纳税", "config lines until the server sends some");
        assert!(v.connected);

        assert_eq!(c.handle(called(11, t(5), 2, "A002", 3, 1), t(5)), [announce("A002", 3)]);
        let v = c.view(t(6));
        assert_eq!(v.latest_ticket, "A002");
        assert_eq!(v.latest_counter, "3号窗口");
        assert_eq!(v.latest_zh, "请 A002 号到 3 号窗口办理");
        assert_eq!(v.latest_en, "Number A002, please go to counter 3");
        assert!(v.highlight);
        assert!(!c.view(t(5 + 8)).highlight, "highlight ends after the configured seconds");
        assert_eq!(v.waiting[0].waiting, 3, "queues of the event update the counts");
        assert_eq!(
            v.recent,
            [
                RecentRow { counter: "3号窗口".into(), ticket: "A002".into(), appointment: false, priority: false },
                RecentRow { counter: "2号窗口".into(), ticket: "A001".into(), appointment: false, priority: false }
            ]
        );

        // A recall is announced again and moves its counter to the top.
        c.handle(called(12, t(20), 3, "B001", 2, 1), t(20));
        assert_eq!(c.handle(called(13, t(30), 2, "A002", 3, 2), t(30)), [announce("A002", 3)]);
        let v = c.view(t(30));
        assert_eq!(v.recent.iter().map(|r| r.ticket.as_str()).collect::<Vec<_>>(), ["A002", "B001"]);
        assert_eq!(v.recent[0].counter, "3号窗口");
    }

    #[test]
    fn one_row_per_counter_newest_first_capped() {
        let mut c = Controller::new(settings());
        c.handle(snapshot(1, t(0), hall(vec![], vec![])), t(0));
        for (i, counter) in [1, 2, 1, 4, 5].iter().enumerate() {
            let seq = 2 + i as u64;
            c.handle(called(seq, t(seq as i64), seq, &format!("A{seq:03}"), *counter, 1), t(seq as i64));
        }
        let rows: Vec<(String, String)> =
            c.view(t(9)).recent.into_iter().map(|r| (r.counter, r.ticket)).collect();
        assert_eq!(
            rows,
            [
                ("5号窗口".to_string(), "A006".to_string()),
                ("4号窗口".to_string(), "A005".to_string()),
                ("1号窗口".to_string(), "A004".to_string())
            ]
        );
    }

    #[test]
    fn snapshot_rows_include_counters_pushed_out_of_the_recent_list() {
        let mut c = Controller::new(settings());
        let mut h = hall(vec![call_info(9, "A009", 1, 1, t(-10)), call_info(8, "A008", 1, 1, t(-20))], vec![]);
        h.counters.push(CounterInfo {
            id: "E04".into(),
            number: 4,
            state: CounterState::Open,
            services: vec!["invoice".into()],
            preferred: vec![],
            current: Some(qcall_wire::CurrentTicket {
                id: 3,
                number: "B003".into(),
                service: "invoice".into(),
                call_count: 1,
                called_at: t(-300),
                appointment: None,
                priority: false,
            }),
            paused_since: None,
            pause_reason: None,
        });
        c.handle(snapshot(5, t(0), h), t(0));
        let v = c.view(t(0));
        assert_eq!(
            v.recent,
            [
                RecentRow { counter: "1号窗口".into(), ticket: "A009".into(), appointment: false, priority: false },
                RecentRow { counter: "4号窗口".into(), ticket: "B003".into(), appointment: false, priority: false }
            ]
        );
        assert_eq!(v.latest_ticket, "A009");
    }

    #[test]
    fn publicity_updates_replace_the_ticker() {
        let mut c = Controller::new(settings());
        c.handle(snapshot(1, t(0), hall(vec![], vec!["服务器宣传"])), t(0));
        assert_eq!(c.state().publicity, ["服务器宣传"]);
        c.handle(
            event(2, t(1), EventKind::PublicityUpdated { messages: vec!["新一".into(), " ".into(), "新二".into()] }, vec![]),
            t(1),
        );
        assert_eq!(c.view(t(1)).ticker_text, "税法宣传　　新一　　◆　　新二");
        c.handle(event(3, t(2), EventKind::PublicityUpdated { messages: vec![] }, vec![]), t(2));
        assert_eq!(c.state().publicity, ["依法诚信纳税"], "empty falls back to the configured lines");
    }

    #[test]
    fn link_drop_keeps_state_and_replayed_old_calls_are_not_announced() {
        let mut c = Controller::new(settings());
        c.handle(Input::Connected, t(0));
        c.handle(snapshot(1, t(0), hall(vec![], vec![])), t(0));
        c.handle(called(2, t(1), 1, "A001", 1, 1), t(1));
        c.handle(Input::Disconnected { reason: "reset".into() }, t(2));
        let v = c.view(t(2));
        assert!(!v.connected);
        assert_eq!(v.connection_text, "连接中断，正在重连…");
        assert_eq!(v.latest_ticket, "A001", "last state stays on screen");

        // Back after 100 s; the server replays what was missed (since=2).
        c.handle(Input::Connected, t(100));
        assert!(c.handle(called(2, t(1), 1, "A001", 1, 1), t(100)).is_empty(), "duplicate seq ignored");
        assert!(c.handle(called(3, t(40), 2, "A002", 2, 1), t(100)).is_empty(), "60 s old: shown, not announced");
        assert_eq!(c.handle(called(4, t(85), 3, "A003", 3, 1), t(100)), [announce("A003", 3)], "15 s old: announced");
        let v = c.view(t(100));
        assert!(v.connected);
        assert_eq!(v.latest_ticket, "A003");
        assert_eq!(v.recent.len(), 3);
    }

    #[test]
    fn fresh_snapshot_after_reconnect_announces_only_new_fresh_calls() {
        let mut c = Controller::new(settings());
        c.handle(snapshot(1, t(0), hall(vec![call_info(1, "A001", 1, 1, t(-5))], vec![])), t(0));
        c.handle(Input::Disconnected { reason: "x".into() }, t(1));
        // The server could not replay: a fresh snapshot with two calls made while away.
        let recent = vec![
            call_info(3, "A003", 3, 1, t(95)),
            call_info(2, "A002", 2, 1, t(20)),
            call_info(1, "A001", 1, 1, t(-5)),
        ];
        let effects = c.handle(snapshot(50, t(100), hall(recent, vec![])), t(100));
        assert_eq!(effects, [announce("A003", 3)]);
        assert_eq!(c.state().latest.as_ref().unwrap().ticket, "A003");
        assert_eq!(c.state().last_seq, Some(50));
        assert!(c.view(t(100)).highlight);
    }

    #[test]
    fn other_halls_and_day_rollover() {
        let mut c = Controller::new(settings());
        c.handle(snapshot(1, t(0), hall(vec![call_info(1, "A001", 1, 1, t(0))], vec![])), t(0));
        let mut other = match called(2, t(1), 9, "C009", 4, 1) {
            Input::Message(m) => m,
            _ => unreachable!(),
        };
        other.hall = Some("west".into());
        assert!(c.handle(Input::Message(other), t(1)).is_empty());
        assert_eq!(c.state().latest.as_ref().unwrap().ticket, "A001");
        c.handle(
            event(3, t(2), EventKind::DayRolledOver { day: "2026-09-23".into(), expired: 2, unfinished: 0 }, vec![("filing", 0)]),
            t(2),
        );
        let v = c.view(t(2));
        assert!(!v.has_call && v.recent.is_empty());
        assert_eq!(v.waiting[0].waiting, 0);
        assert_eq!(c.state().day, "2026-09-23");
    }

    #[test]
    fn clock_in_the_configured_zone() {
        let c = Controller::new(settings());
        // 2026-09-22 16:30:05 UTC is 2026-09-23 00:30:05 in Shanghai, a Wednesday.
        let now = DateTime::parse_from_rfc3339("2026-09-22T16:30:05Z").unwrap().with_timezone(&Utc);
        let v = c.view(now);
        assert_eq!(v.clock_text, "00:30:05");
        assert_eq!(v.date_text, "2026年9月23日 星期三");
    }

    #[test]
    fn the_screen_keeps_the_servers_time_not_its_own() {
        // This machine's clock is three days behind the server's.
        let behind = chrono::Duration::days(3);
        let mut c = Controller::new(settings());
        c.handle(Input::Connected, t(0) - behind);
        c.handle(snapshot(1, t(0), hall(vec![], vec![])), t(0) - behind);
        let v = c.view(t(5) - behind);
        let server = t(5).with_timezone(&DEFAULT_TIME_ZONE);
        assert_eq!(v.clock_text, server.format("%H:%M:%S").to_string());
        assert!(v.date_text.contains(&format!("{}月{}日", server.month(), server.day())), "{}", v.date_text);
        // A call made now by the server's clock is fresh: it is announced and highlighted.
        let fx = c.handle(called(2, t(10), 7, "A007", 3, 1), t(10) - behind);
        assert_eq!(fx, vec![announce("A007", 3)]);
        assert!(c.view(t(11) - behind).highlight);
    }
}
