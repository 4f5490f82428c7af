#!/usr/bin/env python3
"""Reference values from scikit-learn for ml-core's metrics and ml-learn's models.

Writes testdata/sklearn_metrics.json and testdata/sklearn_models.json (or the
directory given as the first argument). The Rust tests in ml-core/tests and
ml-learn/tests compare against these files; scripts/test.sh regenerates them
with the pinned scikit-learn and runs those tests against the fresh copy too.

The data sets are read from the copies embedded in ml-datasets, so both sides
see the same numbers.
"""
import json
import pathlib
import sys

import numpy as np
import sklearn
from sklearn import metrics
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.inspection import permutation_importance
from sklearn.model_selection import (GridSearchCV, KFold, StratifiedKFold, cross_val_predict, cross_val_score,
                                     train_test_split)
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "ml-datasets" / "data"


def sklearn_style(name):
    rows = np.loadtxt(DATA / name, delimiter=",", skiprows=1)
    return rows[:, :-1], rows[:, -1].astype(int)


def load(name):
    if name == "digits":
        rows = np.loadtxt(DATA / "digits.csv", delimiter=",")
        return rows[:, :-1], rows[:, -1].astype(int)
    if name == "diabetes":
        return np.loadtxt(DATA / "diabetes_data_raw.csv"), np.loadtxt(DATA / "diabetes_target.csv")
    return sklearn_style(f"{name}.csv")


def metric_cases():
    rng = np.random.default_rng(20261126)
    cases = []
    for n_classes, n in [(2, 60), (3, 80), (5, 120)]:
        y_true = rng.integers(0, n_classes, n)
        logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[y_true]
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        proba = np.round(proba, 6)
        proba = proba / proba.sum(axis=1, keepdims=True)
        y_pred = proba.argmax(axis=1)
        labels = list(range(n_classes))
        case = {
            "n_classes": n_classes,
            "y_true": y_true.tolist(),
            "y_pred": y_pred.tolist(),
            "proba": proba.tolist(),
            "accuracy": metrics.accuracy_score(y_true, y_pred),
            "confusion_matrix": metrics.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
            "log_loss": metrics.log_loss(y_true, proba, labels=labels),
        }
        for avg in ["macro", "micro", "weighted"]:
            case[f"precision_{avg}"] = metrics.precision_score(y_true, y_pred, average=avg, zero_division=0)
            case[f"recall_{avg}"] = metrics.recall_score(y_true, y_pred, average=avg, zero_division=0)
            case[f"f1_{avg}"] = metrics.f1_score(y_true, y_pred, average=avg, zero_division=0)
        if n_classes == 2:
            case["precision_binary"] = metrics.precision_score(y_true, y_pred, zero_division=0)
            case["recall_binary"] = metrics.recall_score(y_true, y_pred, zero_division=0)
            case["f1_binary"] = metrics.f1_score(y_true, y_pred, zero_division=0)
            # Rounded scores create ties, which the AUC must count half.
            case["roc_auc"] = metrics.roc_auc_score(y_true, np.round(proba[:, 1], 1))
            case["roc_auc_scores"] = np.round(proba[:, 1], 1).tolist()
        else:
            case["roc_auc_ovr"] = metrics.roc_auc_score(y_true, proba, multi_class="ovr", average="macro")
        cases.append(case)
    y = rng.normal(size=50) * 3 + 1
    p = y + rng.normal(size=50)
    regression = {
        "y_true": y.tolist(),
        "y_pred": p.tolist(),
        "mse": metrics.mean_squared_error(y, p),
        "mae": metrics.mean_absolute_error(y, p),
        "r2": metrics.r2_score(y, p),
    }
    return {"classification": cases, "regression": regression}


def model_cases():
    out = {}
    # Standardized logistic regression on breast_cancer, 5-fold stratified CV (unshuffled).
    x, y = load("breast_cancer")
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=100))
    scores = cross_val_score(pipe, x, y, cv=StratifiedKFold(5))
    pipe.fit(x, y)
    lr = pipe[-1]
    out["logistic_breast_cancer_cv5"] = {
        "fold_accuracy": scores.tolist(),
        "mean_accuracy": scores.mean(),
        "coef": lr.coef_[0].tolist(),
        "intercept": float(lr.intercept_[0]),
    }
    # Random forest (100 trees, depth 8) on digits, stratified 75/25 split.
    x, y = load("digits")
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    rf_acc = []
    for seed in range(3):
        rf = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=seed, n_jobs=1).fit(x[tr], y[tr])
        rf_acc.append(rf.score(x[te], y[te]))
    tree = DecisionTreeClassifier(random_state=0).fit(x[tr], y[tr])
    out["digits_split"] = {
        "train": tr.tolist(),
        "test": te.tolist(),
        "forest_100_depth8_accuracy": rf_acc,
        "forest_mean_accuracy": float(np.mean(rf_acc)),
        "tree_accuracy": tree.score(x[te], y[te]),
    }
    xb, yb = load("breast_cancer")
    idx = np.arange(len(yb))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=yb)
    out["breast_cancer_tree"] = {
        "train": tr.tolist(),
        "test": te.tolist(),
        "depth4_accuracy": DecisionTreeClassifier(max_depth=4, random_state=0).fit(xb[tr], yb[tr]).score(xb[te], yb[te]),
        "full_accuracy": DecisionTreeClassifier(random_state=0).fit(xb[tr], yb[tr]).score(xb[te], yb[te]),
    }
    # k-means on digits: best of 10 k-means++ restarts.
    km = KMeans(n_clusters=10, n_init=10, random_state=0).fit(x)
    out["kmeans_digits"] = {"n_clusters": 10, "inertia": float(km.inertia_)}
    # Linear and ridge regression on diabetes (raw): exact solutions.
    xd, yd = load("diabetes")
    ols = LinearRegression().fit(xd, yd)
    ridge = Ridge(alpha=10.0).fit(xd, yd)
    out["diabetes_regression"] = {
        "ols_coef": ols.coef_.tolist(),
        "ols_intercept": float(ols.intercept_),
        "ols_r2": ols.score(xd, yd),
        "ridge_alpha": 10.0,
        "ridge_coef": ridge.coef_.tolist(),
        "ridge_intercept": float(ridge.intercept_),
    }
    out["hist_gradient_boosting"] = boosting_cases()
    out["simple_imputer"] = imputer_cases()
    out["everyday"] = everyday_cases()
    out["grid_search"] = grid_search_cases()
    out["pca"] = pca_cases()
    out["polynomial"] = polynomial_cases()
    out["calibration"] = calibration_cases()
    out["permutation_selection"] = selection_cases()
    return out


def selection_cases():
    """Permutation-based feature selection on a 75/25 split's training
    rows: cross-validation without shuffling (KFold for diabetes,
    StratifiedKFold for iris, 5 folds), permutation_importance
    (20 repeats, scoring by the model's score) on each held-out fold,
    importances averaged over folds; the K largest kept and the pipeline
    refitted on them, scored on the test rows. Shuffles are random on both
    sides, so the tests compare importances with a tolerance and the
    chosen columns exactly: K is set where the K-th and the next
    importance are far apart (breast_cancer's many correlated columns
    have importances too close to choose the same way twice)."""
    out = {}
    for name, data, k, base, folds in [
            ("linear_diabetes", "diabetes", 3, lambda: make_pipeline(StandardScaler(), LinearRegression()), KFold(5)),
            ("logistic_iris", "iris", 2, lambda: make_pipeline(StandardScaler(), LogisticRegression()),
             StratifiedKFold(5))]:
        x, y = load(data)
        idx = np.arange(len(y))
        stratify = y if data == "iris" else None
        tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=stratify)
        drops = np.zeros((x.shape[1], 0))
        for fold_train, fold_test in folds.split(x[tr], y[tr]):
            m = base().fit(x[tr][fold_train], y[tr][fold_train])
            r = permutation_importance(m, x[tr][fold_test], y[tr][fold_test], n_repeats=20, random_state=0)
            drops = np.hstack([drops, r.importances])
        mean = drops.mean(axis=1)
        order = sorted(range(len(mean)), key=lambda j: (-mean[j], j))
        selected = sorted(order[:k])
        m = base().fit(x[tr][:, selected], y[tr])
        out[name] = {"train": tr.tolist(), "test": te.tolist(), "k": k, "n_repeats": 20,
                     "importances_mean": mean.tolist(), "importances_std": drops.std(axis=1).tolist(),
                     "selected": selected, "score": m.score(x[te][:, selected], y[te]),
                     "predictions": m.predict(x[te][:, selected]).tolist()}
    return out


def calibration_cases():
    """CalibratedClassifierCV(cv=5) with sigmoid and isotonic calibration,
    ensemble=False and ensemble=True, on stratified 75/25 splits: StandardScaler ->
    LogisticRegression on breast_cancer (its decision function
    calibrated) and GaussianNB on digits (its probabilities, one
    calibrator per class): test probabilities, accuracy and the fitted
    calibrators."""
    out = {}
    for name, data, base in [("logistic_breast_cancer", "breast_cancer",
                              lambda: make_pipeline(StandardScaler(), LogisticRegression())),
                             ("gaussian_nb_digits", "digits", GaussianNB)]:
        x, y = load(data)
        idx = np.arange(len(y))
        tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
        case = {"train": tr.tolist(), "test": te.tolist()}
        # The held-out scores the calibrators are fitted on (what
        # CalibratedClassifierCV computes with ensemble=False).
        response = "decision_function" if hasattr(base(), "decision_function") else "predict_proba"
        scores = cross_val_predict(base(), x[tr], y[tr], cv=5, method=response)
        case["cv_scores"] = (scores if scores.ndim == 2 else scores[:, None]).tolist()
        for method in ["sigmoid", "isotonic"]:
            m = CalibratedClassifierCV(base(), method=method, cv=5, ensemble=False).fit(x[tr], y[tr])
            cals = m.calibrated_classifiers_[0].calibrators
            fitted = ([{"a": float(c.a_), "b": float(c.b_)} for c in cals] if method == "sigmoid" else
                      [{"x": c.X_thresholds_.tolist(), "y": c.y_thresholds_.tolist()} for c in cals])
            case[method] = {"accuracy": m.score(x[te], y[te]), "probabilities": m.predict_proba(x[te]).tolist(),
                            "predictions": m.predict(x[te]).tolist(), "calibrators": fitted}
            # ensemble=True (scikit-learn's default): one calibrated
            # classifier per fold, probabilities averaged.
            m = CalibratedClassifierCV(base(), method=method, cv=5, ensemble=True).fit(x[tr], y[tr])
            case[f"{method}_ensemble"] = {"accuracy": m.score(x[te], y[te]),
                                          "probabilities": m.predict_proba(x[te]).tolist(),
                                          "predictions": m.predict(x[te]).tolist()}
        out[name] = case
    return out


def polynomial_cases():
    """PolynomialFeatures(include_bias=False) on four of breast_cancer's
    columns (a column selector in front): the first rows transformed at
    degree 3 (column order), and PolynomialFeatures -> StandardScaler ->
    LogisticRegression at degree 2, with and without interaction_only, on
    the stratified 75/25 split."""
    x, y = load("breast_cancer")
    cols = [0, 1, 4, 7]
    xs = x[:, cols]
    out = {"columns": cols,
           "degree3_head": PolynomialFeatures(3, include_bias=False).fit_transform(xs[:3]).tolist()}
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    for name, interaction_only in [("degree2", False), ("interactions", True)]:
        poly = PolynomialFeatures(2, interaction_only=interaction_only, include_bias=False)
        pipe = make_pipeline(poly, StandardScaler(), LogisticRegression()).fit(xs[tr], y[tr])
        out[name] = {"train": tr.tolist(), "test": te.tolist(), "n_output_features": int(poly.n_output_features_),
                     "accuracy": pipe.score(xs[te], y[te]), "predictions": pipe.predict(xs[te]).tolist()}
    return out


def pca_cases():
    """PCA(10) on digits (variance ratios, components, the first rows
    projected) and StandardScaler -> PCA(5) -> LogisticRegression on
    breast_cancer's stratified 75/25 split."""
    x, _ = load("digits")
    p = PCA(n_components=10).fit(x)
    out = {"digits": {"explained_variance_ratio": p.explained_variance_ratio_.tolist(),
                      "components": p.components_.tolist(),
                      "transformed_head": p.transform(x[:5]).tolist()}}
    x, y = load("breast_cancer")
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), PCA(n_components=5), LogisticRegression()).fit(x[tr], y[tr])
    out["logistic_breast_cancer"] = {"train": tr.tolist(), "test": te.tolist(), "accuracy": pipe.score(x[te], y[te]),
                                     "predictions": pipe.predict(x[te]).tolist()}
    return out


def grid_search_cases():
    """GridSearchCV with scikit-learn's default folds (StratifiedKFold(5) for
    a classifier, KFold(5) for a regressor, unshuffled): every candidate's
    mean, deviation and rank, and the best parameters."""
    out = {}
    for name, data, pipe, key, values in [
        ("logistic_breast_cancer", "breast_cancer", make_pipeline(StandardScaler(), LogisticRegression()),
         "logisticregression__C", [0.01, 0.1, 1.0, 10.0]),
        ("ridge_diabetes", "diabetes", make_pipeline(StandardScaler(), Ridge()),
         "ridge__alpha", [0.1, 1.0, 10.0, 100.0]),
    ]:
        x, y = load(data)
        gs = GridSearchCV(pipe, {key: values}, cv=5).fit(x, y)
        r = gs.cv_results_
        out[name] = {"values": values, "mean_test_score": r["mean_test_score"].tolist(),
                     "std_test_score": r["std_test_score"].tolist(),
                     "rank_test_score": r["rank_test_score"].tolist(),
                     "best_value": gs.best_params_[key], "best_score": gs.best_score_}
    return out


def everyday_cases():
    """k-nearest neighbours, naive Bayes and linear SVMs with scikit-learn's
    defaults (unless named) on stratified 75/25 splits (diabetes: plain):
    accuracy or R², every test prediction, the first probabilities, and a
    binary SVM's weights."""
    out = {}

    def split(name, stratify=True):
        x, y = load(name)
        idx = np.arange(len(y))
        tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y if stratify else None)
        return x, y, tr, te

    def case(model, name, stratify=True, proba=True, extra=None):
        x, y, tr, te = split(name, stratify)
        model.fit(x[tr], y[tr])
        c = {"train": tr.tolist(), "test": te.tolist(), "score": model.score(x[te], y[te]),
             "predictions": model.predict(x[te]).tolist()}
        if proba:
            c["proba_head"] = model.predict_proba(x[te][:10]).tolist()
        if extra:
            c.update(extra(model))
        return c

    out["knn_digits"] = case(KNeighborsClassifier(), "digits")
    out["knn_distance_scaled_breast_cancer"] = case(
        make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=7, weights="distance")), "breast_cancer")
    out["knn_regression_diabetes"] = case(KNeighborsRegressor(), "diabetes", stratify=False, proba=False)
    for name in ["digits", "breast_cancer", "iris"]:
        out[f"gaussian_nb_{name}"] = case(GaussianNB(), name)
    out["multinomial_nb_digits"] = case(MultinomialNB(), "digits")
    # The weights at a tight tolerance too: liblinear's default stops about
    # 1e-3 short of the optimum, which is unique, so that is what compares.
    for loss in ["squared_hinge", "hinge"]:
        x, y, tr, _ = split("breast_cancer")
        tight = make_pipeline(StandardScaler(), LinearSVC(loss=loss, tol=1e-10, max_iter=1000000, random_state=0)).fit(x[tr], y[tr])
        out[f"linear_svc_{loss}_breast_cancer"] = case(
            make_pipeline(StandardScaler(), LinearSVC(loss=loss, max_iter=100000, random_state=0)), "breast_cancer", proba=False,
            extra=lambda m: {"coef": m[-1].coef_[0].tolist(), "intercept": float(m[-1].intercept_[0]),
                             "converged_coef": tight[-1].coef_[0].tolist(),
                             "converged_intercept": float(tight[-1].intercept_[0])})
    out["linear_svc_digits"] = case(make_pipeline(StandardScaler(), LinearSVC(max_iter=100000, random_state=0)), "digits",
                                    proba=False)
    return out


def imputer_cases():
    """SimpleImputer on breast_cancer with the same fifth of its cells blanked
    as boosting_cases: each strategy's statistics on the training rows, the
    transformed test rows with indicator columns, and the test accuracy of
    imputer -> StandardScaler -> LogisticRegression."""
    xm, y, tr, te, mask = breast_cancer_with_holes()
    out = {"train": tr.tolist(), "test": te.tolist(), "missing_mask": mask}
    for strategy, kwargs in [("mean", {}), ("median", {}), ("most_frequent", {}),
                             ("constant", {"fill_value": -1.0})]:
        imp = SimpleImputer(strategy=strategy, add_indicator=True, **kwargs).fit(xm[tr])
        pipe = make_pipeline(SimpleImputer(strategy=strategy, **kwargs), StandardScaler(),
                             LogisticRegression(max_iter=1000)).fit(xm[tr], y[tr])
        out[strategy] = {"statistics": imp.statistics_.tolist(),
                         "indicator_features": imp.indicator_.features_.tolist(),
                         "transformed_test_head": imp.transform(xm[te][:20]).tolist(),
                         "logistic_accuracy": pipe.score(xm[te], y[te]),
                         "logistic_predictions": pipe.predict(xm[te]).tolist()}
    return out


def breast_cancer_with_holes():
    """breast_cancer with a fifth of its cells blanked (seeded), its
    stratified 75/25 split, and the holes as a 0/1 string per row, so the
    Rust side blanks the same cells."""
    x, y = load("breast_cancer")
    rng = np.random.default_rng(20261207)
    holes = rng.random(x.shape) < 0.2
    xm = x.copy()
    xm[holes] = np.nan
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    return xm, y, tr, te, ["".join("1" if h else "0" for h in row) for row in holes]


def boosting_cases():
    """HistGradientBoosting with its defaults (early stopping is off below
    10,000 rows) on stratified 75/25 splits, and on breast_cancer with a
    fifth of its cells blanked (a 0/1 string per row marks them, so both
    sides see the same holes)."""
    out = {}
    for name in ["breast_cancer", "digits"]:
        x, y = load(name)
        idx = np.arange(len(y))
        tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
        m = HistGradientBoostingClassifier(random_state=0).fit(x[tr], y[tr])
        out[name] = {"train": tr.tolist(), "test": te.tolist(), "accuracy": m.score(x[te], y[te]),
                     "n_iter": int(m.n_iter_), "predictions": m.predict(x[te]).tolist()}
    x, y = load("diabetes")
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0)
    m = HistGradientBoostingRegressor(random_state=0).fit(x[tr], y[tr])
    out["diabetes"] = {"train": tr.tolist(), "test": te.tolist(), "r2": m.score(x[te], y[te]),
                       "n_iter": int(m.n_iter_)}
    xm, y, tr, te, mask = breast_cancer_with_holes()
    m = HistGradientBoostingClassifier(random_state=0).fit(xm[tr], y[tr])
    out["breast_cancer_missing"] = {"train": tr.tolist(), "test": te.tolist(), "missing_mask": mask,
                                    "accuracy": m.score(xm[te], y[te]), "n_iter": int(m.n_iter_)}
    out["german_credit_categorical"] = german_categorical_case()
    # Early stopping on noisy diabetes: the iterations kept for three seeds
    # (the validation rows differ from ours; the range is what compares).
    x, y = load("diabetes")
    out["diabetes_early_stopping"] = {"n_iter": [
        int(HistGradientBoostingRegressor(early_stopping=True, random_state=s).fit(x, y).n_iter_) for s in range(3)]}
    return out


def german_categorical_case():
    """HistGradientBoostingClassifier with native categorical splits on
    German credit (the features ml-datasets gives: every column but the
    target `risk` and the sensitive `sex`; text columns as codes of their
    sorted categories, as our frames code them), on a stratified 75/25
    split; and with the categories one-hot encoded, for comparison."""
    import csv
    with open(ROOT / "ml-datasets" / "data" / "german.csv") as fh:
        rows = list(csv.DictReader(fh))
    names = [c for c in rows[0] if c not in ("risk", "sex")]
    columns, categorical = [], []
    for c in names:
        raw = [r[c] for r in rows]
        try:
            columns.append(np.array([float(v) for v in raw]))
            categorical.append(False)
        except ValueError:
            cats = sorted(set(raw))
            columns.append(np.array([cats.index(v) for v in raw], dtype=float))
            categorical.append(True)
    x = np.column_stack(columns)
    y = np.array([int(r["risk"]) for r in rows])
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    m = HistGradientBoostingClassifier(categorical_features=categorical, random_state=0).fit(x[tr], y[tr])
    cat_idx = [j for j, c in enumerate(categorical) if c]
    num_idx = [j for j, c in enumerate(categorical) if not c]
    onehot = lambda a: np.column_stack([a[:, num_idx]] + [
        (a[:, [j]] == np.arange(int(x[:, j].max()) + 1)).astype(float) for j in cat_idx])
    m1 = HistGradientBoostingClassifier(random_state=0).fit(onehot(x[tr]), y[tr])
    return {"train": tr.tolist(), "test": te.tolist(), "features": names, "categorical": categorical,
            "accuracy": m.score(x[te], y[te]), "predictions": m.predict(x[te]).tolist(),
            "n_categorical_splits": int(sum(p.nodes["is_categorical"].sum() for ps in m._predictors for p in ps)),
            "onehot_accuracy": m1.score(onehot(x[te]), y[te])}


def main():
    out_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "testdata"
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"generator": "scripts/gen_sklearn.py", "scikit-learn": sklearn.__version__, "numpy": np.__version__}
    for name, payload in [("sklearn_metrics.json", metric_cases()), ("sklearn_models.json", model_cases())]:
        (out_dir / name).write_text(json.dumps({"meta": meta, **payload}, indent=1) + "\n")
    print(f"wrote fixtures to {out_dir} with scikit-learn {sklearn.__version__}")


if __name__ == "__main__":
    main()
