"""virt-api's view of the cluster configuration: the KubeVirt CRs, kept by an informer.

Admission asks on every request which feature gates are on; the answer comes
from the informer's cache, never from a request to the API server. Until the
cache has synced, and while no KubeVirt CR exists, no gate is on: what a gate
protects stays rejected rather than admitted by accident.
"""

from __future__ import annotations

import asyncio
import logging

from virtkube.api.kubevirt import KubeVirt
from virtkube.apiserver.featuregates import INSTALL_NAMESPACE, Gates, active_kubevirt, gates_of
from virtkube.kube.client import Client
from virtkube.kube.informer import Informer
from virtkube.kube.resources import Resource

log = logging.getLogger(__name__)

KUBEVIRTS = Resource(KubeVirt.GROUP, KubeVirt.VERSION, KubeVirt.PLURAL, KubeVirt.KIND)
#: How long virt-api waits for the first list of KubeVirt CRs before it serves anyway, every
#: gate off until the list arrives: the list takes milliseconds, unless the CRD is not
#: installed yet (`virtkube up` installs it while the components start).
SYNC_TIMEOUT = 5.0


class ClusterConfig:
    """The feature gates of the cluster's KubeVirt CR, current as the informer sees it."""

    def __init__(self, client: Client, namespace: str = INSTALL_NAMESPACE) -> None:
        self.namespace = namespace
        self.informer = Informer(client, KUBEVIRTS)
        self._logged: Gates | None = None
        self.informer.add_handler(lambda *_: self._log_change())

    def feature_gates(self) -> Gates:
        return gates_of(active_kubevirt(self.informer.list(), self.namespace))

    def _log_change(self) -> None:
        gates = self.feature_gates()
        if gates != self._logged:
            log.info("feature gates: %s", ", ".join(sorted(gates)) or "none")
            self._logged = gates

    async def start(self) -> asyncio.Task[None]:
        """Run the informer; returns its task once the cache has synced (or timed out)."""
        task = asyncio.create_task(self.informer.run(), name="kubevirt-cr-informer")
        try:
            await asyncio.wait_for(self.informer.synced.wait(), SYNC_TIMEOUT)
        except TimeoutError:
            log.warning("KubeVirt CRs not listed within %.0fs; serving with every feature "
                        "gate off until they are", SYNC_TIMEOUT)
        return task
