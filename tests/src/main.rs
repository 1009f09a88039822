//! End-to-end tests: the real binaries, a real SQLite file, real loopback HTTP and WebSocket.
//! Run `cargo build --workspace` first (the README's test command does).

mod util;

mod alerts;
mod api;
mod appointments;
mod backups;
mod client;
mod day;
mod edges;
mod estimates;
mod faults;
mod guidance;
mod kiosk;
mod operations;
mod packaging;
mod postgres;
mod printer_sim;
mod printers;
mod proxy;
mod public;
mod readme;
mod remote;
mod security;
mod simulate;
mod tls;
mod display;
mod web;
