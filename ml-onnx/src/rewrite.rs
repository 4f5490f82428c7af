//! Graph rewrites on load, so models exported elsewhere run as they are:
//!
//! - `ZipMap` (skl2onnx's default classifier output, a sequence of maps) is
//!   replaced by an `Identity` of its input, so the probabilities come out as
//!   the `float [N, classes]` tensor they were before zipping. Both runtimes
//!   get this one: neither the [`crate::OnnxModel`] interface nor tract has a
//!   use for a list of maps.
//! - For tract, which lacks them: `Scaler` becomes `Cast` + `Sub` + `Mul`
//!   (its definition, `(x - offset) * scale` in float), and
//!   `TreeEnsembleRegressor` becomes a `TreeEnsembleClassifier` whose classes
//!   are the targets, followed by a `Slice` to the targets' columns. The
//!   classifier always sums its leaves, so for `AVERAGE` each leaf weight is
//!   divided by the tree count first; a float sum of pre-divided weights
//!   differs from ONNX Runtime's divided sum by rounding only. `Sigmoid`
//!   becomes `1 / (1 + exp(-x))`, since tract's own takes float only.
//! - For both runtimes: a `Scaler` on a float graph input whose only reader
//!   is a `LinearClassifier` or `LinearRegressor` is folded into that
//!   operator's coefficients ([`fold_scalers`]). scikit-learn's
//!   `StandardScaler` + linear model pipelines export as exactly this pair,
//!   and neither runtime folds `ai.onnx.ml` operators itself; one node less
//!   is a fifth of a one-row call on ONNX Runtime.

use crate::graph::{Dim, Graph, Node, OnnxGraph, ValueInfo};
use crate::proto::{Attr, DataType};
use crate::{Error, Result};

/// Replace every `ZipMap` by an `Identity`, turning its graph output into
/// a float tensor.
///
/// # Errors
/// [`Error::Invalid`] for a malformed `ZipMap`.
pub fn strip_zipmap(model: &mut OnnxGraph) -> Result<()> {
    model.ensure_default_opset(crate::OPSET);
    let g = &mut model.graph;
    for i in 0..g.nodes.len() {
        if g.nodes[i].op_type != "ZipMap" {
            continue;
        }
        let n = &g.nodes[i];
        let Some(classes) = n.class_labels()?.map(|l| l.len()) else {
            return Err(Error::Invalid(format!("ZipMap node '{}' without class labels", n.name)));
        };
        let (Some(input), Some(output)) = (n.inputs.first(), n.outputs.first()) else {
            return Err(Error::Invalid(format!(
                "ZipMap node '{}' without input or output",
                n.name
            )));
        };
        let output = output.clone();
        let identity = Node::new("Identity", "", &n.name, &[input], &[&output], &[])?;
        g.nodes[i] = identity;
        if let Some(o) = g.outputs.iter_mut().find(|o| o.name == output) {
            *o = ValueInfo::tensor(
                &output,
                DataType::Float,
                &[crate::proto::Dim::Named("N"), crate::proto::Dim::Fixed(classes as i64)],
            )?;
        }
    }
    Ok(())
}

/// Fold each `Scaler` whose output only a `LinearClassifier` or
/// `LinearRegressor` reads into that operator: with `y = (x - o) * s` and
/// `z = W y + b`, `z = W' x + b'` where `W'[r][j] = W[r][j] s[j]` and
/// `b'[r] = b[r] - Σ_j W'[r][j] o[j]` (computed in double, stored as the
/// attributes' float). Only Scalers reading a float graph input fold, so
/// the linear operator's input type stays float; other layouts (several
/// readers, a graph output, offsets that match neither one value nor the
/// input width) are left as they are.
///
/// # Errors
/// [`Error::Invalid`] for malformed nodes.
pub fn fold_scalers(model: &mut OnnxGraph) -> Result<()> {
    let g = &mut model.graph;
    let mut i = 0;
    while i < g.nodes.len() {
        match foldable(g, i)? {
            Some((j, folded)) => {
                g.nodes[j] = folded;
                g.nodes.remove(i);
            }
            None => i += 1,
        }
    }
    Ok(())
}

/// The reader of Scaler node `i` and its folded replacement, when it folds.
fn foldable(g: &Graph, i: usize) -> Result<Option<(usize, Node)>> {
    let scaler = &g.nodes[i];
    if !(scaler.is_ml() && scaler.op_type == "Scaler") {
        return Ok(None);
    }
    let (x, y) = single_io(scaler)?;
    let Some(width) = g
        .inputs
        .iter()
        .find(|v| v.name == x && v.elem_type == Some(crate::graph::dtype::FLOAT))
        .and_then(declared_width)
    else {
        return Ok(None);
    };
    if width == 0 || scaler.outputs.len() != 1 || g.outputs.iter().any(|o| o.name == y) {
        return Ok(None);
    }
    let readers: Vec<usize> = (0..g.nodes.len()).filter(|&k| g.nodes[k].inputs.contains(&y)).collect();
    let [j] = readers[..] else {
        return Ok(None);
    };
    let lin = &g.nodes[j];
    if !(lin.is_ml() && matches!(lin.op_type.as_str(), "LinearClassifier" | "LinearRegressor")) || lin.inputs.len() != 1
    {
        return Ok(None);
    }
    let per_column = |v: Option<&[f32]>, default: f32| -> Option<Vec<f64>> {
        match v {
            None => Some(vec![f64::from(default); width]),
            Some([one]) => Some(vec![f64::from(*one); width]),
            Some(v) if v.len() == width => Some(v.iter().map(|&a| f64::from(a)).collect()),
            Some(_) => None,
        }
    };
    let (Some(offset), Some(scale)) = (
        per_column(scaler.floats_opt("offset"), 0.0),
        per_column(scaler.floats_opt("scale"), 1.0),
    ) else {
        return Ok(None);
    };
    let coefficients = lin.floats("coefficients")?;
    if coefficients.is_empty() || coefficients.len() % width != 0 {
        return Ok(None);
    }
    let rows = coefficients.len() / width;
    let intercepts = lin.floats_opt("intercepts").unwrap_or(&[]);
    if !intercepts.is_empty() && intercepts.len() != rows {
        return Ok(None);
    }
    let mut folded_w = Vec::with_capacity(coefficients.len());
    let mut folded_b = Vec::with_capacity(rows);
    for (r, row) in coefficients.chunks(width).enumerate() {
        let mut b = intercepts.get(r).map_or(0.0, |&v| f64::from(v));
        for ((&w, s), o) in row.iter().zip(&scale).zip(&offset) {
            let w = f64::from(w) * s;
            b -= w * o;
            folded_w.push(w as f32);
        }
        folded_b.push(b as f32);
    }
    let outputs: Vec<&str> = lin.outputs.iter().map(String::as_str).collect();
    let node = lin.rebuilt_reading(
        &[&x],
        &lin.op_type,
        &outputs,
        |a| a != "coefficients" && a != "intercepts",
        &[
            ("coefficients", Attr::Floats(folded_w)),
            ("intercepts", Attr::Floats(folded_b)),
        ],
    )?;
    Ok(Some((j, node)))
}

/// The rewrites tract needs: [`strip_zipmap`], `Scaler` and
/// `TreeEnsembleRegressor`.
///
/// # Errors
/// [`Error::Unsupported`] for variants with no equivalent (a regressor
/// aggregating by `MIN`/`MAX`, a post-transform other than `NONE`),
/// [`Error::Invalid`] for malformed nodes.
pub fn for_tract(model: &mut OnnxGraph) -> Result<()> {
    strip_zipmap(model)?;
    let opset = model.opset("").unwrap_or(crate::OPSET);
    let g = &mut model.graph;
    let mut i = 0;
    while i < g.nodes.len() {
        let replacement = match (g.nodes[i].op_type.as_str(), g.nodes[i].is_ml()) {
            ("Scaler", true) => Some(scaler(g, i)?),
            ("TreeEnsembleRegressor", true) => Some(tree_regressor(g, i, opset)?),
            ("TreeEnsembleClassifier", true) => classifier_base_values(&g.nodes[i])?.map(|n| vec![n]),
            ("TreeEnsemble", true) => {
                return Err(Error::Unsupported(
                    "ai.onnx.ml TreeEnsemble (opset 5, as native categorical splits export) on tract: run it on ONNX Runtime (--runtime ort, Runtime::Ort) or use the saved model".into(),
                ));
            }
            ("Sigmoid", false) => Some(sigmoid(g, i)?),
            _ => None,
        };
        match replacement {
            Some(nodes) => {
                let n = nodes.len();
                g.nodes.splice(i..=i, nodes);
                i += n;
            }
            None => i += 1,
        }
    }
    for n in g
        .nodes
        .iter()
        .filter(|n| n.is_ml() && n.op_type == "TreeEnsembleClassifier")
    {
        check_tree_ensemble(n)?;
    }
    Ok(())
}

/// tract evaluates tree ensembles with unchecked indexing: a class id past
/// the class list or a child id naming no node of its tree would read and
/// write out of bounds. Found by fuzzing (`ml-onnx/fuzz`); checked here so
/// such files are errors.
fn check_tree_ensemble(n: &Node) -> Result<()> {
    let bad = |msg: String| Error::Invalid(format!("{} node '{}': {msg}", n.op_type, n.name));
    let Some(classes) = n.class_labels()?.map(|l| l.len()) else {
        return Err(bad("no class labels".into()));
    };
    if let Some(c) = n.ints("class_ids")?.iter().find(|&&c| c < 0 || c as usize >= classes) {
        return Err(bad(format!("class id {c} of {classes} classes")));
    }
    let trees = n.ints("nodes_treeids")?;
    let ids = n.ints("nodes_nodeids")?;
    let modes = n.strings("nodes_modes")?;
    let (t_ids, f_ids) = (n.ints("nodes_truenodeids")?, n.ints("nodes_falsenodeids")?);
    let features = n.ints("nodes_featureids")?;
    let len = trees.len();
    if [ids.len(), modes.len(), t_ids.len(), f_ids.len(), features.len()]
        .iter()
        .any(|&l| l != len)
    {
        return Err(bad("node attributes of different lengths".into()));
    }
    let known: std::collections::HashSet<(i64, i64)> = trees.iter().copied().zip(ids.iter().copied()).collect();
    for k in 0..len {
        if modes[k] == "LEAF" {
            continue;
        }
        if features[k] < 0 {
            return Err(bad(format!("negative feature id {}", features[k])));
        }
        for child in [t_ids[k], f_ids[k]] {
            if !known.contains(&(trees[k], child)) {
                return Err(bad(format!("tree {} branches to missing node {child}", trees[k])));
            }
        }
    }
    let (leaf_trees, leaf_nodes) = (n.ints("class_treeids")?, n.ints("class_nodeids")?);
    if let Some((t, id)) = leaf_trees
        .iter()
        .zip(leaf_nodes)
        .find(|&(&t, &id)| !known.contains(&(t, id)))
    {
        return Err(bad(format!("a leaf weight for missing node {id} of tree {t}")));
    }
    Ok(())
}

/// ONNX Runtime accepts one base value for a two-class ensemble whose
/// leaves name one class; tract wants one per class. The other class's
/// base is zero.
fn classifier_base_values(n: &Node) -> Result<Option<Node>> {
    let Some(classes) = n.class_labels()?.map(|l| l.len()) else {
        return Ok(None);
    };
    let Some(base) = n.floats_opt("base_values") else {
        return Ok(None);
    };
    if base.len() >= classes {
        return Ok(None);
    }
    let mut padded = base.to_vec();
    padded.resize(classes, 0.0);
    let outputs: Vec<&str> = n.outputs.iter().map(String::as_str).collect();
    n.rebuilt(
        "TreeEnsembleClassifier",
        &outputs,
        |a| a != "base_values",
        &[("base_values", Attr::Floats(padded))],
    )
    .map(Some)
}

/// tract's `Sigmoid` takes float only; its definition, `1 / (1 + exp(-x))`,
/// runs on doubles too (ml-sdk's logistic exports compute in double).
fn sigmoid(g: &mut Graph, i: usize) -> Result<Vec<Node>> {
    let n = g.nodes[i].clone();
    let (x, y) = single_io(&n)?;
    let (neg, exp, denom) = (
        g.fresh_name("sig_neg"),
        g.fresh_name("sig_exp"),
        g.fresh_name("sig_denom"),
    );
    // A one-element tensor of the input's type: Exp(0) = 1, in the input's type.
    let zero = g.fresh_name("sig_zero");
    let one = g.fresh_name("sig_one");
    let p = &n.name;
    Ok(vec![
        Node::new("Neg", "", &format!("{p}_neg"), &[&x], &[&neg], &[])?,
        Node::new("Exp", "", &format!("{p}_exp"), &[&neg], &[&exp], &[])?,
        Node::new("Sub", "", &format!("{p}_zero"), &[&x, &x], &[&zero], &[])?,
        Node::new("Exp", "", &format!("{p}_one"), &[&zero], &[&one], &[])?,
        Node::new("Add", "", &format!("{p}_denom"), &[&one, &exp], &[&denom], &[])?,
        Node::new("Div", "", p, &[&one, &denom], &[&y], &[])?,
    ])
}

fn single_io(n: &Node) -> Result<(String, String)> {
    match (n.inputs.as_slice(), n.outputs.as_slice()) {
        ([x], [y, ..]) => Ok((x.clone(), y.clone())),
        _ => Err(Error::Invalid(format!(
            "{} node '{}' needs one input and an output",
            n.op_type, n.name
        ))),
    }
}

fn scaler(g: &mut Graph, i: usize) -> Result<Vec<Node>> {
    let n = g.nodes[i].clone();
    let (x, y) = single_io(&n)?;
    let offset = n.floats_opt("offset").map_or_else(|| vec![0.0], <[f32]>::to_vec);
    let scale = n.floats_opt("scale").map_or_else(|| vec![1.0], <[f32]>::to_vec);
    let off = g.add_f32("scaler_offset", &[offset.len() as i64], &offset)?;
    let sc = g.add_f32("scaler_scale", &[scale.len() as i64], &scale)?;
    let cast = g.fresh_name("scaler_cast");
    let centred = g.fresh_name("scaler_centred");
    Ok(vec![
        Node::new(
            "Cast",
            "",
            &format!("{}_cast", n.name),
            &[&x],
            &[&cast],
            &[("to", Attr::Int(DataType::Float as i64))],
        )?,
        Node::new("Sub", "", &format!("{}_sub", n.name), &[&cast, &off], &[&centred], &[])?,
        Node::new("Mul", "", &n.name, &[&centred, &sc], &[&y], &[])?,
    ])
}

fn tree_regressor(g: &mut Graph, i: usize, opset: i64) -> Result<Vec<Node>> {
    let n = g.nodes[i].clone();
    let (_, y) = single_io(&n)?;
    let targets = n.int_or("n_targets", 1)?;
    if targets < 1 {
        return Err(Error::Invalid(format!(
            "TreeEnsembleRegressor '{}': n_targets {targets}",
            n.name
        )));
    }
    let post = n.str_or("post_transform", "NONE")?;
    if post != "NONE" {
        return Err(Error::Unsupported(format!(
            "TreeEnsembleRegressor with post_transform {post} (tract)"
        )));
    }
    let aggregate = n.str_or("aggregate_function", "SUM")?;
    let trees = {
        let mut ids = n.ints("nodes_treeids")?.to_vec();
        ids.sort_unstable();
        ids.dedup();
        ids.len().max(1)
    };
    let divide = match aggregate.as_str() {
        "SUM" => 1.0,
        "AVERAGE" => trees as f32,
        other => {
            return Err(Error::Unsupported(format!(
                "TreeEnsembleRegressor aggregating by {other} (tract)"
            )));
        }
    };
    if n.attr("base_values_as_tensor").is_some() || n.attr("target_weights_as_tensor").is_some() {
        return Err(Error::Unsupported(
            "TreeEnsembleRegressor with *_as_tensor attributes (tract)".into(),
        ));
    }
    // Three or more classes keep tract from its two-class output layout.
    let classes = targets.max(3);
    let weights: Vec<f32> = n.floats("target_weights")?.iter().map(|w| w / divide).collect();
    let mut base = n.floats_opt("base_values").map(<[f32]>::to_vec).unwrap_or_default();
    let mut extra = vec![
        ("class_treeids", Attr::Ints(n.ints("target_treeids")?.to_vec())),
        ("class_nodeids", Attr::Ints(n.ints("target_nodeids")?.to_vec())),
        ("class_ids", Attr::Ints(n.ints("target_ids")?.to_vec())),
        ("class_weights", Attr::Floats(weights)),
        ("classlabels_int64s", Attr::Ints((0..classes).collect())),
        ("post_transform", Attr::Str("NONE".into())),
    ];
    if !base.is_empty() {
        if base.len() != targets as usize {
            return Err(Error::Invalid(format!(
                "TreeEnsembleRegressor '{}': {} base values for {targets} targets",
                n.name,
                base.len()
            )));
        }
        base.resize(classes as usize, 0.0);
        extra.push(("base_values", Attr::Floats(base)));
    }
    let label = g.fresh_name("regressor_label");
    let scores = g.fresh_name("regressor_scores");
    let keep = |a: &str| a.starts_with("nodes_");
    let classifier = n.rebuilt("TreeEnsembleClassifier", &[&label, &scores], keep, &extra)?;
    let name = format!("{}_targets", n.name);
    let slice = if opset >= 10 {
        let starts = g.add_i64("slice_start", &[1], &[0])?;
        let ends = g.add_i64("slice_end", &[1], &[targets])?;
        let axes = g.add_i64("slice_axis", &[1], &[1])?;
        Node::new("Slice", "", &name, &[&scores, &starts, &ends, &axes], &[&y], &[])?
    } else {
        // Opsets 1-9 take the bounds as attributes.
        let attrs = [
            ("starts", Attr::Ints(vec![0])),
            ("ends", Attr::Ints(vec![targets])),
            ("axes", Attr::Ints(vec![1])),
        ];
        Node::new("Slice", "", &name, &[&scores], &[&y], &attrs)?
    };
    Ok(vec![classifier, slice])
}

/// Fixed width of a `[N, width]` value, when declared.
pub(crate) fn declared_width(v: &ValueInfo) -> Option<usize> {
    match v.dims.as_deref() {
        Some([_, Dim::Value(w)]) if *w >= 0 => Some(*w as usize),
        _ => None,
    }
}
