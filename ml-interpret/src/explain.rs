//! [`Explainer`]s over a model's spec: TreeSHAP and linear SHAP.

use crate::{Error, Result};
use ml_core::ndarray::{Array2, Array3, ArrayView2, Axis};
use ml_core::{Dataset, Estimator, Explainer, Explanation, ExplanationScope, Link, Model, ModelSpec, Task};

use crate::tree::TreeEnsemble;

/// The model's spec, or [`Error::Unsupported`] naming the method.
pub(crate) fn spec_of(model: &dyn Model, method: &str) -> Result<ModelSpec> {
    model.describe().map_err(|e| {
        Error::Unsupported(format!(
            "{method} needs a model that describes itself as a ModelSpec ({e}); use kernel-shap or permutation"
        ))
    })
}

/// Names of the raw outputs an exact method explains: the positive class
/// for a one-margin binary classifier, every class where there is one output
/// per class, `value` for regression.
pub fn raw_output_names(spec: &ModelSpec) -> Vec<String> {
    let k = spec.estimator.n_outputs();
    match &spec.signature.task {
        Task::Classification { classes } if k == 1 && classes.len() == 2 => vec![classes[1].clone()],
        Task::Classification { classes } if k == classes.len() => classes.clone(),
        Task::Regression if k == 1 => vec!["value".into()],
        _ => (0..k).map(|i| format!("output_{i}")).collect(),
    }
}

fn link_name(link: Link) -> &'static str {
    match link {
        Link::Identity => "identity",
        Link::Logistic => "log-odds",
        Link::Softmax => "softmax margin",
        _ => "margin",
    }
}

/// The data rows through the spec's preprocessing, refusing NaN/inf.
pub(crate) fn transformed(spec: &ModelSpec, x: ArrayView2<'_, f64>, what: &str) -> Result<Array2<f64>> {
    if x.nrows() == 0 {
        return Err(Error::invalid(what, "no rows"));
    }
    let t = spec.transform(x)?;
    if let Some(v) = t.iter().find(|v| !v.is_finite()) {
        return Err(Error::invalid(
            what,
            format!("non-finite value {v} after preprocessing"),
        ));
    }
    Ok(t)
}

fn explanation(method: &str, spec: &ModelSpec, base: &[f64], values: Array3<f64>) -> Explanation {
    let n = values.shape()[0];
    let base_values = Array2::from_shape_fn((n, base.len()), |(_, j)| base[j]);
    Explanation {
        method: method.into(),
        scope: ExplanationScope::Local,
        feature_names: spec.transformed_feature_names(),
        output_names: raw_output_names(spec),
        base_values,
        values,
    }
}

/// Exact TreeSHAP (see [`crate::tree`]) on the model's raw output, in the
/// preprocessed feature space (one-hot columns attributed one by one).
///
/// Without a background it is path-dependent, from the node covers our
/// trainers record; with one it is interventional, which needs no covers
/// (trees imported from ONNX have none).
#[derive(Debug, Clone, Default)]
pub struct TreeShap {
    /// Background rows in the model's input columns (`None`: path-dependent).
    pub background: Option<Array2<f64>>,
}

impl TreeShap {
    /// Path-dependent TreeSHAP.
    pub fn path_dependent() -> Self {
        TreeShap { background: None }
    }

    /// Interventional TreeSHAP against `background`.
    pub fn interventional(background: Array2<f64>) -> Self {
        TreeShap {
            background: Some(background),
        }
    }
}

impl Explainer for TreeShap {
    fn name(&self) -> &str {
        "tree_shap"
    }

    fn explain(&self, model: &dyn Model, data: &Dataset) -> ml_core::Result<Explanation> {
        let spec = spec_of(model, "tree-shap")?;
        let ensemble = TreeEnsemble::from_estimator(&spec.estimator)?;
        let x = transformed(&spec, data.features(), "data")?;
        let (base, values) = match &self.background {
            None => {
                let has_covers = match &spec.estimator {
                    Estimator::TreeEnsemble { trees, .. } => {
                        trees.iter().all(|t| t.nodes.first().is_some_and(|n| n.cover > 0.0))
                    }
                    _ => false,
                };
                if !has_covers {
                    return Err(Error::Unsupported(
                        "path-dependent TreeSHAP needs node covers, which this model lacks (e.g. imported from ONNX); pass a background for interventional TreeSHAP".into(),
                    ).into());
                }
                (ensemble.expected_value(), ensemble.shap_path_dependent(x.view())?)
            }
            Some(bg) => {
                let b = transformed(&spec, bg.view(), "background")?;
                (
                    ensemble.mean_output(b.view()),
                    ensemble.shap_interventional(x.view(), b.view())?,
                )
            }
        };
        Ok(explanation(
            if self.background.is_some() {
                "tree_shap_interventional"
            } else {
                "tree_shap_path_dependent"
            },
            &spec,
            &base,
            values,
        ))
    }
}

/// Linear SHAP, in closed form: `φ_j = w_j (x_j - E[x_j])` per output,
/// on the margin (log-odds or softmax margins for classifiers), with
/// features taken as independent (shap's `LinearExplainer` with an
/// interventional masker). The expectation is over the background.
#[derive(Debug, Clone, Default)]
pub struct LinearShap {
    /// Background rows in the model's input columns (`None`: the explained
    /// data themselves).
    pub background: Option<Array2<f64>>,
}

impl Explainer for LinearShap {
    fn name(&self) -> &str {
        "linear_shap"
    }

    fn explain(&self, model: &dyn Model, data: &Dataset) -> ml_core::Result<Explanation> {
        let spec = spec_of(model, "linear-shap")?;
        let Estimator::Linear {
            coefficients,
            intercepts,
            link,
        } = &spec.estimator
        else {
            return Err(Error::Unsupported("linear SHAP needs a linear model".into()).into());
        };
        let x = transformed(&spec, data.features(), "data")?;
        let bg = match &self.background {
            Some(b) => transformed(&spec, b.view(), "background")?,
            None => x.clone(),
        };
        let mean = bg
            .mean_axis(Axis(0))
            .ok_or_else(|| Error::invalid("background", "no rows"))?;
        let (n, m, k) = (x.nrows(), x.ncols(), coefficients.nrows());
        if coefficients.ncols() != m {
            return Err(ml_core::Error::Shape {
                op: "linear_shap",
                expected: format!("{} columns, one per coefficient", coefficients.ncols()),
                got: format!("{m} columns"),
            });
        }
        let values = Array3::from_shape_fn((n, m, k), |(i, j, o)| coefficients[[o, j]] * (x[[i, j]] - mean[j]));
        let base: Vec<f64> = (0..k).map(|o| coefficients.row(o).dot(&mean) + intercepts[o]).collect();
        let mut e = explanation("linear_shap", &spec, &base, values);
        e.method = format!("linear_shap ({})", link_name(*link));
        Ok(e)
    }
}
