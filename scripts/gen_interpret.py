#!/usr/bin/env python3
"""Reference explanations and fairness figures from shap and Fairlearn.

Writes testdata/interpret/reference.json (or into the directory given as the
first argument), with the package versions:
- tree: scikit-learn random forests (bootstrapped; a classifier on
  breast_cancer, a regressor on diabetes) dumped node by node (split, value,
  cover), the rows explained and a background, scikit-learn's predictions,
  and shap's TreeExplainer values, path-dependent and interventional;
- linear: a logistic regression on standardized breast_cancer and shap's
  LinearExplainer values against a background;
- kernel: a multinomial logistic regression on iris and shap's
  KernelExplainer values on its probabilities (4 features: every coalition
  is enumerated, so the values are exact and deterministic), also with
  l1_reg="num_features(2)" (LARS feature selection);
- fairness: a logistic regression's predictions on German credit and
  Fairlearn's MetricFrame (overall, by group, min, max, differences and
  ratios both ways) and parity measures, by sex and by sex x housing, and
  ThresholdOptimizer's rules and positive probabilities (demographic parity,
  equalized odds, true-positive-rate parity, by sex), and ExponentiatedGradient's
  expected accuracy and selection rates (demographic parity, equalized odds)
  and GridSearch's accuracy and disparity (demographic parity);
- pdp: scikit-learn's partial dependence and ICE curves of a binary and a
  multi-class logistic regression;
- ebm: InterpretML's explainable boosting machines' test accuracy and R^2
  on fixed splits of breast_cancer and diabetes.
ml-interpret's tests rebuild each model from these numbers and compare.
"""
import importlib.metadata
import json
import math
import pathlib
import sys

import numpy as np
import pandas as pd
import shap
import sklearn
from fairlearn import metrics as fm
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient, GridSearch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.inspection import partial_dependence
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score

ROOT = pathlib.Path(__file__).resolve().parent.parent


def f32_threshold(t):
    """The largest float32 at most t: scikit-learn sends a row left when
    float32(x) <= t (t a double); ml-core compares float32(x) with float32(t).
    With t rounded down to a float32 the two rules agree on every x."""
    v = np.float32(t)
    if float(v) > t:
        v = np.nextafter(v, np.float32(-np.inf))
    return float(v)


def dump_forest(forest, classifier):
    trees = []
    for est in forest.estimators_:
        t = est.tree_
        nodes = []
        for i in range(t.node_count):
            leaf = t.children_left[i] == -1
            v = t.value[i][0]
            value = (v / v.sum()).tolist() if classifier else [float(v[0])]
            split = None if leaf else {
                "feature": int(t.feature[i]), "threshold": f32_threshold(t.threshold[i]),
                "left": int(t.children_left[i]), "right": int(t.children_right[i]),
            }
            nodes.append({"split": split, "value": value, "cover": float(t.weighted_n_node_samples[i])})
        trees.append({"nodes": nodes})
    return trees


def as_rows_features_outputs(values):
    a = np.asarray(values)
    if a.ndim == 2:
        a = a[:, :, None]
    return a.tolist()


def exact_interventional(predict, x, bg):
    """Shapley values of v(S) = mean_z f(x_S, z_rest) by enumerating every
    coalition (only for a few features): the reference shap's interventional
    TreeExplainer is compared with, from the model's own predictions."""
    m = x.shape[0]
    masks = np.array([[(s >> j) & 1 for j in range(m)] for s in range(1 << m)], dtype=bool)
    mixed = np.where(masks[:, None, :], x[None, None, :], bg[None, :, :]).reshape(-1, m)
    out = np.asarray(predict(mixed))
    out = out.reshape(1 << m, bg.shape[0], -1).mean(axis=1)
    phi = np.zeros((m, out.shape[1]))
    for s in range(1 << m):
        k = bin(s).count("1")
        for i in range(m):
            if not (s >> i) & 1:
                w = math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m)
                phi[i] += w * (out[s | 1 << i] - out[s])
    return phi.tolist()


def tree_case(name, X, y, classifier):
    Model = RandomForestClassifier if classifier else RandomForestRegressor
    model = Model(n_estimators=20, max_depth=6, bootstrap=True, random_state=0).fit(X, y)
    rows, bg = X[:30], X[-100:]
    path = shap.TreeExplainer(model)
    interv = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional")
    pred = model.predict_proba(rows) if classifier else model.predict(rows)[:, None]
    predict = model.predict_proba if classifier else (lambda a: model.predict(a)[:, None])
    exact = [exact_interventional(predict, r, bg) for r in rows[:5]] if X.shape[1] <= 12 else None
    return {
        "name": name,
        "classifier": classifier,
        "trees": dump_forest(model, classifier),
        "n_outputs": int(model.n_classes_) if classifier else 1,
        "rows": rows.tolist(),
        "background": bg.tolist(),
        "predictions": np.asarray(pred).tolist(),
        "path_dependent": {
            "expected_value": np.atleast_1d(path.expected_value).tolist(),
            "values": as_rows_features_outputs(path.shap_values(rows)),
        },
        "interventional": {
            "expected_value": np.atleast_1d(interv.expected_value).tolist(),
            "values": as_rows_features_outputs(interv.shap_values(rows, check_additivity=False)),
            "exact_first_rows": exact,
        },
    }


def linear_case():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    rows, bg = X[:20], X[-100:]
    ex = shap.LinearExplainer(model, shap.maskers.Independent(bg, max_samples=100))
    return {
        "coefficients": model.coef_.tolist(), "intercepts": model.intercept_.tolist(),
        "rows": rows.tolist(), "background": bg.tolist(),
        "expected_value": np.atleast_1d(ex.expected_value).tolist(),
        "values": as_rows_features_outputs(ex.shap_values(rows)),
    }


def kernel_case():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    rows, bg = X[::15], X[1::7]
    ex = shap.KernelExplainer(model.predict_proba, bg)
    values = ex.shap_values(rows, nsamples=2048, silent=True)
    values_k2 = ex.shap_values(rows, nsamples=2048, silent=True, l1_reg="num_features(2)")
    return {
        "values_num_features_2": as_rows_features_outputs(values_k2),
        "coefficients": model.coef_.tolist(), "intercepts": model.intercept_.tolist(),
        "rows": rows.tolist(), "background": bg.tolist(),
        "expected_value": np.atleast_1d(ex.expected_value).tolist(),
        "values": as_rows_features_outputs(values),
    }


def pdp_case():
    """partial_dependence (brute, kind="both") of a binary and a multi-class
    logistic regression: the binary one reports the positive class only."""
    out = []
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = (Xb - Xb.mean(axis=0)) / Xb.std(axis=0)
    Xi, yi = load_iris(return_X_y=True)
    for name, X, y, feature in [("breast_cancer", Xb, yb, 0), ("iris", Xi, yi, 1)]:
        model = LogisticRegression(max_iter=1000).fit(X, y)
        rows = X[:120]
        pd_ = partial_dependence(model, rows, [feature], kind="both", grid_resolution=25)
        out.append({
            "name": name, "feature": feature,
            "coefficients": model.coef_.tolist(), "intercepts": model.intercept_.tolist(),
            "rows": rows.tolist(), "grid_resolution": 25,
            "grid": pd_["grid_values"][0].tolist(),
            "average": pd_["average"].tolist(), "individual": pd_["individual"].tolist(),
        })
    return out


def ebm_case():
    """InterpretML's EBM (main effects only) on 75/25 splits (stratified for
    classes) of breast_cancer, iris (three classes: softmax) and diabetes:
    the test accuracy / log loss / R^2 that our EBM is compared with (same
    rows, by index)."""
    from interpret.glassbox import ExplainableBoostingClassifier, ExplainableBoostingRegressor
    from sklearn.metrics import log_loss, r2_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    def fit(make, X, y, classes):
        tr, te = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0,
                                  stratify=y if classes else None)
        ebm = make(interactions=0, random_state=0).fit(X[tr], y[tr])
        return ebm, X[te], y[te], {"train": tr.tolist(), "test": te.tolist()}

    out = {}
    ebm, X, y, out["breast_cancer"] = fit(ExplainableBoostingClassifier, *load_breast_cancer(return_X_y=True), True)
    out["breast_cancer"].update(accuracy=float(accuracy_score(y, ebm.predict(X))),
                                roc_auc=float(roc_auc_score(y, ebm.predict_proba(X)[:, 1])))
    ebm, X, y, out["iris"] = fit(ExplainableBoostingClassifier, *load_iris(return_X_y=True), True)
    out["iris"].update(accuracy=float(accuracy_score(y, ebm.predict(X))),
                       log_loss=float(log_loss(y, ebm.predict_proba(X))))
    ebm, X, y, out["diabetes"] = fit(ExplainableBoostingRegressor, *load_diabetes(return_X_y=True), False)
    out["diabetes"].update(r2=float(r2_score(y, ebm.predict(X))))
    return out


def frame_json(mf):
    def table(df):
        out = {}
        for key, row in df.iterrows():
            key = [str(k) for k in (key if isinstance(key, tuple) else (key,))]
            out["|".join(key)] = {k: float(v) for k, v in row.items()}
        return out
    return {
        "overall": {k: float(v) for k, v in mf.overall.items()},
        "by_group": table(mf.by_group),
        "group_min": {k: float(v) for k, v in mf.group_min().items()},
        "group_max": {k: float(v) for k, v in mf.group_max().items()},
        "difference_between_groups": {k: float(v) for k, v in mf.difference(method="between_groups").items()},
        "difference_to_overall": {k: float(v) for k, v in mf.difference(method="to_overall").items()},
        "ratio_between_groups": {k: float(v) for k, v in mf.ratio(method="between_groups").items()},
        "ratio_to_overall": {k: float(v) for k, v in mf.ratio(method="to_overall").items()},
    }


def fairness_case():
    df = pd.read_csv(ROOT / "ml-datasets" / "data" / "german.csv")
    y = df["risk"].to_numpy()
    X = pd.get_dummies(df.drop(columns=["risk", "sex"]), dtype=float)
    X = (X - X.mean()) / X.std()
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    y_pred = lr.predict(X)
    metrics = {
        "count": fm.count,
        "accuracy": accuracy_score,
        "selection_rate": fm.selection_rate,
        "true_positive_rate": fm.true_positive_rate,
        "false_positive_rate": fm.false_positive_rate,
        "false_negative_rate": fm.false_negative_rate,
        "true_negative_rate": fm.true_negative_rate,
        "precision": lambda t, p: precision_score(t, p, zero_division=0),
        "f1": lambda t, p: f1_score(t, p, zero_division=0),
    }
    cases = {}
    for label, cols in [("sex", ["sex"]), ("sex_housing", ["sex", "housing"])]:
        sf = df[cols] if len(cols) > 1 else df[cols[0]]
        mf = fm.MetricFrame(metrics=metrics, y_true=y, y_pred=y_pred, sensitive_features=sf)
        parity = {
            name: float(getattr(fm, name)(y, y_pred, sensitive_features=sf))
            for name in ["demographic_parity_difference", "demographic_parity_ratio",
                         "equalized_odds_difference", "equalized_odds_ratio",
                         "equal_opportunity_difference", "equal_opportunity_ratio"]
        }
        cases[label] = {"sensitive": cols, **frame_json(mf), "parity": parity}
    thresholds = {}
    for constraint in ["demographic_parity", "equalized_odds", "true_positive_rate_parity"]:
        to = ThresholdOptimizer(estimator=lr, constraints=constraint, prefit=True,
                                predict_method="predict_proba").fit(X, y, sensitive_features=df["sex"])
        rules = {}
        for group, r in to.interpolated_thresholder_.interpolation_dict.items():
            rules[str(group)] = {
                "p0": float(r.p0), "op0": [r.operation0.operator, float(r.operation0.threshold)],
                "p1": float(r.p1), "op1": [r.operation1.operator, float(r.operation1.threshold)],
                "p_ignore": float(r.get("p_ignore", 0.0)),
                "constant": float(r.get("prediction_constant", 0.0)),
            }
        pmf = to._pmf_predict(X, sensitive_features=df["sex"])[:, 1]
        thresholds[constraint] = {"x_best": float(to._x_best), "y_best": float(to._y_best),
                                  "rules": rules, "positive_probability": pmf.tolist()}
    # ExponentiatedGradient with the same learner: expected accuracy and
    # disparity of its randomized classifier (from _pmf_predict).
    reductions = {}
    for name, moment in [("demographic_parity", DemographicParity()), ("equalized_odds", EqualizedOdds())]:
        eg = ExponentiatedGradient(LogisticRegression(max_iter=1000), constraints=moment)
        eg.fit(X, y, sensitive_features=df["sex"])
        p = eg._pmf_predict(X)[:, 1]
        sex = df["sex"].to_numpy()
        rates = {g: float(p[sex == g].mean()) for g in ["female", "male"]}
        reductions[name] = {
            "expected_accuracy": float(np.mean(np.where(y == 1, p, 1 - p))),
            "expected_selection_rate": rates,
            "demographic_parity_difference": abs(rates["female"] - rates["male"]),
            "predictors": int((eg.weights_ > 0).sum()),
        }
    gs = GridSearch(LogisticRegression(max_iter=1000), constraints=DemographicParity())
    gs.fit(X, y, sensitive_features=df["sex"])
    pred = gs.predict(X)
    sex = df["sex"].to_numpy()
    rates = {g: float(pred[sex == g].mean()) for g in ["female", "male"]}
    reductions["grid_search_demographic_parity"] = {
        "accuracy": float(np.mean(pred == y)),
        "demographic_parity_difference": abs(rates["female"] - rates["male"]),
    }
    return {
        "reductions": reductions,
        "scores": lr.predict_proba(X)[:, 1].tolist(), "thresholds": thresholds,
        "y_true": y.tolist(), "y_pred": [int(v) for v in y_pred],
        "sensitive": {c: df[c].astype(str).tolist() for c in ["sex", "housing"]},
        "cases": cases,
    }


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "testdata" / "interpret"
    out.mkdir(parents=True, exist_ok=True)
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    ref = {
        "meta": {p: importlib.metadata.version(p) for p in ["shap", "fairlearn", "interpret-core", "scikit-learn", "numpy"]},
        "tree": [tree_case("breast_cancer", Xb, yb, True), tree_case("diabetes", Xd, yd, False)],
        "linear": linear_case(),
        "kernel": kernel_case(),
        "fairness": fairness_case(),
        "pdp": pdp_case(),
        "ebm": ebm_case(),
    }
    (out / "reference.json").write_text(json.dumps(ref))
    print(f"wrote {out / 'reference.json'} ({ref['meta']})")


if __name__ == "__main__":
    main()
