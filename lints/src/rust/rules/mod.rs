//! One rule per file.

pub mod blocked_while_owning;
pub mod client_pool_disabled;
pub mod eof_ignored;
pub mod listener_never_accepted;
pub mod relay_half_close_unbounded;
pub mod server_keepalive_disabled;
pub mod socket_leaked;
pub mod stored_never_removed;
pub mod stream_never_registered;
pub mod zero_linger;

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::registry::Rule;

pub type Check = fn(&Context<'_>, &mut Vec<Diagnostic>);

pub static ALL: &[(&Rule, Check)] = &[
    (&eof_ignored::EOF_IGNORED, eof_ignored::check),
    (&zero_linger::ZERO_LINGER, zero_linger::check),
    (&socket_leaked::SOCKET_LEAKED, socket_leaked::check),
    (
        &stored_never_removed::STORED_NEVER_REMOVED,
        stored_never_removed::check,
    ),
    (
        &stream_never_registered::STREAM_NEVER_REGISTERED,
        stream_never_registered::check,
    ),
    (
        &blocked_while_owning::BLOCKED_WHILE_OWNING,
        blocked_while_owning::check,
    ),
    (
        &listener_never_accepted::LISTENER_NEVER_ACCEPTED,
        listener_never_accepted::check,
    ),
    (
        &server_keepalive_disabled::SERVER_KEEPALIVE_DISABLED,
        server_keepalive_disabled::check,
    ),
    (
        &client_pool_disabled::CLIENT_POOL_DISABLED,
        client_pool_disabled::check,
    ),
    (
        &relay_half_close_unbounded::RELAY_HALF_CLOSE_UNBOUNDED,
        relay_half_close_unbounded::check,
    ),
];
