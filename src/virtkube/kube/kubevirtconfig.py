"""The cluster configuration as a process sees it: the KubeVirt CR, kept by an informer.

KubeVirt's components each watch the KubeVirt CR in their install namespace and
follow its `spec.configuration` while they run (pkg/virt-config: the config is
recomputed when the CR's resourceVersion changes). Any virtkube process can do the
same with one `KubeVirtConfigWatcher`: `current()` answers from memory, never with a
request to the API server, so admission and reconcile loops may ask on every call.

Until the first list arrives, and while there is no KubeVirt CR, the configuration
is the base one (KubeVirt's defaults, or the installation's): nothing a feature gate
protects is allowed by accident. A CR whose configuration KubeVirt would refuse is
logged and skipped; the last good configuration stays in force, as in KubeVirt.
"""

from __future__ import annotations

import asyncio
import logging

from virtkube.api.kubevirt import KubeVirt
from virtkube.api.kubevirtconfig import (
    INSTALL_NAMESPACE,
    KUBEVIRT_DEFAULTS,
    EffectiveConfig,
    InvalidConfiguration,
    active_kubevirt,
    effective,
)
from virtkube.kube.client import Client
from virtkube.kube.informer import Informer
from virtkube.kube.resources import Resource

log = logging.getLogger(__name__)

KUBEVIRTS = Resource(KubeVirt.GROUP, KubeVirt.VERSION, KubeVirt.PLURAL, KubeVirt.KIND)


class KubeVirtConfigWatcher:
    """The effective configuration of the cluster's KubeVirt CR, current as the informer sees it."""

    def __init__(self, client: Client, namespace: str = INSTALL_NAMESPACE,
                 base: EffectiveConfig = KUBEVIRT_DEFAULTS) -> None:
        self.namespace = namespace
        self.base = base
        # KubeVirt's informer is namespaced to its install namespace, like this one: a
        # KubeVirt CR elsewhere configures nothing.
        self.informer = Informer(client, KUBEVIRTS, namespace=namespace)
        self._current = base
        self._rejected: tuple[str, str] | None = None
        self.informer.add_handler(lambda *_: self._refresh())

    def current(self) -> EffectiveConfig:
        return self._current

    def _refresh(self) -> None:
        """Recompute from the cache after an event; log a change (or a refusal) once."""
        cr = active_kubevirt(self.informer.list(), self.namespace)
        try:
            config = effective(cr, self.base)
        except InvalidConfiguration as e:
            version = str(((cr or {}).get("metadata") or {}).get("resourceVersion") or "")
            if self._rejected != (version, str(e)):
                log.error("invalid cluster configuration, keeping the last good one: %s", e)
                self._rejected = (version, str(e))
            return
        self._rejected = None
        if config != self._current:
            log.info("cluster configuration: %s", config.describe())
        self._current = config

    async def start(self, timeout: float) -> asyncio.Task[None]:
        """Run the informer; returns its task once the cache has synced, or after `timeout`
        seconds (the base configuration stays in force until the list arrives)."""
        task = asyncio.create_task(self.informer.run(), name="kubevirt-config-informer")
        try:
            await asyncio.wait_for(self.informer.synced.wait(), timeout)
        except TimeoutError:
            log.warning("KubeVirt CRs not listed within %.0fs; running with the default "
                        "configuration (every feature gate off) until they are", timeout)
        return task
