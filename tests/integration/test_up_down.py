"""`virtkube up` / `down` through the real CLI: idempotent, and nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.leftovers import leftovers
from virtkube.local.net.layout import node_name
from virtkube.local.procs import cmdline, processes_mentioning
from virtkube.local.realnode import cgroups
from virtkube.local.realnode.layout import RealNode

pytestmark = pytest.mark.integration


def virtkube(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIRTKUBE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "virtkube.local", *args], env=env, text=True,
                          capture_output=True, check=check, timeout=300)


def parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a short path: a node's sockets live under it, and a unix socket's path
    has at most 107 bytes (a test's own tmp_path, named after the test, is too long)."""
    return tmp_path_factory.mktemp("vk")


def test_up_is_idempotent_and_down_leaves_nothing(home: Path) -> None:
    try:
        virtkube(home, "up")
        first = json.loads(virtkube(home, "status", "-o", "json").stdout)
        assert first["ready"] is True
        assert {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                "virtkube-node-0", "local-path-provisioner"} <= set(first["components"])
        pids = {first["supervisor"], *(c["pid"] for c in first["components"].values())}
        assert None not in pids
        # Whatever else names the home is the node's own: in its cgroup (containerd, shims;
        # the kubelet moves itself there a little later) or a child of its runner.
        node = RealNode(home, node_name(0), 0)
        runner = first["components"][node_name(0)]["pid"]
        extra = {p for p in set(processes_mentioning(str(home))) - pids
                 - cgroups.pids(node.cgroup_parent) if parent(p) != runner}
        assert not extra, [" ".join(cmdline(p))[:200] for p in extra]

        virtkube(home, "up")  # a second `up` changes nothing that runs
        second = json.loads(virtkube(home, "status", "-o", "json").stdout)
        assert second["supervisor"] == first["supervisor"]
        assert second["components"] == first["components"]

        assert virtkube(home, "kubectl", "get", "--raw", "/readyz").stdout.strip() == "ok"
        assert virtkube(home, "kubeconfig").stdout.strip() == str(home / "kubeconfig")
    finally:
        virtkube(home, "down", check=False)
    # No process, mount, netns, veth, bridge, nftables table or cgroup of the cluster.
    assert leftovers(home, 1) == []
    stopped = virtkube(home, "status", "-o", "json", check=False)
    assert stopped.returncode == 1
    assert json.loads(stopped.stdout)["supervisor"] is None


def test_supervisor_killed_takes_the_control_plane_with_it(home: Path) -> None:
    import signal

    from virtkube.local.procs import wait_gone

    try:
        virtkube(home, "up")
        state = json.loads(virtkube(home, "status", "-o", "json").stdout)
        children = [c["pid"] for c in state["components"].values()]
        os.kill(state["supervisor"], signal.SIGKILL)
        assert wait_gone(children, 20.0) == [], "children outlived a SIGKILLed supervisor"
    finally:
        virtkube(home, "down", "--purge", check=False)
    assert not home.exists()
