"""virt-api's view of the cluster configuration: the KubeVirt CR, followed while it runs.

Admission asks on every request which feature gates are on and which network
defaults apply; the answer comes from the shared watcher's cache
(kube/kubevirtconfig.py), never from a request to the API server. Until the
cache has synced, and while no KubeVirt CR exists, no gate is on: what a gate
protects stays rejected rather than admitted by accident.

virt-api's base configuration is KubeVirt's defaults except the binding a VMI
gets on the pod network when it names none: its `--default-network-interface`
(masquerade on a virtkube cluster), which the CR's
`network.defaultNetworkInterface` overrides.
"""

from __future__ import annotations

import asyncio
import dataclasses

from virtkube.api.kubevirtconfig import KUBEVIRT_DEFAULTS, EffectiveConfig
from virtkube.apiserver.featuregates import INSTALL_NAMESPACE, Gates
from virtkube.kube.client import Client
from virtkube.kube.kubevirtconfig import KubeVirtConfigWatcher

#: How long virt-api waits for the first list of KubeVirt CRs before it serves anyway, every
#: gate off until the list arrives: the list takes milliseconds, unless the CRD is not
#: installed yet (`virtkube up` installs it while the components start).
SYNC_TIMEOUT = 5.0


def base_config(default_network_interface: str) -> EffectiveConfig:
    """KubeVirt's defaults with virt-api's own default binding for the pod network."""
    return dataclasses.replace(KUBEVIRT_DEFAULTS,
                               default_network_interface=default_network_interface)


class ClusterConfig:
    """The feature gates and settings of the cluster's KubeVirt CR, current as virt-api sees it."""

    def __init__(self, client: Client, namespace: str = INSTALL_NAMESPACE,
                 base: EffectiveConfig = KUBEVIRT_DEFAULTS) -> None:
        self.watcher = KubeVirtConfigWatcher(client, namespace, base)
        self.informer = self.watcher.informer

    def current(self) -> EffectiveConfig:
        return self.watcher.current()

    def feature_gates(self) -> Gates:
        return self.watcher.current().feature_gates

    async def start(self) -> asyncio.Task[None]:
        """Run the informer; returns its task once the cache has synced (or timed out)."""
        return await self.watcher.start(SYNC_TIMEOUT)
