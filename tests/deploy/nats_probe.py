"""What the deployment tests share: free ports, running a command in an empty root, and raw
NATS conversations (INFO, CONNECT, PING/PONG, a request) that prove a server serves."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

SKIP = 77  # ctest's SKIP_RETURN_CODE for these tests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def root_runner():
    """The command prefix that chroots into a directory: in a user and mount namespace of our own
    when the kernel allows it, else plain chroot when we are root. None when neither works."""
    if shutil.which("unshare") and subprocess.run(
            ["unshare", "-r", "-m", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-r", "-m", "chroot"]
    if os.geteuid() == 0:
        return ["chroot"]
    return None


class Conn:
    """One client connection speaking the NATS text protocol."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.info = json.loads(self.line().split(b" ", 1)[1])

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def send(self, data):
        self.sock.sendall(data)

    def expect(self, prefix):
        while True:
            line = self.line()
            if line.startswith(b"PING"):
                self.send(b"PONG\r\n")
                continue
            if not line.startswith(prefix):
                raise AssertionError(f"expected {prefix!r}, got {line!r}")
            return line

    def ping(self):
        self.send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                  b'"no_responders":true}\r\nPING\r\n')
        self.expect(b"PONG")

    def read_msg(self):
        """Reads the next MSG or HMSG; returns (headers or None, payload)."""
        while True:
            line = self.line()
            if line.startswith(b"PING"):
                self.send(b"PONG\r\n")
                continue
            if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                break
            if not line.startswith(b"PONG"):
                raise AssertionError(f"expected a message, got {line!r}")
        fields = line.split(b" ")
        size = int(fields[-1])
        hsize = int(fields[-2]) if line.startswith(b"HMSG") else 0
        while len(self.buf) < size + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        body, self.buf = self.buf[:size], self.buf[size + 2:]
        return (body[:hsize] if hsize else None), body[hsize:]

    def request(self, subject, payload=b"", deadline=10.0):
        """Publishes on subject with a reply inbox until a responder answers (the server says
        503 "no responders" while nobody subscribes); returns the reply's payload."""
        self.send(b"SUB _INBOX.probe 1\r\n")
        end = time.monotonic() + deadline
        while True:
            self.send(b"PUB %s _INBOX.probe %d\r\n%s\r\n" %
                      (subject.encode(), len(payload), payload))
            headers, body = self.read_msg()
            if headers is None or b" 503" not in headers.split(b"\r\n")[0]:
                return body
            if time.monotonic() > end:
                raise AssertionError(f"no responder on {subject}")
            time.sleep(0.005)  # no responder yet: ask again

    def close(self):
        self.sock.close()


def wait_serving(host, port, proc=None, deadline=10.0):
    """Connects until the server accepts (or the process exits, or the deadline passes) and
    checks PING/PONG. Returns the open connection."""
    end = time.monotonic() + deadline
    while True:
        try:
            conn = Conn(host, port)
            conn.ping()
            return conn
        except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"process exited with {proc.returncode}")
            if time.monotonic() > end:
                raise
            time.sleep(0.005)  # the listener is not up yet: poll again


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def in_own_namespaces(argv):
    """Re-executes this script in a user, network and mount namespace of its own (a fresh
    loopback, so fixed ports such as an image's 4222 collide with nothing), unless already
    there. Returns False when the kernel allows no such namespace and we are not root."""
    if os.environ.get("GANNET_TEST_NAMESPACED") == "1":
        loopback_up()
        return True
    prefix = _namespace_prefix()
    if prefix:
        os.execvpe(prefix[0], prefix + [sys.executable] + argv,
                   dict(os.environ, GANNET_TEST_NAMESPACED="1"))
    return False


def run_in_own_namespaces(argv, env):
    """As in_own_namespaces, but runs the script as a child (with env added) and returns its
    exit status, for a test that keeps something running outside the namespaces; None when no
    namespace can be made."""
    prefix = _namespace_prefix()
    if not prefix:
        return None
    return subprocess.run(prefix + [sys.executable] + argv,
                          env=dict(os.environ, GANNET_TEST_NAMESPACED="1", **env)).returncode


def _namespace_prefix():
    for prefix in (["unshare", "-r", "-n", "-m"], ["unshare", "-n", "-m"]):
        if subprocess.run(prefix + ["true"], capture_output=True).returncode == 0:
            return prefix
    return None


def loopback_up():
    """Brings up lo in a new network namespace (SIOCSIFFLAGS, as `ip link set lo up`)."""
    import fcntl
    import struct
    iff_up, iff_loopback, iff_running, siocsifflags = 0x1, 0x8, 0x40, 0x8914
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14s", b"lo", iff_up | iff_loopback | iff_running, b"")
        fcntl.ioctl(s, siocsifflags, ifreq)
