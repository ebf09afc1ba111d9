"""The handler's VMI reconciler: Sync to the launcher, runtime state back to the VMI."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from virtkube import __version__
from virtkube.api import VirtualMachineInstance, timestamp
from virtkube.handler.network.netns import NetnsError
from virtkube.handler.network.plan import NetworkPlanError
from virtkube.handler.network.podfacts import PodFactsError
from virtkube.handler.network.status import status_interfaces
from virtkube.handler.network.wiring import NetworkWiring, with_macs
from virtkube.handler.runtime import FINAL, runtime_status
from virtkube.hlcom import launcherclient, protocol
from virtkube.kube import errors
from virtkube.kube.client import Client, Obj
from virtkube.kube.events import EventRecorder
from virtkube.kube.informer import EventType, Informer, key_of
from virtkube.kube.resources import VMIS
from virtkube.kube.workqueue import WorkQueue

log = logging.getLogger(__name__)

#: Poll periods: a booting domain is watched closely so Running shows at once;
#: a running one is checked for crashes and pauses now and then.
POLL_STARTING, POLL_RUNNING = 0.05, 5.0
#: How often to knock while a new launcher is not listening yet: it comes up
#: within a second of its pod, and every knock is one failed connect().
POLL_LAUNCHER = 0.05
#: Grace given to a guest when its VMI is deleted and the VMI says nothing.
DEFAULT_GRACE_SECONDS = 30


class VMIHandler:
    def __init__(self, client: Client, vmis: Informer, recorder: EventRecorder, *,
                 node: str, sockets_dir: Path) -> None:
        self.client = client
        self.vmis = vmis
        self.recorder = recorder
        self.node = node
        self.sockets_dir = sockets_dir
        self.queue: WorkQueue[str] = WorkQueue()
        self._shutdown_sent: set[str] = set()
        self._synced: set[str] = set()
        self.network = NetworkWiring(sockets_dir)
        vmis.add_handler(self._on_vmi)

    def _on_vmi(self, kind: EventType, obj: Obj, _old: Obj | None) -> None:
        if kind == "DELETED":
            uid = obj["metadata"]["uid"]
            self._shutdown_sent.discard(uid)
            self._synced.discard(uid)
            self.network.forget(uid)
            self._cleanup(uid)
            return
        self.queue.add(key_of(obj))

    def socket_of(self, vmi: Obj) -> Path:
        return self.sockets_dir / str(vmi["metadata"]["uid"]) / protocol.COMMAND_SOCKET

    def _cleanup(self, uid: str) -> None:
        """The launcher's socket folder on the host outlives the pod; remove it."""
        folder = self.sockets_dir / uid
        if folder.is_dir() and not (folder / protocol.COMMAND_SOCKET).exists():
            shutil.rmtree(folder, ignore_errors=True)

    async def reconcile(self, key: str) -> None:
        vmi = self.vmis.get(key)
        if vmi is None:
            return
        status = vmi.get("status") or {}
        phase = status.get("phase") or ""
        if status.get("nodeName") != self.node:
            return
        uid = vmi["metadata"]["uid"]
        sock = self.socket_of(vmi)
        if phase in FINAL:
            # QEMU is gone; the launcher (and with it the guest's DHCP server) is ending.
            await self.network.teardown(uid, sock)
            return
        if vmi["metadata"].get("deletionTimestamp"):
            await self._shut_down(vmi, sock)
            return
        if phase not in ("Scheduled", "Running"):
            return
        try:
            domain = await launcherclient.call(sock, protocol.GetDomain())
            model = VirtualMachineInstance.model_validate(vmi)
            # Before the first Sync: QEMU opens the TAPs by name, the guest asks DHCP at boot.
            plans = await self.network.ensure(model, sock)
            if domain is not None and domain.state == "pending":
                sync = protocol.Sync(vmi=with_macs(model, plans),
                                     dhcp=tuple(p.dhcp for p in plans if p.dhcp))
                domain = await launcherclient.call(sock, sync, timeout=120)
                if uid not in self._synced:
                    self._synced.add(uid)
                    await self.recorder.record(vmi, "Normal", "Created",
                                               "VirtualMachineInstance defined.")
        except launcherclient.LauncherUnreachable as e:
            if phase == "Running":
                raise errors.TemporaryError(str(e), delay=1.0) from e
            raise errors.TemporaryError(f"waiting for virt-launcher: {e}",
                                        delay=POLL_LAUNCHER) from e
        except launcherclient.LauncherCommandFailed as e:
            await self.recorder.record(vmi, "Warning", "SyncFailed", str(e))
            raise errors.TemporaryError(str(e), delay=5.0) from e
        except (NetworkPlanError, PodFactsError, NetnsError) as e:
            await self.recorder.record(vmi, "Warning", "NetworkSetupFailed", str(e))
            raise errors.TemporaryError(f"network set-up: {e}", delay=5.0) from e
        if domain is None:
            raise errors.TemporaryError("launcher returned no domain", delay=1.0)
        new_status = runtime_status(vmi, domain, now=timestamp(), launcher_version=__version__,
                                    interfaces=status_interfaces(plans) if plans else None)
        if new_status != status:
            old_phase = phase
            obj = {**vmi, "status": new_status}
            await self.client.replace(VMIS, obj)
            if new_status.get("phase") != old_phase:
                await self._phase_event(vmi, new_status, domain)
        if domain.state in ("pending", "starting"):
            raise errors.TemporaryError("domain starting", delay=POLL_STARTING)
        if new_status.get("phase") not in FINAL:
            self.queue.add_after(key, POLL_RUNNING)

    async def _phase_event(self, vmi: Obj, status: Obj, domain: protocol.Domain) -> None:
        phase = status.get("phase")
        if phase == "Running":
            await self.recorder.record(vmi, "Normal", "Started", "VirtualMachineInstance started.")
        elif phase == "Succeeded":
            await self.recorder.record(vmi, "Normal", "Stopped",
                                       "The VirtualMachineInstance was shut down.")
        elif phase == "Failed":
            await self.recorder.record(vmi, "Warning", "Stopped",
                                       f"The VirtualMachineInstance crashed: "
                                       f"{domain.error or domain.reason or domain.state}")

    async def _shut_down(self, vmi: Obj, sock: Path) -> None:
        """A deleted VMI: power the guest off within its grace period (once)."""
        uid = vmi["metadata"]["uid"]
        grace = vmi["spec"].get("terminationGracePeriodSeconds")
        grace = DEFAULT_GRACE_SECONDS if grace is None else int(grace)
        try:
            if uid not in self._shutdown_sent:
                await launcherclient.call(sock, protocol.Shutdown(grace_period_seconds=grace))
                self._shutdown_sent.add(uid)
                await self.recorder.record(vmi, "Normal", "ShuttingDown",
                                           f"Signaled Graceful Shutdown (grace {grace}s)")
        except launcherclient.LauncherError as e:
            # The pod is going too; its deletion stops the launcher and QEMU with it.
            log.info("shutdown of %s: %s", key_of(vmi), e)
