//! The player: a thread that owns rodio's output and queues sample runs on one `Sink`, so a new
//! announcement never cuts off the one being spoken and they play back to back in order.
//!
//! rodio's `OutputStream` is `!Send` and playback stops when it is dropped, so it lives on the
//! player thread. With no audio device the player logs it once and drops announcements.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rodio::buffer::SamplesBuffer;
use rodio::Source;
use tracing::{debug, info, warn};

use crate::{to_f32, Format};

/// Where the player sends sound.
pub enum Output {
    /// The default audio device (falls back to silence with one log line when there is none).
    Device,
    /// A sink made by the caller, e.g. `rodio::Sink::new()` whose output is pulled offline.
    Sink(rodio::Sink),
}

/// What the player reports about each announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerEvent {
    /// The audio device is open.
    DeviceReady,
    /// No audio device could be opened; announcements are not played.
    NoDevice { reason: String },
    /// The announcement is queued on the sink.
    Queued { id: u64 },
    /// Its first sample was taken by the output.
    Started { id: u64, at: Instant },
    /// Its last sample was taken by the output.
    Finished { id: u64 },
}

enum Command {
    Play { id: u64, format: Format, samples: Vec<i16> },
    Clear,
    Shutdown,
}

/// Handle to the player thread. Dropping it stops playback.
pub struct Player {
    tx: mpsc::Sender<Command>,
    next_id: std::sync::atomic::AtomicU64,
    thread: Option<JoinHandle<()>>,
}

impl Player {
    /// Starts the player thread. `events`, when given, receives [`PlayerEvent`]s.
    pub fn spawn(output: Output, events: Option<mpsc::Sender<PlayerEvent>>) -> Player {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("qcall-audio".into())
            .spawn(move || run(output, rx, events))
            .expect("spawn audio thread");
        Player { tx, next_id: std::sync::atomic::AtomicU64::new(1), thread: Some(thread) }
    }

    /// Queues samples after everything already queued; returns the announcement's id.
    pub fn play(&self, format: Format, samples: Vec<i16>) -> u64 {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self.tx.send(Command::Play { id, format, samples });
        id
    }

    /// Drops everything queued and playing (used by the latency measurement between calls).
    pub fn clear(&self) {
        let _ = self.tx.send(Command::Clear);
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(output: Output, rx: mpsc::Receiver<Command>, events: Option<mpsc::Sender<PlayerEvent>>) {
    let emit = |e: PlayerEvent| {
        if let Some(tx) = &events {
            let _ = tx.send(e);
        }
    };
    // Keep the stream alive for as long as the sink plays on it.
    let (_stream, sink) = match output {
        Output::Sink(sink) => (None, Some(sink)),
        Output::Device => match rodio::OutputStreamBuilder::open_default_stream() {
            Ok(mut stream) => {
                stream.log_on_drop(false);
                info!(config = ?stream.config(), "audio output opened");
                emit(PlayerEvent::DeviceReady);
                let sink = rodio::Sink::connect_new(stream.mixer());
                (Some(stream), Some(sink))
            }
            Err(e) => {
                warn!(error = %e, "no audio device: announcements are shown but not spoken");
                emit(PlayerEvent::NoDevice { reason: e.to_string() });
                (None, None)
            }
        },
    };
    while let Ok(cmd) = rx.recv() {
        match cmd {
            Command::Play { id, format, samples } => {
                let Some(sink) = &sink else {
                    debug!(id, "announcement not played (no audio device)");
                    continue;
                };
                let data: Vec<f32> = samples.iter().map(|s| to_f32(*s)).collect();
                let buffer = SamplesBuffer::new(format.channels, format.sample_rate, data);
                sink.append(Tracked { inner: buffer, id, started: false, finished: false, events: events.clone() });
                emit(PlayerEvent::Queued { id });
            }
            Command::Clear => {
                if let Some(sink) = &sink {
                    sink.clear();
                    sink.play();
                }
            }
            Command::Shutdown => break,
        }
    }
}

/// A source that reports when its first and last samples are taken.
struct Tracked {
    inner: SamplesBuffer,
    id: u64,
    started: bool,
    finished: bool,
    events: Option<mpsc::Sender<PlayerEvent>>,
}

impl Iterator for Tracked {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        let s = self.inner.next();
        if !self.started {
            self.started = true;
            if let Some(tx) = &self.events {
                let _ = tx.send(PlayerEvent::Started { id: self.id, at: Instant::now() });
            }
        }
        if s.is_none() && !self.finished {
            self.finished = true;
            if let Some(tx) = &self.events {
                let _ = tx.send(PlayerEvent::Finished { id: self.id });
            }
        }
        s
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl Source for Tracked {
    fn current_span_len(&self) -> Option<usize> {
        self.inner.current_span_len()
    }
    fn channels(&self) -> rodio::ChannelCount {
        self.inner.channels()
    }
    fn sample_rate(&self) -> rodio::SampleRate {
        self.inner.sample_rate()
    }
    fn total_duration(&self) -> Option<Duration> {
        self.inner.total_duration()
    }
}

/// Plays `samples` through a fresh offline rodio sink and returns exactly what the sink puts
/// out for them: the path `announce --out` uses to write a WAV file without a sound card.
pub fn render_offline(format: Format, samples: Vec<i16>) -> Vec<i16> {
    let (sink, mut out) = rodio::Sink::new();
    let (tx, rx) = mpsc::channel();
    let player = Player::spawn(Output::Sink(sink), Some(tx));
    let len = samples.len();
    let id = player.play(format, samples);
    // Pull only once the announcement is on the queue, so the first sample pulled is its first.
    loop {
        match rx.recv() {
            Ok(PlayerEvent::Queued { id: q }) if q == id => break,
            Ok(_) => {}
            Err(_) => return Vec::new(),
        }
    }
    let pulled: Vec<i16> = out.by_ref().take(len).map(crate::from_f32).collect();
    drop(player);
    pulled
}
