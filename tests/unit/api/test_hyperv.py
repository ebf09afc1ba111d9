"""KubeVirt's Hyper-V prerequisite rules (pkg/virt-api/webhooks/hyperv.go): completion and
the causes, one table each."""

from __future__ import annotations

from typing import Any

import pytest

from virtkube.api.hyperv import complete_hyperv, hyperv_problems

HV = "spec.domain.features.hyperv"


def spec(hyperv: dict[str, Any] | None = None, **domain: Any) -> dict[str, Any]:
    features = {"hyperv": hyperv} if hyperv is not None else {}
    return {"domain": {"features": features, **domain}}


def on() -> dict[str, Any]:
    return {"enabled": True}


@pytest.mark.parametrize(("hyperv", "expected"), [
    ({}, {}),
    ({"relaxed": {}}, {"relaxed": {}}),
    ({"synic": {}}, {"synic": {}, "vpindex": on()}),
    ({"synictimer": {}}, {"synictimer": {}, "synic": on(), "vpindex": on()}),
    ({"synictimer": {"enabled": False}}, {"synictimer": {"enabled": False}}),
    ({"ipi": {}, "tlbflush": {}}, {"ipi": {}, "tlbflush": {}, "vpindex": on()}),
    ({"synic": {}, "vpindex": {}}, {"synic": {}, "vpindex": on()}),
    ({"evmcs": {}}, {"evmcs": {}, "vapic": on()}),
    # A prerequisite the user disabled stays so (and stops completion, as KubeVirt's does).
    ({"synictimer": {}, "synic": {"enabled": False}},
     {"synictimer": {}, "synic": {"enabled": False}}),
])  # fmt: skip
def test_completion(hyperv: dict[str, Any], expected: dict[str, Any]) -> None:
    s = spec(hyperv)
    complete_hyperv(s)
    assert s["domain"]["features"]["hyperv"] == expected


@pytest.mark.parametrize(("cpu", "expected"), [
    (None, [{"name": "vmx", "policy": "require"}]),
    ({"features": [{"name": "pcid"}]}, [{"name": "pcid"}, {"name": "vmx", "policy": "require"}]),
    ({"features": [{"name": "vmx"}]}, [{"name": "vmx"}]),
    ({"features": [{"name": "vmx", "policy": "forbid"}]}, [{"name": "vmx", "policy": "forbid"}]),
])  # fmt: skip
def test_evmcs_adds_vmx_only_where_missing(cpu: dict[str, Any] | None,
                                           expected: list[dict[str, Any]]) -> None:
    s = spec({"evmcs": {}}, **({"cpu": cpu} if cpu else {}))
    complete_hyperv(s)
    assert s["domain"]["cpu"]["features"] == expected


def test_completion_is_idempotent_and_leaves_other_specs_alone() -> None:
    s = spec({"synictimer": {}, "evmcs": {}})
    complete_hyperv(s)
    once = repr(s)
    complete_hyperv(s)
    assert repr(s) == once
    plain = spec()
    complete_hyperv(plain)
    assert plain == spec()


def requires(feature: str, needed: str) -> tuple[str, str]:
    return (f"{HV}.{feature}",
            f"'{HV}.{feature}' requires '{HV}.{needed}', which was disabled.")


@pytest.mark.parametrize(("s", "expected"), [
    (spec(), []),
    (spec({"synictimer": {}}), []),  # completed, as KubeVirt's webhook would
    (spec({"synictimer": {}, "synic": {"enabled": False}}), [requires("synictimer", "synic")]),
    (spec({"synic": {}, "vpindex": {"enabled": False}}), [requires("synic", "vpindex")]),
    (spec({"ipi": {}, "tlbflush": {}, "vpindex": {"enabled": False}}),
     [requires("ipi", "vpindex"), requires("tlbflush", "vpindex")]),
    # KubeVirt's completion stops at the disabled vapic, before it adds vmx: both are causes.
    (spec({"evmcs": {}, "vapic": {"enabled": False}}),
     [requires("evmcs", "vapic"),
      ("spec.domain.cpu.features", "vmx cpu feature is required when evmcs is set")]),
    (spec({"evmcs": {"enabled": False}, "vapic": {"enabled": False}}), []),
    (spec({"evmcs": {}}, cpu={"features": [{"name": "vmx", "policy": "disable"}]}),
     [("spec.domain.cpu.features[0].policy", "vmx cpu feature has to be set to require policy")]),
    ({"domain": {"features": {"hyperv": {}, "hypervPassthrough": {"enabled": True}}}},
     [(HV, "Cannot explicitly set hyperV features if HypervPassthrough is being used. "
           "Please use either HyperV or HypervPassthrough.")]),
    ({"domain": {"features": {"hypervPassthrough": {"enabled": True}}}}, []),
    (spec({"spinlocks": {"spinlocks": 100}}),
     [(f"{HV}.spinlocks.spinlocks", "must be at least 4096, got 100")]),
    (spec({"spinlocks": {"enabled": False, "spinlocks": 100}}), []),
    (spec({"vendorid": {"vendorid": "thirteen-char"}}),
     [(f"{HV}.vendorid.vendorid", "at most 12 characters, got 13")]),
    (spec({"vendorid": {}}), [(f"{HV}.vendorid.vendorid", "required when vendorid is enabled")]),
    (spec({"vendorid": {"vendorid": "a,b"}}),
     [(f"{HV}.vendorid.vendorid", "must not contain a comma (QEMU's -cpu cannot take one)")]),
])  # fmt: skip
def test_problems(s: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert hyperv_problems(s) == expected


def test_problems_name_a_vm_template_path_and_do_not_change_the_spec() -> None:
    s = spec({"synic": {}, "vpindex": {"enabled": False}})
    before = repr(s)
    assert hyperv_problems(s, "spec.template.spec") == [
        ("spec.template.spec.domain.features.hyperv.synic",
         "'spec.template.spec.domain.features.hyperv.synic' requires "
         "'spec.template.spec.domain.features.hyperv.vpindex', which was disabled.")]
    assert repr(s) == before
