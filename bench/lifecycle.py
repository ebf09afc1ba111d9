"""virtkube's figures on the local cluster, each beside a baseline measured in the same run.

    .venv/bin/python -m bench.lifecycle [--quick] [--out bench/results/latest.json]

1. start latency of the tiny guest: VMI create (the API call) -> phase Running and
   -> `login:` on the console, split by hop from first-seen timestamps (watch
   events, process start times), beside a bare `qemu-system-x86_64` boot of the
   same guest (the floor here);
2. burst: VMIs created at 10/s, creation -> Running, and the time until all run;
3. API cost of one lifecycle (create, run, stop, delete) from the audit log;
4. footprint: RSS of virt-launcher (without QEMU), QEMU, virt-controller and
   virt-handler, idle and with the burst running.

No figure is pass/fail; machines here are noisy, so read ratios, not seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from images.paths import images_dir  # noqa: E402

from bench import launcher_boot  # noqa: E402
from virtkube.kube.client import Client  # noqa: E402
from virtkube.kube.config import load  # noqa: E402
from virtkube.kube.informer import Informer, wait_synced  # noqa: E402
from virtkube.kube.resources import PODS, VMIS  # noqa: E402
from virtkube.launcher import accel, containerdisk  # noqa: E402
from virtkube.local.cluster import LocalCluster  # noqa: E402
from virtkube.local.paths import Home  # noqa: E402
from virtkube.local.procs import cmdline  # noqa: E402

LOGIN = b"login:"
NS = "default"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def now() -> float:
    """Seconds since boot: comparable with process start times from /proc."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def proc_start(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19]) / CLK_TCK


def rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pids_where(pred: Any) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = cmdline(int(entry.name))
            if argv and pred(argv):
                out.append(int(entry.name))
    return out


def launcher_pids(uid: str) -> list[int]:
    return pids_where(lambda a: "virtkube.launcher" in a and any(uid in x for x in a)
                      and "qemu" not in a[0])


def qemu_pids(uid: str) -> list[int]:
    return pids_where(lambda a: "qemu-system" in a[0] and any(uid in x for x in a))


def vmi_manifest(name: str) -> dict[str, Any]:
    import yaml

    vm = yaml.safe_load((REPO / "examples" / "vm-tiny.yaml").read_text())
    tmpl = vm["spec"]["template"]
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": NS, "labels": {"bench": "virtkube"}},
            "spec": tmpl["spec"]}


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

    async def run(self) -> None:
        await asyncio.gather(self.vmis.run(), self.pods.run())


async def wait_until(what: str, cond: Any, timeout: float, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(step)


async def read_login(path: Path, timeout: float = 180.0) -> float:
    await wait_until(f"console socket {path}", path.exists, timeout)
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        await launcher_boot.read_until(reader, LOGIN, timeout)
        return now()
    finally:
        writer.close()


async def start_one(client: Client, watcher: Watcher, sockets: Path, name: str,
                    *, login: bool = True) -> Trace:
    trace = Trace(name)
    watcher.traces[name] = trace
    trace.created = now()
    await client.create(VMIS, vmi_manifest(name), NS)
    await wait_until(f"uid of {name}", lambda: name in watcher.uids, 60)
    uid = watcher.uids[name]

    async def processes() -> None:
        while "qemu started" not in trace.marks:
            for pid in launcher_pids(uid):
                start = proc_start(pid)
                if start is not None:
                    trace.mark("launcher started", start)
            if (sockets / uid / "launcher.sock").exists():
                trace.mark("launcher ready")
            for pid in qemu_pids(uid):
                start = proc_start(pid)
                if start is not None:
                    trace.mark("qemu started", start)
            await asyncio.sleep(0.005)

    probe = asyncio.create_task(processes())
    try:
        if login:
            trace.mark("login", await read_login(sockets / uid / "console.sock"))
        await wait_until(f"{name} Running", lambda: "vmi Running" in trace.marks, 180)
    finally:
        probe.cancel()
    return trace


async def delete_and_wait(client: Client, watcher: Watcher, names: list[str]) -> None:
    uids = [watcher.uids[n] for n in names if n in watcher.uids]
    for n in names:
        await client.delete(VMIS, n, NS)
    await wait_until("VMIs gone", lambda: all(watcher.vmis.get(f"{NS}/{n}") is None
                                              for n in names), 120, 0.05)
    await wait_until("QEMU gone", lambda: not any(qemu_pids(u) for u in uids), 60, 0.05)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95),
            "min": min(values) if values else float("nan"),
            "max": max(values) if values else float("nan")}


def api_cost(audit_log: Path, name: str, start: float, end: float) -> dict[str, Any]:
    """Requests touching VMI `name` (and its pod and events) in [start, end] wall seconds."""
    from datetime import datetime

    counts: Counter[str] = Counter()
    by_user: Counter[str] = Counter()
    pod_prefix = f"virt-launcher-{name}-"
    for line in audit_log.read_text().splitlines():
        ev = json.loads(line)
        ts = datetime.fromisoformat(ev["requestReceivedTimestamp"].replace("Z", "+00:00"))
        if not start <= ts.timestamp() <= end:
            continue
        ref = ev.get("objectRef") or {}
        obj = ref.get("name") or ""
        resource = ref.get("resource", "")
        if not (obj == name or obj.startswith(pod_prefix)
                or (resource == "events" and (obj.startswith(f"{name}.")
                                              or obj.startswith(pod_prefix)))):
            continue
        verb = ev["verb"]
        sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
        user = ev["user"]["username"]
        counts[f"{verb} {resource}{sub}"] += 1
        by_user[f"{user} {'write' if verb not in ('get', 'list', 'watch') else 'read'}"] += 1
    writes = {k: v for k, v in counts.items() if k.split()[0] not in ("get", "list", "watch")}
    virtkube_writes = sum(v for k, v in by_user.items()
                          if k.startswith("virtkube:virt-") and k.endswith("write"))
    return {"requests": dict(sorted(counts.items())), "by_user": dict(sorted(by_user.items())),
            "writes": sum(writes.values()), "virtkube_component_writes": virtkube_writes}


def component_rss(cluster: LocalCluster) -> dict[str, int]:
    state = cluster.status()["components"]
    assert isinstance(state, dict)
    return {n: rss(int(c["pid"])) for n, c in state.items()
            if c.get("pid") and n.startswith(("virt-", "virtkube-node"))}


async def run(quick: bool, home: Path, starts: int | None = None) -> dict[str, Any]:
    cluster = LocalCluster(Home(home))
    print("bringing the local cluster up (audit log on)", file=sys.stderr)
    cluster.up(nodes=1, audit=True)
    conn = await load(cluster.home.admin_kubeconfig, user_agent="virtkube-bench")
    sockets = cluster.home.kubevirt_sockets
    result: dict[str, Any] = {}
    n_seq, n_burst, n_bare = (2, 3, 1) if quick else (20, 20, 5)
    n_seq = starts or n_seq
    async with Client(conn, field_manager="virtkube-bench") as client:
        watcher = Watcher(client)
        watch = asyncio.create_task(watcher.run())
        await wait_synced(watcher.vmis, watcher.pods)
        await asyncio.sleep(2)  # let the node settle after up (not a synchronisation)
        idle = component_rss(cluster)

        # 1. sequential starts; the first one's lifecycle also gives the API cost.
        traces: list[Trace] = []
        api: dict[str, Any] = {}
        for i in range(n_seq):
            name = f"bench-seq-{i}-{uuid.uuid4().hex[:4]}"
            wall0 = time.time()
            trace = await start_one(client, watcher, sockets, name)
            traces.append(trace)
            await delete_and_wait(client, watcher, [name])
            # The API cost of one lifecycle, taken from a warm start: the very first
            # pod of a new cluster can meet a namespace whose ServiceAccount the
            # controller manager has not made yet, and count a refused create.
            if i == min(2, n_seq - 1):
                await asyncio.sleep(1.5)  # the audit backend flushes in batches
                api = api_cost(cluster.home.audit_log, name, wall0 - 1, time.time())
            print(f"  start {i + 1}/{n_seq}: Running {trace.since('vmi Running'):.2f}s, "
                  f"login {trace.since('login'):.2f}s", file=sys.stderr)

        # 2. burst at 10/s.
        burst: list[Trace] = []
        t0 = now()
        tasks = []
        for i in range(n_burst):
            name = f"bench-burst-{i}-{uuid.uuid4().hex[:4]}"
            tasks.append(asyncio.create_task(
                start_one(client, watcher, sockets, name, login=False)))
            await asyncio.sleep(0.1)
        burst = list(await asyncio.gather(*tasks))
        all_running = now() - t0
        launcher_rss, qemu_rss = [], []
        for t in burst:
            uid = watcher.uids[t.name]
            launcher_rss += [rss(p) for p in launcher_pids(uid)]
            qemu_rss += [rss(p) for p in qemu_pids(uid)]
        loaded = component_rss(cluster)
        await delete_and_wait(client, watcher, [t.name for t in burst])
        watch.cancel()

    # Baseline: the same guest under a bare QEMU, in this run.
    acc = accel.detect()
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="virtkube-bench-") as tmp:
        base = containerdisk.resolve(launcher_boot.IMAGE, images_dir() / "oci",
                                     cache=Path(tmp) / "cache")
        for _ in range(n_bare):
            bare.append(await launcher_boot.bare(Path(tmp), base, acc))

    running = [t.since("vmi Running") or 0.0 for t in traces]
    login = [t.since("login") or 0.0 for t in traces]
    hops = {h: statistics.median([t.since(h) for t in traces if t.since(h) is not None]
                                 or [float("nan")]) for h in HOPS}
    bare_p50 = pct(bare, 50)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version(), "accel": acc},
        "command": "make bench-quick" if quick else "make bench",
        "start": {"running": summary(running), "login": summary(login),
                  "bare_qemu_login": summary(bare),
                  "ratio_login_to_bare_p50": pct(login, 50) / bare_p50,
                  "hops_p50": hops, "samples": {"running": running, "login": login,
                                                "bare": bare}},
        "burst": {"vmis": n_burst, "rate_per_s": 10,
                  "running": summary([t.since("vmi Running") or 0.0 for t in burst]),
                  "all_running_s": all_running},
        "api": api,
        "footprint_bytes": {
            "launcher_rss_p50": pct([float(x) for x in launcher_rss], 50),
            "qemu_rss_p50": pct([float(x) for x in qemu_rss], 50),
            "components_idle": idle, "components_at_burst": loaded,
        },
    }
    cluster.down(purge=True)
    return result


def table(r: dict[str, Any]) -> str:
    s = r["start"]
    mib = 1 << 20
    lines = [
        f"virtkube bench — {r['date']} — {r['machine']['cpus']} cores, "
        f"accel {r['machine']['accel']}, `{r['command']}`",
        "",
        "| figure | p50 | p95 | baseline (same run) | ratio |",
        "|---|---|---|---|---|",
        f"| create -> VMI Running (s), n={s['running']['n']} | {s['running']['p50']:.2f} | "
        f"{s['running']['p95']:.2f} | | |",
        f"| create -> login prompt (s) | {s['login']['p50']:.2f} | {s['login']['p95']:.2f} | "
        f"bare qemu -> login {s['bare_qemu_login']['p50']:.2f} | "
        f"{s['ratio_login_to_bare_p50']:.2f} |",
        f"| burst of {r['burst']['vmis']} at 10/s: create -> Running (s) | "
        f"{r['burst']['running']['p50']:.2f} | {r['burst']['running']['p95']:.2f} | | |",
        f"| burst: all Running after (s) | {r['burst']['all_running_s']:.2f} | | | |",
        f"| API writes per lifecycle (all / by virt-*) | {r['api'].get('writes')} / "
        f"{r['api'].get('virtkube_component_writes')} | | KubeVirt ~9-10 per start | |",
        f"| virt-launcher RSS, QEMU excluded (MiB) | "
        f"{r['footprint_bytes']['launcher_rss_p50'] / mib:.1f} | | KubeVirt 250-300 overhead | |",
        f"| QEMU RSS per tiny guest (MiB) | {r['footprint_bytes']['qemu_rss_p50'] / mib:.1f} "
        f"| | | |",
        "",
        "Start split (p50 seconds since create, first seen):",
    ]
    lines += [f"  {h:18s} {v:6.2f}" for h, v in s["hops_p50"].items()]
    lines += ["", "Component RSS (MiB) idle -> with burst:"]
    for n, v in r["footprint_bytes"]["components_idle"].items():
        at = r["footprint_bytes"]["components_at_burst"].get(n, 0)
        lines.append(f"  {n:18s} {v / mib:6.1f} -> {at / mib:6.1f}")
    lines += ["", "API requests of one lifecycle (verb resource: count):"]
    lines += [f"  {k}: {v}" for k, v in r["api"].get("requests", {}).items()]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    samples = r["start"]["samples"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.boxplot([samples["bare"], samples["running"], samples["login"]],
               orientation="horizontal")
    ax.set_yticks([1, 2, 3], ["bare qemu -> login", "create -> Running", "create -> login"])
    ax.set_xlabel("seconds")
    ax.set_title(f"tiny guest start latency ({r['date']}, {r['machine']['accel']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


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
    text = table(result)
    args.out.with_suffix(".md").write_text(text + "\n")
    if plot(result, args.out.with_suffix(".png")):
        text += f"\n\nplot: {args.out.with_suffix('.png')}"
    print(text)


if __name__ == "__main__":
    main()
