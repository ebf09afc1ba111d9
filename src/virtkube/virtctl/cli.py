"""virtctl: the user's CLI for VMs (also installed as the kubectl plugin `kubectl-virt`).

kubectl habits: `--kubeconfig`, `--context`, `-n/--namespace` (else the context's),
`-o yaml|json`, and a non-zero exit with one line saying why (the API server's or
virt-api's message, which names the hop or field that failed); usage errors exit 2. The
commands live one module per verb group in virtctl/commands/ (as KubeVirt's
pkg/virtctl/<verb>/); this module assembles them into one typer app, in the order
`virtctl --help` lists them. KubeVirt's commands virtkube cannot carry out yet are there
too (commands/unsupported.py) and say so in one line.
"""

from __future__ import annotations

import os
import sys

import typer

from virtkube.virtctl.commands import (
    console,
    create,
    expose,
    lifecycle,
    portforward,
    shell,
    unsupported,
    version,
)
from virtkube.virtctl.commands.base import Globals, new_app

app = new_app(help="virtctl controls virtual machines on Kubernetes (kubevirt.io/v1).")


@app.callback()
def _root(ctx: typer.Context,
          kubeconfig: str = typer.Option(None, "--kubeconfig", help="Path to the kubeconfig."),
          context: str = typer.Option(None, "--context",
                                      help="The kubeconfig context to use."),
          namespace: str = typer.Option(None, "-n", "--namespace",
                                        help="Namespace (default: the context's).")) -> None:
    """virtctl controls virtual machines on Kubernetes (kubevirt.io/v1)."""
    ctx.obj = Globals(kubeconfig, namespace, context)


create_app = create.register(app)
lifecycle.register(app)
vnc_app = console.register(app)
for group in (portforward, expose, version, shell):
    group.register(app)
unsupported.register(app, {"create": create_app, "vnc": vnc_app})


def prog_name(argv0: str) -> str:
    """`kubectl virt` when run as the kubectl plugin (as KubeVirt's help reads), else virtctl."""
    base = os.path.basename(argv0)
    return base.removesuffix("-virt") + " virt" if base.endswith("-virt") else "virtctl"


def main() -> None:
    """Run virtctl; a failure nobody foresaw still ends in one line and exit code 1, never
    in a traceback (typer's pretty exceptions are off)."""
    try:
        app(prog_name=prog_name(sys.argv[0]), complete_var=shell.COMPLETE_VAR)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # the last resort: every known failure is handled in base.run
        sys.stderr.write(f"Error: {type(e).__name__}: {e}\n".replace("\n", " ").rstrip()
                         + "\n")
        sys.exit(1)
