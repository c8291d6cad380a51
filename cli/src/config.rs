//! Configuration: `waitlint.toml` files and the flags that override them.
//!
//! Each linted file gets the configuration of the nearest `waitlint.toml` found walking up from
//! its directory, stopping at the repository root (the first directory with a `.git`, which is
//! still searched). `--config PATH` uses one file for everything, `--isolated` none. Files are
//! not merged: the nearest one is the whole configuration. The format is in
//! docs/configuration.md.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};
use lints::registry::{self, OptionKind, Rule, RuleOption};
use lints::{NginxVersion, OptionValue, Settings, Severity};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::args::CheckArgs;

/// The name of the configuration file looked for.
pub const FILE_NAME: &str = "waitlint.toml";

/// The configuration that applies to one file.
#[derive(Debug, Default)]
pub struct FileConfig {
    pub settings: Settings,
    /// The `waitlint.toml` it comes from (`None`: the defaults).
    #[allow(dead_code)] // for messages and future `waitlint config`
    pub path: Option<PathBuf>,
    /// `fail_on`: the lowest severity that makes the exit status 1 (`--fail-on` wins).
    pub fail_on: Option<Severity>,
    /// The directory globs are relative to: the configuration file's (absolute, normalized).
    base: PathBuf,
    exclude: GlobSet,
    per_path_ignores: Vec<(GlobSet, Vec<&'static Rule>)>,
}

impl FileConfig {
    /// The paths a glob is tried on: the path relative to the configuration's directory, each
    /// of its parent directories (so `vendor` excludes what is under `vendor/`), and the file
    /// name. A path outside that directory is tried as given and by its file name.
    fn candidates(&self, path: &Path) -> Vec<PathBuf> {
        let abs = absolute(path);
        let mut out = Vec::new();
        match abs.strip_prefix(&self.base) {
            Ok(rel) => {
                let mut p = Some(rel);
                while let Some(q) = p.filter(|q| !q.as_os_str().is_empty()) {
                    out.push(q.to_path_buf());
                    p = q.parent();
                }
            }
            Err(_) => out.push(path.to_path_buf()),
        }
        if let Some(name) = path.file_name() {
            out.push(PathBuf::from(name));
        }
        out
    }

    fn matches(&self, set: &GlobSet, path: &Path) -> bool {
        !set.is_empty() && self.candidates(path).iter().any(|c| set.is_match(c))
    }

    /// Whether `exclude` drops this file.
    pub fn excludes(&self, path: &Path) -> bool {
        self.matches(&self.exclude, path)
    }

    /// Whether `per_path_ignores` silences `rule` in this file.
    pub fn ignores(&self, path: &Path, rule: &Rule) -> bool {
        self.per_path_ignores.iter().any(|(set, rules)| {
            rules.iter().any(|r| std::ptr::eq(*r, rule)) && self.matches(set, path)
        })
    }
}

/// A configuration problem; the run stops with exit status 2.
#[derive(Clone, Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

enum Mode {
    /// `--isolated`, or `--config`: one configuration for every file.
    Fixed(Arc<FileConfig>),
    /// Look for the nearest `waitlint.toml`.
    Discover {
        /// Directory -> the configuration file that applies there, if any.
        dirs: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
        /// Configuration file -> what it holds.
        files: Mutex<HashMap<PathBuf, Result<Arc<FileConfig>, ConfigError>>>,
        defaults: Arc<FileConfig>,
    },
}

pub struct ConfigStore {
    mode: Mode,
    /// `--nginx-version`, which wins over every file.
    nginx_version: Option<NginxVersion>,
}

impl ConfigStore {
    pub fn new(args: &CheckArgs) -> Result<ConfigStore, ConfigError> {
        let nginx_version = match &args.nginx_version {
            Some(v) => Some(NginxVersion::parse(v).ok_or_else(|| {
                ConfigError(format!(
                    "--nginx-version {v}: expected a version such as 1.22 or 1.25.3"
                ))
            })?),
            None => None,
        };
        let mut store = ConfigStore {
            mode: Mode::Fixed(Arc::new(FileConfig::default())),
            nginx_version,
        };
        let defaults = Arc::new(store.with_flags(FileConfig {
            base: absolute(Path::new(".")),
            ..FileConfig::default()
        }));
        store.mode = if args.isolated {
            Mode::Fixed(defaults)
        } else if let Some(path) = &args.config {
            Mode::Fixed(Arc::new(store.with_flags(load(path)?)))
        } else {
            Mode::Discover {
                dirs: Mutex::new(HashMap::new()),
                files: Mutex::new(HashMap::new()),
                defaults,
            }
        };
        Ok(store)
    }

    fn with_flags(&self, mut config: FileConfig) -> FileConfig {
        if let Some(v) = self.nginx_version {
            config.settings.nginx_version = v;
            config.settings.nginx_version_configured = true;
        }
        config
    }

    /// The configuration of the file at `path` (which need not exist: stdin's name).
    pub fn for_path(&self, path: &Path) -> Result<Arc<FileConfig>, ConfigError> {
        let Mode::Discover {
            dirs,
            files,
            defaults,
        } = &self.mode
        else {
            let Mode::Fixed(config) = &self.mode else {
                unreachable!()
            };
            return Ok(config.clone());
        };
        let dir = absolute(path)
            .parent()
            .map_or_else(|| absolute(Path::new(".")), Path::to_path_buf);
        let Some(file) = find_config(&dir, dirs) else {
            return Ok(defaults.clone());
        };
        if let Some(cached) = files.lock().expect("config cache").get(&file) {
            return cached.clone();
        }
        let loaded = load(&file).map(|c| Arc::new(self.with_flags(c)));
        files
            .lock()
            .expect("config cache")
            .insert(file, loaded.clone());
        loaded
    }
}

/// The nearest `waitlint.toml` from `dir` up to the repository root, with a cache per
/// directory.
fn find_config(dir: &Path, cache: &Mutex<HashMap<PathBuf, Option<PathBuf>>>) -> Option<PathBuf> {
    let mut visited = Vec::new();
    let mut current = Some(dir);
    let mut found = None;
    while let Some(d) = current {
        if let Some(hit) = cache.lock().expect("config cache").get(d) {
            found = hit.clone();
            break;
        }
        visited.push(d.to_path_buf());
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            found = Some(candidate);
            break;
        }
        if d.join(".git").exists() {
            break;
        }
        current = d.parent();
    }
    let mut cache = cache.lock().expect("config cache");
    for d in visited {
        cache.insert(d, found.clone());
    }
    found
}

/// A path made absolute against the current directory, `.` and `..` resolved lexically
/// (symbolic links are not followed: the configuration of a link is the one where it is).
fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// How a configuration file is named in messages: relative to the current directory when it
/// is under it.
fn display(path: &Path) -> String {
    let abs = absolute(path);
    let cwd = absolute(Path::new("."));
    match abs.strip_prefix(&cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => abs.display().to_string(),
    }
}

/// Reads and checks one configuration file.
pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let name = display(path);
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError(format!("{name}: cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let (line, col) = line_col(&String::from_utf8_lossy(e.as_bytes()), at);
        ConfigError(format!("{name}:{line}:{col}: not valid UTF-8"))
    })?;
    let base = absolute(path)
        .parent()
        .map_or_else(|| absolute(Path::new(".")), Path::to_path_buf);
    let mut config = parse(&name, &base, &text)?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let index = nginx_parser::LineIndex::new(text.as_bytes());
    index.line_col(text.as_bytes(), offset.min(text.len()) as u32)
}

/// Builds errors that cite `name:line:col`.
struct Errors<'a> {
    name: &'a str,
    text: &'a str,
}

impl Errors<'_> {
    fn at(&self, span: Range<usize>, message: impl std::fmt::Display) -> ConfigError {
        let (line, col) = line_col(self.text, span.start);
        ConfigError(format!("{}:{line}:{col}: {message}", self.name))
    }
}

type Entry<'i> = (
    &'i Spanned<std::borrow::Cow<'i, str>>,
    &'i Spanned<DeValue<'i>>,
);

/// A table's entries in source order.
fn entries<'i>(table: &'i DeTable<'i>) -> Vec<Entry<'i>> {
    let mut out: Vec<Entry<'i>> = table.iter().collect();
    out.sort_by_key(|(k, _)| k.span().start);
    out
}

const TOP_LEVEL_KEYS: &str = "nginx_version, fail_on, exclude, rules, per_path_ignores";

/// Parses a configuration file's text. `name` is how messages cite the file; `base` is the
/// directory globs are relative to.
pub fn parse(name: &str, base: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    let errors = Errors { name, text };
    let doc = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        errors.at(span, format!("invalid TOML: {}", e.message().trim_end()))
    })?;
    let mut config = FileConfig {
        base: base.to_path_buf(),
        ..FileConfig::default()
    };
    let mut exclude = GlobSetBuilder::new();
    for (key, value) in entries(doc.get_ref()) {
        let k = key.get_ref().as_ref();
        let at = key.span();
        match k {
            "nginx_version" => {
                let v = string(&errors, k, at.clone(), value)?;
                config.settings.nginx_version = NginxVersion::parse(v).ok_or_else(|| {
                    errors.at(
                        at.clone(),
                        format!("`nginx_version`: `{v}` is not a version: expected one such as \"1.25\" or \"1.25.3\""),
                    )
                })?;
                config.settings.nginx_version_configured = true;
            }
            "fail_on" => {
                let v = string(&errors, k, at.clone(), value)?;
                config.fail_on = Some(Severity::parse(v).ok_or_else(|| {
                    errors.at(
                        at.clone(),
                        format!("`fail_on`: `{v}` is not one of \"error\", \"warning\", \"info\""),
                    )
                })?);
            }
            "exclude" => {
                for glob in strings(&errors, k, at.clone(), value)? {
                    exclude.add(compile_glob(&errors, k, at.clone(), glob)?);
                }
            }
            "rules" => {
                let DeValue::Table(rules) = value.get_ref() else {
                    return Err(wrong_type(&errors, k, at, "a table", value));
                };
                let mut seen: HashMap<&'static str, &str> = HashMap::new();
                for (rule_key, rule_value) in entries(rules) {
                    let rule = rule_table(&errors, &mut config.settings, rule_key, rule_value)?;
                    let written = rule_key.get_ref().as_ref();
                    if let Some(first) = seen.insert(rule.name, written) {
                        return Err(errors.at(
                            rule_key.span(),
                            format!("`rules.{written}` configures `{}` again (already as `rules.{first}`)", rule.name),
                        ));
                    }
                }
            }
            "per_path_ignores" => {
                let DeValue::Table(globs) = value.get_ref() else {
                    return Err(wrong_type(&errors, k, at, "a table", value));
                };
                for (glob_key, list) in entries(globs) {
                    let glob = glob_key.get_ref().as_ref();
                    let at = glob_key.span();
                    let what = format!("per_path_ignores.\"{glob}\"");
                    let mut rules: Vec<&'static Rule> = Vec::new();
                    for sel in strings(&errors, &what, at.clone(), list)? {
                        let selected = registry::select(sel);
                        if selected.is_empty() {
                            return Err(errors.at(
                                at,
                                format!("`{what}`: unknown rule `{sel}`: see `waitlint rules`"),
                            ));
                        }
                        if selected
                            .iter()
                            .any(|r| std::ptr::eq(*r, &lints::meta::SYNTAX_ERROR))
                        {
                            return Err(errors.at(at, format!("`{what}`: `{sel}` includes syntax-error, which cannot be ignored: a file that does not parse always fails the run")));
                        }
                        rules.extend(selected);
                    }
                    let set = GlobSetBuilder::new()
                        .add(compile_glob(&errors, &what, at.clone(), glob)?)
                        .build()
                        .map_err(|e| errors.at(at.clone(), format!("`{what}`: {e}")))?;
                    config.per_path_ignores.push((set, rules));
                }
            }
            other => {
                return Err(errors.at(
                    at,
                    format!("unknown key `{other}`: expected one of {TOP_LEVEL_KEYS}"),
                ))
            }
        }
    }
    config.exclude = exclude
        .build()
        .map_err(|e| errors.at(0..0, format!("`exclude`: {e}")))?;
    Ok(config)
}

/// One `[rules.<name>]` table.
fn rule_table(
    errors: &Errors<'_>,
    settings: &mut Settings,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
) -> Result<&'static Rule, ConfigError> {
    let name = key.get_ref().as_ref();
    let at = key.span();
    let Some(rule) = registry::find(name) else {
        return Err(errors.at(
            at,
            format!("unknown rule `{name}` in `rules`: see `waitlint rules`"),
        ));
    };
    if std::ptr::eq(rule, &lints::meta::SYNTAX_ERROR) {
        return Err(errors.at(
            at,
            "`rules.syntax-error` cannot be configured: a file that does not parse always fails the run",
        ));
    }
    let what = format!("rules.{name}");
    let DeValue::Table(table) = value.get_ref() else {
        return Err(wrong_type(errors, &what, at, "a table", value));
    };
    for (option_key, option_value) in entries(table) {
        let option = option_key.get_ref().as_ref();
        let at = option_key.span();
        let what = format!("rules.{name}.{option}");
        if option == "severity" {
            let v = string(errors, &what, at.clone(), option_value)?;
            let severity = match v {
                "off" => None,
                _ => Some(Severity::parse(v).ok_or_else(|| {
                    errors.at(
                        at.clone(),
                        format!("`{what}`: `{v}` is not one of \"error\", \"warning\", \"info\", \"off\""),
                    )
                })?),
            };
            settings.severities.insert(rule.name, severity);
            continue;
        }
        let Some(declared) = rule.option(option) else {
            let expected = std::iter::once("severity")
                .chain(rule.options.iter().map(|o| o.name))
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(errors.at(
                at,
                format!(
                    "unknown option `{option}` for rule `{}`: it takes {expected}",
                    rule.name
                ),
            ));
        };
        let parsed = option_value_of(declared, option_value)
            .map_err(|e| errors.at(at.clone(), format!("`{what}`: {e}")))?;
        settings
            .options
            .insert((rule.name, option.to_string()), parsed);
    }
    Ok(rule)
}

/// Checks a rule option's value against its declaration.
fn option_value_of(
    option: &RuleOption,
    value: &Spanned<DeValue<'_>>,
) -> Result<OptionValue, String> {
    match (option.kind, value.get_ref()) {
        (OptionKind::Integer, DeValue::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix())
            .map(OptionValue::Integer)
            .map_err(|_| format!("{} is too large", i.as_str())),
        (OptionKind::Time | OptionKind::String, DeValue::String(s)) => {
            OptionValue::parse(option.kind, s).map_err(|e| format!("\"{s}\": {e}"))
        }
        (kind, other) => Err(format!(
            "expected {}, found {}",
            match kind {
                OptionKind::Integer => "an integer",
                OptionKind::Time => "a time string such as \"10s\"",
                OptionKind::String => "a string",
            },
            article(other.type_str())
        )),
    }
}

fn article(type_str: &str) -> String {
    match type_str {
        "integer" | "array" => format!("an {type_str}"),
        _ => format!("a {type_str}"),
    }
}

fn wrong_type(
    errors: &Errors<'_>,
    what: &str,
    at: Range<usize>,
    expected: &str,
    value: &Spanned<DeValue<'_>>,
) -> ConfigError {
    errors.at(
        at,
        format!(
            "`{what}` must be {expected}, found {}",
            article(value.get_ref().type_str())
        ),
    )
}

fn string<'v>(
    errors: &Errors<'_>,
    what: &str,
    at: Range<usize>,
    value: &'v Spanned<DeValue<'_>>,
) -> Result<&'v str, ConfigError> {
    match value.get_ref() {
        DeValue::String(s) => Ok(s.as_ref()),
        _ => Err(wrong_type(errors, what, at, "a string", value)),
    }
}

fn strings<'v>(
    errors: &Errors<'_>,
    what: &str,
    at: Range<usize>,
    value: &'v Spanned<DeValue<'_>>,
) -> Result<Vec<&'v str>, ConfigError> {
    let DeValue::Array(items) = value.get_ref() else {
        return Err(wrong_type(errors, what, at, "an array of strings", value));
    };
    items
        .iter()
        .map(|item| match item.get_ref() {
            DeValue::String(s) => Ok(s.as_ref()),
            _ => Err(wrong_type(
                errors,
                what,
                at.clone(),
                "an array of strings",
                item,
            )),
        })
        .collect()
}

fn compile_glob(
    errors: &Errors<'_>,
    what: &str,
    at: Range<usize>,
    glob: &str,
) -> Result<Glob, ConfigError> {
    Glob::new(glob).map_err(|e| errors.at(at, format!("`{what}`: bad glob `{glob}`: {}", e.kind())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> FileConfig {
        parse("waitlint.toml", Path::new("/repo"), text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> String {
        match parse("waitlint.toml", Path::new("/repo"), text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn a_complete_file() {
        let c = parse_ok(
            r#"
nginx_version = "1.25"
fail_on = "error"
exclude = ["vendor", "*.generated.conf"]

[rules.keepalive-disabled]
severity = "error"

[rules.WL003]
severity = "off"

[per_path_ignores]
"legacy/**" = ["keepalive-disabled"]
"#,
        );
        assert_eq!(c.settings.nginx_version, NginxVersion(1, 25, 0));
        assert!(c.settings.nginx_version_configured);
        assert_eq!(c.fail_on, Some(Severity::Error));
        let keepalive = registry::find("NGX001").unwrap();
        assert_eq!(c.settings.severity(keepalive), Some(Severity::Error));
        assert_eq!(c.settings.severity(&lints::meta::UNUSED_SUPPRESSION), None);
        assert!(c.excludes(Path::new("/repo/vendor/x/nginx.conf")));
        assert!(c.excludes(Path::new("/repo/a/site.generated.conf")));
        assert!(!c.excludes(Path::new("/repo/a/nginx.conf")));
        assert!(c.ignores(Path::new("/repo/legacy/a/nginx.conf"), keepalive));
        assert!(!c.ignores(Path::new("/repo/new/nginx.conf"), keepalive));
    }

    #[test]
    fn errors_cite_the_key() {
        assert_eq!(
            parse_err("fail_on = \"error\"\n  colour = 1\n"),
            "waitlint.toml:2:3: unknown key `colour`: expected one of nginx_version, fail_on, exclude, rules, per_path_ignores"
        );
        assert!(parse_err("[rules.nope]\nseverity = \"off\"\n")
            .starts_with("waitlint.toml:1:8: unknown rule `nope`"));
        assert!(
            parse_err("[rules.keepalive-disabled]\nseverity = \"loud\"\n")
                .starts_with("waitlint.toml:2:1: `rules.keepalive-disabled.severity`: `loud`")
        );
        assert!(
            parse_err("[rules.keepalive-disabled]\nthreshold = \"10s\"\n").starts_with(
                "waitlint.toml:2:1: unknown option `threshold` for rule `keepalive-disabled`"
            )
        );
        assert!(parse_err("nginx_version = 1.25\n")
            .starts_with("waitlint.toml:1:1: `nginx_version` must be a string, found a float"));
        assert!(parse_err("nginx_version = \"latest\"\n")
            .starts_with("waitlint.toml:1:1: `nginx_version`: `latest` is not a version"));
        assert!(parse_err("exclude = \"vendor\"\n")
            .starts_with("waitlint.toml:1:1: `exclude` must be an array of strings"));
        assert!(
            parse_err("exclude = [\"a[\"]\n").starts_with("waitlint.toml:1:1: `exclude`: bad glob")
        );
        assert!(parse_err("[per_path_ignores]\n\"x/**\" = [\"nope\"]\n")
            .starts_with("waitlint.toml:2:1: `per_path_ignores.\"x/**\"`: unknown rule `nope`"));
        assert!(
            parse_err("[per_path_ignores]\n\"x/**\" = [\"WL\"]\n").contains("cannot be ignored")
        );
        assert!(parse_err("[rules.syntax-error]\nseverity = \"off\"\n")
            .contains("cannot be configured"));
        assert!(parse_err("fail_on = \n").starts_with("waitlint.toml:1:"));
        assert!(parse_err("a = 1\na = 2\n").contains("invalid TOML"));
        assert_eq!(
            parse_err("[rules.NGX001]\n[rules.keepalive-disabled]\n"),
            "waitlint.toml:2:8: `rules.keepalive-disabled` configures `keepalive-disabled` again (already as `rules.NGX001`)"
        );
    }

    #[test]
    fn rule_options_are_checked_against_their_declaration() {
        let time = RuleOption {
            name: "threshold",
            kind: OptionKind::Time,
            default: "10s",
            doc: "shortest timeout not flagged",
        };
        let min = RuleOption {
            name: "min",
            kind: OptionKind::Integer,
            default: "1000",
            doc: "smallest value not flagged",
        };
        fn value(text: &str) -> Spanned<DeValue<'_>> {
            DeValue::parse(text).unwrap()
        }
        assert_eq!(
            option_value_of(&time, &value("\"1m30s\"")),
            Ok(OptionValue::Time(90_000))
        );
        assert!(option_value_of(&time, &value("\"soon\""))
            .unwrap_err()
            .contains("nginx syntax"));
        assert_eq!(
            option_value_of(&time, &value("10")).unwrap_err(),
            "expected a time string such as \"10s\", found an integer"
        );
        assert_eq!(
            option_value_of(&min, &value("0x10")),
            Ok(OptionValue::Integer(16))
        );
        assert_eq!(
            option_value_of(&min, &value("\"1000\"")).unwrap_err(),
            "expected an integer, found a string"
        );
    }

    #[test]
    fn paths_are_normalized() {
        let a = absolute(Path::new("a/./b/../c"));
        assert!(a.is_absolute());
        assert!(a.ends_with("a/c"));
    }
}
