"""Leader election on a coordination.k8s.io Lease, as client-go does it.

Only the holder of the Lease runs the controllers; a second replica waits,
and takes over when the holder stops renewing for `lease_duration`. A leader
that cannot renew within `renew_deadline` stops leading (the caller should
exit, so that no two processes ever reconcile at once).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from virtkube.kube import errors
from virtkube.kube.client import Client, Obj
from virtkube.kube.resources import LEASES

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


@dataclass(frozen=True)
class LeaseConfig:
    name: str
    namespace: str
    identity: str
    #: client-go's defaults.
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeaderElector:
    def __init__(self, client: Client, cfg: LeaseConfig) -> None:
        self.client = client
        self.cfg = cfg
        self.leading = asyncio.Event()

    def _spec(self, acquire: bool, prev: Obj | None) -> Obj:
        now = _fmt(_now())
        spec: Obj = dict((prev or {}).get("spec") or {})
        spec.update({"holderIdentity": self.cfg.identity,
                     "leaseDurationSeconds": int(self.cfg.lease_duration), "renewTime": now})
        if acquire:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if prev else 0)
        return spec

    async def try_acquire_or_renew(self) -> bool:
        try:
            lease = await self.client.get(LEASES, self.cfg.name, self.cfg.namespace)
        except errors.NotFound:
            try:
                await self.client.create(LEASES, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.cfg.name, "namespace": self.cfg.namespace},
                    "spec": self._spec(True, None)}, self.cfg.namespace)
                return True
            except errors.Conflict:
                return False
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        renew = spec.get("renewTime")
        duration = float(spec.get("leaseDurationSeconds") or self.cfg.lease_duration)
        expired = renew is None or _parse(renew) + dt.timedelta(seconds=duration) < _now()
        if holder and holder != self.cfg.identity and not expired:
            return False
        lease["spec"] = self._spec(holder != self.cfg.identity, lease)
        try:
            await self.client.replace(LEASES, lease)
        except errors.Conflict:
            return False
        return True

    async def release(self) -> None:
        """Give the Lease up at a clean exit so that a standby takes over at once."""
        try:
            lease = await self.client.get(LEASES, self.cfg.name, self.cfg.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") != self.cfg.identity:
                return
            lease["spec"]["holderIdentity"] = None
            lease["spec"]["renewTime"] = None
            await self.client.replace(LEASES, lease)
        except errors.KubeError as e:
            log.info("releasing lease: %s", e)

    async def _attempt(self, budget: float) -> bool:
        """One try_acquire_or_renew that gives up after `budget` seconds.

        A request to an API server that is restarting can hang for the client's whole
        timeout; a leader must notice that it is past its renew deadline before a
        standby may take the Lease over, so no attempt may outlast the deadline.
        """
        try:
            async with asyncio.timeout(max(budget, 0.1)):
                return await self.try_acquire_or_renew()
        except TimeoutError as e:
            raise errors.Unavailable(f"no answer within {budget:.1f}s", method="PUT",
                                     path=f"leases/{self.cfg.name}") from e

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Wait for the Lease, run `lead` while holding it; return when leadership is lost.

        The caller should then exit (client-go's leaders do): `lead` is cancelled at the
        renew deadline, before the Lease can expire for anyone else, so two processes
        never lead at once; the fresh process campaigns again.
        """
        loop = asyncio.get_running_loop()
        failing = False
        while True:
            try:
                if await self._attempt(self.cfg.renew_deadline):
                    break
                failing = False
            except errors.KubeError as e:
                if not failing:
                    log.info("lease %s: %s; retrying every %.0fs", self.cfg.name, e,
                             self.cfg.retry_period)
                failing = True
            await asyncio.sleep(self.cfg.retry_period)
        log.info("%s became leader of %s/%s", self.cfg.identity, self.cfg.namespace,
                 self.cfg.name)
        self.leading.set()
        leader: asyncio.Task[None] = asyncio.create_task(lead())
        last_renew = loop.time()
        try:
            while True:
                await asyncio.wait({leader}, timeout=self.cfg.retry_period)
                if leader.done():
                    if not leader.cancelled() and leader.exception() is not None:
                        log.error("the leader's work failed", exc_info=leader.exception())
                    return
                budget = self.cfg.renew_deadline - (loop.time() - last_renew)
                try:
                    if await self._attempt(budget):
                        last_renew = loop.time()
                        continue
                    log.error("lease %s taken by another holder", self.cfg.name)
                    return
                except errors.KubeError as e:
                    log.warning("renewing lease %s: %s", self.cfg.name, e)
                if loop.time() - last_renew >= self.cfg.renew_deadline:
                    log.error("could not renew lease %s in %.0fs; stepping down",
                              self.cfg.name, self.cfg.renew_deadline)
                    return
        finally:
            self.leading.clear()
            leader.cancel()
            await asyncio.gather(leader, return_exceptions=True)
