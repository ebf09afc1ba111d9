"""The VirtualMachine reconciler: carries out vmstate.plan against the API server."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time

from virtkube.controller import vmstate
from virtkube.kube import errors
from virtkube.kube.client import Client, Obj
from virtkube.kube.events import EventRecorder
from virtkube.kube.expectations import Expectations
from virtkube.kube.informer import EventType, Informer, key_of
from virtkube.kube.resources import VMIS, VMS
from virtkube.kube.status import update_status
from virtkube.kube.workqueue import WorkQueue

log = logging.getLogger(__name__)

#: How long a freshly created VMI may stay invisible in the cache.
CREATE_EXPECTATION_SECONDS = 10.0


class VMController:
    def __init__(self, client: Client, vms: Informer, vmis: Informer,
                 recorder: EventRecorder) -> None:
        self.client = client
        self.vms = vms
        self.vmis = vmis
        self.recorder = recorder
        self.queue: WorkQueue[str] = WorkQueue()
        #: This controller's own writes the caches have not shown yet.
        self.written = Expectations()
        #: VM key -> deadline while a VMI this controller created is not yet cached.
        self.creating: dict[str, float] = {}
        vms.add_handler(self._on_vm)
        vmis.add_handler(self._on_vmi)

    def _on_vm(self, _kind: EventType, obj: Obj, _old: Obj | None) -> None:
        self.queue.add(key_of(obj))

    def _on_vmi(self, _kind: EventType, obj: Obj, _old: Obj | None) -> None:
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "VirtualMachine" and ref.get("controller"):
                self.queue.add(f"{obj['metadata']['namespace']}/{ref['name']}")

    async def reconcile(self, key: str) -> None:
        vm = self.vms.get(key)
        if vm is None or self.written.stale(key, vm):
            return  # gone, or our own last write is still on its way into the cache
        vmi = self.vmis.get(key)
        if vmi is not None and self.written.delete_pending(vmi):
            return
        if vmi is None and time.monotonic() < self.creating.get(key, 0.0):
            return  # the VMI we created is on its way into the cache
        self.creating.pop(key, None)
        now = dt.datetime.now(dt.UTC)
        plan = vmstate.plan(vm, vmi, now)
        ns, name = vm["metadata"]["namespace"], vm["metadata"]["name"]
        if plan.delete_vmi and vmi is not None:
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(VMIS, name, ns, preconditions={
                    "uid": vmi["metadata"]["uid"]})
            self.written.deleted(vmi["metadata"]["uid"])
        if plan.create_vmi is not None:
            try:
                await self.client.create(VMIS, plan.create_vmi, ns)
                self.creating[key] = time.monotonic() + CREATE_EXPECTATION_SECONDS
            except errors.AlreadyExists:
                # The cache is behind: the next event brings the VMI.
                raise errors.TemporaryError("VMI exists already; waiting for the cache",
                                            delay=0.5) from None
            except errors.Invalid as e:
                await self.recorder.record(vm, "Warning", "FailedCreate", e.message)
                raise errors.PermanentError(e.message) from e
        if plan.spec_patch is not None:
            await self.client.patch(VMS, name, plan.spec_patch, ns)
            self.written.updated(key, vm)
            return  # the status follows from the patched VM's own event
        for kind, reason, message in plan.events:
            await self.recorder.record(vm, kind, reason, message)
        if plan.status is not None and await update_status(
                self.client, VMS, vm, plan.status, subresource=True) is not None:
            self.written.updated(key, vm)
        if plan.requeue_after is not None:
            raise errors.TemporaryError(
                f"start back-off: retrying in {plan.requeue_after:.0f}s",
                delay=plan.requeue_after)
