"""VM lifecycle end to end on the local cluster with the tiny guest (issue 5)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.guest import Console, qemu_pids
from tests.integration.helpers import wait_for
from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vm-tiny.yaml"
#: Under TCG a boot takes a few seconds; a loaded CI machine gets ample margin.
BOOT_TIMEOUT = 120.0


def vm_manifest(name: str, *, run_strategy: str = "Always", user_data: str | None = None,
                memory: str = "128Mi") -> dict[str, Any]:
    vm: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    vm["metadata"] = {"name": name, "namespace": "default", "labels": {"app": name}}
    vm["spec"]["runStrategy"] = run_strategy
    tmpl = vm["spec"]["template"]["spec"]
    tmpl["domain"]["memory"]["guest"] = memory
    if user_data is not None:
        for v in tmpl["volumes"]:
            if "cloudInitNoCloud" in v:
                v["cloudInitNoCloud"]["userData"] = user_data
    return vm


def get(cluster: LocalCluster, kind: str, name: str) -> dict[str, Any] | None:
    r = cluster.kubectl("get", kind, name, "-n", "default", "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def printable(cluster: LocalCluster, name: str) -> str | None:
    vm = get(cluster, "vm", name)
    return (vm or {}).get("status", {}).get("printableStatus")


def wait_status(cluster: LocalCluster, name: str, status: str, timeout: float = BOOT_TIMEOUT
                ) -> None:
    seen: list[str | None] = []

    def probe() -> bool:
        seen.append(printable(cluster, name))
        return seen[-1] == status

    try:
        wait_for(f"vm/{name} printableStatus {status}", probe, timeout)
    except AssertionError as e:
        history = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
        raise AssertionError(f"{e}; printableStatus went {history}") from None


def vmi_uid(cluster: LocalCluster, name: str) -> str:
    vmi = wait_for(f"vmi/{name}", lambda: get(cluster, "vmi", name))
    return str(vmi["metadata"]["uid"])


def console(cluster: LocalCluster, uid: str) -> Console:
    return Console(cluster.home.kubevirt_sockets / uid / "console.sock")


def boot_id(cluster: LocalCluster, uid: str) -> str:
    with console(cluster, uid) as c:
        return c.expect(r"boot_id=([0-9a-f-]{36})", BOOT_TIMEOUT).group(1).decode()


def apply(cluster: LocalCluster, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def test_always_runs_is_ready_and_shows_login(cluster: LocalCluster, name: str) -> None:
    apply(cluster, vm_manifest(name))
    wait_status(cluster, name, "Running")
    uid = vmi_uid(cluster, name)
    with console(cluster, uid) as c:
        c.expect("hello from vm-tiny's cloud-init", BOOT_TIMEOUT)
        c.expect(r"login:", BOOT_TIMEOUT)
    wait_for("READY True", lambda: (get(cluster, "vm", name) or {}).get("status", {}).get(
        "ready") is True, 30)
    row = cluster.kubectl("get", "vm", name, "-n", "default", "--no-headers").stdout.split()
    assert row[2:4] == ["Running", "True"], row
    assert len(qemu_pids(uid)) == 1


def test_halted_stops_and_always_starts_again(cluster: LocalCluster, name: str) -> None:
    apply(cluster, vm_manifest(name))
    wait_status(cluster, name, "Running")
    uid = vmi_uid(cluster, name)
    cluster.kubectl("patch", "vm", name, "-n", "default", "--type=merge",
                    "-p", '{"spec":{"runStrategy":"Halted"}}')
    wait_status(cluster, name, "Stopped", 60)
    wait_for("QEMU gone", lambda: not qemu_pids(uid), 30)
    cluster.kubectl("patch", "vm", name, "-n", "default", "--type=merge",
                    "-p", '{"spec":{"runStrategy":"Always"}}')
    wait_status(cluster, name, "Running")
    new_uid = vmi_uid(cluster, name)
    assert new_uid != uid
    with console(cluster, new_uid) as c:
        c.expect("login:", BOOT_TIMEOUT)


def test_delete_removes_vmi_pod_and_qemu_within_grace(cluster: LocalCluster, name: str) -> None:
    apply(cluster, vm_manifest(name))
    wait_status(cluster, name, "Running")
    uid = vmi_uid(cluster, name)
    with console(cluster, uid) as c:
        c.expect("login:", BOOT_TIMEOUT)
    started = time.monotonic()
    cluster.kubectl("delete", "vm", name, "-n", "default", "--wait=false")
    grace = 10  # examples/vm-tiny.yaml
    margin = 30
    wait_for("VMI gone", lambda: get(cluster, "vmi", name) is None, grace + margin)
    wait_for("launcher pod gone", lambda: not json.loads(cluster.kubectl(
        "get", "pods", "-n", "default", "-l", f"kubevirt.io/created-by={uid}", "-o", "json"
    ).stdout)["items"], grace + margin)
    wait_for("QEMU gone", lambda: not qemu_pids(uid), 5)
    assert time.monotonic() - started < grace + margin


def test_rerun_on_failure_replaces_a_killed_guest(cluster: LocalCluster, name: str) -> None:
    apply(cluster, vm_manifest(name, run_strategy="RerunOnFailure"))
    wait_status(cluster, name, "Running")
    uid = vmi_uid(cluster, name)
    (pid,) = wait_for("one QEMU", lambda: qemu_pids(uid), 30)
    os.kill(pid, signal.SIGKILL)
    new_uid = wait_for("a new VMI", lambda: (lambda v: v and v["metadata"]["uid"] != uid
                                               and v["metadata"]["uid"])(get(cluster, "vmi",
                                                                              name)), 90)
    wait_status(cluster, name, "Running")
    with console(cluster, str(new_uid)) as c:
        c.expect("login:", BOOT_TIMEOUT)


def test_once_halts_after_the_guest_powers_off(cluster: LocalCluster, name: str) -> None:
    apply(cluster, vm_manifest(name, run_strategy="Once",
                               user_data="#!/bin/sh\necho once-done\npoweroff -f\n"))
    wait_for("runStrategy Halted", lambda: (get(cluster, "vm", name) or {}).get(
        "spec", {}).get("runStrategy") == "Halted", BOOT_TIMEOUT)
    wait_status(cluster, name, "Stopped", 60)


def test_too_much_memory_is_error_unschedulable(cluster: LocalCluster, name: str) -> None:
    apply(cluster, vm_manifest(name, memory="4096Gi"))
    wait_status(cluster, name, "ErrorUnschedulable", 60)
    vmi = get(cluster, "vmi", name)
    assert vmi is not None
    cond = next(c for c in vmi["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["reason"] == "Unschedulable"
    assert "Insufficient memory" in cond["message"], cond["message"]


def _component_pid(cluster: LocalCluster, name: str) -> int | None:
    state = cluster.status()["components"]
    assert isinstance(state, dict)
    pid = state.get(name, {}).get("pid")
    return int(pid) if pid else None


def test_killing_controller_and_handler_loses_and_duplicates_nothing(
        cluster: LocalCluster, name: str) -> None:
    names = [name, f"{name}-b"]
    try:
        for n in names:
            apply(cluster, vm_manifest(n))
        for n in names:
            wait_status(cluster, n, "Running")
        uids = {n: vmi_uid(cluster, n) for n in names}
        boots = {n: boot_id(cluster, uids[n]) for n in names}
        victims = ["virt-controller", *(c for c in cluster.status()["components"]  # type: ignore[union-attr]
                                        if str(c).startswith("virt-handler"))]
        old = {v: _component_pid(cluster, v) for v in victims}
        for pid in old.values():
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
        for v in victims:
            wait_for(f"{v} restarted by the supervisor",
                     lambda v=v: (_component_pid(cluster, v) or old[v]) != old[v], 60)
        # The restarted processes reconcile: VM state stays true, nothing is recreated.
        probe = f"{name}-probe"
        apply(cluster, vm_manifest(probe, run_strategy="Halted"))
        wait_status(cluster, probe, "Stopped", 60)  # the new controller leads and works
        for n in names:
            wait_status(cluster, n, "Running", 30)
            assert vmi_uid(cluster, n) == uids[n], "the VMI was replaced"
            pods = json.loads(cluster.kubectl(
                "get", "pods", "-n", "default", "-l", f"kubevirt.io/created-by={uids[n]}",
                "-o", "json").stdout)["items"]
            assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
            assert len(qemu_pids(uids[n])) == 1
            with console(cluster, uids[n]) as c:
                c.expect("login:", 30)
                booted = {m.decode() for m in re.findall(rb"boot_id=([0-9a-f-]{36})",
                                                          c.output)}
            assert booted == {boots[n]}, f"{n} rebooted: {booted} vs {boots[n]}"
        cluster.kubectl("delete", "vm", probe, "-n", "default", "--wait=false")
    finally:
        for n in names[1:]:
            cluster.kubectl("delete", "vm", n, "-n", "default", "--ignore-not-found",
                            "--wait=false", check=False)
