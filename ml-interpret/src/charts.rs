//! Charts of explanations and fairness metrics, written as SVG or PNG
//! (by the file's extension) with plotters: SHAP summary (beeswarm) and
//! bar, a waterfall for one row, partial dependence with ICE curves, and a
//! metric per group. The text is drawn with DejaVu Sans, embedded in the
//! crate, so nothing is read from the system; files are written atomically.

use std::path::Path;
use std::sync::OnceLock;

use crate::{Error, Result};
use ml_core::Explanation;
use ml_core::ndarray::ArrayView2;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::blackbox::Curves;
use crate::fairness::MetricFrame;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const RED: RGBColor = RGBColor(255, 0, 82);
const BLUE: RGBColor = RGBColor(0, 139, 251);

fn font_ready() -> Result<()> {
    static READY: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            register_font("sans-serif", FontStyle::Normal, FONT)
                .map_err(|_| "the embedded font does not load".to_string())
        })
        .clone()
        .map_err(drawing_failure)
}

/// A failure inside the drawing back end (the font, plotters): not the
/// caller's input, so [`Error::Drawing`].
fn drawing_failure(reason: String) -> Error {
    Error::Drawing(reason)
}

/// What to draw, with its data.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// One row of points per feature (top to bottom), each at its value on
    /// the x axis and coloured from blue (low) to red (high) by `colour`
    /// in [0, 1].
    Beeswarm {
        /// Title.
        title: String,
        /// Axis label.
        x_label: String,
        /// Row labels, top first.
        features: Vec<String>,
        /// `(x, colour)` per point, per row.
        points: Vec<Vec<(f64, f64)>>,
    },
    /// Horizontal bars, top first.
    Bars {
        /// Title.
        title: String,
        /// Axis label.
        x_label: String,
        /// Bar labels.
        labels: Vec<String>,
        /// Bar lengths.
        values: Vec<f64>,
    },
    /// A waterfall from the base value through each step to the output.
    Waterfall {
        /// Title.
        title: String,
        /// Where it starts.
        base: f64,
        /// `(label, change)`, top first.
        steps: Vec<(String, f64)>,
    },
    /// Thin curves (ICE) under a thick one (their mean, the PDP).
    Curves {
        /// Title.
        title: String,
        /// Axis labels.
        x_label: String,
        /// Axis label.
        y_label: String,
        /// The x values shared by every curve.
        x: Vec<f64>,
        /// Thin curves.
        thin: Vec<Vec<f64>>,
        /// The thick curve.
        thick: Vec<f64>,
    },
}

fn top_features(e: &Explanation, output: usize, max_features: usize) -> Result<Vec<usize>> {
    let (n, m, k) = e.values.dim();
    if output >= k {
        return Err(Error::invalid("output", format!("output {output} of {k}")));
    }
    if n == 0 || m == 0 {
        return Err(Error::invalid("explanation", "no values to draw"));
    }
    let mean_abs: Vec<f64> = (0..m)
        .map(|j| (0..n).map(|i| e.values[[i, j, output]].abs()).sum::<f64>() / n as f64)
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| mean_abs[b].total_cmp(&mean_abs[a]));
    order.truncate(max_features.max(1));
    Ok(order)
}

impl Chart {
    /// SHAP summary: the `max_features` features with the largest mean
    /// |value|, each row's value coloured by the feature's value in `x`
    /// (the explained rows, in the explanation's feature space).
    ///
    /// # Errors
    /// An output out of range, `x` of another shape.
    pub fn shap_summary(e: &Explanation, x: ArrayView2<'_, f64>, output: usize, max_features: usize) -> Result<Chart> {
        let (n, m, _) = e.values.dim();
        if x.dim() != (n, m) {
            return Err(ml_core::Error::Shape {
                op: "shap summary",
                expected: format!("{n} x {m} feature values"),
                got: format!("{} x {}", x.nrows(), x.ncols()),
            }
            .into());
        }
        let order = top_features(e, output, max_features)?;
        let points = order
            .iter()
            .map(|&j| {
                let col = x.column(j);
                let (lo, hi) = col
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                (0..n)
                    .map(|i| {
                        let c = if hi > lo { (col[i] - lo) / (hi - lo) } else { 0.5 };
                        (e.values[[i, j, output]], c)
                    })
                    .collect()
            })
            .collect();
        Ok(Chart::Beeswarm {
            title: format!(
                "{} ({})",
                e.method,
                e.output_names.get(output).cloned().unwrap_or_default()
            ),
            x_label: "SHAP value (impact on the output)".into(),
            features: order.iter().map(|&j| e.feature_names[j].clone()).collect(),
            points,
        })
    }

    /// Mean |value| per feature, largest first.
    ///
    /// # Errors
    /// An output out of range.
    pub fn shap_bar(e: &Explanation, output: usize, max_features: usize) -> Result<Chart> {
        let order = top_features(e, output, max_features)?;
        let n = e.values.dim().0 as f64;
        Ok(Chart::Bars {
            title: format!(
                "{} ({})",
                e.method,
                e.output_names.get(output).cloned().unwrap_or_default()
            ),
            x_label: "mean |value|".into(),
            labels: order.iter().map(|&j| e.feature_names[j].clone()).collect(),
            values: order
                .iter()
                .map(|&j| {
                    e.values
                        .slice(ml_core::ndarray::s![.., j, output])
                        .iter()
                        .map(|v| v.abs())
                        .sum::<f64>()
                        / n
                })
                .collect(),
        })
    }

    /// One row's waterfall: the base value, the `max_features` largest
    /// contributions and the rest summed, ending at the output.
    ///
    /// # Errors
    /// A row or output out of range.
    pub fn waterfall(e: &Explanation, row: usize, output: usize, max_features: usize) -> Result<Chart> {
        let (n, m, k) = e.values.dim();
        if row >= n || output >= k {
            return Err(Error::invalid(
                "row",
                format!("row {row} of {n}, output {output} of {k}"),
            ));
        }
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| {
            e.values[[row, b, output]]
                .abs()
                .total_cmp(&e.values[[row, a, output]].abs())
        });
        let keep = max_features.max(1).min(m);
        let mut steps: Vec<(String, f64)> = order[..keep]
            .iter()
            .map(|&j| (e.feature_names[j].clone(), e.values[[row, j, output]]))
            .collect();
        if keep < m {
            let rest: f64 = order[keep..].iter().map(|&j| e.values[[row, j, output]]).sum();
            steps.push((format!("{} other features", m - keep), rest));
        }
        Ok(Chart::Waterfall {
            title: format!(
                "{}: row {row} ({})",
                e.method,
                e.output_names.get(output).cloned().unwrap_or_default()
            ),
            base: e.base_values[[row, output]],
            steps,
        })
    }

    /// Partial dependence (thick) over at most `max_ice` ICE curves (thin).
    ///
    /// # Errors
    /// An output out of range.
    pub fn pdp(c: &Curves, output: usize, max_ice: usize) -> Result<Chart> {
        if output >= c.outputs.len() {
            return Err(Error::invalid(
                "output",
                format!("output {output} of {}", c.outputs.len()),
            ));
        }
        let step = c.individual.len().div_ceil(max_ice.max(1)).max(1);
        Ok(Chart::Curves {
            title: format!("partial dependence ({})", c.outputs[output]),
            x_label: c.feature.clone(),
            y_label: "prediction".into(),
            x: c.grid.clone(),
            thin: c
                .individual
                .iter()
                .step_by(step)
                .map(|r| r.iter().map(|v| v[output]).collect())
                .collect(),
            thick: c.average.iter().map(|v| v[output]).collect(),
        })
    }

    /// An additive model's shape function, as steps over its bins.
    ///
    /// # Errors
    /// A shape without values.
    pub fn shape(s: &crate::ebm::ShapeFunction) -> Result<Chart> {
        if s.values.is_empty() || s.values.len() != s.edges.len() + 1 {
            return Err(Error::invalid("shape", "one value per bin expected"));
        }
        let (lo, hi) = match (s.edges.first(), s.edges.last()) {
            (Some(&a), Some(&b)) => {
                let pad = if b > a { (b - a) * 0.1 } else { 1.0 };
                (a - pad, b + pad)
            }
            _ => (0.0, 1.0),
        };
        let mut x = vec![lo];
        let mut y = vec![s.values[0]];
        for (b, &e) in s.edges.iter().enumerate() {
            x.extend([e, e]);
            y.extend([s.values[b], s.values[b + 1]]);
        }
        x.push(hi);
        y.push(*s.values.last().unwrap_or(&0.0));
        Ok(Chart::Curves {
            title: format!("shape function: {}", s.feature),
            x_label: s.feature.clone(),
            y_label: "contribution".into(),
            x,
            thin: vec![],
            thick: y,
        })
    }

    /// One metric per group.
    ///
    /// # Errors
    /// A metric not in the frame.
    pub fn group_metric(f: &MetricFrame, metric: &str) -> Result<Chart> {
        let mut labels = Vec::new();
        let mut values = Vec::new();
        for (key, vals) in &f.by_group {
            labels.push(key.join(", "));
            values.push(
                *vals
                    .get(metric)
                    .ok_or_else(|| Error::invalid("metric", format!("'{metric}' is not in the frame")))?,
            );
        }
        Ok(Chart::Bars {
            title: format!("{metric} by {}", f.sensitive_names.join(", ")),
            x_label: metric.into(),
            labels,
            values,
        })
    }

    fn size(&self) -> (u32, u32) {
        let rows = match self {
            Chart::Beeswarm { features, .. } => features.len(),
            Chart::Bars { labels, .. } => labels.len(),
            Chart::Waterfall { steps, .. } => steps.len() + 1,
            Chart::Curves { .. } => 12,
        };
        (900, (120 + 32 * rows as u32).clamp(300, 1600))
    }

    /// Permutation importances as bars: the `top` largest mean drops,
    /// largest first.
    pub fn importances(imp: &crate::Importances, feature_names: &[String], top: usize) -> Chart {
        let mut order: Vec<usize> = (0..imp.mean.len().min(feature_names.len())).collect();
        order.sort_by(|&a, &b| imp.mean[b].total_cmp(&imp.mean[a]));
        order.truncate(top);
        Chart::Bars {
            title: format!("permutation importance (baseline {:.3})", imp.baseline),
            x_label: "score drop when shuffled".into(),
            labels: order.iter().map(|&j| feature_names[j].clone()).collect(),
            values: order.iter().map(|&j| imp.mean[j]).collect(),
        }
    }

    /// Write as `DIR/NAME.svg` and `DIR/NAME.png` (`dir` created if
    /// missing; characters of `name` other than ASCII letters, digits and
    /// `-_.` become `_`); returns both paths.
    ///
    /// # Errors
    /// Drawing or file failures.
    pub fn save_in(&self, dir: &Path, name: &str) -> Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|source| ml_core::Error::Io {
            op: "create",
            path: dir.to_path_buf(),
            source,
        })?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        ["svg", "png"]
            .iter()
            .map(|ext| {
                let path = dir.join(format!("{safe}.{ext}"));
                self.save(&path)?;
                Ok(path)
            })
            .collect()
    }

    /// Write as SVG or PNG, by `path`'s extension.
    ///
    /// # Errors
    /// Another extension, drawing or file failures.
    pub fn save(&self, path: &Path) -> Result<()> {
        font_ready()?;
        let size = self.size();
        let fail = drawing_failure;
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => {
                let mut svg = String::new();
                {
                    let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                    self.draw(&root).map_err(fail)?;
                    root.present().map_err(|e| fail(e.to_string()))?;
                }
                Ok(ml_core::io::write_atomic(path, svg.as_bytes())?)
            }
            Some("png") => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("chart.png");
                let tmp = path.with_file_name(format!(".{name}.{}.tmp.png", std::process::id()));
                let drawn = (|| {
                    let root = BitMapBackend::new(&tmp, size).into_drawing_area();
                    self.draw(&root)?;
                    root.present().map_err(|e| e.to_string())
                })();
                if let Err(e) = drawn {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(fail(e));
                }
                std::fs::rename(&tmp, path).map_err(|source| {
                    ml_core::Error::Io {
                        op: "rename",
                        path: path.to_path_buf(),
                        source,
                    }
                    .into()
                })
            }
            _ => Err(Error::invalid(
                "chart",
                format!("{}: write .svg or .png", path.display()),
            )),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> std::result::Result<(), String> {
        let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
        root.fill(&WHITE).map_err(e)?;
        let font = ("sans-serif", 15);
        match self {
            Chart::Beeswarm {
                title,
                x_label,
                features,
                points,
            } => {
                let all = points.iter().flatten().map(|p| p.0);
                let (lo, hi) = padded(
                    all.clone().fold(f64::INFINITY, f64::min),
                    all.fold(f64::NEG_INFINITY, f64::max),
                );
                let n = features.len();
                let mut chart = row_chart(root, title, x_label, features, (lo, hi))?;
                for (r, row) in points.iter().enumerate() {
                    let y0 = (n - 1 - r) as f64;
                    // Deterministic jitter: spread by rank within the row.
                    let count = row.len().max(1) as f64;
                    chart
                        .draw_series(row.iter().enumerate().map(|(i, &(x, c))| {
                            let jitter = ((i as f64 * 0.618_033_988_75) % 1.0 - 0.5) * 0.6 * (count.min(50.0) / 50.0);
                            Circle::new((x, y0 + jitter), 3, blend(c).filled())
                        }))
                        .map_err(e)?;
                }
            }
            Chart::Bars {
                title,
                x_label,
                labels,
                values,
            } => {
                let (lo, hi) = padded(
                    values.iter().copied().fold(0.0, f64::min),
                    values.iter().copied().fold(0.0, f64::max),
                );
                let n = labels.len();
                let mut chart = row_chart(root, title, x_label, labels, (lo, hi))?;
                chart
                    .draw_series(values.iter().enumerate().map(|(i, &v)| {
                        let y = (n - 1 - i) as f64;
                        Rectangle::new([(0.0, y - 0.35), (v, y + 0.35)], BLUE.filled())
                    }))
                    .map_err(e)?;
            }
            Chart::Waterfall { title, base, steps } => {
                let mut cum = *base;
                let mut spans = Vec::new();
                for (_, v) in steps {
                    spans.push((cum, cum + v));
                    cum += v;
                }
                let ends = spans.iter().flat_map(|&(a, b)| [a, b]).chain([*base]);
                let (lo, hi) = padded(
                    ends.clone().fold(f64::INFINITY, f64::min),
                    ends.fold(f64::NEG_INFINITY, f64::max),
                );
                let labels: Vec<String> = steps.iter().map(|(l, v)| format!("{l} ({v:+.3})")).collect();
                let n = labels.len();
                let caption = format!("{title}: {base:.3} -> {cum:.3}");
                let mut chart = row_chart(root, &caption, "output", &labels, (lo, hi))?;
                chart
                    .draw_series(spans.iter().enumerate().map(|(i, &(a, b))| {
                        let y = (n - 1 - i) as f64;
                        let colour = if b >= a { RED } else { BLUE };
                        Rectangle::new([(a, y - 0.35), (b, y + 0.35)], colour.filled())
                    }))
                    .map_err(e)?;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(*base, -0.5), (*base, n as f64 - 0.5)],
                        BLACK.stroke_width(1),
                    )))
                    .map_err(e)?;
            }
            Chart::Curves {
                title,
                x_label,
                y_label,
                x,
                thin,
                thick,
            } => {
                let xs = x.iter().copied();
                let (x0, x1) = padded(
                    xs.clone().fold(f64::INFINITY, f64::min),
                    xs.fold(f64::NEG_INFINITY, f64::max),
                );
                let ys = thin.iter().flatten().chain(thick).copied();
                let (y0, y1) = padded(
                    ys.clone().fold(f64::INFINITY, f64::min),
                    ys.fold(f64::NEG_INFINITY, f64::max),
                );
                let mut chart = ChartBuilder::on(root)
                    .caption(title, ("sans-serif", 20))
                    .margin(12)
                    .x_label_area_size(40)
                    .y_label_area_size(60)
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(e)?;
                chart
                    .configure_mesh()
                    .x_desc(x_label.as_str())
                    .y_desc(y_label.as_str())
                    .label_style(font)
                    .draw()
                    .map_err(e)?;
                for curve in thin {
                    chart
                        .draw_series(LineSeries::new(
                            x.iter().copied().zip(curve.iter().copied()),
                            RGBColor(170, 170, 170).stroke_width(1),
                        ))
                        .map_err(e)?;
                }
                chart
                    .draw_series(LineSeries::new(
                        x.iter().copied().zip(thick.iter().copied()),
                        RED.stroke_width(3),
                    ))
                    .map_err(e)?;
            }
        }
        Ok(())
    }
}

/// A chart with one labelled row per entry (top first) over `x` in
/// `[lo, hi]`: the frame of the beeswarm, bar and waterfall charts.
fn row_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    labels: &[String],
    (lo, hi): (f64, f64),
) -> std::result::Result<
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    String,
> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let n = labels.len();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(label_width(labels))
        .build_cartesian_2d(lo..hi, -0.5..(n as f64 - 0.5))
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| row_label(labels, n, *y))
        .x_desc(x_label)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    Ok(chart)
}

/// A range around [lo, hi] with a margin (and some width when they meet).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad, hi + pad)
}

fn label_width(labels: &[String]) -> u32 {
    (labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32 * 8 + 16).clamp(60, 360)
}

/// The label of the row at y (rows drawn top first).
fn row_label(labels: &[String], n: usize, y: f64) -> String {
    let r = y.round();
    if (y - r).abs() > 1e-6 || r < 0.0 || r as usize >= n {
        return String::new();
    }
    labels[n - 1 - r as usize].clone()
}

/// Blue (0) to red (1).
fn blend(c: f64) -> RGBColor {
    let c = c.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * c).round() as u8;
    RGBColor(mix(BLUE.0, RED.0), mix(BLUE.1, RED.1), mix(BLUE.2, RED.2))
}
