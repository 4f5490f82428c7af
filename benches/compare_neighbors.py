"""k-nearest neighbours: scikit-learn against ml-learn in one run.

    .venv/bin/python benches/compare_neighbors.py [RUNS]

KNeighborsRegressor (5 neighbours, uniform weights) on a synthetic
problem with few features, where a KD-tree pays (make_regression, 8
features, 100,000 training rows, 5,000 queries), and KNeighborsClassifier
on digits (64 features, where both sides' "auto" searches by brute force),
each with the KD-tree and by brute force, one thread and two (scikit-learn's
n_jobs and OpenMP/BLAS threads; ours pinned to one CPU with taskset, as
prediction sizes its threads by the CPUs it may use; ours runs first and
scikit-learn is followed by a pause, so its spinning OpenMP threads do not
take the next timing's CPU). Prints the best fit
and prediction times of RUNS, the test score, and the prediction-time
ratio (ours / theirs).
"""
import pathlib
import sys
import tempfile
import time

import numpy as np
import sklearn
from sklearn.datasets import make_regression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from threadpoolctl import threadpool_limits

from timing import ROOT, best_of, fit_timing, fit_timing_binary, write_csv

DATA = ROOT / "ml-datasets" / "data"


def datasets():
    x, y = make_regression(n_samples=105_000, n_features=8, noise=10.0, random_state=0)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=5_000, random_state=0)
    yield "synthetic 8 features", KNeighborsRegressor, xtr, xte, ytr, yte
    rows = np.loadtxt(DATA / "digits.csv", delimiter=",")
    x, y = rows[:, :-1], rows[:, -1].astype(int)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    yield "digits", KNeighborsClassifier, xtr, xte, ytr, yte


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    binary = fit_timing_binary()
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, best of {runs}", end="\n\n")
    print("| data | search | threads | side | fit s | predict s | score | ours ÷ theirs (predict) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, estimator, xtr, xte, ytr, yte in datasets():
        with tempfile.TemporaryDirectory() as tmp:
            train_csv, test_csv = pathlib.Path(tmp) / "train.csv", pathlib.Path(tmp) / "test.csv"
            write_csv(train_csv, xtr, ytr)
            write_csv(test_csv, xte, yte)
            for search in ("kd_tree", "brute"):
                for threads in (1, 2):
                    ours = fit_timing(binary, train_csv, test_csv, runs,
                                      ["model=knn", "n_neighbors=5", f"algorithm={search}"], threads == 1)
                    with threadpool_limits(limits=threads):
                        fit, model = best_of(runs, lambda: estimator(
                            n_neighbors=5, algorithm=search, n_jobs=threads).fit(xtr, ytr))
                        predict, _ = best_of(runs, lambda: model.predict(xte))
                        score = model.score(xte, yte)
                    time.sleep(1)
                    print(f"| {name} | {search} | {threads} | scikit-learn | {fit:.4f} | {predict:.4f} | "
                          f"{score:.4f} | {ours['predict_seconds'] / predict:.2f}x |")
                    print(f"| {name} | {search} | {threads} | ml-learn | {ours['fit_seconds']:.4f} | "
                          f"{ours['predict_seconds']:.4f} | {ours['score']:.4f} | |", flush=True)


if __name__ == "__main__":
    main()
