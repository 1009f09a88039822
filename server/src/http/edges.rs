//! Hall edges' logs at the core: `POST /api/v1/edges/{hall}/log`, the hall's edge uploading its
//! next events (each stored once, by (hall, the edge's `seq`), in order) and its tickets'
//! rows (an empty upload is its heartbeat: the overview shows when it was last seen, and a
//! silent edge raises the offline alert); `GET` the same path: the highest `seq` held.
//! `GET /api/v1/edges/{hall}/feed?since=N&wait=S`: what the core sends the hall's edge (its
//! bookings, their cancellations, its publicity: kept until asked for, in order), and the
//! other halls as the core sees them.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::Json;
use qcall_wire as wire;

use super::extract::hall_ix;
use super::{AppError, AppState, Caller, JsonBody, StrictQuery};
use crate::auth::Principal;
use crate::engine::{Outcome, Request};

/// Request bodies of an upload may be this large (a day's rollover names all its tickets).
pub const MAX_UPLOAD: usize = 4 * 1024 * 1024;

/// The path's hall, called by its own edge (checked before the body is read).
pub struct EdgeAt {
    pub h: usize,
    pub device: String,
}

impl FromRequestParts<AppState> for EdgeAt {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(who) = Caller::from_request_parts(parts, s).await?;
        let Principal::Edge { hall, device } = who else {
            return Err(AppError::forbidden("only a hall's edge uploads its log"));
        };
        let Path(name) = Path::<String>::from_request_parts(parts, s).await.map_err(|_| AppError::new(wire::ErrorCode::NotFound, "no such hall"))?;
        let h = hall_ix(s, &name)?;
        if h != hall {
            return Err(AppError::forbidden("an edge uploads its own hall's log only"));
        }
        if !s.engine.shared.core.read().await.state.runs_elsewhere(h) {
            return Err(AppError::new(
                wire::ErrorCode::HallElsewhere,
                "the core runs this hall now (it took it over): restore this hall server from the core's copy before it runs the hall again",
            ));
        }
        Ok(EdgeAt { h, device })
    }
}

pub async fn upload(State(s): State<AppState>, at: EdgeAt, JsonBody(up): JsonBody<wire::EdgeUpload>) -> Result<Json<wire::EdgeHeld>, AppError> {
    match s.engine.submit(Request::EdgeLog { hall: at.h, device: at.device, upload: up }).await? {
        Outcome::EdgeHeld(held) => Ok(Json(wire::EdgeHeld { held })),
        other => Err(AppError::internal(format!("unexpected outcome {other:?}"))),
    }
}

/// What the core holds of a hall's log (its edge, or a supervisor).
pub async fn held(State(s): State<AppState>, Caller(who): Caller, Path(hall): Path<String>) -> Result<Json<wire::EdgeHeld>, AppError> {
    match &who {
        Principal::Supervisor { .. } | Principal::Edge { .. } => {}
        _ => return Err(AppError::forbidden("only a hall's edge and supervisors read what is held of its log")),
    }
    let h = hall_ix(&s, &hall)?;
    if matches!(who, Principal::Edge { hall, .. } if hall != h) {
        return Err(AppError::forbidden("an edge reads its own hall's log only"));
    }
    let id = &s.cfg.topology.halls[h].id;
    let held = s.engine.shared.core.read().await.edge_held.get(id).copied().unwrap_or(0);
    Ok(Json(wire::EdgeHeld { held }))
}

/// Items per feed answer, at most.
const FEED_ITEMS: u32 = 200;
/// The longest a feed request waits for items.
const FEED_WAIT_S: u32 = 25;

pub async fn feed(State(s): State<AppState>, at: EdgeAt, StrictQuery(q): StrictQuery<wire::EdgeFeedQuery>) -> Result<Json<wire::EdgeFeed>, AppError> {
    let hall = s.cfg.topology.halls[at.h].id.clone();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(u64::from(q.wait.unwrap_or(0).min(FEED_WAIT_S)));
    // Subscribed before the first look: a commit after it wakes the wait.
    let mut commits = s.engine.shared.events.subscribe();
    let items = loop {
        let last = s.engine.shared.core.read().await.feed.get(&at.h).copied().unwrap_or(0);
        if last > q.since || tokio::time::Instant::now() >= deadline {
            let (h, since) = (hall.clone(), q.since);
            let rows = super::read(&s, move |db| crate::queries::feed_after(db, &h, since, FEED_ITEMS)).await?;
            break rows.iter().filter_map(|b| serde_json::from_str::<wire::EdgeFeedItem>(b).ok()).collect::<Vec<_>>();
        }
        tokio::select! {
            r = commits.recv() => if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r {
                tokio::time::sleep_until(deadline).await;
            },
            _ = tokio::time::sleep_until(deadline) => {}
        }
    };
    let core = s.engine.shared.core.read().await;
    let now = s.clock.now();
    let halls = (0..s.cfg.topology.halls.len()).filter(|&h| h != at.h).map(|h| core.hall_info(&s.cfg.public_base_url, h, now)).collect();
    Ok(Json(wire::EdgeFeed { items, halls, config: s.cfg.shared_version() }))
}

/// A ticket the hall's edge transfers to another hall: taken here (it waits in a hall this
/// server runs), or queued for the edge of the hall that runs it; refused while that hall is
/// cut off. A repeat (the edge's answer lost) changes nothing.
pub async fn transfer(State(s): State<AppState>, at: EdgeAt, JsonBody(req): JsonBody<wire::EdgeTransfer>) -> Result<Json<serde_json::Value>, AppError> {
    let topo = &s.cfg.topology;
    let bad = |m: &str| AppError::new(wire::ErrorCode::BadBody, m.to_string());
    let ticket = crate::view::adopted_ticket(topo, &req.ticket).ok_or_else(|| bad("the ticket names a hall, service or day not known here"))?;
    let from_counter = topo.counter_ix(&req.from_counter).filter(|&c| topo.counters[c].hall == at.h).ok_or_else(|| bad("from_counter is not one of the hall's"))?;
    if ticket.hall == at.h {
        return Err(bad("a transfer within the hall stays at its edge"));
    }
    let (runs_here, online) = {
        let core = s.engine.shared.core.read().await;
        (!core.state.runs_elsewhere(ticket.hall), core.link(ticket.hall).is_none_or(|l| l.online))
    };
    if runs_here {
        s.engine.submit(Request::Domain(crate::domain::Command::Adopt { ticket: Box::new(ticket), from_counter })).await?;
    } else if !online {
        return Err(AppError::new(wire::ErrorCode::UpstreamUnavailable, format!("{} is cut off from the core now", topo.halls[ticket.hall].name_zh)));
    } else {
        let item = wire::EdgeFeedKind::Transfer { ticket: req.ticket.clone(), from_counter: req.from_counter.clone() };
        s.engine.submit(Request::Forward { hall: ticket.hall, item }).await?;
    }
    Ok(Json(serde_json::json!({"ok": true})))
}

/// `POST /api/v1/halls/{hall}/takeover`: see [`wire::TakeoverRequest`]. Audited.
pub async fn takeover(
    State(s): State<AppState>,
    super::SupervisorCaller(who): super::SupervisorCaller,
    super::extract::HallAt { h }: super::extract::HallAt,
    JsonBody(req): JsonBody<wire::TakeoverRequest>,
) -> Result<Json<wire::TakeoverResponse>, AppError> {
    if req.skip > 10_000 {
        return Err(AppError::new(wire::ErrorCode::BadBody, "skip: at most 10000"));
    }
    let hall = s.cfg.topology.halls[h].id.clone();
    let row = super::audit_row(&s, &super::actor(&who), "hall_takeover", &hall, &format!("skip {}", req.skip), None);
    match s.engine.submit_audited(Request::Takeover { hall: h, skip: req.skip }, row).await? {
        Outcome::TakenOver(next) => {
            tracing::warn!(hall = %hall, skip = req.skip, "the core took the hall over from its edge");
            let next = s.cfg.topology.services.iter().zip(next).map(|(sv, n)| (sv.id.clone(), n)).collect();
            Ok(Json(wire::TakeoverResponse { hall, next }))
        }
        other => Err(AppError::internal(format!("unexpected outcome {other:?}"))),
    }
}

/// Events of a copy page, at most.
const COPY_EVENTS: u32 = 2000;

/// `GET /api/v1/edges/{hall}/copy?after=N`: see [`wire::EdgeCopy`].
pub async fn copy(State(s): State<AppState>, at: EdgeAt, StrictQuery(q): StrictQuery<wire::EdgeCopyQuery>) -> Result<Json<wire::EdgeCopy>, AppError> {
    let hall = s.cfg.topology.halls[at.h].id.clone();
    let (held, day) = {
        let core = s.engine.shared.core.read().await;
        (core.edge_held.get(&hall).copied().unwrap_or(0), core.state.day().to_string())
    };
    let copy = super::read(&s, move |db| {
        let events = crate::queries::edge_log_after(db, &hall, q.after, COPY_EVENTS)?;
        let tickets = crate::queries::edge_tickets_of_day(db, &hall, &day)?;
        let day = day.clone();
        Ok(wire::EdgeCopy { events, tickets, held, day })
    })
    .await?;
    Ok(Json(copy))
}

/// `GET /api/v1/edges/{hall}/config`: see [`wire::EdgeConfig`].
pub async fn config(State(s): State<AppState>, _: EdgeAt) -> Json<wire::EdgeConfig> {
    Json(wire::EdgeConfig { version: s.cfg.shared_version(), text: s.cfg.shared.to_string() })
}
