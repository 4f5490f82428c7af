//! JSON or table output.

use serde_json::Value;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Print `value` as JSON, or the human rendering.
    pub fn emit(&self, value: &Value, human: impl FnOnce() -> String) {
        if self.json {
            let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
            text.push('\n');
            write_stdout(text.as_bytes());
        } else {
            write_stdout(human().as_bytes());
        }
    }
}

/// Write to stdout; a closed pipe (`mlsdk ... | head`) ends output quietly
/// instead of panicking as `print!` does.
pub fn write_stdout(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// Two aligned columns.
pub fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("  {k:<width$}  {v}\n")).collect()
}

/// A number as people read it.
pub fn num(v: f64) -> String {
    if v.abs() >= 1e5 || (v != 0.0 && v.abs() < 1e-3) {
        format!("{v:.4e}")
    } else {
        format!("{v:.4}")
    }
}

/// A metric map as table rows.
pub fn metric_rows(metrics: &std::collections::BTreeMap<String, f64>) -> Vec<(String, String)> {
    metrics.iter().map(|(k, v)| (k.clone(), num(*v))).collect()
}

/// A table with a header row: the first column left-aligned, the others
/// right-aligned (they hold numbers), each as wide as its widest cell.
pub fn grid(header: &[String], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut width = header.iter().map(|h| h.chars().count()).collect::<Vec<_>>();
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from(" ");
        for (i, cell) in cells.iter().enumerate().take(cols) {
            let w = width[i];
            if i == 0 {
                s += &format!(" {cell:<w$}");
            } else {
                s += &format!("  {cell:>w$}");
            }
        }
        s.truncate(s.trim_end().len());
        s + "\n"
    };
    std::iter::once(line(header))
        .chain(rows.iter().map(|r| line(r)))
        .collect()
}
