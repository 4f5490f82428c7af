//! The fitted model and its spec: one tree per feature over its bins.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A fitted EBM: intercept, bins and shape functions.
#[derive(Debug, Clone, Serialize)]
pub struct EbmModel {
    #[serde(skip)]
    pub(super) spec: ModelSpec,
    /// One intercept per score: the only one, or each class's with more than
    /// two classes (softmax link).
    pub intercepts: Vec<f64>,
    /// Each feature's bins.
    pub bins: Vec<FeatureBins>,
    /// Each feature's shape function: one value per bin (with more than two
    /// classes, one per bin and class: bin `b`, class `c` at
    /// `b * classes + c`), centred so that its mean over the training rows
    /// is 0.
    pub shapes: Vec<Vec<f64>>,
    /// Training rows per bin.
    pub counts: Vec<Vec<f64>>,
    /// Boosting rounds run in each bag.
    pub rounds: Vec<usize>,
    /// Interaction terms (empty unless asked for).
    pub pairs: Vec<PairTerm>,
}

impl EbmModel {
    /// Each row's main-effect contributions (`rows × features`): the local
    /// explanation, exact by construction (interaction terms, if any, add
    /// [`pair_contributions`](Self::pair_contributions)).
    ///
    /// # Errors
    /// Input that does not match the model; a model of more than two
    /// classes, which has a contribution per class (TreeSHAP on the model
    /// gives them, centred).
    pub fn contributions(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.one_score_input(x)?;
        Ok(Array2::from_shape_fn((x.nrows(), self.bins.len()), |(i, j)| {
            self.shapes[j][self.bins[j].of(x[[i, j]])]
        }))
    }

    /// Each row's interaction contributions (`rows × pairs`).
    ///
    /// # Errors
    /// Input that does not match the model; a model of more than two
    /// classes (see [`contributions`](Self::contributions)).
    pub fn pair_contributions(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.one_score_input(x)?;
        Ok(Array2::from_shape_fn((x.nrows(), self.pairs.len()), |(i, k)| {
            let p = &self.pairs[k];
            p.values[p.bins.0.of(x[[i, p.features.0]])][p.bins.1.of(x[[i, p.features.1]])]
        }))
    }
}

impl EbmModel {
    /// The intercept (log-odds or value; with more than two classes, the
    /// first class's score, see `intercepts`).
    pub fn intercept(&self) -> f64 {
        self.intercepts[0]
    }

    /// The contribution methods' checks: one score per row, valid input.
    pub(super) fn one_score_input(&self, x: ArrayView2<'_, f64>) -> Result<()> {
        if self.intercepts.len() > 1 {
            return Err(Error::Unsupported(
                "contributions of an EBM with more than two classes (one per class: explain it with TreeSHAP)".into(),
            ));
        }
        Ok(self.spec.signature.validate_input(x)?)
    }
}

impl Model for EbmModel {
    fn signature(&self) -> &Signature {
        &self.spec.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> ml_core::Result<Predictions> {
        self.spec.predict(x)
    }

    fn describe(&self) -> ml_core::Result<ModelSpec> {
        Ok(self.spec.clone())
    }
}

/// A tree over a feature's bins: balanced splits at the edges, a leaf per
/// bin, each node's value the count-weighted mean of its bins' `k` values.
pub(super) fn shape_tree(feature: usize, bins: &FeatureBins, shape: &[f64], counts: &[f64], k: usize) -> Tree {
    #[allow(clippy::too_many_arguments)]
    fn build(
        nodes: &mut Vec<TreeNode>,
        feature: usize,
        edges: &[f64],
        shape: &[f64],
        counts: &[f64],
        k: usize,
        lo: usize,
        hi: usize,
    ) -> usize {
        let at = nodes.len();
        let cover: f64 = counts[lo..=hi].iter().sum();
        let value = (0..k)
            .map(|c| {
                if cover > 0.0 {
                    (lo..=hi).map(|b| shape[b * k + c] * counts[b]).sum::<f64>() / cover
                } else {
                    (lo..=hi).map(|b| shape[b * k + c]).sum::<f64>() / (hi - lo + 1) as f64
                }
            })
            .collect();
        nodes.push(TreeNode {
            split: None,
            value,
            cover,
        });
        if lo < hi {
            let mid = (lo + hi) / 2;
            let left = build(nodes, feature, edges, shape, counts, k, lo, mid);
            let right = build(nodes, feature, edges, shape, counts, k, mid + 1, hi);
            nodes[at].split = Some(Split {
                feature,
                threshold: edges[mid],
                left,
                right,
                missing_left: false,
                categories: None,
            });
        }
        at
    }
    let mut nodes = Vec::new();
    build(&mut nodes, feature, &bins.edges, shape, counts, k, 0, counts.len() - 1);
    Tree { nodes }
}
