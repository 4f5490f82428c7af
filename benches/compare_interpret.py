#!/usr/bin/env python3
"""Run the same explanation and fairness workloads through shap / Fairlearn
and through ml-sdk in one run, and print each ratio (ours / theirs) of
median time.

    .venv/bin/python benches/compare_interpret.py [ROUNDS]

Workloads (each model built once in Python and handed to both sides, so both
explain the very same model):
- tree_shap: path-dependent TreeSHAP of 200 digits rows through a 100-tree,
  depth-8 scikit-learn random forest (shap's C++ TreeExplainer, all 10
  classes);
- kernel_shap: KernelSHAP of 20 breast_cancer rows of a logistic regression's
  probabilities, 2048 coalitions, against a 52-row background;
- metric_frame: accuracy, selection rate, true- and false-positive rates
  overall and by group over 1,000,000 rows in 4 groups (Fairlearn
  MetricFrame; ours from the same labels and groups);
- exponentiated_gradient: demographic parity by sex on German credit with a
  logistic regression learner (Fairlearn with scikit-learn's, one-hot and
  standardized; ours with ml-learn's pipeline on the bundled data set,
  which one-hot encodes and standardizes the same columns);
- ebm_fit: an explainable boosting machine with InterpretML's defaults and
  no interactions (14 bags, early stopping) fitted to all of breast_cancer
  (InterpretML's C++ booster, its bags in parallel processes; ours in
  threads). Their test accuracies on a 75/25 split are compared in
  ml-interpret/tests/ebm.rs (0.965 ours, 0.958 InterpretML's).

The Rust side (benches/src/bin/compare_interpret.rs) is built in release mode
and reads the models and data from a temporary directory; reading is outside
its timing, as building the inputs is outside Python's.
"""
import importlib.metadata
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import shap
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from fairlearn.reductions import DemographicParity, ExponentiatedGradient
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from gen_interpret import dump_forest  # noqa: E402


def timed(fn, rounds):
    fn()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="mlsdk-interpret-"))

    Xd, yd = load_digits(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(Xd, yd)
    rows_d = Xd[:200]
    (tmp / "forest.json").write_text(json.dumps({
        "trees": dump_forest(forest, True), "n_outputs": 10, "rows": rows_d.tolist()}))
    tree = shap.TreeExplainer(forest)

    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = (Xb - Xb.mean(axis=0)) / Xb.std(axis=0)
    lr = LogisticRegression(max_iter=1000).fit(Xb, yb)
    rows_b, bg = Xb[:20], Xb[::11]
    (tmp / "kernel.json").write_text(json.dumps({
        "coefficients": lr.coef_.tolist(), "intercepts": lr.intercept_.tolist(),
        "rows": rows_b.tolist(), "background": bg.tolist(), "n_samples": 2048}))
    kernel = shap.KernelExplainer(lr.predict_proba, bg)

    rng = np.random.default_rng(0)
    n = 1_000_000
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.8, y_true, 1 - y_true)
    groups = np.array(["a", "b", "c", "d"])[rng.integers(0, 4, n)]
    with open(tmp / "fairness.csv", "w") as f:
        f.write("y,p,g\n")
        f.writelines(f"{a},{b},{c}\n" for a, b, c in zip(y_true, y_pred, groups))
    metrics = {"accuracy": accuracy_score, "selection_rate": selection_rate,
               "true_positive_rate": true_positive_rate, "false_positive_rate": false_positive_rate}

    german = pd.read_csv(ROOT / "ml-datasets" / "data" / "german.csv")
    yg = german["risk"].to_numpy()
    Xg = pd.get_dummies(german.drop(columns=["risk", "sex"]), dtype=float)
    Xg = (Xg - Xg.mean()) / Xg.std()

    def eg():
        ExponentiatedGradient(LogisticRegression(max_iter=1000), constraints=DemographicParity()).fit(
            Xg, yg, sensitive_features=german["sex"])

    from interpret.glassbox import ExplainableBoostingClassifier
    Xe, ye = load_breast_cancer(return_X_y=True)

    def ebm():
        ExplainableBoostingClassifier(interactions=0, random_state=0).fit(Xe, ye)

    theirs = {
        "tree_shap": timed(lambda: tree.shap_values(rows_d), rounds),
        "kernel_shap": timed(lambda: kernel.shap_values(rows_b, nsamples=2048, silent=True), max(1, rounds // 2)),
        "metric_frame": timed(
            lambda: MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=groups).by_group,
            max(1, rounds // 2)),
        "exponentiated_gradient": timed(eg, max(1, rounds // 2)),
        "ebm_fit": timed(ebm, 1),
    }
    cmd = ["cargo", "run", "--release", "--quiet", "-p", "ml-sdk-benches", "--bin", "compare_interpret", "--",
           str(tmp), str(rounds)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    ours = {r["workload"]: r for r in map(json.loads, out.splitlines())}

    # Same answers, not only the same work.
    sv = np.asarray(tree.shap_values(rows_d))
    d_tree = np.abs(np.asarray(ours["tree_shap"]["row0"]) - sv[0]).max()
    print(f"shap {shap.__version__}, fairlearn {importlib.metadata.version('fairlearn')}; "
          f"median of {rounds} rounds (kernel_shap, metric_frame, exponentiated_gradient: {max(1, rounds // 2)}; "
          f"ebm_fit: 1); "
          f"TreeSHAP row 0 agrees to {d_tree:.1e}")
    print(f"{'workload':<24} {'python':>12} {'ml-sdk':>12} {'ratio':>8}")
    for k in ["tree_shap", "kernel_shap", "metric_frame", "exponentiated_gradient", "ebm_fit"]:
        o = ours[k]["seconds"]
        print(f"{k:<24} {theirs[k] * 1e3:>10.1f}ms {o * 1e3:>10.2f}ms {o / theirs[k]:>8.4f}")


if __name__ == "__main__":
    main()
