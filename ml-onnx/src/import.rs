//! ONNX → [`ModelSpec`], so a model from elsewhere can be explained and
//! encrypted like one trained here.
//!
//! Two routes:
//! - ml-sdk's own exports carry their spec in the `ml_sdk_spec` metadata; it
//!   is accepted only when exporting it again reproduces the file's graph
//!   byte for byte, so the spec is the graph, not a claim about it.
//! - Other graphs are read operator by operator along the path from the
//!   input: `Cast`/`Identity`, `Scaler` (→ standard scaling), then one
//!   estimator: `LinearRegressor`, `LinearClassifier`,
//!   `TreeEnsembleRegressor` or `TreeEnsembleClassifier`, or a feed-forward
//!   network (`MatMul`/`Add`, `Gemm`, `Conv`, pooling, `Flatten`, `Reshape`,
//!   `Relu`/`Tanh`/`Sigmoid`, ending in `Softmax` for classifiers, as
//!   skl2onnx writes scikit-learn's MLPs); after it only
//!   operators that leave the values unchanged (`Normalizer` L1 on
//!   probabilities, `ZipMap`, `Cast`, `Identity`). Anything else is
//!   [`Error::Unsupported`], naming the operator.
//!
//! Tree ensembles from ONNX files carry no node covers; imported nodes have
//! cover 0 (interventional TreeSHAP needs none).

use ml_core::ndarray::{Array1, Array2};
use ml_core::{Aggregation, Estimator, Link, ModelSpec, Preprocess, Signature, Split, Task, Tree, TreeNode};

use crate::graph::{Node, OnnxGraph};
use crate::{Error, Result};

/// Metadata key holding an ml-sdk export's spec (JSON).
pub const SPEC_METADATA: &str = "ml_sdk_spec";

/// The spec of an ONNX graph whose signature is `signature`.
///
/// # Errors
/// [`Error::Unsupported`] for graphs outside the forms above,
/// [`Error::Invalid`] for inconsistent ones.
pub fn to_spec(model: &OnnxGraph, signature: &Signature) -> Result<ModelSpec> {
    if let Some(json) = model.metadata(SPEC_METADATA) {
        let spec: ModelSpec =
            serde_json::from_str(json).map_err(|e| Error::Invalid(format!("metadata {SPEC_METADATA}: {e}")))?;
        let again = OnnxGraph::parse(&crate::export(&spec)?)?;
        if again.graph.to_bytes() != model.graph.to_bytes() {
            return Err(Error::Invalid(format!(
                "metadata {SPEC_METADATA} does not describe this graph"
            )));
        }
        return Ok(spec);
    }
    let g = &model.graph;
    let width = signature.n_inputs();
    let input = g
        .runtime_inputs()
        .first()
        .map(|i| i.name.clone())
        .ok_or_else(|| Error::Invalid("no input".into()))?;
    let mut value = input;
    let mut preprocessing = Vec::new();
    let estimator_node = loop {
        let node = single_consumer(model, &value)?;
        match (node.op_type.as_str(), node.is_ml()) {
            ("Cast" | "Identity", false) => {}
            ("Scaler", true) => preprocessing.push(scaler(node, width)?),
            ("LinearRegressor" | "LinearClassifier" | "TreeEnsembleRegressor" | "TreeEnsembleClassifier", true) => {
                break node;
            }
            ("MatMul" | "Gemm" | "Conv" | "Reshape" | "Flatten", false) => {
                let estimator = crate::import_neural::network(model, node, width, &signature.task)?;
                let spec = ModelSpec {
                    signature: signature.clone(),
                    preprocessing,
                    estimator,
                };
                spec.validate()?;
                return Ok(spec);
            }
            (op, _) => {
                return Err(Error::Unsupported(format!(
                    "importing a graph with {op} before the estimator"
                )));
            }
        }
        value = node.outputs.first().cloned().unwrap_or_default();
    };
    let (estimator, probabilities) = match estimator_node.op_type.as_str() {
        "LinearRegressor" => (linear_regressor(estimator_node, width)?, None),
        "LinearClassifier" => linear_classifier(estimator_node, width, &signature.task)?,
        "TreeEnsembleRegressor" => (trees(estimator_node, width, None)?, None),
        _ => {
            let k = match &signature.task {
                Task::Classification { classes } => classes.len(),
                _ => {
                    return Err(Error::Invalid(
                        "a TreeEnsembleClassifier outside a classification".into(),
                    ));
                }
            };
            (
                trees(estimator_node, width, Some(k))?,
                estimator_node.outputs.get(1).cloned(),
            )
        }
    };
    if let Some(p) = probabilities {
        check_passthrough(model, &p)?;
    }
    let spec = ModelSpec {
        signature: signature.clone(),
        preprocessing,
        estimator,
    };
    spec.validate()?;
    Ok(spec)
}

fn single_consumer<'a>(model: &'a OnnxGraph, value: &'a str) -> Result<&'a Node> {
    let mut it = model.graph.consumers(value);
    match (it.next(), it.next()) {
        (Some(n), None) => Ok(n),
        (None, _) => Err(Error::Unsupported(format!(
            "importing a graph where '{value}' feeds no estimator"
        ))),
        (Some(_), Some(_)) => Err(Error::Unsupported(format!(
            "importing a graph where '{value}' feeds several operators"
        ))),
    }
}

/// Only value-preserving operators may follow the probabilities.
pub(crate) fn check_passthrough(model: &OnnxGraph, value: &str) -> Result<()> {
    for n in model.graph.consumers(value) {
        match (n.op_type.as_str(), n.is_ml()) {
            ("ZipMap", true) => {}
            ("Normalizer", true) if n.str_or("norm", "MAX")? == "L1" => {}
            ("Cast" | "Identity", false) => {}
            // Labels from probabilities (ml-sdk's own graphs).
            ("ArgMax", false) => continue,
            (op, _) => {
                return Err(Error::Unsupported(format!(
                    "importing a graph that applies {op} to the probabilities"
                )));
            }
        }
        for o in &n.outputs {
            check_passthrough(model, o)?;
        }
    }
    Ok(())
}

fn expand(v: &[f32], width: usize, what: &str, node: &Node) -> Result<Vec<f64>> {
    match v.len() {
        1 => Ok(vec![f64::from(v[0]); width]),
        n if n == width => Ok(v.iter().map(|&x| f64::from(x)).collect()),
        n => Err(Error::Invalid(format!(
            "{} node '{}': {n} {what} values for {width} features",
            node.op_type, node.name
        ))),
    }
}

fn scaler(node: &Node, width: usize) -> Result<Preprocess> {
    let mean = expand(node.floats_opt("offset").unwrap_or(&[0.0]), width, "offset", node)?;
    let scale = expand(node.floats_opt("scale").unwrap_or(&[1.0]), width, "scale", node)?;
    if scale.contains(&0.0) {
        return Err(Error::Unsupported("importing a Scaler with a zero scale".into()));
    }
    // ONNX multiplies by `scale`; the spec divides.
    Ok(Preprocess::StandardScale {
        mean,
        scale: scale.iter().map(|s| 1.0 / s).collect(),
    })
}

fn coefficient_matrix(node: &Node, width: usize) -> Result<(Array2<f64>, Array1<f64>)> {
    let coef = node.floats("coefficients")?;
    if coef.is_empty() || coef.len() % width != 0 {
        return Err(Error::Invalid(format!(
            "{} node '{}': {} coefficients for {width} features",
            node.op_type,
            node.name,
            coef.len()
        )));
    }
    let rows = coef.len() / width;
    let w = Array2::from_shape_vec((rows, width), coef.iter().map(|&c| f64::from(c)).collect())
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let b: Vec<f64> = match node.floats_opt("intercepts") {
        None => vec![0.0; rows],
        Some(b) if b.len() == rows => b.iter().map(|&x| f64::from(x)).collect(),
        Some(b) => {
            return Err(Error::Invalid(format!(
                "{} node '{}': {} intercepts for {rows} rows",
                node.op_type,
                node.name,
                b.len()
            )));
        }
    };
    Ok((w, Array1::from(b)))
}

fn linear_regressor(node: &Node, width: usize) -> Result<Estimator> {
    let post = node.str_or("post_transform", "NONE")?;
    if post != "NONE" {
        return Err(Error::Unsupported(format!(
            "importing a LinearRegressor with post_transform {post}"
        )));
    }
    let (coefficients, intercepts) = coefficient_matrix(node, width)?;
    if coefficients.nrows() != 1 {
        return Err(Error::Unsupported(format!(
            "importing a LinearRegressor with {} targets",
            coefficients.nrows()
        )));
    }
    Ok(Estimator::Linear {
        coefficients,
        intercepts,
        link: Link::Identity,
    })
}

fn linear_classifier(node: &Node, width: usize, task: &Task) -> Result<(Estimator, Option<String>)> {
    let Task::Classification { classes } = task else {
        return Err(Error::Invalid("a LinearClassifier outside a classification".into()));
    };
    let k = classes.len();
    let post = node.str_or("post_transform", "NONE")?;
    let (w, b) = coefficient_matrix(node, width)?;
    let rows = w.nrows();
    let negated = rows == 2 && (&w.row(0) + &w.row(1)).iter().all(|v| v.abs() < 1e-12) && (b[0] + b[1]).abs() < 1e-12;
    let (coefficients, intercepts, link) = match (post.as_str(), k, rows) {
        ("SOFTMAX", _, r) if r == k => (w, b, Link::Softmax),
        // One row, or the two-row [-w, w] form: the logistic of the second.
        ("LOGISTIC", 2, 1) => (w, b, Link::Logistic),
        ("LOGISTIC", 2, 2) if negated => (
            w.slice(ml_core::ndarray::s![1..2, ..]).to_owned(),
            b.slice(ml_core::ndarray::s![1..2]).to_owned(),
            Link::Logistic,
        ),
        ("NONE", _, r) if r == k && k > 2 => (w, b, Link::Identity),
        (post, k, rows) => {
            return Err(Error::Unsupported(format!(
                "importing a LinearClassifier with post_transform {post}, {rows} coefficient rows and {k} classes"
            )));
        }
    };
    Ok((
        Estimator::Linear {
            coefficients,
            intercepts,
            link,
        },
        node.outputs.get(1).cloned(),
    ))
}

/// `TreeEnsembleRegressor` (`classes` None) or `TreeEnsembleClassifier`.
fn trees(node: &Node, width: usize, classes: Option<usize>) -> Result<Estimator> {
    let invalid = |msg: String| Error::Invalid(format!("{} node '{}': {msg}", node.op_type, node.name));
    let prefix = if classes.is_some() { "class" } else { "target" };
    let tree_ids = node.ints("nodes_treeids")?;
    let node_ids = node.ints("nodes_nodeids")?;
    let features = node.ints("nodes_featureids")?;
    let values = node.floats("nodes_values")?;
    let modes = node.strings("nodes_modes")?;
    let true_ids = node.ints("nodes_truenodeids")?;
    let false_ids = node.ints("nodes_falsenodeids")?;
    // Optional: where a missing value goes (the true branch where 1).
    let missing_true = node.ints("nodes_missing_value_tracks_true").unwrap_or_default();
    if !missing_true.is_empty() && missing_true.len() != false_ids.len() {
        return Err(invalid(
            "nodes_missing_value_tracks_true of another length than the nodes".into(),
        ));
    }
    let n = tree_ids.len();
    if [
        node_ids.len(),
        features.len(),
        values.len(),
        modes.len(),
        true_ids.len(),
        false_ids.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err(invalid("node attributes of different lengths".into()));
    }
    let leaf_tree = node.ints(&format!("{prefix}_treeids"))?;
    let leaf_node = node.ints(&format!("{prefix}_nodeids"))?;
    let leaf_ids = node.ints(&format!("{prefix}_ids"))?;
    let leaf_w = node.floats(&format!("{prefix}_weights"))?;
    if [leaf_node.len(), leaf_ids.len(), leaf_w.len()]
        .iter()
        .any(|&l| l != leaf_tree.len())
    {
        return Err(invalid("leaf attributes of different lengths".into()));
    }
    let post = node.str_or("post_transform", "NONE")?;
    let (k, aggregation) = match classes {
        Some(k) => (k, Aggregation::Sum),
        None => {
            let targets = node.int_or("n_targets", 1)?;
            if targets != 1 {
                return Err(Error::Unsupported(format!(
                    "importing a TreeEnsembleRegressor with {targets} targets"
                )));
            }
            let agg = match node.str_or("aggregate_function", "SUM")?.as_str() {
                "SUM" => Aggregation::Sum,
                "AVERAGE" => Aggregation::Average,
                other => return Err(Error::Unsupported(format!("importing trees aggregated by {other}"))),
            };
            (1, agg)
        }
    };
    // The two-class layout: leaves name one class only, and the runtime
    // completes the other (see ONNX Runtime's TreeEnsembleClassifier).
    let mut used: Vec<i64> = leaf_ids.to_vec();
    used.sort_unstable();
    used.dedup();
    let binary_one_class = classes == Some(2) && used.len() == 1;
    let width_out = k;
    if leaf_ids
        .iter()
        .any(|&c| c < 0 || (!binary_one_class && c as usize >= k))
    {
        return Err(invalid("leaf class id out of range".into()));
    }
    let mut base: Vec<f64> = match node.floats_opt("base_values") {
        None => vec![0.0; k],
        Some(b) if b.len() == k => b.iter().map(|&x| f64::from(x)).collect(),
        // The one-class layout may give the one class's base only.
        Some(&[b]) if binary_one_class => vec![f64::from(b); 2],
        Some(b) => return Err(invalid(format!("{} base values for {k} outputs", b.len()))),
    };
    let all_positive = leaf_w.iter().all(|&w| w >= 0.0);
    // The one-class two-class layout, as ONNX Runtime completes it: with
    // NONE, [1 - s, s] when all weights are positive, else [-s, s]; with
    // LOGISTIC, the logistic of [-s, s].
    let (link, leaf_sign, complement) = match (post.as_str(), classes, binary_one_class) {
        ("NONE", _, false) => (Link::Identity, false, false),
        ("SOFTMAX", Some(_), false) => (Link::Softmax, false, false),
        ("LOGISTIC", Some(2), true) => (Link::Logistic, false, false),
        ("NONE", Some(2), true) => (Link::Identity, true, all_positive),
        (p, _, _) => {
            return Err(Error::Unsupported(format!(
                "importing a {} with post_transform {p}{}",
                node.op_type,
                if binary_one_class {
                    " on a one-class two-class layout"
                } else {
                    ""
                }
            )));
        }
    };
    let width_out = if binary_one_class && link == Link::Logistic {
        1
    } else {
        width_out
    };
    if binary_one_class {
        let b = base[used[0] as usize % 2];
        base = match link {
            Link::Logistic => vec![b],
            _ if b != 0.0 => {
                return Err(Error::Unsupported(
                    "importing a two-class TreeEnsembleClassifier that lists one class, with base values".into(),
                ));
            }
            _ => vec![if complement { 1.0 } else { 0.0 }, 0.0],
        };
    }

    // Group the node rows by tree.
    let mut by_tree: std::collections::BTreeMap<i64, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &t) in tree_ids.iter().enumerate() {
        by_tree.entry(t).or_default().push(i);
    }
    let mut leaf_rows: std::collections::HashMap<(i64, i64), Vec<usize>> = std::collections::HashMap::new();
    for (i, (&t, &nid)) in leaf_tree.iter().zip(leaf_node).enumerate() {
        leaf_rows.entry((t, nid)).or_default().push(i);
    }
    let mut out_trees = Vec::with_capacity(by_tree.len());
    for (&t, rows) in &by_tree {
        let index_of: std::collections::HashMap<i64, usize> = rows.iter().map(|&r| (node_ids[r], r)).collect();
        if index_of.len() != rows.len() {
            return Err(invalid(format!("tree {t} repeats a node id")));
        }
        let children: std::collections::HashSet<i64> = rows
            .iter()
            .filter(|&&r| modes[r] != "LEAF")
            .flat_map(|&r| [true_ids[r], false_ids[r]])
            .collect();
        let roots: Vec<i64> = rows
            .iter()
            .map(|&r| node_ids[r])
            .filter(|id| !children.contains(id))
            .collect();
        let [root] = roots.as_slice() else {
            return Err(invalid(format!("tree {t} has {} roots", roots.len())));
        };
        // Breadth-first from the root: new indices, root first.
        let mut order = vec![*root];
        let mut new_index = std::collections::HashMap::from([(*root, 0usize)]);
        let mut i = 0;
        while i < order.len() {
            let r = *index_of
                .get(&order[i])
                .ok_or_else(|| invalid(format!("tree {t} refers to missing node {}", order[i])))?;
            if modes[r] != "LEAF" {
                for c in [true_ids[r], false_ids[r]] {
                    if new_index.contains_key(&c) {
                        return Err(invalid(format!("tree {t} is not a tree (node {c} reached twice)")));
                    }
                    new_index.insert(c, order.len());
                    order.push(c);
                }
            }
            i += 1;
        }
        let mut nodes = Vec::with_capacity(order.len());
        for id in &order {
            let r = index_of[id];
            let split = if modes[r] == "LEAF" {
                None
            } else {
                let f = features[r];
                if f < 0 || f as usize >= width {
                    return Err(invalid(format!("feature {f} of {width}")));
                }
                let v = values[r];
                let (t_id, f_id) = (new_index[&true_ids[r]], new_index[&false_ids[r]]);
                // Our trees send x <= threshold (in f32) left.
                let (threshold, left, right, true_is_left) = match modes[r].as_str() {
                    "BRANCH_LEQ" => (v, t_id, f_id, true),
                    "BRANCH_LT" => (v.next_down(), t_id, f_id, true),
                    "BRANCH_GT" => (v, f_id, t_id, false),
                    "BRANCH_GTE" => (v.next_down(), f_id, t_id, false),
                    other => return Err(Error::Unsupported(format!("importing trees with {other} splits"))),
                };
                // A NaN compares false: without tracking it takes the false
                // branch, with tracking the true one.
                let missing_true = missing_true.get(r).is_some_and(|&m| m != 0);
                Some(Split {
                    feature: f as usize,
                    threshold: f64::from(threshold),
                    left,
                    right,
                    missing_left: missing_true == true_is_left,
                    categories: None,
                })
            };
            let mut value = vec![0.0; width_out];
            if split.is_none() {
                for &l in leaf_rows.get(&(t, *id)).map(Vec::as_slice).unwrap_or(&[]) {
                    let w = f64::from(leaf_w[l]);
                    if leaf_sign {
                        value[0] -= w;
                        value[1] += w;
                    } else {
                        let c = if binary_one_class { 0 } else { leaf_ids[l] as usize };
                        value[c] += w;
                    }
                }
            }
            nodes.push(TreeNode {
                split,
                value,
                cover: 0.0,
            });
        }
        out_trees.push(Tree { nodes });
    }
    Ok(Estimator::TreeEnsemble {
        trees: out_trees,
        aggregation,
        base_values: base,
        link,
    })
}
