"""What a pod's containers show right now, read from its slots and their shims' files, as the
`PodView` that status.py turns into the Pod's status.

status.py stays a pure function of views (and is unit-tested as one); this module is the
other half of status reporting, the one that looks at the runtime: which attempt runs, its
shim's state, the last exit, the back-off reason a worker left in a slot.
"""

from __future__ import annotations

from dataclasses import replace

from virtkube.local.node.containerlife import Slot, container_id, whole_second
from virtkube.local.node.status import ContainerView, PodView


def pod_view(slots: list[Slot], *, uid: str, image_id: str, host_ip: str, sandbox_ready: bool,
             pod_ip: str | None, start_time: str | None) -> PodView:
    views: list[ContainerView] = []
    inits_done = all(s.exit is not None and s.exit.get("exitCode") == 0
                     for s in slots if s.init)
    for slot in slots:
        restarts = max(0, slot.next_attempt - 1)
        base = ContainerView(name=slot.name, image=str(slot.spec.get("image") or ""),
                             image_id=image_id, restart_count=restarts,
                             last_terminated=slot.last_terminated)
        proc = slot.proc
        if slot.waiting_reason and (proc is None or slot.exit is not None):
            views.append(replace(base, reason=slot.waiting_reason,
                                       message=slot.waiting_message))
        elif proc is None:
            reason = "PodInitializing" if not slot.init and not inits_done \
                else "ContainerCreating"
            views.append(replace(base, reason=reason))
        elif slot.exit is None:
            state = proc.state()
            if "pid" not in state:
                views.append(replace(base, reason="ContainerCreating"))
                continue
            views.append(replace(
                base, state="running", container_id=container_id(uid, slot, proc.attempt),
                started_at=whole_second(state.get("startedAt")), ready=slot.ready,
                started=slot.started))
        else:
            e = slot.exit
            last = slot.last_terminated
            if last and last.get("containerID") == container_id(uid, slot, proc.attempt):
                base = replace(base, last_terminated=None)
            views.append(replace(
                base, state="terminated", container_id=container_id(uid, slot, proc.attempt),
                reason=str(e.get("reason") or ""), message=str(e.get("message") or ""),
                exit_code=int(e.get("exitCode", 0)), signal=e.get("signal"),
                started_at=whole_second(e.get("startedAt")),
                finished_at=whole_second(e.get("finishedAt"))))
    return PodView(host_ip=host_ip, sandbox_ready=sandbox_ready,
                   pod_ip=pod_ip, start_time=start_time,
                   init=[v for v, s in zip(views, slots, strict=True) if s.init],
                   containers=[v for v, s in zip(views, slots, strict=True)
                               if not s.init])
