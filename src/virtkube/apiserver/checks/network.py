"""Networks and interfaces: paired by name, one source and one binding each, KubeVirt's rules.

From `pkg/network/admitter`: interface and network names unique and
resolving both ways, at most one pod network, masquerade only on the pod
network, ports only with masquerade, MAC addresses well formed, ACPI indexes
unique, and boot orders (shared with disks) positive and unique.
"""

from __future__ import annotations

import re

from virtkube.apiserver.causes import Cause, unsupported
from virtkube.apiserver.checks.names import Obj, dns_label_causes, duplicates, items

_BINDINGS = ("bridge", "masquerade", "sriov", "passtBinding", "binding", "slirp", "macvtap",
             "passt")
_DEPRECATED = ("slirp", "macvtap", "passt")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
ACPI_INDEX_MAX = 16383


def _interface_causes(ifaces: list[Obj], networks: dict[str, Obj], base: str) -> list[Cause]:
    causes = list(duplicates(((i, str(f["name"])) for i, f in enumerate(ifaces)), base,
                             "interface"))
    acpi: dict[int, int] = {}
    for i, iface in enumerate(ifaces):
        path = f"{base}[{i}]"
        network = networks.get(str(iface["name"]))
        if network is None:
            causes.append(Cause(f"{path}.name", f"no network named {iface['name']!r} "
                                                "(every interface needs a network)",
                                "FieldValueNotFound"))
        bindings = [b for b in _BINDINGS if b in iface]
        if not bindings:
            causes.append(Cause(path, "must set one binding method: bridge, masquerade, sriov, "
                                      "passtBinding or binding", "FieldValueRequired"))
        elif len(bindings) > 1:
            causes.append(Cause(path, "must set only one binding method, got "
                                      + " and ".join(bindings)))
        for b in bindings:
            if b in _DEPRECATED:
                causes.append(unsupported(f"{path}.{b}", "binding removed in KubeVirt v1.3"))
        if "masquerade" in iface and network is not None and "pod" not in network:
            causes.append(Cause(f"{path}.masquerade",
                                "masquerade interface is only implemented with the pod network"))
        if iface.get("ports") and "masquerade" not in iface:
            causes.append(Cause(f"{path}.ports", "ports are only supported with the "
                                                 "masquerade binding"))
        mac = iface.get("macAddress")
        if mac is not None and not _MAC.match(str(mac)):
            causes.append(Cause(f"{path}.macAddress",
                                f"{mac!r} is not a valid MAC address (like de:ad:00:00:be:af)"))
        index = iface.get("acpiIndex")
        if index is not None:
            if not 1 <= int(index) <= ACPI_INDEX_MAX:
                causes.append(Cause(f"{path}.acpiIndex", f"must be from 1 to {ACPI_INDEX_MAX}"))
            elif int(index) in acpi:
                causes.append(Cause(f"{path}.acpiIndex", f"{index} is already used by "
                                                         f"{base}[{acpi[int(index)]}]",
                                    "FieldValueDuplicate"))
            else:
                acpi[int(index)] = i
        boot = iface.get("bootOrder")
        if boot is not None and boot < 1:
            causes.append(Cause(f"{path}.bootOrder", "must have a boot order > 0, if supplied"))
    return causes


def _network_causes(networks: list[Obj], interfaces: set[str], base: str) -> list[Cause]:
    causes = list(duplicates(((i, str(n["name"])) for i, n in enumerate(networks)), base,
                             "network"))
    pods = 0
    for i, net in enumerate(networks):
        path = f"{base}[{i}]"
        causes += dns_label_causes(str(net["name"]), f"{path}.name")
        sources = [s for s in ("pod", "multus") if s in net]
        if len(sources) != 1:
            causes.append(Cause(path, "should have exactly one network type (pod or multus)",
                                "FieldValueRequired" if not sources else "FieldValueInvalid"))
        if "pod" in net:
            pods += 1
            if pods == 2:
                causes.append(Cause(f"{path}.pod", "more than one network is the pod network"))
        if net["name"] not in interfaces:
            causes.append(Cause(f"{path}.name", f"no interface named {net['name']!r} "
                                                "(every network needs an interface)",
                                "FieldValueNotFound"))
    return causes


def _boot_order_causes(spec: Obj, base: str) -> list[Cause]:
    seen: dict[int, str] = {}
    causes = []
    for kind in ("disks", "interfaces"):
        for i, dev in enumerate(items(spec, "domain", "devices", kind)):
            order = dev.get("bootOrder")
            if order is None or order < 1:
                continue
            path = f"{base}.domain.devices.{kind}[{i}].bootOrder"
            if order in seen:
                causes.append(Cause(path, f"boot order {order} is already used by {seen[order]}",
                                    "FieldValueDuplicate"))
            else:
                seen[order] = path.removesuffix(".bootOrder")
    return causes


def check(spec: Obj, base: str = "spec") -> list[Cause]:
    ifaces = items(spec, "domain", "devices", "interfaces")
    networks = items(spec, "networks")
    causes = _interface_causes(ifaces, {str(n["name"]): n for n in networks},
                               f"{base}.domain.devices.interfaces")
    causes += _network_causes(networks, {str(f["name"]) for f in ifaces}, f"{base}.networks")
    causes += _boot_order_causes(spec, base)
    return causes
