"""One QEMU process under control: start, QMP events -> domain state, stop.

The supervisor owns the QEMU of its VMI (design.md: one owner per fact). QEMU
is started paused (-S) after the launcher listens on the QMP and serial
sockets, so the monitor and console are attached before the first guest
instruction. A guest power-off pauses QEMU (-action shutdown=pause); the
supervisor then quits it, or resets it for a soft reboot (libvirt's "fake
reboot"). When QEMU ends, `finished` carries the launcher's exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from qemu.qmp import QMPClient, QMPError

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.hlcom.protocol import DHCPServer, Domain, DomainState
from virtkube.launcher import accel as accel_mod
from virtkube.launcher import qemu_process, volumes
from virtkube.launcher.console import ConsoleHub
from virtkube.launcher.dhcp import DHCPServers
from virtkube.launcher.domain import DomainContext, build_argv
from virtkube.launcher.domain.context import Accel
from virtkube.launcher.errors import DomainStateError, QemuLaunchError, QmpError
from virtkube.launcher.exitcodes import ExitCode
from virtkube.launcher.paths import HostOptions, RunPaths

log = logging.getLogger(__name__)

#: How long QEMU may take to connect its monitor (TCG start-up is ~0.2 s).
CONNECT_TIMEOUT = 30.0
#: KubeVirt's default terminationGracePeriodSeconds.
DEFAULT_GRACE_SECONDS = 30


class Supervisor:
    def __init__(self, paths: RunPaths, host: HostOptions) -> None:
        self.paths = paths
        self.host = host
        self.console = ConsoleHub()
        self.finished: asyncio.Future[ExitCode] = asyncio.get_running_loop().create_future()
        self.vmi: VirtualMachineInstance | None = None
        self.accel: Accel | None = None
        self.argv: list[str] = []
        self.state: DomainState = "pending"
        self.reason = ""
        self.error: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._qmp: QMPClient | None = None
        self._serial_server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._exit_code: ExitCode | None = None
        """Set by whoever ends QEMU on purpose, before it ends."""
        self._soft_reboot = False
        self._state_changed = asyncio.Event()
        self.dhcp = DHCPServers(paths.run_dir)

    @property
    def qemu_started(self) -> bool:
        return self._proc is not None

    # -- reporting ----------------------------------------------------------
    def domain(self) -> Domain:
        vmi = self.vmi
        return Domain(
            state=self.state,
            reason=self.reason,
            vmi_uid=vmi.metadata.uid if vmi else None,
            name=vmi.metadata.name if vmi else None,
            accel=self.accel,
            qemu_pid=self._proc.pid if self._proc else None,
            exit_code=self._proc.returncode if self._proc else None,
            console_socket=str(self.paths.console_socket),
            vnc_socket=str(self.paths.vnc_socket),
            error=self.error,
        )

    def _set_state(self, state: DomainState, reason: str) -> None:
        if (state, reason) != (self.state, self.reason):
            log.info("domain %s (%s)", state, reason)
        self.state, self.reason = state, reason
        self._state_changed.set()

    # -- start ----------------------------------------------------------------
    async def sync(self, vmi: VirtualMachineInstance,
                   dhcp: tuple[DHCPServer, ...] = ()) -> Domain:
        """Start the guest's DHCP servers and QEMU for `vmi`; a repeated Sync of the
        same VMI changes nothing."""
        if self.vmi is not None:
            if (
                self.vmi.metadata.uid != vmi.metadata.uid
                or self.vmi.metadata.name != vmi.metadata.name
            ):
                raise DomainStateError("this launcher already runs another VMI")
            return self.domain()
        self.vmi = vmi
        try:
            # Before QEMU: the guest asks for its address within a second of booting.
            await self.dhcp.start(dhcp)
            await self._start(vmi)
        except BaseException as e:
            self.error = str(e)
            self._set_state("crashed", type(e).__name__)
            raise
        return self.domain()

    async def _start(self, vmi: VirtualMachineInstance) -> None:
        accel: Accel
        if self.host.accel is not None:
            accel = self.host.accel
        else:
            accel = await asyncio.to_thread(accel_mod.detect, self.host.qemu)
        self.accel = accel
        prepared = await asyncio.to_thread(volumes.prepare, vmi, self.paths, self.host)
        ctx = DomainContext(
            run_dir=self.paths.run_dir,
            accel=accel,
            qmp_socket=self.paths.qmp_socket,
            serial_socket=self.paths.serial_socket,
            vnc_socket=self.paths.vnc_socket,
            volumes=prepared.volumes,
            network_mode=self.host.network_mode,
            efi_vars=prepared.efi_vars,
            kernel=prepared.kernel,
            now=datetime.now(UTC),
        )
        self.argv = build_argv(vmi, ctx, qemu=self.host.qemu)
        serial_wanted = vmi.spec.domain.devices.autoattach_serial_console is not False
        await self.console.serve(self.paths.console_socket)
        serial_conn: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )

        async def on_serial(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not serial_conn.done():
                serial_conn.set_result((reader, writer))
            else:
                writer.close()

        if serial_wanted:
            self._serial_server = await asyncio.start_unix_server(
                on_serial, path=str(self.paths.serial_socket)
            )
        qmp = QMPClient(vmi.metadata.name)
        await qmp.start_server(str(self.paths.qmp_socket))
        self._qmp = qmp
        self._set_state("starting", "sync")
        log.info("starting QEMU (%s): %s", self.accel, " ".join(self.argv))
        self._proc = await qemu_process.spawn(self.argv, self.paths.qemu_log)
        exited = asyncio.create_task(self._proc.wait())
        try:
            await self._until_or_exit(qmp.accept(), exited, "the QMP monitor did not connect")
            if serial_wanted:
                reader, writer = await self._until_or_exit(
                    serial_conn, exited, "the serial console did not connect"
                )
                self.console.attach_guest(reader, writer)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            raise
        finally:
            if not exited.done():
                exited.cancel()
        self._tasks.append(asyncio.create_task(self._watch_events(qmp), name="qmp-events"))
        self._tasks.append(asyncio.create_task(self._watch_process(), name="qemu-wait"))
        if vmi.spec.start_strategy == "Paused":
            self._set_state("paused", "start-strategy-paused")
        else:
            await self._execute("cont")
            self._set_state("running", "booted")

    async def _until_or_exit(self, awaitable: Any, exited: asyncio.Task[int], what: str) -> Any:
        step = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait(
            {step, exited}, timeout=CONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if step in done:
            return step.result()
        step.cancel()
        with contextlib.suppress(BaseException):
            await step
        code = self._proc.returncode if self._proc else None
        if exited not in done and self._proc is not None:
            self._proc.kill()
            code = await self._proc.wait()
        raise QemuLaunchError(
            exit_code=code,
            argv=self.argv,
            stderr_tail=qemu_process.log_tail(self.paths.qemu_log),
            reason=what if exited not in done else "QEMU exited during start-up",
        )

    # -- events -----------------------------------------------------------------
    async def _watch_events(self, qmp: QMPClient) -> None:
        async for event in qmp.events:
            name = event["event"]
            data = cast(Mapping[str, Any], event.get("data", {}))
            log.debug("QMP event %s %s", name, dict(data))
            if name == "STOP" and self.state not in ("shutdown", "guest-panicked"):
                # A soft reboot's power-off pauses QEMU for a moment; not a user pause.
                if self.state != "shutting-down" and not self._soft_reboot:
                    self._set_state("paused", self.reason if self.reason == "user" else "stop")
            elif name == "RESUME":
                self._set_state("running", "resumed")
            elif name == "POWERDOWN" and not self._soft_reboot:
                self._set_state("shutting-down", "acpi-power-button")
            elif name == "SHUTDOWN":
                await self._on_shutdown(data)
            elif name == "GUEST_PANICKED":
                self._set_state("guest-panicked", str(data.get("action", "panic")))
                self._exit_code = ExitCode.GUEST_PANICKED
                await self._quit()
            elif name == "RESET":
                log.info("guest reset (%s)", data.get("reason", "?"))

    async def _on_shutdown(self, data: Mapping[str, Any]) -> None:
        reason = str(data.get("reason", "shutdown"))
        if reason == "host-qmp-quit":
            return
        if self._soft_reboot and data.get("guest"):
            self._soft_reboot = False
            await self._execute("system_reset")
            await self._execute("cont")
            self._set_state("running", "soft-reboot")
            return
        self._set_state("shutdown", reason)
        if self._exit_code is None:
            self._exit_code = ExitCode.OK
        await self._quit()

    async def _quit(self) -> None:
        with contextlib.suppress(QmpError):
            await self._execute("quit")

    async def _watch_process(self) -> None:
        assert self._proc is not None
        code = await self._proc.wait()
        how = qemu_process.describe_exit(code)
        if self._exit_code is None:
            self._exit_code = ExitCode.QEMU_CRASHED
            self.error = (
                f"QEMU {how} without a shutdown\n{qemu_process.log_tail(self.paths.qemu_log)}"
            )
            self._set_state("crashed", how)
            log.error("%s", self.error)
        else:
            log.info("QEMU %s", how)
            if self.state not in ("shutdown", "guest-panicked"):
                self._set_state("shutdown", self.reason or how)
        if not self.finished.done():
            self.finished.set_result(self._exit_code)

    # -- commands ---------------------------------------------------------------
    async def _execute(self, cmd: str, args: Mapping[str, object] | None = None) -> object:
        if self._qmp is None:
            raise DomainStateError(f"{cmd}: no QEMU is running (Sync first)")
        try:
            return await self._qmp.execute(cmd, args)
        except QMPError as e:
            raise QmpError(f"QMP {cmd} failed: {e}") from e

    def _require(self, *states: DomainState) -> None:
        if self.state not in states:
            raise DomainStateError(f"domain is {self.state}, needs {' or '.join(states)}")

    async def pause(self) -> Domain:
        self._require("running", "paused")
        self.reason = "user"
        await self._execute("stop")
        self._set_state("paused", "user")
        return self.domain()

    async def unpause(self) -> Domain:
        self._require("running", "paused")
        await self._execute("cont")
        self._set_state("running", "unpaused")
        return self.domain()

    async def soft_reboot(self) -> Domain:
        self._require("running")
        self._soft_reboot = True
        await self._execute("system_powerdown")
        self._set_state("running", "soft-reboot-requested")
        return self.domain()

    async def shutdown(self, grace_seconds: int | None) -> Domain:
        """ACPI power button, wait up to the grace period for QEMU to end, then kill."""
        if self._proc is None or self._proc.returncode is not None:
            return self.domain()
        if grace_seconds is None:
            vmi_grace = self.vmi.spec.termination_grace_period_seconds if self.vmi else None
            grace_seconds = DEFAULT_GRACE_SECONDS if vmi_grace is None else vmi_grace
        if self.state == "paused":
            # A paused guest cannot see the power button.
            await self._execute("cont")
        self._set_state("shutting-down", f"shutdown requested, grace {grace_seconds}s")
        with contextlib.suppress(QmpError):
            await self._execute("system_powerdown")
        try:
            async with asyncio.timeout(grace_seconds):
                await asyncio.shield(self._proc.wait())
        except TimeoutError:
            log.warning("grace period of %ss over, killing QEMU", grace_seconds)
            self._exit_code = ExitCode.SHUTDOWN_FORCED
            self._set_state("shutdown", "grace-period-expired")
            self._proc.kill()
            await self._proc.wait()
        await self._settled()
        return self.domain()

    async def kill(self) -> Domain:
        if self._proc is not None and self._proc.returncode is None:
            self._exit_code = ExitCode.KILLED
            self._set_state("shutdown", "killed")
            self._proc.kill()
            await self._proc.wait()
            await self._settled()
        return self.domain()

    async def _settled(self) -> None:
        """Let the process watcher record QEMU's end before answering."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.shield(self.finished)

    # -- teardown ---------------------------------------------------------------
    async def close(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        await self.dhcp.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._qmp is not None:
            with contextlib.suppress(Exception):
                await self._qmp.disconnect()
        if self._serial_server is not None:
            self._serial_server.close()
        await self.console.close()


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of `pid` (default: this process), from /proc."""
    status = f"/proc/{pid or os.getpid()}/status"
    with open(status) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
