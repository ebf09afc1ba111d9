"""A scripted stand-in for the API server's list and watch of one kind, on loopback.

Only for unit tests of the client layer: each watch request takes the next ending from
a script (a stream cut mid-line, a 410, a 429, a silent stream, ...), so that every way
a real watch can end is reproduced on purpose, through the real aiohttp client.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Ending = Literal["stream", "cut", "gone", "throttled", "starting", "silent", "close_at_once",
                 "garbage"]


@dataclass
class FakeAPI:
    """Pods in one namespace; writes go through `put` and `remove` and bump the RV."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    rv: int = 100
    script: deque[Ending] = field(default_factory=deque)
    lists: int = 0
    watches: int = 0
    _subscribers: list[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the cluster's state ---------------------------------------------------------------
    def put(self, name: str, **data: Any) -> None:
        self.rv += 1
        kind = "MODIFIED" if name in self.objects else "ADDED"
        obj = {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                            "resourceVersion": str(self.rv)}, **data}
        self.objects[name] = obj
        self._publish({"type": kind, "object": obj})

    def remove(self, name: str) -> None:
        self.rv += 1
        obj = self.objects.pop(name)
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        self._publish({"type": "DELETED", "object": obj})

    def _publish(self, event: dict[str, Any]) -> None:
        for q in self._subscribers:
            q.put_nowait(event)

    def end_streams(self) -> None:
        """End every open watch cleanly (as the server's own timeout does)."""
        for q in self._subscribers:
            q.put_nowait(None)

    # --- the server --------------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/api/v1/namespaces/ns/pods", self._pods)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop listening and drop every connection (kill -9 of the API server)."""
        for q in self._subscribers:
            q.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") != "true":
            self.lists += 1
            return web.json_response({"kind": "PodList", "metadata": {
                "resourceVersion": str(self.rv)}, "items": list(self.objects.values())})
        self.watches += 1
        ending: Ending = self.script.popleft() if self.script else "stream"
        if ending == "throttled":
            return web.json_response({"kind": "Status", "code": 429, "reason": "TooManyRequests",
                                      "message": "slow down"}, status=429,
                                     headers={"Retry-After": "0"})
        if ending == "starting":
            return web.json_response({"kind": "Status", "code": 503,
                                      "message": "the server is starting"}, status=503)
        resp = web.StreamResponse()
        resp.content_type = "application/json"
        await resp.prepare(request)
        if ending == "close_at_once":
            await resp.write_eof()
            return resp
        if ending == "gone":
            await resp.write(json.dumps({"type": "ERROR", "object": {
                "kind": "Status", "code": 410, "reason": "Expired",
                "message": "too old resource version"}}).encode() + b"\n")
            await resp.write_eof()
            return resp
        if ending == "garbage":
            await resp.write(b"this is not json\n")
            await resp.write_eof()
            return resp
        if ending == "cut":
            await resp.write(b'{"type":"MODIFIED","obj')
            assert request.transport is not None
            request.transport.close()
            return resp
        if ending == "silent":
            await asyncio.sleep(3600)  # cancelled when the client gives up and disconnects
            return resp
        return await self._stream(request, resp)

    async def _stream(self, request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or 0)
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._subscribers.append(q)
        try:
            for obj in self.objects.values():  # what happened since `since` (no history kept)
                if int(obj["metadata"]["resourceVersion"]) > since:
                    q.put_nowait({"type": "MODIFIED", "object": obj})
            while (event := await q.get()) is not None:
                await resp.write(json.dumps(event).encode() + b"\n")
            await resp.write_eof()
        except ConnectionResetError:
            pass  # the client gave up on this watch
        finally:
            self._subscribers.remove(q)
        return resp
