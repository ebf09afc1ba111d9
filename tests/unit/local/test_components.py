"""Golden tests of the control plane's command lines (pure functions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from virtkube.local import components
from virtkube.local.config import ClusterConfig, Ports
from virtkube.local.paths import Home

GOLDEN = Path(__file__).parent / "golden"
CFG = ClusterConfig(ports=Ports(apiserver=6443, etcd_client=2379, etcd_peer=2380,
                                controller_manager=10257, scheduler=10259))
HOME = Home(Path("/var/lib/virtkube"))
BINARY = Path("/opt/virtkube/bin/controlplane")


@pytest.mark.parametrize("component", components.control_plane(CFG, HOME, BINARY),
                         ids=lambda c: c.name)
def test_argv_matches_golden(component: components.Component) -> None:
    golden = GOLDEN / f"{component.name}.argv"
    text = "\n".join(component.argv) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden} is stale; rerun with UPDATE_GOLDEN=1 and review"


def test_everything_listens_on_loopback_only() -> None:
    for comp in components.control_plane(CFG, HOME, BINARY):
        for arg in comp.argv:
            if arg.startswith(("--bind-address=", "--advertise-address=")):
                assert arg.endswith("=127.0.0.1"), (comp.name, arg)
            if arg.startswith(("--listen-client-urls=", "--listen-peer-urls=")):
                assert "://127.0.0.1:" in arg, (comp.name, arg)


def test_start_order_puts_etcd_first_and_apiserver_before_its_clients() -> None:
    names = [c.name for c in components.control_plane(CFG, HOME, BINARY)]
    assert names == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
