//! Reports this display's audio health to the server (`POST /api/v1/devices/{id}/status`), so
//! the supervisor view can show a hall whose TV cannot speak.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use qcall_wire::DeviceStatusReport;
use tracing::{debug, warn};

use crate::config::Config;
use crate::net::Backoff;
use crate::player::PlayerEvent;

/// The status report a player event calls for, if any.
pub fn audio_report(event: &PlayerEvent) -> Option<DeviceStatusReport> {
    match event {
        PlayerEvent::DeviceReady => Some(DeviceStatusReport { ok: true, code: String::new(), message: String::new() }),
        PlayerEvent::NoDevice { reason } => Some(DeviceStatusReport {
            ok: false,
            code: "no_audio".into(),
            message: format!("无音频设备，叫号不能播报 / no audio device: {reason}")
                .chars()
                .take(200)
                .collect(),
        }),
        _ => None,
    }
}

/// Starts a thread that turns player events into status reports, retrying with backoff while
/// the server cannot be reached. Does nothing when the config names no device.
pub fn spawn_reporter(cfg: &Config, events: mpsc::Receiver<PlayerEvent>) -> Option<JoinHandle<()>> {
    let (device, token) = cfg.device.clone()?;
    let url = format!("{}/api/v1/devices/{device}/status", cfg.server);
    let (initial, max) = (cfg.backoff_initial, cfg.backoff_max);
    std::thread::Builder::new()
        .name("qcall-status".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
            let client = reqwest::Client::new();
            for event in events {
                let Some(report) = audio_report(&event) else { continue };
                let mut backoff = Backoff::new(initial, max);
                for attempt in 1..=20 {
                    let sent = rt.block_on(client.post(&url).bearer_auth(&token).json(&report).send());
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            debug!(ok = report.ok, "device status reported");
                            break;
                        }
                        Ok(r) if r.status().is_client_error() => {
                            warn!(status = %r.status(), %url, "device status refused");
                            break;
                        }
                        Ok(r) => debug!(status = %r.status(), attempt, "device status not taken"),
                        Err(e) => debug!(error = %e, attempt, "device status not sent"),
                    }
                    std::thread::sleep(backoff.next_wait().min(Duration::from_secs(30)));
                }
            }
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_events_map_to_reports() {
        assert!(audio_report(&PlayerEvent::DeviceReady).unwrap().ok);
        let r = audio_report(&PlayerEvent::NoDevice { reason: "DeviceNotAvailable".into() }).unwrap();
        assert!(!r.ok);
        assert_eq!(r.code, "no_audio");
        assert!(r.message.contains("DeviceNotAvailable"));
        assert!(audio_report(&PlayerEvent::Finished { id: 1 }).is_none());
    }
}
