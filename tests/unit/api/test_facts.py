"""Derived VMI facts (virtkube.api.facts): one table per fact, typed model and raw JSON alike."""

from __future__ import annotations

from typing import Any

import pytest

from virtkube.api.domain import DomainSpec
from virtkube.api.facts import (
    ComputeFields,
    Topology,
    added_overhead,
    cpu_topology,
    guest_memory,
    memory_source,
    vcpus,
)

MIB = 1 << 20


def _both(domain: dict[str, Any]) -> tuple[DomainSpec, ComputeFields]:
    """The same spec.domain through the typed model and as raw JSON."""
    domain = {"devices": {}, **domain}
    return DomainSpec.model_validate(domain), ComputeFields.of_json(domain)


MEMORY: list[tuple[str, dict[str, Any], int | None]] = [
    # KubeVirt's setGuestMemory: guest, else requests, else limits, else the hugepage size.
    ("guest wins", {"memory": {"guest": "128Mi"},
                    "resources": {"requests": {"memory": "1Gi"}}}, 128 * MIB),
    ("request", {"resources": {"requests": {"memory": "256Mi"},
                               "limits": {"memory": "1Gi"}}}, 256 * MIB),
    ("limit when no request", {"resources": {"limits": {"memory": "1Gi"}}}, 1024 * MIB),
    ("zero request falls to limit", {"resources": {"requests": {"memory": "0"},
                                                  "limits": {"memory": "64Mi"}}}, 64 * MIB),
    ("hugepages page size", {"memory": {"hugepages": {"pageSize": "2Mi"}}}, 2 * MIB),
    ("none", {}, None),
    ("rounded up", {"memory": {"guest": "1.5"}}, 2),
]


@pytest.mark.parametrize(("domain", "expected"), [c[1:] for c in MEMORY],
                         ids=[c[0] for c in MEMORY])
def test_guest_memory(domain: dict[str, Any], expected: int | None) -> None:
    typed, raw = _both(domain)
    assert guest_memory(typed) == guest_memory(raw) == expected


def test_memory_source_keeps_the_quantity_as_given() -> None:
    _, raw = _both({"resources": {"limits": {"memory": "1Gi"}}})
    assert memory_source(raw) == "1Gi"


TOPOLOGY: list[tuple[str, dict[str, Any], Topology]] = [
    # KubeVirt's GetCPUTopology.
    ("given", {"cpu": {"sockets": 2, "cores": 3, "threads": 2}}, Topology(2, 3, 2)),
    ("missing ones are 1", {"cpu": {"cores": 4}}, Topology(1, 4, 1)),
    ("limit rounded up", {"resources": {"limits": {"cpu": "1500m"},
                                        "requests": {"cpu": "4"}}}, Topology(2, 1, 1)),
    ("request when no limit", {"resources": {"requests": {"cpu": "3"}}}, Topology(3, 1, 1)),
    ("topology beats resources", {"cpu": {"threads": 2},
                                  "resources": {"limits": {"cpu": "8"}}}, Topology(1, 1, 2)),
    ("none", {}, Topology(1, 1, 1)),
    ("a small request is one socket", {"resources": {"requests": {"cpu": "100m"}}},
     Topology(1, 1, 1)),
]


@pytest.mark.parametrize(("domain", "expected"), [c[1:] for c in TOPOLOGY],
                         ids=[c[0] for c in TOPOLOGY])
def test_cpu_topology(domain: dict[str, Any], expected: Topology) -> None:
    typed, raw = _both(domain)
    assert cpu_topology(typed) == cpu_topology(raw) == expected
    assert vcpus(typed) == expected.sockets * expected.cores * expected.threads


def test_malformed_json_counts_as_absent() -> None:
    raw = ComputeFields.of_json({"memory": {"guest": None}, "resources": {
        "requests": {"memory": "lots", "cpu": "many"}, "limits": "x"}, "cpu": {"cores": -1}})
    assert guest_memory(raw) is None
    assert cpu_topology(raw) == Topology(1, 1, 1)


def test_reserved_overhead_inputs() -> None:
    typed, raw = _both({"memory": {"guest": "1Gi", "reservedOverhead": {
        "addedOverhead": "100Mi", "memLock": "Required"}},
        "resources": {"overcommitGuestOverhead": True}})
    for fields in (ComputeFields.of(typed), raw):
        assert added_overhead(fields) == 100 * MIB
        assert fields.mem_lock and fields.overcommit_guest_overhead
    assert added_overhead(_both({})[0]) == 0
