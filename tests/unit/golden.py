"""Golden files: what a pure renderer must produce, reviewed as a diff when it changes."""

from __future__ import annotations

import os
from pathlib import Path


def assert_golden(golden: Path, rendered: str) -> None:
    """`rendered` must equal the file; UPDATE_GOLDEN=1 rewrites it instead (then review the
    diff before committing)."""
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered)
    assert golden.exists(), f"{golden} is missing; run with UPDATE_GOLDEN=1 and review"
    assert rendered == golden.read_text(), (
        f"{golden} is stale; rerun with UPDATE_GOLDEN=1 and review")
