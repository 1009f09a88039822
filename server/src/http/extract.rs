//! Typed extractors: what a path or query names, resolved, and who may act on it, checked
//! before any body is read. A handler that takes one of these never looks a hall, counter,
//! ticket or period up by hand.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use qcall_wire::{self as wire, ErrorCode};

use super::{AppError, AppState, Caller, StrictQuery};
use crate::auth::Principal;
use crate::domain::TicketId;

/// The hall of this id (404 `unknown_hall`).
pub fn hall_ix(s: &AppState, hall: &str) -> Result<usize, AppError> {
    s.cfg.topology.hall_ix(hall).ok_or_else(|| AppError::new(ErrorCode::UnknownHall, format!("no hall `{}`", clip(hall))))
}

pub fn counter_ix(s: &AppState, counter: &str) -> Result<usize, AppError> {
    s.cfg
        .topology
        .counter_ix(counter)
        .ok_or_else(|| AppError::new(ErrorCode::UnknownCounter, format!("no counter `{}`", clip(counter))))
}

pub fn service_ix(s: &AppState, service: &str) -> Result<usize, AppError> {
    s.cfg
        .topology
        .service_ix(service)
        .ok_or_else(|| AppError::new(ErrorCode::UnknownService, format!("no service `{}`", clip(service))))
}

/// Echo at most 40 characters of client input in messages.
pub fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

pub fn ticket_id(id: &str) -> Result<TicketId, AppError> {
    id.parse().map_err(|_| AppError::new(ErrorCode::UnknownTicket, "ticket ids are numbers"))
}

/// One named parameter of the path.
async fn path_param(parts: &mut Parts, s: &AppState, name: &str) -> Result<String, AppError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, s)
        .await
        .map_err(|e| AppError::new(ErrorCode::NotFound, e.body_text()))?;
    params.get(name).cloned().ok_or_else(|| AppError::internal(format!("the route has no `{name}`")))
}

/// The hall of the path (`/halls/{hall}/…`) and a caller who acts for it: one of its kiosks,
/// or a supervisor.
pub struct HallAt {
    pub h: usize,
}

impl FromRequestParts<AppState> for HallAt {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(who) = Caller::from_request_parts(parts, s).await?;
        if !matches!(who, Principal::Kiosk { .. } | Principal::Supervisor { .. }) {
            return Err(AppError::forbidden("only the hall's kiosks and supervisors do this"));
        }
        let h = hall_ix(s, &path_param(parts, s, "hall").await?)?;
        if matches!(who, Principal::Kiosk { hall, .. } if hall != h) {
            return Err(AppError::forbidden("a kiosk acts only in its own hall"));
        }
        Ok(HallAt { h })
    }
}

/// The counter of the path (`/counters/{counter}/…`) and a caller who may act on it: its
/// clerk or a supervisor.
pub struct CounterAt {
    pub c: usize,
    pub who: Principal,
}

impl FromRequestParts<AppState> for CounterAt {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(who) = Caller::from_request_parts(parts, s).await?;
        if !matches!(who, Principal::Clerk { .. } | Principal::Supervisor { .. }) {
            return Err(AppError::forbidden("only clerks and supervisors act on counters"));
        }
        let c = counter_ix(s, &path_param(parts, s, "counter").await?)?;
        if matches!(who, Principal::Clerk { counter, .. } if counter != c) {
            return Err(AppError::forbidden("a clerk may only act on the counter they signed in at"));
        }
        Ok(CounterAt { c, who })
    }
}

/// Who may act on a ticket, for [`TicketAt`].
pub trait TicketRole {
    /// `Err` (403) unless `who` may act on a ticket of `hall` that `counter` has or served.
    fn may(s: &AppState, who: &Principal, hall: usize, counter: Option<usize>) -> Result<(), AppError>;
}

/// The rating pad of the counter that served the ticket, or a supervisor (ratings, 差评 reasons).
pub struct ItsPad;

impl TicketRole for ItsPad {
    fn may(_: &AppState, who: &Principal, _: usize, counter: Option<usize>) -> Result<(), AppError> {
        match who {
            Principal::Supervisor { .. } => Ok(()),
            Principal::Pad { counter: pad, .. } if Some(*pad) == counter => Ok(()),
            _ => Err(AppError::forbidden("only the rating pad of the counter that served the ticket")),
        }
    }
}

/// A clerk of the ticket's hall, or a supervisor (requeue).
pub struct ItsHallsClerk;

impl TicketRole for ItsHallsClerk {
    fn may(s: &AppState, who: &Principal, hall: usize, _: Option<usize>) -> Result<(), AppError> {
        match who {
            Principal::Supervisor { .. } => Ok(()),
            Principal::Clerk { counter, .. } if s.cfg.topology.counters[*counter].hall == hall => Ok(()),
            _ => Err(AppError::forbidden("only a clerk of the ticket's hall or a supervisor")),
        }
    }
}

/// Today's ticket of the path (`/tickets/{id}/…`), its hall and the counter that has or served
/// it, and a caller that `R` lets act on it. A caller `R` never admits is refused before the
/// ticket is looked up.
pub struct TicketAt<R> {
    pub id: TicketId,
    /// Its number, as printed.
    pub number: String,
    pub counter: Option<usize>,
    pub who: Principal,
    role: std::marker::PhantomData<R>,
}

impl<R: TicketRole> FromRequestParts<AppState> for TicketAt<R> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(who) = Caller::from_request_parts(parts, s).await?;
        if !matches!(who, Principal::Clerk { .. } | Principal::Pad { .. } | Principal::Supervisor { .. }) {
            return Err(AppError::forbidden("only clerks, rating pads and supervisors act on tickets"));
        }
        let id = ticket_id(&path_param(parts, s, "id").await?)?;
        let core = s.engine.shared.core.read().await;
        let t = core.state.ticket(id).ok_or_else(|| AppError::new(ErrorCode::UnknownTicket, format!("no ticket {id} today")))?;
        R::may(s, &who, t.hall, t.counter)?;
        Ok(TicketAt { id, number: core.state.number(t), counter: t.counter, who, role: std::marker::PhantomData })
    }
}

/// A period of business days from the query (`from`, `to`, `hall`, `format`), checked: dates,
/// forwards, at most [`wire::MAX_PERIOD_DAYS`], a known hall. Put it after the caller.
pub struct Period {
    pub from: String,
    pub to: String,
    /// The hall's id, when one is asked for.
    pub hall: Option<String>,
    pub format: wire::ReportFormat,
    /// Whether `format` was given at all.
    pub format_given: bool,
}

impl Period {
    /// `from..=to` as dates (checked when the period was read).
    pub fn dates(&self) -> (chrono::NaiveDate, chrono::NaiveDate) {
        (self.from.parse().unwrap_or_default(), self.to.parse().unwrap_or_default())
    }

    /// Checks `from` and `to`; `hall` must be known.
    pub fn new(s: &AppState, from: &str, to: &str, hall: Option<&str>, format: Option<wire::ReportFormat>) -> Result<Period, AppError> {
        let date = |v: &str, name: &str| {
            v.parse::<chrono::NaiveDate>().map_err(|_| AppError::new(ErrorCode::BadQuery, format!("{name} must be a date like 2026-03-01")))
        };
        let (f, t) = (date(from, "from")?, date(to, "to")?);
        if t < f || (t - f).num_days() >= wire::MAX_PERIOD_DAYS {
            return Err(AppError::new(ErrorCode::BadQuery, format!("from..to must run forwards and cover at most {} days", wire::MAX_PERIOD_DAYS)));
        }
        let hall = hall.filter(|h| !h.is_empty()).map(|h| hall_ix(s, h)).transpose()?.map(|h| s.cfg.topology.halls[h].id.clone());
        Ok(Period { from: f.to_string(), to: t.to_string(), hall, format: format.unwrap_or_default(), format_given: format.is_some() })
    }
}

impl FromRequestParts<AppState> for Period {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let StrictQuery(q) = StrictQuery::<wire::PeriodQuery>::from_request_parts(parts, s).await?;
        Period::new(s, &q.from, &q.to, q.hall.as_deref(), q.format)
    }
}
