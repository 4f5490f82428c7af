//! The workloads shared by the criterion benches and the side-by-side
//! comparison with scikit-learn (`compare_sklearn.py`), so both measure the
//! same thing.

use std::time::Instant;

use anyhow::{Context, Result};
use ml_sdk::core::{Dataset, Model, Predictions, metrics};
use ml_sdk::learn::{Algorithm, KMeans, Pipeline};

/// The digits train/test split scikit-learn used for the fixtures.
pub fn digits_split() -> Result<(Dataset, Dataset)> {
    let text = include_str!("../../testdata/sklearn_models.json");
    let v: serde_json::Value = serde_json::from_str(text)?;
    let idx = |key: &str| -> Result<Vec<usize>> {
        v["digits_split"][key]
            .as_array()
            .context("split indices")?
            .iter()
            .map(|x| x.as_u64().map(|i| i as usize).context("index"))
            .collect()
    };
    let data = ml_sdk::datasets::digits()?;
    Ok((data.select_rows(&idx("train")?)?, data.select_rows(&idx("test")?)?))
}

/// Standardized logistic regression, C = 1 (scikit-learn's defaults).
pub fn logistic() -> Result<Pipeline> {
    Ok(Pipeline::from_params("logistic", &[], None)?)
}

/// 100 trees of depth at most 8, `sqrt` features, bootstrap.
pub fn forest(seed: u64) -> Result<Pipeline> {
    let p = [("n_trees", "100"), ("max_depth", "8")].map(|(k, v)| (k.to_string(), v.to_string()));
    Ok(Pipeline::from_params("forest", &p, Some(seed))?)
}

/// k-means, 10 clusters, best of 10 k-means++ restarts.
pub fn kmeans(seed: u64) -> Pipeline {
    Pipeline::new(Algorithm::KMeans(KMeans {
        n_clusters: 10,
        n_init: 10,
        seed,
        ..KMeans::default()
    }))
}

/// Accuracy of a classifier on a labelled data set.
pub fn accuracy(model: &dyn Model, data: &Dataset) -> Result<f64> {
    let Predictions::Classification { labels, .. } = model.predict(data.features())? else {
        anyhow::bail!("not a classifier")
    };
    Ok(metrics::accuracy(&data.classes()?.0.to_vec(), &labels.to_vec())?)
}

/// Median wall time of `runs` calls of `f`, after one warm-up call.
pub fn median_seconds<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<f64> {
    f()?;
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f()?);
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}
