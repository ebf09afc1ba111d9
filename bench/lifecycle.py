"""virtkube's figures on the local cluster, each beside a baseline measured in the same run.

    .venv/bin/python -m bench.lifecycle [--quick] [--out bench/results/latest.json]

1. start latency of the tiny guest: VMI create (the API call) -> phase Running and
   -> `login:` on the console, split by hop from first-seen timestamps (watch
   events, process start times), beside a bare `qemu-system-x86_64` boot of the
   same guest (the floor here);
2. burst: VMIs created at 10/s, creation -> Running and -> `login:`, and the time until
   all run and all are at their login prompt, beside as many bare QEMUs of the same
   guest started at the same rate;
3. API cost of one lifecycle (create, run, stop, delete) from the audit log;
4. footprint: RSS of virt-launcher (without QEMU), of the whole launcher pod (without
   QEMU), QEMU, virt-controller, virt-handler and the node (its runner, kubelet and
   containerd), idle and with the burst running.

bench.report prints the table with the stand-in nodes' last recorded figures beside (the
nodes virtkube had before the kubelet and containerd ran its pods). No figure is
pass/fail; machines here are noisy, so read ratios, not seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from images.paths import images_dir  # noqa: E402

from bench import audit, launcher_boot, procs, report  # noqa: E402
from bench.procs import now  # noqa: E402
from bench.report import pct, summary  # noqa: E402
from bench.trace import HOPS, NS, ProcessProbe, Trace, Watcher  # noqa: E402
from virtkube.api.quantity import parse_quantity  # noqa: E402
from virtkube.kube.client import Client  # noqa: E402
from virtkube.kube.config import load  # noqa: E402
from virtkube.kube.errors import NotFound  # noqa: E402
from virtkube.kube.informer import wait_synced  # noqa: E402
from virtkube.kube.resources import CONFIGMAPS, NODES, VMIS  # noqa: E402
from virtkube.launcher import accel, containerdisk  # noqa: E402
from virtkube.local.cluster import LocalCluster  # noqa: E402
from virtkube.local.components import host_device_resources  # noqa: E402
from virtkube.local.paths import Home  # noqa: E402

LOGIN = b"login:"
#: The burst's pace, as before: VMIs (and their bare-QEMU baseline) started 10 per second.
RATE = 10.0
#: A burst VMI's CPU request: KubeVirt's 100m per vCPU fits 19 launcher pods (100m + the
#: containerDisk's 1m) in a 2-core real node's allocatable CPU, so the 20th would stay
#: Pending. It changes only the pods' relative cpu.shares, which are all equal anyway.
BURST_CPU_REQUEST = "50m"


def vmi_manifest(name: str, cpu_request: str | None = None) -> dict[str, Any]:
    """The demo VM's template (examples/vm-tiny.yaml) as a VMI of the bench."""
    import yaml

    vm = yaml.safe_load((REPO / "examples" / "vm-tiny.yaml").read_text())
    spec = vm["spec"]["template"]["spec"]
    if cpu_request:
        spec["domain"].setdefault("resources", {}).setdefault("requests", {})["cpu"] = cpu_request
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": NS, "labels": {"bench": "virtkube"}},
            "spec": spec}


async def wait_until(what: str, cond: Any, timeout: float, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(step)


async def read_login(path: Path, timeout: float) -> float:
    await wait_until(f"console socket {path}", path.exists, timeout)
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        await launcher_boot.read_until(reader, LOGIN, timeout)
        return now()
    finally:
        writer.close()


@dataclass
class Bench:
    """What every start needs: the API, the watches, the process probe, the sockets."""

    client: Client
    watcher: Watcher
    probe: ProcessProbe
    sockets: Path

    async def start_one(self, name: str, *, cpu_request: str | None = None,
                        timeout: float = 180.0) -> Trace:
        """Create VMI `name` and wait until it is Running and its console shows `login:`
        (the console replays what the guest printed before it was attached)."""
        trace = Trace(name)
        self.watcher.traces[name] = trace
        trace.created = now()
        await self.client.create(VMIS, vmi_manifest(name, cpu_request), NS)
        await wait_until(f"uid of {name}", lambda: name in self.watcher.uids, 60)
        uid = self.watcher.uids[name]
        self.probe.watch(uid, trace)
        trace.mark("login", await read_login(self.sockets / uid / "console.sock", timeout))
        await wait_until(f"{name} Running", lambda: "vmi Running" in trace.marks, timeout)
        return trace

    async def delete_and_wait(self, names: list[str]) -> None:
        """Delete the VMIs; back once they, their QEMUs and their pods are gone."""
        uids = [self.watcher.uids[n] for n in names if n in self.watcher.uids]
        for n in names:
            await self.client.delete(VMIS, n, NS)
        await wait_until("VMIs gone", lambda: all(
            self.watcher.vmis.get(f"{NS}/{n}") is None for n in names), 120, 0.05)
        await wait_until("QEMU gone", lambda: not any(procs.qemu_pids(u) for u in uids),
                         60, 0.05)
        await wait_until("pods gone", lambda: not any(self.watcher.pods_of(n) for n in names),
                         120, 0.05)

    async def audit_flushed(self, audit_log: Path) -> None:
        """Back once a request made now is in the audit log (see bench.audit)."""
        marker = f"bench-audit-mark-{uuid.uuid4().hex[:8]}"
        with contextlib.suppress(NotFound):
            await self.client.get(CONFIGMAPS, marker, NS)
        await wait_until("the audit log", lambda: audit.mentions(audit_log, marker), 30, 0.05)


def component_rss(cluster: LocalCluster) -> dict[str, int]:
    """RSS of virtkube's components and the nodes: the node's runner, its kubelet and its
    containerd each (the shims are counted with their pods)."""
    state = cluster.status()["components"]
    assert isinstance(state, dict)
    out: dict[str, int] = {}
    for n, c in state.items():
        if not c.get("pid") or not n.startswith(("virt-", "virtkube-node")):
            continue
        out[n] = procs.rss(int(c["pid"]))
        if n.startswith("virtkube-node"):
            index = n.rsplit("-", 1)[1]
            for role, pid in sorted(procs.node_daemons(int(c["pid"])).items()):
                out[f"{role}-{index}"] = procs.rss(pid)
    return out


async def devices_advertised(client: Client, timeout: float = 120.0) -> None:
    """Until the node offers the device resources launcher pods ask for: a real node is
    Ready before virt-handler's device plugins have registered with its kubelet, and a
    pod created in that gap waits out the scheduler's back-off. That wait is the
    cluster's start-up, not a VM's start, so the first start must not count it."""
    wanted = host_device_resources()
    deadline = time.monotonic() + timeout
    while True:
        nodes = (await client.list(NODES))["items"]
        if nodes and all(parse_quantity((n.get("status") or {}).get("allocatable", {})
                                        .get(r, "0")) > 0 for n in nodes for r in wanted):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the node did not offer {', '.join(wanted)} in {timeout:.0f}s")
        await asyncio.sleep(0.1)


def memory(watcher: Watcher, names: list[str]) -> dict[str, list[int]]:
    """RSS of each VMI's launcher, QEMU and whole launcher pod."""
    mem: dict[str, list[int]] = {"launcher": [], "qemu": [], "pod": []}
    for name in names:
        uid = watcher.uids[name]
        mem["launcher"] += [procs.rss(p) for p in procs.launcher_pids(uid)]
        mem["qemu"] += [procs.rss(p) for p in procs.qemu_pids(uid)]
        overhead = procs.pod_overhead(uid)
        if overhead is not None:
            mem["pod"].append(overhead)
    return mem


def conditions(start_load: float, others: int) -> dict[str, Any]:
    return {"loadavg_start": start_load, "loadavg_end": os.getloadavg()[0],
            "other_clusters": others}


def other_clusters(home: Path) -> int:
    """Local clusters of other homes running now (their kube-apiserver processes)."""
    return len(procs.pids_where(lambda a: len(a) > 1 and a[1] == "kube-apiserver"
                                and not any(str(home) in x for x in a)))


async def run(quick: bool, home: Path, starts: int | None = None) -> dict[str, Any]:
    """Bring a fresh cluster up in `home`, measure, and take it down whatever happens."""
    load0, others = os.getloadavg()[0], other_clusters(home)
    cluster = LocalCluster(Home(home))
    print("bringing the local cluster up (one node, audit log on)", file=sys.stderr)
    try:
        cluster.up(nodes=1, audit=True)
        return await measure(cluster, quick, starts, load0, others)
    finally:
        cluster.down(purge=True)


async def measure(cluster: LocalCluster, quick: bool, starts: int | None,
                  load0: float, others: int) -> dict[str, Any]:
    home = cluster.home.root
    conn = await load(cluster.home.admin_kubeconfig, user_agent="virtkube-bench")
    n_seq, n_burst, n_bare = (2, 3, 1) if quick else (20, 20, 5)
    n_seq = starts or n_seq
    async with Client(conn, field_manager="virtkube-bench") as client:
        watcher = Watcher(client)
        probe = ProcessProbe(cluster.home.kubevirt_sockets)
        bench = Bench(client, watcher, probe, cluster.home.kubevirt_sockets)
        background = [asyncio.create_task(watcher.run()), asyncio.create_task(probe.run())]
        await wait_synced(watcher.vmis, watcher.pods)
        await devices_advertised(client)
        idle = component_rss(cluster)

        # 1. sequential starts; a warm one's lifecycle also gives the API cost.
        traces: list[Trace] = []
        api: dict[str, Any] = {}
        for i in range(n_seq):
            name = f"bench-seq-{i}-{uuid.uuid4().hex[:4]}"
            wall0 = time.time()
            trace = await bench.start_one(name)
            traces.append(trace)
            await bench.delete_and_wait([name])
            # The API cost of one lifecycle, taken from a warm start: the very first
            # pod of a new cluster can meet a namespace whose ServiceAccount the
            # controller manager has not made yet, and count a refused create.
            if i == min(2, n_seq - 1):
                await bench.audit_flushed(cluster.home.audit_log)
                api = audit.api_cost(cluster.home.audit_log, name, wall0 - 1, time.time())
            print(f"  start {i + 1}/{n_seq}: Running {trace.since('vmi Running'):.2f}s, "
                  f"login {trace.since('login'):.2f}s", file=sys.stderr)

        # 2. burst at RATE/s, each VMI to Running and to its login prompt.
        t0 = now()
        names = [f"bench-burst-{i}-{uuid.uuid4().hex[:4]}" for i in range(n_burst)]

        async def paced(i: int) -> Trace:
            await asyncio.sleep(max(0.0, t0 + i / RATE - now()))
            return await bench.start_one(names[i], cpu_request=BURST_CPU_REQUEST,
                                         timeout=600)

        async def when_all_running() -> tuple[dict[str, list[int]], dict[str, int]]:
            # Memory as the stand-in's figures were taken: all Running, guests booting.
            await wait_until("the burst Running", lambda: all(
                n in watcher.traces and "vmi Running" in watcher.traces[n].marks
                for n in names), 600, 0.05)
            return memory(watcher, names), component_rss(cluster)

        sampler = asyncio.create_task(when_all_running())
        burst = list(await asyncio.gather(*(paced(i) for i in range(n_burst))))
        mem, loaded = await sampler
        all_running = max(t.marks["vmi Running"] for t in burst) - t0
        all_login = max(t.marks["login"] for t in burst) - t0
        mem["qemu_at_login"] = memory(watcher, names)["qemu"]
        await bench.delete_and_wait([t.name for t in burst])
        print(f"  burst of {n_burst}: all Running {all_running:.2f}s, "
              f"all at login {all_login:.2f}s", file=sys.stderr)
        for task in background:
            task.cancel()

    # Baselines: the same guest under bare QEMUs, in this run, the cluster still up:
    # one at a time, then as many as the burst at the burst's rate.
    acc = accel.detect()
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="virtkube-bench-") as tmp:
        base = containerdisk.resolve(launcher_boot.IMAGE, images_dir() / "oci",
                                     cache=Path(tmp) / "cache")
        for _ in range(n_bare):
            bare.append(await launcher_boot.bare(Path(tmp), base, acc))
        bare_burst, bare_all_login = await launcher_boot.bare_burst(
            Path(tmp), base, acc, n_burst, RATE)
    print(f"  {n_burst} bare QEMUs: all at login {bare_all_login:.2f}s", file=sys.stderr)
    cond = conditions(load0, max(others, other_clusters(home)))
    return figures(quick, acc, cond, traces, burst, api, bare, bare_burst,
                   bare_all_login, all_running, all_login,
                   mem,
                   idle, loaded)


def figures(quick: bool, acc: str, cond: dict[str, Any],
            traces: list[Trace], burst: list[Trace], api: dict[str, Any],
            bare: list[float], bare_burst: list[float], bare_all_login: float,
            all_running: float, all_login: float, mem: dict[str, list[int]],
            idle: dict[str, int], loaded: dict[str, int]) -> dict[str, Any]:
    """The result json (bench/results/latest.json) from what one run measured."""
    running = [t.since("vmi Running") or 0.0 for t in traces]
    login = [t.since("login") or 0.0 for t in traces]
    hops = {h: statistics.median([v for t in traces if (v := t.since(h)) is not None]
                                 or [float("nan")]) for h in HOPS}
    burst_login = [t.since("login") or 0.0 for t in burst]
    command = "make bench-quick" if quick else "make bench"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version(), "accel": acc},
        "command": command,
        # The stand-in nodes' figures (bench/results/standin-*.json) say "standin".
        "node_runtime": "containerd",
        "conditions": cond,
        "start": {"running": summary(running), "login": summary(login),
                  "bare_qemu_login": summary(bare),
                  "ratio_login_to_bare_p50": pct(login, 50) / pct(bare, 50),
                  "first": {"running": running[0], "login": login[0]},
                  "hops_p50": hops, "samples": {"running": running, "login": login,
                                                "bare": bare}},
        "burst": {"vmis": len(burst), "rate_per_s": RATE, "cpu_request": BURST_CPU_REQUEST,
                  "running": summary([t.since("vmi Running") or 0.0 for t in burst]),
                  "login": summary(burst_login),
                  "all_running_s": all_running, "all_login_s": all_login,
                  "bare": {"login": summary(bare_burst), "all_login_s": bare_all_login},
                  "ratio_login_to_bare_p50": pct(burst_login, 50) / pct(bare_burst, 50),
                  "ratio_all_login_to_bare": all_login / bare_all_login,
                  "samples": {"login": burst_login, "bare_login": bare_burst}},
        "api": api,
        "footprint_bytes": {
            "launcher_rss_p50": pct([float(x) for x in mem["launcher"]], 50),
            "qemu_rss_p50": pct([float(x) for x in mem["qemu"]], 50),
            "qemu_rss_at_login_p50": pct([float(x) for x in mem["qemu_at_login"]], 50),
            "pod_overhead_p50": pct([float(x) for x in mem["pod"]], 50) if mem["pod"] else None,
            "components_idle": idle, "components_at_burst": loaded,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.lifecycle")
    parser.add_argument("--quick", action="store_true", help="few samples (CI)")
    parser.add_argument("--starts", type=int, help="sequential starts (default 20, quick 2)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="virtkube-bench-home-") as home:
        result = asyncio.run(run(args.quick, Path(home), args.starts))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    text = report.table(result)
    args.out.with_suffix(".md").write_text(text + "\n")
    if report.plot(result, args.out.with_suffix(".png")):
        text += f"\n\nplot: {args.out.with_suffix('.png')}"
    print(text)


if __name__ == "__main__":
    main()
