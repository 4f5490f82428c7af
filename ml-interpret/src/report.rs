//! Explanations and fairness results as files and JSON: what `mlsdk
//! explain` and `mlsdk fairness` write, callable the same way from Rust.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Result;
use ml_core::Explanation;
use ml_core::ndarray::{Axis, s};
use serde_json::{Value, json};

use crate::MetricFrame;

/// SHAP values as JSON: `method`, `feature_names`, `output_names`, and
/// `values` as `rows × features` (with one base value per row) for one
/// output, `rows × features × outputs` (base values `rows × outputs`) for
/// several.
pub fn explanation_json(e: &Explanation) -> Value {
    let (n, m, k) = e.values.dim();
    let (values, base): (Value, Value) = if k == 1 {
        (
            json!(
                (0..n)
                    .map(|i| (0..m).map(|j| e.values[[i, j, 0]]).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            ),
            json!(e.base_values.column(0).to_vec()),
        )
    } else {
        (
            json!(
                (0..n)
                    .map(|i| (0..m)
                        .map(|j| e.values.slice(s![i, j, ..]).to_vec())
                        .collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            ),
            json!(e.base_values.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>()),
        )
    };
    json!({
        "method": e.method, "feature_names": e.feature_names, "output_names": e.output_names,
        "base_values": base, "values": values,
    })
}

/// Mean |value| per feature, one entry per output, most important feature
/// (largest sum over outputs) first: SHAP's global importance.
pub fn mean_abs_importance(e: &Explanation) -> Vec<(String, Vec<f64>)> {
    let Some(mean_abs) = e.values.mapv(f64::abs).mean_axis(Axis(0)) else {
        return Vec::new();
    };
    let mut rows: Vec<(String, Vec<f64>)> = e
        .feature_names
        .iter()
        .enumerate()
        .map(|(j, f)| (f.clone(), mean_abs.row(j).to_vec()))
        .collect();
    rows.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    rows
}

/// The feature values an explanation's attributions belong to: the data's
/// features, or, for an exact method on a model with preprocessing (whose
/// attributions are to the preprocessed columns), the preprocessed matrix.
///
/// # Errors
/// A model that cannot describe itself when preprocessing is needed, input
/// the preprocessing refuses.
pub fn explained_values(
    e: &Explanation,
    model: &dyn ml_core::Model,
    data: &ml_core::Dataset,
) -> Result<ml_core::ndarray::Array2<f64>> {
    if e.feature_names == data.feature_names() {
        Ok(data.features().to_owned())
    } else {
        Ok(model.describe()?.transform(data.features())?)
    }
}

/// An explanation's charts in `dir`, as SVG and PNG: per output (the first
/// ten), the SHAP summary (beeswarm) and bar charts of the top 20 features
/// and the first row's waterfall. `x` holds the feature values in the
/// explanation's space (the inputs, or for exact methods on a pipeline the
/// preprocessed matrix). Returns the files written.
///
/// # Errors
/// Shapes that do not match, drawing or file failures.
#[cfg(feature = "charts")]
pub fn explanation_charts(
    dir: &Path,
    e: &Explanation,
    x: ml_core::ndarray::ArrayView2<'_, f64>,
) -> Result<Vec<PathBuf>> {
    use crate::charts::Chart;
    let mut files = Vec::new();
    for (o, name) in e.output_names.iter().enumerate().take(10) {
        files.extend(Chart::shap_summary(e, x, o, 20)?.save_in(dir, &format!("summary_{name}"))?);
        files.extend(Chart::shap_bar(e, o, 20)?.save_in(dir, &format!("bar_{name}"))?);
        files.extend(Chart::waterfall(e, 0, o, 10)?.save_in(dir, &format!("waterfall_row0_{name}"))?);
    }
    Ok(files)
}

/// A fairness report: the metrics by group, the parity measures and (with
/// the `charts` feature) one chart per rate, as `report.md` and
/// `report.html` with the charts beside them.
#[derive(Debug, Clone)]
pub struct FairnessReport<'a> {
    /// Heading.
    pub title: String,
    /// The target column.
    pub target: String,
    /// The positive class.
    pub positive_class: String,
    /// The sensitive columns.
    pub sensitive: Vec<String>,
    /// The metrics by group.
    pub frame: &'a MetricFrame,
    /// The parity measures.
    pub parity: &'a BTreeMap<String, f64>,
}

/// Escape text for HTML.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl FairnessReport<'_> {
    /// Write the report into `dir` (created if missing); returns the paths
    /// of `report.md` and `report.html`. Each file is written whole or not
    /// at all.
    ///
    /// # Errors
    /// Drawing or file failures.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let f = self.frame;
        std::fs::create_dir_all(dir).map_err(|source| ml_core::Error::Io {
            op: "create",
            path: dir.to_path_buf(),
            source,
        })?;
        let charts = self.charts(dir)?;
        let header: Vec<String> = std::iter::once("group".to_string())
            .chain(f.metrics.iter().cloned())
            .collect();
        let mut rows: Vec<Vec<String>> = vec![
            std::iter::once("(overall)".to_string())
                .chain(f.metrics.iter().map(|m| format!("{:.4}", f.overall[m])))
                .collect(),
        ];
        for (key, vals) in &f.by_group {
            rows.push(
                std::iter::once(key.join(", "))
                    .chain(f.metrics.iter().map(|m| format!("{:.4}", vals[m])))
                    .collect(),
            );
        }
        let title = &self.title;
        let mut md = format!(
            "# {title}\n\nTarget `{}`, positive class `{}`, sensitive column(s) `{}`.\n\n## Metrics by group\n\n| {} |\n|{}\n",
            self.target,
            self.positive_class,
            self.sensitive.join("`, `"),
            header.join(" | "),
            " --- |".repeat(header.len())
        );
        for r in &rows {
            md += &format!("| {} |\n", r.join(" | "));
        }
        md += "\n## Parity measures (between groups)\n\n| measure | value |\n| --- | --- |\n";
        for (k, v) in self.parity {
            md += &format!("| {k} | {v:.4} |\n");
        }
        md += "\n## Charts\n\n";
        for c in &charts {
            md += &format!("![{c} by group](by_group_{c}.svg)\n\n");
        }
        let mut page = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head><body>\n<h1>{t}</h1>\n<p>Target <code>{}</code>, positive class <code>{}</code>, sensitive column(s) <code>{}</code>.</p>\n<h2>Metrics by group</h2>\n<table><tr>{}</tr>\n",
            html(&self.target),
            html(&self.positive_class),
            html(&self.sensitive.join(", ")),
            header
                .iter()
                .map(|h| format!("<th>{}</th>", html(h)))
                .collect::<String>(),
            t = html(title),
        );
        for r in &rows {
            page += &format!(
                "<tr>{}</tr>\n",
                r.iter().map(|c| format!("<td>{}</td>", html(c))).collect::<String>()
            );
        }
        page += "</table>\n<h2>Parity measures (between groups)</h2>\n<table><tr><th>measure</th><th>value</th></tr>\n";
        for (k, v) in self.parity {
            page += &format!("<tr><td>{}</td><td>{v:.4}</td></tr>\n", html(k));
        }
        page += "</table>\n<h2>Charts</h2>\n";
        for c in &charts {
            page += &format!("<p><img src=\"by_group_{c}.svg\" alt=\"{c} by group\"></p>\n");
        }
        page += "</body></html>\n";
        let (md_path, html_path) = (dir.join("report.md"), dir.join("report.html"));
        ml_core::io::write_atomic(&md_path, md.as_bytes())?;
        ml_core::io::write_atomic(&html_path, page.as_bytes())?;
        Ok(vec![md_path, html_path])
    }

    /// The rates charted by group (`by_group_<metric>.svg` and `.png`).
    #[cfg(feature = "charts")]
    fn charts(&self, dir: &Path) -> Result<Vec<&'static str>> {
        let mut charts = Vec::new();
        for metric in [
            "selection_rate",
            "true_positive_rate",
            "false_positive_rate",
            "accuracy",
        ] {
            if self.frame.metrics.iter().any(|m| m == metric) {
                crate::charts::Chart::group_metric(self.frame, metric)?.save_in(dir, &format!("by_group_{metric}"))?;
                charts.push(metric);
            }
        }
        Ok(charts)
    }

    #[cfg(not(feature = "charts"))]
    fn charts(&self, _dir: &Path) -> Result<Vec<&'static str>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use ml_core::ndarray::{Array2, Array3};

    use super::*;

    #[test]
    fn importance_is_mean_absolute_value_largest_first() {
        // Two rows, two features, one output: |a| means 1.5, |b| means 3.
        let values = Array3::from_shape_vec((2, 2, 1), vec![1.0, -2.0, -2.0, 4.0]).unwrap();
        let e = Explanation {
            values,
            base_values: Array2::zeros((2, 1)),
            feature_names: vec!["a".into(), "b".into()],
            output_names: vec!["y".into()],
            method: "test".into(),
            scope: ml_core::ExplanationScope::Local,
        };
        assert_eq!(
            mean_abs_importance(&e),
            vec![("b".to_string(), vec![3.0]), ("a".to_string(), vec![1.5])]
        );
        let json = explanation_json(&e);
        assert_eq!(json["values"], json!([[1.0, -2.0], [-2.0, 4.0]]));
        assert_eq!(json["base_values"], json!([0.0, 0.0]));
    }

    #[test]
    fn the_fairness_report_escapes_html_and_lists_every_group() {
        let y_true = [1, 0, 1, 0];
        let y_pred = [1, 0, 0, 0];
        let g: Vec<String> = ["<a>", "<a>", "b", "b"].iter().map(|s| s.to_string()).collect();
        let columns = [("g", g.as_slice())];
        let f = MetricFrame::new(&crate::GroupMetric::all(), &y_true, &y_pred, &columns, 1).unwrap();
        let parity = crate::parity_measures(&y_true, &y_pred, &columns, 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = FairnessReport {
            title: "t & u".into(),
            target: "y".into(),
            positive_class: "1".into(),
            sensitive: vec!["g".into()],
            frame: &f,
            parity: &parity,
        }
        .write(dir.path())
        .unwrap();
        let page = std::fs::read_to_string(&files[1]).unwrap();
        assert!(page.contains("<h1>t &amp; u</h1>") && page.contains("&lt;a&gt;") && !page.contains("<a>"));
        let md = std::fs::read_to_string(&files[0]).unwrap();
        assert!(md.contains("| demographic_parity_difference | 0.5000 |"), "{md}");
        let summary = crate::fairness_summary(&f, &parity).unwrap();
        assert_eq!(summary["by_group"]["b"]["true_positive_rate"], json!(0.0));
        assert_eq!(summary["demographic_parity_difference"], json!(0.5));
    }
}
