//! The display's audio health as its device status, so the supervisor view can show a hall
//! whose TV cannot speak. Delivery (retries, again after a reconnect) is the network worker's.

use std::sync::mpsc;
use std::thread::JoinHandle;

use qcall_wire::DeviceStatusReport;

use crate::net::DeviceReporter;
use crate::player::PlayerEvent;

/// The status report a player event calls for, if any.
pub fn audio_report(event: &PlayerEvent) -> Option<DeviceStatusReport> {
    match event {
        PlayerEvent::DeviceReady => Some(DeviceStatusReport { ok: true, code: String::new(), message: String::new() }),
        PlayerEvent::NoDevice { reason } => Some(DeviceStatusReport {
            ok: false,
            code: "no_audio".into(),
            message: format!("无音频设备，叫号不能播报 / no audio device: {reason}").chars().take(200).collect(),
        }),
        _ => None,
    }
}

/// Turns the player's events into status reports for the network worker, on a thread of its own.
pub fn forward(events: mpsc::Receiver<PlayerEvent>, reporter: DeviceReporter) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("qcall-status".into())
        .spawn(move || {
            for event in events {
                if let Some(report) = audio_report(&event) {
                    reporter.report(report);
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
