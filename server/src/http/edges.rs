//! Hall edges' logs at the core: `POST /api/v1/edges/{hall}/log`, the hall's edge uploading its
//! next events (each stored once, by (hall, the edge's `seq`), in order) and its tickets'
//! rows (an empty upload is its heartbeat: the overview shows when it was last seen, and a
//! silent edge raises the offline alert); `GET` the same path: the highest `seq` held.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::Json;
use qcall_wire as wire;

use super::extract::hall_ix;
use super::{AppError, AppState, Caller, JsonBody};
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
