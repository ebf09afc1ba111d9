"""A reproducible ``newc`` cpio writer (the initramfs format the kernel unpacks).

Entries are written in sorted path order, with fixed inode numbers, owners and mtimes,
so equal inputs give byte-identical archives.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass

_MAGIC = b"070701"


@dataclass(frozen=True)
class Entry:
    path: str  # relative, no leading "/"
    mode: int  # full st_mode, including the file type bits
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def file(path: str, data: bytes, perm: int = 0o644) -> Entry:
    return Entry(path, stat.S_IFREG | perm, data)


def directory(path: str, perm: int = 0o755) -> Entry:
    return Entry(path, stat.S_IFDIR | perm)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, stat.S_IFLNK | 0o777, target.encode())


def chardev(path: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    return Entry(path, stat.S_IFCHR | perm, rdev=(major, minor))


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def _record(ino: int, entry: Entry, mtime: int) -> bytes:
    name = entry.path.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (
        ino,
        entry.mode,
        0,
        0,
        nlink,
        mtime,
        len(entry.data),
        0,
        0,
        entry.rdev[0],
        entry.rdev[1],
        len(name),
        0,
    )
    header = _MAGIC + b"".join(b"%08X" % f for f in fields)
    return header + name + _pad4(len(header) + len(name)) + entry.data + _pad4(len(entry.data))


def archive(entries: list[Entry], *, mtime: int) -> bytes:
    """Serialise ``entries`` (sorted by path; duplicates are an error) into newc cpio."""
    seen: set[str] = set()
    out: list[bytes] = []
    for ino, entry in enumerate(sorted(entries, key=lambda e: e.path), start=1):
        if entry.path in seen:
            raise ValueError(f"duplicate cpio entry {entry.path}")
        seen.add(entry.path)
        out.append(_record(ino, entry, mtime))
    out.append(_record(0, Entry("TRAILER!!!", 0), 0))
    return b"".join(out)
