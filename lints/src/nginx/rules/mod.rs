//! One rule per file.

pub mod client_keepalive;
pub mod connection_close_header;
pub mod invalid_keepalive_value;
pub mod keepalive_disabled;
pub mod keepalive_disabled_for_browsers;
pub mod keepalive_requests_low;
pub mod keepalive_time_short;
pub mod keepalive_timeout_short;
pub mod obsolete_http2_directive;
pub mod upstream;
pub mod upstream_keepalive_limits_low;
pub mod upstream_keepalive_unused;
pub mod upstream_without_keepalive;

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::registry::Rule;

pub type Check = fn(&Context<'_>, &mut Vec<Diagnostic>);

pub static ALL: &[(&Rule, Check)] = &[
    (
        &keepalive_disabled::KEEPALIVE_DISABLED,
        keepalive_disabled::check,
    ),
    (
        &upstream_without_keepalive::UPSTREAM_WITHOUT_KEEPALIVE,
        upstream_without_keepalive::check,
    ),
    (
        &upstream_keepalive_unused::UPSTREAM_KEEPALIVE_UNUSED,
        upstream_keepalive_unused::check,
    ),
    (
        &upstream_keepalive_limits_low::UPSTREAM_KEEPALIVE_LIMITS_LOW,
        upstream_keepalive_limits_low::check,
    ),
    (
        &keepalive_timeout_short::KEEPALIVE_TIMEOUT_SHORT,
        keepalive_timeout_short::check,
    ),
    (
        &keepalive_requests_low::KEEPALIVE_REQUESTS_LOW,
        keepalive_requests_low::check,
    ),
    (
        &keepalive_time_short::KEEPALIVE_TIME_SHORT,
        keepalive_time_short::check,
    ),
    (
        &keepalive_disabled_for_browsers::KEEPALIVE_DISABLED_FOR_BROWSERS,
        keepalive_disabled_for_browsers::check,
    ),
    (
        &connection_close_header::CONNECTION_CLOSE_HEADER,
        connection_close_header::check,
    ),
    (
        &obsolete_http2_directive::OBSOLETE_HTTP2_DIRECTIVE,
        obsolete_http2_directive::check,
    ),
    (
        &invalid_keepalive_value::INVALID_KEEPALIVE_VALUE,
        invalid_keepalive_value::check,
    ),
];
