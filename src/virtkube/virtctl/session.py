"""virtctl's way to the cluster: the kubeconfig, the namespace, and the API server only.

virtctl never talks to virt-api directly (KubeVirt's rule): every verb is a
request to `subresources.kubevirt.io/v1` on the Kubernetes API server, which
authenticates the user, checks RBAC and proxies to virt-api. Streams
(console, VNC, port-forward) are websockets over the same path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml

from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.config import Connection, load

SUBRESOURCES = "/apis/subresources.kubevirt.io/v1"
SUBPROTOCOL = "plain.kubevirt.io"


class VirtctlError(Exception):
    """A failure to report in one line with a non-zero exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def kubeconfig_path(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    env = os.environ.get("KUBECONFIG")
    if env:
        return env.split(os.pathsep)[0]
    default = Path.home() / ".kube" / "config"
    return str(default) if default.exists() else None


def existing_kubeconfig(explicit: str | None) -> str | None:
    """The kubeconfig to load, checked before loading: the loader prints a line of its own
    about a missing file before it fails, and virtctl's errors are one line."""
    path = kubeconfig_path(explicit)
    if path and not Path(path).is_file():
        raise VirtctlError(f"kubeconfig {path} does not exist")
    return path


def context_namespace(path: str | None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's context (`--context`, else the current one), as
    kubectl picks it."""
    if not path or not Path(path).exists():
        return "default"
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "default"
    current = context or doc.get("current-context")
    for ctx in doc.get("contexts") or []:
        if ctx.get("name") == current:
            return str((ctx.get("context") or {}).get("namespace") or "default")
    return "default"


@dataclass
class Session:
    conn: Connection
    client: Client
    namespace: str

    @classmethod
    async def open(cls, kubeconfig: str | None, namespace: str | None,
                   context: str | None = None) -> Session:
        path = kubeconfig_path(kubeconfig)
        try:
            conn = await load(path, user_agent="virtctl", context=context)
        except Exception as e:  # kubernetes_asyncio raises its own ConfigException and OSErrors
            raise VirtctlError(f"cannot load kubeconfig {path or '(in-cluster)'}: {e}") from e
        ns = namespace or context_namespace(path, context)
        return cls(conn, Client(conn, field_manager="virtctl"), ns)

    async def close(self) -> None:
        await self.client.close()

    def subresource_path(self, plural: str, name: str, sub: str,
                         namespace: str | None = None) -> str:
        ns = quote(namespace or self.namespace, safe="")
        return f"{SUBRESOURCES}/namespaces/{ns}/{plural}/{quote(name, safe='')}/{sub}"

    async def put(self, plural: str, name: str, sub: str, body: dict[str, Any] | None = None,
                  dry_run: bool = False) -> None:
        params = {"dryRun": "All"} if dry_run else None
        await self.client.request("PUT", self.subresource_path(plural, name, sub),
                                  body=body or {}, params=params)

    async def get(self, plural: str, name: str, sub: str) -> Any:
        return await self.client.request("GET", self.subresource_path(plural, name, sub))

    async def websocket(self, session: aiohttp.ClientSession, plural: str, name: str, sub: str,
                        namespace: str | None = None) -> aiohttp.ClientWebSocketResponse:
        """A stream through the API server; HTTP errors become one-line VirtctlErrors."""
        url = self.conn.server + self.subresource_path(plural, name, sub, namespace)
        headers = self.conn.headers()
        try:
            return await session.ws_connect(url, headers=headers, protocols=(SUBPROTOCOL,),
                                            ssl=self.conn.ssl_context, heartbeat=30,
                                            max_msg_size=0)
        except aiohttp.WSServerHandshakeError as e:
            raise VirtctlError(await self._refusal(plural, name, sub, namespace, e)) from e
        except (aiohttp.ClientError, OSError) as e:
            raise VirtctlError(f"API server {self.conn.server} unreachable: {e}") from e

    async def _refusal(self, plural: str, name: str, sub: str, namespace: str | None,
                       e: aiohttp.WSServerHandshakeError) -> str:
        """Why an upgrade was refused: aiohttp drops the Status body, so ask once more
        without upgrading (the same checks answer, with the message naming the hop)."""
        try:
            await self.client.request("GET", self.subresource_path(plural, name, sub,
                                                                   namespace))
        except errors.KubeError as again:
            return error_line(again)
        return f"the API server refused the {sub} stream: HTTP {e.status} {e.message}"


def error_line(e: errors.KubeError) -> str:
    return f"{e.status} {e.reason}: {e.message}" if e.reason else f"{e.status}: {e.message}"
