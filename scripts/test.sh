#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, the Rust tests, and the
# interop suite that regenerates the reference values with the real Python
# tools and checks our code against the fresh copy.
#
# Build outputs and the Python environment live in a cache outside the checkout
# ($MLSDK_CACHE, default ~/.cache/ml-sdk), so a fresh clone reuses them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CACHE=${MLSDK_CACHE:-$HOME/.cache/ml-sdk}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
export CARGO_TERM_COLOR=never
# CI's fresh clones rebuild the workspace's own crates whatever is cached;
# incremental state would only add gigabytes to the cache each run.
export CARGO_INCREMENTAL=0
# The reference tools run without network: no telemetry (it would only wait on timeouts).
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
step() { printf '\n==> %s\n' "$*"; }
# One feature set for every build: ml-onnx with its ONNX Runtime back end,
# ml-privacy's caller-trusting constructors (its goodness-of-fit tests use
# them), ml-track's S3 artifact stores, the examples that run ONNX. The interop steps pick their test
# targets with --workspace rather than -p, so every step resolves dependency
# features the same way and the final test run reuses their compilation
# instead of building the tree again.
FEATURES=(--features ml-onnx/ort,ml-privacy/honest-but-curious,ml-learn/privacy,ml-track/s3,ml-he/label,ml-sdk-examples/onnx-runtimes)
WS=(--workspace --locked "${FEATURES[@]}")

# Cargo never collects old artifacts: a target directory reused across many
# builds grew to 60 GB here. When its disk runs short, start it afresh (a
# clean run takes near 50 minutes on 2 cores; see the README).
if [ -d "$CARGO_TARGET_DIR" ]; then
  free_kb=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }')
  if [ "${free_kb:-0}" -lt $((15 * 1024 * 1024)) ]; then
    echo "test.sh: less than 15 GiB free; removing $CARGO_TARGET_DIR to rebuild it"
    rm -rf "$CARGO_TARGET_DIR"
  fi
fi

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy "${WS[@]}" --all-targets -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc "${WS[@]}" --no-deps

step "packaging: every publishable crate packages and builds alone from its package (cargo package)"
# Cargo rebuilds each packaged crate outside the workspace, whose profiles
# do not travel with it: unoptimized, here without debug info (with it, the
# tfhe, burn and tract builds take gigabytes), in a target directory of its
# own beside the test builds' (about 11 minutes and 4 GB from scratch).
CARGO_TARGET_DIR=$CACHE/package-target CARGO_PROFILE_DEV_DEBUG=0 \
  cargo package --workspace --locked --allow-dirty --exclude ml-sdk-examples --exclude ml-sdk-agent-examples --exclude ml-sdk-benches --quiet

step "python reference tools (the main environment, and the serving clients' own)"
bash scripts/setup-python.sh
for env in serving k8s kserve rl; do bash scripts/setup-python.sh "$env"; done

step "interop: regenerate scikit-learn fixtures"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
.venv/bin/python scripts/gen_sklearn.py "$fresh"
committed=$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["meta"]["scikit-learn"])' testdata/sklearn_models.json)
installed=$(.venv/bin/python -c 'import sklearn; print(sklearn.__version__)')
if [ "$committed" != "$installed" ]; then
  echo "note: committed fixtures are from scikit-learn $committed, installed is $installed"
fi

step "protobuf: ml-proto's committed code is what the installed onnx, tensorboard and tritonclient schemas generate"
.venv/bin/python scripts/gen_proto.py "$fresh/proto"
diff -r "$fresh/proto" ml-proto/src/gen
.venv-serving/bin/python scripts/gen_proto.py --inference "$fresh/proto_inference"
diff -r "$fresh/proto_inference" ml-proto/src/gen_inference

step "interop: our metrics and models against the fresh fixtures"
MLSDK_FIXTURES="$fresh" cargo test "${WS[@]}" --test sklearn_metrics --test sklearn_quality --test boosting --test imputer --test estimators --test calibration --test selection

step "interop: MLflow and TensorBoard read what ml-track writes (runs, models, explanations, fairness reports)"
MLSDK_PYTHON="$ROOT/.venv/bin/python" cargo test "${WS[@]}" --test real_tools -- --include-ignored

step "interop: Gymnasium's classic-control episodes, recorded afresh, replayed by ml-rl; a Gymnasium environment driven from Rust"
.venv-rl/bin/python scripts/gen_rl.py "$fresh/rl"
MLSDK_RL_FIXTURES="$fresh/rl" cargo test "${WS[@]}" --test gymnasium
MLSDK_PYTHON_RL="$ROOT/.venv-rl/bin/python" cargo test "${WS[@]}" --test process -- --include-ignored

step "interop: MLflow and TensorBoard read a network's per-epoch curves"
MLSDK_PYTHON="$ROOT/.venv/bin/python" cargo test "${WS[@]}" --test neural -- --include-ignored epoch_curves

step "interop: a real mlflow server and our REST client (artifacts proxied, on a shared directory, in an S3-compatible store)"
MLSDK_PYTHON="$ROOT/.venv/bin/python" cargo test "${WS[@]}" --test real_server -- --include-ignored

step "interop: onnx.checker and onnxruntime run our ONNX exports"
MLSDK_PYTHON="$ROOT/.venv/bin/python" cargo test "${WS[@]}" --test onnxruntime -- --include-ignored

step "interop: mlflow models serve and mlsdk serve answer MLflow's scoring payloads alike"
MLSDK_PYTHON="$ROOT/.venv/bin/python" cargo test "${WS[@]}" --test serve -- --include-ignored

step "interop: the real Triton clients (HTTP and gRPC) and KServe's v2 REST client, in their own environments, against mlsdk serve, answers equal to onnxruntime's"
MLSDK_SERVING_PYTHON="$ROOT/.venv-serving/bin/python" MLSDK_KSERVE_PYTHON="$ROOT/.venv-kserve/bin/python" \
  cargo test "${WS[@]}" --test serve_clients -- --include-ignored

step "interop: Kubernetes' and KServe's own definitions accept what mlsdk deploy k8s and kserve write"
MLSDK_K8S_PYTHON="$ROOT/.venv-k8s/bin/python" MLSDK_KSERVE_PYTHON="$ROOT/.venv-kserve/bin/python" \
  cargo test "${WS[@]}" --test deploy_manifests -- --include-ignored

step "interop: the real MLflow UI in Chromium shows the credit_scoring run, its registered model and its fairness report"
eval "$(bash scripts/setup-chromium.sh)"
MLSDK_PYTHON="$ROOT/.venv/bin/python" cargo test "${WS[@]}" --test example_bins -- --include-ignored

step "interop: GitHub's own workflow parser accepts what mlsdk ci init writes and the project's workflow"
npm ci --prefix scripts/workflow-parser --no-audit --no-fund --loglevel=error
MLSDK_WORKFLOW_PARSER="$ROOT/scripts/workflow-parser" cargo test "${WS[@]}" --test ci -- --include-ignored

step "interop: podman builds and runs what mlsdk deploy docker writes, offline; the Triton clients drive the container"
eval "$(bash scripts/setup-podman.sh)"
MLSDK_SERVING_PYTHON="$ROOT/.venv-serving/bin/python" cargo test "${WS[@]}" --test deploy_docker -- --include-ignored

step "interop: skl2onnx models, re-exported now, on tract and on ONNX Runtime (the wheel's library)"
.venv/bin/python scripts/gen_onnx_models.py "$fresh/onnx"
ORT_DYLIB_PATH=$(ls "$ROOT"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
export ORT_DYLIB_PATH
MLSDK_ONNX_FIXTURES="$fresh/onnx" cargo test "${WS[@]}" --test skl2onnx --test runtimes -- --include-ignored

step "interop: our privacy accountants (and DP-SGD's reported epsilon) against dp-accounting, our private logistic solver against scikit-learn, regenerated now"
.venv/bin/python scripts/gen_privacy.py "$fresh/privacy" 2>/dev/null
MLSDK_PRIVACY_FIXTURES="$fresh/privacy" cargo test "${WS[@]}" --test accounting --test train --test dp

step "interop: shap, Fairlearn, scikit-learn and InterpretML, regenerated now, against our explanations, fairness metrics, mitigation and EBM"
.venv/bin/python scripts/gen_interpret.py "$fresh/interpret"
MLSDK_INTERPRET_FIXTURES="$fresh/interpret" cargo test "${WS[@]}" --test references --test mitigation --test ebm -- --nocapture

step "guide: mdBook (from crates.io) builds every chapter (the snippets run in the tests below)"
bash scripts/build-guide.sh "$fresh/book"

step "tests"
cargo test "${WS[@]}"
