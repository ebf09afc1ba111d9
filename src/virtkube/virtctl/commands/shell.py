"""options and completion: what a shell user needs around the commands (kubectl's
`options` lists the global flags; cobra's `completion SHELL` prints a completion script).
"""

from __future__ import annotations

import typer

# typer's own completion machinery (no public API offers a script by shell name).
from typer._completion_classes import completion_init
from typer._completion_shared import get_completion_script

from virtkube.virtctl.commands.base import fail

#: The variable the completion script sets when it asks virtctl for completions. Fixed, so
#: that `kubectl-virt` (whose program name is `kubectl virt`) answers the same script.
COMPLETE_VAR = "_VIRTCTL_COMPLETE"
SHELLS = ("bash", "zsh", "fish", "powershell")


def options(ctx: typer.Context) -> None:
    """Print the flags every command takes (kubectl's `options`)."""
    lines = ["The following options can be passed to any command:", ""]
    for param in ctx.find_root().command.params:
        names = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
        if not names or "--help" in names or getattr(param, "hidden", False):
            continue
        short = [n for n in names if not n.startswith("--")]
        long = [n for n in names if n.startswith("--")]
        flag = (", ".join(short) + ", " if short else "    ") + ", ".join(long)
        lines.append(f"  {flag}='': {getattr(param, 'help', '') or ''}")
    typer.echo("\n".join(lines))


def completion(shell: str = typer.Argument(..., metavar="bash|zsh|fish|powershell")) -> None:
    """Print a shell completion script, e.g. `source <(virtctl completion bash)`."""
    if shell not in SHELLS:
        fail(f"unknown shell {shell!r}: use " + ", ".join(SHELLS), 2)
    typer.echo(get_completion_script(prog_name="virtctl", complete_var=COMPLETE_VAR,
                                     shell=shell))


def register(app: typer.Typer) -> None:
    """Add options and completion, and teach typer the shells' completion protocols (it
    does so itself only for apps with its own --install-completion, which virtctl hides
    behind KubeVirt's `completion` command)."""
    completion_init()
    app.command()(options)
    app.command()(completion)
