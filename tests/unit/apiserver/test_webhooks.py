"""AdmissionReview handling: answers for every input, KubeVirt's 422 shape, patches that apply."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.unit.apiserver.builders import new_vmi, with_path
from virtkube.apiserver import defaults, jsonpatch, webhooks

CFG = defaults.DefaultsConfig()


async def _no_vmi(_ns: str, _name: str) -> dict[str, Any] | None:
    return None


async def _none(_ns: str, _name: str) -> list[str]:
    return []


LOOKUPS = webhooks.Lookups(get_vmi=_no_vmi, migrations_in_flight=_none)


def review_body(obj: Any, operation: str = "CREATE", old: Any = None,
                resource: str = "virtualmachineinstances") -> bytes:
    request = {"uid": "u-1", "operation": operation, "namespace": "default",
               "resource": {"group": "kubevirt.io", "version": "v1", "resource": resource},
               "object": obj, "oldObject": old}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": request}).encode()


async def answer(path: str, body: bytes) -> dict[str, Any]:
    response: dict[str, Any] = (await webhooks.review(path, body, CFG, LOOKUPS))["response"]
    return response


async def test_mutation_returns_a_json_patch() -> None:
    vmi = new_vmi()
    del vmi["metadata"]["namespace"]
    response = await answer("/mutate-virtualmachineinstances", review_body(vmi))
    assert response["allowed"] is True and response["uid"] == "u-1"
    patch = json.loads(base64.b64decode(response["patch"]))
    assert response["patchType"] == "JSONPatch"
    patched = jsonpatch.apply(vmi, patch)
    assert patched["spec"]["domain"]["machine"] == {"type": "q35"}
    assert "namespace" not in patched["metadata"]


async def test_rejection_has_kubevirt_shape() -> None:
    bad = with_path(new_vmi(), "spec.domain.devices.disks.0.name", "ghost")
    response = await answer("/validate-virtualmachineinstances", review_body(bad))
    assert response["allowed"] is False
    status = response["status"]
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"].startswith("spec.domain.devices.disks[0].name: no volume named")
    assert status["details"]["causes"][0] == {
        "type": "FieldValueNotFound", "field": "spec.domain.devices.disks[0].name",
        "message": "no volume named 'ghost' (every disk needs a volume)"}


async def test_mutator_rejects_what_does_not_parse() -> None:
    bad = with_path(new_vmi(), "spec.domain.cpu", {"cores": "many"})
    response = await answer("/mutate-virtualmachineinstances", review_body(bad))
    assert response["allowed"] is False
    assert [c["field"] for c in response["status"]["details"]["causes"]] == [
        "spec.domain.cpu.cores"]


@pytest.mark.parametrize("body", [b"", b"[]", b"{}", b"not json",
                                  b'{"apiVersion": "admission.k8s.io/v1beta1", "request": {}}',
                                  review_body("a string"), review_body(None)])
async def test_garbage_gets_an_answer(body: bytes) -> None:
    for path in (*webhooks.MUTATE, *webhooks.VALIDATE):
        response = await answer(path, body)
        assert response["allowed"] is False
        assert response["status"]["code"] in (400, 422)


async def test_vmi_update_is_checked_against_the_old_spec() -> None:
    old = defaults.vmi_defaults(new_vmi(), CFG)
    new = with_path(old, "spec.domain.cpu.cores", 8)
    response = await answer("/validate-virtualmachineinstances",
                            review_body(new, "UPDATE", old))
    assert response["status"]["details"]["causes"][0]["field"] == "spec.domain.cpu.cores"
    response = await answer("/mutate-virtualmachineinstances", review_body(new, "UPDATE", old))
    assert response == {"uid": "u-1", "allowed": True}


async def test_migration_of_a_missing_vmi_is_rejected() -> None:
    vmim = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"name": "m"}, "spec": {"vmiName": "ghost"}}
    response = await answer("/validate-virtualmachineinstancemigrations",
                            review_body(vmim, resource="virtualmachineinstancemigrations"))
    assert response["status"]["message"] == 'spec.vmiName: the VMI "default/ghost" does not exist'


@pytest.mark.parametrize(("path", "obj", "resource"), [
    ("/mutate-virtualmachineinstances", new_vmi(), "virtualmachineinstances"),
    ("/validate-virtualmachineinstances", new_vmi(), "virtualmachineinstances"),
    ("/validate-virtualmachineinstancemigrations",
     {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
      "metadata": {"name": "m"}, "spec": {"vmiName": "ghost"}},
     "virtualmachineinstancemigrations"),
])
async def test_each_admission_call_parses_the_object_once(
        monkeypatch: pytest.MonkeyPatch, path: str, obj: Any, resource: str) -> None:
    """The typed model is the schema, built once per call; the rules read the dict."""
    kinds: list[str] = []
    schema_causes = webhooks.validation.schema_causes

    def counting(kind: Any, o: Any) -> Any:
        kinds.append(kind.__name__)
        return schema_causes(kind, o)

    monkeypatch.setattr(webhooks.validation, "schema_causes", counting)
    await answer(path, review_body(obj, resource=resource))
    assert len(kinds) == 1, kinds
