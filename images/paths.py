"""Where the built guest images live, for tests and tools.

Kept free of build-time imports so that tests can import it cheaply.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout root: images/ sits directly below it.
REPO_ROOT = Path(__file__).resolve().parent.parent


def images_dir() -> Path:
    """The published images: ``$VIRTKUBE_IMAGES`` if set, else ``<checkout>/build/images``."""
    override = os.environ.get("VIRTKUBE_IMAGES")
    if override:
        return Path(override)
    return REPO_ROOT / "build" / "images"


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/virtkube/images``: one folder per build key."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "virtkube" / "images"


def tiny_raw() -> Path:
    return images_dir() / "tiny.raw"


def tiny_qcow2() -> Path:
    return images_dir() / "tiny.qcow2"


def tiny_vmlinux() -> Path:
    return images_dir() / "tiny-kernel" / "vmlinux"


def tiny_initramfs() -> Path:
    return images_dir() / "tiny-kernel" / "initramfs.gz"
