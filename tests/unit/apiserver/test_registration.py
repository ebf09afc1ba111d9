"""The objects virt-api registers, pinned as golden files; the handler contract kept in step."""

from __future__ import annotations

from tests.unit.apiserver.test_defaults import check_golden
from virtkube.apiserver import discovery, handlerclient, registration
from virtkube.handler import server as handler_server

EP = registration.Endpoint(webhook_base_url="https://127.0.0.1:8443", ca_bundle=b"PEM",
                           aggregator_ip="10.250.0.1", aggregator_port=8443)


def test_manifests_golden() -> None:
    check_golden("registration", {
        "mutating": registration.mutating_webhooks(EP),
        "validating": registration.validating_webhooks(EP),
        "service": registration.service(EP),
        "endpointSlice": registration.endpoint_slice(EP),
        "apiService": registration.api_service(EP),
    })


def test_every_webhook_fails_closed_without_side_effects() -> None:
    for config in (registration.mutating_webhooks(EP), registration.validating_webhooks(EP)):
        for hook in config["webhooks"]:
            assert hook["failurePolicy"] == "Fail"
            assert hook["sideEffects"] == "None"
            assert hook["admissionReviewVersions"] == ["v1"]
            assert hook["clientConfig"]["url"].startswith("https://127.0.0.1:8443/")


def test_discovery_lists_kubevirt_subresources() -> None:
    names = {r["name"] for r in discovery.api_resource_list()["resources"]}
    assert {"virtualmachines/start", "virtualmachines/stop", "virtualmachines/restart",
            "virtualmachines/migrate", "virtualmachines/expand-spec",
            "virtualmachineinstances/pause", "virtualmachineinstances/unpause",
            "virtualmachineinstances/softreboot", "virtualmachineinstances/console",
            "virtualmachineinstances/vnc", "virtualmachineinstances/portforward",
            "virtualmachineinstances/guestosinfo"} <= names


def test_handler_contract_matches_both_sides() -> None:
    """virt-api and virt-handler share no code; their copies of the contract must agree."""
    assert handlerclient.HANDLER_ENDPOINT_ANNOTATION == handler_server.HANDLER_ENDPOINT_ANNOTATION
    assert handlerclient.VMI_ACTION_PATH.replace("{action}", "") == (
        handler_server.VMI_PATH.replace("{namespace}", "{namespace}") + "/")
    from virtkube.apiserver import certs
    from virtkube.handler import servertls
    assert certs.VIRT_API_CLIENT_CN == servertls.VIRT_API_CLIENT_CN
    assert certs.CA_SECRET == servertls.CA_SECRET
