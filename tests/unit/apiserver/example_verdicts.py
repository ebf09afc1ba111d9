"""What admission does with each of KubeVirt's example manifests (../shared/kubevirt-examples).

ACCEPT: admitted as is. REJECT: rejected, with exactly these field paths.
NO_CRD: a kind virtkube does not serve yet; the API server itself refuses it
("no matches for kind"), admission never sees it.

GATES: examples KubeVirt itself admits only with feature gates on (in the KubeVirt
CR; all off by default): their verdict holds with these gates, and without them they
are rejected at the field each gate guards.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["ACCEPT", "REJECT", "NO_CRD"]

VERDICTS: dict[str, tuple[Verdict, list[str]]] = {
    "csmall.yaml": ("NO_CRD", []),
    "migration-job.yaml": ("ACCEPT", []),  # once its VMI (vmi-migratable) exists
    "virtio.yaml": ("NO_CRD", []),
    "vm-alpine-datavolume.yaml": ("REJECT", ["spec.dataVolumeTemplates"]),
    "vm-alpine-multipvc.yaml": ("ACCEPT", []),
    "vm-cirros-csmall.yaml": ("REJECT", ["spec.instancetype"]),
    "vm-cirros-sata.yaml": ("ACCEPT", []),
    "vm-cirros.yaml": ("ACCEPT", []),
    "vm-pool-cirros.yaml": ("NO_CRD", []),
    "vmi-alpine-efi.yaml": ("ACCEPT", []),
    "vmi-ephemeral.yaml": ("ACCEPT", []),
    "vmi-fedora.yaml": ("ACCEPT", []),
    "vmi-host-disk.yaml": ("ACCEPT", []),
    "vmi-kernel-boot.yaml": ("ACCEPT", []),
    "vmi-masquerade.yaml": ("ACCEPT", []),
    "vmi-migratable.yaml": ("ACCEPT", []),
    "vmi-nocloud.yaml": ("ACCEPT", []),
    "vmi-pvc.yaml": ("ACCEPT", []),
    "vmi-replicaset-cirros.yaml": ("NO_CRD", []),
    "vmi-sata.yaml": ("ACCEPT", []),
}

GATES: dict[str, dict[str, list[str]]] = {
    "vmi-host-disk.yaml": {"HostDisk": ["spec.volumes[0].hostDisk"]},
}


def verdict_with_gates_off(name: str) -> tuple[Verdict, list[str]]:
    """The verdict on a cluster with no KubeVirt CR (every gate off, as the test cluster):
    an example that needs a gate is rejected at every field its gates guard."""
    if name in GATES:
        return "REJECT", [f for guarded in GATES[name].values() for f in guarded]
    return VERDICTS[name]
