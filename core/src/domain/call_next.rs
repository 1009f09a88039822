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

pub(super) fn is_urgent(t: &Ticket) -> bool {
    t.transferred || t.priority == Priority::Priority
}
