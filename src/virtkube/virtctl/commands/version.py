"""version: the client's and virt-api's versions (KubeVirt's virtctl version)."""

from __future__ import annotations

from typing import Any

import typer

from virtkube import __version__
from virtkube.virtctl.commands.base import emit, run


def version(ctx: typer.Context,
            client_only: bool = typer.Option(False, "--client", help="Client version only."),
            output: str = typer.Option("", "-o", "--output", help="yaml or json")) -> None:
    """Print the client and server versions."""
    client = {"gitVersion": f"v{__version__}", "compiler": "cpython"}
    server: Any = None
    if not client_only:
        server = run(ctx, lambda s: s.client.request(
            "GET", "/apis/subresources.kubevirt.io/v1/version"))
    if output:
        emit({"clientVersion": client, "serverVersion": server}, output)
        return
    typer.echo(f'Client Version: version.Info{{GitVersion:"{client["gitVersion"]}"}}')
    if server is not None:
        typer.echo(f'Server Version: version.Info{{GitVersion:"{server.get("gitVersion")}"}}')


def register(app: typer.Typer) -> None:
    app.command()(version)
