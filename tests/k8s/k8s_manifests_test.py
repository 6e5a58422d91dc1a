#!/usr/bin/python3
"""The Kubernetes manifests (deploy/k8s) are valid: every rendering (the defaults, TLS from a
Secret with client verification, five nodes, Streaming on a PostgreSQL or MySQL store, alone or
as a fault-tolerance group) is checked object by object against the Kubernetes
API's schema as Debian's python3-kubernetes carries it (its models are generated from the
Kubernetes OpenAPI specification, v1.22): the apiVersion serves the kind, every field exists in
its kind's schema with the schema's type, required fields are present; the objects agree with
each other (selectors, the headless Service, volumes, named ports, routes to pods that exist,
$(VAR) arguments from the container's environment, the Secret a variable comes from; a shared
SQL store with more than one replica runs an FT group, its pods started one by one, probed
where a standby answers); the
shipped SQL schema is tools/sql's; gannet-server accepts each rendered configuration (-t); and
values the render cannot honour are refused. The committed deploy/k8s/*.yaml must equal the
default rendering.

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


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_references(docs, where):
    """What the API server or the kubelet would refuse or trip on across objects: a selector
    that misses its pods, a serviceName with no headless Service, a volume mount with no volume,
    a ConfigMap or a named port that does not exist, a route to a pod the StatefulSet does not
    make; an argument's $(VAR) that the container's environment does not define (the kubelet
    would pass it as is), a variable from a Secret with no name or key."""
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    config_maps = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    services = {d["metadata"]["name"]: d for d in by_kind.get("Service", [])}
    pod_labels = []
    for st in by_kind.get("StatefulSet", []):
        spec, name = st["spec"], st["metadata"]["name"]
        labels = spec["template"]["metadata"]["labels"]
        pod_labels.append(labels)
        if not matches(spec["selector"]["matchLabels"], labels):
            errors.append(f"{where}: StatefulSet {name}'s selector misses its pod template")
        svc = services.get(spec["serviceName"])
        if not svc or svc["spec"].get("clusterIP") != "None":
            errors.append(f"{where}: StatefulSet {name}'s serviceName is no headless Service")
        pod = spec["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        volumes.update({c["metadata"]["name"]: c for c in spec.get("volumeClaimTemplates", [])})
        for v in volumes.values():
            cm = v.get("configMap", {}).get("name")
            if cm and cm not in config_maps:
                errors.append(f"{where}: {name} mounts ConfigMap {cm}, which is not rendered")
        for c in pod["containers"]:
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    errors.append(f"{where}: {name}/{c['name']} mounts no volume {m['name']}")
            for probe in ("livenessProbe", "readinessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errors.append(f"{where}: {name}'s {probe} names no port {port}")
            env = {e["name"]: e for e in c.get("env", [])}
            for arg in c.get("command", []) + c.get("args", []):
                for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", arg):
                    if var not in env:
                        errors.append(f"{where}: {name}/{c['name']}'s $({var}) is not in its env")
            for e in env.values():
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None and not (ref.get("name") and ref.get("key")):
                    errors.append(f"{where}: {name}'s {e['name']} names no Secret key")
        # Every route names a pod this StatefulSet makes, through its headless Service.
        for cm in config_maps.values():
            conf = cm["data"].get("gannet-server.conf", "")
            for line in conf.splitlines():
                line = line.strip()
                if line.startswith("nats://") and st["metadata"]["labels"].get(
                        "app.kubernetes.io/component") == "server":
                    host = line[len("nats://"):].split(":")[0]
                    pod_name, _, rest = host.partition(".")
                    ordinal = pod_name[len(name) + 1:]
                    if (not pod_name.startswith(name + "-") or not ordinal.isdigit() or
                            int(ordinal) >= spec["replicas"] or
                            not rest.startswith(spec["serviceName"] + ".")):
                        errors.append(f"{where}: route {line} names no pod of {name}")
    for svc in services.values():
        sel = svc["spec"].get("selector")
        if not any(matches(sel, labels) for labels in pod_labels):
            errors.append(f"{where}: Service {svc['metadata']['name']} selects no pod")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"]["matchLabels"]
        if not any(matches(sel, labels) for labels in pod_labels):
            errors.append(f"{where}: PodDisruptionBudget {pdb['metadata']['name']} selects no pod")


def check_streaming(docs, where):
    """The Streaming StatefulSet keeps its store as its values say: the file store on a claim,
    alone; the SQL store in the database, its DSN from the Secret and its schema tools/sql's,
    more than one replica sharing it as an FT group, probed where a standby answers."""
    st = next((d for d in docs if d["kind"] == "StatefulSet" and
               d["metadata"]["labels"]["app.kubernetes.io/component"] == "streaming"), None)
    if st is None:
        return
    spec = st["spec"]
    c = spec["template"]["spec"]["containers"][0]
    args = c["args"]
    store = args[args.index("-st") + 1]
    claims = spec.get("volumeClaimTemplates", [])
    if store == "FILE":
        if not claims or spec["replicas"] != 1:
            errors.append(f"{where}: the file store needs its claim and one replica")
        return
    if store != "SQL" or claims:
        return errors.append(f"{where}: store {store} with claims {claims}")
    driver = args[args.index("--sql_driver") + 1]
    source = args[args.index("--sql_source") + 1]
    env = {e["name"]: e for e in c.get("env", [])}
    var = source[2:-1] if source.startswith("$(") else None
    if var not in env or "secretKeyRef" not in env[var].get("valueFrom", {}):
        errors.append(f"{where}: --sql_source {source} is not taken from a Secret")
    schema = next((d for d in docs if d["kind"] == "ConfigMap" and
                   d["metadata"]["labels"]["app.kubernetes.io/component"] == "streaming"), None)
    with open(os.path.join(ROOT, "tools", "sql", f"{driver}.db.sql")) as f:
        if not schema or schema["data"].get(f"{driver}.db.sql") != f.read():
            errors.append(f"{where}: the {driver} schema ConfigMap is not tools/sql's")
    ft = "--ft_group" in args
    if spec.get("podManagementPolicy", "OrderedReady") != "OrderedReady":
        errors.append(f"{where}: an FT group's servers must not start at once on an empty "
                      "StoreLock table")
    if ft != (spec["replicas"] > 1):
        errors.append(f"{where}: {spec['replicas']} replicas, --ft_group {ft}")
    for probe in ("livenessProbe", "readinessProbe"):
        path = c[probe]["httpGet"]["path"]
        # A standby answers 503 on /streaming/serverz, 204 on isFTActive.
        if spec["replicas"] > 1 and path != "/streaming/isFTActive":
            errors.append(f"{where}: a standby would fail its {probe} on {path}")


def main():
    server = sys.argv[1]
    variants = {
        "defaults": [],
        "tls": ["tls.secret=gannet-tls", "tls.verify=true"],
        "five-nodes": ["replicas=5", "name=mesh", "namespace=messaging",
                       "streaming.storageClassName=fast", "resources.limits.memory=512Mi"],
        "no-streaming": ["streaming.enabled=false"],
        "sql": ["streaming.store=sql"],
        "sql-mysql-ft": ["streaming.store=sql", "streaming.sql.driver=mysql",
                         "streaming.replicas=3", "streaming.sql.secret=stan-db",
                         "streaming.sql.secretKey=dsn", "streaming.sql.ftGroup=stan"],
    }
    kinds = set()
    for name, overrides in variants.items():
        files = render.render(render.load_values(overrides))
        docs = [d for text in files.values() for d in yaml.safe_load_all(text)]
        check_references(docs, name)
        check_streaming(docs, name)
        for file_name, text in files.items():
            for doc in yaml.safe_load_all(text):
                kinds.add(doc["kind"])
                validate(doc, f"{name}/{file_name}")
                if "gannet-server.conf" in doc.get("data", {}):
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
    # And the cross-object checks: a broken rendering must be caught.
    docs = [d for text in render.render(render.load_values([])).values()
            for d in yaml.safe_load_all(text)]
    st = next(d for d in docs if d["kind"] == "StatefulSet")
    st["spec"]["replicas"] = 2  # the config still routes to gannet-2
    st["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = "http"
    next(d for d in docs if d["kind"] == "PodDisruptionBudget")["spec"]["selector"][
        "matchLabels"]["app.kubernetes.io/name"] = "other"
    check_references(docs, "self-check")
    caught = errors[before:]
    del errors[before:]
    if len(caught) != 3:
        errors.append(f"the reference checks caught {caught}, expected 3 errors")
    # And the SQL store's: a DSN in no environment, a group without --ft_group, the probes of
    # a single server, pods started at once, another driver's schema.
    docs = [d for text in render.render(render.load_values(
        ["streaming.store=sql", "streaming.replicas=2"])).values()
        for d in yaml.safe_load_all(text)]
    st = next(d for d in docs if d["kind"] == "StatefulSet" and d["spec"]["replicas"] == 2)
    c = st["spec"]["template"]["spec"]["containers"][0]
    del c["env"]
    i = c["args"].index("--ft_group")
    del c["args"][i:i + 2]
    c["livenessProbe"]["httpGet"]["path"] = "/streaming/serverz"
    st["spec"]["podManagementPolicy"] = "Parallel"
    schema = next(d for d in docs if "postgres.db.sql" in d.get("data", {}))
    schema["data"] = {"postgres.db.sql": render.sql_schema("mysql")}
    check_references(docs, "self-check")
    check_streaming(docs, "self-check")
    caught = errors[before:]
    del errors[before:]
    if len(caught) != 6:
        errors.append(f"the SQL store checks caught {caught}, expected 6 errors")
    # Values the render cannot honour: it stops with a message, renders nothing.
    for bad in (["streaming.replicas=2"], ["streaming.store=memory"],
                ["streaming.store=sql", "streaming.sql.driver=sqlite"]):
        try:
            render.render(render.load_values(bad))
            errors.append(f"render accepted {bad}")
        except SystemExit as e:
            if not str(e).startswith("streaming."):
                errors.append(f"render refused {bad} with {e}")
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    print(f"{len(variants)} renderings of {sorted(kinds)} checked")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
