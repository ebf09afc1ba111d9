"""`virtkube up` / `down` through the real CLI: idempotent, and nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from virtkube.local.procs import processes_mentioning

pytestmark = pytest.mark.integration


def virtkube(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIRTKUBE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "virtkube.local", *args], env=env, text=True,
                          capture_output=True, check=check, timeout=300)


def test_up_is_idempotent_and_down_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "vk"
    try:
        virtkube(home, "up")
        first = json.loads(virtkube(home, "status", "-o", "json").stdout)
        assert first["ready"] is True
        assert {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                "virtkube-node-0", "local-path-provisioner"} <= set(first["components"])
        pids = {first["supervisor"], *(c["pid"] for c in first["components"].values())}
        assert None not in pids
        assert set(processes_mentioning(str(home))) == pids

        virtkube(home, "up")  # a second `up` changes nothing that runs
        second = json.loads(virtkube(home, "status", "-o", "json").stdout)
        assert second["supervisor"] == first["supervisor"]
        assert second["components"] == first["components"]

        assert virtkube(home, "kubectl", "get", "--raw", "/readyz").stdout.strip() == "ok"
        assert virtkube(home, "kubeconfig").stdout.strip() == str(home / "kubeconfig")
    finally:
        virtkube(home, "down", check=False)
    assert list(processes_mentioning(str(home))) == []
    stopped = virtkube(home, "status", "-o", "json", check=False)
    assert stopped.returncode == 1
    assert json.loads(stopped.stdout)["supervisor"] is None


def test_supervisor_killed_takes_the_control_plane_with_it(tmp_path: Path) -> None:
    import signal

    from virtkube.local.procs import wait_gone

    home = tmp_path / "vk"
    try:
        virtkube(home, "up")
        state = json.loads(virtkube(home, "status", "-o", "json").stdout)
        children = [c["pid"] for c in state["components"].values()]
        os.kill(state["supervisor"], signal.SIGKILL)
        assert wait_gone(children, 20.0) == [], "children outlived a SIGKILLed supervisor"
    finally:
        virtkube(home, "down", "--purge", check=False)
    assert not home.exists()
