//! `GET /api/v1/counters/{counter}/queue`: what the clerk console lists (the clerk signed in at
//! that counter, or a supervisor).

use axum::extract::State;
use axum::Json;
use qcall_wire::{self as wire, QUEUE_LIST_MAX};

use super::extract::CounterAt;
use super::{AppError, AppState};
use crate::domain::{Ticket, TicketState};
use crate::view;

fn queue_ticket(st: &crate::domain::State, t: &Ticket, counter: usize) -> wire::QueueTicket {
    wire::QueueTicket {
        id: t.id,
        number: st.number(t),
        service: st.topology().services[t.service].id.clone(),
        priority: t.priority,
        state: t.state,
        transferred: t.transferred,
        to_this_counter: t.state == TicketState::Waiting && t.counter == Some(counter),
        issued_at: view::time(t.issued_at),
        queued_at: view::time(t.queued_at),
        called_at: t.called_at.map(view::time),
        finished_at: t.finished_at.map(view::time),
        call_count: t.call_count,
        appointment: t.slot.map(|s| view::slot(st, s)),
    }
}

pub async fn queue(State(s): State<AppState>, CounterAt { c, .. }: CounterAt) -> Result<Json<wire::CounterQueue>, AppError> {
    let now = view::time(s.clock.now());
    let core = s.engine.shared.core.read().await;
    let st = &core.state;
    let topo = st.topology();
    let hall = topo.counters[c].hall;
    let day = st.day();
    let waiting_ids = st.waiting_for_counter(c, s.clock.now());
    let waiting = waiting_ids.iter().take(QUEUE_LIST_MAX).filter_map(|id| st.ticket(*id)).map(|t| queue_ticket(st, t, c)).collect();
    let mut no_shows: Vec<&Ticket> =
        st.tickets().filter(|t| t.day == day && t.hall == hall && t.state == TicketState::NoShow).collect();
    no_shows.sort_by_key(|t| std::cmp::Reverse((t.finished_at, t.id)));
    let mine = |state: TicketState| st.tickets().filter(|t| t.day == day && t.counter == Some(c) && t.state == state).count() as u32;
    let counter_state = st.counter(c);
    Ok(Json(wire::CounterQueue {
        now,
        day: day.to_string(),
        hall: topo.halls[hall].id.clone(),
        counter: view::counter(st, c),
        clerk: counter_state.clerk.clone(),
        current: counter_state.current.and_then(|id| st.ticket(id)).map(|t| queue_ticket(st, t, c)),
        waiting,
        waiting_total: waiting_ids.len() as u32,
        no_shows: no_shows.into_iter().take(QUEUE_LIST_MAX).map(|t| queue_ticket(st, t, c)).collect(),
        served_today: mine(TicketState::Finished),
        no_shows_today: mine(TicketState::NoShow),
        pause_reasons: topo.pause_reasons.clone(),
    }))
}
