//! Alerts for the duty leader: listed and acknowledged by supervisors; checked by the ticker;
//! delivered to `[alerts] webhook_url` from the outbox, retried with backoff until taken.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::{AppError, AppState, NoBody, StrictQuery, SupervisorCaller};
use crate::engine::{Outcome, Request};
use crate::store::OutboxUpdate;

pub async fn list(State(s): State<AppState>, _: SupervisorCaller, StrictQuery(q): StrictQuery<wire::AlertsQuery>) -> Result<Json<wire::AlertsResponse>, AppError> {
    let alerts = match q.state.as_deref().unwrap_or("open") {
        "open" => {
            let core = s.engine.shared.core.read().await;
            let mut open: Vec<wire::Alert> = core.alerts.values().filter(|a| a.is_open()).cloned().collect();
            open.sort_by_key(|a| std::cmp::Reverse(a.id));
            open
        }
        "active" => {
            let core = s.engine.shared.core.read().await;
            let mut active: Vec<wire::Alert> = core.alerts.values().filter(|a| a.cleared_at.is_none()).cloned().collect();
            active.sort_by_key(|a| std::cmp::Reverse(a.id));
            active
        }
        "all" => {
            super::read(&s, move |conn| crate::queries::alerts(conn, 500)).await?
        }
        other => return Err(AppError::new(ErrorCode::BadQuery, format!("state is open, active or all, not `{}`", super::extract::clip(other)))),
    };
    Ok(Json(wire::AlertsResponse { alerts }))
}

pub async fn ack(State(s): State<AppState>, SupervisorCaller(who): SupervisorCaller, Path(id): Path<u64>, _: NoBody) -> Result<Json<wire::Alert>, AppError> {
    let by = match &who {
        crate::auth::Principal::Supervisor { id } => id.clone(),
        _ => unreachable!("checked above"),
    };
    let row = super::audit_row(&s, &super::actor(&who), "alert_ack", &id.to_string(), "", None);
    let outcome = s.engine.submit_audited(Request::AckAlert { id, by: by.clone() }, row).await?;
    match outcome {
        Outcome::Alert(alert) => Ok(Json(alert)),
        other => Err(AppError::internal(format!("acknowledging answered {other:?}"))),
    }
}

/// Longest wait between two attempts at one webhook message.
const BACKOFF_MAX_MS: i64 = 5 * 60_000;

/// Delivers the webhook outbox, oldest first, one message at a time: a message is sent until
/// the receiver answers 2xx, waiting 1 s, 2 s, 4 s … (at most 5 minutes) between attempts. The
/// outbox is in the database, so nothing is lost in a restart. With `webhook_secret_file`,
/// each post carries `X-Qcall-Timestamp` and `X-Qcall-Signature` (hex HMAC-SHA256 of
/// "{timestamp}.{body}"): the receiver knows it came from here, and when.
pub fn spawn_webhook(s: AppState, url: String) {
    tokio::spawn(async move {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10)).connect_timeout(Duration::from_secs(5));
        if url.starts_with("https://") {
            match qcall_client::tls_client_config(None) {
                Ok(tls) => builder = builder.use_preconfigured_tls((*tls).clone()),
                Err(e) => tracing::error!(error = %e, "no TLS for the webhook"),
            }
        }
        let http = match builder.build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook client cannot start; alerts are not sent");
                return;
            }
        };
        let (s, http, url) = (&s, &http, &url);
        super::drain_outbox(s, "webhook outbox", |c, now| crate::queries::outbox_due(c, now, 20), |(id, body, attempts): (i64, String, u32)| async move {
            let mut req = http.post(url.as_str()).header("content-type", "application/json");
            // Signed like the SMS webhook: HMAC-SHA256 of "{timestamp}.{body}".
            if let Some(secret) = &s.cfg.webhook_secret {
                let ts = s.clock.now().div_euclid(1000);
                req = req
                    .header("x-qcall-timestamp", ts.to_string())
                    .header("x-qcall-signature", crate::sms::webhook_signature(secret, ts, body.as_bytes()));
            }
            let r = req.body(body).send().await;
            let now = s.clock.now();
            let update = match r {
                Ok(resp) if resp.status().is_success() => {
                    tracing::info!(outbox = id, attempts = attempts + 1, "alert delivered to the webhook");
                    OutboxUpdate::Delivered { id, at: now }
                }
                other => {
                    let error = match other {
                        Ok(resp) => format!("HTTP {}", resp.status()),
                        Err(e) => e.to_string(),
                    };
                    let wait = (1000i64 << attempts.min(20)).min(BACKOFF_MAX_MS);
                    tracing::warn!(outbox = id, attempts = attempts + 1, %error, retry_in_ms = wait, "webhook delivery failed");
                    OutboxUpdate::Failed { id, next_at: now + wait, error }
                }
            };
            s.engine.submit(Request::Outbox(update)).await.is_ok()
        })
        .await;
    });
}
