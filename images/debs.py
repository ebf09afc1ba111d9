"""Debian packages as build inputs: resolve exact versions, download, extract.

The guest's contents come from ``apt-get download`` + ``dpkg-deb -x`` into a scratch
folder, never from the host's /boot or /bin, so the host's own packages do not leak in.
Host tools that shape the output (syslinux, mtools, ...) are pinned by their installed
version, which goes into the cache key too.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


class DebError(RuntimeError):
    """A package could not be resolved, downloaded or unpacked."""


@dataclass(frozen=True)
class Deb:
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"


def _run(argv: list[str], *, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise DebError(f"{argv[0]} not found: is this a Debian host?") from exc
    if proc.returncode != 0:
        raise DebError(
            f"{' '.join(argv)} failed with exit code {proc.returncode}: {proc.stderr.strip()}"
        )
    return proc.stdout


def candidate(name: str) -> Deb:
    """The version ``apt-get install`` would pick now."""
    out = _run(["apt-cache", "policy", name])
    match = re.search(r"^\s*Candidate:\s*(\S+)", out, re.MULTILINE)
    if not match or match.group(1) == "(none)":
        raise DebError(f"no installable version of {name}; run `apt-get update` first")
    return Deb(name, match.group(1))


def kernel_image(meta: str = "linux-image-amd64") -> Deb:
    """Follow the kernel metapackage to the versioned image package it depends on."""
    meta_deb = candidate(meta)
    out = _run(["apt-cache", "show", "--no-all-versions", meta_deb.spec])
    match = re.search(r"^Depends:.*?\b(linux-image-[0-9][^\s,(]*)", out, re.MULTILINE)
    if not match:
        raise DebError(f"{meta}: cannot find the linux-image package it depends on")
    return candidate(match.group(1))


def installed_version(name: str) -> str:
    """The installed version of a host tool's package (part of the cache key)."""
    try:
        return _run(["dpkg-query", "-W", "-f", "${Version}", name]).strip()
    except DebError as exc:
        raise DebError(
            f"host package {name} is not installed; apt-get install the packages "
            "listed in images/apt-packages.txt"
        ) from exc


def filename_prefix(deb: Deb) -> str:
    # apt-get download names files <name>_<version with ':' as %3a>_<arch>.deb
    return f"{deb.name}_{deb.version.replace(':', '%3a')}_"


def download(deb: Deb, into: Path) -> Path:
    """Fetch one exact version into ``into`` (reused when already there)."""
    into.mkdir(parents=True, exist_ok=True)
    prefix = filename_prefix(deb)
    found = sorted(p for p in into.glob("*.deb") if p.name.startswith(prefix))
    if not found:
        _run(["apt-get", "download", "-q", deb.spec], cwd=into)
        found = sorted(p for p in into.glob("*.deb") if p.name.startswith(prefix))
    if not found:
        raise DebError(f"apt-get download {deb.spec} left no {prefix}*.deb in {into}")
    return found[0]


def extract(deb_file: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    _run(["dpkg-deb", "-x", str(deb_file), str(into)])
    return into
