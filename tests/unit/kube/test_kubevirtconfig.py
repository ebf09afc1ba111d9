"""The watcher follows the KubeVirt CR as its informer sees it: no restart, last good kept.

The informer's cache is filled by hand (its list-and-watch has its own tests); the
watcher is driven through the informer's handlers, as the events would drive it.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest

from virtkube.api.kubevirtconfig import KUBEVIRT_DEFAULTS, EffectiveConfig
from virtkube.kube.client import Client
from virtkube.kube.informer import EventType, key_of
from virtkube.kube.kubevirtconfig import KubeVirtConfigWatcher

Obj = dict[str, Any]


def kubevirt(configuration: Obj, version: str = "1") -> Obj:
    return {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
            "metadata": {"name": "kubevirt", "namespace": "kubevirt",
                         "resourceVersion": version},
            "spec": {"configuration": configuration}}


def deliver(watcher: KubeVirtConfigWatcher, kind: EventType, obj: Obj) -> None:
    """What the informer does on an event: update its cache, then call the handlers."""
    store = watcher.informer._store
    if kind == "DELETED":
        store.pop(key_of(obj), None)
    else:
        store[key_of(obj)] = obj
    watcher.informer._emit(kind, obj, None)


def new_watcher(base: EffectiveConfig = KUBEVIRT_DEFAULTS) -> KubeVirtConfigWatcher:
    return KubeVirtConfigWatcher(cast(Client, object()), "kubevirt", base)


def test_the_informer_is_namespaced_to_the_install_namespace() -> None:
    assert new_watcher().informer.namespace == "kubevirt"


def test_before_any_cr_the_base_configuration_applies() -> None:
    base = EffectiveConfig(default_network_interface="masquerade")
    watcher = new_watcher(base)
    assert watcher.current() == base
    assert watcher.current().feature_gates == frozenset()


def test_a_change_to_the_cr_takes_effect_and_its_deletion_restores_the_base() -> None:
    watcher = new_watcher()
    deliver(watcher, "ADDED", kubevirt({"network": {"permitBridgeInterfaceOnPodNetwork": False}}))
    assert watcher.current().permit_bridge_interface_on_pod_network is False
    cr = kubevirt({"network": {"permitBridgeInterfaceOnPodNetwork": True},
                   "developerConfiguration": {"featureGates": ["HostDisk"]}}, "2")
    deliver(watcher, "MODIFIED", cr)
    assert watcher.current().permit_bridge_interface_on_pod_network is True
    assert watcher.current().feature_gates == {"HostDisk"}
    deliver(watcher, "DELETED", cr)
    assert watcher.current() == KUBEVIRT_DEFAULTS


def test_an_invalid_configuration_keeps_the_last_good_one_and_is_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    watcher = new_watcher()
    deliver(watcher, "ADDED", kubevirt({"evictionStrategy": "LiveMigrate"}))
    bad = kubevirt({"evictionStrategy": "Sometimes"}, "2")
    with caplog.at_level(logging.INFO, "virtkube.kube.kubevirtconfig"):
        deliver(watcher, "MODIFIED", bad)
        deliver(watcher, "MODIFIED", bad)  # a re-list re-delivers it
    assert watcher.current().eviction_strategy == "LiveMigrate"
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "keeping the last good one" in caplog.records[0].getMessage()


def test_each_change_of_settings_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    watcher = new_watcher()
    with caplog.at_level(logging.INFO, "virtkube.kube.kubevirtconfig"):
        deliver(watcher, "ADDED", kubevirt({"evictionStrategy": "LiveMigrate"}))
        deliver(watcher, "MODIFIED", kubevirt({"evictionStrategy": "LiveMigrate"}, "2"))
        deliver(watcher, "MODIFIED", kubevirt({"evictionStrategy": "External"}, "3"))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "evictionStrategy=LiveMigrate" in messages[0]
    assert "evictionStrategy=External" in messages[1]
