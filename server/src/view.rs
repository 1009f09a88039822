//! Domain -> wire: how the state and its events look on the network.

use chrono::{DateTime, Utc};
use qcall_wire as wire;

use crate::domain::{DomainError, Event, Millis, State, Ticket, TicketState};

pub fn time(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The slot a ticket's appointment is for.
pub fn slot(st: &State, start: Millis) -> wire::AppointmentSlot {
    let len = i64::from(st.topology().appointments.slot_minutes) * 60_000;
    wire::AppointmentSlot { start: time(start), end: time(start + len) }
}

pub fn ticket(st: &State, t: &Ticket, now: Millis) -> wire::Ticket {
    let topo = st.topology();
    let ahead = st.waiting_ahead(t, now);
    let counter = t.counter.map(|c| &topo.counters[c]);
    let (est_wait_s, range) = st.ticket_wait(t.id, now);
    let est_wait_range_s = range.map(|(a, b)| [a, b]);
    wire::Ticket {
        id: t.id,
        number: st.number(t),
        hall: topo.halls[t.hall].id.clone(),
        service: topo.services[t.service].id.clone(),
        priority: t.priority,
        state: t.state,
        day: t.day.to_string(),
        issued_at: time(t.issued_at),
        waiting_ahead: ahead,
        est_wait_s,
        est_wait_range_s,
        counter: counter.map(|c| c.id.clone()),
        counter_number: counter.map(|c| c.number),
        call_count: t.call_count,
        transferred: t.transferred,
        appointment: t.slot.map(|s| slot(st, s)),
        overtime: t.state == TicketState::Waiting && st.overtime(t.hall, est_wait_s, now),
        unstaffed: t.state == TicketState::Waiting && !st.staffed(t),
        remote: t.remote.as_ref().map(|r| wire::RemoteStatus {
            checked_in: r.arrived_at.is_some(),
            held_until: (t.state == TicketState::Waiting).then(|| st.held_until(t)).flatten().map(time),
        }),
        page: None,
    }
}

pub fn queues(st: &State, hall: usize, now: Millis) -> Vec<wire::QueueInfo> {
    (0..st.topology().services.len())
        .map(|s| {
            let waiting = st.waiting(hall, s);
            let (est_wait_s, range) = st.new_ticket_wait(hall, s, now);
            let issuing = st.issuing(hall, s, now);
            let closed_until = match &issuing {
                Err(DomainError::HallClosed { next_open } | DomainError::ServiceClosed { next_open, .. }) => {
                    Some(time(next_open.unwrap_or(i64::MAX / 4)))
                }
                _ => None,
            };
            wire::QueueInfo {
                service: st.topology().services[s].id.clone(),
                waiting,
                est_wait_s,
                est_wait_range_s: range.map(|(a, b)| [a, b]),
                open_counters: st.serving_counters(hall, s).0,
                sold_out: st.sold_out(hall, s),
                closed_until,
                overtime: closed_until.is_none() && st.overtime(hall, est_wait_s, now),
                unstaffed: st.serving_staffed(hall, s) == 0,
                full: matches!(issuing, Err(DomainError::ServiceClosed { .. })),
            }
        })
        .collect()
}

/// A ticket as a row of another server's store (a transfer between a hall edge and the core).
pub fn edge_ticket(st: &State, t: &crate::domain::Ticket) -> wire::EdgeTicket {
    let topo = st.topology();
    wire::EdgeTicket {
        id: t.id,
        day: t.day.to_string(),
        issued_hall: topo.halls[t.issued_hall].id.clone(),
        issued_service: topo.services[t.issued_service].id.clone(),
        seq: t.seq,
        number: st.number(t),
        hall: topo.halls[t.hall].id.clone(),
        service: topo.services[t.service].id.clone(),
        priority: match t.priority {
            wire::Priority::Normal => "normal".into(),
            wire::Priority::Priority => "priority".into(),
        },
        state: crate::store::ticket_state_str(t.state).into(),
        issued_at: t.issued_at,
        queued_at: t.queued_at,
        called_at: t.called_at,
        finished_at: t.finished_at,
        counter: t.counter.map(|c| topo.counters[c].id.clone()),
        clerk: t.clerk.as_deref().map(str::to_string),
        call_count: t.call_count,
        transferred: t.transferred,
        request_id: t.request_id.as_deref().map(str::to_string),
        rating: t.rating,
        slot_start: t.slot,
        remote_code: t.remote.as_ref().map(|r| r.code.to_string()),
        arrived_at: t.remote.as_ref().and_then(|r| r.arrived_at),
        held_at: t.remote.as_ref().and_then(|r| r.held_at),
    }
}

/// A ticket transferred here from another server, as it waits here (`None`: it names a hall,
/// service or day this server does not know).
pub fn adopted_ticket(topo: &crate::domain::Topology, e: &wire::EdgeTicket) -> Option<crate::domain::Ticket> {
    Some(crate::domain::Ticket {
        id: e.id,
        day: e.day.parse().ok()?,
        issued_hall: topo.hall_ix(&e.issued_hall)?,
        issued_service: topo.service_ix(&e.issued_service)?,
        hall: topo.hall_ix(&e.hall)?,
        service: topo.service_ix(&e.service)?,
        seq: e.seq,
        priority: if e.priority == "priority" { wire::Priority::Priority } else { wire::Priority::Normal },
        state: wire::TicketState::Waiting,
        issued_at: e.issued_at,
        queued_at: e.queued_at,
        called_at: None,
        finished_at: None,
        counter: e.counter.as_deref().and_then(|c| topo.counter_ix(c)),
        clerk: None,
        call_count: e.call_count,
        transferred: true,
        request_id: None,
        rating: None,
        slot: e.slot_start,
        remote: None,
    })
}

/// A service's queue as a hall's info tells it (a hall mirrored from another server).
pub fn queue_of_service(s: &wire::ServiceInfo) -> wire::QueueInfo {
    wire::QueueInfo {
        service: s.id.clone(),
        waiting: s.waiting,
        est_wait_s: s.est_wait_s,
        est_wait_range_s: s.est_wait_range_s,
        open_counters: s.open_counters,
        sold_out: s.sold_out,
        closed_until: s.closed_until,
        overtime: s.overtime,
        unstaffed: s.unstaffed,
        full: s.full,
    }
}

pub fn counter(st: &State, ix: usize) -> wire::CounterInfo {
    let topo = st.topology();
    let def = &topo.counters[ix];
    let c = st.counter(ix);
    wire::CounterInfo {
        id: def.id.clone(),
        number: def.number,
        state: c.state,
        services: def.services.iter().map(|&s| topo.services[s].id.clone()).collect(),
        preferred: def.preferred.iter().map(|&s| topo.services[s].id.clone()).collect(),
        current: c.current.and_then(|id| st.ticket(id)).map(|t| wire::CurrentTicket {
            id: t.id,
            number: st.number(t),
            service: topo.services[t.service].id.clone(),
            call_count: t.call_count,
            called_at: time(t.called_at.unwrap_or(t.issued_at)),
            appointment: t.slot.map(|s| slot(st, s)),
            priority: t.priority == crate::domain::Priority::Priority,
        }),
        paused_since: c.pause.as_ref().map(|(at, _)| time(*at)),
        pause_reason: c.pause.as_ref().map(|(_, r)| r.clone()),
    }
}

/// The devices' last reports: device id -> (hall, status).
pub type Devices = std::collections::BTreeMap<String, (usize, wire::DeviceStatus)>;

/// One hall as the world sees it at `now` (hall state, snapshots); ticket pages are reached at
/// `base_url`.
pub fn hall(st: &State, devices: &Devices, base_url: &str, hall: usize, now: Millis) -> wire::HallInfo {
    let topo = st.topology();
    let def = &topo.halls[hall];
    let services = queues(st, hall, now)
        .into_iter()
        .zip(&topo.services)
        .map(|(q, s)| wire::ServiceInfo {
            id: s.id.clone(),
            prefix: s.prefix.to_string(),
            name_zh: s.name_zh.clone(),
            name_en: s.name_en.clone(),
            waiting: q.waiting,
            est_wait_s: q.est_wait_s,
            est_wait_range_s: q.est_wait_range_s,
            open_counters: q.open_counters,
            sold_out: q.sold_out,
            closed_until: q.closed_until,
            overtime: q.overtime,
            unstaffed: q.unstaffed,
            full: q.full,
        })
        .collect();
    wire::HallInfo {
        id: def.id.clone(),
        name_zh: def.name_zh.clone(),
        name_en: def.name_en.clone(),
        day: st.day().to_string(),
        services,
        counters: (0..topo.counters.len()).filter(|&c| topo.counters[c].hall == hall).map(|c| counter(st, c)).collect(),
        recent_calls: st
            .recent_calls(hall)
            .filter_map(|call| {
                let t = st.ticket(call.ticket)?;
                let c = &topo.counters[call.counter];
                Some(wire::CallInfo {
                    ticket_id: t.id,
                    number: st.number(t),
                    service: topo.services[t.service].id.clone(),
                    counter: c.id.clone(),
                    counter_number: c.number,
                    call_count: call.call_count,
                    at: time(call.at),
                    appointment: t.slot.is_some(),
                    priority: t.priority == crate::domain::Priority::Priority,
                })
            })
            .collect(),
        devices: devices.values().filter(|(h, _)| *h == hall).map(|(_, d)| d.clone()).collect(),
        publicity: st.publicity(hall).to_vec(),
        time_zone: topo.tz.name().to_string(),
        public_base_url: base_url.to_string(),
        address: def.address.clone(),
        appointments: topo.appointments.enabled,
        ticket_texts: def.phone.texts,
        remote_left: (def.phone.remote_quota > 0).then(|| def.phone.remote_quota.saturating_sub(st.remote_issued(hall))),
        link: None,
        hours: def.hours.iter().map(|&(a, b)| format!("{}-{}", crate::domain::calendar::format_minute(a), crate::domain::calendar::format_minute(b))).collect(),
    }
}

/// Every hall.
pub fn halls(st: &State, devices: &Devices, base_url: &str, now: Millis) -> Vec<wire::HallInfo> {
    (0..st.topology().halls.len()).map(|h| hall(st, devices, base_url, h, now)).collect()
}

/// One domain event as a stream message, rendered against the state right after it.
/// Returns the message and the halls it concerns; `None` for events the stream does not carry
/// (a check-in shows as its ticket being issued).
pub fn event(st: &State, e: &Event, seq: u64, now: Millis) -> Option<(wire::StreamMessage, Vec<usize>)> {
    use wire::EventKind as K;
    let topo = st.topology();
    let cid = |c: usize| topo.counters[c].id.clone();
    let cnum = |c: usize| topo.counters[c].number;
    let tk = |id| st.ticket(id).map(|t| (ticket(st, t, now), t.hall));
    let (kind, halls, with_queues) = match e {
        Event::TicketIssued { ticket } => {
            let (t, h) = tk(*ticket).expect("issued ticket exists");
            (K::TicketIssued { ticket: t }, vec![h], true)
        }
        Event::TicketCalled { ticket, counter, call_count, recall } => {
            let (t, h) = tk(*ticket).expect("called ticket exists");
            let kind = K::TicketCalled {
                ticket: t,
                counter: cid(*counter),
                counter_number: cnum(*counter),
                call_count: *call_count,
                recall: *recall,
            };
            (kind, vec![h], !recall)
        }
        Event::TicketFinished { ticket, counter } => {
            let (t, h) = tk(*ticket).expect("finished ticket exists");
            (K::TicketFinished { ticket: t, counter: cid(*counter), counter_number: cnum(*counter) }, vec![h], true)
        }
        Event::TicketNoShow { ticket, counter } => {
            let (t, h) = tk(*ticket).expect("no-show ticket exists");
            (K::TicketNoShow { ticket: t, counter: cid(*counter), counter_number: cnum(*counter) }, vec![h], true)
        }
        Event::TicketTransferred { ticket, from_counter, from_hall } => {
            let (t, h) = tk(*ticket).expect("transferred ticket exists");
            let mut halls = vec![h];
            if *from_hall != h {
                halls.insert(0, *from_hall);
            }
            let kind =
                K::TicketTransferred { ticket: t, from_counter: cid(*from_counter), from_hall: topo.halls[*from_hall].id.clone() };
            (kind, halls, true)
        }
        Event::TicketRequeued { ticket } => {
            let (t, h) = tk(*ticket).expect("requeued ticket exists");
            (K::TicketRequeued { ticket: t }, vec![h], true)
        }
        Event::TicketHeld { ticket } => {
            let (t, h) = tk(*ticket).expect("held ticket exists");
            (K::TicketHeld { ticket: t }, vec![h], true)
        }
        Event::TicketCheckedIn { ticket } => {
            let (t, h) = tk(*ticket).expect("checked-in ticket exists");
            (K::TicketCheckedIn { ticket: t }, vec![h], true)
        }
        Event::TicketLapsed { ticket } => {
            let (t, h) = tk(*ticket).expect("lapsed ticket exists");
            (K::TicketLapsed { ticket: t }, vec![h], true)
        }
        Event::TicketRated { ticket, counter, score } => {
            let h = topo.counters[*counter].hall;
            (K::TicketRated { ticket_id: *ticket, counter: cid(*counter), score: *score }, vec![h], false)
        }
        Event::CounterOpened { counter } => {
            (K::CounterOpened { counter: cid(*counter), counter_number: cnum(*counter) }, vec![topo.counters[*counter].hall], true)
        }
        Event::CounterClosed { counter } => {
            (K::CounterClosed { counter: cid(*counter), counter_number: cnum(*counter) }, vec![topo.counters[*counter].hall], true)
        }
        Event::CounterPaused { counter, reason } => (
            K::CounterPaused { counter: cid(*counter), counter_number: cnum(*counter), reason: reason.clone() },
            vec![topo.counters[*counter].hall],
            true,
        ),
        Event::CounterResumed { counter } => {
            (K::CounterResumed { counter: cid(*counter), counter_number: cnum(*counter) }, vec![topo.counters[*counter].hall], true)
        }
        Event::DayRolledOver { day, expired, unfinished } => {
            let kind = K::DayRolledOver { day: day.to_string(), expired: expired.len() as u32, unfinished: unfinished.len() as u32 };
            (kind, (0..topo.halls.len()).collect(), false)
        }
        Event::PublicityUpdated { hall, messages } => (K::PublicityUpdated { messages: messages.clone() }, vec![*hall], false),
        Event::BookingMade { booking: b } | Event::BookingCancelled { booking: b } => {
            let capacity = st.slot_capacity(b.hall, b.service);
            let taken = st.bookings().taken(b.hall, b.service, b.date, b.slot);
            let kind = K::SlotChanged {
                service: topo.services[b.service].id.clone(),
                date: b.date.to_string(),
                start: time(topo.at(b.date, b.slot)),
                capacity,
                free: capacity.saturating_sub(taken),
            };
            (kind, vec![b.hall], false)
        }
        // At a hall edge, how its bookings end goes up to the core (which counts no-shows).
        Event::BookingNoShow { booking: b } | Event::BookingCheckedIn { booking: b } if !st.is_central() => {
            let outcome = match b.state {
                crate::domain::BookingState::NoShow => wire::BookingOutcome::NoShow,
                _ => wire::BookingOutcome::CheckedIn,
            };
            (K::BookingSettled { booking: b.id, outcome, ticket: b.ticket }, vec![b.hall], false)
        }
        Event::BookingNoShow { booking: b } => {
            let kind = K::AppointmentNoShow {
                service: topo.services[b.service].id.clone(),
                date: b.date.to_string(),
                start: time(topo.at(b.date, b.slot)),
            };
            (kind, vec![b.hall], false)
        }
        Event::BookingCheckedIn { .. } => return None,
        Event::IssuingChanged { hall } => (K::IssuingChanged, vec![*hall], true),
        Event::HallTakenOver { hall, .. } => (K::HallTakenOver, vec![*hall], true),
    };
    let main_hall = *halls.last().expect("every event has a hall");
    let global = matches!(e, Event::DayRolledOver { .. });
    let msg = wire::StreamMessage {
        seq,
        at: time(now),
        hall: (!global).then(|| topo.halls[main_hall].id.clone()),
        kind,
        queues: if with_queues { queues(st, main_hall, now) } else { vec![] },
    };
    Some((msg, halls))
}

/// What a stranger may see of a hall (no token, the public face): no device reports.
pub fn public_hall(mut h: wire::HallInfo) -> wire::HallInfo {
    h.devices.clear();
    h
}
