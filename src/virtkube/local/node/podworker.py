"""One pod's life on a local node: sandbox, volumes, init containers, containers, probes,
status, and deletion, driven level-triggered by one asyncio task per pod.

`sync` reads the latest Pod and what runs (processes and files, never memory alone) and
takes the next step; it is woken by the pod's watch events, by probe results, and every
`TICK` seconds to notice exits. Everything it needs to resume lives under the pod's state
dir (record.json + one run dir per container attempt), so a node killed at any line and
started again adopts its pods with `PodWorker.adopt`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import shutil
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.events import EventRecorder
from virtkube.kube.resources import PODS
from virtkube.local.node import cgroups, cni, containers, netns
from virtkube.local.node.containers import ContainerProcess, ContainerSpec, Mount
from virtkube.local.node.env import EnvError, expand
from virtkube.local.node.env import build as build_env
from virtkube.local.node.layout import ClusterNet, NodeDirs
from virtkube.local.node.probes import Kind, Prober, Result
from virtkube.local.node.quantity import parse_bytes, parse_cpu_millis
from virtkube.local.node.status import ContainerView, PodView, phase, pod_status
from virtkube.local.node.volumes import (
    Volume,
    VolumeError,
    VolumeMaker,
    attach_loop,
    detach_loops,
    ensure_mountpoint,
    hosts_file,
)
from virtkube.local.paths import REPO_ROOT

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: How often a worker looks at its processes when nothing woke it.
TICK = 0.5
#: The kubelet's crash-loop back-off: 10s doubling to 5 min, forgotten after 10 min of running.
BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_RESET = 10.0, 300.0, 600.0
#: Grace for pods when the node itself stops (the supervisor gives the node 15s in all).
SHUTDOWN_GRACE = 5.0


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class NodeContext:
    """What every pod worker of one node shares."""

    client: Client
    events: EventRecorder
    net: ClusterNet
    dirs: NodeDirs
    index: int
    node_name: str
    node_ip: str
    service_cidr: str
    local_image: str
    image_id: str
    volumes: VolumeMaker
    lookup: Any  # env.DataLookup
    base_env: dict[str, str]


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


def _terminated(exit: Obj, container_id: str) -> Obj:
    t: Obj = {"exitCode": int(exit.get("exitCode", 0)), "reason": exit.get("reason") or "Error",
              "startedAt": _second(exit.get("startedAt")),
              "finishedAt": _second(exit.get("finishedAt")), "containerID": container_id}
    if exit.get("signal"):
        t["signal"] = exit["signal"]
    if exit.get("message"):
        t["message"] = exit["message"]
    return t


def _second(ts: Any) -> str | None:
    """The API's timestamps have second precision; the shim's have microseconds."""
    if not ts:
        return None
    return str(ts).split(".")[0].rstrip("Z") + "Z"


def restart_wanted(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class PodWorker:
    def __init__(self, ctx: NodeContext, pod: Obj) -> None:
        self.ctx = ctx
        self.pod = pod
        self.uid = str(pod["metadata"]["uid"])
        self.dir = ctx.dirs.pod(self.uid)
        self.wake = asyncio.Event()
        self.gone = False
        self.done = False
        self.ip: str | None = None
        self.sandbox_ready = False
        self.start_time: str | None = None
        self.volumes: dict[str, Volume] | None = None
        self.slots = [Slot(c, True) for c in pod["spec"].get("initContainers") or []] + \
            [Slot(c, False) for c in pod["spec"].get("containers") or []]
        self.last_status: Obj | None = None
        self.reported: set[tuple[str, str]] = set()
        self.released = False

    # --- identity and files ------------------------------------------------

    @property
    def key(self) -> str:
        m = self.pod["metadata"]
        return f"{m['namespace']}/{m['name']}"

    @property
    def netns_name(self) -> str:
        return self.ctx.net.netns_name(self.uid)

    def container_id(self, slot: Slot, attempt: int) -> str:
        return f"virtkube://{self.uid}/{slot.name}/{attempt}"

    def _save_record(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        m = self.pod["metadata"]
        (self.dir / "record.json").write_text(json.dumps({
            "namespace": m["namespace"], "name": m["name"], "uid": self.uid,
            "ip": self.ip, "startTime": self.start_time, "netns": self.netns_name,
            "released": self.released}) + "\n")

    def adopt(self) -> list[str]:
        """Pick up what a previous run of this node left for this pod; returns notes for an
        Event when something could not be kept."""
        notes: list[str] = []
        try:
            record = json.loads((self.dir / "record.json").read_text())
        except (OSError, ValueError):
            return notes
        self.start_time = record.get("startTime")
        sandbox_alive = record.get("ip") and netns.exists(self.netns_name)
        if sandbox_alive:
            self.ip = record["ip"]
            self.sandbox_ready = True
        for slot in self.slots:
            numbers = containers.attempts(self.dir, slot.name)
            if not numbers:
                continue
            slot.next_attempt = numbers[-1] + 1
            if len(numbers) > 1:
                prev = containers.adopt(containers.container_dir(self.dir, slot.name)
                                        / str(numbers[-2]))
                if prev is not None and (e := prev.exit_state()) is not None:
                    slot.last_terminated = _terminated(
                        e, self.container_id(slot, numbers[-2]))
            proc = containers.adopt(containers.container_dir(self.dir, slot.name)
                                    / str(numbers[-1]))
            if proc is None:
                continue
            if not sandbox_alive and proc.shim_alive():
                # Its network is gone: the container cannot be kept.
                proc.kill()
                deadline = time.monotonic() + 2.0
                while proc.shim_alive() and time.monotonic() < deadline:
                    time.sleep(0.02)
            slot.proc = proc
            slot.exit = proc.exit_state()
            if slot.exit is None and not slot.init:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    slot.env = json.loads((proc.run_dir / "spec.json").read_text())["env"]
                slot.started_mono = time.monotonic()
                slot.prober = asyncio.get_running_loop().create_task(self._probe(slot))
        if record.get("released"):
            self.ip, self.released = record.get("ip"), True
        elif record.get("ip") and not sandbox_alive:
            notes.append("Pod sandbox changed, it will be killed and re-created.")
        return notes

    # --- the loop ----------------------------------------------------------

    def update(self, pod: Obj | None) -> None:
        if pod is None:
            self.gone = True
        else:
            self.pod = pod
        self.wake.set()

    async def run(self) -> None:
        while not self.done:
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod %s: sync failed", self.key)
                await asyncio.sleep(1.0)
            if self.done:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), TICK)
            self.wake.clear()

    async def event(self, kind: str, reason: str, message: str) -> None:
        if (reason, message) in self.reported:
            return
        self.reported.add((reason, message))
        obj = {"apiVersion": "v1", "kind": "Pod", "metadata": self.pod["metadata"]}
        await self.ctx.events.record(obj, kind, reason, message)  # type: ignore[arg-type]

    def _poll_exits(self) -> None:
        for slot in self.slots:
            if slot.proc is not None and slot.exit is None:
                slot.exit = slot.proc.exit_state()
                if slot.exit is not None:
                    slot.stop_prober()
                    slot.ready = False

    async def sync(self) -> None:
        meta = self.pod["metadata"]
        if self.gone or meta.get("deletionTimestamp"):
            grace = float(meta.get("deletionGracePeriodSeconds")
                          or self.pod["spec"].get("terminationGracePeriodSeconds") or 30)
            await self.terminate(grace)
            await self.release(final=True)
            if not self.gone:
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await self.ctx.client.delete(PODS, meta["name"], meta["namespace"],
                                                 grace_period_seconds=0,
                                                 preconditions={"uid": self.uid})
            self.done = True
            return
        if self.start_time is None:
            self.start_time = now()
        self._poll_exits()
        if phase(self.pod["spec"].get("restartPolicy") or "Always",
                 self.view()) in ("Succeeded", "Failed"):
            # The kubelet stops a finished pod's sandbox at once; its status stays.
            if not self.released:
                await self.terminate(0)
                await self.release(final=False)
            await self.write_status()
            return
        foreign = [s for s in self.slots if s.spec.get("image") != self.ctx.local_image]
        if foreign:
            for s in foreign:
                s.waiting_reason = "ErrImageNeverPull"
                s.waiting_message = (
                    f"virtkube's local node runs only image {self.ctx.local_image}; "
                    f'"{s.spec.get("image")}" cannot be pulled or run here')
                await self.event("Warning", "ErrImageNeverPull",
                                 f'Container image "{s.spec.get("image")}" is not available on '
                                 f"the local node, which runs only {self.ctx.local_image} "
                                 "(the code of this checkout)")
            await self.write_status()
            return
        if not await self.ensure_sandbox() or not await self.ensure_volumes():
            await self.write_status()
            return
        await self.step_containers()
        await self.write_status()

    # --- sandbox and volumes -----------------------------------------------

    async def _attach(self, path: Path) -> cni.Attachment:
        """CNI ADD; a VM's launcher pod first asks for its VM's own address (stable across
        restarts of the VM on this node) and takes any free one when that is in use."""
        m = self.pod["metadata"]
        ctx = self.ctx
        args = cni.k8s_args(m["namespace"], m["name"], self.uid)

        async def add(extra: str = "") -> cni.Attachment:
            return await cni.add(ctx.net, index=ctx.index, ipam_dir=ctx.dirs.ipam,
                                 service_cidr=ctx.service_cidr, container_id=self.uid,
                                 netns=path, args=args + extra)

        wanted = cni.preferred_ip(ctx.net, ctx.index, m)
        if wanted is not None:
            try:
                return await add(f";IP={wanted}")
            except cni.CNIError as e:
                log.info("pod %s/%s: preferred address %s not granted (%s)", m["namespace"],
                         m["name"], wanted, e)
                await cni.delete(ctx.net, index=ctx.index, ipam_dir=ctx.dirs.ipam,
                                 service_cidr=ctx.service_cidr, container_id=self.uid,
                                 netns=path, args=args)
        return await add()

    async def ensure_sandbox(self) -> bool:
        if self.sandbox_ready:
            return True
        path = netns.create(self.netns_name)
        try:
            att = await self._attach(path)
        except cni.CNIError as e:
            await self.event("Warning", "FailedCreatePodSandBox", str(e))
            return False
        self.ip = att.ip
        self.sandbox_ready = True
        self.released = False
        self._save_record()
        return True

    async def ensure_volumes(self) -> bool:
        if self.volumes is not None:
            return True
        assert self.ip is not None
        try:
            self.volumes = await self.ctx.volumes.make(self.pod, self.dir, pod_ip=self.ip,
                                                       host_ip=self.ctx.node_ip)
        except VolumeError as e:
            for s in self.slots:
                s.waiting_reason, s.waiting_message = "ContainerCreating", ""
            await self.event("Warning", "FailedMount", f"MountVolume.SetUp failed: {e}")
            await asyncio.sleep(1.0)
            return False
        return True

    # --- containers --------------------------------------------------------

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
                slot.last_terminated = _terminated(slot.exit,
                                                   self.container_id(slot, slot.proc.attempt))
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
                            _limits(c))
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
        await _stop([proc], grace)

    # --- stopping ----------------------------------------------------------

    async def terminate(self, grace: float) -> None:
        """SIGTERM every running container, wait up to `grace`, then SIGKILL."""
        for slot in self.slots:
            slot.stop_prober()
        procs = [s.proc for s in self.slots if s.proc is not None and s.proc.shim_alive()]
        await _stop(procs, grace)
        self._poll_exits()

    async def release(self, *, final: bool) -> None:
        """Give back the network (CNI DEL, netns, IP), cgroups and loop devices; with
        `final` also the pod's state dir (emptyDir data, logs)."""
        if self.sandbox_ready or netns.exists(self.netns_name):
            m = self.pod["metadata"]
            try:
                await cni.delete(self.ctx.net, index=self.ctx.index, ipam_dir=self.ctx.dirs.ipam,
                                 service_cidr=self.ctx.service_cidr, container_id=self.uid,
                                 netns=netns.path(self.netns_name),
                                 args=cni.k8s_args(m["namespace"], m["name"], self.uid))
            except cni.CNIError as e:
                log.warning("pod %s: %s", self.key, e)
            netns.delete(self.netns_name)
        self.sandbox_ready = False
        self.released = True
        if not final and self.dir.exists():
            self._save_record()
        cgroups.remove_pod(self.ctx.net.cgroup_name, self.uid)
        if self.volumes:
            detach_loops([v.path for v in self.volumes.values() if v.block])
        if final:
            shutil.rmtree(self.dir, ignore_errors=True)

    async def shutdown(self) -> None:
        """The node is stopping: stop this pod's processes and network, keep its files."""
        await self.terminate(min(SHUTDOWN_GRACE, float(
            self.pod["spec"].get("terminationGracePeriodSeconds") or 30)))
        await self.release(final=False)

    # --- status ------------------------------------------------------------

    def view(self) -> PodView:
        views: list[ContainerView] = []
        inits_done = all(s.exit is not None and s.exit.get("exitCode") == 0
                         for s in self.slots if s.init)
        for slot in self.slots:
            restarts = max(0, slot.next_attempt - 1)
            base = ContainerView(name=slot.name, image=str(slot.spec.get("image") or ""),
                                 image_id=self.ctx.image_id, restart_count=restarts,
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
                    base, state="running", container_id=self.container_id(slot, proc.attempt),
                    started_at=_second(state.get("startedAt")), ready=slot.ready,
                    started=slot.started))
            else:
                e = slot.exit
                last = slot.last_terminated
                if last and last.get("containerID") == self.container_id(slot, proc.attempt):
                    base = replace(base, last_terminated=None)
                views.append(replace(
                    base, state="terminated", container_id=self.container_id(slot, proc.attempt),
                    reason=str(e.get("reason") or ""), message=str(e.get("message") or ""),
                    exit_code=int(e.get("exitCode", 0)), signal=e.get("signal"),
                    started_at=_second(e.get("startedAt")),
                    finished_at=_second(e.get("finishedAt"))))
        return PodView(host_ip=self.ctx.node_ip, sandbox_ready=self.sandbox_ready,
                       pod_ip=self.ip, start_time=self.start_time,
                       init=[v for v, s in zip(views, self.slots, strict=True) if s.init],
                       containers=[v for v, s in zip(views, self.slots, strict=True)
                                   if not s.init])

    async def write_status(self) -> None:
        status = pod_status(self.pod, self.view(), now())
        if status == self.last_status:
            return
        m = self.pod["metadata"]
        try:
            reply = await self.ctx.client.patch(PODS, m["name"], {"status": status},
                                                m["namespace"], subresource="status")
        except errors.NotFound:
            self.gone = True
            return
        self.last_status = status
        self.pod = {**self.pod, "status": reply.get("status") or status}


def _limits(c: Obj) -> cgroups.Limits:
    res = c.get("resources") or {}
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    return cgroups.Limits(
        memory_bytes=parse_bytes(str(limits["memory"])) if "memory" in limits else None,
        cpu_limit_millis=parse_cpu_millis(str(limits["cpu"])) if "cpu" in limits else None,
        cpu_request_millis=parse_cpu_millis(str(requests["cpu"])) if "cpu" in requests
        else None)


async def _stop(procs: list[ContainerProcess], grace: float) -> None:
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
