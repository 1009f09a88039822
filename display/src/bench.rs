//! `qcall-display bench-latency`: measures, over N calls against a running server, the time from
//! the call-next request to (1) the event reaching the display, (2) the frame that shows it being
//! rendered (software renderer, full frame) and (3) the announcement's first sample being taken
//! by the audio output. A measurement tool, not a test.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use qcall_client::{Client, ClientOptions};
use qcall_wire::{EventKind, IssueRequest, SessionRequest};
use thiserror::Error;

use crate::config::Config;
use crate::controller::{Controller, Input};
use crate::net::NetWorker;
use crate::player::{Announcer, Output, PlayerEvent};
use crate::ui::{apply, Headless, Shell, UiError};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub calls: usize,
    pub counter: String,
    /// Clerk who signs in at `counter` to call.
    pub clerk: String,
    pub pin: String,
    pub kiosk_token: String,
    pub service: String,
}

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("{what}: {source}")]
    Http { what: String, source: qcall_client::ClientError },
    #[error("no {what} within {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error(transparent)]
    Ui(#[from] UiError),
    #[error(transparent)]
    Voice(#[from] crate::voice::VoiceError),
}

/// Percentiles of one measured interval, in milliseconds.
#[derive(Debug, Clone)]
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn stats(mut ms: Vec<f64>) -> Option<Stats> {
    if ms.is_empty() {
        return None;
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let pick = |p: f64| ms[(((ms.len() as f64) * p).ceil() as usize).clamp(1, ms.len()) - 1];
    Some(Stats { n: ms.len(), p50: pick(0.50), p99: pick(0.99), max: ms[ms.len() - 1] })
}

#[derive(Debug, Clone)]
pub struct Report {
    pub event: Option<Stats>,
    pub frame: Option<Stats>,
    pub sound: Option<Stats>,
    pub audio: String,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = |f: &mut std::fmt::Formatter<'_>, name: &str, s: &Option<Stats>| match s {
            Some(s) => writeln!(f, "{name:<34} n={:<4} p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms", s.n, s.p50, s.p99, s.max),
            None => writeln!(f, "{name:<34} not measured"),
        };
        line(f, "call-next -> event at display", &self.event)?;
        line(f, "call-next -> frame rendered", &self.frame)?;
        line(f, "call-next -> first audio sample", &self.sound)?;
        writeln!(f, "audio output: {}", self.audio)
    }
}

fn http(what: &str) -> impl FnOnce(qcall_client::ClientError) -> BenchError + '_ {
    move |source| BenchError::Http { what: what.to_string(), source }
}

pub fn run(cfg: &Config, opts: &BenchOptions) -> Result<Report, BenchError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let client = Client::new(&cfg.server, &ClientOptions { ca_file: cfg.link.ca_file.clone(), ..ClientOptions::default() })
        .map_err(http("server address"))?;

    // Sign in at the counter.
    let session = SessionRequest { clerk: opts.clerk.clone(), pin: opts.pin.clone(), counter: opts.counter.clone(), take_over: true };
    let clerk = client.with_token(&rt.block_on(client.sign_in(&session)).map_err(http("sign-in"))?.token);

    // The counter may still be serving someone from before.
    let _ = rt.block_on(clerk.finish(&opts.counter));

    // Tickets to call.
    let kiosk = client.with_token(&opts.kiosk_token);
    for _ in 0..opts.calls {
        let req = IssueRequest { service: opts.service.clone(), priority: None, request_id: None };
        rt.block_on(kiosk.issue(&cfg.hall, &req)).map_err(http("issue"))?;
    }

    let (ptx, prx) = mpsc::channel();
    let announcer = Announcer::new(&cfg.voice_dir, cfg.announce.clone(), Output::Device, Some(ptx))?;
    let mut shell = Shell::new(Controller::new(cfg.controller_settings()), Some(announcer));
    let mut screen = Headless::new(1920, 1080)?;

    let (ntx, nrx) = mpsc::channel::<(Input, Instant)>();
    let _worker = NetWorker::spawn(cfg.link_settings(), move |i| {
        let _ = ntx.send((i, Instant::now()));
    });
    let wait = Duration::from_secs(10);
    let timeout = |what: &str| BenchError::Timeout { what: what.to_string(), secs: wait.as_secs() };
    loop {
        let (input, _) = nrx.recv_timeout(wait).map_err(|_| timeout("snapshot"))?;
        let snapshot = matches!(&input, Input::Message(m) if m.is_snapshot());
        shell.input(input, Utc::now());
        if snapshot {
            break;
        }
    }
    apply(&screen.app, &shell.controller.view(Utc::now()), None);
    screen.frame();

    let mut audio = "default device".to_string();
    let mut have_audio = true;
    let (mut ev, mut fr, mut so) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..opts.calls {
        let t0 = Instant::now();
        rt.block_on(clerk.call_next(&opts.counter)).map_err(http("call-next"))?;
        // Take stream inputs until our call shows up.
        let (ids, t_event) = loop {
            let (input, at) = nrx.recv_timeout(wait).map_err(|_| timeout("ticket_called event"))?;
            let ours = matches!(&input, Input::Message(m)
                if matches!(&m.kind, EventKind::TicketCalled { counter, .. } if *counter == opts.counter));
            let ids = shell.input(input, Utc::now());
            if ours {
                break (ids, at);
            }
        };
        apply(&screen.app, &shell.controller.view(Utc::now()), None);
        screen.draw_if_needed();
        let t_frame = Instant::now();
        ev.push(ms(t_event - t0));
        fr.push(ms(t_frame - t0));
        if have_audio {
            if let Some(id) = ids.first() {
                loop {
                    match prx.recv_timeout(wait) {
                        Ok(PlayerEvent::Started { id: s, at }) if s == *id => {
                            so.push(ms(at - t0));
                            break;
                        }
                        Ok(PlayerEvent::NoDevice { reason }) => {
                            audio = format!("none ({reason})");
                            have_audio = false;
                            break;
                        }
                        Ok(_) => {}
                        Err(_) => return Err(timeout("first audio sample")),
                    }
                }
            }
            if let Some(a) = &shell.announcer {
                a.player.clear();
            }
        }
        rt.block_on(clerk.finish(&opts.counter)).map_err(http("finish"))?;
    }
    Ok(Report { event: stats(ev), frame: stats(fr), sound: stats(so), audio })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_nearest_rank() {
        let s = stats((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!((s.n, s.p50, s.p99, s.max), (100, 50.0, 99.0, 100.0));
        let s = stats(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.p50, s.p99), (2.0, 3.0));
        assert!(stats(vec![]).is_none());
    }
}
