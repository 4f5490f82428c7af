"""The per-epoch curves of `mlsdk train --model mlp|cnn` as MLflow and
TensorBoard read them: MlflowClient's metric history and TensorBoard's
EventAccumulator give, for each metric, one point per epoch (steps 0..n-1)
with the values of the training history that `--json` printed.

    python scripts/check_epoch_curves.py MLRUNS TB_LOGDIR EXPECTED.json

EXPECTED: {"run_id": ..., "curves": {"loss": [v0, v1, ...], ...}}.
Run by cli/tests/neural.rs (`epoch_curves_are_read_by_mlflow_and_tensorboard`).
"""
import json
import os
import pathlib
import sys

# Our stores are MLflow's file layout, which MLflow 3 reads only when asked.
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def close(a, b, rel):
    return abs(a - b) <= rel * max(1.0, abs(b))


def main():
    root, logdir, expected = sys.argv[1], pathlib.Path(sys.argv[2]), json.loads(pathlib.Path(sys.argv[3]).read_text())
    import mlflow
    import tensorboard
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    client = MlflowClient(tracking_uri=pathlib.Path(root).resolve().as_uri())
    for key, values in expected["curves"].items():
        history = sorted((m.step, m.value) for m in client.get_metric_history(expected["run_id"], key))
        if [s for s, _ in history] != list(range(len(values))) or not all(
            close(g, w, 1e-12) for (_, g), w in zip(history, values)
        ):
            fail(f"MLflow history of {key}: {history[:4]}... != {values[:4]}...")
    runs = sorted({p.parent for p in logdir.rglob("events.out.tfevents.*")})
    if len(runs) != 1:
        fail(f"expected one TensorBoard run under {logdir}, found {runs}")
    acc = EventAccumulator(str(runs[0]), size_guidance={"scalars": 0})
    acc.Reload()
    for key, values in expected["curves"].items():
        got = [(e.step, e.value) for e in acc.Scalars(key)]
        # TensorBoard keeps scalars in single precision.
        if [s for s, _ in got] != list(range(len(values))) or not all(
            close(g, w, 1e-6) for (_, g), w in zip(got, values)
        ):
            fail(f"TensorBoard scalars {key}: {got[:4]}... != {values[:4]}...")
    n = len(next(iter(expected["curves"].values())))
    print(f"mlflow {mlflow.__version__} and tensorboard {tensorboard.__version__}: "
          f"{len(expected['curves'])} curves of {n} epochs agree")


if __name__ == "__main__":
    main()
