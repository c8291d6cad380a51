//! The default format: codespan-reporting snippets with labels, notes and help, then a summary.

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, LabelStyle, Severity as CsSeverity,
};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, Config};
use lints::Severity;
use termcolor::WriteColor;

use crate::report::Report;

fn severity(s: Severity) -> CsSeverity {
    match s {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
        Severity::Info => CsSeverity::Note,
    }
}

/// A diagnostic in codespan-reporting's model: labels, then notes, help and the fix as notes.
/// Shared by this renderer and rustc-json's `rendered` text.
pub fn codespan_diagnostic(d: &lints::Diagnostic) -> CsDiagnostic<usize> {
    let mut labels = vec![CsLabel::new(
        LabelStyle::Primary,
        d.primary.location.file,
        d.primary.location.span.range(),
    )
    .with_message(d.primary.message.clone())];
    labels.extend(d.secondary.iter().map(|l| {
        CsLabel::new(
            LabelStyle::Secondary,
            l.location.file,
            l.location.span.range(),
        )
        .with_message(l.message.clone())
    }));
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    notes.extend(d.help.iter().map(|h| format!("help: {h}")));
    if let Some(fix) = &d.fix {
        let kind = if fix.safe {
            "fix"
        } else {
            "suggested fix (unsafe)"
        };
        notes.push(format!("{kind}: {}", fix.description));
    }
    CsDiagnostic::new(severity(d.severity))
        .with_code(format!("{}/{}", d.rule.code, d.rule.name))
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

pub fn render(report: &Report, out: &mut dyn WriteColor, statistics: bool) -> std::io::Result<()> {
    let mut files = SimpleFiles::new();
    for s in &report.sources {
        files.add(s.name.clone(), s.display_text());
    }
    let config = Config::default();
    for d in &report.diagnostics {
        let diagnostic = codespan_diagnostic(d);
        term::emit_to_write_style(out, &config, &files, &diagnostic)
            .map_err(std::io::Error::other)?;
    }
    for f in &report.failures {
        out.set_color(
            termcolor::ColorSpec::new()
                .set_fg(Some(termcolor::Color::Red))
                .set_bold(true),
        )?;
        write!(out, "error")?;
        out.reset()?;
        writeln!(out, ": {}: {}", f.path, f.message)?;
    }
    if statistics {
        for (code, (count, rule)) in report.statistics() {
            writeln!(out, "{count:>5}  {code}  {}", rule.name)?;
        }
    }
    let (e, w, i) = (
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info),
    );
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut summary = format!(
        "{}: {}, {}, {}",
        plural(report.files_checked, "file"),
        plural(e, "error"),
        plural(w, "warning"),
        plural(i, "info"),
    );
    if !report.failures.is_empty() {
        summary.push_str(&format!(
            ", {} could not be checked",
            plural(report.failures.len(), "file")
        ));
    }
    let fixable = report
        .diagnostics
        .iter()
        .filter(|d| d.fix.is_some())
        .count();
    if fixable > 0 {
        summary.push_str(&format!(" ({fixable} with a suggested fix)"));
    }
    writeln!(out, "{summary}")
}
