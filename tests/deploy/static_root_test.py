#!/usr/bin/python3
"""The static executables run with nothing else installed: each is checked to have no program
interpreter (no dynamic loader, no shared library), then run in an empty root (a chroot in a user
and mount namespace of its own) holding only the executable (and an empty /tmp), where
gannet-server and gannet-streaming (its FILE store in /tmp) must serve a client and gannet must
publish to them.

usage: static_root_test.py GANNET_SERVER GANNET_STREAMING GANNET"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nats_probe  # noqa: E402

PT_INTERP, PT_DYNAMIC = 3, 2


def check_static(path):
    """Fails unless the ELF file has neither a PT_INTERP nor a PT_DYNAMIC program header."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            nats_probe.fail(f"{path}: not a 64-bit ELF file")
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    kinds = {struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)}
    if PT_INTERP in kinds or PT_DYNAMIC in kinds:
        nats_probe.fail(f"{path} is dynamically linked")


def empty_root(binary):
    """A temporary directory holding only the executable (and an empty /tmp)."""
    root = tempfile.mkdtemp(prefix="gannet-root-")
    os.mkdir(os.path.join(root, "tmp"))
    shutil.copy2(binary, os.path.join(root, os.path.basename(binary)))
    return root


def main():
    server, streaming, cli = sys.argv[1:4]
    for b in (server, streaming, cli):
        check_static(b)
    runner = nats_probe.root_runner()
    if runner is None:
        print("SKIP: neither user namespaces nor root: cannot chroot", file=sys.stderr)
        return nats_probe.SKIP
    procs, roots = [], []
    try:
        # gannet-server: a client connects (PING/PONG), the monitor answers /healthz.
        root = empty_root(server)
        roots.append(root)
        port, mport = nats_probe.free_port(), nats_probe.free_port()
        p = subprocess.Popen(runner + [root, "/gannet-server", "-a", "127.0.0.1", "-p", str(port),
                                       "-m", str(mport)])
        procs.append(p)
        conn = nats_probe.wait_serving("127.0.0.1", port, p)
        print("gannet-server serves in an empty root:", conn.info["server_id"])
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/healthz", timeout=5) as r:
            if r.status != 200:
                nats_probe.fail(f"/healthz answered {r.status}")

        # gannet, in an empty root of its own, publishes to that server.
        conn.send(b"SUB static.hello 1\r\nPING\r\n")
        conn.expect(b"PONG")
        root = empty_root(cli)
        roots.append(root)
        out = subprocess.run(runner + [root, "/gannet", "pub", "-s", f"nats://127.0.0.1:{port}",
                                       "static.hello", "from-the-empty-root"],
                             capture_output=True, timeout=30)
        if out.returncode != 0:
            nats_probe.fail(f"gannet pub: {out.returncode} {out.stderr!r}")
        _, payload = conn.read_msg()
        if payload != b"from-the-empty-root":
            nats_probe.fail(f"unexpected message {payload!r}")
        print("gannet publishes from an empty root")
        conn.close()

        # gannet-streaming (embedded NATS server): a client connects, and the Streaming server
        # answers a connect request on its discover subject.
        root = empty_root(streaming)
        roots.append(root)
        port = nats_probe.free_port()
        # With the FILE store, as the Kubernetes manifests run it, in the root's empty /tmp.
        p = subprocess.Popen(runner + [root, "/gannet-streaming", "-a", "127.0.0.1",
                                       "-p", str(port), "-cid", "static-test",
                                       "-st", "FILE", "-dir", "/tmp/store"])
        procs.append(p)
        conn = nats_probe.wait_serving("127.0.0.1", port, p)
        # The discover subject is subscribed once the Streaming server is ready; until then the
        # server answers "no responders" and the request is made again.
        reply = conn.request("_STAN.discover.static-test")
        if not reply:
            nats_probe.fail("empty reply from the Streaming server")
        store = os.path.join(root, "tmp", "store")
        if not os.path.isdir(store) or "server.dat" not in os.listdir(store):
            nats_probe.fail("gannet-streaming's file store is not in the root's /tmp/store")
        print("gannet-streaming answers in an empty root:", reply, sorted(os.listdir(store)))
        conn.close()
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        for r in roots:
            shutil.rmtree(r, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
