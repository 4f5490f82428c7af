#!/usr/bin/env python3
"""Reference privacy-accounting figures from Google's dp-accounting.

Writes testdata/privacy/accounting.json (or into the directory given as the
first argument): for a grid of (noise multiplier, sampling rate, steps,
delta), the epsilon of the Poisson-subsampled Gaussian mechanism composed
over the steps, from dp-accounting's RDP accountant (with its optimal order)
and, on a smaller grid, from its PLD accountant; the package versions are
recorded. ml-privacy's tests compare its accountants against these.
"""
import importlib.metadata
import json
import pathlib
import sys

import dp_accounting
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
    doc = {
        "generator": "scripts/gen_privacy.py",
        "versions": {"dp-accounting": importlib.metadata.version("dp-accounting")},
        "rdp": rdp,
        "pld": pld,
    }
    (out / "accounting.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(rdp)} RDP and {len(pld)} PLD cases to {out / 'accounting.json'}")


if __name__ == "__main__":
    main()
