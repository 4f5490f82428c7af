"""Check a Triton model repository written by `mlsdk deploy triton` with
Triton's own configuration schema and with onnxruntime.

Usage: check_triton_repo.py REPO

Each REPO/NAME/config.pbtxt is parsed with Triton's `ModelConfig` message
(tritonclient's model_config_pb2; text_format refuses unknown fields and
enum values), and its inputs and outputs are checked against what
onnxruntime reads from REPO/NAME/1/model.onnx: names, element types and
dimensions after the batch dimension. Prints a JSON report; exits 1 on a
mismatch.
"""

import json
import os
import sys

import onnxruntime
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

ONNX_TYPES = {
    "tensor(float)": "TYPE_FP32",
    "tensor(double)": "TYPE_FP64",
    "tensor(int64)": "TYPE_INT64",
    "tensor(int32)": "TYPE_INT32",
    "tensor(string)": "TYPE_STRING",
}


def check(repo, name):
    with open(os.path.join(repo, name, "config.pbtxt")) as f:
        config = text_format.Parse(f.read(), model_config_pb2.ModelConfig())
    problems = []
    if config.name != name:
        problems.append(f"config name {config.name!r} is not the directory's {name!r}")
    if config.platform != "onnxruntime_onnx":
        problems.append(f"platform {config.platform!r}")
    session = onnxruntime.InferenceSession(
        os.path.join(repo, name, "1", "model.onnx"), providers=["CPUExecutionProvider"]
    )
    graph = {t.name: t for t in list(session.get_inputs()) + list(session.get_outputs())}
    for kind, tensors in (("input", config.input), ("output", config.output)):
        for t in tensors:
            g = graph.get(t.name)
            if g is None:
                problems.append(f"{kind} {t.name!r} is not in the graph ({sorted(graph)})")
                continue
            dtype = model_config_pb2.DataType.Name(t.data_type)
            if ONNX_TYPES.get(g.type) != dtype:
                problems.append(f"{kind} {t.name!r}: config {dtype}, graph {g.type}")
            dims = list(t.reshape.shape) if t.HasField("reshape") else list(t.dims)
            graph_dims = [d if isinstance(d, int) else -1 for d in g.shape[1:]]
            if config.max_batch_size > 0 and dims != graph_dims:
                problems.append(f"{kind} {t.name!r}: config dims {dims}, graph {graph_dims}")
    return {
        "max_batch_size": config.max_batch_size,
        "inputs": [t.name for t in config.input],
        "outputs": [t.name for t in config.output],
        "dynamic_batching": config.HasField("dynamic_batching"),
        "problems": problems,
    }


def main():
    repo = sys.argv[1]
    report = {name: check(repo, name) for name in sorted(os.listdir(repo))
              if os.path.isdir(os.path.join(repo, name))}
    print(json.dumps(report, indent=1))
    sys.exit(1 if any(r["problems"] for r in report.values()) else 0)


if __name__ == "__main__":
    main()
