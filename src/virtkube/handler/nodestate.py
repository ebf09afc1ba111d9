"""The handler's mark on its node: schedulable for VMIs, and alive.

virt-controller's launcher pods select `kubevirt.io/schedulable=true`, so a
node without a handler never gets a VMI. The heartbeat annotation lets the
controller tell a dead handler from a quiet one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from virtkube.api import timestamp
from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.resources import NODES

log = logging.getLogger(__name__)

SCHEDULABLE_LABEL = "kubevirt.io/schedulable"
HEARTBEAT_ANNOTATION = "kubevirt.io/heartbeat"
#: KubeVirt's handler heartbeats once a minute; the controller allows 5 minutes.
HEARTBEAT_SECONDS = 30.0


async def mark(client: Client, node: str, schedulable: bool) -> None:
    await client.patch(NODES, node, {"metadata": {
        "labels": {SCHEDULABLE_LABEL: "true" if schedulable else "false"},
        "annotations": {HEARTBEAT_ANNOTATION: timestamp()}}})


async def heartbeat(client: Client, node: str) -> None:
    """Keep the node marked until cancelled; on the way out, mark it unschedulable."""
    try:
        while True:
            try:
                await mark(client, node, True)
            except errors.KubeError as e:
                log.warning("heartbeat on node %s: %s", node, e)
            await asyncio.sleep(HEARTBEAT_SECONDS)
    finally:
        with contextlib.suppress(errors.KubeError, asyncio.CancelledError):
            await asyncio.shield(mark(client, node, False))
