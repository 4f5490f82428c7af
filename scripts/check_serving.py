"""Drive an ml-sdk server with the real Triton clients (HTTP, its async
client, and gRPC where the manifest names a gRPC address) and compare every
answer with onnxruntime on the same ONNX file.

Usage: check_serving.py MANIFEST.json

The manifest (written by ml-sdk/tests/serve_clients.rs) names the server's
HTTP address and, for each served model, the ONNX file it is equivalent to
and rows to score. Prints a JSON report on stdout; exits 1 on a mismatch.
"""

import asyncio
import json
import sys

import numpy as np
import onnxruntime
from onnx_reference import reference
import tritonclient
import tritonclient.grpc as grpc
import tritonclient.http as http
import tritonclient.http.aio as http_aio
from tritonclient.utils import InferenceServerException

TOL = 1e-5


def compare(where, got, expected, report):
    """Labels equal, numbers within TOL of onnxruntime's (relative beyond 1:
    float32 values near 200 are 1.5e-5 apart), shapes the same."""
    if got is None:
        raise AssertionError(f"{where}: no output")
    got = np.asarray(got)
    if got.shape != expected.shape:
        raise AssertionError(f"{where}: shape {got.shape}, onnxruntime {expected.shape}")
    if got.dtype.kind in "iu":
        diff = 0.0 if np.array_equal(got, expected) else float("inf")
    else:
        g, e = got.astype(np.float64), expected.astype(np.float64)
        diff = float(np.max(np.abs(g - e) / np.maximum(1.0, np.abs(e)))) if got.size else 0.0
    report["max_diff"] = max(report.get("max_diff", 0.0), diff)
    report["checks"] = report.get("checks", 0) + 1
    if diff > TOL:
        raise AssertionError(f"{where}: got {got.ravel()[:4]}, onnxruntime {expected.ravel()[:4]} (diff {diff})")


def numpy_type(datatype):
    return {"FP32": np.float32, "FP64": np.float64}[datatype]


def check_model(client, model, report):
    name = model["name"]
    assert client.is_model_ready(name), f"{name} is not ready"
    meta = client.get_model_metadata(name)
    assert meta["name"] == name, meta
    config = client.get_model_config(name)
    assert config["name"] == name, config
    inp = meta["inputs"][0]
    x = np.array(model["rows"], dtype=numpy_type(inp["datatype"]))
    expected = reference(model["onnx"], x)
    outputs = [o["name"] for o in meta["outputs"]]
    for out in outputs:
        assert out in expected, f"{name}: output {out} is not one of onnxruntime's {sorted(expected)}"

    for binary in (True, False):
        tensor = http.InferInput(inp["name"], list(x.shape), inp["datatype"])
        tensor.set_data_from_numpy(x, binary_data=binary)
        requested = [http.InferRequestedOutput(o, binary_data=binary) for o in outputs]
        result = client.infer(name, [tensor], outputs=requested, request_id=f"{name}-{binary}")
        assert result.get_response()["id"] == f"{name}-{binary}"
        for out in outputs:
            compare(f"{name} binary={binary} {out}", result.as_numpy(out), expected[out], report)

    # No outputs named: the client asks for all of them in binary.
    tensor = http.InferInput(inp["name"], list(x.shape), inp["datatype"])
    tensor.set_data_from_numpy(x)
    for compression in (None, "gzip", "deflate"):
        result = client.infer(name, [tensor], request_compression_algorithm=compression)
        for out in outputs:
            compare(f"{name} compression={compression} {out}", result.as_numpy(out), expected[out], report)

    # One requested output only.
    result = client.infer(name, [tensor], outputs=[http.InferRequestedOutput(outputs[-1])])
    assert [o["name"] for o in result.get_response()["outputs"]] == [outputs[-1]]

    async def with_async_client():
        aclient = http_aio.InferenceServerClient(report["url"])
        try:
            assert await aclient.is_model_ready(name)
            t = http_aio.InferInput(inp["name"], list(x.shape), inp["datatype"])
            t.set_data_from_numpy(x)
            r = await aclient.infer(name, [t])
            for out in outputs:
                compare(f"{name} async {out}", r.as_numpy(out), expected[out], report)
        finally:
            await aclient.close()

    asyncio.run(with_async_client())

    if report.get("grpc"):
        g = grpc.InferenceServerClient(report["grpc"])
        assert g.is_server_live() and g.is_server_ready() and g.is_model_ready(name)
        gmeta = g.get_model_metadata(name, as_json=True)
        assert [o["name"] for o in gmeta["outputs"]] == outputs, gmeta
        gconfig = g.get_model_config(name, as_json=True)["config"]
        assert gconfig["name"] == name, gconfig
        for compression in (None, "gzip"):
            t = grpc.InferInput(inp["name"], list(x.shape), inp["datatype"])
            t.set_data_from_numpy(x)
            r = g.infer(name, [t], outputs=[grpc.InferRequestedOutput(o) for o in outputs],
                        request_id=f"{name}-grpc", compression_algorithm=compression)
            assert r.get_response().id == f"{name}-grpc"
            for out in outputs:
                compare(f"{name} grpc compression={compression} {out}", r.as_numpy(out), expected[out], report)
        gstats = g.get_inference_statistics(name, as_json=True)
        report["grpc_inference_count"] = int(gstats["model_stats"][0]["inference_count"])

    stats = client.get_inference_statistics(name)
    report["inference_count"] = stats["model_stats"][0]["inference_count"]


def main():
    manifest = json.load(open(sys.argv[1]))
    url = manifest["http"]
    grpc_url = manifest.get("grpc")
    client = http.InferenceServerClient(url)
    assert client.is_server_live() and client.is_server_ready()
    server = client.get_server_metadata()
    report = {"tritonclient": tritonclient.__version__ if hasattr(tritonclient, "__version__") else "2.73.0",
              "onnxruntime": onnxruntime.__version__, "server": server["name"], "models": {}}
    failures = []
    for model in manifest["models"]:
        r = {"url": url, "grpc": grpc_url}
        try:
            check_model(client, model, r)
        except (AssertionError, InferenceServerException) as e:
            failures.append(f"{model['name']}: {e}")
        r.pop("url")
        r.pop("grpc")
        report["models"][model["name"]] = r

    # Errors the client reports as exceptions, with the server's message.
    try:
        client.get_model_metadata("no-such-model")
        failures.append("an unknown model was not refused")
    except InferenceServerException as e:
        report["unknown_model_error"] = e.message()
    first = manifest["models"][0]
    bad = http.InferInput("input_that_does_not_exist", [1, 1], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 1), dtype=np.float32))
    try:
        client.infer(first["name"], [bad])
        failures.append("an unknown input was not refused")
    except InferenceServerException as e:
        report["unknown_input_error"] = e.message()
    if grpc_url:
        g = grpc.InferenceServerClient(grpc_url)
        bad = grpc.InferInput("input_that_does_not_exist", [1, 1], "FP32")
        bad.set_data_from_numpy(np.zeros((1, 1), dtype=np.float32))
        try:
            g.infer(first["name"], [bad])
            failures.append("gRPC: an unknown input was not refused")
        except InferenceServerException as e:
            report["grpc_unknown_input_error"] = f"{e.status()}: {e.message()}"
    report["failures"] = failures
    print(json.dumps(report, indent=1))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
