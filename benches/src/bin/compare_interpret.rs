//! Times the explanation and fairness workloads of
//! `benches/compare_interpret.py` on the models and data it wrote to DIR,
//! and prints one JSON object per workload: `{"workload", "seconds"}` (the
//! median over ROUNDS runs; ExponentiatedGradient on the bundled German
//! credit data; TreeSHAP also reports its first row's values so
//! the script can check both sides agree). Arguments: DIR ROUNDS.

use anyhow::{Context, Result};
use ml_sdk::core::ndarray::{Array1, Array2};
use ml_sdk::core::{
    Aggregation, Dataset, Estimator, Explainer, FeatureKind, InputColumn, Link, ModelSpec, Signature, Task, Tree,
};
use ml_sdk::interpret::{ExponentiatedGradient, GroupMetric, KernelShap, MetricFrame, Moment, TreeShap};
use ml_sdk_benches::median_seconds;
use serde_json::{Value, json};

fn matrix(v: &Value) -> Result<Array2<f64>> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone())?;
    let (n, m) = (rows.len(), rows.first().map_or(0, Vec::len));
    Ok(Array2::from_shape_vec((n, m), rows.into_iter().flatten().collect())?)
}

fn spec(m: usize, k: usize, estimator: Estimator) -> ModelSpec {
    ModelSpec {
        signature: Signature {
            inputs: (0..m)
                .map(|j| InputColumn {
                    name: format!("f{j}"),
                    kind: FeatureKind::Numeric,
                })
                .collect(),
            unknown_category: Default::default(),
            task: Task::Classification {
                classes: (0..k).map(|c| c.to_string()).collect(),
            },
            accepts_missing: false,
        },
        preprocessing: vec![],
        estimator,
    }
}

fn dataset(x: &Array2<f64>) -> Result<Dataset> {
    Ok(Dataset::new(
        x.clone(),
        (0..x.ncols()).map(|j| format!("f{j}")).collect(),
    )?)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().context("DIR")?);
    let rounds: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let read = |name: &str| -> Result<Value> { Ok(serde_json::from_str(&std::fs::read_to_string(dir.join(name))?)?) };

    let f = read("forest.json")?;
    let trees: Vec<Tree> = serde_json::from_value(f["trees"].clone())?;
    let k = f["n_outputs"].as_u64().context("n_outputs")? as usize;
    let rows = matrix(&f["rows"])?;
    let model = spec(
        rows.ncols(),
        k,
        Estimator::TreeEnsemble {
            trees,
            aggregation: Aggregation::Average,
            base_values: vec![0.0; k],
            link: Link::Identity,
        },
    );
    let data = dataset(&rows)?;
    let explainer = TreeShap::path_dependent();
    let s = median_seconds(rounds, || Ok(explainer.explain(&model, &data)?))?;
    let e = explainer.explain(&model, &data)?;
    let row0: Vec<Vec<f64>> = e
        .values
        .outer_iter()
        .next()
        .context("rows")?
        .outer_iter()
        .map(|r| r.to_vec())
        .collect();
    println!("{}", json!({"workload": "tree_shap", "seconds": s, "row0": row0}));

    let kj = read("kernel.json")?;
    let coefficients = matrix(&kj["coefficients"])?;
    let intercepts: Vec<f64> = serde_json::from_value(kj["intercepts"].clone())?;
    let rows = matrix(&kj["rows"])?;
    let model = spec(
        rows.ncols(),
        2,
        Estimator::Linear {
            coefficients,
            intercepts: Array1::from(intercepts),
            link: Link::Logistic,
        },
    );
    let data = dataset(&rows)?;
    let explainer = KernelShap {
        n_samples: kj["n_samples"].as_u64().map(|v| v as usize),
        ..KernelShap::new(matrix(&kj["background"])?)
    };
    let s = median_seconds(rounds, || Ok(explainer.explain(&model, &data)?))?;
    println!("{}", json!({"workload": "kernel_shap", "seconds": s}));

    let text = std::fs::read_to_string(dir.join("fairness.csv"))?;
    let (mut y, mut p, mut g) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let mut it = line.split(',');
        y.push(it.next().context("y")?.parse::<usize>()?);
        p.push(it.next().context("p")?.parse::<usize>()?);
        g.push(it.next().context("g")?.to_string());
    }
    let metrics = [
        GroupMetric::Accuracy,
        GroupMetric::SelectionRate,
        GroupMetric::TruePositiveRate,
        GroupMetric::FalsePositiveRate,
    ];
    let s = median_seconds(rounds, || Ok(MetricFrame::new(&metrics, &y, &p, &[("g", &g)], 1)?))?;
    println!("{}", json!({"workload": "metric_frame", "seconds": s}));

    let german = ml_sdk::datasets::load("german_credit")?;
    let groups = german.sensitive().first().context("sex")?.values.clone();
    let trainer = ml_sdk::learn::Pipeline::from_params("logistic", &[], None)?;
    let eg = ExponentiatedGradient::new(Moment::DemographicParity);
    let s = median_seconds(rounds, || Ok(eg.fit(&trainer, &german, &groups)?))?;
    println!("{}", json!({"workload": "exponentiated_gradient", "seconds": s}));

    // InterpretML's defaults on both sides; one fit each, as in the script.
    let bc = ml_sdk::datasets::load("breast_cancer")?;
    let ebm = ml_sdk::interpret::Ebm::default();
    let s = median_seconds(1, || Ok(ebm.fit_ebm(&bc)?))?;
    println!("{}", json!({"workload": "ebm_fit", "seconds": s}));
    Ok(())
}
