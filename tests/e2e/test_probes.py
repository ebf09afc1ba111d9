"""A VMI's readinessProbe end to end: copied onto the launcher pod, run by the node against
the pod IP (masquerade forwards it to the guest), and the VMI's Ready follows the pod.

Two guests boot side by side, each running busybox httpd on port 80 from its user-data
after a marker line on the console: one probed on 80 (Ready only once that listener is
up), one probed on 81, where nobody listens (Running, never Ready). The second also has a
liveness probe on 81, late enough to leave the readiness checks alone: when it fails, the
node stops the compute container and that VMI ends (KubeVirt's test: the VMI is final).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.test_network import networked_vm
from tests.e2e.test_vm_lifecycle import BOOT_TIMEOUT, apply, console, get, vmi_uid, wait_status
from tests.integration.helpers import wait_for
from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]

MARKER = "probe-listener-starting"
USER_DATA = f"#!/bin/sh\nsleep 3\nmkdir -p /www\necho ok > /www/index.html\necho {MARKER}\n" \
            "httpd -p 80 -h /www\n"
#: How long the unprobed guest must stay not Ready once its listener on 80 is up.
NEVER_READY_FOR = 8.0
#: The liveness probe's initial delay: past a slow boot plus NEVER_READY_FOR.
LIVENESS_DELAY = 120


def probed_vm(name: str, port: int, *, liveness: bool = False) -> Obj:
    vm = networked_vm(name, "masquerade", "unused")
    spec = vm["spec"]["template"]["spec"]
    for volume in spec["volumes"]:
        if "cloudInitNoCloud" in volume:
            volume["cloudInitNoCloud"]["userData"] = USER_DATA
    spec["readinessProbe"] = {"tcpSocket": {"port": port}, "periodSeconds": 1,
                              "failureThreshold": 1}
    if liveness:
        spec["livenessProbe"] = {"tcpSocket": {"port": port}, "periodSeconds": 1,
                                 "failureThreshold": 1,
                                 "initialDelaySeconds": LIVENESS_DELAY}
    return vm


def ready(cluster: LocalCluster, name: str) -> Obj | None:
    vmi = get(cluster, "vmi", name) or {}
    return next((c for c in vmi.get("status", {}).get("conditions") or []
                 if c["type"] == "Ready"), None)


def test_ready_follows_the_readiness_probe(cluster: LocalCluster, name: str) -> None:
    never = f"{name}-b"
    try:
        apply(cluster, probed_vm(name, 80))
        apply(cluster, probed_vm(never, 81, liveness=True))
        wait_status(cluster, name, "Running")
        wait_status(cluster, never, "Running")
        wait_for(f"vmi/{name} Ready True", lambda: (ready(cluster, name) or {}).get(
            "status") == "True", BOOT_TIMEOUT)
        # Ready came after the listener: the console (replayed from the start) has the
        # line printed just before httpd.
        with console(cluster, vmi_uid(cluster, name)) as c:
            c.expect(MARKER, 5)
        with console(cluster, vmi_uid(cluster, never)) as c:
            c.expect(MARKER, BOOT_TIMEOUT)
        deadline = time.monotonic() + NEVER_READY_FOR
        while time.monotonic() < deadline:
            vmi = get(cluster, "vmi", never) or {}
            cond = ready(cluster, never)
            assert vmi.get("status", {}).get("phase") == "Running", vmi.get("status")
            assert cond is not None and cond["status"] == "False", cond
            time.sleep(1)
        assert (get(cluster, "vm", never) or {}).get("status", {}).get("ready") is False
        uid = vmi_uid(cluster, never)

        def ended() -> bool:  # final, or already replaced by the VM's run strategy
            vmi = get(cluster, "vmi", never) or {}
            return (vmi.get("metadata", {}).get("uid") != uid
                    or vmi.get("status", {}).get("phase") in ("Succeeded", "Failed"))

        wait_for(f"vmi/{never} ended by its failing liveness probe", ended,
                 LIVENESS_DELAY + BOOT_TIMEOUT)
    finally:
        cluster.kubectl("delete", "vm", never, "-n", "default", "--ignore-not-found",
                        "--wait=false", check=False)
