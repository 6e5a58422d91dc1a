#!/usr/bin/python3
"""The OCI images (`make image`) run and serve: each image is unpacked with umoci, as a
container runtime would, and its configured command (entrypoint + cmd, working directory,
environment from the image config) runs chrooted in its root file system, in network, user and
mount namespaces of the test's own, on a read-only root as the Kubernetes manifests run them.
A client connects to the image's ports as the image declares them: gannet-server on 4222 (PING/PONG, with the image's cluster port 6222 and its monitor
/healthz on 8222), gannet-streaming on 4222 (a Streaming discover request answered).

usage: image_test.py OCI_LAYOUT VERSION"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nats_probe  # noqa: E402


def unpack(layout, ref, into):
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:{ref}", into],
                   check=True, capture_output=True)
    with open(os.path.join(into, "config.json")) as f:
        process = json.load(f)["process"]
    rootfs = os.path.join(into, "rootfs")
    return rootfs, process


def read_only(rootfs):
    """Mounts the unpacked root file system read-only on itself (in the test's mount namespace),
    as the Kubernetes manifests run the images (readOnlyRootFilesystem)."""
    subprocess.run(["mount", "--bind", rootfs, rootfs], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", rootfs], check=True)
    try:
        open(os.path.join(rootfs, "written"), "w").close()
        nats_probe.fail("the root file system is still writable")
    except OSError:
        pass  # read-only, as wanted


def start(rootfs, process):
    env = dict(e.split("=", 1) for e in process.get("env", []))
    # chroot(8) starts in the new root's /: both images declare / as their working directory.
    if process.get("cwd", "/") != "/":
        nats_probe.fail(f"working directory {process['cwd']}: expected /")
    # The image's environment for the command; chroot(8) itself is found on ours.
    return subprocess.Popen([shutil.which("chroot"), rootfs] + process["args"], env=env)


def main():
    layout, version = sys.argv[1:3]
    if not shutil.which("umoci"):
        nats_probe.fail("umoci is missing (Debian's umoci package; `make deps` installs it)")
    if not nats_probe.in_own_namespaces(sys.argv):
        print("SKIP: no network namespace can be made here", file=sys.stderr)
        return nats_probe.SKIP
    work = tempfile.mkdtemp(prefix="gannet-image-")
    procs = []
    try:
        rootfs, process = unpack(layout, f"gannet-server:{version}", os.path.join(work, "server"))
        files = sorted(os.path.relpath(os.path.join(d, f), rootfs)
                       for d, _, fs in os.walk(rootfs) for f in fs)
        print("gannet-server image holds", files, "and runs", process["args"])
        for want in ("gannet-server", "gannet-server.conf", "etc/ssl/certs/ca-certificates.crt"):
            if want not in files:
                nats_probe.fail(f"{want} missing from the gannet-server image")
        read_only(rootfs)
        p = start(rootfs, process)
        procs.append(p)
        conn = nats_probe.wait_serving("127.0.0.1", 4222, p)
        print("gannet-server image serves on 4222:", conn.info["server_id"])
        route = nats_probe.Conn("127.0.0.1", 6222)
        if not route.info.get("auth_required"):
            nats_probe.fail("the image's cluster port should require the route user")
        route.close()
        with urllib.request.urlopen("http://127.0.0.1:8222/healthz", timeout=5) as r:
            if r.status != 200:
                nats_probe.fail(f"/healthz answered {r.status}")
        conn.close()
        p.terminate()
        p.wait(timeout=10)

        rootfs, process = unpack(layout, f"gannet-streaming:{version}",
                                 os.path.join(work, "streaming"))
        read_only(rootfs)
        p = start(rootfs, process)
        procs.append(p)
        conn = nats_probe.wait_serving("127.0.0.1", 4222, p)
        reply = conn.request("_STAN.discover.test-cluster")
        print("gannet-streaming image answers on 4222:", reply)
        with urllib.request.urlopen("http://127.0.0.1:8222/streaming/serverz", timeout=5) as r:
            if json.load(r).get("cluster_id") != "test-cluster":
                nats_probe.fail("/streaming/serverz does not name test-cluster")
        conn.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
        for d in ("server", "streaming"):  # the read-only mounts go before the files
            subprocess.run(["umount", os.path.join(work, d, "rootfs")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
