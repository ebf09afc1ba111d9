"""The launcher reaches a containerDisk through its container's process: the real
`container-disk` program (images/containerdisk/), compiled here, listens; the launcher finds
its pid by the socket and opens the disk under /proc/<pid>/root, refusing what leaves it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from virtkube.launcher import diskcontainer
from virtkube.launcher.errors import ContainerDiskError

SOURCE = Path(__file__).resolve().parents[3] / "images" / "containerdisk" / "container-disk.c"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is missing: the launcher image build needs it too")
    out = tmp_path_factory.mktemp("cd") / "container-disk"
    subprocess.run(["gcc", "-static", "-Os", "-s", "-o", str(out), str(SOURCE)], check=True)
    return out


@pytest.fixture
def served(program: Path, tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    folder = tmp_path / "container-disks"
    folder.mkdir()
    proc = subprocess.Popen([str(program), "--copy-path", str(folder / "rootdisk")])
    try:
        yield folder, proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_launcher_finds_the_disk_containers_root(
        served: tuple[Path, subprocess.Popen[bytes]], tmp_path: Path) -> None:
    folder, proc = served
    root = diskcontainer.container_root(folder, "rootdisk", timeout=10)
    assert root == Path(f"/proc/{proc.pid}/root")
    # Same mount namespace here, so the disk container's root is this one: a file of the
    # test's tmp dir stands for the image's /disk/ file.
    disk = tmp_path / "disk"
    disk.mkdir()
    (disk / "guest.qcow2").write_bytes(b"QFI\xfb")
    rel = str(disk.relative_to("/"))
    assert diskcontainer.disk_file(root, "img", f"/{rel}/guest.qcow2") == root / rel / "guest.qcow2"


def test_sigterm_removes_the_socket(served: tuple[Path, subprocess.Popen[bytes]]) -> None:
    folder, proc = served
    diskcontainer.container_root(folder, "rootdisk", timeout=10)
    proc.terminate()
    assert proc.wait(10) == 0
    assert not diskcontainer.socket_path(folder, "rootdisk").exists()


def test_symlinks_and_missing_disks_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "disk").mkdir(parents=True)
    (root / "disk" / "a.img").symlink_to("/etc/hostname")
    with pytest.raises(ContainerDiskError, match="symbolic link"):
        diskcontainer.disk_file(root, "img")
    (root / "disk" / "a.img").unlink()
    with pytest.raises(ContainerDiskError, match="exactly one file"):
        diskcontainer.disk_file(root, "img")
    with pytest.raises(ContainerDiskError, match="not in the image"):
        diskcontainer.disk_file(root, "img", "/disk/b.img")
    with pytest.raises(ContainerDiskError, match="not a path inside the image"):
        diskcontainer.disk_file(root, "img", "/disk/../../x")


def test_a_missing_container_times_out_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ContainerDiskError, match=r"did not serve .* socket does not exist"):
        diskcontainer.container_root(tmp_path, "rootdisk", timeout=0.3)


def test_a_folder_on_the_way_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.img").write_bytes(b"x")
    (root / "disk").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ContainerDiskError, match="not a folder"):
        diskcontainer.disk_file(root, "img")
    with pytest.raises(ContainerDiskError, match="not a folder"):
        diskcontainer.disk_file(root, "img", "/disk/x.img")
