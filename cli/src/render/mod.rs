//! Output formats. Each renders a whole [`Report`]; none of them runs rules or reads files.

pub mod human;
pub mod json;

use crate::report::{Report, Source};
use lints::Location;

/// 1-based start line/column and end line/column (columns in characters) of a location.
pub fn range(report: &Report, at: Location) -> (usize, usize, usize, usize) {
    let source: &Source = &report.sources[at.file];
    let (line, column) = source.line_col(at.span.start);
    let (end_line, end_column) = source.line_col(at.span.end);
    (line, column, end_line, end_column)
}
