"""KubeVirt's feature gates: which are on, read from the cluster's KubeVirt CR.

KubeVirt keeps features that weaken isolation or are not mature behind gates
listed in `spec.configuration.developerConfiguration.featureGates` of its one
KubeVirt CR (in the install namespace, `kubevirt`); a gate not listed is off.
This module is the pure half: the gate names and the choice of the CR whose
gates count. virt-api keeps the CRs in an informer (clusterconfig.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Gates = frozenset[str]

#: hostDisk volumes: disks on the node's own file system (KubeVirt: featuregate.HostDiskGate).
HOST_DISK = "HostDisk"
#: KubeVirt's install namespace, where its KubeVirt CR lives.
INSTALL_NAMESPACE = "kubevirt"


def _created(cr: dict[str, Any]) -> tuple[str, str]:
    meta = cr.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def active_kubevirt(crs: Iterable[dict[str, Any]],
                    namespace: str = INSTALL_NAMESPACE) -> dict[str, Any] | None:
    """The KubeVirt CR that configures the cluster: the (oldest) one in the install
    namespace, else the only one in the cluster; None when there is none to choose."""
    every = list(crs)
    home = [cr for cr in every if (cr.get("metadata") or {}).get("namespace") == namespace]
    if home:
        return min(home, key=_created)
    return every[0] if len(every) == 1 else None


def gates_of(cr: dict[str, Any] | None) -> Gates:
    """The feature gates a KubeVirt CR turns on (none without a CR)."""
    spec = (cr or {}).get("spec") or {}
    config = spec.get("configuration") if isinstance(spec, dict) else None
    developer = (config or {}).get("developerConfiguration") if isinstance(config, dict) else None
    gates = (developer or {}).get("featureGates") if isinstance(developer, dict) else None
    return frozenset(str(g) for g in gates) if isinstance(gates, list) else frozenset()
