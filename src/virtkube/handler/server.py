"""virt-handler's HTTPS API: what virt-api asks of the VMIs on this node.

KubeVirt's virt-api never reaches a launcher itself: it calls the virt-handler
of the VMI's node, which talks to the launcher over its unix sockets. This
server does that for pause, unpause and softreboot (launcher commands) and for
the console and VNC (websockets bridged to `console.sock` / `vnc.sock`).

It answers only virt-api (mutual TLS, the kubevirt CA, virt-api's CommonName),
only about VMIs this handler runs (its informer's cache, matching uid), and
publishes its address in the Node annotation `HANDLER_ENDPOINT_ANNOTATION`.
Errors are JSON `{"message": ...}` naming the hop: "virt-handler: ..." for its
own refusals, "virt-launcher: ..." for the launcher's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from virtkube.handler import servertls
from virtkube.hlcom import launcherclient, protocol
from virtkube.kube import errors, streams
from virtkube.kube.client import Client
from virtkube.kube.informer import Informer
from virtkube.kube.resources import NODES
from virtkube.pki import issuer

log = logging.getLogger(__name__)

HANDLER_ENDPOINT_ANNOTATION = "virtkube.io/virt-handler-endpoint"
VMI_PATH = "/v1/namespaces/{namespace}/virtualmachineinstances/{name}"
ACTIONS: dict[str, type[protocol.Pause | protocol.Unpause | protocol.SoftReboot]] = {
    "pause": protocol.Pause, "unpause": protocol.Unpause, "softreboot": protocol.SoftReboot}
STREAM_SOCKETS = {"console": protocol.CONSOLE_SOCKET, "vnc": protocol.VNC_SOCKET}
WS_HEARTBEAT = 30.0


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    #: The address virt-api dials (default: host; a wildcard listener needs one).
    advertise: str | None = None
    ca_namespace: str = "kubevirt"


def _error(code: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=code)


class HandlerServer:
    def __init__(self, *, client: Client, vmis: Informer, node: str, sockets_dir: Path,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.vmis = vmis
        self.node = node
        self.sockets_dir = sockets_dir
        #: Told the VMI key after a command changed its domain, so the status
        #: (Paused, Ready) follows at once rather than at the next poll.
        self.on_change = on_change

    def _vmi_dir(self, request: web.Request) -> Path | web.Response:
        """The launcher folder of the VMI in the path, if this handler runs it."""
        ns, name = request.match_info["namespace"], request.match_info["name"]
        uid = request.query.get("uid", "")
        vmi = self.vmis.get(f"{ns}/{name}")
        if vmi is None or (vmi.get("status") or {}).get("nodeName") != self.node:
            return _error(404, f"virt-handler on {self.node}: no VMI {ns}/{name} runs here")
        if uid and vmi["metadata"].get("uid") != uid:
            return _error(409, f"virt-handler on {self.node}: VMI {ns}/{name} has uid "
                               f"{vmi['metadata'].get('uid')}, not {uid}")
        return self.sockets_dir / str(vmi["metadata"]["uid"])

    async def action(self, request: web.Request) -> web.Response:
        folder = self._vmi_dir(request)
        if isinstance(folder, web.Response):
            return folder
        command = ACTIONS[request.match_info["action"]]()
        try:
            await launcherclient.call(folder / protocol.COMMAND_SOCKET, command)
        except launcherclient.LauncherUnreachable as e:
            return _error(502, f"virt-launcher unreachable: {e}")
        except launcherclient.LauncherError as e:
            return _error(409, str(e) if str(e).startswith("virt-launcher") else
                          f"virt-launcher: {e}")
        if self.on_change is not None:
            self.on_change(f"{request.match_info['namespace']}/{request.match_info['name']}")
        return web.Response(status=200)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        folder = self._vmi_dir(request)
        if isinstance(folder, web.Response):
            return folder
        kind = request.match_info["stream"]
        sock = folder / STREAM_SOCKETS[kind]
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(sock)), 10)
        except (OSError, TimeoutError) as e:
            return _error(502, f"virt-launcher: {kind} socket {sock}: {e}")
        ws = web.WebSocketResponse(heartbeat=WS_HEARTBEAT, max_msg_size=0)
        await ws.prepare(request)
        reason = await streams.bridge_stream(ws, reader, writer, f"virt-launcher's {kind} socket",
                                             client_name="virt-api")
        log.info("%s of %s ended: %s", kind, request.match_info["name"], reason)
        return ws

    async def healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_only_virt_api])
        app.add_routes([
            web.get("/healthz", self.healthz),
            web.put(VMI_PATH + "/{action:pause|unpause|softreboot}", self.action),
            web.get(VMI_PATH + "/{stream:console|vnc}", self.stream),
        ])
        return app


@web.middleware
async def _only_virt_api(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path != "/healthz":
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        cn = servertls.peer_common_name(peer)
        if cn != servertls.VIRT_API_CLIENT_CN:
            return _error(403, f"virt-handler: client {cn!r} is not virt-api")
    response: web.StreamResponse = await handler(request)
    return response


async def _wait_ca(client: Client, namespace: str) -> issuer.Pem:
    delay = 1.0
    while True:
        try:
            return await servertls.read_ca(client, namespace)
        except errors.NotFound:
            log.info("waiting for the kubevirt CA (Secret %s/%s, made by virt-api)", namespace,
                     servertls.CA_SECRET)
        except errors.KubeError as e:
            log.warning("reading the kubevirt CA: %s", e)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def run(opts: ServerOptions, *, client: Client, vmis: Informer, node: str,
              sockets_dir: Path, on_change: Callable[[str], None] | None = None) -> None:
    """Serve until cancelled; the Node annotation says where."""
    ca = await _wait_ca(client, opts.ca_namespace)
    advertise = opts.advertise or opts.host
    leaf = servertls.issue_serving(ca, [advertise, opts.host, node])
    server = HandlerServer(client=client, vmis=vmis, node=node, sockets_dir=sockets_dir,
                           on_change=on_change)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, opts.host, opts.port,
                       ssl_context=servertls.server_context(ca.cert, leaf))
    await site.start()
    try:
        port = runner.addresses[0][1] if opts.port == 0 else opts.port
        host = f"[{advertise}]" if ":" in advertise else advertise
        endpoint = f"https://{host}:{port}"
        await client.patch(NODES, node, {"metadata": {"annotations": {
            HANDLER_ENDPOINT_ANNOTATION: endpoint}}})
        log.info("virt-handler API at %s", endpoint)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
