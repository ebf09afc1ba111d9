"""Fixtures shared by the e2e scenarios."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from virtkube.local.cluster import LocalCluster


@pytest.fixture
def name(cluster: LocalCluster) -> Iterator[str]:
    """A fresh VM name in `default`; the VM is deleted after the test, whatever happened."""
    vm = f"vm-{uuid.uuid4().hex[:6]}"
    yield vm
    cluster.kubectl("delete", "vm", vm, "-n", "default", "--ignore-not-found", "--wait=false",
                    check=False)
