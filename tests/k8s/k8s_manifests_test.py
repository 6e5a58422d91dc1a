#!/usr/bin/python3
"""The Kubernetes manifests (deploy/k8s) are valid: every rendering (the defaults, TLS from a
Secret with client verification, five nodes) is checked object by object against the Kubernetes
API's schema as Debian's python3-kubernetes carries it (its models are generated from the
Kubernetes OpenAPI specification, v1.22): the apiVersion serves the kind, every field exists in
its kind's schema with the schema's type, required fields are present; and gannet-server accepts
each rendered configuration (-t). The committed deploy/k8s/*.yaml must equal the default
rendering.

usage: k8s_manifests_test.py GANNET_SERVER"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import kubernetes.client as k8s
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "deploy", "k8s"))
import importlib.machinery  # noqa: E402
import importlib.util  # noqa: E402

loader = importlib.machinery.SourceFileLoader("render", os.path.join(ROOT, "deploy/k8s/render"))
spec = importlib.util.spec_from_loader("render", loader)
render = importlib.util.module_from_spec(spec)
loader.exec_module(render)

errors = []


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def api_serves(api_version, kind):
    """As kubernetes.utils.create_from_yaml: group/version names an API class, which must have
    a create method for the kind."""
    group, _, version = api_version.rpartition("/")
    group = group.split(".")[0] if group else "core"
    cls = getattr(k8s, f"{group.capitalize()}{version.capitalize()}Api", None)
    if cls is None:
        return False
    method = snake(kind)
    return hasattr(cls, f"create_namespaced_{method}") or hasattr(cls, f"create_{method}")


def check(value, type_name, path):
    """Checks value against the schema type (python3-kubernetes' openapi_types notation)."""
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return errors.append(f"{path}: expected a list")
        for i, item in enumerate(value):
            check(item, type_name[5:-1], f"{path}[{i}]")
    elif type_name.startswith("dict("):
        if not isinstance(value, dict):
            return errors.append(f"{path}: expected a map")
        inner = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            check(item, inner, f"{path}.{key}")
    elif type_name == "str":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {value!r}")
    elif type_name == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer, got {value!r}")
    elif type_name == "bool":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean, got {value!r}")
    elif type_name == "object":
        # IntOrString and Quantity: an integer or a string.
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer or a string, got {value!r}")
    else:
        model = getattr(k8s, type_name)
        if not isinstance(value, dict):
            return errors.append(f"{path}: expected a {type_name} object")
        by_json = {j: a for a, j in model.attribute_map.items()}
        for key, item in value.items():
            if key not in by_json:
                errors.append(f"{path}.{key}: no such field in {type_name}")
                continue
            check(item, model.openapi_types[by_json[key]], f"{path}.{key}")


def validate(doc, where):
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    if not api_serves(api_version, kind):
        return errors.append(f"{where}: {api_version} serves no kind {kind}")
    version = api_version.rpartition("/")[2]
    type_name = f"{version.capitalize()}{kind}"
    check(doc, type_name, f"{where}:{kind}/{doc['metadata']['name']}")
    # Required fields and enumerations: the models refuse to be built without them.
    try:
        k8s.ApiClient()._ApiClient__deserialize(doc, type_name)
    except ValueError as e:
        errors.append(f"{where}:{kind}: {e}")


def check_config(server, text, where):
    """gannet-server -t on the rendered config, the TLS Secret's files made by openssl."""
    with tempfile.TemporaryDirectory() as d:
        tls_dir = os.path.join(d, "tls")
        os.mkdir(tls_dir)
        if render.TLS_DIR in text:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=gannet",
                            "-days", "1", "-keyout", f"{tls_dir}/tls.key",
                            "-out", f"{tls_dir}/tls.crt"], check=True, capture_output=True)
            shutil.copy(f"{tls_dir}/tls.crt", f"{tls_dir}/ca.crt")
            text = text.replace(render.TLS_DIR, tls_dir)
        conf = os.path.join(d, "gannet-server.conf")
        with open(conf, "w") as f:
            f.write(text)
        out = subprocess.run([server, "-t", "--config", conf], capture_output=True, text=True,
                             env=dict(os.environ, POD_NAME="gannet-0"), timeout=30)
        if out.returncode != 0:
            errors.append(f"{where}: gannet-server -t refuses the config: {out.stderr}")


def main():
    server = sys.argv[1]
    variants = {
        "defaults": [],
        "tls": ["tls.secret=gannet-tls", "tls.verify=true"],
        "five-nodes": ["replicas=5", "name=mesh", "namespace=messaging",
                       "streaming.storageClassName=fast", "resources.limits.memory=512Mi"],
        "no-streaming": ["streaming.enabled=false"],
    }
    kinds = set()
    for name, overrides in variants.items():
        files = render.render(render.load_values(overrides))
        for file_name, text in files.items():
            for doc in yaml.safe_load_all(text):
                kinds.add(doc["kind"])
                validate(doc, f"{name}/{file_name}")
                if doc["kind"] == "ConfigMap":
                    check_config(server, doc["data"]["gannet-server.conf"], f"{name}/{file_name}")
        if name == "defaults":
            for file_name, text in files.items():
                with open(os.path.join(ROOT, "deploy", "k8s", file_name)) as f:
                    if f.read() != text:
                        errors.append(f"deploy/k8s/{file_name} differs from the rendering: run "
                                      "deploy/k8s/render --out deploy/k8s")
    want = {"ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget"}
    if kinds != want:
        errors.append(f"kinds rendered {sorted(kinds)}, expected {sorted(want)}")
    # The validator itself must catch what it is for.
    before = len(errors)
    validate({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"},
              "spec": {"replica": 3, "serviceName": 7}}, "self-check")
    validate({"apiVersion": "v1", "kind": "StatefulSet", "metadata": {"name": "x"}}, "self-check")
    validate({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
              "spec": {"ports": [{"name": "p"}]}}, "self-check")
    caught = errors[before:]
    del errors[before:]
    if len(caught) != 5:
        errors.append(f"the validator caught {caught}, expected 5 errors")
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    print(f"{len(variants)} renderings of {sorted(kinds)} checked")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
