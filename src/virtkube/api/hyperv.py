"""KubeVirt's rules between Hyper-V enlightenments (pkg/virt-api/webhooks/hyperv.go), in one place.

QEMU under KVM refuses an enlightenment whose prerequisite is off (docs/system/i386/hyperv.rst:
hv-synic requires hv-vpindex, ...), with a message about CPUID bits. KubeVirt therefore completes
a prerequisite the user left out in its mutating webhook and rejects one the user disabled in its
validating webhook. virt-api's defaults and validation and the launcher's argv all use the
functions here: what admission stores and lets through is what the launcher runs (the launcher
completes again, which changes nothing on a stored VMI, so a spec that never saw the webhook
renders the same argv).

They read the spec as camelCase JSON (what admission judges); a feature that is present with
`enabled` unset counts as enabled, KubeVirt's SetDefaults_FeatureState.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

#: (feature, the feature it needs), leaves first as in KubeVirt's getHypervFeatureDependencies,
#: so that completing synictimer adds synic, and completing synic then adds vpindex.
REQUIRES: tuple[tuple[str, str], ...] = (
    ("evmcs", "vapic"),
    ("ipi", "vpindex"),
    ("tlbflush", "vpindex"),
    ("synictimer", "synic"),
    ("synic", "vpindex"),
)
#: Enlightened VMCS is a nested-VMX feature: KubeVirt requires the vmx CPU feature with it.
EVMCS_CPU_FEATURE = "vmx"
EVMCS_CPU_POLICY = "require"
#: KubeVirt's SetDefaults_FeatureSpinlocks.
DEFAULT_SPINLOCK_RETRIES = 4096
#: The API's rule for spinlocks.spinlocks ("Must be a value greater or equal 4096"); libvirt
#: refuses fewer retries, QEMU would quietly raise them.
MIN_SPINLOCK_RETRIES = 4096
#: CPUID 0x40000000 holds the vendor id in three registers: twelve characters (hyperv.rst).
MAX_VENDOR_ID = 12
PASSTHROUGH_CONFLICT = ("Cannot explicitly set hyperV features if HypervPassthrough is being "
                        "used. Please use either HyperV or HypervPassthrough.")

Obj = dict[str, Any]


def _enabled(hyperv: Mapping[str, Any], name: str) -> bool:
    state = hyperv.get(name)
    return isinstance(state, Mapping) and state.get("enabled") is not False


def _hyperv(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    features = (spec.get("domain") or {}).get("features") or {}
    hyperv = features.get("hyperv") if isinstance(features, Mapping) else None
    return hyperv if isinstance(hyperv, Mapping) else None


def complete_hyperv(spec: Obj) -> None:
    """KubeVirt's SetHypervFeatureDependencies, in place: enable each prerequisite the user
    left out and add the vmx CPU feature evmcs needs. Like KubeVirt it stops at the first
    prerequisite the user disabled, which `hyperv_problems` then reports. Unlike KubeVirt it
    leaves a vmx feature the user gave another policy as written (KubeVirt rewrites it to
    require), so `hyperv_problems` refuses it rather than the argv silently differing."""
    hyperv = _hyperv(spec)
    if not isinstance(hyperv, dict):
        return
    for feature, needed in REQUIRES:
        if not _enabled(hyperv, feature):
            continue
        state = hyperv.get(needed)
        if not isinstance(state, dict):
            hyperv[needed] = {"enabled": True}
        elif state.get("enabled") is None:
            state["enabled"] = True
        elif state["enabled"] is False:
            return
    if _enabled(hyperv, "evmcs"):
        cpu = spec["domain"].setdefault("cpu", {})
        cpu_features = cpu.setdefault("features", [])
        if not any(isinstance(item, dict) and item.get("name") == EVMCS_CPU_FEATURE
                   for item in cpu_features):
            cpu_features.append({"name": EVMCS_CPU_FEATURE, "policy": EVMCS_CPU_POLICY})


def hyperv_problems(spec: Mapping[str, Any], base: str = "spec") -> list[tuple[str, str]]:
    """(field path, message) of each broken Hyper-V rule, in KubeVirt's words
    (ValidateVirtualMachineInstanceHyperv), judged as KubeVirt judges it: after its mutating
    webhook completed the prerequisites (on a copy here), so only a prerequisite the user
    disabled is a problem, not one left out."""
    if _hyperv(spec) is None:
        return []
    completed = copy.deepcopy(dict(spec))
    complete_hyperv(completed)
    hyperv = _hyperv(completed)
    assert hyperv is not None
    field = f"{base}.domain.features.hyperv"
    problems: list[tuple[str, str]] = []
    for feature, needed in REQUIRES:
        if _enabled(hyperv, feature) and not _enabled(hyperv, needed):
            problems.append((f"{field}.{feature}", f"'{field}.{feature}' requires "
                             f"'{field}.{needed}', which was disabled."))
    problems += _value_problems(hyperv, field)
    features = completed["domain"].get("features") or {}
    if features.get("hypervPassthrough") is not None:
        problems.append((field, PASSTHROUGH_CONFLICT))
    if _enabled(hyperv, "evmcs"):
        cpu_features = (completed["domain"].get("cpu") or {}).get("features") or []
        if not cpu_features:
            problems.append((f"{base}.domain.cpu.features",
                             f"{EVMCS_CPU_FEATURE} cpu feature is required when evmcs is set"))
        for i, item in enumerate(cpu_features):
            if item.get("name") == EVMCS_CPU_FEATURE and (
                    item.get("policy") or EVMCS_CPU_POLICY) != EVMCS_CPU_POLICY:
                problems.append((f"{base}.domain.cpu.features[{i}].policy",
                                 f"{EVMCS_CPU_FEATURE} cpu feature has to be set to "
                                 f"{EVMCS_CPU_POLICY} policy"))
    return problems


def _value_problems(hyperv: Mapping[str, Any], field: str) -> list[tuple[str, str]]:
    """Values libvirt (and so KubeVirt, at domain start) or QEMU's -cpu cannot take; checked
    at admission here rather than failing the launch."""
    problems: list[tuple[str, str]] = []
    retries = (hyperv.get("spinlocks") or {}).get("spinlocks")
    if _enabled(hyperv, "spinlocks") and retries is not None and retries < MIN_SPINLOCK_RETRIES:
        problems.append((f"{field}.spinlocks.spinlocks",
                         f"must be at least {MIN_SPINLOCK_RETRIES}, got {retries}"))
    if _enabled(hyperv, "vendorid"):
        vendor = hyperv["vendorid"].get("vendorid") or ""
        path = f"{field}.vendorid.vendorid"
        if not vendor:
            problems.append((path, "required when vendorid is enabled"))
        elif len(vendor) > MAX_VENDOR_ID:
            problems.append((path, f"at most {MAX_VENDOR_ID} characters, got {len(vendor)}"))
        elif "," in vendor:
            # -cpu splits its properties at every comma (x86_cpu_parse_featurestr uses strtok),
            # so QEMU's usual ",," escape does not work there.
            problems.append((path, "must not contain a comma (QEMU's -cpu cannot take one)"))
    return problems
