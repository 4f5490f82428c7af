"""onnxruntime's outputs of an ONNX file, by output name, with ZipMap's
list of dicts made the probability matrix it wraps (what the serving
checks compare servers with)."""

import numpy as np
import onnxruntime


def reference(onnx_path, x):
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: x})
    named = {}
    for meta, value in zip(session.get_outputs(), outputs):
        if isinstance(value, list) and value and isinstance(value[0], dict):
            keys = sorted(value[0])
            value = np.array([[row[k] for k in keys] for row in value])
        named[meta.name] = np.asarray(value)
    return named


def input_type(onnx_path):
    """The numpy type and protocol datatype of the graph's input."""
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    if inp.type == "tensor(double)":
        return inp.name, np.float64, "FP64"
    return inp.name, np.float32, "FP32"
