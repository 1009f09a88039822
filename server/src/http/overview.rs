//! `GET /api/v1/overview`: every hall as the duty leader sees it (supervisors only).

use axum::extract::State;
use axum::Json;
use qcall_wire as wire;

use super::{AppError, AppState, SupervisorCaller};
use crate::view;

pub async fn overview(State(s): State<AppState>, _: SupervisorCaller) -> Result<Json<wire::Overview>, AppError> {
    let day = s.engine.shared.core.read().await.state.day().to_string();
    let texts = super::read(&s, move |conn| crate::queries::texts_of_day(conn, &day)).await?;
    let core = s.engine.shared.core.read().await;
    let now = s.clock.now();
    let topo = core.state.topology();
    // The halls run here, and those run elsewhere as their servers last told.
    let halls = (0..topo.halls.len())
        .filter_map(|h| match core.state.runs_elsewhere(h) {
            false => Some(crate::overview::hall(&s.cfg, &core, h, now, texts.get(&topo.halls[h].id).copied())),
            // Never heard from yet: the hall as held here (empty), marked so (at the core: a
            // hall edge shows only its own hall).
            true => core.mirrored(h).or_else(|| (core.state.is_central()).then(|| {
                let mut o = crate::overview::hall(&s.cfg, &core, h, now, None);
                o.hall.link = core.link(h);
                o
            })),
        })
        .collect();
    Ok(Json(wire::Overview {
        at: view::time(now),
        seq: core.seq,
        halls,
        pause_reasons: topo.pause_reasons.clone(),
        calendar_missing: topo.calendar_missing(topo.local(now).0),
        upstream: super::api::upstream(&s, s.engine.shared.committed_seq.load(std::sync::atomic::Ordering::Relaxed)),
    }))
}
