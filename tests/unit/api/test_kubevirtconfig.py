"""The effective cluster configuration: KubeVirt's defaults, a CR's overrides, which CR counts.

Defaults as in KubeVirt's pkg/virt-config (virt-config.go constants and
defaultClusterConfig in configuration.go); a CR's configuration laid over them
field by field; a configuration KubeVirt would refuse is an InvalidConfiguration.
"""

from __future__ import annotations

from typing import Any

import pytest

from virtkube.api.kubevirtconfig import (
    KUBEVIRT_DEFAULTS,
    Configuration,
    EffectiveConfig,
    EffectiveMigrations,
    InvalidConfiguration,
    active_kubevirt,
    effective,
    vmi_eviction_strategy,
)

Obj = dict[str, Any]


def kubevirt(configuration: Obj | None = None, *, namespace: str = "kubevirt",
             name: str = "kubevirt", created: str = "2026-01-01T00:00:00Z") -> Obj:
    spec: Obj = {"certificateRotateStrategy": {}}
    if configuration is not None:
        spec["configuration"] = configuration
    return {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "spec": spec,
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created}}


def test_without_a_cr_kubevirts_defaults_apply() -> None:
    config = effective(None)
    assert config == KUBEVIRT_DEFAULTS
    assert config.feature_gates == frozenset()
    assert config.default_network_interface == "bridge"
    assert config.permit_bridge_interface_on_pod_network is True
    assert config.eviction_strategy == "None"
    assert config.migrations == EffectiveMigrations(
        parallel_migrations_per_cluster=5, parallel_outbound_migrations_per_node=2,
        bandwidth_per_migration="0Mi", completion_timeout_per_gib=150, progress_timeout=150,
        allow_auto_converge=False, allow_post_copy=False, allow_workload_disruption=False,
        unsafe_migration_override=False, node_drain_taint_key="kubevirt.io/drain")


@pytest.mark.parametrize("configuration", [None, {}, {"network": {}, "migrations": {}}])
def test_a_cr_that_sets_nothing_keeps_the_defaults(configuration: Obj | None) -> None:
    config = effective(kubevirt(configuration))
    assert config == KUBEVIRT_DEFAULTS
    assert config.source == "KubeVirt kubevirt/kubevirt"


def test_each_setting_the_cr_gives_replaces_only_that_default() -> None:
    config = effective(kubevirt({
        "developerConfiguration": {"featureGates": ["HostDisk", "Snapshot"]},
        "network": {"defaultNetworkInterface": "masquerade",
                    "permitBridgeInterfaceOnPodNetwork": False},
        "evictionStrategy": "LiveMigrate",
        "migrations": {"completionTimeoutPerGiB": 800, "parallelMigrationsPerCluster": 10,
                       "bandwidthPerMigration": "64Mi", "allowAutoConverge": True}}))
    assert config.feature_gates == {"HostDisk", "Snapshot"}
    assert config.default_network_interface == "masquerade"
    assert config.permit_bridge_interface_on_pod_network is False
    assert config.eviction_strategy == "LiveMigrate"
    m = config.migrations
    assert (m.completion_timeout_per_gib, m.parallel_migrations_per_cluster,
            m.bandwidth_per_migration, m.allow_auto_converge) == (800, 10, "64Mi", True)
    assert (m.progress_timeout, m.parallel_outbound_migrations_per_node) == (150, 2)


def test_the_base_gives_the_installations_defaults_and_the_cr_overrides_them() -> None:
    base = EffectiveConfig(default_network_interface="masquerade")
    assert effective(None, base).default_network_interface == "masquerade"
    assert effective(kubevirt({"network": {}}), base).default_network_interface == "masquerade"
    assert effective(kubevirt({"network": {"defaultNetworkInterface": "bridge"}}),
                     base).default_network_interface == "bridge"


@pytest.mark.parametrize(("given", "expected"), [
    ({}, False), ({"allowPostCopy": True}, True),
    ({"allowPostCopy": True, "allowWorkloadDisruption": False}, False),
    ({"allowWorkloadDisruption": True}, True)])
def test_workload_disruption_follows_post_copy_unless_set(given: Obj, expected: bool) -> None:
    assert effective(kubevirt({"migrations": given})).migrations.allow_workload_disruption \
        is expected


@pytest.mark.parametrize("configuration", [
    {"network": {"defaultNetworkInterface": "macvtap"}},
    {"network": {"permitBridgeInterfaceOnPodNetwork": "maybe"}},
    {"migrations": {"progressTimeout": "soon"}},
    {"migrations": {"parallelMigrationsPerCluster": -1}},
    {"migrations": {"bandwidthPerMigration": "fast"}},
    {"evictionStrategy": "Sometimes"},
    {"developerConfiguration": {"featureGates": "HostDisk"}},
])
def test_a_configuration_kubevirt_would_refuse_is_invalid(configuration: Obj) -> None:
    with pytest.raises(InvalidConfiguration, match="KubeVirt kubevirt/kubevirt"):
        effective(kubevirt(configuration))


def test_unknown_fields_are_kept_as_given() -> None:
    raw = {"network": {"defaultNetworkInterface": "bridge", "binding": {"x": {"sidecarImage": "i"}},
                       "somethingNew": 1},
           "migrations": {"completionTimeoutPerGiB": 800, "disableTLS": True},
           "vmStateStorageClass": "fast", "evictionStrategy": "None"}
    assert Configuration.model_validate(raw).to_dict() == raw


def test_the_cr_in_the_install_namespace_counts_the_oldest_first() -> None:
    old = kubevirt({"evictionStrategy": "LiveMigrate"}, name="a", created="2026-01-01T00:00:00Z")
    new = kubevirt({"evictionStrategy": "External"}, name="b", created="2026-02-01T00:00:00Z")
    elsewhere = kubevirt({"evictionStrategy": "None"}, namespace="other")
    assert active_kubevirt([new, elsewhere, old]) is old
    assert effective(active_kubevirt([new, old])).eviction_strategy == "LiveMigrate"
    assert active_kubevirt([elsewhere]) is elsewhere
    assert active_kubevirt([elsewhere, kubevirt(namespace="third")]) is None


def test_a_cr_being_deleted_does_not_count() -> None:
    going = kubevirt({"evictionStrategy": "LiveMigrate"})
    going["metadata"]["deletionTimestamp"] = "2026-03-01T00:00:00Z"
    assert active_kubevirt([going]) is None


def test_a_vmis_own_eviction_strategy_wins_over_the_clusters() -> None:
    cluster = effective(kubevirt({"evictionStrategy": "LiveMigrate"}))
    assert vmi_eviction_strategy(None, cluster) == "LiveMigrate"
    assert vmi_eviction_strategy("External", cluster) == "External"
    assert vmi_eviction_strategy(None, KUBEVIRT_DEFAULTS) == "None"
