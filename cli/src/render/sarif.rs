//! `--format sarif`: one SARIF 2.1.0 log for GitHub code scanning and other SARIF viewers.
//!
//! What GitHub needs beyond the schema: every result has a location whose `uri` is relative to
//! the repository root (here: relative to `%SRCROOT%`, the directory waitlint ran in, declared in
//! `originalUriBaseIds`), a `ruleId` that names an entry of `tool.driver.rules` (with `ruleIndex`
//! pointing at it), and `partialFingerprints` that stay the same while unrelated lines move, so
//! an alert is tracked across commits instead of closed and reopened.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use lints::{Diagnostic, Fix, Location};
use serde_json::{json, Map, Value};

use crate::render::{level, line_text, lossy, range};
use crate::report::Report;

/// The schema URI GitHub's documentation and SARIF tooling reference for the final 2.1.0.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/waitlint/waitlint";
const SRCROOT: &str = "%SRCROOT%";
/// The `partialFingerprints` key; bump the version when the fingerprint's input changes.
pub const FINGERPRINT_KEY: &str = "waitlint/v1";

/// The SARIF document for a report. `base` is the directory relative paths are relative to
/// (the current directory); `exit_status` is the one the run exits with.
pub fn document(report: &Report, exit_status: u8, base: &Path) -> Value {
    let rules = lints::registry::all();
    let rule_index = |code: &str| rules.iter().position(|r| r.code == code);
    let artifacts = Artifacts::new(base);

    let mut occurrences: HashMap<(&str, String, String), usize> = HashMap::new();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut result = Map::new();
            result.insert("ruleId".into(), json!(d.rule.code));
            if let Some(index) = rule_index(d.rule.code) {
                result.insert("ruleIndex".into(), json!(index));
            }
            result.insert("level".into(), json!(level(d.severity)));
            result.insert("message".into(), json!({ "text": d.message }));
            let mut primary = location(report, &artifacts, d.primary.location);
            if !d.primary.message.is_empty() {
                primary["message"] = json!({ "text": d.primary.message });
            }
            result.insert("locations".into(), json!([primary]));
            if !d.secondary.is_empty() {
                let related: Vec<Value> = d
                    .secondary
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let mut v = location(report, &artifacts, l.location);
                        v["id"] = json!(i + 1);
                        if !l.message.is_empty() {
                            v["message"] = json!({ "text": l.message });
                        }
                        v
                    })
                    .collect();
                result.insert("relatedLocations".into(), json!(related));
            }
            let fingerprint = fingerprint(report, &artifacts, d, &mut occurrences);
            result.insert(
                "partialFingerprints".into(),
                json!({ FINGERPRINT_KEY: fingerprint }),
            );
            if let Some(fix) = &d.fix {
                result.insert("fixes".into(), json!([sarif_fix(report, &artifacts, fix)]));
            }
            if !d.notes.is_empty() || !d.help.is_empty() {
                result.insert(
                    "properties".into(),
                    json!({ "notes": d.notes, "help": d.help }),
                );
            }
            Value::Object(result)
        })
        .collect();

    let mut notifications: Vec<Value> = Vec::new();
    for f in &report.failures {
        notifications.push(json!({
            "level": "error",
            "message": { "text": format!("{} could not be checked: {}", f.path, f.message) },
            "locations": [{ "physicalLocation": { "artifactLocation": artifacts.location(&f.path) } }],
        }));
    }
    let syntax_error = &lints::meta::SYNTAX_ERROR;
    for file in report.unparsed_files() {
        let mut n = json!({
            "level": "error",
            "message": { "text": format!(
                "{file} has syntax errors: the statements nginx would reject were skipped, so it was only partly checked"
            ) },
            "locations": [{ "physicalLocation": { "artifactLocation": artifacts.location(file) } }],
        });
        n["associatedRule"] = match rule_index(syntax_error.code) {
            Some(index) => json!({ "id": syntax_error.code, "index": index }),
            None => json!({ "id": syntax_error.code }),
        };
        notifications.push(n);
    }
    for w in &report.warnings {
        notifications.push(json!({ "level": "warning", "message": { "text": w } }));
    }
    let mut invocation = json!({
        "executionSuccessful": exit_status != 2,
        "exitCode": exit_status,
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = json!(notifications);
    }

    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "waitlint",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": INFORMATION_URI,
                    "rules": rules.iter().map(|r| rule(r)).collect::<Vec<_>>(),
                }
            },
            "invocations": [invocation],
            "originalUriBaseIds": {
                SRCROOT: {
                    "uri": artifacts.base_uri(),
                    "description": { "text": "The directory waitlint ran in; result paths are relative to it." },
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

fn rule(r: &lints::Rule) -> Value {
    let doc = r.documentation();
    let what = r
        .section("What it does")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| r.summary.to_string());
    json!({
        "id": r.code,
        "name": r.name,
        "shortDescription": { "text": r.summary },
        "fullDescription": { "text": what, "markdown": what },
        "help": { "text": doc, "markdown": doc },
        "helpUri": r.help_uri(),
        "defaultConfiguration": { "level": level(r.default_severity) },
        "properties": { "tags": [r.family.as_str()] },
    })
}

/// A SARIF `region`: 1-based lines and columns in characters, `endColumn` one past the end (an
/// empty region is an insertion point).
fn region(report: &Report, at: Location) -> Value {
    let (line, column, end_line, end_column) = range(report, at);
    json!({
        "startLine": line,
        "startColumn": column,
        "endLine": end_line,
        "endColumn": end_column,
    })
}

/// A result's location: the region with its text, and the whole lines around it as context.
fn location(report: &Report, artifacts: &Artifacts, at: Location) -> Value {
    let source = &report.sources[at.file];
    let mut region = region(report, at);
    let span_text = source.text.get(at.span.range()).unwrap_or_default();
    region["snippet"] = json!({ "text": lossy(span_text) });
    let (line, _, end_line, _) = range(report, at);
    let lines: Vec<String> = (line..=end_line).map(|l| line_text(source, l)).collect();
    json!({
        "physicalLocation": {
            "artifactLocation": artifacts.location(&source.name),
            "region": region,
            "contextRegion": {
                "startLine": line,
                "endLine": end_line,
                "snippet": { "text": lines.join("\n") },
            },
        }
    })
}

fn sarif_fix(report: &Report, artifacts: &Artifacts, fix: &Fix) -> Value {
    // One artifactChange per file, in the order the edits first touch them.
    let mut files: Vec<usize> = Vec::new();
    for e in &fix.edits {
        if !files.contains(&e.location.file) {
            files.push(e.location.file);
        }
    }
    let changes: Vec<Value> = files
        .iter()
        .map(|&file| {
            let replacements: Vec<Value> = fix
                .edits
                .iter()
                .filter(|e| e.location.file == file)
                .map(|e| {
                    json!({
                        "deletedRegion": region(report, e.location),
                        "insertedContent": { "text": e.replacement },
                    })
                })
                .collect();
            json!({
                "artifactLocation": artifacts.location(&report.sources[file].name),
                "replacements": replacements,
            })
        })
        .collect();
    json!({
        "description": { "text": fix.description },
        "artifactChanges": changes,
        "properties": { "safe": fix.safe },
    })
}

/// `waitlint/v1`: a hash of the rule code, the file, the primary line's text (trimmed) and how
/// many earlier findings share those three. Line numbers are left out on purpose: lines added
/// above a finding must not change its fingerprint.
fn fingerprint<'r>(
    report: &'r Report,
    artifacts: &Artifacts,
    d: &'r Diagnostic,
    occurrences: &mut HashMap<(&'r str, String, String), usize>,
) -> String {
    let source = &report.sources[d.primary.location.file];
    let uri = artifacts.location(&source.name)["uri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (line, ..) = range(report, d.primary.location);
    let text = line_text(source, line).trim().to_string();
    let count = occurrences
        .entry((d.rule.code, uri.clone(), text.clone()))
        .or_insert(0);
    *count += 1;
    let mut hash = Fnv1a::default();
    for part in [d.rule.code, &uri, &text, &count.to_string()] {
        hash.write(part.as_bytes());
        hash.write(&[0]);
    }
    format!("{:016x}", hash.0)
}

/// 64-bit FNV-1a: tiny, and unlike `std`'s hashers its output is fixed forever, which a
/// fingerprint stored by GitHub between runs needs.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Turns file names as waitlint reports them into SARIF artifact locations.
struct Artifacts {
    base: PathBuf,
}

impl Artifacts {
    fn new(base: &Path) -> Artifacts {
        Artifacts {
            base: normalize(base),
        }
    }

    /// `file:///abs/base/`, with the trailing slash SARIF requires of a base URI.
    fn base_uri(&self) -> String {
        let mut uri = file_uri(&self.base);
        if !uri.ends_with('/') {
            uri.push('/');
        }
        uri
    }

    /// `{ uri, uriBaseId: %SRCROOT% }` for a file under the base (relative, forward slashes);
    /// an absolute `file:` URI for anything else.
    fn location(&self, name: &str) -> Value {
        let path = Path::new(name);
        let absolute = if path.is_absolute() {
            normalize(path)
        } else {
            normalize(&self.base.join(path))
        };
        match absolute.strip_prefix(&self.base) {
            Ok(relative) if relative.as_os_str().is_empty() => json!({
                "uri": ".",
                "uriBaseId": SRCROOT,
            }),
            Ok(relative) => {
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| encode(&c.as_os_str().to_string_lossy()))
                    .collect();
                json!({ "uri": parts.join("/"), "uriBaseId": SRCROOT })
            }
            Err(_) => json!({ "uri": file_uri(&absolute) }),
        }
    }
}

/// Removes `.` and resolves `..` lexically (without touching the filesystem: a name must map to
/// the same URI whether or not the file still exists).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for c in path.components() {
        match c {
            Component::RootDir => {}
            // A Windows drive (`C:`) keeps its colon: `file:///C:/...`.
            Component::Prefix(p) => {
                uri.push('/');
                uri.push_str(&p.as_os_str().to_string_lossy().replace('\\', "/"));
            }
            c => {
                uri.push('/');
                uri.push_str(&encode(&c.as_os_str().to_string_lossy()));
            }
        }
    }
    if uri == "file://" {
        uri.push('/');
    }
    uri
}

/// Percent-encodes one path segment: everything but RFC 3986's unreserved characters.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for &b in segment.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_become_relative_uris() {
        let a = Artifacts::new(Path::new("/work/repo"));
        assert_eq!(
            a.location("conf.d/my site.conf"),
            json!({ "uri": "conf.d/my%20site.conf", "uriBaseId": "%SRCROOT%" })
        );
        assert_eq!(
            a.location("/work/repo/./nginx/../nginx.conf"),
            json!({ "uri": "nginx.conf", "uriBaseId": "%SRCROOT%" })
        );
        assert_eq!(
            a.location("../other/x.conf"),
            json!({ "uri": "file:///work/other/x.conf" })
        );
        assert_eq!(a.location("<stdin>")["uri"], "%3Cstdin%3E");
        assert_eq!(a.base_uri(), "file:///work/repo/");
        assert_eq!(Artifacts::new(Path::new("/")).base_uri(), "file:///");
    }

    #[test]
    fn fnv1a_matches_reference_values() {
        let mut h = Fnv1a::default();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Fnv1a::default().0, 0xcbf2_9ce4_8422_2325);
    }
}
