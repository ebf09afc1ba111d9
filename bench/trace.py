"""One VMI start as first-seen times of its hops: from watch events (VMI phases, the
launcher pod's progress) and from /proc (the launcher's and QEMU's start times)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs
from bench.procs import now
from virtkube.kube.client import Client
from virtkube.kube.informer import Informer
from virtkube.kube.resources import PODS, VMIS
from virtkube.local.procs import cmdline

NS = "default"


@dataclass
class Trace:
    """First-seen times of one VMI's hops (seconds since boot)."""

    name: str
    created: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, hop: str, at: float | None = None) -> None:
        self.marks.setdefault(hop, now() if at is None else at)

    def since(self, hop: str) -> float | None:
        at = self.marks.get(hop)
        return None if at is None else at - self.created


HOPS = ["vmi Scheduling", "pod created", "pod scheduled", "pod running",
        "launcher started", "launcher ready", "qemu started", "vmi Scheduled", "vmi Running",
        "login"]


class Watcher:
    """Marks hops from watch events as they arrive."""

    def __init__(self, client: Client) -> None:
        self.traces: dict[str, Trace] = {}
        self.uids: dict[str, str] = {}
        self.vmis = Informer(client, VMIS, namespace=NS, label_selector="bench=virtkube")
        self.pods = Informer(client, PODS, namespace=NS,
                             label_selector="kubevirt.io=virt-launcher")
        self.vmis.add_handler(self._on_vmi)
        self.pods.add_handler(self._on_pod)

    def _on_vmi(self, kind: str, obj: dict[str, Any], _old: object) -> None:
        trace = self.traces.get(obj["metadata"]["name"])
        if trace is None or kind == "DELETED":
            return
        self.uids[obj["metadata"]["name"]] = obj["metadata"]["uid"]
        phase = (obj.get("status") or {}).get("phase")
        if phase:
            trace.mark(f"vmi {phase}")

    def _on_pod(self, kind: str, obj: dict[str, Any], _old: object) -> None:
        name = (obj["metadata"].get("labels") or {}).get("vm.kubevirt.io/name")
        trace = self.traces.get(name or "")
        if trace is None or kind == "DELETED":
            return
        trace.mark("pod created")
        if obj["spec"].get("nodeName"):
            trace.mark("pod scheduled")
        if (obj.get("status") or {}).get("phase") == "Running":
            trace.mark("pod running")

    def pods_of(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.pods.list()
                if (p["metadata"].get("labels") or {}).get("vm.kubevirt.io/name") == name]

    async def run(self) -> None:
        await asyncio.gather(self.vmis.run(), self.pods.run())


class ProcessProbe:
    """Marks the process hops of every VMI being started, from one scan of /proc per tick.

    One scan for all VMIs, not one per VMI: twenty probes each walking /proc every few
    milliseconds would load a 2-core machine as much as the burst they measure. Start
    times come from /proc, so the tick bounds only "launcher ready" (a socket appearing).
    """

    TICK = 0.02

    def __init__(self, sockets: Path) -> None:
        self.sockets = sockets
        self.pending: dict[str, Trace] = {}

    def watch(self, uid: str, trace: Trace) -> None:
        self.pending[uid] = trace

    def scan(self) -> None:
        if not self.pending:
            return
        for pid in procs.all_pids():
            argv = cmdline(pid)
            if not argv:
                continue
            for uid, trace in self.pending.items():
                if uid not in " ".join(argv):
                    continue
                start = procs.proc_start(pid)
                if start is None:
                    continue
                if procs.is_qemu(argv, uid):
                    trace.mark("qemu started", start)
                elif procs.is_launcher(argv, uid):
                    trace.mark("launcher started", start)
        for uid, trace in list(self.pending.items()):
            if (self.sockets / uid / "launcher.sock").exists():
                trace.mark("launcher ready")
            if "qemu started" in trace.marks:
                del self.pending[uid]

    async def run(self) -> None:
        while True:
            self.scan()
            await asyncio.sleep(self.TICK)
