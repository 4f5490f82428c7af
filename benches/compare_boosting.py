"""Histogram gradient boosting: scikit-learn and LightGBM against ml-learn in one run.

    bash scripts/setup-python.sh boosting      # .venv-boosting: lightgbm, scikit-learn
    .venv-boosting/bin/python benches/compare_boosting.py [RUNS]

The same hyper-parameters on every side (100 iterations, learning rate
0.1, 31 leaves, 20 rows a leaf, 255 bins, no L2, no early stopping), one
thread each and then two threads each (scikit-learn's OpenMP threads
through threadpoolctl, LightGBM's n_jobs, our n_threads), on
breast_cancer and digits (stratified 75/25 splits) and a synthetic
100,000-row binary problem (make_classification, 20 features). Prints the
best fit time of RUNS, the best prediction time of the test rows, the test
accuracy and the fit-time ratios (the issue's targets: at most 1.0x
LightGBM's and 0.5x scikit-learn's); then, for the synthetic problem, the
prediction time of all its 133,334 rows by each side's model.
"""
import pathlib
import sys
import tempfile
import time

import lightgbm
import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from timing import ROOT, best_of, fit_timing, fit_timing_binary, write_csv

DATA = ROOT / "ml-datasets" / "data"


def datasets():
    rows = np.loadtxt(DATA / "breast_cancer.csv", delimiter=",", skiprows=1)
    yield "breast_cancer", rows[:, :-1], rows[:, -1].astype(int)
    rows = np.loadtxt(DATA / "digits.csv", delimiter=",")
    yield "digits", rows[:, :-1], rows[:, -1].astype(int)
    x, y = make_classification(n_samples=133_334, n_features=20, n_informative=10, random_state=0)
    yield "synthetic 100k", x, y


def timed_predict(model, x, runs):
    return best_of(runs, lambda: model.predict(x))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    binary = fit_timing_binary()
    print(f"scikit-learn {sklearn.__version__}, lightgbm {lightgbm.__version__}, best of {runs}", end="\n\n")
    print("| data | train rows | threads | side | fit s | predict s (test rows) | test accuracy | ours ÷ theirs (fit) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    throughput = []
    for name, x, y in datasets():
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
        with tempfile.TemporaryDirectory() as tmp:
            train_csv, test_csv = pathlib.Path(tmp) / "train.csv", pathlib.Path(tmp) / "test.csv"
            write_csv(train_csv, xtr, ytr)
            write_csv(test_csv, xte, yte)
            extra = []
            if len(y) > 100_000:
                all_csv = pathlib.Path(tmp) / "all.csv"
                write_csv(all_csv, x, y)
                extra = [f"predict_csv={all_csv}"]
            for threads in (1, 2):
                # Ours first, and a pause after each side: the peers' OpenMP
                # threads spin for a while after their work and would take
                # CPU time from the next side's timings.
                ours = fit_timing(binary, train_csv, test_csv, runs,
                                  ["early_stopping=false", f"n_threads={threads}", *extra], threads == 1)
                with threadpool_limits(limits=threads):
                    sk_fit, sk = best_of(runs, lambda: HistGradientBoostingClassifier(
                        max_iter=100, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20, max_bins=255,
                        l2_regularization=0.0, early_stopping=False, random_state=0).fit(xtr, ytr))
                    sk_pred, p = timed_predict(sk, xte, runs)
                    sk_all = timed_predict(sk, x, runs)[0] if extra else None
                sk_acc = float((p == yte).mean())
                time.sleep(1)
                lgb_fit, lgb = best_of(runs, lambda: lightgbm.LGBMClassifier(
                    n_estimators=100, learning_rate=0.1, num_leaves=31, min_child_samples=20, max_bin=255,
                    reg_lambda=0.0, min_child_weight=1e-3, n_jobs=threads, verbose=-1, random_state=0).fit(xtr, ytr))
                lgb_pred, p = timed_predict(lgb, xte, runs)
                lgb_all = timed_predict(lgb, x, runs)[0] if extra else None
                lgb_acc = float((p == yte).mean())
                time.sleep(1)
                n = len(ytr)
                print(f"| {name} | {n:,} | {threads} | scikit-learn | {sk_fit:.3f} | {sk_pred:.4f} | {sk_acc:.4f} | "
                      f"{ours['fit_seconds'] / sk_fit:.2f}x |")
                print(f"| {name} | {n:,} | {threads} | LightGBM | {lgb_fit:.3f} | {lgb_pred:.4f} | {lgb_acc:.4f} | "
                      f"{ours['fit_seconds'] / lgb_fit:.2f}x |")
                print(f"| {name} | {n:,} | {threads} | ml-learn | {ours['fit_seconds']:.3f} | "
                      f"{ours['predict_seconds']:.4f} | {ours['score']:.4f} | |", flush=True)
                if extra:
                    throughput.append((threads, len(y), sk_all, lgb_all, ours["predict_csv_seconds"]))
    if throughput:
        print()
        print("| rows predicted | threads | scikit-learn s | LightGBM s | ml-learn s | ml-learn rows/s |")
        print("| --- | --- | --- | --- | --- | --- |")
        for threads, n, sk_all, lgb_all, mine in throughput:
            print(f"| {n:,} | {threads} | {sk_all:.4f} | {lgb_all:.4f} | {mine:.4f} | {n / mine:,.0f} |")


if __name__ == "__main__":
    main()
