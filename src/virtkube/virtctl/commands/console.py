"""console and vnc: a VMI's serial and graphical consoles (KubeVirt's virtctl console, vnc)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from virtkube.virtctl import console as console_mod
from virtkube.virtctl import tunnels
from virtkube.virtctl.commands.base import fail, new_app, run

#: Local VNC viewers tried in this order.
VIEWERS = ("remote-viewer", "vncviewer", "tigervnc", "xtightvncviewer", "gvncviewer")
#: KubeVirt's --vnc-type names and the binaries each stands for.
VNC_TYPES = {"tiger": ("vncviewer", "tigervnc"), "real": ("vncviewer",),
             "chicken": ("Chicken",), "remote-viewer": ("remote-viewer",)}


def console(ctx: typer.Context, name: str = typer.Argument(..., metavar="VMI"),
            timeout: int = typer.Option(5, "--timeout",
                                        help="Minutes to wait for the console.")) -> None:
    """Connect to a VMI's serial console (Ctrl+] leaves)."""
    message = run(ctx, lambda s: console_mod.run(s, name, float(timeout) * 60))
    if message:
        typer.echo(message, err=True)
        raise typer.Exit(1)


def _viewer(vnc_type: str | None, vnc_path: str | None) -> str:
    if vnc_path:
        return vnc_path
    if vnc_type and vnc_type not in VNC_TYPES:
        fail(f"unknown --vnc-type {vnc_type!r}: use " + ", ".join(VNC_TYPES), 2)
    candidates = VNC_TYPES[vnc_type] if vnc_type else VIEWERS
    viewer = next((v for v in candidates if shutil.which(v)), None)
    if viewer is None:
        fail("no VNC viewer found (" + ", ".join(candidates) + "); use --proxy-only and "
             "point a viewer at the printed port")
    assert viewer is not None
    return viewer


def vnc(ctx: typer.Context, name: str = typer.Argument(..., metavar="VMI"),
        proxy_only: bool = typer.Option(False, "--proxy-only",
                                        help="Only serve VNC on a local port (printed as JSON)."),
        port: int = typer.Option(0, "--port", help="Local port (0: any free one)."),
        address: str = typer.Option("127.0.0.1", "--address", help="Local address."),
        preserve_session: bool = typer.Option(
            False, "--preserve-session",
            help="KubeVirt keeps an existing VNC session open; virtkube's virt-api ignores "
                 "this flag (accepted so KubeVirt scripts run)."),
        vnc_type: str = typer.Option(None, "--vnc-type",
                                     help="Viewer: tiger, chicken, real or remote-viewer."),
        vnc_path: str = typer.Option(None, "--vnc-path",
                                     help="Path of the VNC viewer to run.")) -> None:
    """Open a VMI's graphical console with a local VNC viewer, or proxy it to a local port
    (`virtctl vnc VMI` runs this)."""
    viewer = None if proxy_only else _viewer(vnc_type, vnc_path)

    def ready(bound: int) -> None:
        if proxy_only:
            typer.echo(json.dumps({"port": bound}))
            sys.stdout.flush()
        else:
            assert viewer is not None
            target = f"vnc://{address}:{bound}" if viewer == "remote-viewer" else (
                f"{address}::{bound}")
            subprocess.Popen([viewer, target])

    run(ctx, lambda s: tunnels.listen(tunnels.vnc_opener(s, name), address, port, ready))


class VncGroup(TyperGroup):
    """`vnc VMI` and `vnc screenshot VMI` both, as KubeVirt's cobra command has them: click
    groups take no argument of their own, so a first word that is no subcommand (a VMI name
    or a flag) is handed to the `connect` subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["connect", *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


def register(app: typer.Typer) -> typer.Typer:
    """Add console and vnc; returns the vnc group (unsupported.py adds `vnc screenshot`)."""
    app.command()(console)
    vnc_app = new_app(cls=VncGroup, help="Open a VMI's graphical console: `virtctl vnc VMI` "
                      "(the flags are those of `vnc connect`) or `virtctl vnc screenshot VMI`.")
    vnc_app.command("connect")(vnc)
    app.add_typer(vnc_app, name="vnc")
    return vnc_app
