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


#: KubeVirt's boolean flags that scripts (and KubeVirt's own ssh ProxyCommand) spell the Go
#: way, `--flag=true|false`: the spelling click reads for each (None: leave the flag out).
GO_BOOLS: dict[str, tuple[str, str | None]] = {
    "--stdio": ("--stdio", None),
    "--local-ssh": ("--local-ssh", "--no-local-ssh"),
    "--recursive": ("--recursive", None),
    "--preserve": ("--preserve", None),
}


def go_bools(argv: list[str]) -> list[str]:
    """`--stdio=true` -> `--stdio`, `--local-ssh=false` -> `--no-local-ssh` ... (GO_BOOLS);
    everything after `--` is left as it is."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:]
        flag, eq, value = arg.partition("=")
        if eq and flag in GO_BOOLS and value.lower() in ("true", "false"):
            on, off = GO_BOOLS[flag]
            spelled = on if value.lower() == "true" else off
            out += [spelled] if spelled else []
        else:
            out.append(arg)
    return out


def main() -> None:
    """Run virtctl; a failure nobody foresaw still ends in one line and exit code 1, never
    in a traceback (typer's pretty exceptions are off)."""
    try:
        app(args=go_bools(sys.argv[1:]), prog_name=prog_name(sys.argv[0]),
            complete_var=shell.COMPLETE_VAR)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # the last resort: every known failure is handled in base.run
        sys.stderr.write(f"Error: {type(e).__name__}: {e}\n".replace("\n", " ").rstrip()
                         + "\n")
        sys.exit(1)
