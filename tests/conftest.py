"""One local cluster per test session (integration and e2e share it), torn down and
checked for leftovers at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from virtkube.local.cluster import LocalCluster
from virtkube.local.node import hostnet
from virtkube.local.paths import Home, controlplane_binary
from virtkube.local.procs import processes_mentioning


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if not controlplane_binary().exists():
        pytest.fail(f"{controlplane_binary()} is missing: run `make controlplane`")
    home = Home(tmp_path_factory.mktemp("cluster"))
    c = LocalCluster(home)
    # Two local nodes: one cluster serves both the single-node and the cross-node tests.
    # VIRTKUBE_TEST_NODE_RUNTIME=containerd runs them on the kubelet with containerd.
    c.up(nodes=2, node_runtime=os.environ.get("VIRTKUBE_TEST_NODE_RUNTIME") or None)
    try:
        yield c
    finally:
        c.down(purge=False)
        left = list(processes_mentioning(str(home.root)))
        assert not left, f"processes left after down: {left}"
        assert not hostnet.leftovers(home.root), "network objects left after down"
