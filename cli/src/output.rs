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
