#!/usr/bin/env python3
"""Reference privacy-accounting figures from Google's dp-accounting.

Writes testdata/privacy/accounting.json (or into the directory given as the
first argument): for a grid of (noise multiplier, sampling rate, steps,
delta), the epsilon of the Poisson-subsampled Gaussian mechanism composed
over the steps, from dp-accounting's RDP accountant (with its optimal order)
and, on a smaller grid, from its PLD accountant; the package versions are
recorded; and scikit-learn's minimiser of the private logistic regression's
objective on breast_cancer. ml-privacy's tests compare against these.
"""
import importlib.metadata
import json
import pathlib
import sys

import dp_accounting
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from dp_accounting import dp_event
from dp_accounting.pld import pld_privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant

ROOT = pathlib.Path(__file__).resolve().parent.parent


def event(sigma, q, steps):
    return dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps
    )


def rdp_case(sigma, q, steps, delta):
    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(event(sigma, q, steps))
    eps, order = acc.get_epsilon_and_optimal_order(delta)
    return {"noise_multiplier": sigma, "sampling_rate": q, "steps": steps, "delta": delta,
            "epsilon": eps, "order": order}


def pld_case(sigma, q, steps, delta):
    acc = pld_privacy_accountant.PLDAccountant()
    acc.compose(event(sigma, q, steps))
    return {"noise_multiplier": sigma, "sampling_rate": q, "steps": steps, "delta": delta,
            "epsilon": acc.get_epsilon(delta)}


def logistic_case(lam):
    """scikit-learn's minimiser of ml-privacy's DP logistic regression objective
    on breast_cancer: mean log-loss + lam/2 |w|^2 over the unit-ball design
    (columns clamped to their min/max, scaled to [-1, 1], a bias column,
    all divided by sqrt(d + 1)); C = 1 / (n lam), no separate intercept."""
    raw = np.loadtxt(ROOT / "ml-datasets" / "data" / "breast_cancer.csv", delimiter=",", skiprows=1)
    x, y = raw[:, :-1], raw[:, -1]
    lo, hi = x.min(axis=0), x.max(axis=0)
    d = x.shape[1]
    r = np.sqrt(d + 1)
    design = np.hstack([np.ones((len(x), 1)), (x - (lo + hi) / 2) / ((hi - lo) / 2)]) / r
    n = len(x)
    model = LogisticRegression(C=1.0 / (n * lam), fit_intercept=False, tol=1e-14, max_iter=100000)
    model.fit(design, y)
    return {"lambda": lam, "bounds": [[float(a), float(b)] for a, b in zip(lo, hi)],
            "coefficients": model.coef_[0].tolist()}


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "testdata" / "privacy"
    out.mkdir(parents=True, exist_ok=True)
    rdp = [
        rdp_case(sigma, q, steps, delta)
        for sigma in [0.5, 0.8, 1.0, 1.1, 2.0, 5.0, 20.0]
        for q in [0.001, 0.01, 0.06, 0.3, 1.0]
        for steps in [1, 100, 10000]
        for delta in [1e-5, 1e-9]
    ]
    pld = [
        pld_case(sigma, q, steps, delta)
        for sigma, q, steps in [(1.0, 0.01, 100), (1.1, 0.01, 1000), (2.0, 0.06, 500), (0.8, 0.001, 10000),
                                (5.0, 1.0, 10), (1.0, 1.0, 1)]
        for delta in [1e-5]
    ]
    # The DP-SGD runs of ml-neural's tests: breast_cancer's 569 rows in
    # Poisson batches of 64 (q = 64/569, 9 steps an epoch), 10 epochs.
    dp_sgd = [dict(case(1.1, 64 / 569, 90, 1e-5), accountant=name)
              for name, case in [("rdp", rdp_case), ("pld", pld_case)]]
    doc = {
        "generator": "scripts/gen_privacy.py",
        "versions": {"dp-accounting": importlib.metadata.version("dp-accounting"), "scikit-learn": sklearn.__version__},
        "rdp": rdp,
        "logistic": [logistic_case(lam) for lam in [0.001, 0.01, 0.1]],
        "pld": pld,
        "dp_sgd": dp_sgd,
    }
    (out / "accounting.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(rdp)} RDP and {len(pld)} PLD cases to {out / 'accounting.json'}")


if __name__ == "__main__":
    main()
