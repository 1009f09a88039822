//! qcall kiosk (取号机): the touchscreen that issues tickets and prints them on an ESC/POS
//! printer.
//!
//! - [`escpos`]: the pure ticket renderer and the printer status protocol.
//! - [`printer`]: the printer port (serial or `file:PATH`).
//! - [`config`]: configuration, TOML -> raw -> validated.
//! - [`controller`]: the kiosk's logic, free of IO (events in, commands and a view out).
//! - [`api`]: the server's HTTP API and event stream.
//! - [`worker`]: the IO thread (tokio) and a windowless driver ([`worker::Headless`]).
//! - [`ui`]: the Slint window, its wiring and headless screenshots.

pub mod api;
pub mod config;
pub mod controller;
pub mod escpos;
pub mod printer;
pub mod ui;
pub mod worker;
