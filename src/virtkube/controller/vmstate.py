"""What virt-controller does with a VirtualMachine, decided from the VM and its VMI.

Run strategies as KubeVirt defines them:
- Always: a VMI always exists; a finished one is replaced.
- RerunOnFailure: replaced when it failed, left alone when it succeeded.
- Once: run once; when the VMI finishes the VM is set to Halted.
- Manual: only start/stop requests (status.stateChangeRequests) act.
- Halted: no VMI.
`spec.running: true|false` is the legacy spelling of Always|Halted.

A VMI that keeps failing is restarted with exponential back-off
(status.startFailure, printableStatus CrashLoopBackOff).

`plan` is pure; the reconciler (vm.py) carries it out.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from virtkube.controller.conditions import get_condition, set_condition

Obj = dict[str, Any]
EventKind = Literal["Normal", "Warning"]

FINAL = ("Succeeded", "Failed")
#: Back-off after the n-th consecutive failure: 0 s for the first (a crash
#: should come back at once), then 10 s doubling to 5 minutes, like KubeVirt.
BACKOFF_FIRST, BACKOFF_MAX = 10.0, 300.0
#: A VMI that ran this long before failing resets the failure count.
STABLE_RUN_SECONDS = 60.0
VM_LABEL = "vm.kubevirt.io/name"


@dataclass
class Plan:
    create_vmi: Obj | None = None
    delete_vmi: bool = False
    #: A merge patch for the VM's spec (Once -> Halted), or None.
    spec_patch: Obj | None = None
    status: Obj | None = None
    requeue_after: float | None = None
    events: list[tuple[EventKind, str, str]] = field(default_factory=list)


def run_strategy(vm: Obj) -> str:
    spec = vm.get("spec") or {}
    if spec.get("runStrategy"):
        return str(spec["runStrategy"])
    if spec.get("running") is True:
        return "Always"
    return "Halted"


def backoff_seconds(failures: int) -> float:
    if failures <= 1:
        return 0.0
    return float(min(BACKOFF_FIRST * 2 ** (failures - 2), BACKOFF_MAX))


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_vmi(vm: Obj) -> Obj:
    """The VMI for `vm`: its template, named like the VM, owned by it."""
    meta = vm["metadata"]
    template = copy.deepcopy((vm.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}), VM_LABEL: meta["name"]}
    vmi_meta: Obj = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [{
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True,
        }],
    }
    if tmeta.get("annotations"):
        vmi_meta["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": vmi_meta, "spec": template.get("spec") or {}}


def _owned(vm: Obj, vmi: Obj | None) -> bool:
    if vmi is None:
        return False
    uid = vm["metadata"]["uid"]
    return any(ref.get("uid") == uid for ref in vmi["metadata"].get("ownerReferences") or [])


def _ran_for(vmi: Obj, now: dt.datetime) -> float:
    for t in (vmi.get("status") or {}).get("phaseTransitionTimestamps") or []:
        if t.get("phase") == "Running" and t.get("phaseTransitionTimestamp"):
            return (now - _parse(t["phaseTransitionTimestamp"])).total_seconds()
    return 0.0


def plan(vm: Obj, vmi: Obj | None, now: dt.datetime) -> Plan:
    out = Plan()
    meta = vm["metadata"]
    status: Obj = copy.deepcopy(vm.get("status") or {})
    strategy = run_strategy(vm)
    if vmi is not None and not _owned(vm, vmi):
        # A VMI of the same name not made for this VM: never touch it.
        out.events.append(("Warning", "FailedCreate",
                           f"VirtualMachineInstance {meta['name']} exists and is not owned by "
                           "this VirtualMachine"))
        vmi = None
    phase = (vmi or {}).get("status", {}).get("phase") or ""
    vmi_deleting = bool(vmi and vmi["metadata"].get("deletionTimestamp"))
    finished = vmi is not None and phase in FINAL

    requests: list[Obj] = list(status.get("stateChangeRequests") or [])
    vmi_uid = (vmi or {}).get("metadata", {}).get("uid")

    def stop_matches(req: Obj) -> bool:
        uid = req.get("uid") or (req.get("data") or {}).get("uid")
        return vmi is not None and not vmi_deleting and (not uid or uid == vmi_uid)

    want_stop = any(r.get("action") == "Stop" and stop_matches(r) for r in requests)
    want_start = any(r.get("action") == "Start" for r in requests)

    failure: Obj = dict(status.get("startFailure") or {})
    if (finished and phase == "Failed" and vmi is not None
            and failure.get("lastFailedVMIUID") != vmi_uid):
        count = int(failure.get("consecutiveFailCount") or 0)
        count = 1 if _ran_for(vmi, now) > STABLE_RUN_SECONDS else count + 1
        failure = {"consecutiveFailCount": count, "lastFailedVMIUID": vmi_uid,
                   "retryAfterTimestamp": _fmt(now + dt.timedelta(
                       seconds=backoff_seconds(count)))}

    # None: leave things as they are.
    should_run: bool | None
    if strategy == "Always":
        should_run = True
    elif strategy == "RerunOnFailure":
        should_run = None if finished and phase == "Succeeded" else True
    elif strategy == "Once":
        should_run = None if vmi is not None else True
    elif strategy == "Halted":
        should_run = False
    else:  # Manual
        should_run = None
    if want_stop:
        should_run = False
    elif want_start:
        should_run = True
    if meta.get("deletionTimestamp"):
        should_run = False

    # --- act ------------------------------------------------------------------
    if vmi is not None and not vmi_deleting and (
            should_run is False or (finished and should_run)):
        out.delete_vmi = True
        if not finished:
            out.events.append(("Normal", "SuccessfulDelete",
                               "Stopped the virtual machine by deleting the virtual "
                               f"machine instance {vmi_uid}"))
    if vmi is None and should_run:
        retry_at = failure.get("retryAfterTimestamp")
        wait = (_parse(retry_at) - now).total_seconds() if retry_at else 0.0
        if wait > 0 and strategy in ("Always", "RerunOnFailure") and not want_start:
            out.requeue_after = wait
        else:
            out.create_vmi = new_vmi(vm)
            out.events.append(("Normal", "SuccessfulCreate",
                               "Started the virtual machine by creating the new virtual "
                               f"machine instance {meta['name']}"))
    if strategy == "Once" and finished:
        out.spec_patch = {"spec": {"runStrategy": "Halted"}}
    # A Stop is done when its VMI is going or gone; a Start when a VMI runs or is made.
    remaining = [r for r in requests
                 if (r.get("action") == "Stop" and stop_matches(r) and not out.delete_vmi)
                 or (r.get("action") == "Start" and out.create_vmi is None
                     and (vmi is None or vmi_deleting or finished or out.delete_vmi))]
    if remaining:
        status["stateChangeRequests"] = remaining
    else:
        status.pop("stateChangeRequests", None)

    # --- observe --------------------------------------------------------------
    status["created"] = vmi is not None
    vmi_conds = ((vmi or {}).get("status") or {}).get("conditions") or []
    ready_cond = get_condition(vmi_conds, "Ready")
    ready = bool(vmi and not vmi_deleting and phase == "Running" and ready_cond
                 and ready_cond.get("status") == "True")
    status["ready"] = ready
    stamp = _fmt(now)
    conds = status.get("conditions")
    if vmi is None:
        conds = set_condition(conds, "Ready", "False", reason="VMINotExists",
                              message="VMI does not exist", now=stamp)
    else:
        conds = set_condition(conds, "Ready", "True" if ready else "False",
                              reason=(ready_cond or {}).get("reason", "") if not ready else "",
                              message=(ready_cond or {}).get("message", "") if not ready else "",
                              now=stamp)
    paused = get_condition(vmi_conds, "Paused")
    if paused and paused.get("status") == "True":
        conds = set_condition(conds, "Paused", "True", reason=paused.get("reason", ""),
                              message=paused.get("message", ""), now=stamp)
    else:
        conds = [c for c in conds if c.get("type") != "Paused"]
    status["conditions"] = conds
    if failure:
        status["startFailure"] = failure
    if phase == "Running" and failure and _ran_for(vmi or {}, now) > STABLE_RUN_SECONDS:
        status.pop("startFailure", None)
    status["printableStatus"] = printable_status(
        vm, vmi, strategy=strategy, creating=out.create_vmi is not None,
        backing_off=out.requeue_after is not None)
    if meta.get("generation") is not None:
        status["observedGeneration"] = meta["generation"]
        status["desiredGeneration"] = meta["generation"]
    if status != (vm.get("status") or {}):
        out.status = status
    return out


def printable_status(vm: Obj, vmi: Obj | None, *, strategy: str, creating: bool,
                     backing_off: bool) -> str:
    """KubeVirt's printableStatus, in its order of precedence."""
    if vm["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if vmi is None:
        if backing_off:
            return "CrashLoopBackOff"
        return "Starting" if creating else "Stopped"
    vstatus = vmi.get("status") or {}
    phase = vstatus.get("phase") or ""
    if vmi["metadata"].get("deletionTimestamp"):
        return "Stopping"
    migration = vstatus.get("migrationState") or {}
    if migration.get("startTimestamp") and not migration.get("completed"):
        return "Migrating"
    conds = vstatus.get("conditions") or []
    paused = get_condition(conds, "Paused")
    if paused and paused.get("status") == "True":
        return "Paused"
    if phase == "Running":
        return "Running"
    sched = get_condition(conds, "PodScheduled")
    if sched and sched.get("status") == "False" and sched.get("reason") == "Unschedulable":
        return "ErrorUnschedulable"
    if phase in ("", "Pending", "Scheduling", "Scheduled"):
        return "Starting"
    if phase in FINAL:
        if strategy in ("Always", "RerunOnFailure") and phase == "Failed":
            return "Starting"
        return "Stopped"
    return "Unknown"
