"""Regenerate ml-proto's Rust protobuf code (ml-proto/src/gen/) from the
schemas the reference tools ship.

- ONNX: the onnx wheel's own `onnx-ml.proto` (compiled by protox, so its
  comments become the generated types' docs).
- TensorBoard: the tensorboard wheel ships its schemas compiled only (the
  `*_pb2.py` modules carry each FileDescriptorProto); this script collects
  `event.proto` and the hparams plugin's `plugin_data.proto` with everything
  they import into one FileDescriptorSet.

- Inference (`--inference`): Triton's `grpc_service.proto` and
  `model_config.proto` (package `inference`; the Open Inference Protocol's
  gRPC service is its first six methods), as tritonclient ships them
  compiled, with tonic server code. tritonclient pins protobuf < 7, so this
  runs with the serving environment's Python.

prost-build (in ml-proto/generate, a package of its own) writes one file per
protobuf package. No `protoc` is used, and the build never runs this: the
output is committed. Run with the reference environments' Pythons:

    .venv/bin/python scripts/gen_proto.py [OUT_DIR]
    .venv-serving/bin/python scripts/gen_proto.py --inference [OUT_DIR]

OUT_DIR defaults to ml-proto/src/gen (ml-proto/src/gen_inference); the test
suite writes elsewhere and compares, so the committed code cannot drift from
the schemas.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import google.protobuf
from google.protobuf import descriptor_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "ml-proto", "src", "gen")
DEFAULT_INFERENCE_OUT = os.path.join(ROOT, "ml-proto", "src", "gen_inference")


def descriptor_set(modules):
    """A FileDescriptorSet of these modules' files and their imports, imports first."""
    fds = descriptor_pb2.FileDescriptorSet()
    seen = set()

    def add(fd):
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            add(dep)
        proto = fds.file.add()
        fd.CopyToProto(proto)

    for m in modules:
        add(m.DESCRIPTOR)
    return fds


def generate(out, args):
    """Run the generator with these arguments into a staging directory, then
    replace OUT_DIR with it once all files were written."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = os.path.join(tmp, "gen")
        subprocess.run(
            [
                "cargo", "run", "--quiet", "--release", "--locked",
                "--manifest-path", os.path.join(ROOT, "ml-proto", "generate", "Cargo.toml"),
                "--", "--out", staged,
            ] + args(tmp),
            check=True,
        )
        if os.path.isdir(out):
            shutil.rmtree(out)
        shutil.copytree(staged, out)
    for name in sorted(os.listdir(out)):
        print(f"gen_proto: wrote {os.path.join(out, name)}", file=sys.stderr)


def onnx_and_tensorboard(out):
    import onnx
    import tensorboard
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import plugin_data_pb2

    def args(tmp):
        tb_set = os.path.join(tmp, "tensorboard.binpb")
        with open(tb_set, "wb") as f:
            f.write(descriptor_set([event_pb2, plugin_data_pb2]).SerializeToString())
        return [
            "--header", f"onnx {onnx.__version__}: onnx/onnx-ml.proto",
            "--header", f"tensorboard {tensorboard.__version__}: tensorboard/compat/proto/event.proto, "
            "tensorboard/plugins/hparams/plugin_data.proto and their imports "
            f"(descriptors read with protobuf {google.protobuf.__version__})",
            "--proto-root", os.path.dirname(onnx.__file__),
            "--proto", "onnx-ml.proto",
            "--descriptor-set", tb_set,
        ]

    generate(out, args)


def inference(out):
    from importlib.metadata import version

    from tritonclient.grpc import service_pb2

    def args(tmp):
        path = os.path.join(tmp, "inference.binpb")
        with open(path, "wb") as f:
            f.write(descriptor_set([service_pb2]).SerializeToString())
        return [
            "--header", f"tritonclient {version('tritonclient')}: grpc_service.proto and model_config.proto "
            f"(descriptors read with protobuf {google.protobuf.__version__})",
            "--descriptor-set", path,
            "--grpc-server",
        ]

    generate(out, args)


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--inference"]:
        inference(argv[1] if len(argv) > 1 else DEFAULT_INFERENCE_OUT)
    else:
        onnx_and_tensorboard(argv[0] if argv else DEFAULT_OUT)


if __name__ == "__main__":
    main()
