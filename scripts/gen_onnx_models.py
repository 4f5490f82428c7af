#!/usr/bin/env python3
"""ONNX models exported by skl2onnx with its defaults, and what onnxruntime says about them.

Writes testdata/onnx/<name>.onnx and testdata/onnx/expected.json (or into the
directory given as the first argument): for each model, the rows it was run
on and onnxruntime's labels, probabilities or values, with the versions of
scikit-learn, skl2onnx and onnxruntime recorded. ml-onnx's tests load these
files with tract and ONNX Runtime and compare; they also import the linear
and tree models to ModelSpec and compare its predictions.

The data sets are read from the copies embedded in ml-datasets.
"""
import json
import pathlib
import sys

import numpy as np
import onnxruntime
import skl2onnx
import sklearn
from skl2onnx import to_onnx
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "ml-datasets" / "data"
ROWS = 60


def load(name):
    if name == "diabetes":
        return np.loadtxt(DATA / "diabetes_data_raw.csv"), np.loadtxt(DATA / "diabetes_target.csv")
    rows = np.loadtxt(DATA / f"{name}.csv", delimiter=",", skiprows=1)
    return rows[:, :-1], rows[:, -1].astype(int)


def cases():
    bc = load("breast_cancer")
    iris = load("iris")
    diab = load("diabetes")
    return [
        ("logreg_binary", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), bc),
        ("logreg_multi", LogisticRegression(max_iter=1000), iris),
        ("logreg_raw_binary", LogisticRegression(max_iter=5000), bc),
        ("linreg", LinearRegression(), diab),
        ("forest_binary", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0), bc),
        ("forest_multi", RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0), iris),
        ("forest_reg", RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0), diab),
        ("tree_reg", DecisionTreeRegressor(max_depth=4, random_state=0), diab),
        ("gboost_binary", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0), bc),
        ("gboost_multi", GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0), iris),
        ("gboost_reg", GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0), diab),
        (
            "mlp",
            make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=0)),
            iris,
        ),
    ]


def main():
    out_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "testdata" / "onnx"
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = {
        "meta": {
            "generator": "scripts/gen_onnx_models.py",
            "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
        },
        "models": {},
    }
    for name, model, (x, y) in cases():
        model.fit(x, y)
        onx = to_onnx(model, x[:1].astype(np.float32))  # skl2onnx defaults: ZipMap, float input
        path = out_dir / f"{name}.onnx"
        path.write_bytes(onx.SerializeToString())
        # Every third row, so the sample spans the classes of sorted data sets.
        rows = x[::3][:ROWS].astype(np.float32)
        sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outs = sess.run(None, {sess.get_inputs()[0].name: rows})
        entry = {"rows": rows.astype(float).tolist(), "n_features": int(x.shape[1])}
        if hasattr(model, "classes_"):
            labels, proba = outs[0], outs[1]
            classes = [str(c) for c in model.classes_]
            entry["classes"] = classes
            entry["labels"] = [str(v) for v in labels.tolist()]
            entry["probabilities"] = [[float(p[c]) for c in model.classes_] for p in proba]
        else:
            entry["values"] = outs[0].reshape(-1).astype(float).tolist()
        entry["ops"] = sorted({n.op_type for n in onx.graph.node})
        expected["models"][name] = entry
    (out_dir / "expected.json").write_text(json.dumps(expected, separators=(",", ":")) + "\n")
    print(f"wrote {len(expected['models'])} skl2onnx models to {out_dir} "
          f"(scikit-learn {sklearn.__version__}, skl2onnx {skl2onnx.__version__}, onnxruntime {onnxruntime.__version__})")


if __name__ == "__main__":
    main()
