"""console and vnc: a VMI's serial and graphical consoles (KubeVirt's virtctl console, vnc)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import typer

from virtkube.virtctl import console as console_mod
from virtkube.virtctl import tunnels
from virtkube.virtctl.commands.base import fail, run

#: Local VNC viewers tried in this order.
VIEWERS = ("remote-viewer", "vncviewer", "tigervnc", "xtightvncviewer", "gvncviewer")


def console(ctx: typer.Context, name: str,
            timeout: int = typer.Option(5, "--timeout",
                                        help="Seconds to wait for the console.")) -> None:
    """Connect to a VMI's serial console (Ctrl+] leaves)."""
    message = run(ctx, lambda s: console_mod.run(s, name, float(timeout) * 60))
    if message:
        typer.echo(message, err=True)
        raise typer.Exit(1)


def vnc(ctx: typer.Context, name: str,
        proxy_only: bool = typer.Option(False, "--proxy-only",
                                        help="Only serve VNC on a local port (printed as JSON)."),
        port: int = typer.Option(0, "--port", help="Local port (0: any free one)."),
        address: str = typer.Option("127.0.0.1", "--address", help="Local address.")) -> None:
    """Open a VMI's graphical console with a local VNC viewer, or proxy it to a local port."""
    viewer = None if proxy_only else next((v for v in VIEWERS if shutil.which(v)), None)
    if not proxy_only and viewer is None:
        fail("no VNC viewer found (" + ", ".join(VIEWERS) + "); use --proxy-only and point "
             "a viewer at the printed port")

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


def register(app: typer.Typer) -> None:
    app.command()(console)
    app.command()(vnc)
