//! waitlint's rules and the model they report with: the rule registry, diagnostics, settings.
//! Nothing here prints, reads the terminal or knows about output formats.

pub mod diagnostic;
pub mod meta;
pub mod nginx;
pub mod registry;
pub mod settings;
pub mod suppress;

pub use diagnostic::{Diagnostic, Edit, FileIndex, Fix, Label, Location, Severity};
pub use registry::{Family, Rule};
pub use settings::{NginxVersion, OptionValue, Settings};

/// Every rule, in code order. A rule is added here and in its family's `rules::ALL`.
pub(crate) static ALL_RULES: &[&registry::Rule] = &[
    &nginx::rules::keepalive_disabled::KEEPALIVE_DISABLED,
    &meta::SYNTAX_ERROR,
    &meta::INCLUDE_ERROR,
    &meta::UNUSED_SUPPRESSION,
];
