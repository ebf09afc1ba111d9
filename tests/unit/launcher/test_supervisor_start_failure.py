"""A QEMU that dies at start is reported with its exit code, argv and stderr tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtkube.launcher.errors import QemuLaunchError
from virtkube.launcher.paths import HostOptions, RunPaths
from virtkube.launcher.supervisor import Supervisor

from .builders import new_vmi


async def test_failed_start_reports_exit_code_argv_and_stderr(tmp_path: Path) -> None:
    fake = tmp_path / "fake-qemu"
    fake.write_text("#!/bin/sh\necho 'qemu-system-x86_64: -device bogus: not found' >&2\nexit 1\n")
    fake.chmod(0o755)
    paths = RunPaths(tmp_path / "run")
    paths.run_dir.mkdir()
    sup = Supervisor(paths, HostOptions(accel="tcg", qemu=str(fake)))
    try:
        with pytest.raises(QemuLaunchError) as info:
            await sup.sync(new_vmi())
    finally:
        await sup.close()
    err = info.value
    assert err.exit_code == 1
    assert err.argv[0] == str(fake) and "-machine" in err.argv
    assert "-device bogus: not found" in err.stderr_tail
    text = str(err)
    assert "exit code: 1" in text and "-device bogus" in text and str(fake) in text
    domain = sup.domain()
    assert domain.state == "crashed" and domain.error and "exit code: 1" in domain.error
