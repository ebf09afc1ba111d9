"""spec.domain.features: the hypervisor features exposed to the guest.

Kept apart from domain.py because `FeatureState` ({enabled}) is also used by
devices (block size, vGPU display), and both import it from here.
"""

from __future__ import annotations

from virtkube.api.base import KubeVirtModel


class FeatureState(KubeVirtModel):
    """Represents if a feature is enabled or disabled."""

    enabled: bool | None = None
    """Whether the feature is enabled on the guest. Defaults to true."""


class FeatureAPIC(FeatureState):
    end_of_interrupt: bool | None = None
    """EndOfInterrupt enables the end of interrupt notification in the guest. Defaults to false."""


class FeatureSpinlocks(FeatureState):
    spinlocks: int | None = None
    """Retries indicates the number of retries. Must be a value greater or equal 4096."""


class FeatureVendorID(FeatureState):
    vendorid: str | None = None
    """The hypervisor vendor id the guest sees, up to twelve characters."""


class SyNICTimer(FeatureState):
    direct: FeatureState | None = None


class TLBFlush(FeatureState):
    direct: FeatureState | None = None
    extended: FeatureState | None = None


class FeatureHyperv(KubeVirtModel):
    """Hyper-V enlightenments. Each defaults to the machine type setting."""

    relaxed: FeatureState | None = None
    vapic: FeatureState | None = None
    spinlocks: FeatureSpinlocks | None = None
    vpindex: FeatureState | None = None
    runtime: FeatureState | None = None
    synic: FeatureState | None = None
    synictimer: SyNICTimer | None = None
    reset: FeatureState | None = None
    vendorid: FeatureVendorID | None = None
    frequencies: FeatureState | None = None
    reenlightenment: FeatureState | None = None
    tlbflush: TLBFlush | None = None
    ipi: FeatureState | None = None
    evmcs: FeatureState | None = None


class FeatureKVM(KubeVirtModel):
    hidden: bool | None = None
    """Hide the KVM hypervisor from standard MSR based discovery. Defaults to false."""


class Features(KubeVirtModel):
    """Features like acpi, apic, hyperv, smm."""

    acpi: FeatureState | None = None
    """ACPI enables/disables ACPI inside the guest. Defaults to enabled."""
    apic: FeatureAPIC | None = None
    """Defaults to the machine type setting."""
    hyperv_passthrough: FeatureState | None = None
    """Enables all supported Hyper-V flags; the VM is then not migratable."""
    hyperv: FeatureHyperv | None = None
    """Defaults to the machine type setting."""
    smm: FeatureState | None = None
    """SMM enables/disables System Management Mode (needed by EFI secure boot)."""
    kvm: FeatureKVM | None = None
    """Configure how KVM presence is exposed to the guest."""
    pvspinlock: FeatureState | None = None
    """Notify the guest that the host supports paravirtual spinlocks."""
