//! Text messages about tickets: the numbers taxpayers left, and which message is due. Pure:
//! the writer asks after every batch and puts what is due in the outbox with that batch, so a
//! message exists exactly when the event that caused it is stored.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::config::Notify;
use crate::domain::{Millis, State, TicketId, TicketState};
use crate::store::NoticeRow;

/// The near-turn message's kind in the outbox.
pub const NEAR_TURN: &str = "near_turn";
/// The called message's kind.
pub const CALLED: &str = "called";
/// A remote ticket's "come and check in" message's kind.
pub const CHECK_IN: &str = "check_in";

/// Today's numbers and the messages made for them (what the store holds for the day).
#[derive(Debug, Clone, Default)]
pub struct Texts {
    /// ticket -> mobile number.
    pub phones: HashMap<TicketId, String>,
    /// (ticket, kind) of every message made today.
    pub made: HashSet<(TicketId, String)>,
    /// When each hall sends the near-turn message, by hall.
    pub notify: Vec<Notify>,
}

impl Texts {
    /// The messages due now, each made once: near-turn for a waiting ticket once at most
    /// `ahead` people are ahead of it or its estimate is under `minutes` (not while no
    /// counter is open: that estimate means nothing), called when it is called.
    pub fn due(&mut self, st: &State, now: Millis) -> Vec<NoticeRow> {
        let topo = st.topology();
        let mut out = Vec::new();
        let mut tickets: Vec<(&TicketId, &String)> = self.phones.iter().collect();
        tickets.sort();
        for (&id, phone) in tickets {
            let Some(t) = st.ticket(id).filter(|t| t.day == st.day()) else { continue };
            let kind = match t.state {
                TicketState::Waiting if t.away() => CHECK_IN,
                TicketState::Waiting => NEAR_TURN,
                TicketState::Called => CALLED,
                _ => continue,
            };
            // A remote ticket told to come is not told again that its turn is near.
            if self.made.contains(&(id, kind.to_string())) || (kind == NEAR_TURN && self.made.contains(&(id, CHECK_IN.to_string()))) {
                continue;
            }
            let v = crate::view::ticket(st, t, now);
            let mut params = BTreeMap::new();
            params.insert("number".to_string(), v.number.clone());
            if kind == CHECK_IN {
                let n = self.notify.get(t.hall).copied().unwrap_or(Notify { ahead: 3, minutes: 10 });
                let hold = topo.halls[t.hall].phone.hold_minutes;
                let minutes = match st.held_until(t) {
                    Some(until) => u32::try_from(((until - now).max(60_000) + 59_999) / 60_000).unwrap_or(hold),
                    None if v.waiting_ahead > n.ahead && v.est_wait_s >= n.minutes * 60 => continue,
                    None => v.est_wait_s.div_ceil(60) + hold,
                };
                params.insert("minutes".to_string(), minutes.to_string());
                params.insert("hall".to_string(), topo.halls[t.hall].name_zh.clone());
                params.insert("code".to_string(), t.remote.as_ref().map(|r| r.code.to_string()).unwrap_or_default());
            } else if kind == NEAR_TURN {
                let n = self.notify.get(t.hall).copied().unwrap_or(Notify { ahead: 3, minutes: 10 });
                if v.unstaffed || (v.waiting_ahead > n.ahead && v.est_wait_s >= n.minutes * 60) {
                    continue;
                }
                params.insert("ahead".to_string(), v.waiting_ahead.to_string());
                params.insert("minutes".to_string(), v.est_wait_s.div_ceil(60).to_string());
                params.insert("hall".to_string(), topo.halls[t.hall].name_zh.clone());
            } else {
                let Some(n) = v.counter_number else { continue };
                params.insert("counter".to_string(), n.to_string());
            }
            out.push(NoticeRow {
                ticket: id,
                kind,
                day: t.day,
                phone: phone.clone(),
                params: serde_json::to_string(&params).unwrap_or_else(|_| "{}".into()),
                at: now,
            });
        }
        for n in &out {
            self.made.insert((n.ticket, n.kind.to_string()));
        }
        out
    }
}
