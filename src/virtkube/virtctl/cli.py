"""virtctl: the user's CLI for VMs (also installed as the kubectl plugin `kubectl-virt`).

kubectl habits: `--kubeconfig`, `-n/--namespace` (else the context's), `-o yaml|json`,
and a non-zero exit with one line saying why (the API server's or virt-api's
message, which names the hop or field that failed). The commands live one module
per verb group in virtctl/commands/ (as KubeVirt's pkg/virtctl/<verb>/); this
module assembles them into one typer app, in the order `virtctl --help` lists them.
"""

from __future__ import annotations

import typer

from virtkube.virtctl.commands import console, create, expose, lifecycle, portforward, version
from virtkube.virtctl.commands.base import Globals

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="virtctl controls virtual machines on Kubernetes (kubevirt.io/v1).")


@app.callback()
def _root(ctx: typer.Context,
          kubeconfig: str = typer.Option(None, "--kubeconfig", help="Path to the kubeconfig."),
          namespace: str = typer.Option(None, "-n", "--namespace",
                                        help="Namespace (default: the context's).")) -> None:
    """virtctl controls virtual machines on Kubernetes (kubevirt.io/v1)."""
    ctx.obj = Globals(kubeconfig, namespace)


for group in (create, lifecycle, console, portforward, expose, version):
    group.register(app)


def main() -> None:
    app(prog_name="virtctl")
