//! Hyper-parameter search with cross-validation over any trainer
//! (scikit-learn's `GridSearchCV` and `RandomizedSearchCV`): a
//! [`ParamGrid`] of `key=v1,v2,…` axes, every candidate (or a seeded sample
//! of them) scored on the same folds, the best by mean score.

use rand::seq::SliceRandom;

use crate::{CvScores, Error, Result, seeded_rng};

/// Hyper-parameters as `(key, value)` strings, as trainers take them.
pub type Params = Vec<(String, String)>;

/// A candidate's evaluation: its fold scores for these parameters.
pub type Evaluate<'a> = dyn FnMut(&[(String, String)]) -> Result<CvScores> + 'a;

/// The axes of a search: each key with the values to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamGrid {
    axes: Vec<(String, Vec<String>)>,
}

impl ParamGrid {
    /// The most candidates a grid may have.
    pub const MAX_CANDIDATES: usize = 100_000;

    /// Parse `key=v1,v2,…` axes.
    ///
    /// # Errors
    /// No axes, an axis without `=` or without values, a key given twice,
    /// more than [`ParamGrid::MAX_CANDIDATES`] candidates.
    pub fn parse(specs: &[impl AsRef<str>]) -> Result<Self> {
        if specs.is_empty() {
            return Err(Error::Empty {
                op: "a parameter grid",
                what: "axes (give key=v1,v2,…)",
            });
        }
        let mut axes: Vec<(String, Vec<String>)> = Vec::new();
        for spec in specs {
            let spec = spec.as_ref();
            let Some((key, values)) = spec.split_once('=') else {
                return Err(Error::invalid("grid", format!("'{spec}' is not key=v1,v2,…")));
            };
            let key = key.trim();
            let values: Vec<String> = values
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            if key.is_empty() || values.is_empty() {
                return Err(Error::invalid("grid", format!("'{spec}' is not key=v1,v2,…")));
            }
            if axes.iter().any(|(k, _)| k == key) {
                return Err(Error::invalid("grid", format!("'{key}' is given twice")));
            }
            axes.push((key.to_string(), values));
        }
        let grid = Self { axes };
        if grid.len() > Self::MAX_CANDIDATES {
            return Err(Error::LimitExceeded {
                what: "the parameter grid".into(),
                limit: format!("{} candidates", Self::MAX_CANDIDATES),
                hint: "sample it with a randomized search, or give fewer values".into(),
            });
        }
        Ok(grid)
    }

    /// The keys searched over.
    pub fn keys(&self) -> Vec<&str> {
        self.axes.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Number of candidates (the product of the axes' lengths, saturating).
    pub fn len(&self) -> usize {
        self.axes.iter().fold(1usize, |n, (_, v)| n.saturating_mul(v.len()))
    }

    /// Whether there are no candidates (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th candidate in scikit-learn's `ParameterGrid` order (the
    /// last axis varies fastest).
    fn candidate(&self, mut i: usize) -> Params {
        let mut out = vec![(String::new(), String::new()); self.axes.len()];
        for (slot, (k, values)) in out.iter_mut().zip(&self.axes).rev() {
            *slot = (k.clone(), values[i % values.len()].clone());
            i /= values.len();
        }
        out
    }

    /// Every candidate.
    pub fn candidates(&self) -> Vec<Params> {
        (0..self.len()).map(|i| self.candidate(i)).collect()
    }

    /// `n` distinct candidates drawn with this seed (all of them, shuffled,
    /// when the grid has no more than `n`).
    pub fn sample(&self, n: usize, seed: u64) -> Vec<Params> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut seeded_rng(seed));
        order.truncate(n);
        order.into_iter().map(|i| self.candidate(i)).collect()
    }
}

/// One candidate's parameters and fold scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The searched parameters (without the fixed ones).
    pub params: Params,
    /// Its score on each fold.
    pub scores: CvScores,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    /// Every candidate, in the order tried.
    pub candidates: Vec<Candidate>,
    /// The index of the best (highest mean score; the first on ties).
    pub best: usize,
}

impl SearchOutcome {
    /// The best candidate.
    pub fn best(&self) -> &Candidate {
        &self.candidates[self.best]
    }

    /// Each candidate's rank by mean score (1 is best; ties share the
    /// lower rank, as scikit-learn's `rank_test_score`).
    pub fn ranks(&self) -> Vec<usize> {
        let means: Vec<f64> = self.candidates.iter().map(|c| c.scores.mean()).collect();
        means
            .iter()
            .map(|m| 1 + means.iter().filter(|o| o.total_cmp(m).is_gt()).count())
            .collect()
    }
}

/// Score every candidate with `evaluate` (a cross-validation on fixed
/// folds) and pick the best. `on_candidate` sees each as it is scored.
///
/// # Errors
/// No candidates; the first candidate whose evaluation fails, named by its
/// parameters; a candidate whose mean score is not a number.
pub fn search(
    candidates: Vec<Params>,
    evaluate: &mut Evaluate<'_>,
    on_candidate: &mut dyn FnMut(&Candidate),
) -> Result<SearchOutcome> {
    if candidates.is_empty() {
        return Err(Error::Empty {
            op: "a search",
            what: "candidates",
        });
    }
    let mut out = Vec::with_capacity(candidates.len());
    for params in candidates {
        let scores = evaluate(&params).map_err(|e| named(&params, e))?;
        if scores.scores.is_empty() || scores.mean().is_nan() {
            return Err(named(
                &params,
                Error::Numerical {
                    op: "cross-validation",
                    reason: "the score is not a number".into(),
                },
            ));
        }
        let c = Candidate { params, scores };
        on_candidate(&c);
        out.push(c);
    }
    let mut best = 0;
    for (i, c) in out.iter().enumerate() {
        if c.scores.mean() > out[best].scores.mean() {
            best = i;
        }
    }
    Ok(SearchOutcome { candidates: out, best })
}

/// An error with the candidate that caused it.
fn named(params: &[(String, String)], e: Error) -> Error {
    let p: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Error::invalid(p.join(" "), format!("this candidate failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_enumerate_in_scikit_learn_order_and_sample_without_repeats() {
        let g = ParamGrid::parse(&["c=0.1,1", "max_iter=10,20,30"]).unwrap();
        assert_eq!(g.len(), 6);
        let all = g.candidates();
        let pair = |c: &Params| (c[0].1.clone(), c[1].1.clone());
        assert_eq!(pair(&all[0]), ("0.1".into(), "10".into()));
        assert_eq!(pair(&all[1]), ("0.1".into(), "20".into()));
        assert_eq!(pair(&all[3]), ("1".into(), "10".into()));
        let s = g.sample(4, 7);
        assert_eq!(s.len(), 4);
        let mut seen: Vec<_> = s.iter().map(pair).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 4);
        assert_eq!(g.sample(4, 7), s, "seeded");
        assert_eq!(g.sample(100, 1).len(), 6);
        for bad in [&["c"][..], &["c="], &["=1"], &["c=1", "c=2"]] {
            assert!(ParamGrid::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ParamGrid::parse(&[] as &[&str]).is_err());
    }

    #[test]
    fn search_picks_the_first_best_and_names_failures() {
        let g = ParamGrid::parse(&["a=1,3,2,3"]).unwrap();
        let mut seen = 0;
        let out = search(
            g.candidates(),
            &mut |p| {
                let v: f64 = p[0].1.parse().unwrap();
                Ok(CvScores { scores: vec![v, v] })
            },
            &mut |_| seen += 1,
        )
        .unwrap();
        assert_eq!(seen, 4);
        assert_eq!(out.best, 1);
        assert_eq!(out.ranks(), vec![4, 1, 3, 1]);
        let err = search(g.candidates(), &mut |_| Err(Error::invalid("x", "bad")), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("a=1"), "{err}");
    }
}
