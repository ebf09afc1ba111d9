"""KubeVirt's feature gates: which are on, read from the cluster's KubeVirt CR.

KubeVirt keeps features that weaken isolation or are not mature behind gates
listed in `spec.configuration.developerConfiguration.featureGates` of its one
KubeVirt CR (in the install namespace, `kubevirt`); a gate not listed is off.
The choice of the CR and the reading of its configuration are shared by every
process (api/kubevirtconfig.py); this module names the gates virt-api checks.
"""

from __future__ import annotations

from virtkube.api.kubevirtconfig import INSTALL_NAMESPACE, active_kubevirt, gates_of

__all__ = ["HOST_DISK", "INSTALL_NAMESPACE", "Gates", "active_kubevirt", "gates_of"]

Gates = frozenset[str]

#: hostDisk volumes: disks on the node's own file system (KubeVirt: featuregate.HostDiskGate).
HOST_DISK = "HostDisk"
