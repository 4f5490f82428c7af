//! Charts are written as SVG and PNG that other readers open: the SVG holds
//! one circle per point, the PNG decodes to the chart's size and is not
//! blank; a bad extension is an error and leaves nothing behind.

use ml_core::{Dataset, Explainer, Trainer};
use ml_interpret::charts::Chart;
use ml_interpret::{GroupMetric, MetricFrame, PartialDependence, TreeShap};
use ml_learn::Pipeline;

fn png_ok(path: &std::path::Path) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert!(img.width() >= 900 && img.height() >= 300);
    let non_white = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(non_white > 1000, "{}: only {non_white} drawn pixels", path.display());
}

#[test]
fn explanation_and_fairness_charts_are_written_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("MLSDK_KEEP_CHARTS").map(std::path::PathBuf::from);
    let dir_path = keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
    let data = ml_datasets::load("iris").unwrap();
    let model = Pipeline::from_params("forest", &[("n_trees".into(), "5".into())], Some(1))
        .unwrap()
        .fit(&data)
        .unwrap();
    let e = TreeShap::path_dependent().explain(model.as_ref(), &data).unwrap();
    let summary = Chart::shap_summary(&e, data.features(), 2, 3).unwrap();
    let Chart::Beeswarm { features, points, .. } = &summary else {
        panic!()
    };
    assert_eq!(features.len(), 3);
    assert!(points.iter().all(|p| p.len() == 150));
    for ext in ["svg", "png"] {
        let path = dir_path.as_path().join(format!("summary.{ext}"));
        summary.save(&path).unwrap();
        if ext == "svg" {
            let svg = std::fs::read_to_string(&path).unwrap();
            assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
            assert_eq!(svg.matches("<circle").count(), 450);
            assert!(svg.contains("petal"), "feature names are drawn");
        } else {
            png_ok(&path);
        }
    }
    let charts = [
        ("bar", Chart::shap_bar(&e, 0, 10).unwrap()),
        ("waterfall", Chart::waterfall(&e, 70, 1, 2).unwrap()),
        (
            "pdp",
            Chart::pdp(
                &PartialDependence::default().curves(model.as_ref(), &data, 2).unwrap(),
                1,
                30,
            )
            .unwrap(),
        ),
    ];
    for (name, chart) in &charts {
        chart.save(&dir_path.as_path().join(format!("{name}.svg"))).unwrap();
        let png = dir_path.as_path().join(format!("{name}.png"));
        chart.save(&png).unwrap();
        png_ok(&png);
    }
    // The waterfall ends at the row's output: base plus every step.
    let Chart::Waterfall { base, steps, .. } = &charts[1].1 else {
        panic!()
    };
    assert_eq!(steps.len(), 3, "two features and the rest");
    let raw = model.describe().unwrap().estimator.raw_output(data.features());
    let end = base + steps.iter().map(|s| s.1).sum::<f64>();
    assert!((end - raw[[70, 1]]).abs() < 1e-9);

    let groups: Vec<String> = (0..150).map(|i| ["a", "b", "c"][i % 3].to_string()).collect();
    let y: Vec<usize> = (0..150).map(|i| usize::from(i % 2 == 0)).collect();
    let p: Vec<usize> = (0..150).map(|i| usize::from(i % 5 < 2)).collect();
    let f = MetricFrame::new(&GroupMetric::all(), &y, &p, &[("g", &groups)], 1).unwrap();
    let bars = Chart::group_metric(&f, "selection_rate").unwrap();
    let path = dir_path.as_path().join("groups.png");
    bars.save(&path).unwrap();
    png_ok(&path);
    assert!(Chart::group_metric(&f, "nope").is_err());

    let before: Vec<_> = std::fs::read_dir(dir_path.as_path()).unwrap().collect();
    assert!(bars.save(&dir_path.as_path().join("groups.jpg")).is_err());
    assert!(Chart::shap_bar(&e, 9, 3).is_err());
    let wrong = Dataset::new(data.features().to_owned(), data.feature_names()).unwrap();
    assert!(Chart::shap_summary(&e, wrong.features().slice(ml_core::ndarray::s![..10, ..]), 0, 3).is_err());
    assert_eq!(
        std::fs::read_dir(dir_path.as_path()).unwrap().count(),
        before.len(),
        "no file left behind"
    );
}
