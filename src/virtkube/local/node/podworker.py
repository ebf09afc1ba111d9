"""One pod's life on a local node: sandbox, volumes, init containers, containers, probes,
status, and deletion, driven level-triggered by one asyncio task per pod.

`sync` reads the latest Pod and what runs (processes and files, never memory alone) and
takes the next step; it is woken by the pod's watch events, by probe results, and every
`TICK` seconds to notice exits. Everything it needs to resume lives under the pod's state
dir (record.json + one run dir per container attempt), so a node killed at any line and
started again adopts its pods with `PodWorker.adopt`.

This module holds the pod-level worker: its record and adoption, the loop, the sandbox
(netns and CNI), volumes, stopping and releasing, and writing status. Each container's
steps (start, restart back-off, probes) are containerlife.py's `ContainerLifecycle`, which
`PodWorker` mixes in; podview.py reads the containers' state for the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from virtkube.kube import errors
from virtkube.kube.resources import PODS
from virtkube.local.node import cgroups, cni, containers, netns
from virtkube.local.node.containerlife import (
    ContainerLifecycle,
    Slot,
    container_id,
    stop_procs,
    terminated,
)
from virtkube.local.node.nodecontext import NodeContext
from virtkube.local.node.podview import pod_view
from virtkube.local.node.status import PodView, phase, pod_status
from virtkube.local.node.volumes import Volume, VolumeError, detach_loops

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: How often a worker looks at its processes when nothing woke it.
TICK = 0.5
#: Grace for pods when the node itself stops (the supervisor gives the node 15s in all).
SHUTDOWN_GRACE = 5.0


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodWorker(ContainerLifecycle):
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
                    slot.last_terminated = terminated(
                        e, container_id(self.uid, slot, numbers[-2]))
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

    # --- stopping ----------------------------------------------------------

    async def terminate(self, grace: float) -> None:
        """SIGTERM every running container, wait up to `grace`, then SIGKILL."""
        for slot in self.slots:
            slot.stop_prober()
        procs = [s.proc for s in self.slots if s.proc is not None and s.proc.shim_alive()]
        await stop_procs(procs, grace)
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
        return pod_view(self.slots, uid=self.uid, image_id=self.ctx.image_id,
                        host_ip=self.ctx.node_ip, sandbox_ready=self.sandbox_ready,
                        pod_ip=self.ip, start_time=self.start_time)

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
