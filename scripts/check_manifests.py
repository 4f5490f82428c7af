"""Check the Kubernetes manifests `mlsdk deploy k8s` and `mlsdk deploy
kserve` write, with Kubernetes' and KServe's own definitions (no API server
can run here).

    .venv-k8s/bin/python scripts/check_manifests.py k8s DIR
    .venv-kserve/bin/python scripts/check_manifests.py kserve FILE

k8s: every DIR/*.yaml through `kubernetes-validate --strict` (the bundled
OpenAPI schemas of Kubernetes 1.32; strict refuses unknown fields), then
through the official client's pydantic models (`model_validate` reports
unknown fields, wrong types and missing required fields).

kserve: FILE deserialized into KServe's `V1beta1InferenceService` by its
own ApiClient, and walked strictly: KServe's deserializer drops unknown
fields silently, so every key is looked up in the model classes'
`attribute_map` and `openapi_types`, recursively, with scalar types checked.

Prints a JSON report; exits 1 on any problem.
"""

import glob
import json
import os
import subprocess
import sys

import yaml


def check_k8s(directory):
    import kubernetes.client as k8s

    files = sorted(glob.glob(os.path.join(directory, "*.yaml")))
    exe = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
    validate = subprocess.run([exe, "--strict", "-k", "1.32.0", *files], capture_output=True, text=True)
    report = {"kubernetes_validate": validate.stdout.strip().splitlines(), "objects": {}, "problems": []}
    if validate.returncode != 0:
        report["problems"].append(f"kubernetes-validate: {validate.stdout}{validate.stderr}")
    models = {"apps/v1 Deployment": k8s.V1Deployment, "v1 Service": k8s.V1Service,
              "autoscaling/v2 HorizontalPodAutoscaler": k8s.V2HorizontalPodAutoscaler}
    for path in files:
        with open(path) as f:
            doc = yaml.safe_load(f)
        key = f"{doc.get('apiVersion')} {doc.get('kind')}"
        model = models.get(key)
        if model is None:
            report["problems"].append(f"{path}: unexpected {key}")
            continue
        try:
            model.model_validate(doc)
            report["objects"][os.path.basename(path)] = key
        except Exception as e:  # pydantic's ValidationError lists every problem
            report["problems"].append(f"{path}: {e}")
    return report


def check_kserve(path):
    import kubernetes.client.models as k8s_models
    import kserve
    from kserve import models as kserve_models

    with open(path) as f:
        doc = yaml.safe_load(f)
    problems = []

    def model_class(name):
        return getattr(kserve_models, name, None) or getattr(k8s_models, name, None)

    def walk(value, type_name, where):
        if type_name.startswith("list["):
            if not isinstance(value, list):
                problems.append(f"{where}: expected a list")
                return
            for i, item in enumerate(value):
                walk(item, type_name[5:-1], f"{where}[{i}]")
        elif type_name.startswith("dict("):
            if not isinstance(value, dict):
                problems.append(f"{where}: expected a map")
                return
            inner = type_name[5:-1].split(",", 1)[1].strip()
            for k, v in value.items():
                walk(v, inner, f"{where}.{k}")
        elif type_name in ("str", "int", "bool", "float"):
            expected = {"str": str, "int": int, "bool": bool, "float": (int, float)}[type_name]
            if not isinstance(value, expected) or (type_name == "int" and isinstance(value, bool)):
                problems.append(f"{where}: expected {type_name}, found {value!r}")
        elif type_name == "object":
            return
        else:
            cls = model_class(type_name)
            if cls is None:
                problems.append(f"{where}: unknown type {type_name}")
                return
            if not isinstance(value, dict):
                problems.append(f"{where}: expected an object ({type_name})")
                return
            by_key = {v: k for k, v in cls.attribute_map.items()}
            for key, item in value.items():
                attr = by_key.get(key)
                if attr is None:
                    problems.append(f"{where}.{key}: not a field of {type_name}")
                    continue
                walk(item, cls.openapi_types[attr], f"{where}.{key}")

    if doc.get("apiVersion") != "serving.kserve.io/v1beta1" or doc.get("kind") != "InferenceService":
        problems.append(f"not a v1beta1 InferenceService: {doc.get('apiVersion')} {doc.get('kind')}")
    walk(doc, "V1beta1InferenceService", "$")

    # KServe's own deserializer looks types up in kserve.models only.
    for name in dir(k8s_models):
        if name.startswith("V1") and not hasattr(kserve_models, name):
            setattr(kserve_models, name, getattr(k8s_models, name))

    class Response:
        data = json.dumps(doc)

    isvc = kserve.ApiClient().deserialize(Response(), "V1beta1InferenceService")
    container = isvc.spec.predictor.containers[0]
    return {
        "name": isvc.metadata.name,
        "image": container.image,
        "ports": [p.container_port for p in container.ports],
        "min_replicas": isvc.spec.predictor.min_replicas,
        "problems": problems,
    }


def main():
    mode, target = sys.argv[1], sys.argv[2]
    report = check_k8s(target) if mode == "k8s" else check_kserve(target)
    print(json.dumps(report, indent=1))
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    main()
