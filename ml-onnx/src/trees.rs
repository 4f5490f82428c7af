//! A replacement for tract's tree-ensemble evaluation.
//!
//! tract-onnx-opl 0.23.9 finds a leaf's weights by skipping an ndarray
//! iterator from the first leaf entry of the whole ensemble
//! (`TreeEnsembleData::eval_unchecked`), so one tree costs time in proportion
//! to every leaf entry before it: 1000 rows through a 100-tree, ten-class
//! forest took 45 s. It also reads `BRANCH_GTE` nodes (comparator 6) as
//! leaves. After tract has built and optimized a model, every
//! `TreeEnsembleClassifier` op is swapped for [`FastTrees`], which decodes the
//! same tables once into plain vectors, checks every index in them, and walks
//! each tree with direct indexing. Output shapes, types and the aggregation
//! rules (including tract's zero-initialised MIN/MAX) are those of the op it
//! replaces.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx_opl::ml::tree::Aggregate;
use tract_onnx_opl::ml::tree_ensemble_classifier::TreeEnsembleClassifier;

/// Swap each tract `TreeEnsembleClassifier` in `model` for [`FastTrees`].
pub(crate) fn accelerate(model: &mut TypedModel) -> Result<(), String> {
    for node in &mut model.nodes {
        if let Some(op) = node.op_as::<TreeEnsembleClassifier>() {
            let fast = FastTrees::new(op)?;
            node.op = Box::new(fast);
        }
    }
    Ok(())
}

/// One decoded node, 16 bytes: a branch sends `x[feature] <cmp> value` to
/// node `a`, otherwise to node `b`; a leaf (`feature == LEAF`) owns rows
/// `a..b` of the leaf tables.
#[derive(Debug, Clone, Copy)]
struct Node {
    feature: u32,
    value: f32,
    a: u32,
    b: u32,
}

const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct FastTrees {
    /// The op replaced: kept for its name, output facts and equality.
    inner: TreeEnsembleClassifier,
    roots: Vec<u32>,
    nodes: Vec<Node>,
    /// Per node: comparator (tract's `Cmp` numbering, 0 for leaves) and
    /// whether NaN takes the true branch.
    cmp: Vec<u8>,
    nan_true: Vec<bool>,
    /// The comparator of every branch when they all share one, else 0.
    uniform_cmp: u8,
    leaf_class: Vec<u32>,
    leaf_weight: Vec<f32>,
    /// For SUM: each leaf's contributions as a dense row of `n_classes`
    /// (`dense_row[node]` is its row), so a visit is one vector add.
    dense: Vec<f32>,
    dense_row: Vec<u32>,
    n_classes: usize,
    /// Inputs need more columns than this (`None`: no branch reads one).
    max_feature: Option<usize>,
}

impl PartialEq for FastTrees {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}
impl Eq for FastTrees {}

fn u32s(t: &Tensor, what: &str) -> Result<Vec<u32>, String> {
    t.try_as_plain_ram()
        .and_then(|p| p.as_slice::<u32>().map(<[u32]>::to_vec))
        .map_err(|e| format!("tree ensemble {what}: {e}"))
}

/// Refuse tables in which some node can reach itself: walks then need no
/// step limit.
fn check_acyclic(nodes: &[Node]) -> Result<(), String> {
    // 0 unvisited, 1 on the current path, 2 finished.
    let mut state = vec![0u8; nodes.len()];
    let mut stack: Vec<(usize, u8)> = Vec::new();
    for start in 0..nodes.len() {
        if state[start] != 0 {
            continue;
        }
        state[start] = 1;
        stack.push((start, 0));
        while let Some(&mut (id, ref mut next)) = stack.last_mut() {
            let n = nodes[id];
            let child = match (n.feature == LEAF, *next) {
                (false, 0) => Some(n.a),
                (false, 1) => Some(n.b),
                _ => None,
            };
            *next += 1;
            match child.map(|c| c as usize) {
                Some(c) if state[c] == 1 => return Err(format!("tree ensemble node {c} reaches itself")),
                Some(c) if state[c] == 0 => {
                    state[c] = 1;
                    stack.push((c, 0));
                }
                Some(_) => {}
                None => {
                    state[id] = 2;
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}

impl FastTrees {
    fn new(op: &TreeEnsembleClassifier) -> Result<Self, String> {
        let data = &op.ensemble.data;
        let roots = u32s(&data.trees, "roots")?;
        let rows = u32s(&data.nodes, "nodes")?;
        let leaves = u32s(&data.leaves, "leaves")?;
        if rows.len() % 5 != 0 || leaves.len() % 2 != 0 {
            return Err("tree ensemble tables of unexpected shape".into());
        }
        let n_nodes = rows.len() / 5;
        let n_leaf_rows = leaves.len() / 2;
        let k = op.ensemble.n_classes();
        let leaf_class: Vec<u32> = leaves.iter().step_by(2).copied().collect();
        let leaf_weight: Vec<f32> = leaves.iter().skip(1).step_by(2).map(|&w| f32::from_bits(w)).collect();
        if let Some(&c) = leaf_class.iter().find(|&&c| c as usize >= k) {
            return Err(format!("tree ensemble class {c} of {k}"));
        }
        let mut nodes = Vec::with_capacity(n_nodes);
        let mut cmp = Vec::with_capacity(n_nodes);
        let mut nan_true = Vec::with_capacity(n_nodes);
        let mut dense = Vec::new();
        let mut dense_row = vec![0u32; n_nodes];
        let mut max_feature = None::<usize>;
        for (id, r) in rows.chunks_exact(5).enumerate() {
            let c = (r[4] & 0xFF) as u8;
            if (1..=6).contains(&c) {
                if r[1] as usize >= n_nodes || r[2] as usize >= n_nodes {
                    return Err(format!("tree ensemble branch to node {} of {n_nodes}", r[1].max(r[2])));
                }
                if r[0] == LEAF {
                    return Err(format!("tree ensemble feature {}", r[0]));
                }
                max_feature = max_feature.max(Some(r[0] as usize));
                nodes.push(Node {
                    feature: r[0],
                    value: f32::from_bits(r[3]),
                    a: r[1],
                    b: r[2],
                });
            } else {
                if r[0] > r[1] || r[1] as usize > n_leaf_rows {
                    return Err(format!("tree ensemble leaf rows {}..{} of {n_leaf_rows}", r[0], r[1]));
                }
                dense_row[id] = u32::try_from(dense.len() / k.max(1)).map_err(|e| e.to_string())?;
                let mut row = vec![0f32; k];
                for e in r[0] as usize..r[1] as usize {
                    row[leaf_class[e] as usize] += leaf_weight[e];
                }
                dense.extend(row);
                nodes.push(Node {
                    feature: LEAF,
                    value: 0.0,
                    a: r[0],
                    b: r[1],
                });
            }
            cmp.push(if nodes[id].feature == LEAF { 0 } else { c });
            nan_true.push(r[4] & 0x100 != 0);
        }
        if let Some(&r) = roots.iter().find(|&&r| r as usize >= n_nodes) {
            return Err(format!("tree ensemble root {r} of {n_nodes} nodes"));
        }
        check_acyclic(&nodes)?;
        let mut branch_cmps = cmp.iter().copied().filter(|&c| c != 0);
        let first = branch_cmps.next().unwrap_or(5);
        let uniform_cmp = if branch_cmps.all(|c| c == first) { first } else { 0 };
        Ok(FastTrees {
            inner: op.clone(),
            roots,
            nodes,
            cmp,
            nan_true,
            uniform_cmp,
            leaf_class,
            leaf_weight,
            dense,
            dense_row,
            n_classes: k,
            max_feature,
        })
    }

    /// The leaf `x` reaches from `root`, every branch comparing with `CMP`
    /// (0: each node's own comparator). The tables are acyclic and every
    /// index was checked when they were decoded.
    #[inline(always)]
    fn leaf<const CMP: u8>(&self, root: u32, x: &[f32]) -> usize {
        let mut id = root as usize;
        loop {
            let n = self.nodes[id];
            if n.feature == LEAF {
                return id;
            }
            let v = x[n.feature as usize];
            let c = if CMP == 0 { self.cmp[id] } else { CMP };
            let go_true = if v.is_nan() {
                self.nan_true[id]
            } else {
                match c {
                    1 => v == n.value,
                    2 => v != n.value,
                    3 => v < n.value,
                    4 => v > n.value,
                    5 => v <= n.value,
                    _ => v >= n.value,
                }
            };
            id = if go_true { n.a } else { n.b } as usize;
        }
    }

    fn eval_rows<const CMP: u8>(&self, x: &[f32], n: usize, width: usize, out: &mut [f32]) {
        let k = self.n_classes;
        let row = |i: usize| &x[i * width..(i + 1) * width];
        if self.inner.ensemble.aggregate_fn == Aggregate::Sum {
            // Tree by tree, so one tree's nodes stay in cache across rows.
            for &root in &self.roots {
                for i in 0..n {
                    let leaf = self.leaf::<CMP>(root, row(i));
                    let d = self.dense_row[leaf] as usize * k;
                    for (y, w) in out[i * k..(i + 1) * k].iter_mut().zip(&self.dense[d..d + k]) {
                        *y += w;
                    }
                }
            }
            return;
        }
        let agg = self.inner.ensemble.aggregate_fn;
        let mut counts = vec![0usize; k];
        for i in 0..n {
            let y = &mut out[i * k..(i + 1) * k];
            counts.iter_mut().for_each(|c| *c = 0);
            for &root in &self.roots {
                let leaf = self.nodes[self.leaf::<CMP>(root, row(i))];
                for e in leaf.a as usize..leaf.b as usize {
                    let c = self.leaf_class[e] as usize;
                    let w = self.leaf_weight[e];
                    match agg {
                        Aggregate::Avg => {
                            y[c] += w;
                            counts[c] += 1;
                        }
                        Aggregate::Max => y[c] = y[c].max(w),
                        Aggregate::Min => y[c] = y[c].min(w),
                        Aggregate::Sum => y[c] += w,
                    }
                }
            }
            if agg == Aggregate::Avg {
                for (v, &c) in y.iter_mut().zip(&counts) {
                    if c > 1 {
                        *v /= c as f32;
                    }
                }
            }
        }
    }
}

impl Op for FastTrees {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    op_as_typed_op!();
}

impl EvalOp for FastTrees {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext<'_>, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let input = input.cast_to::<f32>()?;
        let shape = input.shape();
        let &[n, width] = shape else {
            bail!("tree ensemble input of shape {shape:?}, expected [N, features]");
        };
        if let Some(f) = self.max_feature
            && width <= f
        {
            bail!("tree ensemble reads feature {f}, input has {width}");
        }
        let x = input.try_as_plain_ram()?.as_slice::<f32>()?;
        let mut out = vec![0f32; n * self.n_classes];
        match self.uniform_cmp {
            1 => self.eval_rows::<1>(x, n, width, &mut out),
            2 => self.eval_rows::<2>(x, n, width, &mut out),
            3 => self.eval_rows::<3>(x, n, width, &mut out),
            4 => self.eval_rows::<4>(x, n, width, &mut out),
            5 => self.eval_rows::<5>(x, n, width, &mut out),
            6 => self.eval_rows::<6>(x, n, width, &mut out),
            _ => self.eval_rows::<0>(x, n, width, &mut out),
        }
        Ok(tvec!(Tensor::from_shape(&[n, self.n_classes], &out)?.into_tvalue()))
    }
}

impl TypedOp for FastTrees {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.inner.output_facts(inputs)
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use ml_core::Model;
    use ml_core::ndarray::Array2;

    use crate::graph::{AttrValue, OnnxGraph};
    use crate::proto::Attr;
    use crate::{OnnxModel, Runtime};

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../testdata/onnx/{name}.onnx", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap()
    }

    /// `forest` with every `x <= v` split restated in another comparison
    /// that sends exactly the same f32 values the same way.
    fn restated(bytes: &[u8], mode: &str) -> Vec<u8> {
        let mut g = OnnxGraph::parse(bytes).unwrap();
        let i = g
            .graph
            .nodes
            .iter()
            .position(|n| n.op_type == "TreeEnsembleClassifier")
            .unwrap();
        let n = &g.graph.nodes[i];
        let modes = n.strings("nodes_modes").unwrap();
        let (mut values, mut t, mut f) = (
            n.floats("nodes_values").unwrap().to_vec(),
            n.ints("nodes_truenodeids").unwrap().to_vec(),
            n.ints("nodes_falsenodeids").unwrap().to_vec(),
        );
        let mut new_modes = Vec::new();
        for (j, m) in modes.iter().enumerate() {
            if m == "LEAF" {
                new_modes.push(m.clone());
                continue;
            }
            assert_eq!(m, "BRANCH_LEQ");
            // Alternate nodes keep LEQ: a mix of comparators.
            let mode = if mode == "MIXED" {
                ["BRANCH_GT", "BRANCH_LEQ"][j % 2]
            } else {
                mode
            };
            match mode {
                "BRANCH_LEQ" => {}
                // A branch back to the root: a cycle.
                "CYCLE" => t[j] = 0,
                // x <= v  <=>  x < next_up(v)
                "BRANCH_LT" => values[j] = values[j].next_up(),
                // x <= v  <=>  !(x > v)
                "BRANCH_GT" => std::mem::swap(&mut t[j], &mut f[j]),
                // x <= v  <=>  !(x >= next_up(v))
                "BRANCH_GTE" => {
                    values[j] = values[j].next_up();
                    std::mem::swap(&mut t[j], &mut f[j]);
                }
                other => panic!("{other}"),
            }
            new_modes.push(if mode == "CYCLE" { "BRANCH_LEQ" } else { mode }.to_string());
        }
        let replaced = ["nodes_modes", "nodes_values", "nodes_truenodeids", "nodes_falsenodeids"];
        let outputs: Vec<&str> = n.outputs.iter().map(String::as_str).collect();
        let node = n
            .rebuilt(
                &n.op_type,
                &outputs,
                |a| !replaced.contains(&a),
                &[
                    ("nodes_modes", Attr::Strs(new_modes)),
                    ("nodes_values", Attr::Floats(values)),
                    ("nodes_truenodeids", Attr::Ints(t)),
                    ("nodes_falsenodeids", Attr::Ints(f)),
                ],
            )
            .unwrap();
        assert!(matches!(node.attr("nodes_modes"), Some(AttrValue::Strs(_))));
        g.graph.nodes[i] = node;
        g.to_bytes()
    }

    #[test]
    fn every_comparison_mode_evaluates_like_ort_semantics() {
        let bytes = fixture("forest_multi");
        let original = OnnxModel::from_bytes(&bytes, Runtime::Tract).unwrap();
        let width = original.signature().n_inputs();
        // A grid of small integers and halves around iris's thresholds.
        let x = Array2::from_shape_fn((64, width), |(i, j)| ((i * 7 + j * 3) % 17) as f64 / 2.0);
        let want = original.predict(x.view()).unwrap();
        for mode in ["BRANCH_LT", "BRANCH_GT", "BRANCH_GTE", "MIXED"] {
            let model = OnnxModel::from_bytes(&restated(&bytes, mode), Runtime::Tract).unwrap();
            let got = model.predict(x.view()).unwrap();
            assert_eq!(got, want, "{mode}");
        }
    }

    #[test]
    fn a_cycle_in_a_tree_is_an_error_not_a_hang() {
        let bytes = restated(&fixture("forest_multi"), "CYCLE");
        let err = OnnxModel::from_bytes(&bytes, Runtime::Tract).unwrap_err();
        assert!(err.to_string().contains("reaches itself"), "{err}");
    }
}
