//! qcall kiosk (取号机): the touchscreen that issues tickets and prints them on an ESC/POS
//! printer.
//!
//! - [`escpos`]: the pure ticket renderer and the printer status protocol.
//! - [`printer`]: the printer port: serial, USB printer-class, network (port 9100) or `file:PATH`.
//! - [`config`]: configuration, TOML -> raw -> validated.
//! - [`controller`]: the kiosk's logic, free of IO (events in, commands and a view out);
//!   [`text`]: every text on its screens.
//! - [`worker`]: the IO thread (tokio; the server through `qcall-client`) and a windowless
//!   driver ([`worker::Headless`]).
//! - [`ui`]: the Slint window and its wiring; [`screenshot`]: headless screenshots;
//!   [`bringup`]: `test-print`, `printer-setup` and `sample-ticket`; [`scanner`]: the 2D
//!   barcode scanner.
//! - [`guide`]: pure prompt -> clip sequence of the spoken guidance; [`voice`]: plays it.

pub mod bringup;
pub mod config;
pub mod controller;
pub mod escpos;
pub mod guide;
pub mod printer;
pub mod scanner;
pub mod screenshot;
pub mod text;
pub mod ui;
pub mod voice;
pub mod worker;
