//! What a run is configured with, after the CLI has merged `waitlint.toml` and flags. Rules read
//! it; they never read files or flags themselves.

use std::collections::BTreeMap;
use std::fmt;

use crate::diagnostic::Severity;
use crate::registry::{OptionKind, Rule, RuleOption};

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
    /// A time option ([`OptionKind::Time`]), in milliseconds.
    Time(i64),
}

impl OptionValue {
    /// Reads an option's value written as text (a declared default, or a TOML string for a
    /// time). `Err` says what was expected.
    pub fn parse(kind: OptionKind, text: &str) -> Result<OptionValue, String> {
        match kind {
            OptionKind::Integer => text
                .trim()
                .parse()
                .map(OptionValue::Integer)
                .map_err(|_| "expected an integer".to_string()),
            OptionKind::Time => parse_time_option(text)
                .map(OptionValue::Time)
                .ok_or_else(|| {
                    "expected a time in nginx syntax such as \"10s\", \"1m30s\" or \"500ms\""
                        .to_string()
                }),
            OptionKind::String => Ok(OptionValue::String(text.to_string())),
        }
    }
}

/// A time option in nginx's syntax (`10s`, `1m30s`, `500ms`; a bare number is seconds), in
/// milliseconds.
pub fn parse_time_option(text: &str) -> Option<i64> {
    crate::nginx::time::parse_time(
        text.trim().as_bytes(),
        crate::nginx::time::Resolution::Milliseconds,
    )
}

/// The declared default of an option as a value.
pub fn default_value(option: &RuleOption) -> OptionValue {
    OptionValue::parse(option.kind, option.default).unwrap_or_else(|e| {
        panic!(
            "option `{}` declares the default `{}`: {e}",
            option.name, option.default
        )
    })
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
    /// A configured option, if set.
    pub fn option(&self, rule: &str, option: &str) -> Option<&OptionValue> {
        // The map is keyed by `&'static str` rule names; it holds a handful of entries.
        self.options
            .iter()
            .find(|((r, o), _)| *r == rule && o == option)
            .map(|(_, v)| v)
    }

    /// An integer or time option of a rule (times in milliseconds): as configured, or else the
    /// default the rule declares, so a default is written once, in the declaration.
    ///
    /// Panics when the rule declares no such integer or time option: that is a bug in the rule.
    pub fn number(&self, rule: &Rule, option: &str) -> i64 {
        let declared = rule
            .option(option)
            .map(default_value)
            .unwrap_or_else(|| panic!("{} declares no option `{option}`", rule.name));
        match self.option(rule.name, option).unwrap_or(&declared) {
            OptionValue::Integer(v) | OptionValue::Time(v) => *v,
            other => panic!(
                "option `{option}` of {} is not a number: {other:?}",
                rule.name
            ),
        }
    }

    /// The severity a rule reports with: its default unless configured; `None` when the rule is
    /// switched off.
    pub fn severity(&self, rule: &Rule) -> Option<Severity> {
        match self.severities.get(rule.name) {
            Some(configured) => *configured,
            None => Some(rule.default_severity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_option_default_parses() {
        for rule in crate::registry::all() {
            for option in rule.options {
                assert!(
                    OptionValue::parse(option.kind, option.default).is_ok(),
                    "{}: option `{}` has a bad default `{}`",
                    rule.name,
                    option.name,
                    option.default
                );
                assert!(
                    !option.doc.is_empty(),
                    "{}: option `{}` needs a doc",
                    rule.name,
                    option.name
                );
            }
        }
    }

    #[test]
    fn option_values_parse_by_kind() {
        assert_eq!(
            OptionValue::parse(OptionKind::Integer, "1000"),
            Ok(OptionValue::Integer(1000))
        );
        assert!(OptionValue::parse(OptionKind::Integer, "ten").is_err());
        assert_eq!(
            OptionValue::parse(OptionKind::Time, "10s"),
            Ok(OptionValue::Time(10_000))
        );
        assert_eq!(
            OptionValue::parse(OptionKind::Time, "1m30s"),
            Ok(OptionValue::Time(90_000))
        );
        assert_eq!(
            OptionValue::parse(OptionKind::Time, "500ms"),
            Ok(OptionValue::Time(500))
        );
        assert!(OptionValue::parse(OptionKind::Time, "10 parsecs").is_err());
        assert_eq!(
            OptionValue::parse(OptionKind::String, "x"),
            Ok(OptionValue::String("x".into()))
        );
    }

    #[test]
    fn severity_overrides() {
        let rule = &crate::nginx::rules::keepalive_disabled::KEEPALIVE_DISABLED;
        let mut s = Settings::default();
        assert_eq!(s.severity(rule), Some(Severity::Warning));
        s.severities.insert(rule.name, Some(Severity::Error));
        assert_eq!(s.severity(rule), Some(Severity::Error));
        s.severities.insert(rule.name, None);
        assert_eq!(s.severity(rule), None);
        let short = &crate::nginx::rules::keepalive_timeout_short::KEEPALIVE_TIMEOUT_SHORT;
        assert_eq!(
            s.number(short, "threshold"),
            10_000,
            "the declared default, 10s"
        );
        s.options
            .insert((short.name, "threshold".into()), OptionValue::Time(5000));
        assert_eq!(s.number(short, "threshold"), 5000);
    }
}
