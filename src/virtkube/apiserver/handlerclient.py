"""virt-api -> virt-handler: the node agent's HTTPS API, with mutual TLS from the kubevirt CA.

virt-handler publishes where it listens in the annotation `HANDLER_ENDPOINT_ANNOTATION`
on its Node (it has no Service of its own on the local cluster, and a node may
run several handlers' worth of ports there). virt-api presents a client
certificate with KubeVirt's virt-api CommonName and checks the handler's
against the same CA.

The paths and the annotation are the handler's (virtkube.handler.server); they
are repeated here because virt-api and virt-handler import no code of each
other (design.md), and a unit test keeps both copies equal.
"""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import quote

import aiohttp

from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.resources import NODES

HANDLER_ENDPOINT_ANNOTATION = "virtkube.io/virt-handler-endpoint"
VMI_ACTION_PATH = "/v1/namespaces/{namespace}/virtualmachineinstances/{name}/{action}"


class HandlerError(Exception):
    """virt-handler could not be reached, or answered with an error (the message says which)."""

    def __init__(self, message: str, code: int = 502) -> None:
        super().__init__(message)
        self.code = code


def action_path(namespace: str, name: str, action: str) -> str:
    return VMI_ACTION_PATH.format(namespace=quote(namespace, safe=""),
                                  name=quote(name, safe=""), action=action)


async def endpoint_of(client: Client, node: str) -> str:
    """The base URL of the handler on `node` (from its Node annotation)."""
    try:
        obj = await client.get(NODES, node)
    except errors.NotFound as e:
        raise HandlerError(f"virt-handler: node {node!r} does not exist") from e
    url = ((obj.get("metadata") or {}).get("annotations") or {}).get(
        HANDLER_ENDPOINT_ANNOTATION)
    if not url:
        raise HandlerError(f"virt-handler on node {node!r} publishes no endpoint "
                           f"({HANDLER_ENDPOINT_ANNOTATION} annotation missing): is it running "
                           "with its server enabled?", code=503)
    return str(url).rstrip("/")


class HandlerClient:
    """One aiohttp session with virt-api's client certificate."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self.ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl_context))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def put(self, base: str, path: str, uid: str, body: Any = None) -> None:
        url = f"{base}{path}"
        try:
            async with self.session().put(url, params={"uid": uid}, json=body or {},
                                          timeout=aiohttp.ClientTimeout(total=60)) as resp:
                if resp.status >= 400:
                    raise HandlerError(_message(await resp.read(), resp.status),
                                       code=resp.status)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise HandlerError(f"virt-handler at {base} unreachable: {type(e).__name__}: "
                               f"{e}") from e

    async def websocket(self, base: str, path: str, uid: str
                        ) -> aiohttp.ClientWebSocketResponse:
        url = f"{base}{path}"
        try:
            return await self.session().ws_connect(url, params={"uid": uid}, heartbeat=30,
                                                   max_msg_size=0)
        except aiohttp.WSServerHandshakeError as e:
            raise HandlerError(f"virt-handler refused the stream: {e.status} {e.message}",
                               code=e.status) from e
        except (aiohttp.ClientError, TimeoutError) as e:
            raise HandlerError(f"virt-handler at {base} unreachable: {type(e).__name__}: "
                               f"{e}") from e


def _message(raw: bytes, status: int) -> str:
    try:
        doc = json.loads(raw)
        if isinstance(doc, dict) and doc.get("message"):
            return str(doc["message"])
    except ValueError:
        pass
    return f"virt-handler answered HTTP {status}: {raw[:200].decode(errors='replace')}"
