//! Train/test splits, k-fold cross-validation, seeded and reproducible.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

use crate::{Dataset, Error, Predictions, Result, Target, Trainer, metrics};

/// The generator behind every seeded operation: a fixed algorithm, so a seed
/// gives the same result on every platform and release.
pub type SeededRng = Xoshiro256PlusPlus;

/// A seeded generator.
pub fn seeded_rng(seed: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed)
}

/// Row indices of one train/test split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Training rows.
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

fn class_labels(data: &Dataset) -> Result<Vec<usize>> {
    match data.target() {
        Some(Target::Classes { labels, .. }) => Ok(labels.to_vec()),
        _ => Err(Error::Unsupported("stratification needs class labels".into())),
    }
}

/// Split rows into a training and a test set. The test set has
/// `ceil(test_fraction · n)` rows (scikit-learn's rounding). With `stratify`,
/// each class is split in the same proportion.
///
/// # Errors
/// A fraction outside (0, 1), a split leaving either side empty, stratifying
/// without class labels.
pub fn train_test_split(data: &Dataset, test_fraction: f64, seed: u64, stratify: bool) -> Result<(Dataset, Dataset)> {
    let fold = train_test_indices(data, test_fraction, seed, stratify)?;
    Ok((data.select_rows(&fold.train)?, data.select_rows(&fold.test)?))
}

/// The row indices of [`train_test_split`].
///
/// # Errors
/// As [`train_test_split`].
pub fn train_test_indices(data: &Dataset, test_fraction: f64, seed: u64, stratify: bool) -> Result<Fold> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::invalid(
            "test_fraction",
            format!("{test_fraction} is not in (0, 1)"),
        ));
    }
    let n = data.n_samples();
    let n_test = (test_fraction * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(Error::invalid(
            "test_fraction",
            format!("{test_fraction} of {n} rows leaves one side empty"),
        ));
    }
    let mut rng = seeded_rng(seed);
    let mut test = Vec::with_capacity(n_test);
    if stratify {
        let labels = class_labels(data)?;
        let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, &l) in labels.iter().enumerate() {
            by_class.entry(l).or_default().push(i);
        }
        // Largest-remainder allocation of the test rows to classes.
        let mut alloc: Vec<(usize, usize, f64)> = by_class
            .iter()
            .map(|(&c, rows)| {
                let exact = rows.len() as f64 * n_test as f64 / n as f64;
                (c, exact.floor() as usize, exact - exact.floor())
            })
            .collect();
        let mut short = n_test - alloc.iter().map(|a| a.1).sum::<usize>();
        let mut order: Vec<usize> = (0..alloc.len()).collect();
        order.sort_by(|&a, &b| alloc[b].2.total_cmp(&alloc[a].2));
        for &i in order.iter().cycle().take(order.len() * 2) {
            if short == 0 {
                break;
            }
            if alloc[i].1 < by_class[&alloc[i].0].len() {
                alloc[i].1 += 1;
                short -= 1;
            }
        }
        for (c, k, _) in alloc {
            let mut rows = by_class[&c].clone();
            rows.shuffle(&mut rng);
            test.extend_from_slice(&rows[..k]);
        }
    } else {
        let mut rows: Vec<usize> = (0..n).collect();
        rows.shuffle(&mut rng);
        test.extend_from_slice(&rows[..n_test]);
    }
    test.sort_unstable();
    let mut in_test = vec![false; n];
    for &t in &test {
        in_test[t] = true;
    }
    let train = (0..n).filter(|&i| !in_test[i]).collect();
    Ok(Fold { train, test })
}

/// K-fold cross-validation splitter.
///
/// Without shuffling, the folds are exactly scikit-learn's `KFold(k)` and
/// `StratifiedKFold(k)`, so cross-validation scores can be compared fold by
/// fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KFold {
    k: usize,
    seed: Option<u64>,
    stratified: bool,
}

impl KFold {
    /// `k` folds, in row order, not stratified.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            seed: None,
            stratified: false,
        }
    }

    /// Shuffle rows (or, stratified, the fold assignment within each class) with this seed.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Keep class proportions in each fold.
    pub fn stratified(mut self, yes: bool) -> Self {
        self.stratified = yes;
        self
    }

    /// The folds.
    ///
    /// # Errors
    /// `k < 2`, more folds than rows (or than members of a class, stratified),
    /// stratifying without class labels.
    #[allow(clippy::needless_range_loop)] // `c` indexes classes in several tables at once
    pub fn split(&self, data: &Dataset) -> Result<Vec<Fold>> {
        let n = data.n_samples();
        let k = self.k;
        if k < 2 || k > n {
            return Err(Error::invalid(
                "k",
                format!("{k} folds for {n} rows (need 2 <= k <= rows)"),
            ));
        }
        let mut rng = self.seed.map(seeded_rng);
        let mut fold_of = vec![0usize; n];
        if self.stratified {
            let labels = class_labels(data)?;
            // Classes numbered by first appearance, as scikit-learn does.
            let mut order_of: BTreeMap<usize, usize> = BTreeMap::new();
            for &l in &labels {
                let next = order_of.len();
                order_of.entry(l).or_insert(next);
            }
            let enc: Vec<usize> = labels.iter().map(|l| order_of[l]).collect();
            let n_classes = order_of.len();
            let mut counts = vec![0usize; n_classes];
            for &e in &enc {
                counts[e] += 1;
            }
            if let Some(min) = counts.iter().min()
                && *min < k
            {
                return Err(Error::invalid(
                    "k",
                    format!("{k} folds but the smallest class has {min} rows"),
                ));
            }
            let mut sorted = enc.clone();
            sorted.sort_unstable();
            // allocation[f][c]: rows of class c in fold f.
            let mut allocation = vec![vec![0usize; n_classes]; k];
            for (i, &c) in sorted.iter().enumerate() {
                allocation[i % k][c] += 1;
            }
            for c in 0..n_classes {
                let mut folds: Vec<usize> = (0..k).flat_map(|f| std::iter::repeat_n(f, allocation[f][c])).collect();
                if let Some(r) = rng.as_mut() {
                    folds.shuffle(r);
                }
                let rows = (0..n).filter(|&i| enc[i] == c);
                for (row, f) in rows.zip(folds) {
                    fold_of[row] = f;
                }
            }
        } else {
            let mut rows: Vec<usize> = (0..n).collect();
            if let Some(r) = rng.as_mut() {
                rows.shuffle(r);
            }
            let mut start = 0;
            for f in 0..k {
                let size = n / k + usize::from(f < n % k);
                for &row in &rows[start..start + size] {
                    fold_of[row] = f;
                }
                start += size;
            }
        }
        Ok((0..k)
            .map(|f| Fold {
                train: (0..n).filter(|&i| fold_of[i] != f).collect(),
                test: (0..n).filter(|&i| fold_of[i] == f).collect(),
            })
            .collect())
    }
}

/// Scores of a cross-validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CvScores {
    /// One score per fold.
    pub scores: Vec<f64>,
}

impl CvScores {
    /// Mean score.
    pub fn mean(&self) -> f64 {
        self.scores.iter().sum::<f64>() / self.scores.len() as f64
    }

    /// Population standard deviation (as `numpy.std`).
    pub fn std(&self) -> f64 {
        let m = self.mean();
        (self.scores.iter().map(|s| (s - m) * (s - m)).sum::<f64>() / self.scores.len() as f64).sqrt()
    }
}

/// The default score of a data set's task: accuracy for classification, R² for
/// regression (scikit-learn's `score`).
///
/// # Errors
/// As [`metrics::evaluate`].
pub fn default_score(data: &Dataset, predictions: &Predictions) -> Result<f64> {
    let m = metrics::evaluate(data, predictions)?;
    Ok(m.get("accuracy").or_else(|| m.get("r2")).copied().unwrap_or(f64::NAN))
}

/// Fit on each fold's training rows and score on its test rows.
///
/// # Errors
/// Fitting, prediction or scoring failures, with the fold's error.
pub fn cross_validate(
    trainer: &dyn Trainer,
    data: &Dataset,
    folds: &[Fold],
    score: &dyn Fn(&Dataset, &Predictions) -> Result<f64>,
) -> Result<CvScores> {
    let mut scores = Vec::with_capacity(folds.len());
    for fold in folds {
        let train = data.select_rows(&fold.train)?;
        let test = data.select_rows(&fold.test)?;
        let model = trainer.fit(&train)?;
        let pred = model.predict(test.aligned_to(&model.signature().inputs)?.features())?;
        scores.push(score(&test, &pred)?);
    }
    Ok(CvScores { scores })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn data(labels: Vec<usize>) -> Dataset {
        let n = labels.len();
        Dataset::new(Array2::from_shape_fn((n, 1), |(i, _)| i as f64), vec!["x".into()])
            .unwrap()
            .with_classes(labels, vec!["a".into(), "b".into()])
            .unwrap()
    }

    #[test]
    fn kfold_matches_sklearn_sizes_and_covers_all_rows() {
        let d = data(vec![0; 10]);
        let folds = KFold::new(3).split(&d).unwrap();
        let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
        assert_eq!(sizes, vec![4, 3, 3]);
        assert_eq!(folds[0].test, vec![0, 1, 2, 3]);
        let mut all: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn stratified_kfold_matches_sklearn() {
        // sklearn: StratifiedKFold(2).split(X, [0,0,0,1,1,1,1,0]) test folds [0,1,3,4] and [2,5,6,7].
        let d = data(vec![0, 0, 0, 1, 1, 1, 1, 0]);
        let folds = KFold::new(2).stratified(true).split(&d).unwrap();
        assert_eq!(folds[0].test, vec![0, 1, 3, 4]);
        assert_eq!(folds[1].test, vec![2, 5, 6, 7]);
    }

    #[test]
    fn split_is_seeded_and_stratified() {
        let d = data((0..100).map(|i| usize::from(i % 4 == 0)).collect());
        let a = train_test_indices(&d, 0.2, 7, true).unwrap();
        let b = train_test_indices(&d, 0.2, 7, true).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.test.len(), 20);
        assert_eq!(a.test.iter().filter(|&&i| i % 4 == 0).count(), 5);
        assert!(train_test_indices(&d, 1.5, 7, false).is_err());
    }
}
