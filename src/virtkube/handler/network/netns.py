"""Running commands inside a launcher pod's network namespace (the impure part).

The namespace is found from the launcher itself: SO_PEERCRED on its command
socket names the launcher's pid, and /proc/<pid>/ns/net is its netns (virt-handler
runs with hostPID), with no CRI call. Commands run through
`nsenter --net` so that only the child enters the namespace, never a thread of
virt-handler's event loop.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtkube.handler.network.podfacts import PodInterface, parse_interface, parse_resolv_conf


class NetnsError(Exception):
    """A command in the pod's netns failed; carries the command and its stderr."""


@dataclass(frozen=True)
class Launcher:
    pid: int
    uid: int

    @property
    def netns(self) -> Path:
        return Path(f"/proc/{self.pid}/ns/net")

    @property
    def root(self) -> Path:
        """The launcher's filesystem root (its resolv.conf is the pod's)."""
        return Path(f"/proc/{self.pid}/root")


def launcher_of(command_socket: Path) -> Launcher:
    """The process listening on `command_socket` (its pid and uid, from the kernel)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        try:
            s.connect(str(command_socket))
        except OSError as e:
            raise NetnsError(f"virt-launcher socket {command_socket}: {e}") from e
        pid, uid, _gid = struct.unpack("3i", s.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return Launcher(pid, uid)


async def run(launcher: Launcher, *argv: str, stdin: str | None = None,
              check: bool = True) -> str:
    full = ["nsenter", f"--net={launcher.netns}", "--", *argv]
    proc = await asyncio.create_subprocess_exec(
        *full, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} in the netns of pid {launcher.pid} exited "
                         f"{proc.returncode}: {err.decode(errors='replace').strip()}")
    return out.decode()


async def _json(launcher: Launcher, *argv: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(await run(launcher, *argv) or "[]")
    return result


#: Separates the two JSON documents of read_pod_interface's one call.
_SPLIT = "--virtkube--"


async def read_pod_interface(launcher: Launcher, name: str) -> PodInterface:
    # One nsenter for both reads: each process spawn costs tens of ms on the
    # start path of every VM.
    out = await run(launcher, "sh", "-ec",
                    f'ip -j addr show dev "$1"; echo {_SPLIT}; ip -j -4 route show dev "$1"',
                    "sh", name)
    addr_text, _, route_text = out.partition(_SPLIT)
    addrs: list[dict[str, Any]] = json.loads(addr_text.strip() or "[]")
    routes: list[dict[str, Any]] = json.loads(route_text.strip() or "[]")
    try:
        resolv = (launcher.root / "etc" / "resolv.conf").read_text()
    except OSError:
        resolv = ""
    return parse_interface(addrs, routes, parse_resolv_conf(resolv))


async def ip_batch(launcher: Launcher, lines: list[str], *, force: bool = False) -> None:
    """Run `lines` with `ip -batch`; with `force`, every line is tried and failures ignored."""
    if lines:
        await run(launcher, "ip", *(["-force"] if force else []), "-batch", "-",
                  stdin="\n".join(lines) + "\n", check=not force)


async def apply(launcher: Launcher, *, undo: list[str], links: list[str],
                settings: list[str], ruleset: str) -> None:
    """The whole set-up in one nsenter: undo leftovers (failures ignored), links,
    sysctls, nftables. One process chain instead of four on every VM start."""
    with tempfile.TemporaryDirectory(prefix="virtkube-net-") as tmp:
        folder = Path(tmp)
        script = ["set -e"]
        if undo:
            (folder / "undo.ip").write_text("\n".join(undo) + "\n")
            script.append(f"ip -force -batch {folder / 'undo.ip'} >/dev/null 2>&1 || true")
        if links:
            (folder / "links.ip").write_text("\n".join(links) + "\n")
            script.append(f"ip -batch {folder / 'links.ip'}")
        if settings:
            script.append("sysctl -q -w " + " ".join(shlex.quote(x) for x in settings))
        if ruleset:
            (folder / "rules.nft").write_text(ruleset)
            script.append(f"nft -f {folder / 'rules.nft'}")
        await run(launcher, "sh", "-c", "\n".join(script))


async def nft(launcher: Launcher, ruleset: str) -> None:
    if ruleset:
        await run(launcher, "nft", "-f", "-", stdin=ruleset)


async def sysctl(launcher: Launcher, settings: list[str]) -> None:
    if settings:
        await run(launcher, "sysctl", "-q", "-w", *settings)


async def link_names(launcher: Launcher) -> list[str]:
    return [str(link["ifname"]) for link in await _json(launcher, "ip", "-j", "link", "show")]


async def nft_tables(launcher: Launcher) -> list[str]:
    out = await run(launcher, "nft", "list", "tables")
    return [line.split()[-1] for line in out.splitlines() if line.startswith("table")]
