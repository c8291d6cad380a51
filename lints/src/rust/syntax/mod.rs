//! Reading syntax without types, the bottom layer of the Rust analysis: paths as written after
//! `use`, literal zeros, builder and method chains, the functions a visitor is inside, and what
//! the arguments of HTTP server builders mean. Nothing here knows about connections.

pub mod calls;
pub mod chains;
pub mod desugar;
pub mod enclosing;
pub mod http_values;
pub mod nesting;
pub mod patterns;
