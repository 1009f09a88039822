//! qcall server: the authority over every hall's queues, around the pure `qcall-core`.
//!
//! - [`engine`]: the single writer with group commit; [`store`]: SQLite or PostgreSQL;
//!   [`edge`]: a hall edge's upload of its log to the core;
//! - [`http`]: the HTTP + WebSocket API and the pages; [`view`]: domain -> wire types;
//! - [`config`]: TOML -> validated config; [`auth`]: who is calling; [`secret`]: token and
//!   PIN hashes; [`clock`]: where time
//!   comes from; [`queries`]: read-only database queries (old tickets, statistics, reports);
//! - [`net`]: client addresses behind proxies; [`sms`]: text messages, signed per provider;
//!   [`phone_codes`]: one-time codes that prove a booker's phone;
//! - [`maintenance`]: backups, restores, checks; [`bench`]: `qcall bench`; [`sim_store`]: the
//!   simulator's days through the real engine and store.
//!
//! The core's modules are used under their own names (`crate::domain`, …).

pub use qcall_core::{alerts, domain, report, sim};

pub mod auth;
pub mod bench;
pub mod clock;
pub mod config;
pub mod edge;
pub mod engine;
pub mod forecast;
pub mod http;
pub mod maintenance;
pub mod metrics;
pub mod net;
pub mod overview;
pub mod phone_codes;
pub mod queries;
pub mod secret;
pub mod signin;
pub mod sim_store;
pub mod sms;
pub mod store;
pub mod texts;
pub mod tls;
pub mod view;

#[cfg(test)]
mod demo_tests;
