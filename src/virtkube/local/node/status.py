"""Pod status from the node's runtime view, as a pure function (the kubelet's rules).

Phase follows the kubelet's getPhase: Pending while an init container has not succeeded
or a container waits to start for the first time; Running while any container runs (or
restarts, under restartPolicy Always / OnFailure); Succeeded when every container exited 0;
Failed when one failed and will not be restarted. Conditions are the five the kubelet
writes (PodReadyToStartContainers, Initialized, ContainersReady, Ready, and the
scheduler's PodScheduled kept as it is); a condition's lastTransitionTime changes only when
its status does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["waiting", "running", "terminated"]
Obj = dict[str, Any]


@dataclass(frozen=True)
class ContainerView:
    name: str
    image: str
    state: State = "waiting"
    reason: str = ""
    message: str = ""
    image_id: str = ""
    container_id: str = ""
    restart_count: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    #: The previous attempt's terminated state, already in the API's shape.
    last_terminated: Obj | None = None
    ready: bool = False
    started: bool = False


@dataclass(frozen=True)
class PodView:
    host_ip: str
    sandbox_ready: bool = False
    pod_ip: str | None = None
    start_time: str | None = None
    init: list[ContainerView] = field(default_factory=list)
    containers: list[ContainerView] = field(default_factory=list)


def terminated_state(c: ContainerView) -> Obj:
    t: Obj = {"exitCode": c.exit_code if c.exit_code is not None else 0,
              "reason": c.reason or ("Completed" if c.exit_code == 0 else "Error"),
              "startedAt": c.started_at, "finishedAt": c.finished_at}
    if c.signal:
        t["signal"] = c.signal
    if c.message:
        t["message"] = c.message
    if c.container_id:
        t["containerID"] = c.container_id
    return t


def container_status(c: ContainerView) -> Obj:
    state: Obj
    if c.state == "running":
        state = {"running": {"startedAt": c.started_at}}
    elif c.state == "terminated":
        state = {"terminated": terminated_state(c)}
    else:
        waiting: Obj = {"reason": c.reason or "ContainerCreating"}
        if c.message:
            waiting["message"] = c.message
        state = {"waiting": waiting}
    out: Obj = {
        "name": c.name, "image": c.image, "imageID": c.image_id,
        "state": state,
        "lastState": {"terminated": c.last_terminated} if c.last_terminated else {},
        "ready": c.ready, "restartCount": c.restart_count,
        "started": c.started if c.state == "running" else False,
    }
    if c.container_id:
        out["containerID"] = c.container_id
    return out


def _init_done(view: PodView) -> bool:
    return all(c.state == "terminated" and c.exit_code == 0 for c in view.init)


def phase(restart_policy: str, view: PodView) -> str:
    for c in view.init:
        if (c.state == "terminated" and c.exit_code != 0 and restart_policy == "Never"):
            return "Failed"
    if not _init_done(view):
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for c in view.containers:
        if c.state == "running":
            running += 1
        elif c.state == "terminated":
            stopped += 1
            succeeded += c.exit_code == 0
        elif c.last_terminated is not None:
            stopped += 1
            succeeded += c.last_terminated.get("exitCode") == 0
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if restart_policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    if restart_policy == "Never":
        return "Failed"
    return "Running"


def _condition(ctype: str, ok: bool, now: str, previous: dict[str, Obj], reason: str = "",
               message: str = "") -> Obj:
    status = "True" if ok else "False"
    prev = previous.get(ctype)
    since = prev["lastTransitionTime"] if prev and prev.get("status") == status else now
    cond: Obj = {"type": ctype, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": since}
    if not ok and reason:
        cond["reason"] = reason
        if message:
            cond["message"] = message
    return cond


def pod_status(pod: Obj, view: PodView, now: str) -> Obj:
    """The whole `status` the node owns for `pod`, given what runs."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    previous = {c["type"]: c for c in old.get("conditions") or []}
    ph = phase(spec.get("restartPolicy") or "Always", view)
    terminal = ph in ("Succeeded", "Failed")

    not_init = [c.name for c in view.init if not (c.state == "terminated" and c.exit_code == 0)]
    unready = [c.name for c in view.containers if not c.ready]
    initialized = not not_init
    containers_ready = not unready and not terminal
    ready_reason = "PodCompleted" if terminal else "ContainersNotReady"
    ready_msg = "" if terminal else f"containers with unready status: [{' '.join(unready)}]"
    conditions = [
        _condition("PodReadyToStartContainers", view.sandbox_ready and not terminal, now,
                   previous),
        _condition("Initialized", initialized, now, previous,
                   "PodCompleted" if terminal else "ContainersNotInitialized",
                   "" if terminal else
                   f"containers with incomplete status: [{' '.join(not_init)}]"),
        _condition("Ready", containers_ready, now, previous, ready_reason, ready_msg),
        _condition("ContainersReady", containers_ready, now, previous, ready_reason,
                   ready_msg),
        previous.get("PodScheduled") or _condition("PodScheduled", True, now, previous),
    ]
    status: Obj = {
        "phase": ph,
        "conditions": conditions,
        "hostIP": view.host_ip,
        "hostIPs": [{"ip": view.host_ip}],
        "podIP": view.pod_ip,
        "podIPs": [{"ip": view.pod_ip}] if view.pod_ip else None,
        "startTime": view.start_time,
        "initContainerStatuses": [container_status(c) for c in view.init] or None,
        "containerStatuses": [container_status(c) for c in view.containers],
    }
    if old.get("qosClass"):
        status["qosClass"] = old["qosClass"]
    return status
