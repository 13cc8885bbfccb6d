//! Byte ranges into a policy's source text.

use serde::Serialize;

/// A half-open byte range `start..end` into one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        // Policies are small text files; a 4 GiB policy is refused before parsing (see
        // `syntax::MAX_SOURCE_LEN`), so offsets always fit in u32.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The 1-based line of `source` the span starts on.
    pub fn line(self, source: &str) -> usize {
        let end = (self.start as usize).min(source.len());
        source.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Span;

    #[test]
    fn lines_are_one_based_and_clamped() {
        let source = "a\nb\nc";
        assert_eq!(Span::new(0, 1).line(source), 1);
        assert_eq!(Span::new(2, 3).line(source), 2);
        assert_eq!(Span::new(4, 5).line(source), 3);
        assert_eq!(Span::new(99, 99).line(source), 3);
    }
}
