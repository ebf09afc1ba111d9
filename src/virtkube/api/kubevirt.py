"""The KubeVirt kind: the cluster-wide configuration KubeVirt keeps in one CR.

KubeVirt's operator installs from it and every component reads its
`spec.configuration`. virtkube models what it acts on (the feature gates in
`developerConfiguration.featureGates`) and keeps the rest of the spec as given,
so a KubeVirt CR written for KubeVirt is stored unchanged.
"""

from __future__ import annotations

from typing import ClassVar

from virtkube.api.base import OpenModel
from virtkube.api.conditions import Condition
from virtkube.api.kind import AGE_COLUMN, KubeVirtObject, PrinterColumn


class DeveloperConfiguration(OpenModel):
    """Feature gates and developer knobs (KubeVirt's DeveloperConfiguration)."""

    feature_gates: list[str] | None = None
    """Names of the features to turn on (e.g. HostDisk); a feature not listed is off."""


class KubeVirtConfiguration(OpenModel):
    """spec.configuration: the settings every KubeVirt component reads."""

    developer_configuration: DeveloperConfiguration | None = None


class KubeVirtSpec(OpenModel):
    """What to install and how to configure it; fields beyond `configuration` are kept."""

    configuration: KubeVirtConfiguration | None = None


class KubeVirtStatus(OpenModel):
    phase: str | None = None
    """The install phase: Deploying, Deployed, Deleting, Deleted."""
    conditions: list[Condition] | None = None


class KubeVirt(KubeVirtObject):
    """The KubeVirt installation and cluster configuration (one per cluster, in `kubevirt`)."""

    KIND: ClassVar[str] = "KubeVirt"
    PLURAL: ClassVar[str] = "kubevirts"
    SINGULAR: ClassVar[str] = "kubevirt"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("kv", "kvs")
    STATUS_SUBRESOURCE: ClassVar[bool] = True
    PRINTER_COLUMNS: ClassVar[tuple[PrinterColumn, ...]] = (
        AGE_COLUMN,
        PrinterColumn(name="Phase", json_path=".status.phase"),
    )

    spec: KubeVirtSpec
    status: KubeVirtStatus | None = None
