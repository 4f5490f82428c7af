//! Bounds on what one input or one parameter can make the library do.
//!
//! A CSV file, a count-like hyper-parameter or a grid size comes from a user
//! or from the network; without a bound a single number can ask for terabytes
//! or for a loop that never ends. Readers take [`ReadLimits`]; trainers and
//! explainers check their counts with [`check_count`] and the memory their work
//! will need, computed before it starts, with [`check_work`].

use std::io::Read;

use crate::{Error, Result};

/// Bounds on CSV input, checked while reading, before memory is spent.
///
/// The defaults suit data that fits in memory several times over on a
/// laptop; raise them with the fields, or for the `mlsdk` tool with the
/// environment variables that [`ReadLimits::from_env`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Total bytes read (default 1 GiB; `MLSDK_CSV_MAX_BYTES`).
    pub max_bytes: u64,
    /// Bytes in one line (default 64 MiB; `MLSDK_CSV_MAX_LINE_BYTES`).
    pub max_line_bytes: u64,
    /// Bytes in one field (default 1 MiB; `MLSDK_CSV_MAX_FIELD_BYTES`).
    pub max_field_bytes: usize,
    /// Columns in the header (default 1,000,000; `MLSDK_CSV_MAX_COLUMNS`).
    pub max_columns: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            max_line_bytes: 64 << 20,
            max_field_bytes: 1 << 20,
            max_columns: 1_000_000,
        }
    }
}

const TOTAL_HINT: &str = "set MLSDK_CSV_MAX_BYTES, or ReadLimits::max_bytes, to read more";

impl ReadLimits {
    /// The defaults, each replaced by its environment variable when that is
    /// set to a whole number.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the variable when it is set but is
    /// not a positive whole number.
    pub fn from_env() -> Result<Self> {
        let mut limits = Self::default();
        let read = |name: &str| -> Result<Option<u64>> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Some(n)),
                    _ => Err(Error::invalid(
                        name,
                        format!("must be a positive whole number, got '{v}'"),
                    )),
                },
                _ => Ok(None),
            }
        };
        if let Some(n) = read("MLSDK_CSV_MAX_BYTES")? {
            limits.max_bytes = n;
        }
        if let Some(n) = read("MLSDK_CSV_MAX_LINE_BYTES")? {
            limits.max_line_bytes = n;
        }
        if let Some(n) = read("MLSDK_CSV_MAX_FIELD_BYTES")? {
            limits.max_field_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = read("MLSDK_CSV_MAX_COLUMNS")? {
            limits.max_columns = usize::try_from(n).unwrap_or(usize::MAX);
        }
        Ok(limits)
    }

    /// Read a whole CSV file into memory, refusing it past
    /// [`ReadLimits::max_bytes`] (for callers that also hash the bytes).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::LimitExceeded`] for a file over the limit.
    pub fn read_file(&self, path: &std::path::Path) -> Result<Vec<u8>> {
        crate::io::read_limited("CSV input", path, self.max_bytes).map_err(|e| match e {
            Error::LimitExceeded { what, limit, .. } => Error::LimitExceeded {
                what,
                limit,
                hint: TOTAL_HINT.into(),
            },
            e => e,
        })
    }
}

/// Which bound a [`Bounded`] reader hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overrun {
    Total,
    Line,
}

/// A reader that stops with an error once the input passes its total size or
/// a line passes its length, so a parser above it never buffers more.
#[derive(Debug)]
pub(crate) struct Bounded<R> {
    inner: R,
    limits: ReadLimits,
    total: u64,
    line: u64,
    overrun: Option<Overrun>,
}

impl<R: Read> Bounded<R> {
    pub(crate) fn new(inner: R, limits: ReadLimits) -> Self {
        Self {
            inner,
            limits,
            total: 0,
            line: 0,
            overrun: None,
        }
    }

    /// The bound this reader stopped at, if any.
    #[cfg(test)]
    pub(crate) fn overrun(&self) -> Option<Overrun> {
        self.overrun
    }

    /// The error for the bound this reader stopped at, if it stopped at one.
    pub(crate) fn error(&self) -> Option<Error> {
        Some(match self.overrun? {
            Overrun::Total => Error::LimitExceeded {
                what: "the CSV input".into(),
                limit: bytes(self.limits.max_bytes),
                hint: TOTAL_HINT.into(),
            },
            Overrun::Line => Error::LimitExceeded {
                what: "a line of the CSV input".into(),
                limit: bytes(self.limits.max_line_bytes),
                hint:
                    "is this a CSV file? set MLSDK_CSV_MAX_LINE_BYTES, or ReadLimits::max_line_bytes, for longer lines"
                        .into(),
            },
        })
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.overrun.is_some() {
            return Err(std::io::Error::other("input limit reached"));
        }
        let n = self.inner.read(buf)?;
        self.total = self.total.saturating_add(n as u64);
        // The chunk's first piece continues the line the last chunk ended in.
        let mut pieces = buf[..n].split(|&b| b == b'\n');
        let mut current = self.line.saturating_add(pieces.next().map_or(0, |p| p.len() as u64));
        let mut longest = current;
        for piece in pieces {
            current = piece.len() as u64;
            longest = longest.max(current);
        }
        self.line = current;
        if self.total > self.limits.max_bytes {
            self.overrun = Some(Overrun::Total);
        } else if longest > self.limits.max_line_bytes {
            self.overrun = Some(Overrun::Line);
        }
        if self.overrun.is_some() {
            return Err(std::io::Error::other("input limit reached"));
        }
        Ok(n)
    }
}

/// A byte count as people read it (`64 MiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A number for a message: plain when short, in scientific notation when it
/// would otherwise print hundreds of digits (`1e308`, not 309 of them).
pub fn readable(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-6..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A name or value quoted in a message, cut to at most `max` characters
/// (the cut marked `...`).
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!("{}...", s.chars().take(max.saturating_sub(3)).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Check a count-like parameter against its documented range.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the parameter, its range and the value given.
pub fn check_count(name: &str, value: usize, range: std::ops::RangeInclusive<usize>) -> Result<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("must be between {} and {}, got {value}", range.start(), range.end()),
        ))
    }
}

/// The memory one computation may plan to use (4 GiB), checked before it
/// starts by [`check_work`].
pub const WORK_BUDGET_BYTES: f64 = 4.0 * 1024.0 * 1024.0 * 1024.0;

/// Check that work whose memory is known beforehand fits [`WORK_BUDGET_BYTES`].
///
/// `needed` is the planned size in bytes (a float, so products of large
/// counts cannot overflow); `param` is the parameter that sizes it and `hint`
/// says how to make the work smaller.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `param`, the size needed and the budget.
pub fn check_work(param: &str, needed: f64, hint: &str) -> Result<()> {
    if needed.is_finite() && needed <= WORK_BUDGET_BYTES {
        Ok(())
    } else {
        let size = if needed.is_finite() && needed < u64::MAX as f64 {
            bytes(needed as u64)
        } else {
            "more than 16 EiB".into()
        };
        Err(Error::invalid(
            param,
            format!(
                "the work it asks for needs about {size}, over the budget of {} ({hint})",
                bytes(WORK_BUDGET_BYTES as u64)
            ),
        ))
    }
}

/// The most rows one explanation, importance or search may ask a model to
/// score (10^9: minutes for a forest on two cores), checked by
/// [`check_evaluations`] before the work starts.
pub const EVALUATION_BUDGET_ROWS: f64 = 1e9;

/// Check that work scoring `rows` rows in all fits [`EVALUATION_BUDGET_ROWS`].
///
/// # Errors
/// [`Error::InvalidParameter`] naming `param`, the rows asked for and the budget.
pub fn check_evaluations(param: &str, rows: f64, hint: &str) -> Result<()> {
    if rows.is_finite() && rows <= EVALUATION_BUDGET_ROWS {
        Ok(())
    } else {
        Err(Error::invalid(
            param,
            format!(
                "asks the model to score about {rows:.1e} rows, over the budget of {EVALUATION_BUDGET_ROWS:.0e} ({hint})"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8], limits: ReadLimits) -> (std::io::Result<Vec<u8>>, Option<Overrun>) {
        let mut r = Bounded::new(text, limits);
        let mut out = Vec::new();
        let res = r.read_to_end(&mut out).map(|_| out);
        (res, r.overrun())
    }

    #[test]
    fn total_and_line_bounds_stop_reading() {
        let small = ReadLimits {
            max_bytes: 10,
            max_line_bytes: 4,
            ..ReadLimits::default()
        };
        assert_eq!(read_all(b"ab\ncd\n", small).0.unwrap(), b"ab\ncd\n");
        assert_eq!(read_all(b"ab\ncd\nef\ngh\n", small).1, Some(Overrun::Total));
        assert_eq!(read_all(b"abcdef\n", small).1, Some(Overrun::Line));
        assert_eq!(read_all(b"a\nbcdefg", small).1, Some(Overrun::Line));
    }

    #[test]
    fn a_long_line_split_across_reads_is_caught() {
        // A reader that hands out one byte at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let limits = ReadLimits {
            max_line_bytes: 3,
            ..ReadLimits::default()
        };
        let mut r = Bounded::new(Trickle(b"ab\nabcd\n"), limits);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        assert_eq!(r.overrun(), Some(Overrun::Line));
    }

    #[test]
    fn counts_and_work_name_their_parameter() {
        assert!(check_count("n_trees", 100, 1..=100_000).is_ok());
        let e = check_count("n_trees", 1_000_000_000_000, 1..=100_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid parameter 'n_trees': must be between 1 and 100000, got 1000000000000"
        );
        assert!(check_work("n_samples", 1e6, "lower it").is_ok());
        let e = check_work("n_samples", 24e12, "lower it").unwrap_err().to_string();
        assert!(
            e.contains("'n_samples'") && e.contains("21.8 TiB") && e.contains("4 GiB"),
            "{e}"
        );
        assert!(check_work("x", f64::INFINITY, "h").is_err());
    }

    #[test]
    fn numbers_in_messages_stay_short() {
        assert_eq!(readable(1e308), "1e308");
        assert_eq!(readable(-1e-300), "-1e-300");
        assert_eq!(readable(-1.0), "-1");
        assert_eq!(readable(0.5), "0.5");
        assert_eq!(readable(f64::INFINITY), "inf");
    }

    #[test]
    fn byte_counts_read_as_units() {
        assert_eq!(bytes(10), "10 bytes");
        assert_eq!(bytes(64 << 20), "64 MiB");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
