"""Stable MACs (handler.network.mac)."""

from __future__ import annotations

import pytest

from virtkube.handler.network.mac import normalize_mac, stable_mac


def test_stable_mac_depends_on_namespace_name_and_interface_only() -> None:
    mac = stable_mac("prod", "web", "default")
    assert mac == stable_mac("prod", "web", "default")
    assert len({mac, stable_mac("dev", "web", "default"), stable_mac("prod", "db", "default"),
                stable_mac("prod", "web", "second")}) == 4


def test_stable_mac_is_locally_administered_unicast() -> None:
    first = int(stable_mac("prod", "web", "default")[:2], 16)
    assert first & 0b10 and not first & 0b01


@pytest.mark.parametrize(("given", "expected"), [
    ("DE:AD:00:00:BE:AF", "de:ad:00:00:be:af"),
    ("de-ad-00-00-be-af", "de:ad:00:00:be:af"),
    ("de:ad:00:00:be", None),
    ("zz:ad:00:00:be:af", None),
])
def test_normalize_mac(given: str, expected: str | None) -> None:
    assert normalize_mac(given) == expected
