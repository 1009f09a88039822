//! qcall core: ticket sequencing across the halls, pure. Nothing here does IO or reads a
//! clock: time comes in as `now`, and the server crate (`qcall-server`) owns the engine, the
//! store, the network and the config file.
//!
//! - [`domain`]: the state machine, `State::apply(Command, now) -> Result<Vec<Event>,
//!   DomainError>`: numbering, the business day, the call-next rule, transfers, appointments,
//!   estimates, ratings;
//! - [`alerts`]: which alerts should be up for a state;
//! - [`report`]: the period report, summarised from stored rows;
//! - [`sim`]: `qcall simulate`, whole days through the domain in simulated time (the real
//!   engine and store join through [`sim::Mirror`]).

pub mod alerts;
pub mod domain;
pub mod report;
pub mod sim;
