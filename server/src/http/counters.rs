//! Counter actions, one handler each: the clerk signed in at the counter, or a supervisor.

use axum::extract::{Path, State};
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::extract::{clip, counter_ix, hall_ix, service_ix};
use super::{AppError, AppState, Caller, JsonBody, NoBody, SupervisorCaller};
use crate::auth::Principal;
use crate::domain::Command;
use crate::engine::{Outcome, Request};
use crate::view;

use super::extract::CounterAt;

type Answer = Result<Json<wire::CounterActionResponse>, AppError>;

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
    // A supervisor acting on a counter is in the audit trail, with the action.
    let outcome = if who.is_supervisor() {
        let row = super::audit_row(s, &super::actor(who), "counter_control", &s.cfg.topology.counters[counter].id, cmd.name(), None);
        s.engine.submit_audited(Request::Domain(cmd), row).await?
    } else {
        s.engine.submit(Request::Domain(cmd)).await?
    };
    match outcome {
        Outcome::Counter { ticket, counter } => Ok(Json(wire::CounterActionResponse { ticket, counter })),
        other => Err(AppError::internal(format!("counter {counter} answered {other:?}"))),
    }
}

pub async fn call_next(State(s): State<AppState>, CounterAt { c, who }: CounterAt, _: NoBody) -> Answer {
    run(&s, &who, c, Command::CallNext { counter: c }).await
}

pub async fn recall(State(s): State<AppState>, CounterAt { c, who }: CounterAt, _: NoBody) -> Answer {
    run(&s, &who, c, Command::Recall { counter: c }).await
}

pub async fn no_show(State(s): State<AppState>, CounterAt { c, who }: CounterAt, _: NoBody) -> Answer {
    run(&s, &who, c, Command::NoShow { counter: c }).await
}

pub async fn finish(State(s): State<AppState>, CounterAt { c, who }: CounterAt, _: NoBody) -> Answer {
    run(&s, &who, c, Command::Finish { counter: c }).await
}

pub async fn pause(
    State(s): State<AppState>,
    CounterAt { c, who }: CounterAt,
    JsonBody(req): JsonBody<wire::PauseRequest>,
) -> Answer {
    run(&s, &who, c, Command::Pause { counter: c, reason: req.reason }).await
}

pub async fn resume(State(s): State<AppState>, CounterAt { c, who }: CounterAt, _: NoBody) -> Answer {
    run(&s, &who, c, Command::Resume { counter: c }).await
}

pub async fn transfer(
    State(s): State<AppState>,
    CounterAt { c, who }: CounterAt,
    JsonBody(req): JsonBody<wire::TransferRequest>,
) -> Answer {
    let service = req.service.as_deref().map(|x| service_ix(&s, x)).transpose()?;
    let to_counter = req.counter.as_deref().map(|x| counter_ix(&s, x)).transpose()?;
    let hall = req.hall.as_deref().map(|x| hall_ix(&s, x)).transpose()?;
    let target = hall.or(to_counter.map(|x| s.cfg.topology.counters[x].hall));
    let elsewhere = match target {
        Some(h) => s.engine.shared.core.read().await.state.runs_elsewhere(h),
        None => false,
    };
    match (target, elsewhere) {
        (Some(h), true) => transfer_away(&s, &who, c, service, to_counter, h).await,
        _ => run(&s, &who, c, Command::Transfer { counter: c, service, to_counter, hall }).await,
    }
}

/// A transfer to a hall another server runs. Taken there first, let go here after: the core
/// queues it in that hall's feed in the transaction that lets it go; a hall edge has the core
/// take it before letting it go. Without the link it is refused (`upstream_unavailable`) and
/// nothing changes anywhere.
async fn transfer_away(s: &AppState, who: &Principal, c: usize, service: Option<usize>, to_counter: Option<usize>, h: usize) -> Answer {
    let topo = &s.cfg.topology;
    let (central, online, ticket) = {
        let core = s.engine.shared.core.read().await;
        let t = core.state.counter(c).current.and_then(|id| core.state.ticket(id)).map(|t| view::edge_ticket(&core.state, t));
        (core.state.is_central(), core.link(h).is_some_and(|l| l.online), t)
    };
    let Some(mut t) = ticket else { return Err(AppError::from(crate::domain::DomainError::NoCurrentTicket)) };
    if !online {
        return Err(AppError::new(
            ErrorCode::UpstreamUnavailable,
            format!("{} cannot be reached now: the ticket stays at this counter; try again when the link is back", topo.halls[h].name_zh),
        ));
    }
    if !central {
        let (Some(client), Some(edge)) = (&s.core_client, &s.cfg.edge) else {
            return Err(AppError::internal("a hall edge without a link to its core"));
        };
        t.hall = topo.halls[h].id.clone();
        if let Some(x) = service {
            t.service = topo.services[x].id.clone();
        }
        t.counter = to_counter.map(|x| topo.counters[x].id.clone());
        t.state = "waiting".into();
        let up = wire::EdgeTransfer { ticket: t, from_counter: topo.counters[c].id.clone() };
        match client.edge_transfer(&topo.halls[edge.hall].id, &up).await {
            Ok(_) => {}
            Err(qcall_client::ClientError::Server { code, message, .. }) if code != ErrorCode::Internal => return Err(AppError::new(code, message)),
            Err(e) => {
                return Err(AppError::new(
                    ErrorCode::UpstreamUnavailable,
                    format!("the core did not take the transfer ({e}): the ticket stays at this counter; try again (a repeat is safe)"),
                ))
            }
        }
    }
    run(s, who, c, Command::TransferAway { counter: c, service, hall: h }).await
}

/// Opens a closed counter for a clerk (supervisors): the emergency window the duty leader
/// decides to open; the clerk then signs in at its console.
pub async fn open(State(s): State<AppState>, SupervisorCaller(who): SupervisorCaller, CounterAt { c, .. }: CounterAt, JsonBody(req): JsonBody<wire::OpenCounterRequest>) -> Answer {
    let counter = &s.cfg.topology.counters[c].id;
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
pub async fn close(State(s): State<AppState>, CounterAt { c, who }: CounterAt, _: NoBody) -> Answer {
    let sessions: Vec<String> = {
        let core = s.engine.shared.core.read().await;
        core.sessions.iter().filter(|(_, session)| session.counter == c).map(|(t, _)| t.clone()).collect()
    };
    if sessions.is_empty() {
        return run(&s, &who, c, Command::SignOut { counter: c }).await;
    }
    let end = Request::EndSessions { token_hashes: sessions };
    if who.is_supervisor() {
        s.engine.submit_audited(end, super::audit_row(&s, &super::actor(&who), "counter_control", &s.cfg.topology.counters[c].id, "Close", None)).await?;
    } else {
        s.engine.submit(end).await?;
    }
    let core = s.engine.shared.core.read().await;
    Ok(Json(wire::CounterActionResponse { ticket: None, counter: view::counter(&core.state, c) }))
}

/// Calls one waiting or no-show ticket, by id or by its number in the counter's hall.
pub async fn call(
    State(s): State<AppState>,
    CounterAt { c, who }: CounterAt,
    JsonBody(req): JsonBody<wire::CallRequest>,
) -> Answer {
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
