//! One rule per file.

pub mod client_pool_disabled;
pub mod listener_never_accepted;
pub mod server_keepalive_disabled;
pub mod socket_leaked;
pub mod zero_linger;

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::registry::Rule;

pub type Check = fn(&Context<'_>, &mut Vec<Diagnostic>);

pub static ALL: &[(&Rule, Check)] = &[
    (&zero_linger::ZERO_LINGER, zero_linger::check),
    (&socket_leaked::SOCKET_LEAKED, socket_leaked::check),
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
];
