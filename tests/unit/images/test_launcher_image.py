"""The virt-launcher image's pure parts: a folder becomes the same layer every time, with
what a container needs of it kept (images/oci.py tar_tree), and the builder's inputs."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import pytest
from images import launcher, oci

MTIME = 1704067200
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def _tree(root: Path, *, order: list[str]) -> Path:
    """A small root file system; ``order`` changes the order its files are made in."""
    root.mkdir()
    (root / "usr/bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "var/lib/qemu").mkdir(parents=True)
    for name in order:
        path = root / "usr/bin" / name
        path.write_bytes(name.encode() * 100)
        path.chmod(0o755)
    (root / "usr/bin/su").write_bytes(b"setuid")
    (root / "usr/bin/su").chmod(0o4755)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (root / "bin").symlink_to("usr/bin")
    os.link(root / "usr/bin/qemu", root / "usr/bin/hardlink")
    os.mkfifo(root / "etc/fifo")
    for path in root.rglob("*"):
        os.utime(path, (os.getpid(), os.getpid()), follow_symlinks=False)
    return root


def _layer(root: Path, out: Path) -> tuple[str, dict[str, tarfile.TarInfo]]:
    digest = oci.tar_tree(root, out, mtime=MTIME)
    with tarfile.open(out) as tar:
        return digest, {m.name: m for m in tar.getmembers()}


def test_the_same_tree_gives_the_same_layer(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", order=["qemu", "python3", "dnsmasq"])
    b = _tree(tmp_path / "b", order=["dnsmasq", "qemu", "python3"])
    os.utime(b / "etc/passwd", (1, 1))
    da, _ = _layer(a, tmp_path / "a.tar")
    db, _ = _layer(b, tmp_path / "b.tar")
    assert da == db
    assert da == hashlib.sha256((tmp_path / "a.tar").read_bytes()).hexdigest()


def test_a_changed_file_changes_the_layer(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", order=["qemu"])
    da, _ = _layer(a, tmp_path / "a.tar")
    (a / "etc/passwd").write_text("changed\n")
    db, _ = _layer(a, tmp_path / "b.tar")
    assert da != db


def test_modes_links_and_order_are_kept_and_devices_dropped(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root", order=["qemu", "python3"])
    _, members = _layer(root, tmp_path / "l.tar")
    names = list(members)
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert names.index("usr") < names.index("usr/bin") < names.index("usr/bin/qemu")
    assert "etc/fifo" not in members
    assert members["usr/bin/su"].mode == 0o4755
    assert members["usr/bin/qemu"].mode == 0o755
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
    hard = members["usr/bin/qemu"], members["usr/bin/hardlink"]
    # The first in name order holds the data; the other links to it.
    assert hard[0].islnk() and hard[0].linkname == "usr/bin/hardlink" and hard[1].isreg()
    assert {m.mtime for m in members.values()} == {MTIME}
    assert {(m.uname, m.gname) for m in members.values()} == {("", "")}


@ROOT_ONLY
def test_numeric_owners_are_kept(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root", order=["qemu"])
    os.chown(root / "var/lib/qemu", 107, 107)
    _, members = _layer(root, tmp_path / "l.tar")
    assert (members["var/lib/qemu"].uid, members["var/lib/qemu"].gid) == (107, 107)
    assert (members["etc/passwd"].uid, members["etc/passwd"].gid) == (0, 0)


def test_long_names_survive(tmp_path: Path) -> None:
    root = tmp_path / "root"
    deep = root / "opt/virtkube/lib/python3.11/site-packages" / ("k" * 60) / ("m" * 80)
    deep.mkdir(parents=True)
    (deep / ("v1beta1_" + "x" * 90 + ".py")).write_text("pass\n")
    _, members = _layer(root, tmp_path / "l.tar")
    assert any(n.endswith("x" * 90 + ".py") and len(n) > 255 for n in members)


def test_a_tree_layer_is_a_whole_image(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root", order=["qemu"])
    a = oci.write_image(tmp_path / "a", [], tree=root, ref="dev", mtime=MTIME, labels={},
                        run_config=launcher.RUN_CONFIG, image_name=launcher.LAUNCHER_REF)
    b = oci.write_image(tmp_path / "b", [], tree=root, ref="dev", mtime=MTIME, labels={},
                        run_config=launcher.RUN_CONFIG, image_name=launcher.LAUNCHER_REF)
    assert a.manifest_digest == b.manifest_digest
    with pytest.raises(ValueError):
        oci.write_image(tmp_path / "c", [oci.LayerFile("/x", root / "etc/passwd")], tree=root,
                        ref="dev", mtime=MTIME, labels={})


def test_the_image_runs_the_launcher_from_its_venv() -> None:
    assert launcher.RUN_CONFIG["Entrypoint"] == [
        "/opt/virtkube/bin/python", "-m", "virtkube.launcher"]
    assert launcher.LAUNCHER_REF == "registry:5000/virtkube/virt-launcher:dev"
    assert launcher.launcher_layout().parent.parent == launcher.launcher_dir()


def test_the_qemu_user_is_added_once(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\n")
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    launcher.add_qemu_user(tmp_path)
    launcher.add_qemu_user(tmp_path)
    assert (etc / "passwd").read_text().count("qemu:x:107:107:") == 1
    assert (etc / "group").read_text().splitlines() == ["root:x:0:", "qemu:x:107:"]
    assert not (etc / "shadow").exists()


def test_apt_list_names_follow_apt() -> None:
    assert (launcher.apt_list_prefix("http://deb.debian.org/debian-security", "bookworm-security")
            == "deb.debian.org_debian-security_dists_bookworm-security_")


def test_the_key_follows_the_archive_state(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    for uri, suite in launcher.SOURCES:
        prefix = launcher.apt_list_prefix(uri, suite)
        (lists / f"{prefix}InRelease").write_text(f"Date: 1 {suite}\n")
        (lists / f"{prefix}main_binary-amd64_Packages.lz4").write_bytes(b"p")
    found = launcher.apt_lists(lists)
    wheels = [launcher.Wheel("pyyaml", "6.0")]
    one = launcher.Inputs(found, wheels, "1.3.5-7").key()
    assert one == launcher.Inputs(found, wheels, "1.3.5-7").key()
    assert one != launcher.Inputs(found, [launcher.Wheel("pyyaml", "6.1")], "1.3.5-7").key()
    # A newer archive (apt-get update) can resolve other versions: a new key.
    (lists / f"{launcher.apt_list_prefix(*launcher.SOURCES[0])}InRelease").write_text("Date: 2\n")
    assert launcher.Inputs(found, wheels, "1.3.5-7").key() != one


def test_missing_lists_say_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(launcher.BuildError, match="apt-get update"):
        launcher.apt_lists(tmp_path)


def test_runtime_requirements_are_the_venvs_closure(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["pydantic>=2"]\n')
    got = {w.name: w.version for w in launcher.runtime_requirements(pyproject)}
    assert {"pydantic", "pydantic-core", "typing-extensions", "pip"} <= set(got)
    assert "pytest" not in got


def test_mmdebstrap_reads_the_host_lists_and_shares_the_deb_cache(tmp_path: Path) -> None:
    argv = launcher.mmdebstrap_argv(tmp_path / "root", lists=[Path("/l/InRelease")],
                                    debs=tmp_path / "debs", wheels=tmp_path / "w",
                                    pip_wheel="pip-1-py3-none-any.whl")
    assert "--skip=update" in argv and "--mode=root" in argv
    assert f"--include={','.join(launcher.PACKAGES)}" in argv
    assert argv[-3:] == [f"deb {u} {s} main" for u, s in launcher.SOURCES]
    hooks = " ".join(argv)
    assert "/l/InRelease" in hooks and f"sync-out /var/cache/apt/archives {tmp_path}/debs" in hooks
    assert "--invalidation-mode checked-hash" in hooks
