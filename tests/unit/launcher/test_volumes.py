"""volumes.prepare on real files (qemu-img needed): what each source becomes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from virtkube.launcher import volumes
from virtkube.launcher.errors import VolumeError
from virtkube.launcher.isofs import read_iso, volume_label
from virtkube.launcher.paths import HostOptions, RunPaths
from virtkube.launcher.qemuimg import image_format

from .builders import new_vmi
from .test_containerdisk import make_image

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")


def test_prepare_every_source(tmp_path: Path) -> None:
    store, mounts = tmp_path / "store", tmp_path / "mounts"
    make_image(store, "virtkube/tiny", "latest", {"disk/d.raw": b"\0" * 4096})
    (mounts / "vmi-disks" / "pvc").mkdir(parents=True)
    (mounts / "vmi-disks" / "eph").mkdir(parents=True)
    (mounts / "vmi-disks" / "eph" / "disk.img").write_bytes(b"\0" * 4096)
    (mounts / "config-map" / "cm").mkdir(parents=True)
    (mounts / "config-map" / "cm" / "key").write_text("value")
    (mounts / "config-map" / "cm" / "..data").mkdir()
    # The launcher pod mounts the hostDisk's folder at vmi-disks/<volume>/ (KubeVirt's layout).
    (mounts / "vmi-disks" / "hd").mkdir(parents=True)
    host_disk = mounts / "vmi-disks" / "hd" / "disk.img"
    vmi = new_vmi(
        {
            "spec": {
                "domain": {"firmware": {"bootloader": {"efi": {"secureBoot": False}}}},
                "volumes": [
                    {"name": "cd", "containerDisk": {"image": "virtkube/tiny"}},
                    {"name": "pvc", "persistentVolumeClaim": {"claimName": "c"}},
                    {"name": "eph", "ephemeral": {"persistentVolumeClaim": {"claimName": "e"}}},
                    {"name": "empty", "emptyDisk": {"capacity": "64Mi"}},
                    {"name": "hd", "hostDisk": {"path": "/srv/vm/disk.img",
                                                "type": "DiskOrCreate", "capacity": "8Mi"}},
                    {"name": "ci", "cloudInitNoCloud": {"userData": "#!/bin/sh\n"}},
                    {"name": "cm", "configMap": {"name": "x", "volumeLabel": "CFG"}},
                ],
            },
            "status": {"volumeStatus": [{"name": "pvc", "target": "",
                       "persistentVolumeClaimInfo": {"capacity": {"storage": "16Mi"}}}]},
        }
    )  # fmt: skip
    host = HostOptions(image_store=store, mounts_dir=mounts, cache_dir=tmp_path / "cache")
    prepared = volumes.prepare(vmi, RunPaths(tmp_path / "run"), host)
    v = prepared.volumes
    assert v["cd"].format == "qcow2" and image_format(v["cd"].path) == "qcow2"
    assert v["pvc"].path == mounts / "vmi-disks" / "pvc" / "disk.img"
    assert v["pvc"].path.stat().st_size == 16 << 20
    assert v["eph"].format == "qcow2" and v["eph"].path.parent == tmp_path / "run" / "state"
    assert v["empty"].format == "qcow2"
    assert host_disk.stat().st_size == 8 << 20 and v["hd"].path == host_disk
    assert read_iso(v["ci"].path)["user-data"] == b"#!/bin/sh\n"
    assert volume_label(v["ci"].path) == "cidata"
    assert read_iso(v["cm"].path) == {"key": b"value"} and volume_label(v["cm"].path) == "CFG"
    assert prepared.efi_vars is not None and prepared.efi_vars.stat().st_size > 0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"persistentVolumeClaim": {"claimName": "c"}}, "PVC not mounted"),
        ({"hostDisk": {"path": "/nonexistent/x.img", "type": "Disk"}}, "hostDisk not mounted"),
        ({"containerDisk": {"image": "nothere"}}, "not in the OCI image store"),
        ({"secret": {"secretName": "s"}}, "not mounted"),
    ],
)
def test_prepare_errors_name_the_volume(
    tmp_path: Path, source: dict[str, object], message: str
) -> None:
    vmi = new_vmi({"spec": {"volumes": [{"name": "vol", **source}]}})
    host = HostOptions(image_store=tmp_path, mounts_dir=tmp_path / "m", block_dir=tmp_path / "b")
    with pytest.raises(VolumeError, match=message) as info:
        volumes.prepare(vmi, RunPaths(tmp_path / "run"), host)
    assert "volume 'vol'" in str(info.value)
