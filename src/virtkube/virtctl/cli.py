"""virtctl: the user's CLI for VMs (also installed as the kubectl plugin `kubectl-virt`).

Only `version` exists so far; the other verbs arrive with the subresource API.
"""

from __future__ import annotations

import typer

from virtkube import __version__

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Control virtkube VMs.")


@app.command()
def version() -> None:
    """Print the client version (the server version joins once virt-api serves it)."""
    typer.echo(f'Client Version: version.Info{{GitVersion:"v{__version__}"}}')


@app.callback()
def _root() -> None:
    """virtctl controls virtual machines on Kubernetes (kubevirt.io/v1)."""


def main() -> None:
    app(prog_name="virtctl")
