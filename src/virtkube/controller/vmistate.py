"""What virt-controller does with a VMI, decided from the VMI and its pods alone.

The controller owns the scheduling half of a VMI's life: Pending (seen) ->
Scheduling (launcher pod created) -> Scheduled (pod running on a node,
`status.nodeName` set). virt-handler takes it from there (Running,
Succeeded, Failed). The controller also marks a VMI Failed when its pod
fails or disappears (a failed liveness probe stops the compute container,
which ends the VMI), and lets a deleted VMI go once its pod is gone.

Ready is the guest running and the launcher pod ready (KubeVirt's
syncReadyConditionFromPod): while the guest runs unpaused the controller
copies the pod's Ready condition, so a readinessProbe on the VMI (copied onto
the compute container) gates it. virt-handler, which sees the guest, sets it
False the moment the guest pauses or stops, in the same write as the phase;
it never sets it True.

`plan` is pure: the reconciler (vmi.py) carries out what it returns.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from virtkube.api.phases import set_phase
from virtkube.controller.conditions import get_condition, set_condition

Obj = dict[str, Any]

FINALIZER = "kubevirt.io/foregroundDeleteVirtualMachine"
NODE_NAME_LABEL = "kubevirt.io/nodeName"
FINAL_PHASES = ("Succeeded", "Failed")
HANDLER_PHASES = ("Running", *FINAL_PHASES)

EventKind = Literal["Normal", "Warning"]


@dataclass
class Plan:
    create_pod: bool = False
    delete_pods: list[str] = field(default_factory=list)
    #: The VMI to write back (metadata and status together: no /status here), or None.
    vmi: Obj | None = None
    events: list[tuple[EventKind, str, str]] = field(default_factory=list)


def launcher_pod_name(vmi: Obj) -> str:
    """Deterministic, so a second create after a crash is AlreadyExists, never a twin."""
    meta = vmi["metadata"]
    return f"virt-launcher-{meta['name']}-{meta['uid'][:5]}"


def _pod_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def _pod_failure(pod: Obj) -> str | None:
    """Why a pod counts as failed, or None."""
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        return status.get("message") or status.get("reason") or "launcher pod failed"
    for cs in status.get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if cs.get("name") == "compute" and term and term.get("exitCode", 0) != 0:
            return (f"virt-launcher exited with code {term.get('exitCode')}"
                    + (f": {term['message']}" if term.get("message") else ""))
    return None


def _pod_succeeded(pod: Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        return True
    for cs in status.get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if cs.get("name") == "compute" and term and term.get("exitCode", 1) == 0:
            return True
    return False


def _unschedulable(pod: Obj) -> Obj | None:
    cond = get_condition((pod.get("status") or {}).get("conditions"), "PodScheduled")
    if cond and cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
        return cond
    return None


def _pod_running(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and bool(pod["spec"].get("nodeName"))


def _set_phase(vmi: Obj, phase: str, now: str) -> None:
    set_phase(vmi.setdefault("status", {}), phase, now)


def plan(vmi: Obj, pods: list[Obj], now: str, *, pod_expected: bool = False) -> Plan:
    """Decide the next step for `vmi`, given the launcher pods it owns.

    `pod_expected`: this controller created the pod moments ago and its cache
    has not shown it yet; an absent pod then means "not seen yet", not "gone".
    """
    out = Plan()
    new = copy.deepcopy(vmi)
    meta = new["metadata"]
    status = new.setdefault("status", {})
    phase = status.get("phase") or ""
    live = [p for p in pods if not _pod_terminating(p)]

    if meta.get("deletionTimestamp"):
        out.delete_pods = [p["metadata"]["name"] for p in live]
        if not pods and FINALIZER in (meta.get("finalizers") or []):
            meta["finalizers"] = [f for f in meta["finalizers"] if f != FINALIZER]
        return _finish(out, vmi, new)

    if phase in FINAL_PHASES:
        out.delete_pods = [p["metadata"]["name"] for p in live]
        return _finish(out, vmi, new)

    if pod_expected and not pods:
        return out  # our pod is on its way into the cache; nothing to decide yet
    if FINALIZER not in (meta.get("finalizers") or []):
        meta["finalizers"] = [*(meta.get("finalizers") or []), FINALIZER]
    if phase == "":
        _set_phase(new, "Pending", now)
        phase = "Pending"

    if not pods:
        if phase == "Pending":
            out.create_pod = True
            _set_phase(new, "Scheduling", now)
            out.events.append(("Normal", "SuccessfulCreate",
                               f"Created virtual machine pod {launcher_pod_name(vmi)}"))
        else:
            _set_phase(new, "Failed", now)
            status["reason"] = "PodNotExists"
            out.events.append(("Warning", "Stopped",
                               "The virt-launcher pod disappeared; the VMI failed"))
        return _finish(out, vmi, new)

    pod = pods[0]
    failure = _pod_failure(pod)
    if failure is not None and phase not in FINAL_PHASES:
        _set_phase(new, "Failed", now)
        status["reason"] = "PodFailed"
        out.events.append(("Warning", "Stopped", failure))
        return _finish(out, vmi, new)
    if _pod_succeeded(pod) and phase not in FINAL_PHASES:
        _set_phase(new, "Succeeded", now)
        out.events.append(("Normal", "Stopped", "The virtual machine stopped"))
        return _finish(out, vmi, new)

    unsched = _unschedulable(pod)
    if unsched is not None:
        if phase == "Pending":
            _set_phase(new, "Scheduling", now)
        status["conditions"] = set_condition(
            status.get("conditions"), "PodScheduled", "False", reason="Unschedulable",
            message=str(unsched.get("message") or ""), now=now)
        return _finish(out, vmi, new)
    if get_condition(status.get("conditions"), "PodScheduled") and pod["spec"].get("nodeName"):
        status["conditions"] = [c for c in status["conditions"]
                                if c.get("type") != "PodScheduled"]

    if phase == "Pending":
        _set_phase(new, "Scheduling", now)
        phase = "Scheduling"
    if _pod_running(pod) and phase == "Scheduling":
        node = pod["spec"]["nodeName"]
        _set_phase(new, "Scheduled", now)
        status["nodeName"] = node
        meta.setdefault("labels", {})[NODE_NAME_LABEL] = node
        out.events.append(("Normal", "SuccessfulHandOver",
                           f"VirtualMachineInstance is scheduled on node {node}"))
    if pod["spec"].get("nodeName"):
        status["activePods"] = {pod["metadata"]["uid"]: pod["spec"]["nodeName"]}
    if phase == "Running" and not _paused(status):
        _ready_from_pod(status, pod, now)
    return _finish(out, vmi, new)


def _paused(status: Obj) -> bool:
    cond = get_condition(status.get("conditions"), "Paused")
    return bool(cond and cond.get("status") == "True")


def _ready_from_pod(status: Obj, pod: Obj, now: str) -> None:
    """Ready of a running, unpaused guest: the launcher pod's Ready condition."""
    if _pod_terminating(pod):
        value, reason, message = "False", "PodTerminating", "virt-launcher pod is terminating"
    else:
        cond = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
        if cond is None:
            value, reason, message = ("False", "PodConditionMissing",
                                      "virt-launcher pod is missing the Ready condition")
        else:
            value = str(cond.get("status") or "False")
            reason, message = str(cond.get("reason") or ""), str(cond.get("message") or "")
    status["conditions"] = set_condition(status.get("conditions"), "Ready", value,
                                         reason=reason, message=message, now=now)


def _finish(out: Plan, old: Obj, new: Obj) -> Plan:
    if new.get("status") == {} and "status" not in old:
        new.pop("status")
    if new != old:
        out.vmi = new
    return out
