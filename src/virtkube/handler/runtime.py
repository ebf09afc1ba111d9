"""Domain state -> VMI runtime status, as a pure function.

virt-handler owns these facts of a VMI (KubeVirt's split): phase Running,
Succeeded, Failed; the Paused condition; the launcher's image version; the
reason a guest ended. Scheduling facts stay the controller's, and so does
Ready while the guest runs: it follows the launcher pod's readiness (the
VMI's readinessProbe), which only the controller sees. The handler sets Ready
False when the guest pauses or stops, in the same write as that change.
"""

from __future__ import annotations

import copy
from typing import Any

from virtkube.api.phases import set_phase
from virtkube.hlcom.protocol import Domain

Obj = dict[str, Any]

FINAL = ("Succeeded", "Failed")


def _set_condition(status: Obj, ctype: str, value: str, reason: str, message: str,
                   now: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    prev = next((c for c in status.get("conditions") or [] if c.get("type") == ctype), None)
    cond: Obj = {"type": ctype, "status": value, "lastProbeTime": None,
                 "lastTransitionTime": prev.get("lastTransitionTime")
                 if prev and prev.get("status") == value else now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    conds.append(prev if prev == cond else cond)
    status["conditions"] = sorted(conds, key=lambda c: str(c.get("type")))


def _drop_condition(status: Obj, ctype: str) -> None:
    if any(c.get("type") == ctype for c in status.get("conditions") or []):
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != ctype]


def runtime_status(vmi: Obj, domain: Domain, *, now: str, launcher_version: str,
                   interfaces: list[Obj] | None = None) -> Obj:
    """The VMI's status with what `domain` says; equal to the old one when nothing changed.

    `interfaces` is status.interfaces as the network set-up knows it (None: leave as is).
    """
    status: Obj = copy.deepcopy(vmi.get("status") or {})
    if status.get("phase") in FINAL:
        return status
    status["launcherContainerImageVersion"] = launcher_version
    if interfaces is not None and domain.state not in ("pending", "shutdown", "crashed"):
        status["interfaces"] = interfaces
    state = domain.state
    if state in ("running", "shutting-down"):
        set_phase(status, "Running", now)
        _drop_condition(status, "Paused")
    elif state == "paused":
        set_phase(status, "Running", now)
        _set_condition(status, "Paused", "True", "PausedByUser",
                       "VMI was paused by user", now)
        _set_condition(status, "Ready", "False", "Paused", "VMI is paused", now)
    elif state == "shutdown":
        set_phase(status, "Succeeded", now)
        _set_condition(status, "Ready", "False", "GuestNotRunning",
                       f"the guest stopped ({domain.reason or 'shutdown'})", now)
        _drop_condition(status, "Paused")
    elif state in ("crashed", "guest-panicked"):
        set_phase(status, "Failed", now)
        status["reason"] = "GuestPanicked" if state == "guest-panicked" else "QemuCrashed"
        _set_condition(status, "Ready", "False", "GuestNotRunning",
                       domain.error or domain.reason or state, now)
        _drop_condition(status, "Paused")
    return status
