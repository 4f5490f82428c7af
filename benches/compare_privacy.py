#!/usr/bin/env python3
"""Run the same privacy workloads through OpenDP / dp-accounting and through
ml-sdk in one run, and print each ratio (ours / theirs) of median time.

    .venv/bin/python benches/compare_privacy.py [N] [ROUNDS]

Workloads (N = 1,000,000 by default):
- clamp N floats to [0, 10], sum, add Laplace noise of scale 10
  (OpenDP: vector_domain >> then_clamp >> then_sum >> then_laplace);
- N discrete Laplace draws of scale 3 (OpenDP make_laplace on N integer zeros);
- N discrete Gaussian draws of scale 3 (OpenDP make_gaussian on N integer zeros);
- epsilon at delta 1e-5 of 1000 Poisson-subsampled Gaussian steps (sigma 1.1,
  q 0.01) from a fresh RDP accountant (dp-accounting's RdpAccountant).

OpenDP takes Python lists: building the input list is outside its timing,
converting it at the call is inside (it is part of every call a Python user
makes). The Rust side (benches/src/bin/compare_privacy.rs) is built in
release mode; its noise comes from the secure generator.
"""
import importlib.metadata
import json
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np
import opendp.prelude as dp
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant

ROOT = pathlib.Path(__file__).resolve().parent.parent


def timed(fn, rounds):
    fn()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    dp.enable_features("contrib")
    x = list(np.random.default_rng(0).uniform(-1, 11, n))
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance()
    summ = space >> dp.t.then_clamp((0.0, 10.0)) >> dp.t.then_sum() >> dp.m.then_laplace(10.0)
    zeros = [0] * n
    lap = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=3.0)
    gauss = dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int), scale=3.0)

    def rdp():
        acc = rdp_privacy_accountant.RdpAccountant()
        acc.compose(dp_event.SelfComposedDpEvent(
            dp_event.PoissonSampledDpEvent(0.01, dp_event.GaussianDpEvent(1.1)), 1000))
        return acc.get_epsilon(1e-5)

    # The samplers are slow in OpenDP: fewer rounds keep the run short.
    theirs = {
        "sum": timed(lambda: summ(x), rounds),
        "discrete_laplace": timed(lambda: lap(zeros), max(1, rounds // 3)),
        "discrete_gaussian": timed(lambda: gauss(zeros), max(1, rounds // 3)),
        "rdp": timed(rdp, max(rounds, 20)),
    }
    cmd = ["cargo", "run", "--release", "--quiet", "-p", "ml-sdk-benches", "--bin", "compare_privacy", "--",
           str(n), str(rounds)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    ours = {r["workload"]: r["seconds"] for r in map(json.loads, out.splitlines())}

    print(f"opendp {importlib.metadata.version('opendp')}, dp-accounting {importlib.metadata.version('dp-accounting')}; "
          f"N = {n}, median of {rounds} rounds (samplers: {max(1, rounds // 3)}; rdp: {max(rounds, 20)})")
    print(f"{'workload':<20} {'python':>12} {'ml-sdk':>12} {'ratio':>8}  throughput (values/s) python / ml-sdk")
    for k in ["sum", "discrete_laplace", "discrete_gaussian", "rdp"]:
        extra = ""
        if k.startswith("discrete"):
            extra = f"  {n / theirs[k]:,.0f} / {n / ours[k]:,.0f} ({theirs[k] / ours[k]:.0f}x)"
        print(f"{k:<20} {theirs[k] * 1e3:>10.2f}ms {ours[k] * 1e3:>10.3f}ms {ours[k] / theirs[k]:>8.4f}{extra}")


if __name__ == "__main__":
    main()
