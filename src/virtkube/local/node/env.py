"""A container's environment the way the kubelet builds it: envFrom, then env (valueFrom
fieldRef / resourceFieldRef / secretKeyRef / configMapKeyRef), with `$(VAR)` expansion in
values, command and args, on top of the service variables for the API server.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

from virtkube.local.node.quantity import parse_bytes, parse_cpu_millis

Obj = dict[str, Any]
#: (kind "ConfigMap"/"Secret", namespace, name) -> the object's data, decoded, or None.
DataLookup = Callable[[str, str, str], Awaitable[dict[str, str] | None]]

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class EnvError(Exception):
    """A reference could not be resolved (the kubelet's CreateContainerConfigError)."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: known names replaced, `$$` escapes, rest kept."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _VAR.sub(sub, text)


def _label_value(selector: str, meta: Obj) -> str:
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", selector)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise EnvError(f"unsupported fieldRef {selector!r}")


def field_ref(path: str, pod: Obj, pod_ip: str, host_ip: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": host_ip, "status.hostIPs": host_ip,
        "status.podIP": pod_ip, "status.podIPs": pod_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    return _label_value(path, meta)


def resource_ref(ref: Obj, container: Obj) -> str:
    resource = str(ref.get("resource", ""))
    kind, _, what = resource.partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(what)
    divisor = str(ref.get("divisor") or "1")
    if value is None:
        return "0"
    if what == "cpu":
        millis = parse_cpu_millis(str(value))
        div = parse_cpu_millis(divisor)
        return str(-(-millis // div))
    return str(-(-parse_bytes(str(value)) // parse_bytes(divisor)))


async def build(pod: Obj, container: Obj, *, base: dict[str, str], lookup: DataLookup,
                pod_ip: str, host_ip: str) -> dict[str, str]:
    ns = str(pod["metadata"].get("namespace") or "default")
    env = dict(base)
    for src in container.get("envFrom") or []:
        prefix = str(src.get("prefix") or "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = src.get(key)
            if not ref:
                continue
            data = await lookup(kind, ns, ref["name"])
            if data is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'{kind.lower()} "{ref["name"]}" not found')
            env.update({prefix + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(str(var.get("value") or ""), env)
            continue
        vf = var["valueFrom"]
        if "fieldRef" in vf:
            env[name] = field_ref(vf["fieldRef"]["fieldPath"], pod, pod_ip, host_ip)
        elif "resourceFieldRef" in vf:
            env[name] = resource_ref(vf["resourceFieldRef"], container)
        else:
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = vf.get(key)
                if not ref:
                    continue
                data = await lookup(kind, ns, ref["name"])
                if data is None or ref["key"] not in data:
                    if ref.get("optional"):
                        break
                    what = "not found" if data is None else f'has no key "{ref["key"]}"'
                    raise EnvError(f'{kind.lower()} "{ref["name"]}" {what}')
                env[name] = data[ref["key"]]
    return env


def decode_data(kind: str, obj: Obj) -> dict[str, str]:
    """A ConfigMap's data (and binaryData) or a Secret's data, as text."""
    out: dict[str, str] = {}
    if kind == "Secret":
        for k, v in (obj.get("data") or {}).items():
            out[k] = base64.b64decode(v).decode(errors="replace")
        out.update(obj.get("stringData") or {})
    else:
        out.update(obj.get("data") or {})
        for k, v in (obj.get("binaryData") or {}).items():
            out[k] = base64.b64decode(v).decode(errors="replace")
    return out
