"""A pod's volumes, made ready on the host before its containers start.

Each volume becomes a host path that the container shims bind-mount at the volumeMounts'
mountPaths inside their own mount namespaces: emptyDir is a folder in the pod's state dir
(gone with the pod); configMap, secret, downwardAPI and projected volumes are files written
there (the service-account token from the TokenRequest API, bound to the pod, like the
kubelet's); hostPath is the path itself; a persistentVolumeClaim is its bound PV's path
(hostPath or local, which the local-path provisioner makes). Block PVCs (volumeDevices) are
attached as loop devices.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.resources import PVCS, PVS, SERVICEACCOUNTS
from virtkube.local.node.env import field_ref, resource_ref
from virtkube.local.node.hostnet import run

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: Kinds whose data the kubelet mounts read-only.
READ_ONLY_KINDS = ("configMap", "secret", "downwardAPI", "projected")
SUPPORTED = ("emptyDir", "hostPath", "persistentVolumeClaim", *READ_ONLY_KINDS)


class VolumeError(Exception):
    """A volume could not be made ready (the kubelet's FailedMount); the message says why."""


@dataclass(frozen=True)
class Volume:
    name: str
    path: str
    readonly: bool = False
    block: bool = False


def _write_files(d: Path, files: dict[str, bytes], mode: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = d / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        tmp.chmod(mode)
        tmp.replace(target)


def _select(data: dict[str, bytes], items: list[Obj] | None, mode: int, what: str
            ) -> tuple[dict[str, bytes], dict[str, int]]:
    if not items:
        return dict(data), {}
    out: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    for item in items:
        if item["key"] not in data:
            raise VolumeError(f'{what} has no key "{item["key"]}"')
        out[item["path"]] = data[item["key"]]
        if "mode" in item:
            modes[item["path"]] = int(item["mode"])
    return out, modes


class VolumeMaker:
    """Makes the volumes of pods on one node; `raw_lookup` reads ConfigMaps and Secrets."""

    def __init__(self, client: Client,
                 raw_lookup: Callable[[str, str, str], Awaitable[Obj | None]]) -> None:
        self.client = client
        self.raw_lookup = raw_lookup

    async def _data(self, kind: str, ns: str, ref: Obj) -> dict[str, bytes] | None:
        obj = await self.raw_lookup(kind, ns, ref["name"])
        if obj is None:
            if ref.get("optional"):
                return {}
            raise VolumeError(f'{kind.lower()} "{ref["name"]}" not found')
        data: dict[str, bytes] = {}
        if kind == "Secret":
            data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        else:
            data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
            data.update({k: base64.b64decode(v) for k, v in
                         (obj.get("binaryData") or {}).items()})
        return data

    async def _token(self, pod: Obj, src: Obj) -> bytes:
        meta = pod["metadata"]
        sa = pod["spec"].get("serviceAccountName") or "default"
        body: Obj = {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [src["audience"]] if src.get("audience") else [],
                     "expirationSeconds": int(src.get("expirationSeconds") or 3607),
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                        "name": meta["name"], "uid": meta["uid"]}},
        }
        try:
            reply = await self.client.request(
                "POST", SERVICEACCOUNTS.path(meta["namespace"], sa, "token"), body=body)
        except errors.KubeError as e:
            raise VolumeError(f"requesting a token for service account {sa}: {e}") from e
        return str(reply["status"]["token"]).encode()

    def _downward(self, pod: Obj, items: list[Obj], pod_ip: str, host_ip: str
                  ) -> tuple[dict[str, bytes], dict[str, int]]:
        files: dict[str, bytes] = {}
        modes: dict[str, int] = {}
        containers = {c["name"]: c for c in pod["spec"].get("containers") or []}
        for item in items:
            if "fieldRef" in item:
                value = field_ref(item["fieldRef"]["fieldPath"], pod, pod_ip, host_ip)
            else:
                ref = item["resourceFieldRef"]
                value = resource_ref(ref, containers.get(ref.get("containerName", ""), {}))
            files[item["path"]] = value.encode()
            if "mode" in item:
                modes[item["path"]] = int(item["mode"])
        return files, modes

    async def _projected(self, pod: Obj, vol: Obj, pod_ip: str, host_ip: str
                         ) -> dict[str, bytes]:
        ns = pod["metadata"]["namespace"]
        files: dict[str, bytes] = {}
        for src in vol.get("sources") or []:
            if "serviceAccountToken" in src:
                files[src["serviceAccountToken"]["path"]] = await self._token(
                    pod, src["serviceAccountToken"])
            elif "configMap" in src:
                data = await self._data("ConfigMap", ns, src["configMap"]) or {}
                files.update(_select(data, src["configMap"].get("items"), 0o644,
                                     f'configmap "{src["configMap"]["name"]}"')[0])
            elif "secret" in src:
                data = await self._data("Secret", ns, src["secret"]) or {}
                files.update(_select(data, src["secret"].get("items"), 0o644,
                                     f'secret "{src["secret"]["name"]}"')[0])
            elif "downwardAPI" in src:
                files.update(self._downward(pod, src["downwardAPI"].get("items") or [],
                                            pod_ip, host_ip)[0])
            else:
                raise VolumeError(f"projected source {sorted(src)} is not supported by the "
                                  "local node")
        return files

    async def _pvc(self, pod: Obj, claim: Obj) -> tuple[str, bool]:
        ns = pod["metadata"]["namespace"]
        try:
            pvc = await self.client.get(PVCS, claim["claimName"], ns)
        except errors.NotFound as e:
            raise VolumeError(f'persistentvolumeclaim "{claim["claimName"]}" not found') from e
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name or (pvc.get("status") or {}).get("phase") != "Bound":
            raise VolumeError(f'persistentvolumeclaim "{claim["claimName"]}" is not bound yet')
        pv = await self.client.get(PVS, pv_name)
        spec = pv.get("spec") or {}
        path = (spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path")
        if not path:
            raise VolumeError(f"persistentvolume {pv_name} is neither hostPath nor local")
        return str(path), spec.get("volumeMode") == "Block"

    async def make(self, pod: Obj, pod_dir: Path, *, pod_ip: str, host_ip: str
                   ) -> dict[str, Volume]:
        ns = pod["metadata"]["namespace"]
        out: dict[str, Volume] = {}
        for vol in pod["spec"].get("volumes") or []:
            name = vol["name"]
            kind = next((k for k in vol if k != "name"), "")
            d = pod_dir / "volumes" / name
            mode = int((vol.get(kind) or {}).get("defaultMode") or 0o644)
            if kind == "emptyDir":
                d.mkdir(parents=True, exist_ok=True)
                out[name] = Volume(name, str(d))
            elif kind == "hostPath":
                out[name] = Volume(name, host_path(vol["hostPath"]))
            elif kind in ("configMap", "secret"):
                obj_kind = "ConfigMap" if kind == "configMap" else "Secret"
                ref = dict(vol[kind])
                ref.setdefault("name", ref.get("secretName", ""))
                data = await self._data(obj_kind, ns, ref) or {}
                files, modes = _select(data, ref.get("items"), mode,
                                       f'{obj_kind.lower()} "{ref["name"]}"')
                _write_files(d, files, mode)
                for rel, m in modes.items():
                    (d / rel).chmod(m)
                out[name] = Volume(name, str(d), readonly=True)
            elif kind == "downwardAPI":
                files, modes = self._downward(pod, vol[kind].get("items") or [], pod_ip, host_ip)
                _write_files(d, files, mode)
                out[name] = Volume(name, str(d), readonly=True)
            elif kind == "projected":
                _write_files(d, await self._projected(pod, vol[kind], pod_ip, host_ip), mode)
                out[name] = Volume(name, str(d), readonly=True)
            elif kind == "persistentVolumeClaim":
                path, block = await self._pvc(pod, vol[kind])
                out[name] = Volume(name, path, readonly=bool(vol[kind].get("readOnly")),
                                   block=block)
            else:
                raise VolumeError(f'volume "{name}": {kind or "an empty source"} is not '
                                  f"supported by the local node (supported: "
                                  f"{', '.join(SUPPORTED)})")
        return out


def host_path(src: Obj) -> str:
    """A hostPath volume's path, created or checked per its `type`."""
    path = Path(src["path"])
    htype = src.get("type") or ""
    if htype == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif htype == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    elif htype and not path.exists():
        raise VolumeError(f"hostPath type check failed: {path} is not a {htype}")
    return str(path)


def ensure_mountpoint(target: Path, *, is_file: bool, record: Path) -> None:
    """Mount targets must exist; what the node had to create on the host is recorded (one
    path a line) so that `virtkube down --purge` could remove it, since mkdir in a private
    mount namespace still writes the shared root filesystem."""
    if target.exists():
        return
    missing = target
    while not missing.parent.exists():
        missing = missing.parent
    if is_file:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    else:
        target.mkdir(parents=True, exist_ok=True)
    with record.open("a") as f:
        f.write(f"{missing}\n")


def attach_loop(path: str) -> str:
    """A loop device for a Block volume's backing file (the same device on every call)."""
    out = run("losetup", "-j", path)
    if out.strip():
        return out.split(":", 1)[0]
    return run("losetup", "--find", "--show", path).strip()


def detach_loops(paths: list[str]) -> None:
    for p in paths:
        for line in run("losetup", "-j", p, check=False).splitlines():
            run("losetup", "-d", line.split(":", 1)[0], check=False)


def hosts_file(pod: Obj, pod_ip: str, dest: Path) -> Path:
    """/etc/hosts as the kubelet writes it: localhost, then the pod's own name."""
    name = pod["metadata"]["name"]
    hostname = pod["spec"].get("hostname") or name
    dest.write_text("# Kubernetes-managed hosts file (virtkube local node).\n"
                    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                    f"{pod_ip}\t{hostname}\n")
    return dest

