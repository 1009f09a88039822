//! qcall core: the authority over every hall's queues.
//!
//! - [`domain`]: the pure sequencing state machine (no IO, time passed in);
//! - [`store`]: SQLite persistence; [`engine`]: the single writer with group commit;
//! - [`server`]: HTTP + WebSocket API; [`view`]: domain -> wire types;
//! - [`config`]: TOML -> validated config; [`auth`]: tokens and PINs; [`clock`]: where time
//!   comes from; [`queries`]: read-only database queries (old tickets, statistics, reports);
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
pub mod queries;
pub mod report;
pub mod server;
pub mod signin;
pub mod tls;
pub mod sim;
pub mod store;
pub mod view;
