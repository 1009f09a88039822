//! Alerts for the duty leader, decided here, pure: [`conditions`] says which alerts should be
//! up at `now` given the state and the devices' reports; the engine raises the new ones and
//! clears the ones whose condition ended (each condition has a stable key, so an alert is
//! raised once however often this is asked).

use std::collections::BTreeMap;

use qcall_wire::{self as wire, AlertKind};

use crate::domain::{CounterState, Millis, State, TicketId, TicketState};

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// A ticket waiting longer than this (ms) raises a long-wait alert for its service.
    pub wait_ms: Millis,
    /// More than this many waiting in a hall raises a long-queue alert (应急窗口).
    pub queue_length: u32,
    /// A counter paused longer than this (ms).
    pub pause_ms: Millis,
    /// A device silent this long (ms) after reporting is offline.
    pub device_offline_ms: Millis,
    /// Every raised alert is also POSTed here (an SMS or WeChat gateway), from an outbox.
    pub webhook_url: Option<String>,
    /// What staff call each device ("东区1号取号机"), by id.
    pub device_names: BTreeMap<String, String>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            wait_ms: 20 * 60_000,
            queue_length: 20,
            pause_ms: 15 * 60_000,
            device_offline_ms: 60_000,
            webhook_url: None,
            device_names: BTreeMap::new(),
        }
    }
}

/// What to do about a device's fault, by its code.
fn fault_advice(code: &str) -> Option<&'static str> {
    Some(match code {
        "paper_end" => "请更换打印纸 · load paper",
        "cover_open" => "请合上打印机盖 · close the printer cover",
        "printer_error" | "offline" => "请检查打印机，必要时重启 · check the printer; restart it if needed",
        "no_printer" | "port_error" => "请检查打印机电源和连线 · check the printer's power and cable",
        "no_audio" => "请检查大屏的音箱和音量 · check the TV's speakers and volume",
        _ => return None,
    })
}

/// An alert that should be up now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Stable while the condition lasts: `wait:east:filing`, `queue:east`, `pause:E03`,
    /// `device:kiosk-east-1:paper_end`, `rating:1234`.
    pub key: String,
    pub kind: AlertKind,
    /// `None`: about every hall (the holiday calendar).
    pub hall: Option<usize>,
    pub counter: Option<usize>,
    pub ticket: Option<TicketId>,
    pub device: Option<String>,
    pub message: String,
    pub advice: Option<String>,
}

fn minutes(ms: Millis) -> i64 {
    ms / 60_000
}

/// Every condition that should have an alert at `now`.
/// `seen`: when each device last reported (since the server started).
/// A what-if's waits in whole minutes (up): before and after.
pub fn what_if_minutes(w: &crate::domain::estimate::WhatIf) -> (i64, i64) {
    ((w.before_ms + 59_999) / 60_000, (w.after_ms + 59_999) / 60_000)
}

/// The duty leader's what-if as the overview says it.
pub fn what_if_text(topo: &crate::domain::Topology, w: &crate::domain::estimate::WhatIf) -> String {
    let (b, a) = what_if_minutes(w);
    let n = topo.counters[w.counter].number;
    format!("开启 {n}号窗口：新取号预计等候 {b}→{a} 分钟 · open counter {n}: a new ticket's wait {b}→{a} min")
}

pub fn conditions(
    st: &State,
    devices: &BTreeMap<String, (usize, wire::DeviceStatus)>,
    seen: &BTreeMap<String, Millis>,
    now: Millis,
    rules: &Rules,
) -> Vec<Condition> {
    let topo = st.topology();
    let today = st.day();
    let mut out = Vec::new();
    let mut waiting = vec![0u32; topo.halls.len()];
    let mut waiting_service = vec![vec![0u32; topo.services.len()]; topo.halls.len()];
    // Per hall and service: how many waited too long, and the longest of them.
    let mut late: BTreeMap<(usize, usize), (u32, Millis, TicketId)> = BTreeMap::new();
    for t in st.tickets().filter(|t| t.day == today) {
        if t.state == TicketState::Waiting {
            waiting[t.hall] += 1;
            waiting_service[t.hall][t.service] += 1;
            let waited = now - t.issued_at;
            if waited > rules.wait_ms {
                let e = late.entry((t.hall, t.service)).or_insert((0, 0, t.id));
                e.0 += 1;
                if waited > e.1 || (waited == e.1 && t.id < e.2) {
                    (e.1, e.2) = (waited, t.id);
                }
            }
        }
        if let (Some(score @ 1..=2), Some(counter)) = (t.rating, t.counter) {
            let c = &topo.counters[counter];
            let level = if score == 1 { "非常不满意" } else { "不满意" };
            out.push(Condition {
                key: format!("rating:{}", t.id),
                kind: AlertKind::BadRating,
                hall: Some(c.hall),
                counter: Some(counter),
                ticket: Some(t.id),
                device: None,
                message: format!("{}号窗口 {} 差评（{level}）· a bad rating ({score} of 5) at counter {}", c.number, st.number(t), c.number),
                advice: Some("请回访并整改 · call the taxpayer back".into()),
            });
        }
    }
    for ((hall, service), (n, longest, ticket)) in late {
        let s = &topo.services[service];
        let number = st.ticket(ticket).map(|t| st.number(t)).unwrap_or_default();
        out.push(Condition {
            key: format!("wait:{}:{}", topo.halls[hall].id, s.id),
            kind: AlertKind::LongWait,
            hall: Some(hall),
            counter: None,
            ticket: Some(ticket),
            device: None,
            message: format!(
                "{} {n} 人等候超过 {} 分钟，最长 {number}（{} 分钟）· {n} waiting over {} min for {}",
                s.name_zh,
                minutes(rules.wait_ms),
                minutes(longest),
                minutes(rules.wait_ms),
                s.name_en
            ),
            advice: None,
        });
    }
    for (hall, &n) in waiting.iter().enumerate() {
        if n <= rules.queue_length {
            continue;
        }
        // The one counter to open: of those closed (else paused) in this hall, the one that serves
        // the most people waiting (the first of equals).
        let serves = |c: &crate::domain::CounterDef| c.services.iter().map(|&s| waiting_service[hall][s]).sum::<u32>();
        let pick = |want: CounterState| {
            topo.counters
                .iter()
                .enumerate()
                .filter(|(ix, c)| c.hall == hall && st.counter(*ix).state == want && serves(c) > 0)
                .max_by_key(|(ix, c)| (serves(c), std::cmp::Reverse(*ix)))
                .map(|(ix, _)| ix)
        };
        let suggested = pick(CounterState::Closed).or_else(|| pick(CounterState::Paused));
        let advice = match suggested {
            Some(ix) if st.counter(ix).state == CounterState::Closed => {
                let n = topo.counters[ix].number;
                match st.forecast_of(hall, now).and_then(|f| f.what_if).filter(|w| w.counter == ix) {
                    Some(w) => {
                        let (b, a) = what_if_minutes(&w);
                        format!("建议开启应急窗口 {n}号：新取号预计等候 {b}→{a} 分钟 · open counter {n} as an emergency window: a new ticket's wait {b}→{a} min")
                    }
                    None => format!("建议开启应急窗口 {n}号 · open counter {n} as an emergency window"),
                }
            }
            Some(ix) => format!("建议恢复 {}号窗口（暂停中） · resume counter {}", topo.counters[ix].number, topo.counters[ix].number),
            None => "本厅窗口均已开放，请增派导税人员 · every counter is open: send guides".to_string(),
        };
        out.push(Condition {
            key: format!("queue:{}", topo.halls[hall].id),
            kind: AlertKind::LongQueue,
            hall: Some(hall),
            counter: suggested,
            ticket: None,
            device: None,
            message: format!("{n} 人等候 · {n} waiting"),
            advice: Some(advice),
        });
    }
    for (ix, c) in topo.counters.iter().enumerate() {
        let counter = st.counter(ix);
        if let (CounterState::Paused, Some((since, reason))) = (counter.state, &counter.pause) {
            if now - since > rules.pause_ms {
                out.push(Condition {
                    key: format!("pause:{}", c.id),
                    kind: AlertKind::LongPause,
                    hall: Some(c.hall),
                    counter: Some(ix),
                    ticket: None,
                    device: None,
                    message: format!(
                        "{}号窗口暂停超过 {} 分钟（{reason}）· counter {} paused over {} min",
                        c.number,
                        minutes(rules.pause_ms),
                        c.number,
                        minutes(rules.pause_ms)
                    ),
                    advice: None,
                });
            }
        }
    }
    let name = |device: &str| rules.device_names.get(device).cloned().unwrap_or_else(|| device.to_string());
    for (device, (hall, status)) in devices {
        if !status.ok {
            out.push(Condition {
                key: format!("device:{device}:{}", status.code),
                kind: AlertKind::DeviceFault,
                hall: Some(*hall),
                counter: None,
                ticket: None,
                device: Some(device.clone()),
                message: format!("{}：{}", name(device), if status.message.is_empty() { &status.code } else { &status.message }),
                advice: fault_advice(&status.code).map(str::to_string),
            });
        }
    }
    for (device, &last) in seen {
        let Some((hall, _)) = devices.get(device) else { continue };
        // Devices are switched off at night: offline is news only while the hall is open.
        if !topo.within_hours(*hall, now) {
            continue;
        }
        if now - last > rules.device_offline_ms {
            out.push(Condition {
                key: format!("offline:{device}"),
                kind: AlertKind::DeviceOffline,
                hall: Some(*hall),
                counter: None,
                ticket: None,
                device: Some(device.clone()),
                message: format!("{} 已离线 {} 秒 · offline for {} s", name(device), (now - last) / 1000, (now - last) / 1000),
                advice: Some("请检查设备电源和网络 · check its power and network".into()),
            });
        }
    }
    for b in st.conflicts() {
        let h = &topo.halls[b.hall];
        out.push(Condition {
            key: format!("conflict:{}", b.id),
            kind: AlertKind::EdgeConflict,
            hall: Some(b.hall),
            counter: None,
            ticket: b.ticket,
            device: None,
            message: format!(
                "{} {} 的预约已在中心取消，但断网期间已在{}签到取号，以本厅为准 · a booking cancelled here was checked in at {} while it was cut off: the hall's facts stand",
                crate::domain::calendar::format_minute(b.slot),
                crate::domain::appointments::mask_name(&b.who.name),
                h.name_zh,
                h.name_en
            ),
            advice: Some("请核实是否需要联系纳税人 · check whether the taxpayer needs a call".into()),
        });
    }
    if let Some(year) = topo.calendar_missing(topo.local(now).0) {
        out.push(Condition {
            key: format!("calendar:{year}"),
            kind: AlertKind::CalendarMissing,
            hall: None,
            counter: None,
            ticket: None,
            device: None,
            message: format!("{year} 节假日安排未配置 · the {year} holidays are not configured"),
            advice: Some(format!(
                "请在配置 [calendar] 中加入国务院办公厅公布的 {year} 年节假日和调休，并在 years 中列入 {year} · add them to [calendar] and {year} to its years"
            )),
        });
    }
    // Tickets are kept in no particular order: the same state gives the same list.
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// What the server's own parts report, for alerts (0: never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Health {
    pub sms_ok_at: Millis,
    pub sms_failed_at: Millis,
    pub streams_full_at: Millis,
}

/// How long after the event streams were last full the alert stays up.
pub const STREAMS_FULL_MS: Millis = 5 * 60_000;

/// The alerts about the server itself: text messages failing since the last that went
/// through; event streams turned away within [`STREAMS_FULL_MS`].
/// Halls cut off (断网): `cut` holds each one's hall and since when. At the core
/// (`central`): the halls run by their own servers that it does not hear from; at a hall's
/// own server: its hall, cut off from the core.
pub fn link_conditions(topo: &crate::domain::Topology, cut: impl IntoIterator<Item = (usize, Millis)>, central: bool, now: Millis) -> Vec<Condition> {
    cut.into_iter()
        .map(|(hall, since)| {
            let at = chrono::TimeZone::timestamp_millis_opt(&topo.tz, since).single().map(|t| t.format("%H:%M:%S").to_string()).unwrap_or_default();
            let h = &topo.halls[hall];
            Condition {
                key: format!("cut:{}", h.id),
                kind: AlertKind::HallCut,
                hall: Some(hall),
                counter: None,
                ticket: None,
                device: None,
                message: match central {
                    true => format!(
                        "{} 断网（自 {at}，{} 秒），数据停在断网时 · {} cut off since {at} ({} s): its figures are as of then",
                        h.name_zh,
                        (now - since) / 1000,
                        h.name_en,
                        (now - since) / 1000
                    ),
                    false => format!("{} 与中心断网（自 {at}）· {} cut off from the core since {at}", h.name_zh, h.name_en),
                },
                advice: Some(match central {
                    true => "本厅照常取号叫号，恢复后自动补传；请检查该厅与中心的网络 · the hall goes on working and sends everything when the link is back; check its network link".into(),
                    false => "本厅照常取号叫号；跨厅转移和当日预约暂停，恢复后自动补传；请检查与中心的网络 · the hall works on; transfers to other halls wait; everything is sent when the link is back; check the network link".into(),
                }),
            }
        })
        .collect()
}

pub fn health_conditions(h: &Health, now: Millis) -> Vec<Condition> {
    let mut out = vec![];
    let every_hall = |key: &str, kind, message: String, advice: &str| Condition {
        key: key.to_string(),
        kind,
        hall: None,
        counter: None,
        ticket: None,
        device: None,
        message,
        advice: Some(advice.to_string()),
    };
    if h.sms_failed_at > 0 && h.sms_failed_at >= h.sms_ok_at {
        out.push(every_hall(
            "sms",
            AlertKind::SmsFailing,
            "短信发送失败，网上预约无法获取验证码 · text messages fail: online bookings get no code".into(),
            "请检查短信服务商账户、签名和模板（见服务器日志）· check the SMS account, sign name and template (see the server log)",
        ));
    }
    if h.streams_full_at > 0 && now - h.streams_full_at < STREAMS_FULL_MS {
        out.push(every_hall(
            "streams",
            AlertKind::StreamsFull,
            "实时连接已满，有设备或页面被拒绝 · the event streams were full: a device or page was turned away".into(),
            "请查看服务器日志中的来源地址，必要时调大 [server] max_connections · see the addresses in the server log; raise max_connections if needed",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tests::{at, state, EAST};
    use crate::domain::{Command, Priority};

    fn keys(c: &[Condition]) -> Vec<&str> {
        c.iter().map(|c| c.key.as_str()).collect()
    }

    #[test]
    fn a_long_wait_a_long_queue_a_long_pause_and_a_bad_rating_each_make_one_condition() {
        let mut s = state();
        let rules = Rules { queue_length: 2, ..Rules::default() };
        for _ in 0..3 {
            s.apply(Command::Issue { hall: EAST, service: 0, priority: Priority::Normal, request_id: None }, at(0)).unwrap();
        }
        let devices = BTreeMap::new();
        // Three waiting in a hall that takes two: the queue, with the closed counters to open.
        let c = conditions(&s, &devices, &BTreeMap::new(), at(1), &rules);
        assert_eq!(keys(&c), ["queue:east"]);
        assert!(c[0].advice.as_deref().unwrap().starts_with("本厅窗口均已开放"), "every counter is open: {:?}", c[0].advice);
        // With E2 closed: that one counter, to be opened from the alert.
        let mut closed = s.clone();
        closed.apply(Command::SignOut { counter: 1 }, at(1)).unwrap();
        let c = conditions(&closed, &devices, &BTreeMap::new(), at(1), &rules);
        assert_eq!((c[0].counter, c[0].advice.as_deref()), (Some(1), Some("建议开启应急窗口 2号 · open counter 2 as an emergency window")));
        // 21 minutes later: the long wait too, one for the service, naming the longest.
        let c = conditions(&s, &devices, &BTreeMap::new(), at(21), &rules);
        assert_eq!(keys(&c), ["queue:east", "wait:east:filing"]);
        let c: Vec<Condition> = c.into_iter().filter(|c| c.kind == AlertKind::LongWait).collect();
        assert!(c[0].message.contains("3 人等候超过 20 分钟，最长 A001"), "{}", c[0].message);
        // A pause over 15 minutes.
        s.apply(Command::Pause { counter: 0, reason: "午休".into() }, at(21)).unwrap();
        assert!(!keys(&conditions(&s, &devices, &BTreeMap::new(), at(36), &rules)).contains(&"pause:E1"));
        let c = conditions(&s, &devices, &BTreeMap::new(), at(37), &rules);
        assert!(c.iter().any(|c| c.key == "pause:E1" && c.message.contains("午休")), "{c:?}");
        // A 差评.
        s.apply(Command::Resume { counter: 0 }, at(37)).unwrap();
        s.apply(Command::CallNext { counter: 0 }, at(37)).unwrap();
        s.apply(Command::Finish { counter: 0 }, at(40)).unwrap();
        s.apply(Command::Rate { counter: 0, ticket: 1, score: 2, window_ms: 120_000 }, at(40)).unwrap();
        let c = conditions(&s, &devices, &BTreeMap::new(), at(41), &rules);
        assert!(c.iter().any(|c| c.key == "rating:1" && c.kind == AlertKind::BadRating && c.message.contains("不满意")), "{c:?}");
        // Halls always open need no holiday calendar.
        assert!(!keys(&conditions(&s, &devices, &BTreeMap::new(), at(41), &rules)).iter().any(|k| k.starts_with("calendar:")));
        // Nothing when the hall is fine.
        let calm = Rules { queue_length: 20, wait_ms: 3_600_000, ..Rules::default() };
        assert_eq!(keys(&conditions(&s, &devices, &BTreeMap::new(), at(41), &calm)), ["rating:1"]);
    }

    /// A calendar that runs out is a fault: this year missing, or from 1 December the next.
    #[test]
    fn failing_text_messages_and_full_streams_raise_alerts_until_they_recover() {
        let none = Health::default();
        assert!(health_conditions(&none, 1_000).is_empty());
        let failing = Health { sms_ok_at: 10, sms_failed_at: 20, streams_full_at: 0 };
        assert_eq!(keys(&health_conditions(&failing, 30)), ["sms"]);
        let recovered = Health { sms_ok_at: 25, ..failing };
        assert!(health_conditions(&recovered, 30).is_empty(), "a message went through since");
        let full = Health { streams_full_at: 1_000, ..none };
        assert_eq!(keys(&health_conditions(&full, 1_000 + STREAMS_FULL_MS - 1)), ["streams"]);
        assert!(health_conditions(&full, 1_000 + STREAMS_FULL_MS).is_empty(), "five quiet minutes clear it");
    }

    #[test]
    fn a_holiday_calendar_that_runs_out_raises_one_alert_for_every_hall() {
        use chrono::TimeZone;
        let shanghai = |y, m, d| chrono_tz::Asia::Shanghai.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap().timestamp_millis();
        let with_years = |years: &[i32]| {
            let mut t = (**state().topology()).clone();
            t.halls[0].hours = vec![(9 * 60, 17 * 60)];
            t.calendar.years = years.iter().copied().collect();
            State::new(std::sync::Arc::new(t), shanghai(2026, 3, 2))
        };
        let none = BTreeMap::new();
        let calendar = |s: &State, now| -> Vec<Condition> {
            conditions(s, &none, &BTreeMap::new(), now, &Rules::default()).into_iter().filter(|c| c.kind == AlertKind::CalendarMissing).collect()
        };
        let s = with_years(&[2026]);
        assert!(calendar(&s, shanghai(2026, 11, 30)).is_empty(), "November: next year's notice is not out yet");
        let c = calendar(&s, shanghai(2026, 12, 1));
        assert_eq!(keys(&c), ["calendar:2027"]);
        assert_eq!(c[0].hall, None, "about every hall");
        assert!(c[0].message.starts_with("2027 节假日安排未配置"), "{}", c[0].message);
        assert_eq!(keys(&calendar(&s, shanghai(2027, 2, 8))), ["calendar:2027"], "Spring Festival with no 2027 list");
        assert_eq!(keys(&calendar(&s, shanghai(2031, 3, 3))), ["calendar:2031"]);
        let s = with_years(&[2026, 2027]);
        assert!(calendar(&s, shanghai(2026, 12, 1)).is_empty());
        assert!(calendar(&s, shanghai(2027, 6, 1)).is_empty());
        assert_eq!(keys(&calendar(&s, shanghai(2027, 12, 1))), ["calendar:2028"]);
    }

    /// A device silent overnight is no news: offline alerts wait for the hall to open. Faults
    /// name the device as staff call it, with what to do.
    #[test]
    fn device_alerts_use_names_advice_and_the_opening_hours() {
        use chrono::TimeZone;
        let shanghai = |h, m| chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap().timestamp_millis();
        let mut t = (**state().topology()).clone();
        t.halls[0].hours = vec![(9 * 60, 17 * 60)];
        t.calendar.years = [2026].into_iter().collect();
        let s = State::new(std::sync::Arc::new(t), shanghai(9, 0));
        let rules = Rules { device_names: [("kiosk-east-1".to_string(), "东区1号取号机".to_string())].into_iter().collect(), ..Rules::default() };
        let status = |ok: bool, code: &str| wire::DeviceStatus {
            device: "kiosk-east-1".into(),
            kind: "kiosk".into(),
            ok,
            code: code.into(),
            message: "打印机缺纸 / paper end".into(),
            at: chrono::DateTime::from_timestamp_millis(shanghai(9, 0)).unwrap(),
        };
        let devices: BTreeMap<String, (usize, wire::DeviceStatus)> = [("kiosk-east-1".to_string(), (EAST, status(false, "paper_end")))].into_iter().collect();
        let c = conditions(&s, &devices, &BTreeMap::new(), shanghai(10, 0), &rules);
        assert_eq!(c[0].message, "东区1号取号机：打印机缺纸 / paper end");
        assert_eq!(c[0].advice.as_deref(), Some("请更换打印纸 · load paper"));
        let devices: BTreeMap<String, (usize, wire::DeviceStatus)> = [("kiosk-east-1".to_string(), (EAST, status(true, "")))].into_iter().collect();
        let seen: BTreeMap<String, Millis> = [("kiosk-east-1".to_string(), shanghai(16, 50))].into_iter().collect();
        assert_eq!(keys(&conditions(&s, &devices, &seen, shanghai(16, 59), &rules)), ["offline:kiosk-east-1"], "open: news");
        assert!(conditions(&s, &devices, &seen, shanghai(20, 0), &rules).is_empty(), "closed for the night: muted");
    }
}
