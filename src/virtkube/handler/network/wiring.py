"""Wiring a VMI's interfaces into its launcher pod, idempotently, and taking them down.

Level-triggered like the rest of virt-handler: `ensure` may be called on every
reconcile and after a restart. The pod interface's facts are read once and
written to `network.json` in the VMI's run folder *before* anything changes,
because a bridge binding moves the pod's address away and a restarted
handler could not read it back. A set-up interrupted half-way is redone from
that cache: what a previous attempt left is removed first, then everything
is built again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.handler.network import netns, render
from virtkube.handler.network.plan import InterfacePlan, plan_interfaces
from virtkube.handler.network.podfacts import POD_INTERFACE, PodInterface, Route

log = logging.getLogger(__name__)

CACHE_FILE = "network.json"


def _load(path: Path) -> tuple[PodInterface, bool] | None:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pod = raw["pod"]
    iface = PodInterface(**{**pod, "routes": tuple(Route(**r) for r in pod["routes"]),
                            "dns": tuple(pod["dns"]), "search": tuple(pod["search"])})
    return iface, bool(raw.get("applied"))


def _save(path: Path, pod: PodInterface, *, applied: bool) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pod": dataclasses.asdict(pod), "applied": applied}, indent=1))
    tmp.replace(path)


def with_macs(vmi: VirtualMachineInstance, plans: list[InterfacePlan]) -> VirtualMachineInstance:
    """The VMI the launcher gets: each NIC with the MAC its DHCP lease is bound to."""
    if not plans:
        return vmi
    macs = {p.name: p.mac for p in plans}
    spec = vmi.spec
    devices = spec.domain.devices
    interfaces = [i.model_copy(update={"mac_address": macs[i.name]}) if i.name in macs else i
                  for i in devices.interfaces or []]
    domain = spec.domain.model_copy(update={
        "devices": devices.model_copy(update={"interfaces": interfaces})})
    return vmi.model_copy(update={"spec": spec.model_copy(update={"domain": domain})})


class NetworkWiring:
    """The wired VMIs of one virt-handler, by VMI uid."""

    def __init__(self, sockets_dir: Path) -> None:
        self.sockets_dir = sockets_dir
        self._plans: dict[str, list[InterfacePlan]] = {}

    def plans(self, uid: str) -> list[InterfacePlan] | None:
        """What `ensure` built for the VMI, if it did (in this process or before a restart)."""
        if uid not in self._plans:
            return None
        return self._plans[uid]

    async def ensure(self, vmi: VirtualMachineInstance, command_socket: Path
                     ) -> list[InterfacePlan]:
        uid = str(vmi.metadata.uid)
        if uid in self._plans:
            return self._plans[uid]
        if not vmi.spec.domain.devices.interfaces:
            self._plans[uid] = []
            return []
        cache = command_socket.parent / CACHE_FILE
        launcher = netns.launcher_of(command_socket)
        cached = _load(cache)
        if cached is None:
            pod = await netns.read_pod_interface(launcher, POD_INTERFACE)
            _save(cache, pod, applied=False)
            applied = False
        else:
            pod, applied = cached
        plans = plan_interfaces(vmi, pod)
        if not applied:
            await self._apply(launcher, plans)
            _save(cache, pod, applied=True)
            log.info("wired %s/%s in the netns of pid %d: %s", vmi.metadata.namespace,
                     vmi.metadata.name, launcher.pid,
                     ", ".join(f"{p.name} {p.binding} {p.guest_address} via {p.tap}"
                               for p in plans))
        self._plans[uid] = plans
        return plans

    async def _apply(self, launcher: netns.Launcher, plans: list[InterfacePlan]) -> None:
        await netns.apply(launcher, undo=render.undo_link_commands(plans),
                          links=render.link_commands(plans, tap_owner=launcher.uid),
                          settings=render.sysctls(plans), ruleset=render.nft_ruleset(plans))

    async def teardown(self, uid: str, command_socket: Path) -> None:
        """Remove the VMI's TAPs, bridges and table while its pod lives on (best effort:
        they go with the pod's netns anyway, and the launcher stops its DHCP servers)."""
        plans = self._plans.pop(uid, None)
        cache = command_socket.parent / CACHE_FILE
        if not plans:
            cache.unlink(missing_ok=True)
            return
        try:
            launcher = netns.launcher_of(command_socket)
            await netns.nft(launcher, render.undo_nft())
            await netns.ip_batch(launcher, render.undo_link_commands(plans), force=True)
        except netns.NetnsError as e:
            log.debug("network teardown of %s: %s", uid, e)
        cache.unlink(missing_ok=True)

    def forget(self, uid: str) -> None:
        self._plans.pop(uid, None)
