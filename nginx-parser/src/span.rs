//! Byte spans and the line index that turns them into lines and columns.

use std::ops::Range;

/// A half-open byte range `start..end` into one source file.
///
/// Offsets are `u32`: files larger than 4 GiB are rejected long before by the size limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end);
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// An empty span at `offset`, used for positions such as end of file.
    pub fn empty(offset: usize) -> Span {
        Span::new(offset, offset)
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both `self` and `other`.
    pub fn cover(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn contains(self, offset: u32) -> bool {
        self.start <= offset && offset < self.end
    }
}

/// Line starts of one file, built once, so that any byte offset maps to a line in O(log n).
///
/// Lines are counted as nginx counts them: only LF ends a line (a lone CR does not).
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<u32>,
    len: u32,
}

impl LineIndex {
    pub fn new(src: &[u8]) -> LineIndex {
        let mut starts = Vec::with_capacity(src.len() / 32 + 1);
        starts.push(0);
        starts.extend(
            src.iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        LineIndex {
            starts,
            len: src.len() as u32,
        }
    }

    /// 1-based line of a byte offset (an offset at or past the end is on the last line).
    pub fn line(&self, offset: u32) -> usize {
        self.line_index(offset) + 1
    }

    fn line_index(&self, offset: u32) -> usize {
        let offset = offset.min(self.len);
        match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// Byte offset where the 0-based line `index` starts.
    pub fn line_start(&self, index: usize) -> Option<u32> {
        self.starts.get(index).copied()
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// 1-based line and 1-based column counted in characters (UTF-8 scalar values; an invalid
    /// byte counts as one character), the convention of rustc, SARIF and GitHub annotations.
    pub fn line_col(&self, src: &[u8], offset: u32) -> (usize, usize) {
        let line = self.line_index(offset);
        let start = self.starts[line] as usize;
        let end = (offset.min(self.len) as usize).min(src.len());
        let column = src[start..end]
            .utf8_chunks()
            .map(|c| c.valid().chars().count() + c.invalid().len())
            .sum::<usize>()
            + 1;
        (line + 1, column)
    }

    /// 0-based line and 0-based column in UTF-16 code units, the Language Server Protocol's default.
    pub fn line_col_utf16(&self, src: &[u8], offset: u32) -> (usize, usize) {
        let line = self.line_index(offset);
        let start = self.starts[line] as usize;
        let end = (offset.min(self.len) as usize).min(src.len());
        let column = src[start..end]
            .utf8_chunks()
            .map(|c| c.valid().chars().map(char::len_utf16).sum::<usize>() + c.invalid().len())
            .sum();
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_lf_only() {
        let src = b"a\r\nb\rc\nd";
        let idx = LineIndex::new(src);
        assert_eq!(idx.line(0), 1);
        assert_eq!(idx.line(3), 2);
        assert_eq!(idx.line(5), 2, "a lone CR does not end a line");
        assert_eq!(idx.line(7), 3);
        assert_eq!(idx.line(100), 3);
        assert_eq!(idx.line_count(), 3);
    }

    #[test]
    fn columns_are_characters() {
        let src = "é = \u{1F600}x".as_bytes();
        let idx = LineIndex::new(src);
        let x = src.iter().position(|&b| b == b'x').unwrap() as u32;
        assert_eq!(idx.line_col(src, x), (1, 6));
        assert_eq!(idx.line_col_utf16(src, x), (0, 6));
    }

    #[test]
    fn invalid_utf8_counts_one_per_byte() {
        let src = b"\xff\xfex";
        let idx = LineIndex::new(src);
        assert_eq!(idx.line_col(src, 2), (1, 3));
        // A truncated sequence is two invalid bytes, so two columns (as renderers show them).
        let src = b"\xe2\x82x";
        let idx = LineIndex::new(src);
        assert_eq!(idx.line_col(src, 2), (1, 3));
        assert_eq!(idx.line_col_utf16(src, 2), (0, 2));
    }
}
