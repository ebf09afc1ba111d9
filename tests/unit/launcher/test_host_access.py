"""Issue 20: the launcher, called directly, opens nothing outside the directory a file belongs to.

Each case plants a bait file outside the directory (the image store, a blob
folder, a volume's mount) and hands the launcher a name or a symlink that leads
to it; the launcher must refuse, and never return or read the bait.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from virtkube.launcher import cloudinit, containerdisk, safepath, volumes
from virtkube.launcher.errors import ContainerDiskError, LauncherError, VolumeError
from virtkube.launcher.paths import HostOptions, RunPaths

from .builders import new_vmi
from .test_containerdisk import make_image

BAIT = b"host secret: must never be read\n"
needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")


@pytest.fixture
def bait(tmp_path: Path) -> Path:
    path = tmp_path / "host" / "shadow"
    path.parent.mkdir()
    path.write_bytes(BAIT)
    return path


def prepare(tmp_path: Path, *vols: dict[str, object], **host: object) -> volumes.PreparedVolumes:
    vmi = new_vmi({"spec": {"volumes": list(vols)}})
    opts = HostOptions(image_store=tmp_path / "store", mounts_dir=tmp_path / "mounts",
                       block_dir=tmp_path / "dev", cache_dir=tmp_path / "cache", **host)  # type: ignore[arg-type]
    return volumes.prepare(vmi, RunPaths(tmp_path / "run"), opts)


# --- the helper ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../host/shadow", "/etc/shadow", "a/../../host/shadow", "", "."])
def test_names_that_are_not_inside_are_refused(tmp_path: Path, bait: Path, name: str) -> None:
    (tmp_path / "base" / "a").mkdir(parents=True)
    with pytest.raises(safepath.PathEscapeError):
        safepath.read_inside(tmp_path / "base", name, what="key")


def test_symlinks_may_stay_inside_but_not_leave(tmp_path: Path, bait: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "real").write_text("inside")
    (base / "inner").symlink_to("real")
    (base / "outer").symlink_to(bait)
    (base / "dotdot").symlink_to("../host/shadow")
    assert safepath.read_inside(base, "inner", what="key") == b"inside"
    for name in ("outer", "dotdot"):
        with pytest.raises(safepath.PathEscapeError, match="leads outside"):
            safepath.read_inside(base, name, what="key")
    with pytest.raises(safepath.SymlinkError, match="symbolic link"):
        safepath.regular_file(base, "inner", what="disk")


# --- image references and the image store --------------------------------------------------
@pytest.mark.parametrize("image", ["a/b/../../../../../../outside", "../outside:latest",
                                   "../outside", "/outside"])
def test_image_references_that_leave_the_store_are_refused(tmp_path: Path, image: str) -> None:
    make_image(tmp_path, "outside", "latest", {"disk/d.img": BAIT})  # beside the store
    (tmp_path / "store").mkdir()
    with pytest.raises(ContainerDiskError, match=r"not a repository name|not a registry"):
        containerdisk.resolve(image, tmp_path / "store", cache=tmp_path / "cache")


def test_a_repository_symlinked_out_of_the_store_is_refused(tmp_path: Path) -> None:
    make_image(tmp_path, "outside", "latest", {"disk/d.img": BAIT})
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "evil").symlink_to(tmp_path / "outside")
    with pytest.raises(LauncherError, match="leads outside"):
        containerdisk.resolve("evil", tmp_path / "store", cache=tmp_path / "cache")


def _rewrite(path: Path, edit: object) -> None:
    doc = json.loads(path.read_text())
    assert callable(edit)
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("digest", ["sha256:../../../../host/shadow", "../../host/shadow",
                                    "sha256:/etc/shadow", 7])
def test_digests_in_index_json_cannot_leave_blobs(tmp_path: Path, bait: Path,
                                                  digest: object) -> None:
    layout = make_image(tmp_path / "store", "k", "latest", {"disk/d.img": b"disk"})

    def poison(index: dict[str, list[dict[str, object]]]) -> None:
        index["manifests"][0]["digest"] = digest
        index["manifests"][0]["mediaType"] = "application/vnd.oci.image.index.v1+json"

    _rewrite(layout / "index.json", poison)
    with pytest.raises(ContainerDiskError, match="is not a digest"):
        containerdisk.resolve("k", tmp_path / "store", cache=tmp_path / "cache")


def test_a_blob_symlinked_out_of_blobs_is_refused(tmp_path: Path, bait: Path) -> None:
    layout = make_image(tmp_path / "store", "k", "latest", {"disk/d.img": b"disk"})
    index = json.loads((layout / "index.json").read_text())
    manifest = layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    manifest.unlink()
    manifest.symlink_to(bait)
    with pytest.raises(LauncherError, match="leads outside"):
        containerdisk.resolve("k", tmp_path / "store", cache=tmp_path / "cache")


@pytest.mark.parametrize("member", ["../../host/shadow", "/disk/d.img", "disk/../../x"])
def test_layer_members_that_leave_the_image_root_are_refused(tmp_path: Path,
                                                             member: str) -> None:
    make_image(tmp_path / "store", "k", "latest", {"disk/d.img": b"disk", member: BAIT})
    with pytest.raises(ContainerDiskError, match="leaves the image root"):
        containerdisk.resolve("k", tmp_path / "store", cache=tmp_path / "cache")


@pytest.mark.parametrize("path", [None, "/disk/d.img"])
def test_a_symlink_member_is_refused_not_followed(tmp_path: Path, bait: Path,
                                                  path: str | None) -> None:
    make_image(tmp_path / "store", "k", "latest", {}, symlinks={"disk/d.img": str(bait)})
    with pytest.raises(ContainerDiskError, match="is a symbolic link"):
        containerdisk.resolve("k", tmp_path / "store", cache=tmp_path / "cache", path=path)


@pytest.mark.parametrize("member", ["../../host/shadow", "/boot/../../host/shadow", "/"])
def test_files_named_inside_an_image_cannot_leave_it(tmp_path: Path, member: str) -> None:
    make_image(tmp_path / "store", "k", "latest", {"boot/vmlinuz": b"kernel"})
    with pytest.raises(ContainerDiskError, match="not a relative path"):
        containerdisk.extract_file("k", tmp_path / "store", member, cache=tmp_path / "cache")
    with pytest.raises(ContainerDiskError, match="not a relative path"):
        containerdisk.resolve("k", tmp_path / "store", cache=tmp_path / "cache", path=member)


@needs_qemu_img
def test_a_container_disk_with_a_backing_file_is_refused(tmp_path: Path, bait: Path) -> None:
    qcow2 = tmp_path / "evil.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(bait),
                    str(qcow2), "1M"], check=True)
    make_image(tmp_path / "store", "k", "latest", {"disk/d.qcow2": qcow2.read_bytes()})
    with pytest.raises(VolumeError, match="names a backing file"):
        prepare(tmp_path, {"name": "cd", "containerDisk": {"image": "k"}})


# --- PVCs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("link", ["absolute", "relative-out", "inside"])
def test_a_pvc_disk_img_that_is_a_symlink_is_refused(tmp_path: Path, bait: Path,
                                                     link: str) -> None:
    mount = tmp_path / "mounts" / "vmi-disks" / "data"
    mount.mkdir(parents=True)
    (mount / "real.img").write_bytes(b"\0" * 4096)
    target = {"absolute": str(bait), "relative-out": "../../../host/shadow",
              "inside": "real.img"}[link]
    (mount / "disk.img").symlink_to(target)
    with pytest.raises(VolumeError) as info:
        prepare(tmp_path, {"name": "data", "persistentVolumeClaim": {"claimName": "c"}})
    message = str(info.value)
    assert message.startswith("volume 'data': ")
    assert "is a symbolic link" in message and "was not opened" in message
    assert bait.read_bytes() == BAIT


def test_a_pvc_mount_wins_over_a_device_of_the_same_name(tmp_path: Path) -> None:
    """A volume named like a node's disk (`sda`) must not become that disk."""
    if os.geteuid() != 0:
        pytest.skip("mknod of a block device needs root")
    (tmp_path / "dev").mkdir()
    os.mknod(tmp_path / "dev" / "sda", stat.S_IFBLK | 0o600, os.makedev(7, 250))
    mount = tmp_path / "mounts" / "vmi-disks" / "sda"
    mount.mkdir(parents=True)
    (mount / "disk.img").write_bytes(b"\0" * 4096)
    got = prepare(tmp_path, {"name": "sda", "persistentVolumeClaim": {"claimName": "c"}})
    assert got.volumes["sda"].path == mount / "disk.img" and not got.volumes["sda"].block


# --- ConfigMaps, Secrets and cloud-init secrets ----------------------------------------------
def _kubelet_volume(folder: Path, keys: dict[str, bytes]) -> None:
    """The kubelet's atomic-writer layout: keys link into ..data, which links to a dated dir."""
    data = folder / "..2026_01_01_00_00_00.000"
    data.mkdir(parents=True)
    for key, content in keys.items():
        (data / key).write_bytes(content)
        (folder / key).symlink_to(f"..data/{key}")
    (folder / "..data").symlink_to(data.name)


@needs_qemu_img
def test_config_map_keys_may_link_into_data_but_not_out(tmp_path: Path, bait: Path) -> None:
    folder = tmp_path / "mounts" / "config-map" / "cm"
    _kubelet_volume(folder, {"app.conf": b"x=1\n"})
    vol = {"name": "cm", "configMap": {"name": "settings"}}
    assert prepare(tmp_path, vol).volumes["cm"].path.exists()
    (folder / "stolen").symlink_to(bait)
    with pytest.raises(VolumeError, match="volume 'cm': key 'stolen' leads outside"):
        prepare(tmp_path, vol)


@needs_qemu_img
def test_secret_keys_cannot_link_out(tmp_path: Path, bait: Path) -> None:
    folder = tmp_path / "mounts" / "secret" / "sec"
    folder.mkdir(parents=True)
    (folder / "token").symlink_to("../../../host/shadow")
    with pytest.raises(VolumeError, match="volume 'sec': key 'token' leads outside"):
        prepare(tmp_path, {"name": "sec", "secret": {"secretName": "creds"}})


def test_a_cloud_init_secret_key_cannot_link_out(tmp_path: Path, bait: Path) -> None:
    folder = tmp_path / "secret" / "ci"
    folder.mkdir(parents=True)
    (folder / "userdata").symlink_to(bait)
    source = new_vmi({"spec": {"volumes": [
        {"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "ud"}}}]}}).spec.volumes
    assert source and source[0].cloud_init_no_cloud
    with pytest.raises(safepath.PathEscapeError, match="key 'userdata' leads outside"):
        cloudinit.load_source("ci", source[0].cloud_init_no_cloud, tmp_path / "secret")
    (folder / "userdata").unlink()
    (folder / "userData").write_text("#cloud-config\n")
    data = cloudinit.load_source("ci", source[0].cloud_init_no_cloud, tmp_path / "secret")
    assert data.user_data == b"#cloud-config\n"


# --- hostDisk --------------------------------------------------------------------------------
HOST_DISK = {"name": "hd", "hostDisk": {"path": "/etc/shadow", "type": "Disk"}}


def test_a_host_disk_is_the_file_of_its_mount_only(tmp_path: Path, bait: Path) -> None:
    mount = tmp_path / "mounts" / "vmi-disks" / "hd"
    mount.mkdir(parents=True)
    (mount / "shadow").write_bytes(b"\0" * 4096)  # what the pod mounted, not the node's file
    got = prepare(tmp_path, HOST_DISK).volumes["hd"]
    assert got.path == mount / "shadow" and got.format == "raw"


def test_a_host_disk_without_its_mount_opens_nothing(tmp_path: Path) -> None:
    with pytest.raises(VolumeError, match="volume 'hd': hostDisk not mounted"):
        prepare(tmp_path, HOST_DISK)


def test_a_host_disk_file_linking_out_of_its_mount_is_refused(tmp_path: Path,
                                                              bait: Path) -> None:
    mount = tmp_path / "mounts" / "vmi-disks" / "hd"
    mount.mkdir(parents=True)
    (mount / "shadow").symlink_to(bait)
    with pytest.raises(VolumeError, match="volume 'hd': hostDisk image 'shadow' leads outside"):
        prepare(tmp_path, HOST_DISK)


@pytest.mark.parametrize("name", ["../../host", "a/b", "..", "Upper"])
def test_volume_names_that_are_not_labels_are_refused(tmp_path: Path, name: str) -> None:
    """Volume names become paths (vmi-disks/<name>/, state files); admission is not trusted."""
    with pytest.raises(VolumeError, match="not a DNS-1123 label"):
        prepare(tmp_path, {"name": name, "emptyDisk": {"capacity": "1Mi"}})
    assert not list(tmp_path.rglob("*.emptydisk.qcow2")), "a file was made for the volume"
