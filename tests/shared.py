"""Where KubeVirt's own example manifests are found: the `shared` folder of the workplace.

They are KubeVirt's files and never copied into this repository. The folder sits beside
the checkout (../shared), but CI runs from a clean clone that may live anywhere (a
/tmp/x clone has no ../shared), so it is looked for in order: $KUBEVIRT_EXAMPLES, then
../shared/kubevirt-examples beside the checkout, then the workplace's /work/shared. Tests
that need the examples skip, saying so, only when none of these exists.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = (REPO.parent / "shared" / "kubevirt-examples",
               Path("/work/shared/kubevirt-examples"))


def kubevirt_examples() -> Path:
    """The folder of KubeVirt's example manifests (the first candidate that exists)."""
    env = os.environ.get("KUBEVIRT_EXAMPLES")
    if env:
        return Path(env).resolve()
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate.resolve()
    return _CANDIDATES[0].resolve()


def api_inventory() -> Path:
    """The shared KubeVirt API inventory (../shared beside the checkout, else /work/shared)."""
    for shared in (REPO.parent / "shared", Path("/work/shared")):
        if (shared / "kubevirt-api-inventory.md").is_file():
            return shared / "kubevirt-api-inventory.md"
    return REPO.parent / "shared" / "kubevirt-api-inventory.md"


EXAMPLES = kubevirt_examples()
