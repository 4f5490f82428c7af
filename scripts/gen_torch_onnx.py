"""Small CNNs exported by PyTorch's ONNX exporter, with their outputs, for
ml-onnx's import test (`ml-onnx/tests/torch.rs`).

    .venv-concrete/bin/python scripts/gen_torch_onnx.py [OUT_DIR]

(.venv-concrete, made by `scripts/setup-python.sh concrete`, has torch and
onnx.) Writes `torch_cnn.onnx` and `torch_cnn.json` (a 2-D CNN; input
rows: the first 200 digits scaled to [0, 1]; the network's probabilities;
versions), and `torch_cnn1d.*` (the same rows as 8 channels of 8 steps
through 1-D convolutions).
"""
import json
import pathlib
import sys

import numpy as np
import onnx
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent


class Net(torch.nn.Module):
    """Flat rows of 64 pixels read as 1x8x8 images, as ml-neural's `reshape`."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(4, 6, 2), torch.nn.Sigmoid(), torch.nn.AvgPool2d(1),
            torch.nn.Flatten(), torch.nn.Linear(54, 16), torch.nn.Tanh(), torch.nn.Linear(16, 10))

    def forward(self, x):
        return torch.softmax(self.body(x.reshape(-1, 1, 8, 8)), dim=1)


class Net1d(torch.nn.Module):
    """Flat rows of 64 pixels read as 8 channels x 8 steps, as ml-neural's `sequence`."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv1d(8, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool1d(2),
            torch.nn.Conv1d(6, 5, 2, stride=1), torch.nn.Tanh(), torch.nn.AvgPool1d(3),
            torch.nn.Flatten(), torch.nn.Linear(5, 10))

    def forward(self, x):
        return torch.softmax(self.body(x.reshape(-1, 8, 8)), dim=1)


def write(net, name, x, out):
    with torch.no_grad():
        p = net(torch.tensor(x)).numpy()
    path = out / f"{name}.onnx"
    torch.onnx.export(net, torch.tensor(x[:2]), str(path), input_names=["input"],
                      output_names=["probabilities"], dynamic_axes={"input": {0: "N"}, "probabilities": {0: "N"}},
                      opset_version=17, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    doc = {"generator": "scripts/gen_torch_onnx.py", "versions": {"torch": torch.__version__, "onnx": onnx.__version__},
           "input": x.astype(float).tolist(), "probabilities": p.astype(float).tolist()}
    (out / f"{name}.json").write_text(json.dumps(doc) + "\n")
    print(f"wrote {path} and its outputs on {len(x)} rows")


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "testdata" / "onnx"
    out.mkdir(parents=True, exist_ok=True)
    raw = np.loadtxt(ROOT / "ml-datasets" / "data" / "digits.csv", delimiter=",")
    x = (raw[:200, :-1] / 16.0).astype(np.float32)
    torch.manual_seed(0)
    write(Net().eval(), "torch_cnn", x, out)
    torch.manual_seed(1)
    write(Net1d().eval(), "torch_cnn1d", x, out)


if __name__ == "__main__":
    main()
