"""Fixture builders for launcher tests (like KubeVirt's libvmi): data in, no logic."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext, KernelFiles, ResolvedVolume

RUN = Path("/run/vk")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

BASE: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachineInstance",
    "metadata": {"name": "testvmi", "namespace": "default"},
    "spec": {"domain": {"devices": {}, "memory": {"guest": "128Mi"}}},
}


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def new_vmi(patch: dict[str, Any] | None = None) -> VirtualMachineInstance:
    return VirtualMachineInstance.model_validate(merge(BASE, patch or {}))


def volume(name: str, fmt: str = "raw", **kw: Any) -> ResolvedVolume:
    return ResolvedVolume(path=RUN / "state" / f"{name}.{fmt}", format=fmt, **kw)  # type: ignore[arg-type]


def new_ctx(**overrides: Any) -> DomainContext:
    fields: dict[str, Any] = {
        "run_dir": RUN,
        "accel": "tcg",
        "qmp_socket": RUN / "qmp.sock",
        "serial_socket": RUN / "serial0.sock",
        "vnc_socket": RUN / "vnc.sock",
        "efi_vars": RUN / "state" / "efi-vars.fd",
        "kernel": KernelFiles(kernel=RUN / "kernel", initrd=RUN / "initrd"),
        "now": NOW,
    }
    fields.update(overrides)
    return DomainContext(**fields)
