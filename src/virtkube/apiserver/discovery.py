"""What `subresources.kubevirt.io/v1` says about itself: its resources, version and health.

The API server builds `kubectl api-resources` and RBAC-friendly discovery
from this APIResourceList; the names are KubeVirt's (`virtualmachines/start`,
`virtualmachineinstances/console`, ...), so Roles written for KubeVirt work.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

from virtkube import __version__

GROUP_VERSION = "subresources.kubevirt.io/v1"

#: (resource/subresource, verbs) served for each kind.
VM_SUBRESOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("start", ("update",)),
    ("stop", ("update",)),
    ("restart", ("update",)),
    ("migrate", ("update",)),
    ("expand-spec", ("get",)),
    ("portforward", ("get",)),
)
VMI_SUBRESOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pause", ("update",)),
    ("unpause", ("update",)),
    ("softreboot", ("update",)),
    ("console", ("get",)),
    ("vnc", ("get",)),
    ("portforward", ("get",)),
    ("guestosinfo", ("get",)),
)


def _entry(resource: str, kind: str, verbs: tuple[str, ...]) -> dict[str, Any]:
    return {"name": resource, "singularName": "", "namespaced": True, "kind": kind,
            "verbs": list(verbs)}


def api_resource_list() -> dict[str, Any]:
    resources = [_entry(f"virtualmachines/{sub}", "VirtualMachine", verbs)
                 for sub, verbs in VM_SUBRESOURCES]
    resources += [_entry(f"virtualmachineinstances/{sub}", "VirtualMachineInstance", verbs)
                  for sub, verbs in VMI_SUBRESOURCES]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
            "resources": resources}


def api_group() -> dict[str, Any]:
    version = {"groupVersion": GROUP_VERSION, "version": "v1"}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": "subresources.kubevirt.io",
            "versions": [version], "preferredVersion": version}


def version_info() -> dict[str, str]:
    """KubeVirt's version.Info shape (virtctl version prints it)."""
    return {"gitVersion": f"v{__version__}", "gitCommit": "", "gitTreeState": "",
            "buildDate": "", "goVersion": "", "compiler": "cpython",
            "platform": f"{sys.platform}/{platform.machine()}",
            "pythonVersion": platform.python_version()}
