"""One local cluster per test session (integration and e2e share it), torn down and
checked for leftovers at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.leftovers import leftovers
from virtkube.local.cluster import LocalCluster
from virtkube.local.paths import Home, controlplane_binary


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if not controlplane_binary().exists():
        pytest.fail(f"{controlplane_binary()} is missing: run `make controlplane`")
    home = Home(tmp_path_factory.mktemp("cluster"))
    c = LocalCluster(home)
    # Two local nodes: one cluster serves both the single-node and the cross-node tests.
    c.up(nodes=2)
    try:
        yield c
    finally:
        c.down(purge=False)
        left = leftovers(home.root, 2)
        assert not left, f"left on the host after `virtkube down`: {left}"
