"""The guest's real-time clock and timers.

QEMU's RTC takes a start time rather than an offset, so a UTC offset or a
timezone is turned into a start time from `ctx.now` (libvirt does the same).
The timers follow libvirt's qemuBuildClockArgStr and qemuBuildClockCommandLine: the RTC's
`track` picks the clock it follows, the PIT's tick policy is the in-kernel PIT's
lost_tick_policy, and a PIT or HPET that is not present is a machine property. The KVM
and Hyper-V clocks are CPU properties (hyperv.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.domain.qemuopts import opts
from virtkube.launcher.errors import LauncherError, SpecError, UnsupportedFieldError

_CLOCK = "spec.domain.clock"
#: KubeVirt tickPolicy -> QEMU driftfix (only catchup needs help from QEMU).
_DRIFTFIX = {"catchup": "slew", "delay": "none"}
#: KubeVirt RTC track -> QEMU -rtc clock (libvirt: guest is the VM's clock, wall the host's).
_RTC_CLOCK = {"guest": "vm", "wall": "host"}
#: KubeVirt PIT tickPolicy -> kvm-pit.lost_tick_policy. A PIT given without one is delay, as
#: libvirt writes it; catchup is the in-kernel PIT's own behaviour, so libvirt writes nothing
#: for it; merge has no QEMU equivalent.
_PIT_POLICY: dict[str, str | None] = {"delay": "delay", "catchup": None, "discard": "discard"}
_RTC_FORMAT = "%Y-%m-%dT%H:%M:%S"


def clock_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    clock = vmi.spec.domain.clock
    base = "utc"
    driftfix: str | None = None
    rtc_clock: str | None = None
    args: list[str] = []
    if clock is not None:
        if clock.utc is not None and clock.timezone is not None:
            raise SpecError(_CLOCK, "set either utc or timezone, not both")
        if clock.utc is not None and clock.utc.offset_seconds:
            start = _now(ctx) + timedelta(seconds=clock.utc.offset_seconds)
            base = start.strftime(_RTC_FORMAT)
        elif clock.timezone is not None:
            try:
                zone = ZoneInfo(clock.timezone)
            except (ZoneInfoNotFoundError, ValueError) as e:
                raise SpecError(f"{_CLOCK}.timezone", f"unknown timezone {clock.timezone!r}") from e
            base = _now(ctx).astimezone(zone).replace(tzinfo=None).strftime(_RTC_FORMAT)
        timer = clock.timer
        if timer is not None and timer.rtc is not None:
            if timer.rtc.present is False:
                raise UnsupportedFieldError(
                    f"{_CLOCK}.timer.rtc.present", "the RTC cannot be removed"
                )
            policy = timer.rtc.tick_policy
            if policy is not None:
                if policy not in _DRIFTFIX:
                    raise UnsupportedFieldError(
                        f"{_CLOCK}.timer.rtc.tickPolicy", f"value {policy!r}"
                    )
                driftfix = _DRIFTFIX[policy]
            if timer.rtc.track is not None:
                rtc_clock = _RTC_CLOCK[timer.rtc.track]
        if timer is not None and timer.pit is not None:
            args += _pit_args(timer.pit.present, timer.pit.tick_policy)
        if timer is not None and timer.hpet is not None and timer.hpet.present is False:
            args += ["-machine", "hpet=off"]
    return ["-rtc", opts(f"base={base}", clock=rtc_clock, driftfix=driftfix), *args]


def _pit_args(present: bool | None, policy: str | None) -> list[str]:
    if present is False:
        if policy is not None:
            raise SpecError(f"{_CLOCK}.timer.pit.tickPolicy", "set on a PIT that is not present")
        return ["-machine", "pit=off"]
    policy = policy or "delay"
    if policy not in _PIT_POLICY:
        raise UnsupportedFieldError(f"{_CLOCK}.timer.pit.tickPolicy", f"value {policy!r}")
    lost = _PIT_POLICY[policy]
    return ["-global", f"kvm-pit.lost_tick_policy={lost}"] if lost else []


def _now(ctx: DomainContext) -> datetime:
    if ctx.now is None:
        raise LauncherError("clock offset or timezone needs ctx.now")
    return ctx.now.astimezone(UTC)
