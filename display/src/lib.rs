//! qcall hall display (大屏): the hall's live calls, waiting counts and publicity ticker on a
//! Slint screen, with voice announcements played through rodio.
//!
//! - [`announce`]: pure ticket + counter -> clip sequence.
//! - [`voice`]: the clips on disk; rendering a sequence to samples; WAV files.
//! - [`player`]: the audio thread (rodio) that queues announcements back to back.
//! - [`controller`]: state after a series of stream inputs, and the view model.
//! - [`net`]: the WebSocket worker with reconnect, backoff and `since`.
//! - [`config`]: TOML -> validated config.
//! - [`status`]: reports the display's audio health to the server (supervisor alerts).
//! - [`ui`]: the Slint window, the headless renderer and the one place that sets UI properties.
//! - [`bench`]: latency measurement against a running server.

pub mod announce;
pub mod bench;
pub mod config;
pub mod controller;
pub mod net;
pub mod player;
pub mod status;
pub mod ui;
pub mod voice;
