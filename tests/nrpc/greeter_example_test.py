#!/usr/bin/python3
"""The nRPC example (examples/nrpc) works as its README says: greeter_server serves on a
gannet-server, greeter_client's calls are answered, and its errors come back as nrpc.Errors.

usage: greeter_example_test.py GANNET_SERVER GREETER_SERVER GREETER_CLIENT"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "deploy"))
import nats_probe  # noqa: E402


def main():
    server, greeter_server, greeter_client = sys.argv[1:4]
    port = nats_probe.free_port()
    url = f"nats://127.0.0.1:{port}"
    nats = subprocess.Popen([server, "-a", "127.0.0.1", "-p", str(port)],
                            stderr=subprocess.DEVNULL)
    greeter = None
    try:
        nats_probe.wait_serving("127.0.0.1", port, nats).close()
        greeter = subprocess.Popen([greeter_server, url], stdout=subprocess.PIPE, text=True)
        if greeter.stdout.readline().strip() != "serving helloworld.Greeter.>":
            nats_probe.fail("greeter_server did not start serving")
        out = subprocess.run([greeter_client, "Ada", "fr", url], capture_output=True, text=True,
                             timeout=30)
        if out.returncode != 0 or out.stdout != "Bonjour Ada\ngreetings so far: 1\n":
            nats_probe.fail(f"SayHelloIn fr: {out.returncode} {out.stdout!r} {out.stderr!r}")
        out = subprocess.run([greeter_client, "Ada", "de", url], capture_output=True, text=True,
                             timeout=30)
        if out.returncode != 1 or out.stderr != "CLIENT error: unknown language de\n":
            nats_probe.fail(f"SayHelloIn de: {out.returncode} {out.stdout!r} {out.stderr!r}")
        print("greeter_client is answered by greeter_server, errors included")
    finally:
        for p in (greeter, nats):
            if p:
                p.terminate()
                p.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
