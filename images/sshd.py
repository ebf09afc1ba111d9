"""SSH in the tiny guest: Debian's dropbear server, OpenSSH's sftp-server and the shared
libraries they need, picked out of their unpacked .debs.

The busybox guest has no dynamic loader of its own, so the programs' ELF headers say
what comes along: the interpreter (``PT_INTERP``) and every ``DT_NEEDED`` library,
transitively, looked up in the unpacked packages' multiarch folders the way ld.so looks
in the system folders. Only those files go into the initramfs (about 3.5 MB, 1.5 MB
gzip'd), never a package's docs, locales or gconv modules. A library the packages lack
fails the build, naming the program that needs it.

sftp-server is there because OpenSSH's scp (9.0 and later) speaks SFTP by default;
dropbear runs it for the ``sftp`` subsystem from ``/usr/lib/sftp-server`` (Debian's
build), a link to OpenSSH's path.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

#: The packages unpacked for SSH, each pinned by apt's candidate version (cache key).
PACKAGES: tuple[str, ...] = (
    "dropbear-bin",
    "openssh-sftp-server",
    "libtomcrypt1",
    "libtommath1",
    "libgmp10",
    "zlib1g",
    "libcrypt1",
    "libc6",
)

#: Programs copied into the guest, at the same path as in their package.
PROGRAMS: tuple[str, ...] = (
    "usr/sbin/dropbear",
    "usr/bin/dropbearkey",
    "usr/lib/openssh/sftp-server",
)

#: Where dropbear (Debian's build) looks for the sftp subsystem's server.
SFTP_LINK = ("usr/lib/sftp-server", "/usr/lib/openssh/sftp-server")

#: Where shared libraries are looked up in the unpacked packages, and where they go in
#: the guest (a folder on glibc's default search path for Debian's multiarch).
LIB_DIRS: tuple[str, ...] = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")
GUEST_LIB_DIR = "lib/x86_64-linux-gnu"

_DT_NEEDED = 1


class SshdError(RuntimeError):
    """A program or a library it needs is missing from the unpacked packages."""


@dataclass(frozen=True)
class GuestFile:
    path: str  # in the guest, relative, no leading "/"
    data: bytes = b""
    mode: int = 0o755
    link: str | None = None  # a symlink to this target instead of a file


def elf_deps(data: bytes) -> tuple[str | None, list[str]]:
    """The interpreter and the ``DT_NEEDED`` names of an ELF64 little-endian file,
    read from its section headers (``.interp``, ``.dynamic``, ``.dynstr``)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SshdError("not an ELF64 little-endian file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections: dict[str, tuple[int, int]] = {}
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
    names_off = headers[shstrndx][4]
    for name_off, _type, _flags, _addr, offset, size in headers:
        end = data.index(b"\0", names_off + name_off)
        sections[data[names_off + name_off:end].decode()] = (offset, size)
    interp = None
    if ".interp" in sections:
        off, size = sections[".interp"]
        interp = data[off:off + size].rstrip(b"\0").decode()
    needed: list[str] = []
    if ".dynamic" in sections and ".dynstr" in sections:
        dyn_off, dyn_size = sections[".dynamic"]
        str_off, _ = sections[".dynstr"]
        for i in range(0, dyn_size, 16):
            tag, value = struct.unpack_from("<qQ", data, dyn_off + i)
            if tag == 0:
                break
            if tag == _DT_NEEDED:
                end = data.index(b"\0", str_off + value)
                needed.append(data[str_off + value:end].decode())
    return interp, needed


def _resolve(root: Path, rel: str) -> Path:
    """``root/rel`` with symlinks followed inside ``root`` (absolute targets included)."""
    path = root / rel
    for _ in range(16):
        if not path.is_symlink():
            return path
        target = path.readlink()
        path = root / str(target).lstrip("/") if target.is_absolute() else path.parent / target
    raise SshdError(f"{rel}: too many levels of symbolic links")


def _find_lib(root: Path, soname: str) -> Path | None:
    for d in LIB_DIRS:
        path = _resolve(root, f"{d}/{soname}")
        if path.is_file():
            return path
    return None


def guest_files(root: Path) -> list[GuestFile]:
    """The programs, their interpreter and libraries, and the sftp-server link, from
    ``root`` (the packages of PACKAGES unpacked into one folder)."""
    out: dict[str, GuestFile] = {}
    queue: list[tuple[str, bytes]] = []
    for prog in PROGRAMS:
        path = _resolve(root, prog)
        if not path.is_file():
            raise SshdError(f"{prog} is not in the unpacked packages {', '.join(PACKAGES)}")
        data = path.read_bytes()
        out[prog] = GuestFile(prog, data, 0o755)
        queue.append((prog, data))
    while queue:
        who, data = queue.pop()
        interp, needed = elf_deps(data)
        if interp:
            # /lib64/ld-linux-x86-64.so.2: a link to the loader among the libraries.
            base = Path(interp).name
            out[interp.lstrip("/")] = GuestFile(interp.lstrip("/"),
                                                link=f"/{GUEST_LIB_DIR}/{base}")
            needed = [*needed, base]
        for name in needed:
            guest_path = f"{GUEST_LIB_DIR}/{name}"
            if guest_path in out:
                continue
            found = _find_lib(root, name)
            if found is None:
                raise SshdError(f"{who} needs {name}, which none of {', '.join(PACKAGES)} has")
            lib = found.read_bytes()
            # The kernel opens the interpreter for execution: libraries are 0755, as Debian's.
            out[guest_path] = GuestFile(guest_path, lib, 0o755)
            queue.append((guest_path, lib))
    link, target = SFTP_LINK
    out[link] = GuestFile(link, link=target)
    return sorted(out.values(), key=lambda f: f.path)
