//! Per-function paths and summaries, on top of [`super::model`]: the control-flow view, the
//! function summaries a file and its crate share, spawned tasks and what they own, and the
//! questions each CLOSE_WAIT rule asks of one function (the end-of-stream path of a read, the
//! removal of a stored connection, a registration, an accept loop, a leak, a wait the peer
//! cannot end). Rules in [`super::rules`] call these; nothing here reports a finding.

pub mod accept_loops;
pub mod control;
pub mod crate_facts;
pub mod eof;
pub mod leaks;
pub mod listeners;
pub mod mio_tokens;
pub mod ownership;
pub mod per_request;
pub mod registration;
pub mod relays;
pub mod removal;
pub mod select;
pub mod summary;
pub mod tasks;
pub mod waits;
