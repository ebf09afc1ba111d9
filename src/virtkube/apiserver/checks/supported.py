"""Fields KubeVirt defines and virtkube does not run: rejected at admission, never ignored.

The list of what runs is the launcher's (`virtkube.launcher.domain.supported`):
one list decides both what virt-launcher turns into QEMU arguments and what
virt-api admits, so the two cannot drift apart. (That module is pure data and
imports only `virtkube.api`, so virt-api reads it without talking to a launcher.)
Unlike the launcher, which stops at its first unsupported field, admission
reports every one, and an empty object is not a field of its own when fields
below it are supported (`devices: {}`).

VM-level fields outside the template (instancetype, preference,
dataVolumeTemplates, ...) are decided here, as no launcher ever sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from virtkube.apiserver.causes import Cause, unsupported
from virtkube.launcher.domain.supported import OFF_IS_FINE, SUPPORTED

Obj = dict[str, Any]

#: VM spec fields beside the template, and why virtkube does not take them yet.
VM_UNSUPPORTED: dict[str, str] = {
    "instancetype": "instancetype.kubevirt.io is not served yet",
    "preference": "instancetype.kubevirt.io is not served yet",
    "dataVolumeTemplates": "cdi.kubevirt.io DataVolumes are not served yet",
    "updateVolumesStrategy": "volume updates are not implemented yet",
}
#: runStrategy values that need a KubeVirt feature gate virtkube does not have.
RUN_STRATEGIES_UNSUPPORTED = {"WaitAsReceiver": "decentralized live migration"}

_CONTAINERS = frozenset(
    prefix
    for pattern in SUPPORTED
    for prefix in (pattern[: i] for i, ch in enumerate(pattern) if ch == "." or
                   pattern.startswith("[]", i))
    if prefix
)


def _leaves(value: Any, path: str, generic: str) -> Iterator[tuple[str, str, Any]]:
    """(concrete path, generic path with [] for indexes, value) of each set leaf."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, f"{path}.{key}", f"{generic}.{key}")
    elif isinstance(value, list) and value:
        for i, child in enumerate(value):
            yield from _leaves(child, f"{path}[{i}]", f"{generic}[]")
    else:
        yield path, generic, value


def _covered(generic: str) -> bool:
    probe = generic
    while probe:
        if probe in SUPPORTED:
            return True
        cut = max(probe.rfind("."), probe.rfind("[]"))
        if cut <= 0:
            return False
        probe = probe[:cut]
    return False


def _off(generic: str) -> str | None:
    for pattern in OFF_IS_FINE:
        if generic == pattern or generic.startswith(pattern + "."):
            return pattern
    return None


def check_vmi_spec(spec: Obj, base: str = "spec") -> list[Cause]:
    """Every set field of a VMI spec the launcher does not run, by its path under `base`."""
    causes = []
    for concrete, generic, value in _leaves(spec, "spec", "spec"):
        where = base + concrete[len("spec"):]
        if _off(generic) is not None:
            if value in (False, None, [], {}):
                continue
            causes.append(unsupported(where, f"only false is supported, got {value!r}"))
            continue
        if value in ({}, []) and generic in _CONTAINERS:
            continue
        if not _covered(generic):
            causes.append(unsupported(where))
    return causes


def check_vm_spec(spec: Obj) -> list[Cause]:
    causes = [unsupported(f"spec.{key}", why) for key, why in VM_UNSUPPORTED.items()
              if spec.get(key) not in (None, [], {})]
    strategy = spec.get("runStrategy")
    if strategy in RUN_STRATEGIES_UNSUPPORTED:
        causes.append(unsupported("spec.runStrategy",
                                  f"{strategy} needs {RUN_STRATEGIES_UNSUPPORTED[strategy]}"))
    return causes
