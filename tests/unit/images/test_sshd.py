"""The guest's SSH files: programs, the loader and the libraries their ELF headers name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from images import sshd

#: A dynamically linked program and the libc it needs, from the (Debian) host.
HOST_PROGRAM = Path("/bin/true")
HOST_LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")
HOST_LOADER = Path("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")

needs_host = pytest.mark.skipif(
    not all(p.exists() for p in (HOST_PROGRAM, HOST_LIBC, HOST_LOADER)),
    reason="needs a Debian x86_64 host's /bin/true and glibc")


@needs_host
def test_elf_deps_read_the_interpreter_and_needed_libraries() -> None:
    interp, needed = sshd.elf_deps(HOST_PROGRAM.read_bytes())
    assert interp == "/lib64/ld-linux-x86-64.so.2"
    assert needed == ["libc.so.6"]
    with pytest.raises(sshd.SshdError, match="not an ELF64"):
        sshd.elf_deps(b"#!/bin/sh\n")


def _unpacked(root: Path) -> Path:
    """Packages as dpkg-deb -x leaves them: programs, libraries under the multiarch folder,
    the loader's /lib64 link absolute (libc6's)."""
    for prog in sshd.PROGRAMS:
        (root / prog).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HOST_PROGRAM, root / prog)
    libs = root / "lib/x86_64-linux-gnu"
    libs.mkdir(parents=True)
    shutil.copy(HOST_LIBC, libs / "libc.so.6.real")
    (libs / "libc.so.6").symlink_to("libc.so.6.real")
    shutil.copy(HOST_LOADER, libs / "ld-linux-x86-64.so.2")
    (root / "lib64").mkdir()
    (root / "lib64/ld-linux-x86-64.so.2").symlink_to("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    return root


@needs_host
def test_guest_files_are_the_closure_and_nothing_else(tmp_path: Path) -> None:
    files = {f.path: f for f in sshd.guest_files(_unpacked(tmp_path))}
    assert sorted(files) == sorted([
        *sshd.PROGRAMS, "lib/x86_64-linux-gnu/libc.so.6",
        "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2",
        "usr/lib/sftp-server"])
    assert files["lib/x86_64-linux-gnu/libc.so.6"].data == HOST_LIBC.read_bytes()
    assert files["lib64/ld-linux-x86-64.so.2"].link == (
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    assert files["usr/lib/sftp-server"].link == "/usr/lib/openssh/sftp-server"
    # The kernel opens the loader for execution: every file is executable.
    assert all(f.mode == 0o755 for f in files.values() if f.link is None)


@needs_host
def test_a_missing_library_fails_the_build_naming_who_needs_it(tmp_path: Path) -> None:
    root = _unpacked(tmp_path)
    (root / "lib/x86_64-linux-gnu/libc.so.6").unlink()
    with pytest.raises(sshd.SshdError, match=r"needs libc\.so\.6"):
        sshd.guest_files(root)
