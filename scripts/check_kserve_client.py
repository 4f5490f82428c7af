"""Drive an ml-sdk server with KServe's own v2 REST client
(`kserve.InferenceRESTClient`) and compare its answers with onnxruntime's
on the same ONNX file.

    .venv-kserve/bin/python scripts/check_kserve_client.py MANIFEST.json

The manifest is check_serving.py's (HTTP address; per model its name, ONNX
file and rows). Prints a JSON report; exits 1 on a mismatch.
"""

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest
from kserve.inference_client import RESTConfig
from onnx_reference import input_type, reference

TOL = 1e-5


async def check(manifest):
    base = f"http://{manifest['http']}"
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    report = {"models": {}, "problems": []}
    try:
        for model in manifest["models"]:
            name = model["name"]
            if not await client.is_model_ready(base, name):
                report["problems"].append(f"{name}: not ready")
                continue
            input_name, dtype, datatype = input_type(model["onnx"])
            x = np.array(model["rows"], dtype=dtype)
            expected = reference(model["onnx"], x)
            tensor = InferInput(name=input_name, shape=list(x.shape), datatype=datatype)
            tensor.set_data_from_numpy(x, binary_data=False)
            request = InferRequest(model_name=name, infer_inputs=[tensor], request_id="k1")
            response = await client.infer(base, request, model_name=name)
            diffs = {}
            for out in response.outputs:
                got = out.as_numpy()
                want = np.asarray(expected[out.name])
                if got.shape != want.shape:
                    report["problems"].append(f"{name} {out.name}: shape {got.shape}, onnxruntime {want.shape}")
                    continue
                diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)) / np.maximum(1.0, np.abs(want))))
                diffs[out.name] = diff
                if diff > TOL:
                    report["problems"].append(f"{name} {out.name}: differs from onnxruntime by {diff}")
            report["models"][name] = {"id": response.id, "outputs": diffs}
    finally:
        await client.close()
    return report


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    report = asyncio.run(check(manifest))
    print(json.dumps(report, indent=1))
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    main()
