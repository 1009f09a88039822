//! qcall core: the authority over every hall's queues.
//!
//! - [`domain`]: the pure sequencing state machine (no IO, time passed in);
//! - [`store`]: SQLite persistence; [`engine`]: the single writer with group commit;
//! - [`server`]: HTTP + WebSocket API; [`view`]: domain -> wire types;
//! - [`config`]: TOML -> validated config; [`auth`]: tokens and PINs; [`clock`]: where time
//!   comes from; [`queries`]: read-only database queries (old tickets, statistics, reports);
//! - [`net`]: client addresses behind proxies; [`sms`]: text messages, signed per provider;
//!   [`phone_codes`]: one-time codes that prove a booker's phone;
//! - [`sim`]: `qcall simulate`, whole days through the domain in simulated time.

pub mod alerts;
pub mod auth;
pub mod bench;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod maintenance;
pub mod metrics;
pub mod net;
pub mod phone_codes;
pub mod queries;
pub mod report;
pub mod server;
pub mod signin;
pub mod sms;
pub mod tls;
pub mod sim;
pub mod store;
pub mod view;
