#!/usr/bin/python3
"""The rendered Kubernetes cluster works: the containers of deploy/k8s's StatefulSets run as
local processes, each pod on its own loopback address, in network, user and mount namespaces of
the test's own where the pods' DNS names resolve through an /etc/hosts mounted over the host's.
Each pod runs its container's command, arguments and environment as rendered; its volumes
(ConfigMap, emptyDir, the claim) are directories of the test, and one flag pair gives each pod
the address Kubernetes would (-a, --cluster). Checks: the full mesh forms from the rendered
routes; a subscriber (gannet sub, all nodes' URLs) moves off a pod stopped as the kubelet stops
it (the preStop hook's lame duck mode, then SIGTERM) and off a pod killed outright, and keeps
receiving; the killed pod, restarted, rejoins the mesh; gannet-streaming, on its claim, answers
through the mesh; the SQL store rendering with two replicas, on a PostgreSQL the test starts
(outside the namespaces: as root it runs as nobody, whom the user namespace does not map) and
the schema of its ConfigMap, its DSN from the Secret, its pods started one by one as the
StatefulSet starts them (OrderedReady), runs one active server and one standby,
and the standby takes over when the active is killed; the TLS rendering serves a client that
verifies the Secret's certificate.

usage: k8s_cluster_test.py GANNET_SERVER GANNET_STREAMING GANNET"""
import json
import os
import pwd
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "deploy"))
import nats_probe  # noqa: E402

DEADLINE = 20.0


def render(overrides):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "deploy", "k8s", "render")] +
                         [a for o in overrides for a in ("--set", o)],
                         check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def find(docs, kind, component):
    return next(d for d in docs if d["kind"] == kind and
                d["metadata"]["labels"]["app.kubernetes.io/component"] == component)


def wait_for(what, cond, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            nats_probe.fail(f"timed out waiting for {what}")
        time.sleep(0.02)  # poll the condition again


def http_json(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return json.load(r)
    except OSError:
        return None


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except OSError:
        return None


PG_BIN = "/usr/lib/postgresql/15/bin"


class Postgres:
    """A PostgreSQL server in a directory of its own, listening on a Unix socket only (the
    test's network namespace reaches it through the file system), with an empty database
    "gannet"; as root it runs as nobody (PostgreSQL refuses root)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gannet-k8s-pg-")
        os.chmod(self.dir, 0o755)
        self.user = None
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self.user = (nobody.pw_uid, nobody.pw_gid)
            os.chown(self.dir, *self.user)
        self.proc = None
        self.source = f"host={self.dir} port=5432 user=gannet dbname=gannet"

    def _as_user(self):
        if self.user:
            os.setgid(self.user[1])
            os.setuid(self.user[0])

    def start(self):
        data = os.path.join(self.dir, "data")
        subprocess.run([f"{PG_BIN}/initdb", "-D", data, "-U", "gannet", "--auth=trust",
                        "--no-sync", "-E", "UTF8", "--locale=C"], check=True,
                       capture_output=True, preexec_fn=self._as_user)
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [f"{PG_BIN}/postgres", "-D", data, "-k", self.dir, "-p", "5432", "-c",
             "listen_addresses=", "-c", "fsync=off"],
            stdout=self.log, stderr=self.log, preexec_fn=self._as_user)
        admin = self.source.replace("dbname=gannet", "dbname=postgres")
        wait_for("PostgreSQL", lambda: self.proc.poll() is not None or subprocess.run(
            ["psql", "-d", admin, "-c", "SELECT 1"], capture_output=True).returncode == 0)
        if self.proc.poll() is not None:
            with open(os.path.join(self.dir, "log")) as f:
                nats_probe.fail(f"PostgreSQL did not start: {f.read()[-2000:]}")
        subprocess.run(["psql", "-d", admin, "-c", "CREATE DATABASE gannet"], check=True,
                       capture_output=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Pod:
    """One pod of a StatefulSet: its container run as a process with its volumes as
    directories (mount path prefixes rewritten in the arguments and the ConfigMap's files)."""

    def __init__(self, work, name, ip, container, volumes, config_maps, binaries, secrets=None):
        self.name, self.ip = name, ip
        self.dir = os.path.join(work, name)
        self.paths = {}
        os.makedirs(self.dir, exist_ok=True)
        mounts = container.get("volumeMounts", [])
        for m in mounts:
            self.paths[m["mountPath"]] = os.path.join(self.dir, m["name"])
            os.makedirs(self.paths[m["mountPath"]], exist_ok=True)
        for m in mounts:
            source = volumes.get(m["name"], {})
            files = {}
            if "configMap" in source:
                files = {k: self.local(v)
                         for k, v in config_maps[source["configMap"]["name"]].items()}
            elif "secret" in source:
                files = (secrets or {})[source["secret"]["secretName"]]
            for file_name, text in files.items():
                with open(os.path.join(self.paths[m["mountPath"]], file_name), "w") as f:
                    f.write(text)
        self.container_env = {}
        for e in container.get("env", []):
            source = e.get("valueFrom", {})
            if source.get("fieldRef", {}).get("fieldPath") == "metadata.name":
                value = name
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                value = (secrets or {})[ref["name"]][ref["key"]]
            else:
                value = e.get("value", "")
            self.container_env[e["name"]] = value
        self.env = dict(os.environ, **self.container_env)
        self.binaries = binaries
        self.container = container
        self.proc = None

    def local(self, text):
        for mount, local in sorted(self.paths.items(), key=lambda p: -len(p[0])):
            text = text.replace(mount, local)
        return text

    def expand(self, arg):
        """As the kubelet: $(VAR) of the container's environment is replaced, others kept."""
        return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                      lambda m: self.container_env.get(m.group(1), m.group(0)), arg)

    def command(self, argv):
        return ([self.binaries.get(argv[0], argv[0])] +
                [self.local(self.expand(a)) for a in argv[1:]])

    def start(self, extra):
        argv = self.command(self.container["command"] + self.container.get("args", []))
        log = open(os.path.join(self.dir, "log"), "a")
        self.proc = subprocess.Popen(argv + extra, env=self.env, stdout=log, stderr=log)

    def pre_stop(self):
        hook = self.container["lifecycle"]["preStop"]["exec"]["command"]
        out = subprocess.run(self.command(hook), env=self.env, capture_output=True, text=True,
                             timeout=10)
        if out.returncode != 0:
            nats_probe.fail(f"{self.name}: preStop failed: {out.stderr}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Lines:
    """A process's output lines, read by a thread, for waiting on."""

    def __init__(self, stream):
        self.q = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.q.put(line.rstrip("\n"))

    def wait(self, pred, what, deadline=DEADLINE, required=True):
        """The first line that satisfies pred; at the deadline, a failure (or None)."""
        end = time.monotonic() + deadline
        while True:
            try:
                line = self.q.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                if required:
                    nats_probe.fail(f"timed out waiting for {what}")
                return None
            if pred(line):
                return line


def make_tls_secret(work, hostname):
    """A kubernetes.io/tls Secret's files (tls.crt, tls.key, ca.crt) for hostname, by openssl."""
    d = os.path.join(work, "secret")
    os.makedirs(d)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    f"/CN={hostname}", "-addext", f"subjectAltName=DNS:{hostname}",
                    "-keyout", f"{d}/tls.key", "-out", f"{d}/tls.crt"],
                   check=True, capture_output=True)
    files = {}
    for name in ("tls.crt", "tls.key"):
        with open(os.path.join(d, name)) as f:
            files[name] = f.read()
    files["ca.crt"] = files["tls.crt"]
    return files


def tls_ping(ip, port, ca_pem, hostname, proc):
    """A client of a TLS server (INFO in clear, then the handshake, verifying the certificate
    for hostname), PING/PONG."""
    end = time.monotonic() + DEADLINE
    while True:
        try:
            raw = socket.create_connection((ip, port), timeout=5)
            break
        except ConnectionRefusedError:
            if proc.poll() is not None or time.monotonic() > end:
                nats_probe.fail("the TLS pod does not listen")
            time.sleep(0.005)  # not listening yet: poll again
    info = b""
    while not info.endswith(b"\r\n"):
        info += raw.recv(1)
    if b'"tls_required":true' not in info:
        nats_probe.fail(f"the TLS pod's INFO does not require TLS: {info!r}")
    ctx = ssl.create_default_context(cadata=ca_pem)
    with ctx.wrap_socket(raw, server_hostname=hostname) as tls:
        tls.sendall(b'CONNECT {"verbose":false,"tls_required":true}\r\nPING\r\n')
        reply = b""
        while b"\r\n" not in reply:
            reply += tls.recv(4096)
        if not reply.startswith(b"PONG"):
            nats_probe.fail(f"TLS PING answered {reply!r}")


def main():
    if os.environ.get("GANNET_TEST_NAMESPACED") == "1":
        nats_probe.in_own_namespaces(sys.argv)  # brings the namespace's loopback up
        return in_namespaces()
    env = {}
    database = None
    try:
        if os.path.exists(f"{PG_BIN}/postgres"):
            database = Postgres()
            database.start()
            env["GANNET_K8S_SQL_SOURCE"] = database.source
        else:
            print(f"no PostgreSQL in {PG_BIN}: the SQL store rendering is not run")
        rc = nats_probe.run_in_own_namespaces(sys.argv, env)
    finally:
        if database:
            database.stop()
    if rc is None:
        print("SKIP: no user, network and mount namespaces can be made here", file=sys.stderr)
        return nats_probe.SKIP
    return rc


def run_sql_streaming(work, binaries, nats_ip, nats_port, source, pods):
    """The SQL store rendering, two replicas: the schema from its ConfigMap applied as
    docs/DEPLOY.md says, the DSN in the Secret; one server is active, the other stands by and
    takes over when the active is killed. Its pods are added to pods (to stop)."""
    docs = render(["streaming.store=sql", "streaming.replicas=2"])
    st = find(docs, "StatefulSet", "streaming")
    if st["spec"].get("volumeClaimTemplates"):
        nats_probe.fail("the SQL store's StatefulSet claims a volume")
    schema = find(docs, "ConfigMap", "streaming")["data"]["postgres.db.sql"]
    out = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", source], input=schema,
                         capture_output=True, text=True)
    if out.returncode != 0:
        nats_probe.fail(f"the ConfigMap's schema does not load: {out.stderr}")
    container = st["spec"]["template"]["spec"]["containers"][0]
    ref = next(e["valueFrom"]["secretKeyRef"] for e in container["env"]
               if "secretKeyRef" in e.get("valueFrom", {}))
    secrets = {ref["name"]: {ref["key"]: source}}
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["monitor"]
    probe = container["livenessProbe"]["httpGet"]["path"]
    ready = container["readinessProbe"]["httpGet"]["path"]
    if st["spec"].get("podManagementPolicy", "OrderedReady") != "OrderedReady":
        nats_probe.fail("the FT group's pods are not started one by one")
    group = []
    for i in range(st["spec"]["replicas"]):
        pod = Pod(os.path.join(work, "sql"), f"{st['metadata']['name']}-{i}", f"127.0.0.{22 + i}",
                  container, {}, {}, binaries, secrets=secrets)
        pods.append(pod)
        group.append(pod)
        pod.start(["-a", pod.ip])
        # OrderedReady: the StatefulSet starts the next pod once this one is ready (2xx).
        wait_for(f"{pod.name} to be ready", lambda: 200 <= (http_status(
            f"http://{pod.ip}:{port}{ready}") or 0) < 300 or pod.proc.poll() is not None)
    cid = container["args"][container["args"].index("-cid") + 1]

    def roles():
        """The active pod and the standbys, once every running pod answers its probe."""
        codes = {p: http_status(f"http://{p.ip}:{port}{probe}") for p in group
                 if p.proc.poll() is None}
        active = [p for p, c in codes.items() if c == 200]
        standby = [p for p, c in codes.items() if c == 204]
        if len(active) == 1 and len(active) + len(standby) == len(codes):
            return active[0], standby
        return None
    active, standby = wait_for("one active SQL server and its standby", roles)
    if len(standby) != len(group) - 1:
        nats_probe.fail(f"{len(standby)} standbys of {len(group)} pods")
    conn = nats_probe.wait_serving(nats_ip, nats_port)
    conn.request(f"_STAN.discover.{cid}")
    rows = subprocess.run(["psql", "-tA", "-d", source, "-c", "SELECT COUNT(*) FROM ServerInfo"],
                          capture_output=True, text=True, check=True).stdout.strip()
    if rows != "1":
        nats_probe.fail(f"the active server wrote {rows} ServerInfo rows")
    active.proc.kill()
    active.proc.wait()
    taken = wait_for("the standby to take over", lambda: (r := roles()) and r[0])
    conn.request(f"_STAN.discover.{cid}")
    conn.close()
    print(f"SQL store: {active.name} active, {taken.name} standing by on {probe}; "
          f"{active.name} killed, {taken.name} took over and answers")


def in_namespaces():
    server, streaming, cli = sys.argv[1:4]
    # The rendered lame duck duration (its minimum, 30s); a shorter grace period keeps it quick:
    # with one client, the server closes it after the grace period and exits.
    docs = render(["lameDuck.gracePeriod=1s"])
    cluster = find(docs, "StatefulSet", "server")
    spec = cluster["spec"]
    headless = next(d for d in docs if d["kind"] == "Service" and
                    d["metadata"]["name"] == spec["serviceName"])
    if headless["spec"].get("clusterIP") != "None":
        nats_probe.fail("the StatefulSet's service is not headless")
    namespace = cluster["metadata"]["namespace"]
    domain = f"{spec['serviceName']}.{namespace}.svc.cluster.local"
    config_maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    binaries = {"/gannet-server": server, "/gannet-streaming": streaming}
    pod_spec = spec["template"]["spec"]
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    container = pod_spec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    work = tempfile.mkdtemp(prefix="gannet-k8s-")
    pods = []
    sub = None
    passed = False
    try:
        names = [f"{cluster['metadata']['name']}-{i}" for i in range(spec["replicas"])]
        ips = [f"127.0.0.{11 + i}" for i in range(len(names))]
        hosts = os.path.join(work, "hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n")
            for n, ip in zip(names, ips):
                f.write(f"{ip} {n}.{domain}\n")
        subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)

        for n, ip in zip(names, ips):
            pod = Pod(work, n, ip, container, volumes, config_maps, binaries)
            pod.start(["-a", ip, "--cluster", f"nats://{ip}:{ports['cluster']}"])
            pods.append(pod)

        # The mesh: every node routes to every other one, found by the rendered DNS names.
        def meshed():
            for p in pods:
                routez = http_json(f"http://{p.ip}:{ports['monitor']}/routez")
                if not routez or routez.get("num_routes") != len(pods) - 1:
                    return False
            return True
        wait_for("the full mesh", meshed)
        for p in pods:
            z = http_json(f"http://{p.ip}:{ports['monitor']}/healthz")
            if z != {"status": "ok"}:
                nats_probe.fail(f"{p.name}: /healthz says {z}")
            varz = http_json(f"http://{p.ip}:{ports['monitor']}/varz")
            if varz.get("server_name") != p.name:
                nats_probe.fail(f"{p.name}: server_name {varz.get('server_name')}")
        print(f"full mesh of {len(pods)} nodes formed from the rendered routes")

        # A subscriber given every pod's URL, as an application in the cluster would be.
        urls = ",".join(f"nats://{n}.{domain}:{ports['client']}" for n in names)
        sub = subprocess.Popen([cli, "sub", "--raw", "-s", urls, "k8s.failover"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = Lines(sub.stdout), Lines(sub.stderr)
        err.wait(lambda l: "Subscribing on" in l, "the subscription")

        def home():
            for p in pods:
                if p.proc.poll() is not None:
                    continue
                connz = http_json(f"http://{p.ip}:{ports['monitor']}/connz")
                if connz and any(c.get("name") == "gannet sub" for c in connz["connections"]):
                    return p
            return None

        def delivered(via, payload):
            """Publishes through pod via until the subscriber prints the payload (its
            interest reaches the other nodes over the routes asynchronously)."""
            conn = nats_probe.wait_serving(via.ip, ports["client"])
            end = time.monotonic() + DEADLINE
            while True:
                conn.send(b"PUB k8s.failover %d\r\n%s\r\n" % (len(payload), payload.encode()))
                if out.wait(lambda l: l == payload, payload, deadline=0.2, required=False):
                    break
                if time.monotonic() > end:
                    nats_probe.fail(f"{payload} never reached the subscriber")
            conn.close()

        first = wait_for("the subscriber's node", home)
        delivered(next(p for p in pods if p is not first), "before")
        print(f"subscriber on {first.name} receives through the mesh")

        # As the kubelet stops a pod: the preStop hook (lame duck mode), then SIGTERM, which
        # must not cut the lame duck short: the process ends by itself once its clients left.
        first.pre_stop()
        first.proc.send_signal(signal.SIGTERM)
        err.wait(lambda l: "Reconnected to" in l, "the reconnect after lame duck")
        wait_for(f"{first.name} to exit", lambda: first.proc.poll() is not None)
        with open(os.path.join(first.dir, "log")) as f:
            log = f.read()
        if "Entering lame duck mode" not in log or "Closing existing clients" not in log:
            nats_probe.fail(f"{first.name} did not close its clients in lame duck mode")
        second = wait_for("the subscriber's new node", home)
        delivered(second, "after-lame-duck")
        print(f"{first.name} stopped in lame duck mode; subscriber moved to {second.name}")

        # A pod killed outright.
        second.proc.kill()
        err.wait(lambda l: "Reconnected to" in l, "the reconnect after a kill")
        third = wait_for("the subscriber's last node", home)
        delivered(third, "after-kill")
        print(f"{second.name} killed; subscriber moved to {third.name}")

        # The StatefulSet brings the killed pod back under its name: it routes to the node
        # left, and that node to it (the first pod stays down).
        second.proc.wait()
        second.start(["-a", second.ip, "--cluster", f"nats://{second.ip}:{ports['cluster']}"])

        def rejoined():
            return all((http_json(f"http://{p.ip}:{ports['monitor']}/routez") or {})
                       .get("num_routes") == 1 for p in (second, third))
        wait_for(f"{second.name} to rejoin the mesh", rejoined)
        delivered(second, "through-the-restarted-pod")
        print(f"{second.name} restarted and rejoined {third.name}")

        # gannet-streaming from its StatefulSet, on its claim (a directory), a client of the
        # surviving node through the rendered URLs; it answers through that node.
        st = find(docs, "StatefulSet", "streaming")
        if not st["spec"].get("volumeClaimTemplates"):
            nats_probe.fail("the Streaming StatefulSet claims no volume")
        st_container = st["spec"]["template"]["spec"]["containers"][0]
        claims = {c["metadata"]["name"]: {} for c in st["spec"]["volumeClaimTemplates"]}
        spod = Pod(work, f"{st['metadata']['name']}-0", "127.0.0.21", st_container, claims,
                   config_maps, binaries)
        spod.start(["-a", spod.ip])
        pods.append(spod)
        st_ports = {p["name"]: p["containerPort"] for p in st_container["ports"]}
        cid = st_container["args"][st_container["args"].index("-cid") + 1]
        serverz = wait_for("/streaming/serverz", lambda: http_json(
            f"http://{spod.ip}:{st_ports['monitor']}/streaming/serverz"))
        if serverz.get("cluster_id") != cid:
            nats_probe.fail(f"serverz: {serverz}")
        conn = nats_probe.wait_serving(third.ip, ports["client"])
        reply = conn.request(f"_STAN.discover.{cid}")
        conn.close()
        store = os.path.join(spod.dir, "data", "store")
        if not os.path.isdir(store) or not os.listdir(store):
            nats_probe.fail("the file store is not on the claim")
        print(f"gannet-streaming answers through {third.name} ({len(reply)} bytes), "
              f"file store on its claim: {sorted(os.listdir(store))}")
        spod.stop()  # the SQL store's servers have the same cluster id

        source = os.environ.get("GANNET_K8S_SQL_SOURCE")
        if source:
            run_sql_streaming(work, binaries, third.ip, ports["client"], source, pods)

        # The TLS rendering (tls.secret): its Secret volume holds a key pair for the pod's DNS
        # name; a client verifying that name gets through the handshake.
        tls_docs = render(["tls.secret=gannet-tls"])
        tls_set = find(tls_docs, "StatefulSet", "server")
        tls_pod_spec = tls_set["spec"]["template"]["spec"]
        tls_container = tls_pod_spec["containers"][0]
        tls_name = f"{names[0]}.{domain}"
        secret = make_tls_secret(work, tls_name)
        tpod = Pod(os.path.join(work, "tls"), names[0], "127.0.0.31", tls_container,
                   {v["name"]: v for v in tls_pod_spec["volumes"]},
                   {d["metadata"]["name"]: d["data"] for d in tls_docs if d["kind"] == "ConfigMap"},
                   binaries, secrets={"gannet-tls": secret})
        tpod.start(["-a", tpod.ip, "--cluster", f"nats://{tpod.ip}:{ports['cluster']}"])
        pods.append(tpod)
        tls_ping(tpod.ip, ports["client"], secret["ca.crt"], tls_name, tpod.proc)
        print("the TLS rendering serves TLS clients with the Secret's certificate")
        passed = True
    finally:
        if sub:
            sub.kill()
            sub.wait()
        for p in pods:
            p.stop()
            if not passed:
                with open(os.path.join(p.dir, "log")) as f:
                    print(f"--- {p.name}'s log:\n{f.read()[-3000:]}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
