"""What every virtctl command shares: the global flags, one session per command, and
kubectl's habits for failures (one line, a non-zero exit) and output (-o yaml|json)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import typer
import yaml

from virtkube.kube import errors
from virtkube.virtctl import create as create_mod
from virtkube.virtctl import expose as expose_mod
from virtkube.virtctl.session import Session, VirtctlError, error_line, existing_kubeconfig

T = TypeVar("T")
KINDS = {"vm": "virtualmachines", "vmi": "virtualmachineinstances"}

OUTPUT = typer.Option("yaml", "-o", "--output", help="yaml or json")
DRY_RUN = typer.Option(False, "--dry-run", help="Ask the server to change nothing.")


@dataclass
class Globals:
    kubeconfig: str | None = None
    namespace: str | None = None
    context: str | None = None


def new_app(**kwargs: Any) -> typer.Typer:
    """Every typer app (the root and each verb group) is made here, so that no user-visible
    text is ever read as rich markup: a help text, VM name or error such as `vm/NAME[/NS]`
    is a closing tag to rich and once crashed `virtctl --help` (issue 21)."""
    kwargs.setdefault("no_args_is_help", True)
    return typer.Typer(add_completion=False, rich_markup_mode=None,
                       pretty_exceptions_enable=False, **kwargs)


def not_supported(command: str, topic: str) -> None:
    """Answer a KubeVirt command virtkube does not carry out yet: one line, exit code 1."""
    fail(f"virtctl {command} is not supported by virtkube yet ({topic})")


def globals_of(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals()


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def run(ctx: typer.Context, work: Callable[[Session], Awaitable[T]]) -> T:
    """Open a session, run `work`, and turn every failure into one line and an exit code."""
    g = globals_of(ctx)

    async def main() -> T:
        session = await Session.open(existing_kubeconfig(g.kubeconfig), g.namespace, g.context)
        try:
            return await work(session)
        finally:
            await session.close()

    try:
        return asyncio.run(main())
    except errors.KubeError as e:
        fail(error_line(e))
    except VirtctlError as e:
        fail(str(e), e.code)
    except (create_mod.ParamError, expose_mod.ExposeError) as e:
        fail(str(e))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise AssertionError("unreachable")


def emit(obj: Any, output: str) -> None:
    if output == "json":
        typer.echo(json.dumps(obj, indent=2))
    elif output in ("yaml", ""):
        typer.echo(yaml.safe_dump(obj, sort_keys=False).rstrip())
    else:
        fail(f"unknown output format {output!r}: use yaml or json", 2)


def kind_of(kind: str) -> str:
    """`vm` or `vmi` (any case), else a usage error."""
    if kind.lower() not in KINDS:
        fail(f"unknown kind {kind!r}: use vm or vmi", 2)
    return kind.lower()
