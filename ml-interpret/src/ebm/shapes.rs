//! Shape functions read back from any additive tree-ensemble spec.

#[allow(clippy::wildcard_imports)]
use super::*;

/// One feature's piecewise-constant term of an additive tree model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapeFunction {
    /// The feature (after preprocessing).
    pub feature: String,
    /// Bin edges: bin `b` holds values above `edges[b - 1]` and at most `edges[b]`.
    pub edges: Vec<f64>,
    /// The term's value in each bin (`edges.len() + 1` values; one output).
    pub values: Vec<f64>,
}

/// An additive model's terms (see [`shape_functions`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdditiveTerms {
    /// The base value.
    pub intercept: f64,
    /// One shape function per feature with a term.
    pub shapes: Vec<ShapeFunction>,
    /// The feature pairs of two-feature terms.
    pub interactions: Vec<(String, String)>,
}

/// The global explanation of an additive model: its base value, the shape
/// function of every feature of a tree ensemble whose trees each split on
/// one feature (an EBM, or any such model), and the feature pairs of its
/// two-feature trees (interaction terms, listed, not drawn).
///
/// # Errors
/// A model that is not a one-output tree ensemble (for several outputs,
/// such as an EBM of more than two classes, see [`shape_functions_of`]), or
/// a tree splitting on three features or more.
pub fn shape_functions(spec: &ModelSpec) -> Result<AdditiveTerms> {
    if spec.estimator.n_outputs() != 1 {
        return Err(Error::Unsupported(
            "shape functions of a model with several outputs: take them output by output".into(),
        ));
    }
    shape_functions_of(spec, 0)
}

/// [`shape_functions`] of one output of a tree ensemble (one class's score
/// of a softmax model, say): its base value and each feature's term.
///
/// # Errors
/// A model that is not a tree ensemble, an output it does not have, or a
/// tree splitting on three features or more.
pub fn shape_functions_of(spec: &ModelSpec, output: usize) -> Result<AdditiveTerms> {
    let Estimator::TreeEnsemble {
        trees,
        aggregation,
        base_values,
        ..
    } = &spec.estimator
    else {
        return Err(Error::Unsupported("shape functions need a tree ensemble".into()));
    };
    if output >= base_values.len() {
        return Err(Error::invalid(
            "output",
            format!("{output} of a model with {} outputs", base_values.len()),
        ));
    }
    if trees
        .iter()
        .flat_map(|t| &t.nodes)
        .any(|n| n.value.len() != base_values.len())
    {
        return Err(Error::invalid(
            "trees",
            "a node's values do not match the model's outputs",
        ));
    }
    let scale = match aggregation {
        Aggregation::Average => 1.0 / trees.len().max(1) as f64,
        Aggregation::Sum => 1.0,
        other => return Err(Error::Unsupported(format!("shape functions of a {other:?} ensemble"))),
    };
    let names = spec.transformed_feature_names();
    let mut by_feature: std::collections::BTreeMap<usize, Vec<&Tree>> = std::collections::BTreeMap::new();
    let mut constant = 0.0;
    let mut pairs = Vec::new();
    for t in trees {
        let mut feats: Vec<usize> = t.nodes.iter().filter_map(|n| n.split.map(|s| s.feature)).collect();
        feats.sort_unstable();
        feats.dedup();
        match feats.as_slice() {
            [] => {
                constant += t
                    .nodes
                    .first()
                    .and_then(|n| n.value.get(output))
                    .copied()
                    .unwrap_or(0.0)
                    * scale
            }
            [f] => by_feature.entry(*f).or_default().push(t),
            [a, b] => pairs.push((*a, *b)),
            _ => {
                return Err(Error::Unsupported(
                    "a tree splits on several features: the model is not additive".into(),
                ));
            }
        }
    }
    let mut shapes = Vec::new();
    for (f, ts) in by_feature {
        let mut edges: Vec<f64> = ts
            .iter()
            .flat_map(|t| {
                t.nodes
                    .iter()
                    .filter_map(|n| n.split.map(|s| f64::from(s.threshold as f32)))
            })
            .collect();
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        // A point inside each bin under the split rule (compare as f32).
        let points: Vec<f64> = (0..=edges.len())
            .map(|b| {
                if b == 0 {
                    edges[0]
                } else {
                    f64::from((edges[b - 1] as f32).next_up())
                }
            })
            .collect();
        let width = f + 1;
        let values = points
            .iter()
            .map(|&v| {
                let mut row = vec![0.0; width];
                row[f] = v;
                let row = ml_core::ndarray::ArrayView1::from(&row);
                ts.iter().map(|t| t.nodes[t.leaf(row)].value[output]).sum::<f64>() * scale
            })
            .collect();
        shapes.push(ShapeFunction {
            feature: names.get(f).cloned().unwrap_or_else(|| format!("x{f}")),
            edges,
            values,
        });
    }
    let name = |f: usize| names.get(f).cloned().unwrap_or_else(|| format!("x{f}"));
    let pairs = pairs.into_iter().map(|(a, b)| (name(a), name(b))).collect();
    Ok(AdditiveTerms {
        intercept: base_values[output] + constant,
        shapes,
        interactions: pairs,
    })
}

/// [`shape_functions_of`] for every output of a tree ensemble, each with
/// its output's name (the model's one score, or each class's score of a
/// softmax model).
///
/// # Errors
/// As [`shape_functions_of`].
pub fn shape_functions_by_output(spec: &ModelSpec) -> Result<Vec<(String, AdditiveTerms)>> {
    let names = crate::raw_output_names(spec);
    (0..spec.estimator.n_outputs())
        .map(|o| {
            Ok((
                names.get(o).cloned().unwrap_or_else(|| format!("output{o}")),
                shape_functions_of(spec, o)?,
            ))
        })
        .collect()
}
