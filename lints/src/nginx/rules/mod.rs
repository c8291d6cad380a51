//! One rule per file.

pub mod keepalive_disabled;

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::registry::Rule;

pub type Check = fn(&Context<'_>, &mut Vec<Diagnostic>);

pub static ALL: &[(&Rule, Check)] = &[(
    &keepalive_disabled::KEEPALIVE_DISABLED,
    keepalive_disabled::check,
)];
