//! Counter actions, one handler each: the clerk signed in at the counter, or a supervisor.

use axum::extract::{Path, State};
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::api::{clip, counter_ix, hall_ix, service_ix};
use super::{AppError, AppState, Caller, JsonBody, NoBody};
use crate::auth::Principal;
use crate::domain::Command;
use crate::engine::{Outcome, Request};
use crate::view;

type Answer = Result<Json<wire::CounterActionResponse>, AppError>;

/// The counter's index, if the caller may act on it.
fn authorised(s: &AppState, who: &Principal, counter: &str) -> Result<usize, AppError> {
    let c = counter_ix(s, counter)?;
    match who {
        Principal::Supervisor { .. } => Ok(c),
        Principal::Clerk { counter, .. } if *counter == c => Ok(c),
        Principal::Clerk { .. } => Err(AppError::forbidden("a clerk may only act on the counter they signed in at")),
        _ => Err(AppError::forbidden("only clerks and supervisors act on counters")),
    }
}

/// `GET /api/v1/counters/{c}/on-duty`: who serves at the counter (its rating pad shows the
/// clerk's name and 工号 while idle: 亮证服务). Not public: names stay off the hall state.
pub async fn on_duty(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>) -> Result<Json<wire::OnDuty>, AppError> {
    let c = counter_ix(&s, &counter)?;
    match &who {
        Principal::Supervisor { .. } => {}
        Principal::Pad { counter, .. } | Principal::Clerk { counter, .. } if *counter == c => {}
        _ => return Err(AppError::forbidden("only the counter's rating pad, its clerk and supervisors see who serves there")),
    }
    let core = s.engine.shared.core.read().await;
    let def = &s.cfg.topology.counters[c];
    let clerk = core.state.counter(c).clerk.clone().map(|id| {
        let name = s.cfg.clerk(&id).map(|k| k.name.clone()).unwrap_or_default();
        let signed_in = core.sessions.values().any(|x| x.counter == c && x.clerk == id);
        wire::ClerkOnDuty { id, name, signed_in }
    });
    Ok(Json(wire::OnDuty { counter: def.id.clone(), number: def.number, clerk }))
}

/// Runs the command; answers with the ticket it acted on (if any) and the counter afterwards.
async fn run(s: &AppState, who: &Principal, counter: usize, cmd: Command) -> Answer {
    let what = format!("{cmd:?}");
    let outcome = s.engine.submit(Request::Domain(cmd)).await?;
    if who.is_supervisor() {
        // A supervisor acting on a counter is in the audit trail.
        let action = what.split([' ', '{']).next().unwrap_or_default().to_string();
        super::audit(s, &super::actor(who), "counter_control", &s.cfg.topology.counters[counter].id, &action, None).await;
    }
    let ticket = match outcome {
        Outcome::Applied(msgs) => msgs.iter().rev().find_map(|b| match &b.msg.kind {
            wire::EventKind::TicketCalled { ticket, .. }
            | wire::EventKind::TicketFinished { ticket, .. }
            | wire::EventKind::TicketNoShow { ticket, .. }
            | wire::EventKind::TicketTransferred { ticket, .. } => Some(ticket.clone()),
            _ => None,
        }),
        Outcome::Existing(_) | Outcome::ExistingBooking(_) => None,
    };
    let core = s.engine.shared.core.read().await;
    Ok(Json(wire::CounterActionResponse { ticket, counter: view::counter(&core.state, counter) }))
}

pub async fn call_next(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>, _: NoBody) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    run(&s, &who, c, Command::CallNext { counter: c }).await
}

pub async fn recall(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>, _: NoBody) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    run(&s, &who, c, Command::Recall { counter: c }).await
}

pub async fn no_show(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>, _: NoBody) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    run(&s, &who, c, Command::NoShow { counter: c }).await
}

pub async fn finish(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>, _: NoBody) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    run(&s, &who, c, Command::Finish { counter: c }).await
}

pub async fn pause(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(counter): Path<String>,
    JsonBody(req): JsonBody<wire::PauseRequest>,
) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    run(&s, &who, c, Command::Pause { counter: c, reason: req.reason }).await
}

pub async fn resume(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>, _: NoBody) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    run(&s, &who, c, Command::Resume { counter: c }).await
}

pub async fn transfer(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(counter): Path<String>,
    JsonBody(req): JsonBody<wire::TransferRequest>,
) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    let cmd = Command::Transfer {
        counter: c,
        service: req.service.as_deref().map(|x| service_ix(&s, x)).transpose()?,
        to_counter: req.counter.as_deref().map(|x| counter_ix(&s, x)).transpose()?,
        hall: req.hall.as_deref().map(|x| hall_ix(&s, x)).transpose()?,
    };
    run(&s, &who, c, cmd).await
}

/// Opens a closed counter for a clerk (supervisors): the emergency window the duty leader
/// decides to open; the clerk then signs in at its console.
pub async fn open(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>, JsonBody(req): JsonBody<wire::OpenCounterRequest>) -> Answer {
    if !who.is_supervisor() {
        return Err(AppError::forbidden("only supervisors open a counter for a clerk; clerks sign in"));
    }
    let c = counter_ix(&s, &counter)?;
    let clerk = s.cfg.clerk(&req.clerk).ok_or_else(|| AppError::new(ErrorCode::CounterNotAllowed, format!("no clerk `{}`", clip(&req.clerk))))?;
    if !clerk.may_sit_at(c) {
        return Err(AppError::new(ErrorCode::CounterNotAllowed, format!("{} may not work at {}", clerk.id, counter)));
    }
    {
        let core = s.engine.shared.core.read().await;
        let topo = core.state.topology();
        if let Some(other) = (0..topo.counters.len()).find(|&o| o != c && core.state.counter(o).clerk.as_deref() == Some(clerk.id.as_str())) {
            return Err(AppError::new(ErrorCode::CounterTaken, format!("{} is at {} now", clerk.id, topo.counters[other].id)));
        }
    }
    run(&s, &who, c, Command::SignIn { counter: c, clerk: clerk.id.clone(), take_over: false }).await
}

/// Closes the counter: whoever is signed in there is signed out (a supervisor closing a
/// counter nobody works at, or the clerk leaving for the day).
pub async fn close(State(s): State<AppState>, Caller(who): Caller, Path(counter): Path<String>, _: NoBody) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    let sessions: Vec<String> = {
        let core = s.engine.shared.core.read().await;
        core.sessions.iter().filter(|(_, session)| session.counter == c).map(|(t, _)| t.clone()).collect()
    };
    if sessions.is_empty() {
        return run(&s, &who, c, Command::SignOut { counter: c }).await;
    }
    s.engine.submit(Request::EndSessions { token_hashes: sessions }).await?;
    if who.is_supervisor() {
        super::audit(&s, &super::actor(&who), "counter_control", &s.cfg.topology.counters[c].id, "Close", None).await;
    }
    let core = s.engine.shared.core.read().await;
    Ok(Json(wire::CounterActionResponse { ticket: None, counter: view::counter(&core.state, c) }))
}

/// Calls one waiting or no-show ticket, by id or by its number in the counter's hall.
pub async fn call(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(counter): Path<String>,
    JsonBody(req): JsonBody<wire::CallRequest>,
) -> Answer {
    let c = authorised(&s, &who, &counter)?;
    let ticket = match req.ticket {
        wire::TicketRef::Id(id) => id,
        wire::TicketRef::Number(n) => {
            let core = s.engine.shared.core.read().await;
            let hall = s.cfg.topology.counters[c].hall;
            core.state.ticket_by_number(hall, &n).map(|t| t.id).ok_or_else(|| {
                AppError::new(ErrorCode::UnknownTicket, format!("no ticket `{}` today in this hall", clip(&n)))
            })?
        }
    };
    run(&s, &who, c, Command::Call { counter: c, ticket }).await
}
