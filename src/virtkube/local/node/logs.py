"""The node's log endpoint, the kubelet's `/containerLogs/{ns}/{pod}/{container}`.

`kubectl logs` asks the API server, which connects to the Node's InternalIP at its
daemonEndpoints port with its kubelet client certificate: so this serves TLS with a
certificate from the cluster CA and requires a client certificate from the same CA.
Query parameters as the kubelet's: follow, tailLines, timestamps, previous, limitBytes,
sinceSeconds. The files are the shims' CRI-format logs, one per container attempt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

#: How often a followed log is checked for new lines.
FOLLOW_POLL = 0.2


@dataclass(frozen=True)
class LogTarget:
    path: Path
    #: True while the attempt that writes `path` still runs (follow keeps streaming).
    running: Callable[[], bool]


class LogNotFound(Exception):
    """The pod, the container or the attempt does not exist; the message says which."""


#: (namespace, pod, container, previous) -> the log to serve.
Resolver = Callable[[str, str, str, bool], LogTarget]


def parse_line(raw: bytes) -> tuple[str, bytes, bool]:
    """(timestamp, message, complete) of one CRI log line."""
    parts = raw.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 4:
        return "", raw.rstrip(b"\n"), True
    return parts[0].decode(), parts[3], parts[2] == b"F"


def render(raw: bytes, timestamps: bool) -> bytes:
    ts, msg, complete = parse_line(raw)
    out = msg + (b"\n" if complete else b"")
    return (ts.encode() + b" " + out) if timestamps and ts else out


def select(lines: list[bytes], *, tail: int | None, since: dt.datetime | None) -> list[bytes]:
    if since is not None:
        lines = [ln for ln in lines if _ts(parse_line(ln)[0]) >= since]
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return lines


def _ts(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def make_app(resolve: Resolver) -> web.Application:
    async def container_logs(request: web.Request) -> web.StreamResponse:
        q = request.query
        try:
            target = resolve(request.match_info["ns"], request.match_info["pod"],
                             request.match_info["container"], q.get("previous") == "true")
        except LogNotFound as e:
            return web.Response(status=404, text=str(e))
        timestamps = q.get("timestamps") == "true"
        tail = int(q["tailLines"]) if q.get("tailLines") else None
        limit = int(q["limitBytes"]) if q.get("limitBytes") else None
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=int(q["sinceSeconds"]))
                 if q.get("sinceSeconds") else None)
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        sent = 0

        async def send(data: bytes) -> bool:
            nonlocal sent
            if limit is not None:
                data = data[: max(0, limit - sent)]
            if data:
                await resp.write(data)
                sent += len(data)
            return limit is None or sent < limit

        try:
            f = target.path.open("rb")
        except OSError:
            await resp.write_eof()
            return resp
        with f:
            lines = select(f.readlines(), tail=tail, since=since)
            for line in lines:
                if not await send(render(line, timestamps)):
                    return resp
            if q.get("follow") == "true":
                pending = b""
                while True:
                    chunk = f.readline()
                    if chunk:
                        pending += chunk
                        if pending.endswith(b"\n"):
                            if not await send(render(pending, timestamps)):
                                return resp
                            pending = b""
                        continue
                    if not target.running():
                        break
                    await asyncio.sleep(FOLLOW_POLL)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/containerLogs/{ns}/{pod}/{container}", container_logs)
    app.router.add_get("/healthz", lambda _r: _ok())
    return app


async def _ok() -> web.Response:
    return web.Response(text="ok")


def server_context(*, cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def serve(resolve: Resolver, *, host: str, port: int, ctx: ssl.SSLContext
                ) -> web.AppRunner:
    runner = web.AppRunner(make_app(resolve), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=ctx).start()
    return runner
