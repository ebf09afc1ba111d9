"""`virtctl create vm`: a VirtualMachine manifest from flags, as KubeVirt's virtctl writes it.

Pure: flags in, a dict out (printed as YAML or JSON). Volume flags take
KubeVirt's `key:value,key:value` parameters, e.g.
`--volume-containerdisk src:quay.io/containerdisks/fedora:40,name:root,bootorder:1`.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

#: KubeVirt's defaults: 512Mi without an instancetype, 180 s grace, runStrategy Always.
DEFAULT_MEMORY = "512Mi"
DEFAULT_GRACE = 180
DEFAULT_RUN_STRATEGY = "Always"


class ParamError(ValueError):
    """A flag value that is not `key:value,...` with known keys."""


def parse_params(flag: str, value: str, allowed: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(","):
        key, sep, val = part.partition(":")
        if not sep or not val:
            raise ParamError(f"--{flag} {value!r}: expected key:value pairs, got {part!r}")
        if key not in allowed:
            raise ParamError(f"--{flag}: unknown parameter {key!r} (use {', '.join(allowed)})")
        out[key] = val
    return out


@dataclass
class VMFlags:
    name: str | None = None
    run_strategy: str = DEFAULT_RUN_STRATEGY
    memory: str | None = None
    instancetype: str | None = None
    preference: str | None = None
    termination_grace_period: int = DEFAULT_GRACE
    containerdisks: list[str] = field(default_factory=list)
    pvcs: list[str] = field(default_factory=list)
    blanks: list[str] = field(default_factory=list)
    cloud_init_user_data: str | None = None
    user: str | None = None
    ssh_keys: list[str] = field(default_factory=list)


def _matcher(value: str, cluster_kind: str, namespaced_kind: str) -> Obj:
    """`name` or `kind/name` (virtualmachineinstancetype/x), KubeVirt's shorthand."""
    kind, sep, name = value.partition("/")
    if not sep:
        return {"name": value}
    lowered = kind.lower()
    if lowered in (namespaced_kind.lower(), "vminstancetype", "vmf", "vmpref", "vmp"):
        return {"kind": namespaced_kind, "name": name}
    return {"kind": cluster_kind, "name": name}


def _volume_name(params: dict[str, str], index: int, prefix: str) -> str:
    return params.get("name") or f"{prefix}-{index}"


def vm_manifest(flags: VMFlags) -> Obj:
    name = flags.name or f"vm-{secrets.token_hex(3)}"
    domain: Obj = {"devices": {}, "resources": {}}
    spec: Obj = {"domain": domain, "terminationGracePeriodSeconds": flags.termination_grace_period}
    vm_spec: Obj = {"runStrategy": flags.run_strategy,
                    "template": {"metadata": {"creationTimestamp": None}, "spec": spec}}
    if flags.instancetype:
        vm_spec["instancetype"] = _matcher(flags.instancetype,
                                           "VirtualMachineClusterInstancetype",
                                           "VirtualMachineInstancetype")
    if flags.preference:
        vm_spec["preference"] = _matcher(flags.preference, "VirtualMachineClusterPreference",
                                         "VirtualMachinePreference")
    if not flags.instancetype:
        domain["memory"] = {"guest": flags.memory or DEFAULT_MEMORY}
    volumes: list[Obj] = []
    disks: list[Obj] = []

    def add(volume: Obj, params: dict[str, str]) -> None:
        volumes.append(volume)
        if "bootorder" in params:
            disks.append({"name": volume["name"], "bootOrder": int(params["bootorder"])})

    for i, value in enumerate(flags.containerdisks):
        p = parse_params("volume-containerdisk", value, ("src", "name", "bootorder"))
        if "src" not in p:
            raise ParamError("--volume-containerdisk needs src:<image>")
        add({"name": _volume_name(p, i, f"{name}-containerdisk"),
             "containerDisk": {"image": p["src"]}}, p)
    for value in flags.pvcs:
        p = parse_params("volume-pvc", value, ("src", "name", "bootorder"))
        if "src" not in p:
            raise ParamError("--volume-pvc needs src:<claim name>")
        add({"name": p.get("name") or p["src"],
             "persistentVolumeClaim": {"claimName": p["src"]}}, p)
    for i, value in enumerate(flags.blanks):
        p = parse_params("volume-blank", value, ("size", "name"))
        if "size" not in p:
            raise ParamError("--volume-blank needs size:<quantity>")
        add({"name": _volume_name(p, i, f"{name}-blank"),
             "emptyDisk": {"capacity": p["size"]}}, p)
    cloud = _cloud_init(flags)
    if cloud is not None:
        volumes.append({"name": "cloudinitdisk", "cloudInitNoCloud": cloud})
    if disks:
        domain["devices"]["disks"] = disks
    if volumes:
        spec["volumes"] = volumes
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"creationTimestamp": None, "name": name},
            "spec": vm_spec, "status": {}}


def _cloud_init(flags: VMFlags) -> Obj | None:
    if flags.cloud_init_user_data:
        try:
            base64.b64decode(flags.cloud_init_user_data, validate=True)
        except ValueError as e:
            raise ParamError("--cloud-init-user-data must be base64") from e
        return {"userDataBase64": flags.cloud_init_user_data}
    if not flags.user and not flags.ssh_keys:
        return None
    lines = ["#cloud-config"]
    if flags.user:
        lines.append(f"user: {flags.user}")
    if flags.ssh_keys:
        lines.append("ssh_authorized_keys:")
        lines += [f"  - {key}" for key in flags.ssh_keys]
    return {"userData": "\n".join(lines) + "\n"}
