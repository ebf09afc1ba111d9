"""virt-api follows the KubeVirt CR's network settings on every request, without a restart.

The binding a VMI gets when it names no network follows network.defaultNetworkInterface
(vmispec.SetDefaultNetworkInterface); bridge on the pod network is refused, with
KubeVirt's messages, while network.permitBridgeInterfaceOnPodNetwork is false.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest

from tests.unit.apiserver.builders import new_vm, new_vmi
from virtkube.api.kubevirtconfig import KUBEVIRT_DEFAULTS, EffectiveConfig
from virtkube.apiserver import defaults, webhooks
from virtkube.apiserver.clusterconfig import base_config

Obj = dict[str, Any]
CFG = defaults.DefaultsConfig()
BRIDGE_REFUSED = "Bridge on pod network configuration is not enabled under kubevirt-config"
NO_BRIDGE = dataclasses.replace(KUBEVIRT_DEFAULTS, permit_bridge_interface_on_pod_network=False)


async def no_vmi(_ns: str, _name: str) -> Obj | None:
    return None


async def none(_ns: str, _name: str) -> list[str]:
    return []


class Live:
    """A stand-in for the watcher: the configuration the next request reads."""

    def __init__(self, config: EffectiveConfig) -> None:
        self.config = config

    def lookups(self) -> webhooks.Lookups:
        return webhooks.Lookups(get_vmi=no_vmi, migrations_in_flight=none,
                                cluster_config=lambda: self.config)

    def set(self, **changes: Any) -> None:
        self.config = dataclasses.replace(self.config, **changes)


async def review(path: str, obj: Obj, live: Live) -> Obj:
    request = {"uid": "u", "operation": "CREATE", "namespace": "default", "object": obj}
    body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": request}).encode()
    response: Obj = (await webhooks.review(path, body, CFG, live.lookups()))["response"]
    return response


def bare_vmi() -> Obj:
    """A VMI that names no network: it gets the pod network and the default binding."""
    vmi = new_vmi()
    vmi["spec"].pop("networks")
    vmi["spec"]["domain"]["devices"].pop("interfaces")
    return vmi


def patched_interfaces(response: Obj) -> list[Obj]:
    patch = json.loads(base64.b64decode(response["patch"]))
    return next(op["value"] for op in patch if op["path"] == "/spec/domain/devices/interfaces")


def test_virt_apis_base_is_kubevirts_defaults_with_its_own_pod_binding() -> None:
    assert base_config("masquerade") == dataclasses.replace(
        KUBEVIRT_DEFAULTS, default_network_interface="masquerade")


async def test_the_default_binding_follows_the_cr_on_every_request() -> None:
    live = Live(base_config("masquerade"))
    path = "/mutate-virtualmachineinstances"
    assert patched_interfaces(await review(path, bare_vmi(), live)) == [
        {"name": "default", "masquerade": {}}]
    live.set(default_network_interface="bridge")
    assert patched_interfaces(await review(path, bare_vmi(), live)) == [
        {"name": "default", "bridge": {}}]


@pytest.mark.parametrize(("binding", "message"), [
    ("bridge", "bridge interface is not enabled in kubevirt-config"),
    ("slirp", "slirp interface is deprecated as of v1.3")])
async def test_no_default_binding_the_cluster_refuses(binding: str, message: str) -> None:
    live = Live(dataclasses.replace(KUBEVIRT_DEFAULTS, default_network_interface=binding,
                                    permit_bridge_interface_on_pod_network=False))
    response = await review("/mutate-virtualmachineinstances", bare_vmi(), live)
    assert response["allowed"] is False
    assert response["status"]["message"] == message
    assert response["status"]["code"] == 400


def bridge_on_pod(vmi: Obj) -> Obj:
    vmi["spec"]["domain"]["devices"]["interfaces"] = [{"name": "default", "bridge": {}}]
    return vmi


async def test_bridge_on_the_pod_network_is_refused_while_not_permitted() -> None:
    live = Live(NO_BRIDGE)
    vmi = defaults.vmi_defaults(bridge_on_pod(new_vmi()), CFG)
    denied = await review("/validate-virtualmachineinstances", vmi, live)
    assert denied["allowed"] is False
    assert denied["status"]["details"]["causes"] == [{
        "type": "FieldValueInvalid", "field": "spec.domain.devices.interfaces[0].name",
        "message": BRIDGE_REFUSED}]
    live.set(permit_bridge_interface_on_pod_network=True)
    assert (await review("/validate-virtualmachineinstances", vmi, live))["allowed"] is True


async def test_a_vm_template_with_bridge_on_the_pod_network_is_refused_too() -> None:
    live = Live(NO_BRIDGE)
    vm = new_vm()
    vm["spec"]["template"]["spec"] = bridge_on_pod(new_vmi())["spec"]
    denied = await review("/validate-virtualmachines", vm, live)
    assert [c["field"] for c in denied["status"]["details"]["causes"]] == [
        "spec.template.spec.domain.devices.interfaces[0].name"]
    assert (await review("/validate-virtualmachines", new_vm(), live))["allowed"] is True


async def test_bridge_on_a_multus_network_is_not_the_pod_networks_concern() -> None:
    live = Live(NO_BRIDGE)
    vmi = new_vmi()
    vmi["spec"]["domain"]["devices"]["interfaces"].append({"name": "sec", "bridge": {}})
    vmi["spec"]["networks"].append({"name": "sec", "multus": {"networkName": "net"}})
    causes = (await review("/validate-virtualmachineinstances",
                           defaults.vmi_defaults(vmi, CFG), live)).get("status")
    assert causes is None or BRIDGE_REFUSED not in json.dumps(causes)


async def test_without_a_cluster_config_the_flags_apply_as_before() -> None:
    lookups = webhooks.Lookups(get_vmi=no_vmi, migrations_in_flight=none)
    request = {"uid": "u", "operation": "CREATE", "namespace": "default", "object": bare_vmi()}
    body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": request}).encode()
    response = (await webhooks.review("/mutate-virtualmachineinstances", body, CFG,
                                      lookups))["response"]
    assert patched_interfaces(response) == [{"name": "default", "masquerade": {}}]
