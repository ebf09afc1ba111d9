"""Fields KubeVirt defines and virtkube does not run: rejected at admission, never ignored.

The list of what runs and the walker are `virtkube.api.supported`: one list
decides both what virt-launcher turns into QEMU arguments and what virt-api
admits, so the two cannot drift apart. Unlike the launcher, which stops at its
first unsupported field, admission reports every one.

VM-level fields outside the template (instancetype, preference,
dataVolumeTemplates, ...) are decided here, as no launcher ever sees them.
"""

from __future__ import annotations

from typing import Any

from virtkube.api.supported import unsupported_fields
from virtkube.apiserver.causes import Cause, unsupported

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

def check_vmi_spec(spec: Obj, base: str = "spec") -> list[Cause]:
    """Every set field of a VMI spec the launcher does not run, by its path under `base`."""
    return [unsupported(base + field.path[len("spec"):], field.detail)
            for field in unsupported_fields(spec)]


def check_vm_spec(spec: Obj) -> list[Cause]:
    causes = [unsupported(f"spec.{key}", why) for key, why in VM_UNSUPPORTED.items()
              if spec.get(key) not in (None, [], {})]
    strategy = spec.get("runStrategy")
    if strategy in RUN_STRATEGIES_UNSUPPORTED:
        causes.append(unsupported("spec.runStrategy",
                                  f"{strategy} needs {RUN_STRATEGIES_UNSUPPORTED[strategy]}"))
    return causes
