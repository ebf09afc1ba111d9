"""Leader election through an API server that stops answering: never two leaders.

A loopback stand-in serves one Lease; `frozen` makes every request hang, as a
restarting API server (or one behind a dead connection) does. The leader must stop
its work before the Lease could expire for anyone else, and a standby must take over
once the server answers again.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

from aiohttp import web

from virtkube.kube.client import Client
from virtkube.kube.config import Connection
from virtkube.kube.leaderelection import LeaderElector, LeaseConfig, _parse

PATH = "/apis/coordination.k8s.io/v1/namespaces/kubevirt/leases"
CFG = {"name": "virt-controller", "namespace": "kubevirt", "lease_duration": 2.0,
       "renew_deadline": 1.0, "retry_period": 0.1}


class LeaseServer:
    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 1
        self.frozen = False
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _hang_if_frozen(self) -> None:
        while self.frozen:
            await asyncio.sleep(0.01)

    async def get(self, _request: web.Request) -> web.Response:
        await self._hang_if_frozen()
        if self.lease is None:
            return web.json_response({"kind": "Status", "code": 404, "reason": "NotFound"},
                                     status=404)
        return web.json_response(self.lease)

    async def write(self, request: web.Request) -> web.Response:
        await self._hang_if_frozen()
        body = await request.json()
        current = str(self.lease["metadata"]["resourceVersion"]) if self.lease else None
        if request.method == "PUT" and body["metadata"].get("resourceVersion") != current:
            return web.json_response({"kind": "Status", "code": 409, "reason": "Conflict"},
                                     status=409)
        self.rv += 1
        body["metadata"]["resourceVersion"] = str(self.rv)
        self.lease = body
        return web.json_response(body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(f"{PATH}/virt-controller", self.get)
        app.router.add_put(f"{PATH}/virt-controller", self.write)
        app.router.add_post(PATH, self.write)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def expiry(self) -> float:
        """When the Lease, as the server holds it, expires (wall clock)."""
        assert self.lease is not None
        spec = self.lease["spec"]
        return _parse(spec["renewTime"]).timestamp() + float(spec["leaseDurationSeconds"])


async def test_a_leader_cut_off_from_the_server_steps_down_before_its_lease_expires() -> None:
    server = LeaseServer()
    await server.start()
    conn = Connection(server=server.url, ssl_context=ssl.create_default_context())
    working = asyncio.Event()
    stopped_at: list[float] = []

    async def lead() -> None:
        working.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped_at.append(time.time())

    try:
        # The client's own timeout (30 s) is far beyond the renew deadline (1 s).
        async with Client(conn, timeout=30.0) as client:
            first = LeaderElector(client, LeaseConfig(identity="first", **CFG))  # type: ignore[arg-type]
            run = asyncio.create_task(first.run(lead))
            await asyncio.wait_for(working.wait(), 5)
            server.frozen = True
            await asyncio.wait_for(run, 10)
            assert stopped_at and not first.leading.is_set()
            # The server's copy says when anyone else may take over: the work stopped before.
            assert stopped_at[0] < server.expiry()
            server.frozen = False
            second = LeaderElector(client, LeaseConfig(identity="second", **CFG))  # type: ignore[arg-type]
            again = asyncio.Event()

            async def lead_again() -> None:
                again.set()
                await asyncio.Event().wait()

            takeover = asyncio.create_task(second.run(lead_again))
            await asyncio.wait_for(again.wait(), 10)
            assert server.lease is not None
            assert server.lease["spec"]["holderIdentity"] == "second"
            assert server.lease["spec"]["leaseTransitions"] == 1
            takeover.cancel()
            await asyncio.gather(takeover, return_exceptions=True)
    finally:
        server.frozen = False
        assert server.runner is not None
        await server.runner.cleanup()
