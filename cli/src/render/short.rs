//! `--format short`: one gcc-style line per finding, `path:line:col: severity: message [CODE]`,
//! for `make`-style consumers (Vim's quickfix, Emacs' compile mode, editors' problem matchers).
//!
//! Nothing else goes to standard output: files that could not be checked are reported on
//! standard error by the caller.

use std::io::{self, Write};

use crate::render::{level, range};
use crate::report::Report;

/// One line per diagnostic, in the report's order. A message never spans lines here.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for d in &report.diagnostics {
        let (line, column, _, _) = range(report, d.primary.location);
        writeln!(
            out,
            "{}:{line}:{column}: {}: {} [{}]",
            report.sources[d.primary.location.file].name,
            level(d.severity),
            one_line(&d.message),
            d.rule.code,
        )?;
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b c");
        assert_eq!(one_line("plain"), "plain");
    }
}
