"""The local node process: `python -m virtkube.local.node --home H --index i`.

It does what a kubelet does for the pods bound to `virtkube-node-<i>`: registers the Node,
keeps its Lease and Ready condition fresh, runs one PodWorker per pod from a watch of the
pods on this node, serves their logs, and on SIGTERM stops its pods (keeping their files),
marks the Node NotReady and exits. Started (and restarted) by the supervisor once the API
server is ready; a restart adopts the pods the previous run left (see podworker.adopt).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from virtkube.kube import config as kube_config
from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.events import EventRecorder
from virtkube.kube.informer import EventType, Informer
from virtkube.kube.resources import CONFIGMAPS, PODS, SECRETS
from virtkube.local.certs import ClusterPKI, node_component
from virtkube.local.config import ClusterConfig
from virtkube.local.node import cni, containers, hostnet, logs, netns, registration
from virtkube.local.node.env import decode_data
from virtkube.local.node.layout import LOG_SERVER_PORT, ClusterNet, NodeDirs, node_name
from virtkube.local.node.nodecontext import NodeContext
from virtkube.local.node.podworker import PodWorker
from virtkube.local.node.volumes import VolumeMaker
from virtkube.local.paths import REPO_ROOT, Home

log = logging.getLogger("virtkube.node")

Obj = dict[str, Any]


def base_env(cfg: ClusterConfig, net: ClusterNet) -> dict[str, str]:
    """What every container starts from: the checkout's venv first on PATH (the image
    `virtkube/local:dev` is this checkout), and the API server as the kubelet advertises it."""
    venv_bin = str(Path(sys.executable).parent)
    host, port = net.gateway, str(cfg.ports.apiserver)
    env = {
        "PATH": f"{venv_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root", "LANG": "C.UTF-8",
        "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port,
        "KUBERNETES_SERVICE_PORT_HTTPS": port, "KUBERNETES_PORT": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
        f"KUBERNETES_PORT_{port}_TCP_PORT": port,
        f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
    }
    if "VIRTUAL_ENV" in os.environ or (Path(venv_bin).parent / "pyvenv.cfg").exists():
        env["VIRTUAL_ENV"] = str(Path(venv_bin).parent)
    return env


class Node:
    def __init__(self, home: Home, index: int) -> None:
        self.home = home
        self.index = index
        self.cfg = ClusterConfig.load(home.config)
        self.net = ClusterNet(home.root, self.cfg.pod_network)
        self.dirs = NodeDirs(home.root, index)
        self.name = node_name(index)
        self.ip = self.net.node_ip(index)
        self.workers: dict[str, PodWorker] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.client: Client | None = None
        self.node_uid = ""

    # --- lookups the workers use -------------------------------------------

    async def raw_lookup(self, kind: str, ns: str, name: str) -> Obj | None:
        assert self.client is not None
        try:
            return await self.client.get(SECRETS if kind == "Secret" else CONFIGMAPS, name, ns)
        except errors.NotFound:
            return None

    async def lookup(self, kind: str, ns: str, name: str) -> dict[str, str] | None:
        obj = await self.raw_lookup(kind, ns, name)
        return None if obj is None else decode_data(kind, obj)

    def resolve_log(self, ns: str, pod: str, container: str, previous: bool) -> logs.LogTarget:
        worker = next((w for w in self.workers.values()
                       if w.pod["metadata"]["namespace"] == ns
                       and w.pod["metadata"]["name"] == pod), None)
        if worker is None:
            raise logs.LogNotFound(f'pod "{pod}" in namespace "{ns}" is not on {self.name}')
        slot = next((s for s in worker.slots if s.name == container), None)
        if slot is None:
            raise logs.LogNotFound(f'container "{container}" is not valid for pod "{pod}"')
        if slot.proc is None:
            reason = slot.waiting_reason or "ContainerCreating"
            raise logs.LogNotFound(f'container "{container}" in pod "{pod}" is waiting to '
                                   f"start: {reason}")
        proc = slot.proc
        if previous:
            if proc.attempt == 0:
                raise logs.LogNotFound(f'previous terminated container "{container}" in pod '
                                       f'"{pod}" not found')
            run_dir = proc.run_dir.parent / str(proc.attempt - 1)
            return logs.LogTarget(run_dir / "output.log", lambda: False)
        return logs.LogTarget(proc.log_path, proc.shim_alive)

    # --- pods --------------------------------------------------------------

    def on_pod(self, kind: EventType, pod: Obj, _old: Obj | None) -> None:
        uid = str(pod["metadata"]["uid"])
        worker = self.workers.get(uid)
        if kind == "DELETED":
            if worker is not None:
                worker.update(None)
            return
        if worker is not None:
            worker.update(pod)
            return
        worker = PodWorker(self.ctx, pod)
        notes = worker.adopt()
        self.workers[uid] = worker
        task = asyncio.get_running_loop().create_task(worker.run())
        self.tasks[uid] = task
        task.add_done_callback(lambda _t: self._forget(uid))
        for note in notes:
            task.get_loop().create_task(worker.event("Normal", "SandboxChanged", note))

    def _forget(self, uid: str) -> None:
        self.tasks.pop(uid, None)
        worker = self.workers.get(uid)
        if worker is not None and worker.done:
            self.workers.pop(uid, None)

    async def clean_orphans(self) -> None:
        """Pods this node ran before a restart that are gone from the API: stop and remove
        them, and say so on the Node (their Pod objects no longer exist to carry an Event)."""
        if not self.dirs.pods.is_dir():
            return
        assert self.client is not None
        for d in self.dirs.pods.iterdir():
            if d.name in self.workers:
                continue
            procs = [p for c in (d / "containers").glob("*/*")
                     if (p := containers.adopt(c)) is not None and p.shim_alive()]
            for p in procs:
                p.kill()
            netns_name = self.net.netns_name(d.name)
            with contextlib.suppress(cni.CNIError):
                await cni.delete(self.net, index=self.index, ipam_dir=self.dirs.ipam,
                                 service_cidr=self.cfg.service_cidr, container_id=d.name,
                                 netns=netns.path(netns_name))
            netns.delete(netns_name)
            shutil.rmtree(d, ignore_errors=True)
            msg = (f"pod {d.name} was deleted while the node was down: stopped "
                   f"{len(procs)} container(s) and released its network")
            log.info("%s", msg)
            await self.events.record({"apiVersion": "v1", "kind": "Node", "metadata": {
                "name": self.name, "uid": self.node_uid}}, "Normal", "OrphanedPodCleaned", msg)

    # --- life --------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        hostnet.ensure(self.net, lock_dir=self.home.run, apiserver_port=self.cfg.ports.apiserver,
                       service_ip=self.cfg.kubernetes_service_ip, node_count=self.cfg.nodes)
        self.dirs.pods.mkdir(parents=True, exist_ok=True)
        conn = await kube_config.load(self.home.kubeconfig_for(node_component(self.index)),
                                      user_agent=self.name)
        self.client = client = Client(conn, field_manager=self.name)
        self.events = EventRecorder(client, "kubelet", self.name)
        cpus, mem = registration.machine_resources()
        node = await registration.register(client, registration.node_object(
            name=self.name, ip=self.ip, port=LOG_SERVER_PORT,
            pod_cidr=self.net.pod_cidr(self.index), max_pods=self.cfg.max_pods, cpus=cpus,
            memory_kib=mem, now=registration._now()))
        self.node_uid = node_uid = str(node["metadata"]["uid"])
        image_digest = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()
        self.ctx = NodeContext(
            client=client, events=self.events, net=self.net, dirs=self.dirs, index=self.index,
            node_name=self.name, node_ip=self.ip, service_cidr=self.cfg.service_cidr,
            local_image=self.cfg.local_image,
            image_id=f"{self.cfg.local_image.split(':')[0]}@sha256:{image_digest}",
            volumes=VolumeMaker(client, self.raw_lookup), lookup=self.lookup,
            base_env=base_env(self.cfg, self.net))
        pki = ClusterPKI(self.home.pki)
        serving = pki.pair(f"{node_component(self.index)}-serving")
        runner = await logs.serve(self.resolve_log, host=self.ip, port=LOG_SERVER_PORT,
                                  ctx=logs.server_context(cert=serving.cert_path,
                                                          key=serving.key_path,
                                                          ca=pki.ca.cert_path))
        informer = Informer(client, PODS, field_selector=f"spec.nodeName={self.name}")
        informer.add_handler(self.on_pod)
        background = [asyncio.create_task(informer.run()),
                      asyncio.create_task(registration.heartbeat(client, self.name, node_uid))]
        await informer.synced.wait()
        await self.clean_orphans()
        log.info("%s ready at %s with %d pod(s)", self.name, self.ip, len(self.workers))
        try:
            await stop.wait()
        finally:
            log.info("%s stopping: %d pod(s)", self.name, len(self.workers))
            for t in background:
                t.cancel()
            for t in list(self.tasks.values()):
                t.cancel()
            await asyncio.gather(*(w.shutdown() for w in self.workers.values() if not w.done),
                                 return_exceptions=True)
            with contextlib.suppress(errors.KubeError):
                await registration.set_ready(client, self.name, False,
                                             "the local node process stopped")
            await runner.cleanup()
            await client.close()


async def amain(home: Home, index: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Node(home, index).run(stop)
    return 0

