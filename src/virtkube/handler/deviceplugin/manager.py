"""The device plugins of one node, started together and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from virtkube.handler.deviceplugin.devices import (
    DEFAULT_COUNT,
    KUBELET_SOCKET,
    KUBEVIRT_DEVICES,
    HostDevice,
)
from virtkube.handler.deviceplugin.plugin import DevicePlugin, unix_path_fits

log = logging.getLogger("virtkube.handler.deviceplugin")

#: Where the kubelet looks for device plugins whatever its --root-dir (a local real node's
#: mount namespace puts the node's own folder there).
DEFAULT_PLUGINS_DIR = Path("/var/lib/kubelet/device-plugins")


@contextlib.contextmanager
def dial_dir(plugins_dir: Path, names: Sequence[str]) -> Iterator[Path]:
    """`plugins_dir`, or a short symlink to it when a socket path in it would be too long."""
    if all(unix_path_fits(plugins_dir / n) for n in names):
        yield plugins_dir
        return
    tmp = Path(tempfile.mkdtemp(prefix="virtkube-dp-"))
    link = tmp / "d"
    link.symlink_to(plugins_dir.resolve(), target_is_directory=True)
    try:
        yield link
    finally:
        link.unlink()
        tmp.rmdir()


class DevicePluginManager:
    """Runs one DevicePlugin per device of `devices` whose node exists on this host (a host
    without /dev/kvm advertises no devices.kubevirt.io/kvm, so the scheduler sends no KVM
    guest there). `run` returns only when cancelled, even with no device, as virt-handler's
    other tasks do (the handler stops when any of them ends); it removes every socket it made."""

    def __init__(self, plugins_dir: Path, devices: Sequence[HostDevice] = KUBEVIRT_DEVICES, *,
                 count: int = DEFAULT_COUNT, poll_interval: float = 1.0) -> None:
        self.dir = plugins_dir
        self.devices = tuple(devices)
        self.count = count
        self.poll_interval = poll_interval
        self.plugins: list[DevicePlugin] = []

    def present(self) -> list[HostDevice]:
        return [d for d in self.devices if d.path.is_char_device()]

    async def run(self) -> None:
        present = self.present()
        for d in self.devices:
            if d not in present:
                log.info("no %s on this host: no %s device plugin", d.path, d.resource)
        if not present:
            await asyncio.get_running_loop().create_future()
        names = [KUBELET_SOCKET, *(d.socket_name for d in present)]
        with dial_dir(self.dir, names) as dial:
            self.plugins = [DevicePlugin(d, self.dir, dial_dir=dial, count=self.count,
                                         poll_interval=self.poll_interval) for d in present]
            async with asyncio.TaskGroup() as tg:
                for p in self.plugins:
                    tg.create_task(p.run(), name=f"device plugin {p.dev.name}")
