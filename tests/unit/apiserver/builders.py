"""Fixture builders for admission tests: plain manifests, no logic (KubeVirt's libvmi style)."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def new_vmi(name: str = "testvmi", namespace: str = "default", **spec: Any) -> Obj:
    """A minimal valid VMI: one containerDisk on virtio, 128Mi, masquerade on the pod network."""
    base: Obj = {
        "domain": {
            "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}],
                        "interfaces": [{"name": "default", "masquerade": {}}]},
            "resources": {"requests": {"memory": "128Mi"}},
        },
        "networks": [{"name": "default", "pod": {}}],
        "volumes": [{"name": "root", "containerDisk": {"image": "example/disk:1"}}],
    }
    base.update(spec)
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": namespace}, "spec": base}


def new_vm(name: str = "testvm", namespace: str = "default", run_strategy: str | None = "Halted",
           **vm_spec: Any) -> Obj:
    vmi = new_vmi(name, namespace)
    spec: Obj = {"template": {"metadata": {"labels": {"app": name}}, "spec": vmi["spec"]}}
    if run_strategy is not None:
        spec["runStrategy"] = run_strategy
    spec.update(vm_spec)
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": name, "namespace": namespace, "uid": "vm-uid"}, "spec": spec}


def with_path(obj: Obj, path: str, value: Any) -> Obj:
    """A copy of `obj` with the dotted path (ints index lists) set to `value`."""
    out = copy.deepcopy(obj)
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = out
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return out
