"""The bench's table (bench/results/latest.md, the README's) and plot, from a result json.

Each figure sits beside its same-run baseline and beside the stand-in nodes' last
recorded figure, read from bench/results/standin-2026-11-29.json: that file is the
latest.json the stand-in nodes' last `make bench` wrote (commit 1e8aaa9), copied as it
was, so that the reader sees what real nodes changed and no figure is typed twice.
A figure a run could not measure is printed as such, never as a number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parent / "results" / "standin-2026-11-29.json"
MIB = 1 << 20
#: What a cell says for a figure its run did not measure.
NOT_MEASURED = "not measured"


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


def reference() -> dict[str, Any]:
    ref: dict[str, Any] = json.loads(REFERENCE.read_text())
    return ref


def dig(r: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if not isinstance(r, dict) or k not in r:
            return None
        r = r[k]
    return r


def num(v: Any, scale: float = 1.0) -> str:
    if not isinstance(v, (int, float)) or math.isnan(v):
        return NOT_MEASURED
    return f"{v / scale:.2f}" if scale == 1.0 else f"{v / scale:.1f}"


def p50_p95(r: dict[str, Any], *keys: str) -> str:
    s = dig(r, *keys)
    if not isinstance(s, dict):
        return NOT_MEASURED
    return f"{num(s.get('p50'))} / {num(s.get('p95'))}"


def runtime_label(r: dict[str, Any]) -> str:
    return {"containerd": "real nodes (kubelet + containerd)",
            "standin": "stand-in nodes"}.get(r.get("node_runtime") or "standin", "?")


def header(r: dict[str, Any]) -> str:
    """One line (the README quotes it above the table): when, where, and how loaded."""
    m = r["machine"]
    line = (f"virtkube bench — {r['date']} — {m['cpus']} cores, accel {m['accel']}, "
            f"`{r['command']}`, {runtime_label(r)}")
    cond = r.get("conditions")
    if cond:
        line += (f"; load average {cond['loadavg_start']:.1f} before the run "
                 f"({cond['loadavg_end']:.1f} at its end, its own burst included), "
                 f"{cond['other_clusters']} other local cluster(s) running meanwhile")
    return line


def notes(r: dict[str, Any]) -> list[str]:
    out = []
    if r.get("burst", {}).get("cpu_request"):
        out.append(f"The burst's VMIs request {r['burst']['cpu_request']} CPU each: "
                   "KubeVirt's 100m per vCPU would fit only 19 of them on a 2-core node.")
    if r.get("node_runtime") == "containerd":
        out.append("Memory is sampled when the whole burst is Running (as the stand-in's "
                   "was), QEMU again once all are at their login prompt. Stand-in nodes "
                   "have no pod processes around the launcher, hence no pod figure there.")
    return out


def table(r: dict[str, Any], ref: dict[str, Any] | None = None) -> str:
    ref = reference() if ref is None else ref
    s, b, fp = r["start"], r["burst"], r["footprint_bytes"]
    rb, rfp = ref.get("burst", {}), ref.get("footprint_bytes", {})
    bb = b.get("bare") or {}
    lines = [
        header(r),
        "",
        "| figure | p50 | p95 | baseline (same run) | ratio | "
        f"{runtime_label(ref)}, {ref['date'][:10]}: p50 / p95 |",
        "|---|---|---|---|---|---|",
        f"| create -> VMI Running (s), n={s['running']['n']} | {num(s['running']['p50'])} | "
        f"{num(s['running']['p95'])} | | | {p50_p95(ref, 'start', 'running')} |",
        f"| create -> login prompt (s) | {num(s['login']['p50'])} | {num(s['login']['p95'])} | "
        f"bare qemu -> login {num(s['bare_qemu_login']['p50'])} | "
        f"{num(s['ratio_login_to_bare_p50'])} | {p50_p95(ref, 'start', 'login')} "
        f"(bare {num(dig(ref, 'start', 'bare_qemu_login', 'p50'))}, "
        f"ratio {num(dig(ref, 'start', 'ratio_login_to_bare_p50'))}) |",
        f"| burst of {b['vmis']} at {b['rate_per_s']:g}/s: create -> Running (s) | "
        f"{num(b['running']['p50'])} | {num(b['running']['p95'])} | | | "
        f"{p50_p95(ref, 'burst', 'running')} |",
        f"| burst: create -> login prompt (s) | {num(dig(b, 'login', 'p50'))} | "
        f"{num(dig(b, 'login', 'p95'))} | {b['vmis']} bare qemus at {b['rate_per_s']:g}/s: "
        f"start -> login {num(dig(bb, 'login', 'p50'))} / {num(dig(bb, 'login', 'p95'))} | "
        f"{num(b.get('ratio_login_to_bare_p50'))} | {p50_p95(ref, 'burst', 'login')} |",
        f"| burst: all Running after (s) | {num(b['all_running_s'])} | | | | "
        f"{num(rb.get('all_running_s'))} |",
        f"| burst: all at login prompt after (s) | {num(b.get('all_login_s'))} | | "
        f"bare qemus: all at login after {num(bb.get('all_login_s'))} | "
        f"{num(b.get('ratio_all_login_to_bare'))} | {num(rb.get('all_login_s'))} |",
        f"| API writes per lifecycle (all / by virt-*) | {r['api'].get('writes')} / "
        f"{r['api'].get('virtkube_component_writes')} | | KubeVirt ~9-10 per start | | "
        f"{dig(ref, 'api', 'writes')} / {dig(ref, 'api', 'virtkube_component_writes')} |",
        f"| virt-launcher RSS, QEMU excluded (MiB), burst all Running | "
        f"{num(fp['launcher_rss_p50'], MIB)} | | "
        f"KubeVirt 250-300 overhead | | {num(rfp.get('launcher_rss_p50'), MIB)} |",
        f"| launcher pod on the node, QEMU excluded (MiB): shim, pause, launcher, dnsmasq, "
        f"containerDisk | {num(fp.get('pod_overhead_p50'), MIB)} | | | | "
        f"{num(rfp.get('pod_overhead_p50'), MIB)} (no pod processes) |",
        f"| QEMU RSS per tiny guest (MiB), burst all Running | {num(fp['qemu_rss_p50'], MIB)} "
        f"| | | | {num(rfp.get('qemu_rss_p50'), MIB)} |",
        f"| QEMU RSS per tiny guest (MiB), burst all at login | "
        f"{num(fp.get('qemu_rss_at_login_p50'), MIB)} | | | | "
        f"{num(rfp.get('qemu_rss_at_login_p50'), MIB)} |",
        "",
    ]
    lines += [*notes(r), ""] if notes(r) else []
    first = s.get("first")
    if first:
        pulls = " (the node pulls the images)" if r.get("node_runtime") == "containerd" else ""
        lines += [f"First start of the run{pulls}: Running "
                  f"{num(first.get('running'))} s, login {num(first.get('login'))} s.", ""]
    lines.append("Start split (p50 seconds since create, first seen):")
    ref_hops = dig(ref, "start", "hops_p50") or {}
    lines += [f"  {h:18s} {num(v):>6s}   (stand-in {num(ref_hops.get(h))})"
              for h, v in s["hops_p50"].items()]
    lines += ["", "Component RSS (MiB) idle -> with burst:"]
    for n, v in fp["components_idle"].items():
        at = fp["components_at_burst"].get(n, 0)
        lines.append(f"  {n:18s} {v / MIB:6.1f} -> {at / MIB:6.1f}")
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
    rows = [("bare qemu -> login", samples["bare"]),
            ("create -> Running", samples["running"]),
            ("create -> login", samples["login"])]
    burst = r["burst"].get("samples") or {}
    if burst.get("login"):
        rows += [("burst: bare qemu -> login", burst.get("bare_login") or []),
                 ("burst: create -> login", burst["login"])]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.6 * len(rows)))
    ax.boxplot([v for _, v in rows], orientation="horizontal")
    ax.set_yticks(range(1, len(rows) + 1), [n for n, _ in rows])
    ax.set_xlabel("seconds")
    ax.set_title(f"tiny guest start latency ({r['date']}, {r['machine']['accel']}, "
                 f"{runtime_label(r)})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
