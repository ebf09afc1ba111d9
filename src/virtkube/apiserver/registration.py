"""What virt-api registers with the API server at start, idempotently (server-side apply).

- MutatingWebhookConfiguration `virt-api-mutator` and ValidatingWebhookConfiguration
  `virt-api-validator`: KubeVirt's webhook names, `failurePolicy: Fail`, no side
  effects, admission v1, called at `clientConfig.url` (virt-api's own listener;
  a URL rather than a Service so that the API server reaches a loopback virt-api);
- the aggregated API: APIService `v1.subresources.kubevirt.io` (KubeVirt's
  group priority 1000 / version priority 15) backed by the selector-less
  Service `kubevirt/virt-api` and an EndpointSlice naming virt-api's address.
  The API server (with --enable-aggregator-routing) dials that endpoint
  directly; EndpointSlices refuse loopback addresses, so it must be an
  address of this machine that is not 127.0.0.0/8.

The manifests are pure functions (golden-tested); `register` applies them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from virtkube.kube.client import Client
from virtkube.kube.resources import NAMESPACES, SERVICES, Resource

Obj = dict[str, Any]

MUTATING = Resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                    "MutatingWebhookConfiguration", namespaced=False)
VALIDATING = Resource("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                      "ValidatingWebhookConfiguration", namespaced=False)
APISERVICES = Resource("apiregistration.k8s.io", "v1", "apiservices", "APIService",
                       namespaced=False)
NAMESPACES_RES = NAMESPACES
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")

FIELD_MANAGER = "virt-api"
SERVICE_NAME = "virt-api"
SUBRESOURCE_GROUP = "subresources.kubevirt.io"
#: KubeVirt's APIService priorities (virt-operator components/apiservices.go).
GROUP_PRIORITY, VERSION_PRIORITY = 1000, 15
LABELS = {"kubevirt.io": "virt-api", "app.kubernetes.io/managed-by": "virt-api"}


@dataclass(frozen=True)
class Endpoint:
    """Where the API server reaches virt-api."""

    webhook_base_url: str
    """https://host:port of the webhook listener (loopback is fine here)."""
    ca_bundle: bytes
    """PEM of the CA that signed virt-api's serving certificate."""
    namespace: str = "kubevirt"
    aggregator_ip: str | None = None
    """Non-loopback IP of virt-api's listener for the aggregated API (None: not served)."""
    aggregator_port: int = 0


def _hook(name: str, path: str, resource: str, operations: list[str], ep: Endpoint,
          timeout: int = 10) -> Obj:
    return {
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "timeoutSeconds": timeout,
        "clientConfig": {"url": ep.webhook_base_url + path,
                         "caBundle": base64.b64encode(ep.ca_bundle).decode()},
        "rules": [{"apiGroups": ["kubevirt.io"], "apiVersions": ["v1"],
                   "operations": operations, "resources": [resource],
                   "scope": "Namespaced"}],
    }


def mutating_webhooks(ep: Endpoint) -> Obj:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "virt-api-mutator", "labels": LABELS},
        "webhooks": [
            _hook("virtualmachines-mutator.kubevirt.io", "/mutate-virtualmachines",
                  "virtualmachines", ["CREATE", "UPDATE"], ep),
            _hook("virtualmachineinstances-mutator.kubevirt.io",
                  "/mutate-virtualmachineinstances", "virtualmachineinstances", ["CREATE"], ep),
            _hook("migrations-mutator.kubevirt.io", "/mutate-virtualmachineinstancemigrations",
                  "virtualmachineinstancemigrations", ["CREATE"], ep),
        ],
    }


def validating_webhooks(ep: Endpoint) -> Obj:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "virt-api-validator", "labels": LABELS},
        "webhooks": [
            _hook("virtualmachine-validator.kubevirt.io", "/validate-virtualmachines",
                  "virtualmachines", ["CREATE", "UPDATE"], ep),
            _hook("virtualmachineinstances-create-validator.kubevirt.io",
                  "/validate-virtualmachineinstances", "virtualmachineinstances",
                  ["CREATE", "UPDATE"], ep),
            _hook("migration-create-validator.kubevirt.io",
                  "/validate-virtualmachineinstancemigrations",
                  "virtualmachineinstancemigrations", ["CREATE", "UPDATE"], ep),
        ],
    }


def service(ep: Endpoint) -> Obj:
    """Selector-less: its endpoints are ours (the EndpointSlice), not a controller's."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE_NAME, "namespace": ep.namespace, "labels": LABELS},
            "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                "targetPort": ep.aggregator_port}]}}


def endpoint_slice(ep: Endpoint) -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": SERVICE_NAME, "namespace": ep.namespace,
                         "labels": {**LABELS, "kubernetes.io/service-name": SERVICE_NAME,
                                    "endpointslice.kubernetes.io/managed-by": "virt-api"}},
            "addressType": "IPv6" if ep.aggregator_ip and ":" in ep.aggregator_ip else "IPv4",
            "ports": [{"name": "https", "port": ep.aggregator_port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ep.aggregator_ip],
                           "conditions": {"ready": True, "serving": True,
                                          "terminating": False}}]}


def api_service(ep: Endpoint) -> Obj:
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"v1.{SUBRESOURCE_GROUP}", "labels": LABELS},
            "spec": {"group": SUBRESOURCE_GROUP, "version": "v1",
                     "groupPriorityMinimum": GROUP_PRIORITY,
                     "versionPriority": VERSION_PRIORITY,
                     "caBundle": base64.b64encode(ep.ca_bundle).decode(),
                     "service": {"name": SERVICE_NAME, "namespace": ep.namespace,
                                 "port": 443}}}


async def _apply(client: Client, res: Resource, obj: Obj) -> None:
    meta = obj["metadata"]
    await client.patch(res, meta["name"], obj, meta.get("namespace"), patch_type="apply",
                       force=True)


async def register(client: Client, ep: Endpoint) -> None:
    """Apply everything; safe to repeat (each start re-applies its current address and CA)."""
    await _apply(client, NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ep.namespace}})
    await _apply(client, MUTATING, mutating_webhooks(ep))
    await _apply(client, VALIDATING, validating_webhooks(ep))
    if ep.aggregator_ip:
        await _apply(client, SERVICES, service(ep))
        await _apply(client, ENDPOINTSLICES, endpoint_slice(ep))
        await _apply(client, APISERVICES, api_service(ep))
