//! The call-next rule.
//!
//! Among the waiting tickets of the counter's hall:
//! 1. tickets transferred to this counter, transferred-in tickets of its services, and
//!    `priority` (绿色通道) tickets of its services — oldest first;
//! 2. then checked-in appointment (预约) tickets of its services whose slot has started —
//!    earliest slot first;
//! 3. then tickets of the counter's preferred services, oldest first;
//! 4. then tickets of any of its services, oldest first.
//!
//! A remote ticket (线上取号) keeps its place among the walk-ins (3, 4) but is not called
//! before its check-in at the kiosk. When its turn comes first, it is held for the hall's
//! `hold_minutes` while the others are called; checked in by then, it is called next (as in
//! 1); otherwise it ends as a no-show.
//!
//! "Oldest" is the time the ticket (re-)entered its queue: issue time, transfer time or requeue
//! time; ties are broken by ticket id. An appointment ticket checked in before its slot waits
//! like a walk-in (by its check-in time) until the slot starts, then moves ahead.

use std::collections::BTreeSet;

use super::{CounterDef, Millis, Priority, Ticket, TicketId};

/// Waiting queues of one hall and service.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Queue {
    /// Priority and transferred-in tickets.
    pub(super) urgent: BTreeSet<(Millis, TicketId)>,
    pub(super) normal: BTreeSet<(Millis, TicketId)>,
    /// Checked-in appointments: (slot start, queued at, id).
    pub(super) appointments: BTreeSet<(Millis, Millis, TicketId)>,
    /// Remote tickets not checked in yet: they keep their place among the walk-ins but are
    /// not called (their turn holds them instead).
    pub(super) away: BTreeSet<(Millis, TicketId)>,
    /// Remote tickets whose turn came before their check-in: (held since, id).
    pub(super) held: BTreeSet<(Millis, TicketId)>,
}

impl Queue {
    /// Appointments whose slot started by `now`, in call order.
    pub(super) fn started(&self, now: Millis) -> impl Iterator<Item = &(Millis, Millis, TicketId)> {
        self.appointments.iter().take_while(move |(slot, _, _)| *slot <= now)
    }

    /// Appointments waiting like walk-ins (slot not started), as (queued at, id).
    pub(super) fn early(&self, now: Millis) -> impl Iterator<Item = (Millis, TicketId)> + '_ {
        self.appointments.iter().filter(move |(slot, _, _)| *slot > now).map(|(_, q, id)| (*q, *id))
    }

    /// The first walk-in-ordered ticket: the oldest normal one or early appointment.
    pub(super) fn first_walk_in(&self, now: Millis) -> Option<(Millis, TicketId)> {
        self.normal.first().copied().into_iter().chain(self.early(now)).min()
    }

    /// As [`Queue::first_walk_in`], counting the remote tickets not checked in: whose turn it
    /// would be if they were here.
    pub(super) fn first_in_line(&self, now: Millis) -> Option<(Millis, TicketId)> {
        self.first_walk_in(now).into_iter().chain(self.away.first().copied()).min()
    }
}

/// The remote ticket not checked in whose turn it would be at this counter now, if any: one
/// the call-next rule would pick were it here, before what it does pick.
pub(super) fn turn_of_away(def: &CounterDef, direct: &BTreeSet<(Millis, TicketId)>, queues: &[Queue], now: Millis) -> Option<TicketId> {
    if direct.first().is_some() || def.services.iter().any(|&s| queues[s].urgent.first().is_some() || queues[s].started(now).next().is_some()) {
        return None;
    }
    let oldest = |services: &[usize]| services.iter().filter_map(|&s| queues[s].first_in_line(now)).min();
    let (_, id) = oldest(&def.preferred).or_else(|| oldest(&def.services))?;
    def.services.iter().any(|&s| queues[s].away.first().is_some_and(|(_, a)| *a == id)).then_some(id)
}

/// The call-next rule (see the module documentation) over a counter's direct queue and its
/// hall's queues: the live ones, or the copies a forward estimate runs on.
pub(super) fn pick(def: &CounterDef, direct: &BTreeSet<(Millis, TicketId)>, queues: &[Queue], now: Millis) -> Option<TicketId> {
    let first = direct.first().into_iter().chain(def.services.iter().filter_map(|&s| queues[s].urgent.first())).min();
    if let Some((_, id)) = first {
        return Some(*id);
    }
    if let Some((_, _, id)) = def.services.iter().filter_map(|&s| queues[s].started(now).next()).min() {
        return Some(*id);
    }
    let oldest = |services: &[usize]| services.iter().filter_map(|&s| queues[s].first_walk_in(now)).min();
    oldest(&def.preferred).or_else(|| oldest(&def.services)).map(|(_, id)| id)
}

/// Called before the walk-ins: 绿色通道, transferred in, or a remote ticket checked in after
/// its turn came (it is next).
pub(super) fn is_urgent(t: &Ticket) -> bool {
    t.transferred || t.priority == Priority::Priority || (t.held() && !t.away())
}
