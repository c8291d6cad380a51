//! One rule per file.

pub mod fin_timeout_misconception;
pub mod local_port_range_narrow;
pub mod max_tw_buckets_low;
pub mod tcp_timestamps_disabled;
pub mod tcp_tw_recycle;
pub mod tw_reuse_server_only;
pub mod tw_reuse_without_timestamps;

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::registry::Rule;

pub type Check = fn(&Context<'_>, &mut Vec<Diagnostic>);

/// In code order.
pub static ALL: &[(&Rule, Check)] = &[
    (&tcp_tw_recycle::TCP_TW_RECYCLE, tcp_tw_recycle::check),
    (
        &tw_reuse_without_timestamps::TW_REUSE_WITHOUT_TIMESTAMPS,
        tw_reuse_without_timestamps::check,
    ),
    (
        &tcp_timestamps_disabled::TCP_TIMESTAMPS_DISABLED,
        tcp_timestamps_disabled::check,
    ),
    (
        &tw_reuse_server_only::TW_REUSE_SERVER_ONLY,
        tw_reuse_server_only::check,
    ),
    (
        &max_tw_buckets_low::MAX_TW_BUCKETS_LOW,
        max_tw_buckets_low::check,
    ),
    (
        &fin_timeout_misconception::FIN_TIMEOUT_MISCONCEPTION,
        fin_timeout_misconception::check,
    ),
    (
        &local_port_range_narrow::LOCAL_PORT_RANGE_NARROW,
        local_port_range_narrow::check,
    ),
];
