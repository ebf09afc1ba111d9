"""The cluster configuration in a KubeVirt CR, read with KubeVirt's names and defaults.

KubeVirt's components all follow one `spec.configuration` (a KubeVirtConfiguration):
each starts from the built-in defaults (`defaultClusterConfig` in
pkg/virt-config/configuration.go, the constants in pkg/virt-config/virt-config.go)
and lays the CR's configuration over them field by field (`setConfigFromKubeVirt`
unmarshals the CR's JSON onto the defaults, so a field the CR leaves out keeps its
default). A configuration that does not parse or fails `validateConfig` is not
taken: KubeVirt keeps the last good one.

This module is the pure half: the typed parts of `spec.configuration` virtkube acts
on (or soon will), the effective values after defaulting, and the choice of the CR
that counts. The models are `OpenModel`s: they only read, unknown fields are kept,
and they are no part of the KubeVirt CRD schema (api/kubevirt.py), so a KubeVirt CR
written for KubeVirt is stored unchanged. A process keeps the CRs in an informer
(kube/kubevirtconfig.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import Field, ValidationError

from virtkube.api.base import OpenModel
from virtkube.api.errors import field_errors
from virtkube.api.kubevirt import KubeVirtConfiguration
from virtkube.api.quantity import Quantity
from virtkube.api.vmi import EvictionStrategy

Obj = dict[str, Any]

#: KubeVirt's install namespace, where its KubeVirt CR lives.
INSTALL_NAMESPACE = "kubevirt"
#: The bindings `network.defaultNetworkInterface` may name (validateConfig); slirp is
#: accepted there but refused when a VMI would get it (removed in KubeVirt v1.3).
NETWORK_INTERFACES = ("bridge", "masquerade", "slirp")


class NetworkConfiguration(OpenModel):
    """spec.configuration.network (KubeVirt's NetworkConfiguration)."""

    default_network_interface: str | None = None
    """The binding of the interface a VMI gets when it names no network: bridge
    (KubeVirt's default), masquerade, or the deprecated slirp."""
    permit_bridge_interface_on_pod_network: bool | None = None
    """Whether the bridge binding may be used on the pod network (default true)."""
    permit_slirp_interface: bool | None = None
    """Deprecated, removed with slirp in KubeVirt v1.3; read and ignored."""
    binding: dict[str, Any] | None = None
    """Registered network binding plugins, by name (kept; virtkube runs none)."""


class MigrationConfiguration(OpenModel):
    """spec.configuration.migrations (KubeVirt's MigrationConfiguration)."""

    parallel_migrations_per_cluster: int | None = Field(default=None, ge=0)
    parallel_outbound_migrations_per_node: int | None = Field(default=None, ge=0)
    bandwidth_per_migration: Quantity | None = None
    """Bandwidth limit of each migration; 0 (the default) is unlimited."""
    completion_timeout_per_gib: int | None = Field(default=None, alias="completionTimeoutPerGiB")
    """Seconds per GiB of guest memory (and migrated disks) before a migration is cancelled."""
    progress_timeout: int | None = None
    """Seconds without progress of the memory copy before a migration is cancelled."""
    allow_auto_converge: bool | None = None
    allow_post_copy: bool | None = None
    allow_workload_disruption: bool | None = None
    """Unset: follows allowPostCopy (KubeVirt's GetMigrationConfiguration)."""
    unsafe_migration_override: bool | None = None
    node_drain_taint_key: str | None = None
    network: str | None = None
    """A dedicated migration network (a NetworkAttachmentDefinition name)."""


class Configuration(KubeVirtConfiguration):
    """The parts of spec.configuration virtkube reads; every other field is kept as given."""

    network: NetworkConfiguration | None = None
    migrations: MigrationConfiguration | None = None
    eviction_strategy: EvictionStrategy | None = None
    """The cluster's evictionStrategy for VMIs that set none (KubeVirt's default: None)."""


@dataclass(frozen=True)
class EffectiveMigrations:
    """The migration settings in force; defaults from pkg/virt-config/virt-config.go."""

    parallel_migrations_per_cluster: int = 5
    parallel_outbound_migrations_per_node: int = 2
    bandwidth_per_migration: int | str = "0Mi"
    completion_timeout_per_gib: int = 150
    progress_timeout: int = 150
    allow_auto_converge: bool = False
    allow_post_copy: bool = False
    allow_workload_disruption: bool = False
    unsafe_migration_override: bool = False
    node_drain_taint_key: str = "kubevirt.io/drain"
    network: str | None = None


@dataclass(frozen=True)
class EffectiveConfig:
    """The cluster configuration in force: the active CR's settings over the defaults."""

    feature_gates: frozenset[str] = frozenset()
    default_network_interface: str = "bridge"
    permit_bridge_interface_on_pod_network: bool = True
    eviction_strategy: EvictionStrategy = "None"
    migrations: EffectiveMigrations = field(default_factory=EffectiveMigrations)
    #: `namespace/name` of the CR this came from (None: the defaults); not part of equality,
    #: so that watchers log a change of settings, not every write to the CR.
    source: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        """One log line of the settings virtkube acts on."""
        m = self.migrations
        permit = str(self.permit_bridge_interface_on_pod_network).lower()
        return (f"feature gates: {', '.join(sorted(self.feature_gates)) or 'none'}; "
                f"defaultNetworkInterface={self.default_network_interface} "
                f"permitBridgeInterfaceOnPodNetwork={permit} "
                f"evictionStrategy={self.eviction_strategy}; migrations: "
                f"parallelMigrationsPerCluster={m.parallel_migrations_per_cluster} "
                f"parallelOutboundMigrationsPerNode={m.parallel_outbound_migrations_per_node} "
                f"bandwidthPerMigration={m.bandwidth_per_migration} "
                f"completionTimeoutPerGiB={m.completion_timeout_per_gib} "
                f"progressTimeout={m.progress_timeout}"
                f" (from {self.source or 'defaults'})")


#: KubeVirt's own defaults, as a cluster without a KubeVirt CR runs.
KUBEVIRT_DEFAULTS = EffectiveConfig()


class InvalidConfiguration(ValueError):
    """A KubeVirt CR whose spec.configuration KubeVirt would not take (kept: the last good)."""


def _created(cr: Obj) -> tuple[str, str]:
    meta = cr.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def active_kubevirt(crs: Iterable[Obj], namespace: str = INSTALL_NAMESPACE) -> Obj | None:
    """The KubeVirt CR that configures the cluster: the (oldest) one in the install
    namespace, else the only one in the cluster; None when there is none to choose.

    KubeVirt reads the CR in its own namespace (there is one: its operator refuses a
    second); the oldest wins here so that a stray second CR changes nothing. CRs being
    deleted do not count (KubeVirt skips those with a deletionTimestamp). KubeVirt also
    waits for its operator to give the CR a status.phase; virtkube has no operator."""
    every = [cr for cr in crs if not (cr.get("metadata") or {}).get("deletionTimestamp")]
    home = [cr for cr in every if (cr.get("metadata") or {}).get("namespace") == namespace]
    if home:
        return min(home, key=_created)
    return every[0] if len(every) == 1 else None


def gates_of(cr: Obj | None) -> frozenset[str]:
    """The feature gates a KubeVirt CR turns on (none without a CR), read leniently: a
    CR whose other settings are invalid still names its gates."""
    spec = (cr or {}).get("spec") or {}
    config = spec.get("configuration") if isinstance(spec, dict) else None
    developer = (config or {}).get("developerConfiguration") if isinstance(config, dict) else None
    gates = (developer or {}).get("featureGates") if isinstance(developer, dict) else None
    return frozenset(str(g) for g in gates) if isinstance(gates, list) else frozenset()


def _source(cr: Obj) -> str:
    meta = cr.get("metadata") or {}
    return f"KubeVirt {meta.get('namespace') or ''}/{meta.get('name') or ''}"


def _parse(cr: Obj) -> Configuration:
    spec = cr.get("spec")
    raw = spec.get("configuration") if isinstance(spec, dict) else None
    if raw is None:
        return Configuration()
    try:
        return Configuration.model_validate(raw)
    except ValidationError as e:
        detail = "; ".join(str(fe) for fe in field_errors(e))
        raise InvalidConfiguration(f"{_source(cr)}: spec.configuration: {detail}") from e


def _migrations(given: MigrationConfiguration | None,
                base: EffectiveMigrations) -> EffectiveMigrations:
    if given is None:
        return base
    updates = {name: value for name in given.model_fields_set
               if name in EffectiveMigrations.__dataclass_fields__
               and (value := getattr(given, name)) is not None}
    out = replace(base, **updates)
    if given.allow_workload_disruption is None:
        out = replace(out, allow_workload_disruption=out.allow_post_copy)
    return out


def effective(cr: Obj | None, base: EffectiveConfig = KUBEVIRT_DEFAULTS) -> EffectiveConfig:
    """The configuration in force with `cr` as the active KubeVirt CR (None: none).

    Each setting the CR gives replaces the one in `base` (KubeVirt's defaults, or an
    installation's, e.g. virt-api's --default-network-interface); what it leaves out
    keeps the base value. Raises InvalidConfiguration for a configuration KubeVirt
    would refuse (a type error, an unknown defaultNetworkInterface).
    """
    if cr is None:
        return base
    conf = _parse(cr)
    out = replace(base, feature_gates=gates_of(cr), source=_source(cr))
    net = conf.network
    if net is not None:
        iface = net.default_network_interface
        if iface:
            if iface not in NETWORK_INTERFACES:
                raise InvalidConfiguration(
                    f"{_source(cr)}: invalid default-network-interface in config: {iface}")
            out = replace(out, default_network_interface=iface)
        if net.permit_bridge_interface_on_pod_network is not None:
            out = replace(out, permit_bridge_interface_on_pod_network=(
                net.permit_bridge_interface_on_pod_network))
    if conf.eviction_strategy is not None:
        out = replace(out, eviction_strategy=conf.eviction_strategy)
    return replace(out, migrations=_migrations(conf.migrations, base.migrations))


def vmi_eviction_strategy(spec_strategy: EvictionStrategy | None,
                          config: EffectiveConfig) -> EvictionStrategy:
    """KubeVirt's VMIEvictionStrategy: the VMI's own evictionStrategy, else the cluster's."""
    return spec_strategy if spec_strategy is not None else config.eviction_strategy
