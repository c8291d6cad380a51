//! waitlint's rules and the model they report with: the rule registry, diagnostics, settings.
//! Nothing here prints, reads the terminal or knows about output formats.

pub mod diagnostic;
pub mod meta;
pub mod nginx;
pub mod registry;
pub mod rust;
pub mod settings;
pub mod suppress;
pub mod sysctl;

pub use diagnostic::{Diagnostic, Edit, FileIndex, Fix, Label, Location, Severity};
pub use registry::{Family, Rule};
pub use settings::{NginxVersion, OptionValue, Settings};

/// Every rule, in code order. A rule is added here and in its family's `rules::ALL`.
pub(crate) static ALL_RULES: &[&registry::Rule] = &[
    &nginx::rules::keepalive_disabled::KEEPALIVE_DISABLED,
    &nginx::rules::keepalive_timeout_short::KEEPALIVE_TIMEOUT_SHORT,
    &nginx::rules::keepalive_requests_low::KEEPALIVE_REQUESTS_LOW,
    &nginx::rules::keepalive_time_short::KEEPALIVE_TIME_SHORT,
    &nginx::rules::keepalive_disabled_for_browsers::KEEPALIVE_DISABLED_FOR_BROWSERS,
    &nginx::rules::connection_close_header::CONNECTION_CLOSE_HEADER,
    &nginx::rules::upstream_without_keepalive::UPSTREAM_WITHOUT_KEEPALIVE,
    &nginx::rules::upstream_keepalive_unused::UPSTREAM_KEEPALIVE_UNUSED,
    &nginx::rules::upstream_keepalive_limits_low::UPSTREAM_KEEPALIVE_LIMITS_LOW,
    &nginx::rules::obsolete_http2_directive::OBSOLETE_HTTP2_DIRECTIVE,
    &nginx::rules::invalid_keepalive_value::INVALID_KEEPALIVE_VALUE,
    &rust::rules::eof_ignored::EOF_IGNORED,
    &rust::rules::stored_never_removed::STORED_NEVER_REMOVED,
    &rust::rules::socket_leaked::SOCKET_LEAKED,
    &rust::rules::listener_never_accepted::LISTENER_NEVER_ACCEPTED,
    &rust::rules::stream_never_registered::STREAM_NEVER_REGISTERED,
    &rust::rules::blocked_while_owning::BLOCKED_WHILE_OWNING,
    &rust::rules::zero_linger::ZERO_LINGER,
    &rust::rules::server_keepalive_disabled::SERVER_KEEPALIVE_DISABLED,
    &rust::rules::client_pool_disabled::CLIENT_POOL_DISABLED,
    &rust::rules::relay_half_close_unbounded::RELAY_HALF_CLOSE_UNBOUNDED,
    &sysctl::rules::tcp_tw_recycle::TCP_TW_RECYCLE,
    &sysctl::rules::tw_reuse_without_timestamps::TW_REUSE_WITHOUT_TIMESTAMPS,
    &sysctl::rules::tcp_timestamps_disabled::TCP_TIMESTAMPS_DISABLED,
    &sysctl::rules::tw_reuse_server_only::TW_REUSE_SERVER_ONLY,
    &sysctl::rules::max_tw_buckets_low::MAX_TW_BUCKETS_LOW,
    &sysctl::rules::fin_timeout_misconception::FIN_TIMEOUT_MISCONCEPTION,
    &sysctl::rules::local_port_range_narrow::LOCAL_PORT_RANGE_NARROW,
    &meta::SYNTAX_ERROR,
    &meta::INCLUDE_ERROR,
    &meta::UNUSED_SUPPRESSION,
    &meta::RUST_PARSE_FAILURE,
];
