"""virtctl console / vnc / pause through the API server, virt-api, virt-handler and the launcher.

The tests that need a booted guest skip until the project's guest image runs
(set VIRTKUBE_TEST_GUEST_IMAGE to its containerDisk image to enable them). The
refusals that need no guest run always: each names the hop that refused.
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.integration.helpers import wait_for
from tests.integration.test_virtapi import NS, VirtAPI, aggregated, virt_api  # noqa: F401
from tests.unit.apiserver.builders import new_vm, new_vmi

pytestmark = pytest.mark.integration

#: The tiny guest from `make guest-images`; VIRTKUBE_TEST_GUEST_IMAGE picks another.
GUEST_IMAGE = os.environ.get("VIRTKUBE_TEST_GUEST_IMAGE",
                             "registry:5000/virtkube/tiny-guest:latest")
needs_guest = pytest.mark.skipif(not GUEST_IMAGE, reason="no guest image configured")


def test_console_of_a_vmi_that_is_not_running_says_why(virt_api: VirtAPI) -> None:  # noqa: F811
    aggregated(virt_api)
    vmi = new_vmi("not-running", NS)
    vmi["spec"]["volumes"][0]["containerDisk"]["image"] = "virtkube.invalid/none:1"
    assert virt_api.kubectl("create", "-f", "-", input=json.dumps(vmi)).returncode == 0
    res = virt_api.virtctl("-n", NS, "console", "not-running", "--timeout", "1")
    assert res.returncode == 1
    assert "Unable to connect to VM because phase is" in res.stderr, res.stderr
    pause = virt_api.virtctl("-n", NS, "pause", "vmi", "not-running")
    assert pause.returncode == 1 and "VMI is not running" in pause.stderr
    missing = virt_api.virtctl("-n", NS, "console", "ghost", "--timeout", "1")
    assert missing.returncode == 1 and "404" in missing.stderr


# --- with a guest ----------------------------------------------------------------------------
@pytest.fixture()
def running_vm(virt_api: VirtAPI) -> Iterator[str]:  # noqa: F811
    aggregated(virt_api)
    vm = new_vm("guest", NS, run_strategy="Always")
    del vm["metadata"]["uid"]
    vm["spec"]["template"]["spec"]["volumes"][0]["containerDisk"]["image"] = GUEST_IMAGE
    assert virt_api.kubectl("apply", "-f", "-", input=json.dumps(vm)).returncode == 0

    def running() -> bool:
        got = virt_api.kubectl("get", "-n", NS, "vmi", "guest", "-o",
                               "jsonpath={.status.phase}").stdout
        return got == "Running"

    wait_for("VMI guest Running", running, timeout=300)
    yield "guest"
    # Gone before the next test applies it again, or that test could meet this VMI.
    virt_api.kubectl("delete", "-n", NS, "vm", "guest", "--wait=false")
    wait_for("VMI guest gone", lambda: virt_api.kubectl(
        "get", "-n", NS, "vmi", "guest").returncode != 0, timeout=120)


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


@needs_guest
def test_console_runs_a_command_and_leaves_with_ctrl_bracket(virt_api: VirtAPI,  # noqa: F811
                                                            running_vm: str) -> None:
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "virtkube.virtctl", "--kubeconfig",
                             str(virt_api.cluster.home.admin_kubeconfig), "-n", NS, "console",
                             running_vm], stdin=child, stdout=child, stderr=child)
    os.close(child)
    assert b"escape sequence is ^]" in _read_until(main, b"^]", 30)
    os.write(main, b"\r")
    assert b"login:" in _read_until(main, b"login:", 120)
    os.write(main, b"root\r")  # the tiny guest: root without a password
    assert b"# " in _read_until(main, b"# ", 30)
    os.write(main, b"echo virtkube-$((40+2))\r")
    assert b"virtkube-42" in _read_until(main, b"virtkube-42", 30)
    time.sleep(120)  # an idle console stays open (websocket pings every 30 s)
    os.write(main, b"echo still-here\r")
    assert b"still-here" in _read_until(main, b"still-here", 30)
    os.write(main, b"\x1d")
    assert proc.wait(10) == 0


@needs_guest
def test_vnc_proxy_only_speaks_rfb(virt_api: VirtAPI, running_vm: str) -> None:  # noqa: F811
    proc = subprocess.Popen([sys.executable, "-m", "virtkube.virtctl", "--kubeconfig",
                             str(virt_api.cluster.home.admin_kubeconfig), "-n", NS, "vnc",
                             running_vm, "--proxy-only"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        port = json.loads(proc.stdout.readline())["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            def recv_exact(n: int) -> bytes:
                data = b""
                while len(data) < n:
                    chunk = s.recv(n - len(data))
                    assert chunk, f"connection closed after {data!r}"
                    data += chunk
                return data

            banner = recv_exact(12)
            assert banner.startswith(b"RFB 003.")
            s.sendall(banner)  # same version
            count = recv_exact(1)[0]
            assert count >= 1, "the server offers no security type"
            assert 1 in recv_exact(count), "security type None is offered"
            s.sendall(b"\x01")  # None
            assert recv_exact(4) == b"\x00\x00\x00\x00"
            s.sendall(b"\x01")  # ClientInit, shared
            init = recv_exact(24)  # ServerInit, then the desktop name
            width, height = int.from_bytes(init[0:2], "big"), int.from_bytes(init[2:4], "big")
            assert width > 0 and height > 0
            recv_exact(int.from_bytes(init[20:24], "big"))
            s.sendall(b"\x03\x00" + (0).to_bytes(4, "big") + init[0:4])  # update request
            assert recv_exact(1)[0] == 0  # FramebufferUpdate
    finally:
        proc.terminate()
        proc.wait(10)


@needs_guest
def test_pause_unpause_softreboot(virt_api: VirtAPI, running_vm: str) -> None:  # noqa: F811
    run = virt_api.virtctl
    assert run("-n", NS, "pause", "vm", running_vm).returncode == 0

    def printable(want: str) -> bool:
        return virt_api.kubectl("get", "-n", NS, "vm", running_vm, "-o",
                                "jsonpath={.status.printableStatus}").stdout == want

    wait_for("VM Paused", lambda: printable("Paused"), timeout=60)
    again = run("-n", NS, "pause", "vm", running_vm)
    assert again.returncode == 1 and "already paused" in again.stderr
    assert run("-n", NS, "unpause", "vm", running_vm).returncode == 0
    wait_for("VM Running", lambda: printable("Running"), timeout=60)
    assert run("-n", NS, "soft-reboot", running_vm).returncode == 0
    assert run("-n", NS, "restart", running_vm).returncode == 0
