//! Sending text messages: the request [`crate::sms`] makes, over HTTP, and the provider's
//! answer read back. A one-time code is sent while the booker waits (a late code is no use), so
//! there is no outbox: a failure is answered at once (`sms_unavailable`), logged, and raises the
//! `sms_failing` alert until a message goes through again.

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
