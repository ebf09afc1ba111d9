"""Small helpers for tests against a live cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

T = TypeVar("T")

#: The shared folder beside the checkout holds KubeVirt's own example manifests.
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "kubevirt-examples"


def examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES.is_dir() else []


def kind_of(path: Path) -> str:
    return str(yaml.safe_load(path.read_text())["kind"])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0,
             interval: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy; fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last saw {last!r}")
