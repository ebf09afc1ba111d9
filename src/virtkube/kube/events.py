"""Kubernetes Events: what a user reads in `kubectl describe` to learn why.

Repeats of the same (object, reason, message) bump `count` on one Event
instead of creating another, like client-go's event correlator.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Literal

from virtkube.kube import errors
from virtkube.kube.client import Client, Obj
from virtkube.kube.resources import EVENTS

log = logging.getLogger(__name__)

EventKind = Literal["Normal", "Warning"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: dict[tuple[str, str, str], tuple[str, int]] = {}

    async def record(self, obj: Obj, kind: EventKind, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        uid = str(meta.get("uid") or "")
        ident = (uid, reason, message)
        now = _now()
        try:
            if ident in self._seen:
                name, count = self._seen[ident]
                await self.client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": now},
                                        namespace)
                self._seen[ident] = (name, count + 1)
                return
            name = f"{meta.get('name')}.{secrets.token_hex(8)}"
            source: Obj = {"component": self.component}
            if self.host:
                source["host"] = self.host
            await self.client.create(EVENTS, {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {
                    "apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                    "name": meta.get("name"), "namespace": meta.get("namespace"), "uid": uid,
                    "resourceVersion": meta.get("resourceVersion"),
                },
                "reason": reason, "message": message, "type": kind, "count": 1,
                "firstTimestamp": now, "lastTimestamp": now, "source": source,
                "reportingComponent": self.component, "reportingInstance": self.host,
            }, namespace)
            self._seen[ident] = (name, 1)
            if len(self._seen) > 4096:
                self._seen.clear()
        except errors.KubeError as e:
            # An event is a courtesy to the user; never fail a reconcile over it.
            log.info("event %s/%s %s not recorded: %s", namespace, meta.get("name"), reason, e)
