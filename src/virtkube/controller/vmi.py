"""The VMI reconciler: launcher pods in, scheduling state out (vmistate.plan)."""

from __future__ import annotations

import contextlib
import logging
import time

from virtkube.api import VirtualMachineInstance, timestamp
from virtkube.controller import vmistate
from virtkube.controller.launcherpod import CREATED_BY_LABEL, launcher_pod
from virtkube.controller.options import LauncherOptions
from virtkube.kube import errors
from virtkube.kube.client import Client, Obj
from virtkube.kube.events import EventRecorder
from virtkube.kube.expectations import Expectations
from virtkube.kube.informer import EventType, Informer, key_of
from virtkube.kube.resources import PODS, VMIS
from virtkube.kube.workqueue import WorkQueue

log = logging.getLogger(__name__)

#: How long a freshly created pod may stay invisible in the cache.
EXPECTATION_TIMEOUT = 30.0


class VMIController:
    def __init__(self, client: Client, vmis: Informer, pods: Informer,
                 recorder: EventRecorder, opts: LauncherOptions) -> None:
        self.client = client
        self.vmis = vmis
        self.pods = pods
        self.recorder = recorder
        self.opts = opts
        self.queue: WorkQueue[str] = WorkQueue()
        #: VMI uid -> monotonic deadline, for pods created but not yet in the cache.
        self.expected: dict[str, float] = {}
        #: This controller's own writes the caches have not shown yet.
        self.written = Expectations()
        #: VMI uid -> VMI key, to map pod events back.
        self._uid_to_key: dict[str, str] = {}
        vmis.add_handler(self._on_vmi)
        pods.add_handler(self._on_pod)

    def _on_vmi(self, kind: EventType, obj: Obj, _old: Obj | None) -> None:
        key = key_of(obj)
        uid = obj["metadata"]["uid"]
        if kind == "DELETED":
            self._uid_to_key.pop(uid, None)
            self.expected.pop(uid, None)
        else:
            self._uid_to_key[uid] = key
        self.queue.add(key)

    def _on_pod(self, _kind: EventType, obj: Obj, _old: Obj | None) -> None:
        uid = (obj["metadata"].get("labels") or {}).get(CREATED_BY_LABEL)
        if uid is None:
            return
        if _kind != "DELETED":
            self.expected.pop(uid, None)  # the cache has caught up
        key = self._uid_to_key.get(uid)
        if key is not None:
            self.queue.add(key)

    def pods_of(self, vmi: Obj) -> list[Obj]:
        uid = vmi["metadata"]["uid"]
        ns = vmi["metadata"]["namespace"]
        return [p for p in self.pods.list()
                if p["metadata"].get("namespace") == ns
                and (p["metadata"].get("labels") or {}).get(CREATED_BY_LABEL) == uid]

    async def reconcile(self, key: str) -> None:
        vmi = self.vmis.get(key)
        if vmi is None or self.written.stale(key, vmi):
            return  # gone, or our own last write is still on its way into the cache
        uid = vmi["metadata"]["uid"]
        pods = self.pods_of(vmi)
        deadline = self.expected.get(uid)
        expected = deadline is not None and time.monotonic() < deadline and not pods
        plan = vmistate.plan(vmi, pods, timestamp(), pod_expected=expected)
        ns = vmi["metadata"]["namespace"]
        if plan.create_pod:
            await self._create_pod(vmi)
        for name in plan.delete_pods:
            pod = next(p for p in pods if p["metadata"]["name"] == name)
            if self.written.delete_pending(pod):
                continue
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(PODS, name, ns)
            self.written.deleted(pod["metadata"]["uid"])
        if plan.vmi is not None:
            await self.client.replace(VMIS, plan.vmi)
            self.written.updated(key, vmi)
        for kind, reason, message in plan.events:
            await self.recorder.record(vmi, kind, reason, message)
        if expected:
            raise errors.TemporaryError("waiting for the new launcher pod in the cache",
                                        delay=1.0)

    async def _create_pod(self, vmi: Obj) -> None:
        try:
            model = VirtualMachineInstance.model_validate(vmi)
        except ValueError as e:
            await self.recorder.record(vmi, "Warning", "FailedCreate",
                                       f"invalid VirtualMachineInstance: {e}")
            raise errors.PermanentError(str(e)) from e
        pod = launcher_pod(model, self.opts)
        pod["metadata"].pop("generateName", None)
        pod["metadata"]["name"] = vmistate.launcher_pod_name(vmi)
        self.expected[vmi["metadata"]["uid"]] = time.monotonic() + EXPECTATION_TIMEOUT
        try:
            await self.client.create(PODS, pod, vmi["metadata"]["namespace"])
        except errors.AlreadyExists:
            pass
        except errors.KubeError as e:
            self.expected.pop(vmi["metadata"]["uid"], None)
            await self.recorder.record(vmi, "Warning", "FailedCreate",
                                       f"Error creating pod: {e.message}")
            raise
