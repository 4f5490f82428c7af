//! Binning: each feature's bins (quantile cut points, or one bin per category).

#[allow(clippy::wildcard_imports)]
use super::*;

/// One feature's bins: upper edges (a value goes to the first bin whose
/// edge, as `f32`, it does not exceed, as the spec's split rule reads).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureBins {
    /// The feature's name.
    pub name: String,
    /// Upper edges of every bin but the last, increasing, as `f32` values.
    pub edges: Vec<f64>,
}

impl FeatureBins {
    pub(super) fn of(&self, v: f64) -> usize {
        let v = v as f32;
        self.edges.partition_point(|&e| v > e as f32)
    }

    pub(super) fn n_bins(&self) -> usize {
        self.edges.len() + 1
    }
}

/// Quantile edges (midpoints between distinct neighbouring values, rounded
/// to `f32`), or one bin per category code.
pub(super) fn bins_of(name: &str, col: &[f64], kind: &FeatureKind, max_bins: usize) -> FeatureBins {
    let edges = match kind {
        FeatureKind::Categorical { categories } => (0..categories.len().saturating_sub(1))
            .map(|c| c as f64 + 0.5)
            .collect(),
        FeatureKind::Numeric => {
            let mut v: Vec<f32> = col.iter().map(|&x| x as f32).collect();
            v.sort_by(f32::total_cmp);
            v.dedup();
            let mut edges: Vec<f64> = if v.len() <= max_bins {
                v.windows(2).map(|w| w[0] as f64).collect()
            } else {
                (1..max_bins)
                    .map(|b| f64::from(v[b * v.len() / max_bins - 1]))
                    .collect()
            };
            edges.dedup();
            edges
        }
    };
    FeatureBins {
        name: name.to_string(),
        edges,
    }
}

/// Every column's bins, every row's bin per column, and the bin counts.
pub(super) fn binning(data: &Dataset, max_bins: usize) -> (Vec<FeatureBins>, Vec<Vec<usize>>, Vec<usize>) {
    let x = data.features();
    let bins: Vec<FeatureBins> = data
        .columns()
        .iter()
        .enumerate()
        .map(|(j, c)| bins_of(&c.name, &x.column(j).to_vec(), &c.kind, max_bins))
        .collect();
    let binned = bins
        .iter()
        .enumerate()
        .map(|(j, b)| x.column(j).iter().map(|&v| b.of(v)).collect())
        .collect();
    let n_bins = bins.iter().map(FeatureBins::n_bins).collect();
    (bins, binned, n_bins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_a_bin_each_and_values_find_their_bin() {
        let b = bins_of("x", &[3.0, 1.0, 2.0, 2.0, 1.0], &FeatureKind::Numeric, 255);
        // Edges at the lower of each neighbouring pair: bins {1}, {2}, {3}.
        assert_eq!(b.edges, [1.0, 2.0]);
        assert_eq!(b.n_bins(), 3);
        assert_eq!([b.of(0.5), b.of(1.0), b.of(1.5), b.of(2.0), b.of(9.0)], [0, 0, 1, 1, 2]);
    }

    #[test]
    fn many_values_get_at_most_max_bins_by_quantile() {
        let col: Vec<f64> = (0..1000).map(f64::from).collect();
        let b = bins_of("x", &col, &FeatureKind::Numeric, 4);
        assert_eq!(b.edges, [249.0, 499.0, 749.0]);
        let counts = col.iter().fold([0; 4], |mut c, &v| {
            c[b.of(v)] += 1;
            c
        });
        assert_eq!(counts, [250; 4]);
    }

    #[test]
    fn categories_get_one_bin_per_code() {
        let kind = FeatureKind::Categorical {
            categories: vec!["a".into(), "b".into(), "c".into()],
        };
        let b = bins_of("x", &[0.0, 2.0], &kind, 255);
        assert_eq!(b.edges, [0.5, 1.5]);
        assert_eq!([b.of(0.0), b.of(1.0), b.of(2.0)], [0, 1, 2]);
    }
}
