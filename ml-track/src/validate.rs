//! MLflow's rules for names and values (`mlflow/utils/validation.py`, MLflow
//! 3.17), enforced before anything is written, so the store never holds a file
//! MLflow later refuses.

use crate::error::{Error, Result};

/// Longest param, metric or tag key.
pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
/// Longest param value.
pub const MAX_PARAM_VAL_LENGTH: usize = 6000;
/// Longest tag value.
pub const MAX_TAG_VAL_LENGTH: usize = 8000;
/// Longest experiment name.
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
/// Most params plus tags in one batch.
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
/// Most metrics in one batch.
pub const MAX_METRICS_PER_BATCH: usize = 1000;

fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        value: ml_core::limits::shorten(value, 60),
        reason: reason.into(),
    }
}

/// A param, metric or tag key: alphanumerics, `_ - . : /` and spaces, at most
/// 250 characters, and a path that normalizes to itself (no `..`, no leading
/// or doubled `/`, not `.`).
///
/// # Errors
/// [`Error::Invalid`] naming the rule.
pub fn key(field: &'static str, k: &str) -> Result<()> {
    if k.is_empty() {
        return Err(invalid(field, k, "must not be empty"));
    }
    if k.chars().count() > MAX_ENTITY_KEY_LENGTH {
        return Err(invalid(
            field,
            k,
            format!("longer than {MAX_ENTITY_KEY_LENGTH} characters"),
        ));
    }
    if !k
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':' | '/'))
    {
        return Err(invalid(
            field,
            k,
            "names may only contain alphanumerics, underscores, dashes, periods, colons, spaces and slashes",
        ));
    }
    let parts: Vec<&str> = k.split('/').collect();
    if k.starts_with('/') || k.ends_with('/') || parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        return Err(invalid(
            field,
            k,
            "names are file paths and must not resolve to another name",
        ));
    }
    Ok(())
}

/// A value of at most `max` characters.
///
/// # Errors
/// [`Error::Invalid`].
pub fn value(field: &'static str, v: &str, max: usize) -> Result<()> {
    if v.chars().count() > max {
        return Err(invalid(field, v, format!("longer than {max} characters")));
    }
    Ok(())
}

/// An experiment or run name: non-empty, no line breaks or control
/// characters, at most 500 characters.
///
/// # Errors
/// [`Error::Invalid`].
pub fn name(field: &'static str, n: &str) -> Result<()> {
    if n.trim().is_empty() {
        return Err(invalid(field, n, "must not be empty"));
    }
    if n.chars().any(char::is_control) {
        return Err(invalid(field, n, "must not contain control characters or line breaks"));
    }
    if n.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(invalid(
            field,
            n,
            format!("longer than {MAX_EXPERIMENT_NAME_LENGTH} characters"),
        ));
    }
    Ok(())
}

/// A relative artifact path inside the run's artifact directory.
///
/// # Errors
/// [`Error::Invalid`] for absolute paths, `..` or empty segments.
pub fn artifact_path(p: &str) -> Result<()> {
    if p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || p.chars().any(char::is_control)
    {
        return Err(invalid(
            "artifact path",
            p,
            "must be a relative path without '.', '..' or empty segments",
        ));
    }
    Ok(())
}

/// A run or experiment id as MLflow accepts them.
///
/// # Errors
/// [`Error::Invalid`].
pub fn id(field: &'static str, id: &str) -> Result<()> {
    let mut chars = id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && id.len() <= 256;
    if ok {
        Ok(())
    } else {
        Err(invalid(field, id, "not an MLflow id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow() {
        for good in ["loss", "train/loss", "a b:c-d.e_f", "λ"] {
            key("metric key", good).unwrap();
        }
        for bad in ["", "a//b", "/a", "a/", "../a", "a/./b", "a\nb", "a*b", &"x".repeat(251)] {
            assert!(key("metric key", bad).is_err(), "{bad:?}");
        }
        assert!(value("param value", &"v".repeat(6001), MAX_PARAM_VAL_LENGTH).is_err());
        assert!(artifact_path("model/model.mlsdk").is_ok());
        assert!(artifact_path("../etc/passwd").is_err());
        assert!(name("experiment name", "two\nlines").is_err());
    }
}
