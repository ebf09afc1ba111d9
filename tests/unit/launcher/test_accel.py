from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from virtkube.launcher import accel

PROBE_SOURCE = Path(accel.__file__).with_name("kvm_probe.S")


def test_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(accel.ENV_OVERRIDE, "tcg")
    assert accel.detect() == "tcg"
    monkeypatch.setenv(accel.ENV_OVERRIDE, "KVM")
    assert accel.detect() == "kvm"


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="no QEMU")
def test_probe_sector_boots_under_tcg() -> None:
    """The probe itself is sound: under emulation it always reports back."""
    assert accel.probe_boot(accel="tcg")


@pytest.mark.skipif(shutil.which("as") is None, reason="no GNU as")
def test_probe_sector_matches_its_source(tmp_path: Path) -> None:
    obj, binary = tmp_path / "p.o", tmp_path / "p.bin"
    subprocess.run(["as", "--32", "-o", obj, PROBE_SOURCE], check=True)
    subprocess.run(
        ["ld", "-m", "elf_i386", "-Ttext", "0x7c00", "-e", "start", "--oformat", "binary",
         "-o", binary, obj],
        check=True, capture_output=True,
    )  # fmt: skip
    assert binary.read_bytes() == accel.probe_sector()
