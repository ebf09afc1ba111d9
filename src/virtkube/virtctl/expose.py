"""`virtctl expose`: a Service selecting a VM's or VMI's launcher pod by the VMI's labels.

KubeVirt copies a VMI's labels onto its launcher pod, so a Service whose
selector is those labels reaches the guest (through masquerade).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class ExposeError(ValueError):
    pass


def selector_of(kind: str, obj: Obj) -> dict[str, str]:
    if kind == "vm":
        labels = ((((obj.get("spec") or {}).get("template") or {}).get("metadata") or {})
                  .get("labels") or {})
    else:
        labels = (obj.get("metadata") or {}).get("labels") or {}
    labels = {k: v for k, v in labels.items() if k != "kubevirt.io/nodeName"}
    if not labels:
        name = (obj.get("metadata") or {}).get("name")
        where = "spec.template.metadata.labels" if kind == "vm" else "metadata.labels"
        raise ExposeError(f"cannot expose {kind} {name}: it has no labels to select its pod "
                          f"by ({where})")
    return dict(labels)


def service_manifest(*, name: str, namespace: str, selector: dict[str, str], port: int,
                     target_port: int | None, protocol: str, service_type: str,
                     port_name: str | None = None) -> Obj:
    if not 0 < port < 65536:
        raise ExposeError(f"--port {port}: must be 1-65535")
    entry: Obj = {"port": port, "protocol": protocol, "targetPort": target_port or port}
    if port_name:
        entry["name"] = port_name
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": service_type, "selector": selector, "ports": [entry]}}
