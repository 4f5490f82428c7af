#!/usr/bin/env python3
"""Encrypted inference of one logistic regression on breast_cancer, side by
side in one run: ml-sdk (LWE on TFHE-rs core_crypto, `mlsdk`'s library via
the compare_he binary), TenSEAL (CKKS on Microsoft SEAL) and, where its
environment exists, Concrete ML (TFHE through Concrete).

    .venv-he/bin/python benches/compare_he.py [ROUNDS]

(`scripts/setup-python.sh he` makes .venv-he; `scripts/setup-python.sh
concrete` makes .venv-concrete, about 6 GB with torch's CUDA wheels.)

The same stratified 75/25 split (seed 0) for every tool. ml-sdk and
TenSEAL score a standardized logistic regression (C = 1): ml-sdk trains its
own, quantized to 8-bit features and weights; TenSEAL evaluates
scikit-learn's, the client standardizing in clear and encrypting one CKKS
vector a sample (N = 8192, moduli 60-40-40-60, scale 2^40), the server
taking a dot product with the clear weights. Concrete ML fits its own
8-bit LogisticRegression on the same standardized features and runs through
its client/server deployment API (FHEModelDev/Client/Server).

Per sample: client encrypt, server time (one core where the tool allows),
decrypt, bytes up and down; key sizes; accuracy. Medians over ROUNDS
(default 5) passes over the test rows.
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

ROOT = pathlib.Path(__file__).resolve().parent.parent
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def median_time(f, rounds=ROUNDS):
    f()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def split():
    data = load_breast_cancer()
    idx = np.arange(len(data.target))
    train, test = train_test_split(idx, test_size=0.25, random_state=0, stratify=data.target)
    return data.data, data.target, sorted(train.tolist()), sorted(test.tolist())


def ml_sdk(directory, train, test):
    (directory / "split.json").write_text(json.dumps({"train": train, "test": test}))
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "ml-sdk-benches", "--bin", "compare_he"], cwd=ROOT, check=True
    )
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    out = subprocess.run(
        [str(target / "release" / "compare_he"), str(directory), str(ROUNDS)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def tenseal(x, y, train, test):
    import tenseal as ts

    scaler = StandardScaler().fit(x[train])
    model = LogisticRegression(max_iter=10_000).fit(scaler.transform(x[train]), y[train])
    xt = scaler.transform(x[test])
    w, b = model.coef_[0].tolist(), float(model.intercept_[0])
    ctx = ts.context(ts.SCHEME_TYPE.CKKS, poly_modulus_degree=8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    ctx.global_scale = 2**40
    ctx.generate_galois_keys()
    public = ts.context_from(ctx.serialize(save_secret_key=False))
    n = len(test)

    def encrypt():
        return [ts.ckks_vector(ctx, row.tolist()).serialize() for row in xt]

    up = encrypt()

    def serve():
        return [(ts.ckks_vector_from(public, c).dot(w) + b).serialize() for c in up]

    down = serve()

    def decrypt():
        return [ts.ckks_vector_from(ctx, c).decrypt()[0] for c in down]

    margins = np.array(decrypt())
    he = (margins > 0).astype(int)
    clear = model.predict(xt)
    return {
        "tool": f"TenSEAL {ts.__version__}",
        "scheme": "CKKS (SEAL), N=8192, 60-40-40-60, scale 2^40",
        "samples": n,
        "encrypt_ms": 1e3 * median_time(encrypt) / n,
        "server_ms": 1e3 * median_time(serve) / n,
        "decrypt_ms": 1e3 * median_time(decrypt) / n,
        "upload_bytes": sum(map(len, up)) / n,
        "download_bytes": sum(map(len, down)) / n,
        "evaluation_key_bytes": len(ctx.serialize(save_secret_key=False)),
        "accuracy_float": float((clear == y[test]).mean()),
        "accuracy_encrypted": float((he == y[test]).mean()),
        "agreement": float((he == clear).mean()),
        "max_margin_error": float(np.max(np.abs(margins - model.decision_function(xt)))),
    }


CONCRETE = r'''
import json, sys, time, statistics, tempfile, pathlib
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from concrete.ml.sklearn import LogisticRegression
from concrete.ml.deployment import FHEModelDev, FHEModelClient, FHEModelServer
import concrete.ml
spec = json.loads(sys.argv[1]); rounds = int(sys.argv[2])
d = load_breast_cancer(); y = d.target
train, test = spec["train"], spec["test"]
# Standardized in clear on the client, as for the other two tools.
x = StandardScaler().fit(d.data[train]).transform(d.data)
model = LogisticRegression(n_bits=8).fit(x[train], y[train])
model.compile(x[train])
tmp = pathlib.Path(tempfile.mkdtemp())
FHEModelDev(tmp / "m", model).save()
client = FHEModelClient(tmp / "m", key_dir=tmp / "k"); client.generate_private_and_evaluation_keys()
ek = client.get_serialized_evaluation_keys()
server = FHEModelServer(tmp / "m"); server.load()
xt = x[test]; n = len(test)
def med(f):
    f(); ts = []
    for _ in range(rounds):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)
enc = lambda: [client.quantize_encrypt_serialize(r.reshape(1, -1)) for r in xt]
up = enc()
srv = lambda: [server.run(c, ek) for c in up]
down = srv()
dec = lambda: [client.deserialize_decrypt_dequantize(c) for c in down]
probs = np.vstack(dec())
he = probs.argmax(1) if probs.shape[1] > 1 else (probs[:, 0] > 0.5).astype(int)
clear = model.predict(xt)
print(json.dumps({
    "tool": f"Concrete ML {concrete.ml.__version__}", "scheme": "TFHE (Concrete), 8-bit",
    "samples": n, "encrypt_ms": 1e3 * med(enc) / n, "server_ms": 1e3 * med(srv) / n, "decrypt_ms": 1e3 * med(dec) / n,
    "upload_bytes": sum(map(len, up)) / n, "download_bytes": sum(map(len, down)) / n,
    "evaluation_key_bytes": len(ek),
    "accuracy_float": float((model.sklearn_model.predict(xt) == y[test]).mean()),
    "accuracy_encrypted": float((he == y[test]).mean()),
    "agreement": float((he == clear).mean()),
}))
'''


def concrete(train, test):
    python = os.environ.get("MLSDK_CONCRETE_PYTHON") or str(ROOT / ".venv-concrete" / "bin" / "python")
    if not pathlib.Path(python).exists():
        return None
    out = subprocess.run(
        [python, "-c", CONCRETE, json.dumps({"train": train, "test": test}), str(min(ROUNDS, 3))],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    x, y, train, test = split()
    with tempfile.TemporaryDirectory() as d:
        rows = [ml_sdk(pathlib.Path(d), train, test), tenseal(x, y, train, test)]
    c = concrete(train, test)
    if c is None:
        print("Concrete ML: no environment (scripts/setup-python.sh concrete); not measured", file=sys.stderr)
    else:
        rows.append(c)
    for r in rows:
        print(json.dumps(r))
    fields = [
        ("encrypt_ms", "client encrypt, ms/sample"),
        ("server_ms", "server, ms/sample"),
        ("decrypt_ms", "decrypt, ms/sample"),
        ("upload_bytes", "upload, bytes/sample"),
        ("download_bytes", "download, bytes/sample"),
        ("evaluation_key_bytes", "evaluation key, bytes"),
        ("accuracy_encrypted", "accuracy (encrypted)"),
        ("agreement", "agreement with clear model"),
    ]
    ours = rows[0]
    print(f"\n{'':32}" + "".join(f"{r['tool'][:22]:>24}" for r in rows))
    for key, label in fields:
        line = f"{label:32}"
        for r in rows:
            v = r.get(key)
            line += f"{'-' if v is None else (f'{v:.4g}' if isinstance(v, float) else str(v)):>24}"
        print(line)
    for r in rows[1:]:
        ratio = r["server_ms"] / ours["server_ms"]
        print(f"server time: ml-sdk is {ratio:.0f}x faster than {r['tool']}")
    print(f"ml-sdk: exact={ours['exact']}, accumulator {ours['accumulator_bits']} bits, "
          f"server with I/O {ours['server_io_ms']:.4f} ms/sample, one-sample request {ours['server_one_sample_ms']:.4f} ms")
    print(f"ml-sdk with circuit privacy: server {ours['server_circuit_private_ms']:.3f} ms/sample, "
          f"exact={ours['circuit_private_exact']}, flood 2^{ours['flood_bits']}, "
          f"about {ours['statistical_bits']:.1f} bits of statistical hiding, public key {ours['public_key_bytes']} bytes")
    print(f"ml-sdk label mode: {ours['label_ms']:.1f} ms/sample (key switch + bootstrap), agreement with the clear "
          f"quantized labels {ours['label_agreement']:.3f} (uncertain band ±{ours['label_uncertain_margin']:.2f} of margin), "
          f"evaluation key {ours['label_evaluation_key_bytes']} bytes, generated in {ours['label_keygen_s']:.2f} s, "
          f"server setup {ours['label_server_setup_s']:.2f} s")


if __name__ == "__main__":
    main()
