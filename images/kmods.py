"""Pick kernel modules and their dependencies out of an unpacked linux-image package.

The Debian package ships no modules.dep (depmod makes it at install time), so the
dependencies are read from each module's ``.modinfo`` ELF section (``depends=``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path


class ModuleError(RuntimeError):
    pass


def _norm(name: str) -> str:
    return name.replace("-", "_")


def modinfo(ko: Path) -> dict[str, list[str]]:
    """The ``key=value`` strings of a module's .modinfo section (ELF64 little-endian)."""
    data = ko.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ModuleError(f"{ko}: not an ELF64 little-endian module")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize
        )
        return name, offset, size

    _, str_off, _ = section(shstrndx)
    info: dict[str, list[str]] = {}
    for i in range(shnum):
        name_off, offset, size = section(i)
        end = data.index(b"\0", str_off + name_off)
        if data[str_off + name_off : end] != b".modinfo":
            continue
        for item in data[offset : offset + size].split(b"\0"):
            key, sep, value = item.decode(errors="replace").partition("=")
            if sep:
                info.setdefault(key, []).append(value)
    return info


@dataclass(frozen=True)
class Module:
    name: str
    path: str  # relative to /lib/modules/<kver>/
    depends: tuple[str, ...]
    aliases: tuple[str, ...]


class ModuleTree:
    """The modules of one kernel: ``<root>/lib/modules/<kver>``."""

    def __init__(self, moddir: Path) -> None:
        self.moddir = moddir
        self.files: dict[str, Path] = {}
        for ko in sorted(moddir.rglob("*.ko")):
            self.files[_norm(ko.name[: -len(".ko")])] = ko
        builtin = moddir / "modules.builtin"
        self.builtin: set[str] = set()
        if builtin.exists():
            for line in builtin.read_text().split():
                self.builtin.add(_norm(Path(line).name.removesuffix(".ko")))
        self._cache: dict[str, Module] = {}

    def module(self, name: str) -> Module:
        name = _norm(name)
        if name not in self._cache:
            ko = self.files[name]
            info = modinfo(ko)
            deps = info.get("depends", [""])[0]
            self._cache[name] = Module(
                name,
                ko.relative_to(self.moddir).as_posix(),
                tuple(_norm(d) for d in deps.split(",") if d),
                tuple(info.get("alias", [])),
            )
        return self._cache[name]

    def aliases(self, name: str) -> tuple[str, ...]:
        return self.module(name).aliases

    def closure(self, wanted: list[str]) -> tuple[list[Module], list[str]]:
        """Modules to load, dependencies first, and the wanted names the kernel lacks."""
        order: list[Module] = []
        done: set[str] = set()
        missing: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            done.add(name)
            if name in self.builtin:
                return
            if name not in self.files:
                missing.append(name)
                return
            mod = self.module(name)
            for dep in mod.depends:
                visit(dep)
            order.append(mod)

        for name in wanted:
            visit(_norm(name))
        return order, missing
