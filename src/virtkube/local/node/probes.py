"""Container probes (exec, httpGet, tcpSocket) with the kubelet's timing and thresholds.

Each running container attempt gets one `Prober` task: the startup probe first (until it
succeeds, the other two wait), then liveness and readiness each on its own period.
Results go to a callback, which the pod worker turns into `ready`/`started` and, for a
failed liveness probe, a restart. Exec probes run inside the container's namespaces
(nsenter into the container's pid); HTTP and TCP probes go from the host over the bridge
to the pod IP, as the kubelet's do from the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Kind = Literal["startup", "liveness", "readiness"]


@dataclass(frozen=True)
class Result:
    ok: bool
    message: str = ""


def resolve_port(port: int | str, container: Obj) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"named port {port!r} not found in container {container.get('name')}")


async def run_probe(probe: Obj, *, container: Obj, pod_ip: str, pid: int | None,
                    env: dict[str, str]) -> Result:
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "exec" in probe:
            if pid is None:
                return Result(False, "container has no process")
            argv = ["nsenter", "-t", str(pid), "-n", "-m", "-u", "--",
                    *(probe["exec"].get("command") or [])]
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
                return Result(False, f"command timed out after {timeout:g}s")
            if proc.returncode == 0:
                return Result(True)
            return Result(False, f"command exited {proc.returncode}: "
                                 f"{out.decode(errors='replace')[-200:]}")
        if "httpGet" in probe:
            h = probe["httpGet"]
            scheme = str(h.get("scheme") or "HTTP").lower()
            host = h.get("host") or pod_ip
            port = resolve_port(h["port"], container)
            url = f"{scheme}://{host}:{port}{h.get('path') or '/'}"
            headers = {x["name"]: x["value"] for x in h.get("httpHeaders") or []}
            headers.setdefault("User-Agent", "kube-probe/1.37")
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s, \
                    s.get(url, headers=headers, ssl=ctx, allow_redirects=False) as resp:
                if 200 <= resp.status < 400:
                    return Result(True)
                return Result(False, f"HTTP probe failed with statuscode: {resp.status}")
        if "tcpSocket" in probe:
            t = probe["tcpSocket"]
            port = resolve_port(t["port"], container)
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(t.get("host") or pod_ip, port), timeout)
            writer.close()
            return Result(True)
        if "grpc" in probe:
            return Result(False, "grpc probes are not supported by the local node")
    except (OSError, TimeoutError, aiohttp.ClientError, ValueError) as e:
        return Result(False, f"{type(e).__name__}: {e}")
    return Result(False, "probe has no handler")


Report = Callable[[Kind, Result], None]


class Prober:
    """The probes of one running container attempt; cancel the task when it stops."""

    def __init__(self, container: Obj, *, pod_ip: str, pid: int | None, env: dict[str, str],
                 report: Report) -> None:
        self.container = container
        self.pod_ip = pod_ip
        self.pid = pid
        self.env = env
        self.report = report
        self.startup_done = asyncio.Event()

    async def _loop(self, kind: Kind, probe: Obj) -> None:
        if kind != "startup":
            await self.startup_done.wait()
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        period = float(probe.get("periodSeconds") or 10)
        success_needed = int(probe.get("successThreshold") or 1)
        failure_needed = int(probe.get("failureThreshold") or 3)
        successes = failures = 0
        last: bool | None = None
        while True:
            result = await run_probe(probe, container=self.container, pod_ip=self.pod_ip,
                                     pid=self.pid, env=self.env)
            if result.ok:
                successes, failures = successes + 1, 0
                if successes >= success_needed and last is not True:
                    last = True
                    self.report(kind, result)
                    if kind == "startup":
                        self.startup_done.set()
                        return
            else:
                successes, failures = 0, failures + 1
                if failures >= failure_needed and last is not False:
                    last = False
                    self.report(kind, result)
                elif kind == "liveness" and failures >= failure_needed:
                    self.report(kind, result)
            await asyncio.sleep(period)

    async def run(self) -> None:
        loops = []
        startup = self.container.get("startupProbe")
        if startup:
            loops.append(self._loop("startup", startup))
        else:
            self.startup_done.set()
        for kind, key in (("liveness", "livenessProbe"), ("readiness", "readinessProbe")):
            probe = self.container.get(key)
            if probe:
                loops.append(self._loop(kind, probe))  # type: ignore[arg-type]
        if loops:
            await asyncio.gather(*loops)
