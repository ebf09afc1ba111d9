"""Hyper-V enlightenments, hypervPassthrough, the paravirtual clocks and spinlocks: `-cpu` flags.

KubeVirt hands `features.hyperv` to libvirt as <hyperv> elements and libvirt writes one QEMU
`hv-*` CPU property per enlightenment that is on (qemuBuildCpuCommandLine); an enlightenment
that is off is left out, which is QEMU's default. Names and values follow QEMU's
docs/system/i386/hyperv.rst; `hv-spinlocks` is written in hex as libvirt does. The
prerequisites between enlightenments are KubeVirt's (virtkube.api.hyperv): the launcher
completes them as KubeVirt's mutating webhook does (synictimer alone runs with synic and
vpindex, evmcs with vapic and vmx), and refuses what KubeVirt's validating webhook refuses.

The timers that live on `-cpu` are here too (libvirt puts them there): `clock.timer.kvm`
is `kvmclock=on|off`, `clock.timer.hyperv` is `hv-time`; and `features.pvspinlock` is
`kvm-pv-unhalt`.
"""

from __future__ import annotations

from virtkube.api.domain import DomainSpec
from virtkube.api.features import (
    FeatureHyperv,
    FeatureSpinlocks,
    FeatureState,
    FeatureVendorID,
)
from virtkube.api.hyperv import DEFAULT_SPINLOCK_RETRIES, complete_hyperv, hyperv_problems
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.qemuopts import opts
from virtkube.launcher.errors import SpecError

#: (KubeVirt field, QEMU property, its sub-settings as (field, QEMU property)), in libvirt's
#: order. A sub-setting is written only with its enlightenment on, as QEMU requires.
_ENLIGHTENMENTS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("relaxed", "hv-relaxed", ()),
    ("vapic", "hv-vapic", ()),
    ("spinlocks", "hv-spinlocks", ()),
    ("vpindex", "hv-vpindex", ()),
    ("runtime", "hv-runtime", ()),
    ("synic", "hv-synic", ()),
    ("synictimer", "hv-stimer", (("direct", "hv-stimer-direct"),)),
    ("reset", "hv-reset", ()),
    ("vendorid", "hv-vendor-id", ()),
    ("frequencies", "hv-frequencies", ()),
    ("reenlightenment", "hv-reenlightenment", ()),
    ("tlbflush", "hv-tlbflush", (("direct", "hv-tlbflush-direct"),
                                 ("extended", "hv-tlbflush-ext"))),
    ("ipi", "hv-ipi", ()),
    ("evmcs", "hv-evmcs", ()),
)


def effective_domain(vmi: VirtualMachineInstance) -> DomainSpec:
    """The domain with KubeVirt's Hyper-V prerequisites completed; raises SpecError naming
    the first rule the spec breaks (a disabled prerequisite, hyperv beside hypervPassthrough,
    evmcs without the vmx CPU feature, a spinlock count or vendor id QEMU cannot take)."""
    spec = vmi.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    complete_hyperv(spec)
    for path, message in hyperv_problems(spec):
        raise SpecError(path, message)
    return DomainSpec.model_validate(spec["domain"])


def _on(state: FeatureState | None) -> bool:
    return state is not None and state.enabled is not False


def hyperv_flags(domain: DomainSpec) -> list[str]:
    """The `-cpu` properties of features.hyperv and features.hypervPassthrough."""
    features = domain.features
    if features is None:
        return []
    if features.hyperv is not None:
        return _enlightenments(features.hyperv)
    if _on(features.hyperv_passthrough):
        return ["hv-passthrough=on"]
    return []


def _enlightenments(hv: FeatureHyperv) -> list[str]:
    flags: list[str] = []
    for name, prop, sub_props in _ENLIGHTENMENTS:
        state = getattr(hv, name)
        if _on(state):
            flags.append(f"{prop}={_value(state)}")
            flags += [f"{sub_prop}=on" for sub, sub_prop in sub_props
                      if _on(getattr(state, sub))]
    return flags


def _value(state: FeatureState) -> str:
    if isinstance(state, FeatureSpinlocks):
        retries = state.spinlocks if state.spinlocks is not None else DEFAULT_SPINLOCK_RETRIES
        return f"{retries:#x}"
    if isinstance(state, FeatureVendorID):
        # Checked by hyperv_problems: set, at most twelve characters, no comma.
        return str(state.vendorid)
    return "on"


def paravirt_flags(domain: DomainSpec) -> list[str]:
    """kvm-pv-unhalt (features.pvspinlock), kvmclock (timer.kvm) and hv-time (timer.hyperv):
    libvirt writes a present KVM clock as on and an absent one as off, and the Hyper-V clock
    only when present."""
    flags: list[str] = []
    features = domain.features
    if features is not None and features.pvspinlock is not None:
        flags.append(opts(None, kvm_pv_unhalt=features.pvspinlock.enabled is not False))
    timers = domain.clock.timer if domain.clock else None
    if timers is not None and timers.kvm is not None:
        flags.append(opts(None, kvmclock=timers.kvm.present is not False))
    if timers is not None and timers.hyperv is not None and timers.hyperv.present is not False:
        flags.append("hv-time=on")
    return flags
