#!/usr/bin/env python3
"""Neural networks on digits, side by side in one run: ml-sdk (burn's flex
CPU backend, via the compare_neural example of ml-neural), scikit-learn's MLPClassifier
and, where an environment with torch exists (.venv-concrete), PyTorch on
the CPU.

    .venv/bin/python benches/compare_neural.py [EPOCHS]

The same stratified 75/25 split (seed 0), digits scaled to [0, 1] (x / 16),
one thread each: an MLP (64, 64) with ReLU, batch 32, Adam (lr 1e-3),
EPOCHS epochs (default 20); ml-sdk also trains a small CNN (16 3x3 filters,
max pooling, a dense layer of 64), the MLP with SGD (momentum 0.9), and the
same with DP-SGD at epsilon 8 and 2 (delta 1e-5, clip 1, noise calibrated
by the RDP accountant): the cost of per-example clipping against plain SGD.
Prints time per epoch, test accuracy, and the ratios.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent

TORCH = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(1)
torch.manual_seed(0)
d = np.load(sys.argv[1])
epochs = int(sys.argv[2])
xtr, ytr = torch.tensor(d["xtr"], dtype=torch.float32), torch.tensor(d["ytr"])
xte, yte = torch.tensor(d["xte"], dtype=torch.float32), torch.tensor(d["yte"])
net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
g = torch.Generator().manual_seed(0)
start = time.perf_counter()
for _ in range(epochs):
    perm = torch.randperm(len(xtr), generator=g)
    for i in range(0, len(xtr), 32):
        idx = perm[i:i + 32]
        opt.zero_grad()
        loss_fn(net(xtr[idx]), ytr[idx]).backward()
        opt.step()
seconds = time.perf_counter() - start
with torch.no_grad():
    acc = (net(xte).argmax(1) == yte).float().mean().item()
print(json.dumps({"tool": "pytorch " + torch.__version__, "model": "mlp_64_64", "epochs": epochs,
                  "ms_per_epoch": 1e3 * seconds / epochs, "test_accuracy": acc}))
"""


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    x, y = load_digits(return_X_y=True)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    results = []

    import sklearn
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        clf = MLPClassifier(hidden_layer_sizes=(64, 64), batch_size=32, solver="adam", learning_rate_init=1e-3,
                            max_iter=epochs, tol=0.0, n_iter_no_change=10 ** 9, alpha=0.0, random_state=0)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            clf.fit(x[tr] / 16.0, y[tr])
            seconds = time.perf_counter() - start
    results.append({"tool": "scikit-learn " + sklearn.__version__, "model": "mlp_64_64", "epochs": epochs,
                    "ms_per_epoch": 1e3 * seconds / epochs, "test_accuracy": clf.score(x[te] / 16.0, y[te])})

    with tempfile.TemporaryDirectory() as tmp:
        split = pathlib.Path(tmp) / "split.json"
        split.write_text(json.dumps({"train": tr.tolist(), "test": te.tolist()}))
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "ml-neural", "--example", "compare_neural"],
                       cwd=ROOT, check=True)
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        out = subprocess.run([str(target / "release" / "examples" / "compare_neural"), str(split), str(epochs)],
                             cwd=ROOT, check=True, capture_output=True, text=True,
                             env=dict(os.environ, RAYON_NUM_THREADS="1"))
        results += [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        torch_python = ROOT / ".venv-concrete" / "bin" / "python"
        if torch_python.exists():
            arrays = pathlib.Path(tmp) / "digits.npz"
            np.savez(arrays, xtr=x[tr] / 16.0, ytr=y[tr], xte=x[te] / 16.0, yte=y[te])
            script = pathlib.Path(tmp) / "torch_mlp.py"
            script.write_text(TORCH)
            run = subprocess.run([str(torch_python), str(script), str(arrays), str(epochs)],
                                 capture_output=True, text=True)
            if run.returncode == 0:
                results += [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
            else:
                print("pytorch: not run:", run.stderr.strip().splitlines()[-1:], file=sys.stderr)

    print(f"{'tool':<22} {'model':<22} {'epochs':>6} {'ms/epoch':>9} {'test acc':>9} {'epsilon':>8}")
    for r in results:
        eps = r.get("epsilon")
        print(f"{r['tool']:<22} {r['model']:<22} {r['epochs']:>6} {r['ms_per_epoch']:>9.2f} "
              f"{r['test_accuracy']:>9.4f} {'' if eps is None else f'{eps:.2f}':>8}")
    by = {(r["tool"].split()[0], r["model"]): r for r in results}
    ours, skl = by.get(("ml-sdk", "mlp_64_64")), by.get(("scikit-learn", "mlp_64_64"))
    if ours and skl:
        print(f"MLP time per epoch, ml-sdk / scikit-learn: {ours['ms_per_epoch'] / skl['ms_per_epoch']:.2f}")
    torch_r = by.get(("pytorch", "mlp_64_64"))
    if ours and torch_r:
        print(f"MLP time per epoch, ml-sdk / PyTorch: {ours['ms_per_epoch'] / torch_r['ms_per_epoch']:.2f}")
    sgd, dp = by.get(("ml-sdk", "mlp_64_64_sgd")), by.get(("ml-sdk", "mlp_64_64_dpsgd_eps8"))
    if sgd and dp:
        print(f"DP-SGD / SGD time per epoch: {dp['ms_per_epoch'] / sgd['ms_per_epoch']:.2f}")


if __name__ == "__main__":
    main()
