//! What the screen shows: the [`View`] the UI copies, built from the controller's state with
//! the texts of [`crate::text`].

use chrono::Datelike;
use qcall_wire::Priority;

use super::{Controller, Link, PhoneStage, PrinterState, Screen};
use crate::config::Language;
use crate::escpos;
use crate::text;

/// Severity of the banner under the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Banner {
    pub text: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OtherHallView {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub id: String,
    pub prefix: String,
    pub title: String,
    pub subtitle: String,
    pub waiting: String,
    pub wait: String,
    pub enabled: bool,
    pub others: Vec<OtherHallView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TicketView {
    pub number: String,
    pub service: String,
    pub ahead: String,
    pub wait: String,
    pub headline: String,
    /// Set when the printer failed: the number on screen is all the taxpayer has.
    pub print_failed: String,
    pub countdown: u32,
    pub priority: bool,
    /// "预约 09:30-10:00" for an appointment, else empty.
    pub appointment: String,
    /// "可能进入延时服务" when the wait may run into extended hours, else empty.
    pub overtime: String,
    /// The ticket's status page (`/t/{id}`), shown as a QR code; empty when unknown.
    pub qr_url: String,
    /// The 短信提醒 button's label; empty when it is not offered.
    pub phone_offer: String,
    /// "已登记短信提醒 138****1234" once a number was left, else empty.
    pub phone_left: String,
}

/// The phone number screen (短信提醒) and its confirmation. Its `Debug` masks what is typed.
#[derive(Clone, Default, PartialEq)]
pub struct PhoneView {
    pub title: String,
    /// What the number is for and that it is deleted (shown from the start).
    pub purpose: String,
    /// "您的号码" and the ticket's number: the taxpayer keeps it in sight.
    pub number_label: String,
    pub number: String,
    /// What is typed, grouped: 138 1234 1234; empty when nothing is.
    pub input: String,
    pub placeholder: String,
    /// The digits and backspace work.
    pub keys_enabled: bool,
    /// 确定 can be pressed: a valid number is typed and nothing is on its way.
    pub can_submit: bool,
    /// The 跳过 / 返回 button can be pressed.
    pub can_close: bool,
    /// A refusal (red) or 正在登记… (`sending`); empty when none.
    pub note: String,
    pub sending: bool,
    /// The confirmation ("已登记 138****1234，轮到前将短信提醒您"): when set, it is all the
    /// screen shows.
    pub done: String,
    pub done_hint: String,
    pub submit_label: String,
    pub clear_label: String,
    /// 跳过 (home) or 返回 (to the number on screen, when it was not printed).
    pub close_label: String,
}

/// The check-in screen (预约签到).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckInView {
    /// What was typed.
    pub input: String,
    /// The last refusal or hint; empty when none.
    pub note: String,
    /// The note is a hint (come back later), shown in amber, not a refusal in red.
    pub note_hint: bool,
}

impl std::fmt::Debug for PhoneView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let typed: String = self.input.chars().filter(char::is_ascii_digit).collect();
        f.debug_struct("PhoneView")
            .field("number", &self.number)
            .field("input", &super::mask_phone(&typed))
            .field("keys_enabled", &self.keys_enabled)
            .field("can_submit", &self.can_submit)
            .field("can_close", &self.can_close)
            .field("note", &self.note)
            .field("sending", &self.sending)
            .field("done", &self.done)
            .field("close_label", &self.close_label)
            .finish_non_exhaustive()
    }
}

/// What the screen shows; the UI only copies it.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub screen: Screen,
    pub en: bool,
    pub hall_title: String,
    pub hall_subtitle: String,
    pub clock: String,
    pub services: Vec<ServiceView>,
    pub issuing_enabled: bool,
    pub banner: Option<Banner>,
    pub priority_lane: bool,
    pub priority_mode: bool,
    pub ticket: Option<TicketView>,
    /// The 预约·线上签到 button is shown (the hall takes appointments or remote tickets) …
    pub appointments: bool,
    /// … and can be used now.
    pub check_in_enabled: bool,
    pub check_in: Option<CheckInView>,
    pub phone: Option<PhoneView>,
    /// The 长者模式 button is shown …
    pub elder_button: bool,
    /// … and the mode is on: larger type, one service a row, high contrast.
    pub elder: bool,
}

impl Controller {
    fn clock(&self) -> String {
        let local = self.now.with_timezone(&self.time_zone());
        let wd = local.weekday().num_days_from_monday() as usize;
        match self.language {
            Language::Zh => format!("{}  {}  {}", local.format("%Y年%m月%d日"), text::WEEKDAYS_ZH[wd], local.format("%H:%M")),
            Language::En => local.format("%a %d %b %Y  %H:%M").to_string(),
        }
    }

    pub fn view(&self) -> View {
        let en = self.language == Language::En;
        let pick = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
        let hall = self.my_hall();
        let issuing = self.can_issue() && self.screen == Screen::Home;

        let banner = if self.link != Link::Up {
            Some(Banner {
                text: if self.link == Link::Connecting { text::CONNECTING.pick(en) } else { text::LINK_DOWN.pick(en) }.into(),
                severity: if self.link == Link::Connecting { Severity::Info } else { Severity::Error },
            })
        } else if let PrinterState::Fault(f) = &self.printer {
            // Staff are told by the consoles and the duty leader's alert; the taxpayer that
            // tickets still come, on screen.
            Some(Banner {
                text: if en {
                    format!("{} {}", f.message_en().trim_end_matches(" Please ask staff for help."), text::PAPERLESS.en)
                } else {
                    format!("{} · {}", f.message_zh().trim_end_matches("，请联系工作人员"), text::PAPERLESS.zh)
                },
                severity: Severity::Warning,
            })
        } else if let Some((t, _)) = &self.message {
            Some(Banner { text: t.pick(en).into(), severity: Severity::Warning })
        } else if let Some((zh, e, _)) = &self.dynamic_message {
            Some(Banner { text: pick(zh, e), severity: Severity::Warning })
        } else if let Some(at) = hall.filter(|h| !h.services.is_empty()).and_then(|h| {
            h.services.iter().all(|s| s.closed_until.is_some()).then(|| h.services.iter().filter_map(|s| s.closed_until).min()).flatten()
        }) {
            let full = hall.is_some_and(|h| h.services.iter().all(|s| s.full));
            let (zh, e) = self.closed_message(at, full);
            Some(Banner { text: if en { e } else { zh }, severity: Severity::Info })
        } else if self.priority_mode {
            Some(Banner { text: text::PRIORITY_MODE.pick(en).into(), severity: Severity::Info })
        } else {
            None
        };

        let services = hall
            .map(|h| {
                h.services
                    .iter()
                    .map(|s| {
                        let others = self
                            .halls
                            .iter()
                            .filter(|o| o.id != h.id)
                            .filter_map(|o| {
                                let os = o.services.iter().find(|x| x.id == s.id)?;
                                Some(OtherHallView {
                                    name: if en { o.name_en.clone() } else { o.name_zh.clone() },
                                    // A hall whose server is cut off: its figures are old.
                                    text: match &o.link {
                                        Some(l) if !l.online => text::OTHER_HALL_UNAVAILABLE.pick(en).into(),
                                        _ => queue_text(en, os),
                                    },
                                })
                            })
                            .collect();
                        ServiceView {
                            id: s.id.clone(),
                            prefix: s.prefix.clone(),
                            title: pick(&s.name_zh, &s.name_en),
                            subtitle: pick(&s.name_en, &s.name_zh),
                            waiting: if s.sold_out {
                                text::SOLD_OUT_SHORT.pick(en).into()
                            } else if s.closed_until.is_some() && s.full {
                                text::FULL_SHORT.pick(en).into()
                            } else if s.closed_until.is_some() {
                                text::OTHER_HALL_STOPPED.pick(en).into()
                            } else if en {
                                format!("{} waiting", s.waiting)
                            } else {
                                format!("等候 {} 人", s.waiting)
                            },
                            wait: if s.sold_out {
                                String::new()
                            } else if let Some(at) = s.closed_until {
                                let (zh, e) = self.when(at);
                                if en { format!("again from {e}") } else { format!("下次取号 {zh}") }
                            } else if s.unstaffed {
                                text::UNSTAFFED.pick(en).into()
                            } else {
                                let est = if en {
                                    format!("wait {}", escpos::wait_en(s.est_wait_s, s.est_wait_range_s))
                                } else {
                                    format!("预计{}", escpos::wait_zh(s.est_wait_s, s.est_wait_range_s))
                                };
                                if s.overtime { format!("{est} · {}", text::OVERTIME.pick(en)) } else { est }
                            },
                            enabled: issuing && !s.sold_out && s.closed_until.is_none(),
                            others,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();

        let ticket = self.shown.as_ref().filter(|_| self.screen == Screen::Ticket).map(|s| {
            let t = &s.ticket;
            let svc = self
                .halls
                .iter()
                .find(|h| h.id == t.hall)
                .and_then(|h| h.services.iter().find(|x| x.id == t.service))
                .map(|x| pick(&x.name_zh, &x.name_en))
                .unwrap_or_else(|| t.service.clone());
            let left = (s.until - self.now).num_seconds().max(0) as u32;
            TicketView {
                number: t.number.clone(),
                service: svc,
                ahead: if en { format!("{} people ahead of you", t.waiting_ahead) } else { format!("前面还有 {} 人", t.waiting_ahead) },
                wait: if t.unstaffed {
                    text::UNSTAFFED.pick(en).into()
                } else if en {
                    format!("Estimated wait: {}", escpos::wait_en(t.est_wait_s, t.est_wait_range_s))
                } else {
                    format!("预计等候{}", escpos::wait_zh(t.est_wait_s, t.est_wait_range_s))
                },
                headline: if s.print_failed.is_some() {
                    text::YOUR_NUMBER
                } else if s.again {
                    text::CHECKED_IN_BEFORE
                } else if s.earlier {
                    text::EARLIER_TICKET
                } else {
                    text::TAKE_TICKET
                }
                .pick(en)
                .into(),
                print_failed: match &s.print_failed {
                    Some(_) => text::NOT_PRINTED.pick(en).into(),
                    None => String::new(),
                },
                countdown: left,
                priority: t.priority == Priority::Priority,
                appointment: t
                    .appointment
                    .map(|s| {
                        let tz = self.time_zone();
                        let slot = format!("{}-{}", s.start.with_timezone(&tz).format("%H:%M"), s.end.with_timezone(&tz).format("%H:%M"));
                        if en { format!("Appointment {slot}") } else { format!("预约 {slot}") }
                    })
                    .unwrap_or_default(),
                overtime: if t.overtime { text::OVERTIME.pick(en).into() } else { String::new() },
                qr_url: t.page.clone().or_else(|| self.halls.iter().find(|h| h.id == t.hall).map(|h| h.ticket_url(t.id))).unwrap_or_default(),
                phone_offer: if self.phone_offered() { text::PHONE_OFFER.pick(en).into() } else { String::new() },
                phone_left: s.phone_left.as_ref().map(|m| format!("{} {m}", text::PHONE_LEFT.pick(en))).unwrap_or_default(),
            }
        });
        let phone = self.phone.as_ref().filter(|_| self.screen == Screen::Phone).map(|p| {
            let paperless = self.shown.as_ref().is_some_and(|s| s.print_failed.is_some());
            let sending = p.stage == PhoneStage::Sending;
            let typing = p.stage == PhoneStage::Typing && p.retry;
            PhoneView {
                title: text::PHONE_TITLE.pick(en).into(),
                purpose: text::PHONE_PURPOSE.pick(en).into(),
                number_label: text::PHONE_YOUR_NUMBER.pick(en).into(),
                number: self.shown.as_ref().map(|s| s.ticket.number.clone()).unwrap_or_default(),
                input: p.input.grouped(),
                placeholder: text::PHONE_PLACEHOLDER.pick(en).into(),
                keys_enabled: typing,
                can_submit: typing && p.input.is_valid(),
                can_close: !sending,
                note: if sending {
                    text::PHONE_SENDING.pick(en).into()
                } else {
                    p.note.as_ref().map(|(zh, e)| pick(zh, e)).unwrap_or_default()
                },
                sending,
                done: match &p.stage {
                    PhoneStage::Done(m) if en => format!("Saved {m}: we will text you before your turn."),
                    PhoneStage::Done(m) => format!("已登记 {m}，轮到前将短信提醒您"),
                    _ => String::new(),
                },
                done_hint: text::PHONE_DONE_TOUCH.pick(en).into(),
                submit_label: text::PHONE_SUBMIT.pick(en).into(),
                clear_label: text::PHONE_CLEAR.pick(en).into(),
                close_label: if paperless { text::PHONE_BACK } else { text::PHONE_SKIP }.pick(en).into(),
            }
        });
        let check_in = self.check_in.as_ref().filter(|_| self.screen == Screen::CheckIn).map(|c| CheckInView {
            input: c.input.clone(),
            note: c.note.as_ref().map(|(zh, e)| pick(zh, e)).unwrap_or_default(),
            note_hint: c.note.is_some() && c.hint,
        });

        View {
            screen: self.screen,
            en,
            hall_title: hall
                .map(|h| pick(&h.name_zh, &h.name_en))
                .unwrap_or_else(|| pick(&self.cfg.hall_name_zh, &self.cfg.hall_name_en)),
            hall_subtitle: hall
                .map(|h| pick(&h.name_en, &h.name_zh))
                .unwrap_or_else(|| pick(&self.cfg.hall_name_en, &self.cfg.hall_name_zh)),
            clock: self.clock(),
            services,
            issuing_enabled: issuing,
            banner,
            priority_lane: self.cfg.priority_lane,
            priority_mode: self.priority_mode,
            ticket,
            appointments: hall.is_some_and(|h| h.appointments || h.remote_left.is_some()),
            check_in_enabled: self.check_in_enabled() && self.screen == Screen::Home,
            check_in,
            phone,
            elder_button: self.cfg.elder_mode,
            elder: self.elder,
        }
    }
}

/// "3 人 · 约6分钟" for another hall's queue; "暂停取号" when it issues none of it now.
pub fn queue_text(en: bool, s: &qcall_wire::ServiceInfo) -> String {
    let waiting = s.waiting;
    if s.sold_out {
        return if en { "no more today".into() } else { text::SOLD_OUT_SHORT.zh.into() };
    }
    if s.closed_until.is_some() {
        return text::OTHER_HALL_STOPPED.pick(en).into();
    }
    if s.unstaffed {
        return if en { format!("{waiting} waiting · {}", text::UNSTAFFED.en) } else { format!("{waiting} 人 · {}", text::UNSTAFFED.zh) };
    }
    match en {
        false => format!("{} 人 · {}", waiting, escpos::wait_zh(s.est_wait_s, s.est_wait_range_s)),
        true if s.est_wait_s < 60 => format!("{waiting} waiting · <1 min"),
        true => format!("{} waiting · ~{} min", waiting, s.est_wait_s.div_ceil(60)),
    }
}

