"""`virtctl expose`: a Service selecting a VM's or VMI's launcher pod by the VMI's labels.

KubeVirt copies a VMI's labels onto its launcher pod, so a Service whose
selector is those labels reaches the guest (through masquerade).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class ExposeError(ValueError):
    pass


#: The TYPE spellings KubeVirt's expose takes (case-insensitive, singular or plural).
KINDS = {alias: kind for kind, aliases in {
    "vm": ("vm", "vms", "virtualmachine", "virtualmachines"),
    "vmi": ("vmi", "vmis", "virtualmachineinstance", "virtualmachineinstances"),
    "vmirs": ("vmirs", "vmirss", "virtualmachineinstancereplicaset",
              "virtualmachineinstancereplicasets"),
}.items() for alias in aliases}


def kind_of(value: str) -> str:
    kind = KINDS.get(value.lower())
    if kind is None:
        raise ExposeError(f"unsupported resource type {value!r}: use vm, vmi or vmirs")
    return kind


def selector_of(kind: str, obj: Obj) -> dict[str, str]:
    if kind == "vm":
        labels = ((((obj.get("spec") or {}).get("template") or {}).get("metadata") or {})
                  .get("labels") or {})
    elif kind == "vmirs":
        selector = (obj.get("spec") or {}).get("selector") or {}
        if selector.get("matchExpressions"):
            raise ExposeError("cannot expose a VirtualMachineInstanceReplicaSet with match "
                              "expressions (a Service selects by labels only)")
        labels = selector.get("matchLabels") or {}
    else:
        labels = (obj.get("metadata") or {}).get("labels") or {}
    labels = {k: v for k, v in labels.items() if k != "kubevirt.io/nodeName"}
    if not labels:
        name = (obj.get("metadata") or {}).get("name")
        where = {"vm": "spec.template.metadata.labels",
                 "vmirs": "spec.selector.matchLabels"}.get(kind, "metadata.labels")
        raise ExposeError(f"cannot expose {kind} {name}: it has no labels to select its pod "
                          f"by ({where})")
    return dict(labels)


def target_port_of(value: str | int | None, port: int) -> int | str:
    """KubeVirt's --target-port is a number or a port name (IntOrString); default: --port."""
    if value is None or value == "":
        return port
    return int(value) if isinstance(value, int) or value.isdigit() else value


def service_manifest(*, name: str, namespace: str, selector: dict[str, str], port: int,
                     target_port: int | str | None, protocol: str, service_type: str,
                     port_name: str | None = None, node_port: int | None = None,
                     spec: Obj | None = None) -> Obj:
    """The Service; `spec` holds the optional ServiceSpec fields the flags set (clusterIP,
    externalIPs, loadBalancerIP, ipFamilies, ipFamilyPolicy)."""
    if not 0 < port < 65536:
        raise ExposeError(f"--port {port}: must be 1-65535")
    if protocol not in ("TCP", "UDP", "SCTP"):
        raise ExposeError(f"unknown protocol {protocol!r}: use TCP, UDP or SCTP")
    if service_type not in ("ClusterIP", "NodePort", "LoadBalancer"):
        raise ExposeError(f"unknown service type {service_type!r}: use ClusterIP, NodePort "
                          "or LoadBalancer")
    entry: Obj = {"port": port, "protocol": protocol,
                  "targetPort": target_port_of(target_port, port)}
    if port_name:
        entry["name"] = port_name
    if node_port:
        entry["nodePort"] = node_port
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": service_type, "selector": selector, "ports": [entry],
                     **{k: v for k, v in (spec or {}).items() if v}}}


def optional_spec(*, cluster_ip: str | None, external_ip: str | None,
                  load_balancer_ip: str | None, ip_family: str | None,
                  ip_family_policy: str | None) -> Obj:
    """The ServiceSpec fields of expose's optional flags (empty ones are left out)."""
    families = {"ipv4": "IPv4", "ipv6": "IPv6"}
    if ip_family and ip_family.lower() not in families:
        raise ExposeError(f"unknown --ip-family {ip_family!r}: use ipv4 or ipv6")
    policies = {p.lower(): p for p in ("SingleStack", "PreferDualStack", "RequireDualStack")}
    if ip_family_policy and ip_family_policy.lower() not in policies:
        raise ExposeError(f"unknown --ip-family-policy {ip_family_policy!r}: use "
                          + ", ".join(policies.values()))
    return {"clusterIP": cluster_ip, "externalIPs": [external_ip] if external_ip else None,
            "loadBalancerIP": load_balancer_ip,
            "ipFamilies": [families[ip_family.lower()]] if ip_family else None,
            "ipFamilyPolicy": policies[ip_family_policy.lower()] if ip_family_policy else None}
