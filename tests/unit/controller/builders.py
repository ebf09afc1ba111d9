"""Fixture builders for controller tests: plain objects, no logic (like KubeVirt's libvmi)."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

VM_UID = "11111111-2222-3333-4444-555555555555"
VMI_UID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
NOW = "2026-11-29T12:00:00Z"


def new_vm(*, run_strategy: str | None = "Always", status: Obj | None = None,
           running: bool | None = None, deleting: bool = False) -> Obj:
    spec: Obj = {"template": {"metadata": {"labels": {"app": "demo"}},
                              "spec": {"domain": {"devices": {}, "memory": {"guest": "64Mi"}}}}}
    if run_strategy is not None:
        spec["runStrategy"] = run_strategy
    if running is not None:
        spec["running"] = running
    meta: Obj = {"name": "demo", "namespace": "default", "uid": VM_UID, "generation": 1}
    if deleting:
        meta["deletionTimestamp"] = NOW
    vm: Obj = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": meta,
               "spec": spec}
    if status is not None:
        vm["status"] = status
    return vm


def new_vmi(*, phase: str | None = None, owned: bool = True, uid: str = VMI_UID,
            conditions: list[Obj] | None = None, deleting: bool = False,
            finalizers: list[str] | None = None, ran_since: str | None = None,
            spec: Obj | None = None, labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": "demo", "namespace": "default", "uid": uid, "resourceVersion": "7"}
    if owned:
        meta["ownerReferences"] = [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                    "name": "demo", "uid": VM_UID, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = NOW
    if finalizers is not None:
        meta["finalizers"] = finalizers
    if labels is not None:
        meta["labels"] = labels
    vmi: Obj = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                "metadata": meta,
                "spec": spec or {"domain": {"devices": {}, "memory": {"guest": "64Mi"}}}}
    status: Obj = {}
    if phase is not None:
        status["phase"] = phase
    if conditions is not None:
        status["conditions"] = conditions
    if ran_since is not None:
        status["phaseTransitionTimestamps"] = [{"phase": "Running",
                                                "phaseTransitionTimestamp": ran_since}]
    if status:
        vmi["status"] = status
    return vmi


def new_pod(*, phase: str = "Pending", node: str | None = None, deleting: bool = False,
            conditions: list[Obj] | None = None, compute_exit: int | None = None) -> Obj:
    meta: Obj = {"name": "virt-launcher-demo-aaaaa", "namespace": "default", "uid": "pod-uid",
                 "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": VMI_UID}}
    if deleting:
        meta["deletionTimestamp"] = NOW
    status: Obj = {"phase": phase}
    if conditions is not None:
        status["conditions"] = conditions
    if compute_exit is not None:
        status["containerStatuses"] = [{"name": "compute", "state": {
            "terminated": {"exitCode": compute_exit}}}]
    spec: Obj = {"containers": [{"name": "compute"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}
