#!/usr/bin/env python3
"""Read what ml-track wrote with the real tools and compare with what it meant.

    check_tracking.py mlflow   MLRUNS EXPECTED.json   # MlflowClient + mlflow migrate-filestore
    check_tracking.py tensorboard LOGDIR EXPECTED.json  # EventAccumulator + tbparse

EXPECTED.json comes from the Rust test (ml-track/tests/real_tools.rs). Exits
non-zero with a message on the first difference.
"""
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def fail(msg):
    print(f"MISMATCH: {msg}", file=sys.stderr)
    sys.exit(1)


def same_float(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_mlflow(root, expected):
    import mlflow
    from mlflow.tracking import MlflowClient

    remote = root.startswith("http://") or root.startswith("https://")
    uri = root if remote else pathlib.Path(root).resolve().as_uri()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    for exp in expected["experiments"]:
        e = client.get_experiment_by_name(exp["name"])
        if e is None:
            fail(f"experiment {exp['name']} not found")
        runs = {r.info.run_id: r for r in client.search_runs([e.experiment_id], max_results=1000)}
        for want in exp["runs"]:
            run = runs.get(want["run_id"])
            if run is None:
                fail(f"run {want['run_id']} not listed in {exp['name']}")
            if run.info.status != want["status"]:
                fail(f"status {run.info.status} != {want['status']}")
            if run.info.run_name != want["run_name"]:
                fail(f"run name {run.info.run_name!r} != {want['run_name']!r}")
            if run.data.params != want["params"]:
                fail(f"params {run.data.params} != {want['params']}")
            for k, v in want["tags"].items():
                if run.data.tags.get(k) != v:
                    fail(f"tag {k}: {run.data.tags.get(k)!r} != {v!r}")
            for key, points in want["metrics"].items():
                history = client.get_metric_history(run.info.run_id, key)
                got = sorted((m.step, m.timestamp, m.value) for m in history)
                exp_points = sorted((p["step"], p["timestamp_ms"], float(p["value"])) for p in points)
                if len(got) != len(exp_points) or not all(
                    g[0] == w[0] and g[1] == w[1] and same_float(g[2], w[2]) for g, w in zip(got, exp_points)
                ):
                    fail(f"metric {key}: {got[:5]}... != {exp_points[:5]}...")
            arts = {a.path for a in client.list_artifacts(run.info.run_id, want.get("artifact_dir", ""))}
            for a in want.get("artifacts", []):
                if a not in arts:
                    fail(f"artifact {a} not listed ({sorted(arts)})")
                local = client.download_artifacts(run.info.run_id, a, tempfile.mkdtemp())
                if pathlib.Path(local).read_text() != want["artifact_text"][a]:
                    fail(f"artifact {a} content differs")
    reg = expected.get("registry")
    if reg:
        models = {m.name: m for m in client.search_registered_models()}
        if reg["name"] not in models:
            fail(f"registered model {reg['name']} not listed ({sorted(models)})")
        versions = sorted(client.search_model_versions(f"name='{reg['name']}'"), key=lambda v: int(v.version))
        got = [(int(v.version), v.run_id, v.source) for v in versions]
        want = [(v["version"], v["run_id"], v["source"]) for v in reg["versions"]]
        if got != want:
            fail(f"model versions {got} != {want}")
        for alias, version in reg["aliases"].items():
            mv = client.get_model_version_by_alias(reg["name"], alias)
            if int(mv.version) != version:
                fail(f"alias {alias} -> {mv.version}, expected {version}")
        if "model_uri" in reg:
            info = mlflow.models.get_model_info(reg["model_uri"])
            names = [c.name for c in info.signature.inputs.inputs]
            if names != reg["signature_inputs"]:
                fail(f"signature inputs {names} != {reg['signature_inputs']}")
            if "mlsdk" not in info.flavors:
                fail(f"flavors {sorted(info.flavors)} lack mlsdk")
    deleted = expected.get("deleted_experiment")
    if deleted:
        e = client.get_experiment(deleted)
        if e.lifecycle_stage != "deleted":
            fail(f"experiment {deleted} is {e.lifecycle_stage}, expected deleted")
    if remote:
        print(f"mlflow {mlflow.__version__}: MlflowClient reads what we sent to the server")
        return
    # migrate-filestore converts the whole store to a database.
    db = pathlib.Path(tempfile.mkdtemp()) / "mlflow.db"
    proc = subprocess.run(
        [sys.executable, "-m", "mlflow", "migrate-filestore", "--source", str(root), "--target", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        fail(f"migrate-filestore failed: {proc.stderr[-2000:]}")
    db_client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    for exp in expected["experiments"]:
        e = db_client.get_experiment_by_name(exp["name"])
        if e is None:
            fail(f"experiment {exp['name']} missing after migrate-filestore")
        for want in exp["runs"]:
            run = db_client.get_run(want["run_id"])
            if run.data.params != want["params"]:
                fail(f"params after migration {run.data.params}")
            for key, points in want["metrics"].items():
                n = len(db_client.get_metric_history(want["run_id"], key))
                if n != len(points):
                    fail(f"metric {key} after migration: {n} points, expected {len(points)}")
    print(f"mlflow {mlflow.__version__}: MlflowClient and migrate-filestore agree")


def check_tensorboard(logdir, expected):
    import tensorboard
    from tbparse import SummaryReader
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    for run in expected["runs"]:
        path = pathlib.Path(logdir) / run["dir"]
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0})
        acc.Reload()
        for tag, points in run["scalars"].items():
            got = [(e.step, e.value) for e in acc.Scalars(tag)]
            want = [(p["step"], p["value"]) for p in points]
            if len(got) != len(want) or any(g[0] != w[0] or abs(g[1] - w[1]) > 1e-6 * max(1, abs(w[1])) for g, w in zip(got, want)):
                fail(f"EventAccumulator scalars {tag}: {got[:5]} != {want[:5]}")
        for tag, h in run.get("histograms", {}).items():
            events = acc.Histograms(tag)
            if not events:
                fail(f"no histogram {tag}")
            hv = events[0].histogram_value
            if hv.num != h["num"] or abs(hv.sum - h["sum"]) > 1e-9 * max(1, abs(h["sum"])) or hv.min != h["min"] or hv.max != h["max"]:
                fail(f"histogram {tag}: num {hv.num} sum {hv.sum} min {hv.min} max {hv.max} != {h}")
        if run.get("hparams"):
            content = acc.PluginTagToContent("hparams")
            data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
            got = {}
            for k, v in data.session_start_info.hparams.items():
                kind = v.WhichOneof("kind")
                got[k] = {"number_value": v.number_value, "string_value": v.string_value, "bool_value": v.bool_value}[kind]
            if got != run["hparams"]:
                fail(f"hparams {got} != {run['hparams']}")
            if "session_status" in run:
                from tensorboard.plugins.hparams import api_pb2
                end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"])
                status = api_pb2.Status.Name(end.session_end_info.status)
                if status != run["session_status"] or end.session_end_info.end_time_secs <= 0:
                    fail(f"session end {status} at {end.session_end_info.end_time_secs}, expected {run['session_status']}")
        df = SummaryReader(str(path)).scalars
        for tag, points in run["scalars"].items():
            rows = df[df["tag"] == tag].sort_values("step")
            got = list(zip(rows["step"].tolist(), rows["value"].tolist()))
            want = [(p["step"], p["value"]) for p in points]
            if len(got) != len(want) or any(g[0] != w[0] or abs(g[1] - w[1]) > 1e-6 * max(1, abs(w[1])) for g, w in zip(got, want)):
                fail(f"tbparse scalars {tag}: {got[:5]} != {want[:5]}")
        if run.get("hparams"):
            hp = SummaryReader(str(path)).hparams
            got = dict(zip(hp["tag"], hp["value"]))
            if got != run["hparams"]:
                fail(f"tbparse hparams {got} != {run['hparams']}")
    print(f"tensorboard {tensorboard.__version__}: EventAccumulator and tbparse agree")


def write_with_mlflow(uri, out_path):
    """The other direction: the Python client writes a run for our client to read."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("written by python")
    run = client.create_run(exp, run_name="python run")
    rid = run.info.run_id
    client.log_batch(
        rid,
        metrics=[mlflow.entities.Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(1500)],
        params=[mlflow.entities.Param(f"p{i}", str(i * 3)) for i in range(120)],
        tags=[mlflow.entities.RunTag("origin", "python")],
    )
    client.set_terminated(rid, "KILLED")
    pathlib.Path(out_path).write_text(json.dumps({"run_id": rid, "experiment_id": exp}))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write_with_mlflow(sys.argv[2], sys.argv[3])
        sys.exit(0)
    kind, root, expected = sys.argv[1], sys.argv[2], json.loads(pathlib.Path(sys.argv[3]).read_text())
    {"mlflow": check_mlflow, "tensorboard": check_tensorboard}[kind](root, expected)
