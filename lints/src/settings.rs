//! What a run is configured with, after the CLI has merged `waitlint.toml` and flags. Rules read
//! it; they never read files or flags themselves.

use std::collections::BTreeMap;
use std::fmt;

use crate::diagnostic::Severity;

/// An nginx version, compared component-wise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NginxVersion(pub u32, pub u32, pub u32);

impl NginxVersion {
    /// The version assumed unless configured: nginx 1.22, the nginx of Debian 12, the oldest
    /// mainstream distribution still supported. Never guessed from the machine running the
    /// linter: CI and laptops differ.
    pub const DEFAULT: NginxVersion = NginxVersion(1, 22, 0);

    pub fn parse(s: &str) -> Option<NginxVersion> {
        let mut parts = s.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(NginxVersion(major, minor, patch))
    }
}

impl fmt::Display for NginxVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// A rule option's value as configured.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    Integer(i64),
    String(String),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub nginx_version: NginxVersion,
    /// Whether `nginx_version` was set by the user (messages then do not explain how to set it).
    pub nginx_version_configured: bool,
    /// Per-rule severity overrides (`None` = the rule is off), by rule name.
    pub severities: BTreeMap<&'static str, Option<Severity>>,
    /// Per-rule options, by (rule name, option name).
    pub options: BTreeMap<(&'static str, String), OptionValue>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nginx_version: NginxVersion::DEFAULT,
            nginx_version_configured: false,
            severities: BTreeMap::new(),
            options: BTreeMap::new(),
        }
    }
}

impl Settings {
    /// A configured integer option, or the rule's documented default.
    pub fn integer(&self, rule: &str, option: &str, default: i64) -> i64 {
        match self
            .options
            .iter()
            .find(|((r, o), _)| *r == rule && o == option)
        {
            Some((_, OptionValue::Integer(v))) => *v,
            _ => default,
        }
    }

    /// A configured string option, or the default.
    pub fn string<'a>(&'a self, rule: &str, option: &str, default: &'a str) -> &'a str {
        match self
            .options
            .iter()
            .find(|((r, o), _)| *r == rule && o == option)
        {
            Some((_, OptionValue::String(v))) => v,
            _ => default,
        }
    }
}
