"""AdmissionReview v1 in, AdmissionReview v1 out: the decisions behind /mutate-* and /validate-*.

Each endpoint maps an AdmissionRequest to defaults.py (a JSON patch) or
validation.py (causes). A rejection is `allowed: false` with KubeVirt's
422 Invalid status listing every bad field. Anything unexpected (a body that
is not an AdmissionReview, a bug) is answered, never raised: virt-api must not
crash on input, and with `failurePolicy: Fail` an answer is better than a
timeout.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from virtkube.api import VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceMigration
from virtkube.api.kubevirtconfig import EffectiveConfig
from virtkube.apiserver import defaults, jsonpatch, validation
from virtkube.apiserver.causes import Cause, status
from virtkube.apiserver.featuregates import Gates

log = logging.getLogger(__name__)

Obj = dict[str, Any]
VMIGetter = Callable[[str, str], Awaitable[Obj | None]]
MigrationLister = Callable[[str, str], Awaitable[list[str]]]
GatesReader = Callable[[], Gates]
ConfigReader = Callable[[], EffectiveConfig]


def no_gates() -> Gates:
    return frozenset()

VMS, VMIS, VMIMS = ("virtualmachines", "virtualmachineinstances",
                    "virtualmachineinstancemigrations")
#: The endpoints, as registered in the webhook configurations.
MUTATE = {f"/mutate-{r}": r for r in (VMS, VMIS, VMIMS)}
VALIDATE = {f"/validate-{r}": r for r in (VMS, VMIS, VMIMS)}


@dataclass(frozen=True)
class Lookups:
    """What the admitters read from the cluster (the server wires the client and caches)."""

    get_vmi: VMIGetter
    migrations_in_flight: MigrationLister
    #: The feature gates of the cluster's KubeVirt CR, read on every request.
    feature_gates: GatesReader = no_gates
    #: The cluster's KubeVirt CR configuration, read on every request; None: the
    #: DefaultsConfig given to `review` as it is, every binding permitted.
    cluster_config: ConfigReader | None = None


class BadReview(ValueError):
    """The body is not an AdmissionReview v1 with a request."""


def parse(body: bytes) -> Obj:
    try:
        review = json.loads(body)
    except ValueError as e:
        raise BadReview(f"body is not JSON: {e}") from e
    if not isinstance(review, dict) or not isinstance(review.get("request"), dict):
        raise BadReview("body is not an AdmissionReview with a request")
    if review.get("apiVersion") != "admission.k8s.io/v1":
        raise BadReview(f"apiVersion {review.get('apiVersion')!r}: only admission.k8s.io/v1")
    return review


def _response(request: Obj, **fields: Any) -> Obj:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": request.get("uid", ""), **fields}}


def allow(request: Obj, patch: jsonpatch.Patch | None = None) -> Obj:
    if not patch:
        return _response(request, allowed=True)
    encoded = base64.b64encode(json.dumps(patch).encode()).decode()
    return _response(request, allowed=True, patchType="JSONPatch", patch=encoded)


def deny(request: Obj, causes: list[Cause]) -> Obj:
    st = status(causes)
    return _response(request, allowed=False, status={
        k: st[k] for k in ("status", "message", "reason", "code", "details")})


def error(request: Obj, message: str, code: int = 400) -> Obj:
    return _response(request, allowed=False, status={
        "status": "Failure", "message": message, "code": code,
        "reason": "BadRequest" if code == 400 else "InternalError"})


def _objects(request: Obj) -> tuple[Obj, Obj | None]:
    obj = request.get("object")
    if not isinstance(obj, dict):
        raise BadReview("request.object is missing")
    old = request.get("oldObject")
    return obj, old if isinstance(old, dict) else None


def _with_namespace(obj: Obj, request: Obj) -> Obj:
    """The object as it will be stored: the request knows the namespace even when it is unset."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and not meta.get("namespace") and request.get("namespace"):
        return {**obj, "metadata": {**meta, "namespace": request["namespace"]}}
    return obj


#: The model whose schema the mutator checks before defaulting, per resource.
_KINDS = {VMS: VirtualMachine, VMIS: VirtualMachineInstance, VMIMS: VirtualMachineInstanceMigration}


def mutate(resource: str, request: Obj, cfg: defaults.DefaultsConfig) -> Obj:
    """Defaults as a JSON patch; an object that does not parse is rejected with every field."""
    obj, _ = _objects(request)
    if resource not in _KINDS:
        return error(request, f"no mutating webhook for {resource!r}")
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return allow(request)
    operation = request.get("operation")
    if resource == VMIS and operation != "CREATE":
        return allow(request)
    full = _with_namespace(obj, request)
    causes = validation.schema_causes(_KINDS[resource], full)
    if causes:
        return deny(request, causes)
    if resource == VMIS:
        try:
            new = defaults.vmi_defaults(full, cfg)
        except defaults.DefaultingError as e:  # KubeVirt: webhookutils.ToAdmissionResponseError
            return error(request, str(e))
    elif resource == VMS:
        new = defaults.vm_defaults(full, cfg)
    else:
        new = defaults.migration_defaults(full) if operation == "CREATE" else full
    if not (obj.get("metadata") or {}).get("namespace"):
        meta = {k: v for k, v in (new.get("metadata") or {}).items() if k != "namespace"}
        new = {**new, "metadata": meta}
    return allow(request, jsonpatch.diff(obj, new))


async def validate(resource: str, request: Obj, lookups: Lookups) -> Obj:
    obj, old = _objects(request)
    obj = _with_namespace(obj, request)
    operation = request.get("operation")
    if resource == VMIS:
        causes = (validation.validate_vmi_update(old, obj) if operation == "UPDATE" and old
                  else validation.validate_vmi_create(obj, lookups.feature_gates()))
    elif resource == VMS:
        causes = validation.validate_vm(obj, old, lookups.feature_gates())
    elif resource == VMIMS:
        if operation == "UPDATE" and old is not None:
            causes = validation.validate_migration_update(old, obj)
        else:
            causes = await _validate_migration(obj, request, lookups)
    else:
        return error(request, f"no validating webhook for {resource!r}")
    if lookups.cluster_config is not None and (resource == VMS or (
            resource == VMIS and operation != "UPDATE")):
        causes += _cluster_config_causes(obj, resource, lookups.cluster_config())
    return deny(request, causes) if causes else allow(request)


def _cluster_config_causes(obj: Obj, resource: str, config: EffectiveConfig) -> list[Cause]:
    """What the KubeVirt CR's settings forbid (pkg/network/admitter validateBridgeBinding):
    the bridge binding on the pod network unless network.permitBridgeInterfaceOnPodNetwork."""
    if config.permit_bridge_interface_on_pod_network:
        return []
    spec, base = obj.get("spec"), "spec"
    if resource == VMS:
        template = spec.get("template") if isinstance(spec, dict) else None
        spec, base = (template.get("spec") if isinstance(template, dict) else None,
                      "spec.template.spec")
    if not isinstance(spec, dict):
        return []
    networks = spec.get("networks")
    pod = {n.get("name") for n in networks if isinstance(n, dict) and "pod" in n
           } if isinstance(networks, list) else set()
    devices = (spec.get("domain") or {}).get("devices") if isinstance(spec.get("domain"),
                                                                      dict) else None
    ifaces = devices.get("interfaces") if isinstance(devices, dict) else None
    return [Cause(f"{base}.domain.devices.interfaces[{i}].name",
                  "Bridge on pod network configuration is not enabled under kubevirt-config")
            for i, iface in enumerate(ifaces if isinstance(ifaces, list) else [])
            if isinstance(iface, dict) and "bridge" in iface and iface.get("name") in pod]


async def _validate_migration(obj: Obj, request: Obj, lookups: Lookups) -> list[Cause]:
    causes = validation.migration_spec_causes(obj)
    name = (obj.get("spec") or {}).get("vmiName")
    if causes or not isinstance(name, str):
        return causes
    namespace = str(request.get("namespace") or (obj.get("metadata") or {}).get("namespace"))
    vmi = await lookups.get_vmi(namespace, name)
    in_flight = await lookups.migrations_in_flight(namespace, name) if vmi else []
    return validation.migration_vmi_causes(obj, vmi, in_flight)


async def review(path: str, body: bytes, cfg: defaults.DefaultsConfig,
                 lookups: Lookups) -> Obj:
    """The AdmissionReview answering `body` at endpoint `path`; never raises."""
    try:
        request = parse(body)["request"]
    except BadReview as e:
        return error({}, str(e))
    try:
        if path in MUTATE:
            live = (defaults.with_cluster(cfg, lookups.cluster_config())
                    if lookups.cluster_config is not None else cfg)
            return mutate(MUTATE[path], request, live)
        if path in VALIDATE:
            return await validate(VALIDATE[path], request, lookups)
        return error(request, f"no admission webhook at {path}")
    except BadReview as e:
        return error(request, str(e))
    except Exception as e:  # virt-api answers; a bug must not become a timeout or a crash
        log.exception("admission %s failed", path)
        return error(request, f"virt-api: internal error in {path}: {type(e).__name__}: {e}",
                     code=500)
