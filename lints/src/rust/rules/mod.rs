//! One rule per file.

pub mod zero_linger;

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::registry::Rule;

pub type Check = fn(&Context<'_>, &mut Vec<Diagnostic>);

pub static ALL: &[(&Rule, Check)] = &[(&zero_linger::ZERO_LINGER, zero_linger::check)];
