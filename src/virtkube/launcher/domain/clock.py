"""The guest's real-time clock and timers.

QEMU's RTC takes a start time rather than an offset, so a UTC offset or a
timezone is turned into a start time from `ctx.now` (libvirt does the same).
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
_RTC_FORMAT = "%Y-%m-%dT%H:%M:%S"


def clock_args(vmi: VirtualMachineInstance, ctx: DomainContext) -> list[str]:
    clock = vmi.spec.domain.clock
    base = "utc"
    driftfix: str | None = None
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
        if timer is not None and timer.hpet is not None and timer.hpet.present is False:
            args += ["-machine", "hpet=off"]
    return ["-rtc", opts(f"base={base}", driftfix=driftfix), *args]


def _now(ctx: DomainContext) -> datetime:
    if ctx.now is None:
        raise LauncherError("clock offset or timezone needs ctx.now")
    return ctx.now.astimezone(UTC)
