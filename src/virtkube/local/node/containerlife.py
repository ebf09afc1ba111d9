"""The per-container half of a pod's life on a local node: one `Slot` per container (init or
regular) across its attempts, and what the kubelet does to each of them.

Here: starting an attempt (env, argv, mounts, cgroup limits, a shim through containers.py),
init containers in order before the regular ones, restartPolicy and the crash-loop back-off,
probes and the liveness kill, and stopping processes (SIGTERM, grace, SIGKILL). The pod-level
steps (sandbox, volumes, deletion, status) stay in podworker.py, whose `PodWorker` mixes
`ContainerLifecycle` in: the container steps read the pod's state (its Pod, IP, volumes) as
the worker keeps it, so they are methods of the same object rather than functions handed
half a dozen of its fields.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from virtkube.local.node import cgroups, containers, netns
from virtkube.local.node.containers import ContainerProcess, ContainerSpec, Mount
from virtkube.local.node.env import EnvError, expand
from virtkube.local.node.env import build as build_env
from virtkube.local.node.nodecontext import NodeContext
from virtkube.local.node.probes import Kind, Prober, Result
from virtkube.local.node.quantity import parse_bytes, parse_cpu_millis
from virtkube.local.node.volumes import (
    Volume,
    VolumeError,
    attach_loop,
    ensure_mountpoint,
    hosts_file,
)
from virtkube.local.paths import REPO_ROOT

Obj = dict[str, Any]
#: The kubelet's crash-loop back-off: 10s doubling to 5 min, forgotten after 10 min of running.
BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_RESET = 10.0, 300.0, 600.0


@dataclass
class Slot:
    """One container of the pod (init or regular) across its attempts."""

    spec: Obj
    init: bool
    proc: ContainerProcess | None = None
    exit: Obj | None = None
    last_terminated: Obj | None = None
    next_attempt: int = 0
    backoff: float = 0.0
    delay: float = 0.0
    backoff_until: float = 0.0
    started_mono: float = 0.0
    waiting_reason: str = ""
    waiting_message: str = ""
    ready: bool = False
    started: bool = False
    prober: asyncio.Task[None] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def running(self) -> bool:
        return self.proc is not None and self.exit is None

    def stop_prober(self) -> None:
        if self.prober is not None:
            self.prober.cancel()
            self.prober = None


def container_id(uid: str, slot: Slot, attempt: int) -> str:
    return f"virtkube://{uid}/{slot.name}/{attempt}"


def terminated(exit: Obj, container_id: str) -> Obj:
    """A container's exit (the shim's exit file) as the API's terminated state."""
    t: Obj = {"exitCode": int(exit.get("exitCode", 0)), "reason": exit.get("reason") or "Error",
              "startedAt": whole_second(exit.get("startedAt")),
              "finishedAt": whole_second(exit.get("finishedAt")), "containerID": container_id}
    if exit.get("signal"):
        t["signal"] = exit["signal"]
    if exit.get("message"):
        t["message"] = exit["message"]
    return t


def whole_second(ts: Any) -> str | None:
    """The API's timestamps have second precision; the shim's have microseconds."""
    if not ts:
        return None
    return str(ts).split(".")[0].rstrip("Z") + "Z"


def restart_wanted(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class ContainerLifecycle:
    """The container steps of `PodWorker` (mixed into it; see the module's docstring)."""

    # What the steps read and write of the pod worker (set by PodWorker.__init__).
    ctx: NodeContext
    pod: Obj
    uid: str
    dir: Path
    wake: asyncio.Event
    ip: str | None
    volumes: dict[str, Volume] | None
    slots: list[Slot]

    if TYPE_CHECKING:
        @property
        def netns_name(self) -> str: ...

        async def event(self, kind: str, reason: str, message: str) -> None: ...

    def _poll_exits(self) -> None:
        for slot in self.slots:
            if slot.proc is not None and slot.exit is None:
                slot.exit = slot.proc.exit_state()
                if slot.exit is not None:
                    slot.stop_prober()
                    slot.ready = False

    async def step_containers(self) -> None:
        policy = self.pod["spec"].get("restartPolicy") or "Always"
        inits = [s for s in self.slots if s.init]
        for slot in inits:
            if slot.exit is not None and slot.exit.get("exitCode") == 0:
                continue
            if slot.running:
                return
            if slot.exit is not None and policy == "Never":
                return
            await self._maybe_start(slot, policy)
            return
        for slot in self.slots:
            if slot.init:
                continue
            if slot.running:
                continue
            await self._maybe_start(slot, policy)

    async def _maybe_start(self, slot: Slot, policy: str) -> None:
        if slot.exit is not None:
            code = int(slot.exit.get("exitCode", 0))
            if not slot.init and not restart_wanted(policy, code):
                return
            t = time.monotonic()
            if slot.backoff_until == 0.0:
                # First look at this exit: the kubelet restarts at once the first time, then
                # waits 10s, 20s, ... (forgotten once a container ran for BACKOFF_RESET).
                assert slot.proc is not None
                slot.last_terminated = terminated(slot.exit,
                                                  container_id(self.uid, slot, slot.proc.attempt))
                if t - slot.started_mono > BACKOFF_RESET:
                    slot.backoff = 0.0
                slot.delay = slot.backoff
                slot.backoff_until = t + slot.delay
                slot.backoff = min(max(slot.backoff * 2, BACKOFF_INITIAL), BACKOFF_MAX)
            if t < slot.backoff_until:
                m = self.pod["metadata"]
                slot.waiting_reason = "CrashLoopBackOff"
                slot.waiting_message = (f"back-off {slot.delay:.0f}s restarting failed "
                                        f"container={slot.name} pod={m['name']}_"
                                        f"{m['namespace']}({self.uid})")
                return
        await self.start(slot)

    async def start(self, slot: Slot) -> None:
        c = slot.spec
        assert self.ip is not None and self.volumes is not None
        try:
            env = await build_env(self.pod, c, base=self.ctx.base_env, lookup=self.ctx.lookup,
                                  pod_ip=self.ip, host_ip=self.ctx.node_ip)
        except EnvError as e:
            slot.waiting_reason, slot.waiting_message = "CreateContainerConfigError", str(e)
            await self.event("Warning", "Failed", f"Error: {e}")
            return
        argv = [expand(str(a), env) for a in (c.get("command") or []) + (c.get("args") or [])]
        if not argv:
            slot.waiting_reason = "CreateContainerError"
            slot.waiting_message = (f"{self.ctx.local_image} has no entrypoint: the container "
                                    "needs a command")
            await self.event("Warning", "Failed", f"Error: {slot.waiting_message}")
            return
        try:
            mounts = self._mounts(c)
        except (VolumeError, OSError) as e:
            slot.waiting_reason, slot.waiting_message = "CreateContainerError", str(e)
            await self.event("Warning", "Failed", f"Error: {e}")
            return
        attempt = slot.next_attempt
        cg = cgroups.create(self.ctx.net.cgroup_name, self.uid, f"{slot.name}-{attempt}",
                            cgroup_limits(c))
        spec = ContainerSpec(
            argv=argv, env=env, cwd=str(c.get("workingDir") or REPO_ROOT),
            netns=str(netns.path(self.netns_name)),
            hostname=str(self.pod["spec"].get("hostname") or self.pod["metadata"]["name"]),
            mounts=mounts, cgroups=[str(p) for p in cg])
        slot.backoff_until = 0.0
        slot.started_mono = time.monotonic()
        slot.proc = containers.start(self.dir, slot.name, attempt, spec)
        slot.next_attempt = attempt + 1
        slot.exit = None
        slot.ready = slot.started = False
        slot.waiting_reason = slot.waiting_message = ""
        slot.env = env
        await self.event("Normal", "Started", f"Started container {slot.name} (attempt {attempt})")
        if not slot.init:
            slot.prober = asyncio.create_task(self._probe(slot))

    def _mounts(self, c: Obj) -> list[Mount]:
        assert self.volumes is not None and self.ip is not None
        record = self.ctx.dirs.mountpoints
        out: list[Mount] = []
        hosts = hosts_file(self.pod, self.ip, self.dir / "etc-hosts")
        out.append(Mount(str(hosts), "/etc/hosts", readonly=False))
        for vm in c.get("volumeMounts") or []:
            vol = self.volumes.get(vm["name"])
            if vol is None:
                raise VolumeError(f'volumeMount "{vm["name"]}" names no volume of the pod')
            source = Path(vol.path) / vm["subPath"] if vm.get("subPath") else Path(vol.path)
            if vm.get("subPath") and not source.exists():
                source.mkdir(parents=True)
            target = Path(vm["mountPath"])
            ensure_mountpoint(target, is_file=source.is_file(), record=record)
            out.append(Mount(str(source), str(target),
                             readonly=bool(vm.get("readOnly")) or vol.readonly))
        for vd in c.get("volumeDevices") or []:
            vol = self.volumes.get(vd["name"])
            if vol is None or not vol.block:
                raise VolumeError(f'volumeDevice "{vd["name"]}" needs a Block PVC')
            device = attach_loop(vol.path)
            target = Path(vd["devicePath"])
            ensure_mountpoint(target, is_file=True, record=record)
            out.append(Mount(device, str(target)))
        return out

    async def _probe(self, slot: Slot) -> None:
        proc = slot.proc
        assert proc is not None
        pid: int | None = None
        for _ in range(50):
            pid = proc.state().get("pid")
            if pid or proc.exit_state() is not None:
                break
            await asyncio.sleep(0.1)
        c = slot.spec
        if not c.get("startupProbe"):
            slot.started = True
        if not c.get("readinessProbe"):
            slot.ready = slot.started
        self.wake.set()

        def report(kind: Kind, result: Result) -> None:
            if slot.proc is not proc:
                return
            if kind == "startup" and result.ok:
                slot.started = True
                if not c.get("readinessProbe"):
                    slot.ready = True
            elif kind == "readiness":
                slot.ready = result.ok
            elif kind == "liveness" and not result.ok:
                asyncio.get_running_loop().create_task(self._kill_unhealthy(slot, proc, result))
            if not result.ok:
                asyncio.get_running_loop().create_task(self.event(
                    "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {result.message}"))
            self.wake.set()

        assert self.ip is not None
        await Prober(c, pod_ip=self.ip, pid=pid if isinstance(pid, int) else None,
                     env=slot.env, report=report).run()

    async def _kill_unhealthy(self, slot: Slot, proc: ContainerProcess, result: Result) -> None:
        await self.event("Normal", "Killing", f"Container {slot.name} failed liveness probe, "
                                              "will be restarted")
        grace = float(self.pod["spec"].get("terminationGracePeriodSeconds") or 30)
        await stop_procs([proc], grace)


def cgroup_limits(c: Obj) -> cgroups.Limits:
    res = c.get("resources") or {}
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    return cgroups.Limits(
        memory_bytes=parse_bytes(str(limits["memory"])) if "memory" in limits else None,
        cpu_limit_millis=parse_cpu_millis(str(limits["cpu"])) if "cpu" in limits else None,
        cpu_request_millis=parse_cpu_millis(str(requests["cpu"])) if "cpu" in requests
        else None)


async def stop_procs(procs: list[ContainerProcess], grace: float) -> None:
    """SIGTERM each, wait up to `grace` for them to go, then SIGKILL (and wait up to 5s)."""
    for p in procs:
        p.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    # Adopted shims are not our children: nothing to await but their disappearance.
    while time.monotonic() < deadline and any(p.shim_alive() for p in procs):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    for p in procs:
        p.kill()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(p.shim_alive() for p in procs):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
