"""virt-handler's flags (handler.main)."""

from __future__ import annotations

from pathlib import Path

from virtkube.handler.main import parse_args


def test_device_plugins_dir_defaults_to_the_kubelets() -> None:
    args = parse_args(["--node-name", "n"])
    assert args.device_plugins_dir == Path("/var/lib/kubelet/device-plugins")
    args = parse_args(["--node-name", "n", "--device-plugins-dir", "/x/device-plugins"])
    assert args.device_plugins_dir == Path("/x/device-plugins")
