"""Requests to the API server: CRUD, patches, status, and watch streams.

A thin aiohttp layer over `Connection`. Every failure becomes a
`virtkube.kube.errors` exception carrying the server's own message, and every
write can name its field manager so that server-side apply and managedFields
say which virtkube process owns a field.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import aiohttp

from virtkube.kube import errors
from virtkube.kube.config import Connection
from virtkube.kube.resources import Resource

Obj = dict[str, Any]
PatchType = Literal["merge", "json", "strategic", "apply"]

#: Every way a connection can fail under a request or a stream: refused, reset, closed
#: mid-body (aiohttp's ClientPayloadError is not a ClientConnectionError), timed out, or a
#: body cut so short that it is not JSON. All become `errors.Unavailable`, so that callers
#: catch `errors.KubeError` alone and nothing from the transport escapes them.
_TRANSPORT_ERRORS = (TimeoutError, aiohttp.ClientError, json.JSONDecodeError)

_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class Client:
    """One session per process; safe to share between tasks."""

    def __init__(self, conn: Connection, *, field_manager: str = "virtkube",
                 timeout: float = 30.0) -> None:
        self.conn = conn
        self.field_manager = field_manager
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.conn.ssl_context, limit=32)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json",
                      client_timeout: aiohttp.ClientTimeout | None = None) -> Any:
        headers = self.conn.headers()
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            async with self._sess().request(
                method, self.conn.server + path, params=params, data=data, headers=headers,
                timeout=client_timeout or self._timeout,
            ) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise errors.from_response(resp.status, raw, method=method, path=path,
                                               retry_after=resp.headers.get("Retry-After"))
                return json.loads(raw) if raw else None
        except _TRANSPORT_ERRORS as e:
            raise errors.Unavailable(f"{type(e).__name__}: {e}", method=method,
                                     path=path) from e

    # --- reads -------------------------------------------------------------

    async def get(self, res: Resource, name: str, namespace: str | None = None,
                  subresource: str | None = None) -> Obj:
        result: Obj = await self.request("GET", res.path(namespace, name, subresource))
        return result

    async def list(self, res: Resource, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None,
                   resource_version: str | None = None) -> Obj:
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        result: Obj = await self.request("GET", res.path(namespace), params=params)
        return result

    async def watch(self, res: Resource, namespace: str | None = None, *,
                    resource_version: str, label_selector: str | None = None,
                    field_selector: str | None = None, timeout_seconds: int = 300,
                    idle_timeout: float | None = None) -> AsyncIterator[Obj]:
        """Yield watch events ({type, object}) until the server ends the stream.

        BOOKMARK events are asked for: they carry a recent resourceVersion to resume
        from, and the API server sends one about every minute, so a stream silent for
        `idle_timeout` seconds is dead (a frozen server, a half-open connection) and ends
        in `errors.Unavailable`. An ERROR event raises its status as an error (410:
        `errors.Gone`); every transport failure raises `errors.Unavailable`.
        """
        params = {"watch": "true", "resourceVersion": resource_version,
                  "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds)}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        path = res.path(namespace)
        idle = idle_timeout if idle_timeout is not None else timeout_seconds + 30
        try:
            async with self._sess().get(
                self.conn.server + path, params=params, headers=self.conn.headers(),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=idle),
            ) as resp:
                if resp.status >= 400:
                    raise errors.from_response(resp.status, await resp.read(), method="WATCH",
                                               path=path,
                                               retry_after=resp.headers.get("Retry-After"))
                async for line in resp.content:
                    if not line.strip():
                        continue
                    event: Obj = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise errors.from_response(int(status.get("code") or 500),
                                                   json.dumps(status), method="WATCH",
                                                   path=path)
                    yield event
        except _TRANSPORT_ERRORS as e:
            raise errors.Unavailable(f"{type(e).__name__}: {e}", method="WATCH",
                                     path=path) from e

    # --- writes ------------------------------------------------------------

    def _write_params(self, dry_run: bool = False) -> dict[str, str]:
        params = {"fieldManager": self.field_manager}
        if dry_run:
            params["dryRun"] = "All"
        return params

    async def create(self, res: Resource, obj: Obj, namespace: str | None = None, *,
                     dry_run: bool = False) -> Obj:
        ns = namespace or obj.get("metadata", {}).get("namespace")
        result: Obj = await self.request("POST", res.path(ns), body=obj,
                                         params=self._write_params(dry_run))
        return result

    async def replace(self, res: Resource, obj: Obj, *, subresource: str | None = None) -> Obj:
        meta = obj["metadata"]
        result: Obj = await self.request(
            "PUT", res.path(meta.get("namespace"), meta["name"], subresource), body=obj,
            params=self._write_params())
        return result

    async def patch(self, res: Resource, name: str, patch: Any, namespace: str | None = None,
                    *, patch_type: PatchType = "merge", subresource: str | None = None,
                    force: bool = False) -> Obj:
        params = self._write_params()
        if patch_type == "apply" and force:
            params["force"] = "true"
        result: Obj = await self.request(
            "PATCH", res.path(namespace, name, subresource), body=patch, params=params,
            content_type=_PATCH_CONTENT_TYPES[patch_type])
        return result

    async def delete(self, res: Resource, name: str, namespace: str | None = None, *,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = "Background",
                     preconditions: Obj | None = None) -> Obj | None:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if preconditions:
            body["preconditions"] = preconditions
        result: Obj | None = await self.request("DELETE", res.path(namespace, name), body=body)
        return result
