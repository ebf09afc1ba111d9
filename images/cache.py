"""Build folders named by the hash of their inputs, shared by the image builders.

A build happens in a scratch folder beside its final name and is renamed into place
whole, under a lock, so a crash or a second ``make`` never sees half an image; the
newest few entries stay so that switching branches back and forth does not rebuild.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached(root: Path, key: str, build: Callable[[Path], None], *, keep: int,
           log: Callable[[str], None], force: bool = False) -> Path:
    """``root/key``, made by ``build(empty folder)`` unless a complete one (it has a
    manifest.json) is there already; then all but the ``keep`` newest entries go."""
    final = root / key
    with locked(root / f"{key}.lock"):
        if final.is_dir() and (final / "manifest.json").exists() and not force:
            log(f"cached: {final}")
            return final
        work = root / f"{key}.build-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            build(work)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    builds = [p for p in root.iterdir() if p.is_dir() and (p / "manifest.json").exists()]
    builds.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [p for p in builds if p != final][keep - 1:]:
        log(f"pruning old build {old.name}")
        shutil.rmtree(old, ignore_errors=True)
        (root / f"{old.name}.lock").unlink(missing_ok=True)
    return final
