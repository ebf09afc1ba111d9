"""ISO 9660 images from a dict of files (cloud-init, ConfigMap, Secret disks).

Names in the ISO 9660 tree are generated 8.3 names; the real names live in
the Rock Ridge and Joliet trees, which is what Linux (and cloud-init) and
Windows read. Built with pycdlib, so no genisoimage binary is needed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import pycdlib

#: ISO 9660 volume identifiers hold at most 32 characters.
MAX_LABEL = 32


def write_iso(dest: Path, label: str, files: Mapping[str, bytes]) -> None:
    """Write `files` (relative POSIX paths -> content) as an ISO with volume `label`."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=label[:MAX_LABEL])
    dirs: dict[PurePosixPath, str] = {PurePosixPath("."): ""}
    counter = 0
    for name in sorted(files):
        rel = PurePosixPath(name)
        for parent in reversed(rel.parents):
            if parent in dirs:
                continue
            counter += 1
            iso_dir = f"{dirs[parent.parent]}/D{counter}"
            iso.add_directory(iso_dir, rr_name=parent.name, joliet_path=f"/{parent}")
            dirs[parent] = iso_dir
        counter += 1
        data = files[name]
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            f"{dirs[rel.parent]}/F{counter}.;1",
            rr_name=rel.name,
            joliet_path=f"/{rel}",
        )
    tmp = dest.with_name(dest.name + ".partial")
    iso.write(str(tmp))
    iso.close()
    os.replace(tmp, dest)


def read_iso(path: Path) -> dict[str, bytes]:
    """The files of an ISO by their Rock Ridge paths (for tests and debugging)."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    out: dict[str, bytes] = {}
    try:
        for root, _dirs, names in iso.walk(rr_path="/"):
            for name in names:
                full = f"{root.rstrip('/')}/{name}"
                buf = io.BytesIO()
                iso.get_file_from_iso_fp(buf, rr_path=full)
                out[full.lstrip("/")] = buf.getvalue()
    finally:
        iso.close()
    return out


def volume_label(path: Path) -> str:
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        return str(iso.pvd.volume_identifier.decode().strip())
    finally:
        iso.close()
