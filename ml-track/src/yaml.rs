//! The flat `key: value` YAML of MLflow's `meta.yaml` files: written with
//! every string single-quoted (so no value is misread as a number or bool), and
//! read back, including what PyYAML's `safe_dump` writes (plain, single- or
//! double-quoted scalars, folded continuation lines).

use std::collections::BTreeMap;

/// A scalar in a `meta.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Null,
    EmptyList,
    EmptyMap,
    /// Written as-is (PyYAML's spelling of a bare word such as `None`).
    Plain(String),
}

pub(crate) fn write(entries: &[(&str, Scalar)]) -> String {
    let mut out = String::new();
    for (k, v) in entries {
        out.push_str(k);
        out.push_str(": ");
        match v {
            Scalar::Str(s) => {
                out.push('\'');
                out.push_str(&s.replace('\'', "''"));
                out.push('\'');
            }
            Scalar::Int(i) => out.push_str(&i.to_string()),
            Scalar::Null => out.push_str("null"),
            Scalar::EmptyList => out.push_str("[]"),
            Scalar::EmptyMap => out.push_str("{}"),
            Scalar::Plain(p) => out.push_str(p),
        }
        out.push('\n');
    }
    out
}

/// Parse; `None` for text that is not a flat mapping.
pub(crate) fn read(text: &str) -> Option<BTreeMap<String, String>> {
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            // A folded continuation of the previous value.
            let last = raw.last_mut()?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (k, v) = line.split_once(':')?;
        raw.push((k.trim().to_string(), v.trim().to_string()));
    }
    raw.into_iter().map(|(k, v)| Some((k, unquote(&v)?))).collect()
}

fn unquote(v: &str) -> Option<String> {
    if let Some(inner) = v.strip_prefix('\'') {
        return Some(inner.strip_suffix('\'')?.replace("''", "'"));
    }
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    other => out.push(other),
                }
            } else {
                out.push(c);
            }
        }
        return Some(out);
    }
    Some(if v == "null" || v == "~" {
        String::new()
    } else {
        v.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_pyyaml_forms() {
        let text = write(&[
            ("name", Scalar::Str("it's 1".into())),
            ("experiment_id", Scalar::Str("0".into())),
            ("status", Scalar::Int(3)),
            ("trace_location", Scalar::Null),
            ("tags", Scalar::EmptyList),
        ]);
        let m = read(&text).unwrap();
        assert_eq!(m["name"], "it's 1");
        assert_eq!(m["experiment_id"], "0");
        assert_eq!(m["status"], "3");
        let py = read("name: a long name\n  folded here\nid: '7'\nq: \"x\\\"y\"\n").unwrap();
        assert_eq!(py["name"], "a long name folded here");
        assert_eq!(py["id"], "7");
        assert_eq!(py["q"], "x\"y");
        assert!(read("no colon here").is_none());
    }
}
