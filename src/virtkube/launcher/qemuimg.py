"""Disk image files: qcow2 overlays and sparse images, made with qemu-img.

Only this module runs qemu-img, so the formats and options the launcher
creates are decided in one place.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, cast

from virtkube.launcher.errors import LauncherError

QEMU_IMG = os.environ.get("VIRTKUBE_QEMU_IMG", "qemu-img")


class QemuImgError(LauncherError):
    """qemu-img failed; the message carries its command and stderr."""


def _run(*args: str) -> str:
    argv = [QEMU_IMG, *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise QemuImgError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def _info(path: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(_run("info", "--output=json", "-U", str(path))))


def image_format(path: Path) -> str:
    """The format qemu-img detects for `path` ("qcow2", "raw", ...)."""
    return cast(str, _info(path)["format"])


def standalone_format(path: Path) -> str:
    """The format of an image that makes QEMU open no other file.

    A qcow2 header can name a backing file or an external data file by any path
    (`/etc/shadow`); QEMU would open that path too. An image from a container (a
    containerDisk) must stand alone, as KubeVirt requires.
    """
    info = _info(path)
    backing = info.get("backing-filename")
    data_file = ((info.get("format-specific") or {}).get("data") or {}).get("data-file")
    for what, other in (("a backing file", backing), ("an external data file", data_file)):
        if other:
            raise QemuImgError(f"{path} names {what} ({other!r}); refused: an image from a "
                               "container must not open other files")
    return cast(str, info["format"])


def create_overlay(base: Path, overlay: Path, *, base_format: str | None = None) -> None:
    """A fresh qcow2 overlay whose backing file is `base`, never written to.

    Always recreated: an overlay is the ephemeral state of one VMI run. Without a
    `base_format` the base's format is probed, and a base that opens other files refused.
    """
    fmt = base_format or standalone_format(base)
    overlay.unlink(missing_ok=True)
    # Absolute, but links not resolved: a containerDisk's /proc/<pid>/root/... would
    # resolve to the launcher's own root (virtkube.launcher.diskcontainer).
    _run("create", "-q", "-f", "qcow2", "-F", fmt, "-b", os.path.abspath(base), str(overlay))


def create_qcow2(path: Path, size_bytes: int) -> None:
    """A sparse qcow2 of `size_bytes` (emptyDisk)."""
    _run("create", "-q", "-f", "qcow2", str(path), str(size_bytes))


def create_raw(path: Path, size_bytes: int) -> None:
    """A sparse raw image of `size_bytes` (PVC disk.img, hostDisk DiskOrCreate).

    A raw file is what KubeVirt creates there: other tools can read it as-is.
    """
    with path.open("xb") as f:
        f.truncate(size_bytes)
