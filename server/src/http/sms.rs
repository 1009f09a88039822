//! Sending text messages: the request [`crate::sms`] makes, over HTTP, and the provider's
//! answer read back. A one-time code is sent while the booker waits (a late code is no use), so
//! it has no outbox: a failure is answered at once (`sms_unavailable`). The texts about tickets
//! (near turn, called) go through the outbox ([`spawn_texts`]). Every failure is logged and
//! raises the `sms_failing` alert until a message goes through again.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::config::Sms;
use crate::sms::Message;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no text messages are configured ([sms])")]
    NotConfigured,
    #[error("{0}")]
    Failed(String),
}

pub struct Sender {
    sms: Option<Sms>,
    http: reqwest::Client,
}

impl Sender {
    pub fn new(sms: Option<Sms>) -> Sender {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10)).connect_timeout(Duration::from_secs(5));
        match qcall_client::tls_client_config(None) {
            Ok(tls) => builder = builder.use_preconfigured_tls((*tls).clone()),
            Err(e) => tracing::error!(error = %e, "no TLS for the SMS provider"),
        }
        Sender { sms, http: builder.build().unwrap_or_default() }
    }

    pub fn configured(&self) -> bool {
        self.sms.is_some()
    }

    /// Sends `msg` at `now`; records the outcome for the `sms_failing` alert.
    pub async fn send(&self, s: &super::AppState, msg: &Message, now: crate::domain::Millis) -> Result<(), SendError> {
        let signals = &s.engine.shared.signals;
        let settings = match &self.sms {
            None => return Err(SendError::NotConfigured),
            Some(Sms::Log) => {
                // Trying out only (refused with a public face): the text, with the code, in the log.
                tracing::info!(phone = %crate::sms::mask(&msg.phone), purpose = msg.purpose.as_str(), text = %msg.purpose.text(&msg.params), "sms (log provider)");
                signals.sms_ok_at.store(now, Ordering::Relaxed);
                return Ok(());
            }
            Some(Sms::Provider(settings)) => settings,
        };
        let nonce = format!("{:032x}", rand::random::<u128>());
        let req = settings.request(msg, now.div_euclid(1000), &nonce);
        let mut http = self.http.post(&req.url);
        for (k, v) in &req.headers {
            http = http.header(k.as_str(), v.as_str());
        }
        let provider = settings.provider_name();
        let outcome = match http.body(req.body).send().await {
            Err(e) => Err(format!("{provider}: {e}")),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.bytes().await.unwrap_or_default();
                settings.accepted(status, &body).map_err(|r| format!("{provider} refused: {r}"))
            }
        };
        match outcome {
            Ok(()) => {
                signals.sms_ok_at.store(now, Ordering::Relaxed);
                tracing::info!(phone = %crate::sms::mask(&msg.phone), purpose = msg.purpose.as_str(), provider, "sms sent");
                Ok(())
            }
            Err(e) => {
                signals.sms_failed_at.store(now, Ordering::Relaxed);
                tracing::error!(phone = %crate::sms::mask(&msg.phone), purpose = msg.purpose.as_str(), error = %e, "sms not sent");
                Err(SendError::Failed(e))
            }
        }
    }
}

/// Tries a text message gets before it is given up.
const MAX_TRIES: u32 = 6;
/// Longest wait between two tries of one message.
const RETRY_MAX_MS: i64 = 10 * 60_000;

/// Sends the text-message outbox (near turn, called), oldest first. A failed message is tried
/// again after 15 s, 30 s, 1 min … (at most 10 minutes), at most [`MAX_TRIES`] times; each
/// failure is logged and raises `sms_failing` for the duty leader. A message is given up when
/// its moment passed (the ticket is no longer waiting, or no longer called) or its number had
/// `per_number_per_day` messages today. Numbers are masked in every log line.
pub fn spawn_texts(s: super::AppState) {
    tokio::spawn(async move {
        let s = &s;
        super::drain_outbox(s, "text-message outbox", |c, now| crate::queries::texts_due(c, now, 20), |m| async move {
            let update = send_one(s, &m).await;
            s.engine.submit(crate::engine::Request::Notice(update)).await.is_ok()
        })
        .await;
    });

    async fn send_one(s: &super::AppState, m: &crate::queries::DueText) -> crate::store::NoticeUpdate {
        use crate::store::NoticeUpdate;
        let now = s.clock.now();
        let give_up = |why: &str| {
            tracing::info!(outbox = m.id, ticket = m.ticket, kind = %m.kind, why, "text message given up");
            NoticeUpdate::GaveUp { id: m.id, at: now, why: why.to_string() }
        };
        // Its moment: a near-turn or check-in message for a ticket still waiting, a called one
        // for a ticket still at its counter.
        let still = {
            let core = s.engine.shared.core.read().await;
            core.state.ticket(m.ticket).map(|t| t.state)
        };
        let want = if m.kind == crate::texts::CALLED { crate::domain::TicketState::Called } else { crate::domain::TicketState::Waiting };
        if still != Some(want) {
            return give_up("its moment passed");
        }
        if m.attempts >= MAX_TRIES {
            return give_up("tried too often");
        }
        let (reader, phone, day) = (s.reader.clone(), m.phone.clone(), m.day.clone());
        let sent = tokio::task::spawn_blocking(move || crate::queries::texts_sent(&mut reader.lock(), &phone, &day)).await;
        if matches!(sent, Ok(Ok(n)) if n >= s.cfg.sms_per_number_per_day) {
            return give_up("the number's messages for today are used up");
        }
        let Some(purpose) = crate::sms::Purpose::parse(&m.kind) else { return give_up("unknown kind") };
        let params = serde_json::from_str(&m.params).unwrap_or_default();
        let msg = Message { phone: m.phone.clone(), purpose, params };
        match s.sms.send(s, &msg, now).await {
            Ok(()) => NoticeUpdate::Sent { id: m.id, at: s.clock.now() },
            Err(e) => {
                let wait = (15_000i64 << m.attempts.min(20)).min(RETRY_MAX_MS);
                NoticeUpdate::Failed { id: m.id, next_at: s.clock.now() + wait, error: e.to_string() }
            }
        }
    }
}
