//! `--format github`: GitHub Actions workflow commands, which the runner turns into annotations
//! on the pull request: `::warning file=F,line=L,col=C,endLine=L,endColumn=C,title=T::message`.
//!
//! Escaping follows the runner's (actions/toolkit `command.ts`): in the message `%`, CR and LF;
//! in property values also `:` and `,`, which would otherwise end the value.

use std::io::{self, Write};

use lints::Severity;

use crate::render::range;
use crate::report::Report;

fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

/// Escapes the message part of a workflow command (after `::`).
pub fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a property value of a workflow command (`file=...`, `title=...`).
pub fn escape_property(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' => out.push_str("%3A"),
            ',' => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

/// A path as GitHub expects it in `file=`: relative to the workspace, with forward slashes.
fn file(name: &str) -> String {
    escape_property(&name.replace('\\', "/"))
}

pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for d in &report.diagnostics {
        let (line, col, end_line, end_column) = range(report, d.primary.location);
        let mut message = d.message.clone();
        for help in &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        writeln!(
            out,
            "::{} file={},line={line},col={col},endLine={end_line},endColumn={end_column},title={}::{}",
            command(d.severity),
            file(&report.sources[d.primary.location.file].name),
            escape_property(&format!("{} {}", d.rule.code, d.rule.name)),
            escape_data(&message),
        )?;
    }
    for f in &report.failures {
        writeln!(
            out,
            "::error file={},title={}::{}",
            file(&f.path),
            escape_property("waitlint: file not checked"),
            escape_data(&format!("cannot check this file: {}", f.message)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escapes_percent_and_line_breaks_only() {
        assert_eq!(escape_data("50% a:b,c\r\nd"), "50%25 a:b,c%0D%0Ad");
    }

    #[test]
    fn properties_also_escape_colon_and_comma() {
        assert_eq!(escape_property("C:\\x,y%z\nw"), "C%3A\\x%2Cy%25z%0Aw");
        assert_eq!(file("conf.d\\a:b.conf"), "conf.d/a%3Ab.conf");
    }

    #[test]
    fn percent_is_escaped_first_so_escapes_are_not_doubled() {
        assert_eq!(escape_property("%3A"), "%253A");
        assert_eq!(escape_data("%0A"), "%250A");
    }
}
