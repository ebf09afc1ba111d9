"""The local-path provisioner: PVs for the local cluster's PVCs, as folders on this machine.

What Rancher's local-path-provisioner does, for the embedded cluster: a default StorageClass
`local-path` (provisioner `virtkube.io/local-path`, volumeBindingMode WaitForFirstConsumer,
reclaimPolicy Delete). When the scheduler has picked a node for a pod that uses a PVC of it
(annotation volume.kubernetes.io/selected-node), this creates a PV under the cluster's
state folder with nodeAffinity to that node and a claimRef to the PVC; the PV controller of
kube-controller-manager binds the two. Block mode gets a sparse file of the requested size
(the node attaches it as a loop device). When a PVC goes and its PV turns Released under
reclaimPolicy Delete, the data is removed and the PV deleted.

Runs as one more supervised component: `python -m virtkube.local.provisioner --home H`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from virtkube.api.quantity import to_bytes
from virtkube.kube import config as kube_config
from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.events import EventRecorder
from virtkube.kube.informer import Informer
from virtkube.kube.resources import PVCS, PVS
from virtkube.local.paths import Home

log = logging.getLogger("virtkube.local-path")

Obj = dict[str, Any]
PROVISIONER = "virtkube.io/local-path"
STORAGE_CLASS = "local-path"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def storageclass() -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS, "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER,
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Delete",
    }


def storageclass_manifest() -> str:
    return yaml.safe_dump(storageclass(), sort_keys=False)


def pv_for(pvc: Obj, *, node: str, path: Path) -> Obj:
    """The PV that satisfies `pvc` on `node` (pure)."""
    meta, spec = pvc["metadata"], pvc.get("spec") or {}
    block = spec.get("volumeMode") == "Block"
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}",
                     "annotations": {PROVISIONED_BY: PROVISIONER},
                     "labels": {"virtkube.io/local-path-node": node}},
        "spec": {
            "capacity": {"storage": (spec.get("resources") or {}).get("requests", {})
                         .get("storage", "1Gi")},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "volumeMode": "Block" if block else "Filesystem",
            "hostPath": {"path": str(path), "type": "" if block else "DirectoryOrCreate"},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "namespace": meta["namespace"], "name": meta["name"],
                         "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{
                "key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
        },
    }


def make_data(pvc: Obj, path: Path) -> None:
    """A folder, or for Block a sparse file of the requested size."""
    spec = pvc.get("spec") or {}
    if spec.get("volumeMode") == "Block":
        size = to_bytes(str(spec["resources"]["requests"]["storage"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as f:
            f.truncate(size)
    else:
        path.mkdir(parents=True, exist_ok=True)


def remove_data(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class Provisioner:
    def __init__(self, client: Client, root: Path) -> None:
        self.client = client
        self.root = root
        self.events = EventRecorder(client, PROVISIONER)
        self.pvcs = Informer(client, PVCS)
        self.pvs = Informer(client, PVS)
        self.wake = asyncio.Event()
        for inf in (self.pvcs, self.pvs):
            inf.add_handler(lambda *_: self.wake.set())

    def _ours(self, pvc: Obj) -> bool:
        spec = pvc.get("spec") or {}
        return spec.get("storageClassName") == STORAGE_CLASS and not spec.get("volumeName")

    async def provision(self, pvc: Obj) -> None:
        meta = pvc["metadata"]
        node = (meta.get("annotations") or {}).get(SELECTED_NODE)
        if not node:
            return  # WaitForFirstConsumer: no pod scheduled yet
        name = f"pvc-{meta['uid']}"
        if self.pvs.get(name) is not None:
            return
        path = self.root / name
        try:
            make_data(pvc, path)
        except OSError as e:
            await self.events.record({**pvc, "kind": "PersistentVolumeClaim"}, "Warning",
                                     "ProvisioningFailed", f"cannot create {path}: {e}")
            return
        try:
            await self.client.create(PVS, pv_for(pvc, node=node, path=path))
        except errors.Conflict:
            return
        log.info("provisioned %s for %s/%s on %s", name, meta["namespace"], meta["name"], node)
        await self.events.record({**pvc, "kind": "PersistentVolumeClaim"}, "Normal",
                                 "ProvisioningSucceeded",
                                 f"Successfully provisioned volume {name} at {path}")

    async def reclaim(self, pv: Obj) -> None:
        meta, spec = pv["metadata"], pv.get("spec") or {}
        path = Path((spec.get("hostPath") or {}).get("path") or "")
        if path.parent == self.root:
            remove_data(path)
        with contextlib.suppress(errors.NotFound):
            await self.client.delete(PVS, meta["name"])
        log.info("deleted %s and its data at %s", meta["name"], path)

    async def reconcile(self) -> None:
        for pvc in self.pvcs.list():
            if self._ours(pvc) and not pvc["metadata"].get("deletionTimestamp"):
                await self.provision(pvc)
        for pv in self.pvs.list():
            ann = pv["metadata"].get("annotations") or {}
            if (ann.get(PROVISIONED_BY) == PROVISIONER
                    and (pv.get("status") or {}).get("phase") == "Released"
                    and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete"):
                await self.reclaim(pv)

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self.pvcs.run()), asyncio.create_task(self.pvs.run())]
        try:
            await asyncio.gather(self.pvcs.synced.wait(), self.pvs.synced.wait())
            while not stop.is_set():
                self.wake.clear()
                try:
                    await self.reconcile()
                except errors.KubeError as e:
                    log.warning("reconcile: %s", e)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), 5.0)
        finally:
            for t in tasks:
                t.cancel()
            await self.client.close()


async def amain(home: Home) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    conn = await kube_config.load(home.kubeconfig_for("local-path-provisioner"),
                                  user_agent="local-path-provisioner")
    prov = Provisioner(Client(conn, field_manager="local-path-provisioner"),
                       home.storage)
    runner = asyncio.create_task(prov.run(stop))
    await stop.wait()
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="virtkube-local-path-provisioner")
    parser.add_argument("--home", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(amain(Home(args.home.resolve())))


if __name__ == "__main__":
    sys.exit(main())
