"""Recording a VMI phase change on a status dict, as KubeVirt does.

virt-controller (Pending, Scheduling, Scheduled, Failed) and virt-handler
(Running, Succeeded, Failed) both move a VMI's phase; each change also lands
in `status.phaseTransitionTimestamps`, which `kubectl get vmi -o yaml` users
and the benchmarks read. One function, so both owners write it alike.
"""

from __future__ import annotations

from typing import Any


def set_phase(status: dict[str, Any], phase: str, now: str) -> None:
    """Set `status.phase` and keep one transition timestamp per phase (the latest)."""
    if status.get("phase") == phase:
        return
    status["phase"] = phase
    transitions = [t for t in status.get("phaseTransitionTimestamps") or []
                   if t.get("phase") != phase]
    transitions.append({"phase": phase, "phaseTransitionTimestamp": now})
    status["phaseTransitionTimestamps"] = transitions
