"""port-forward, ssh and scp: local ports to a VM or VMI through virt-api, and the system's
ssh/scp over that tunnel (KubeVirt's virtctl portforward, ssh, scp)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Annotated

import typer
from rich.markup import escape

from virtkube.virtctl import tunnels
from virtkube.virtctl.commands.base import Globals, fail, globals_of, run
from virtkube.virtctl.session import Session


def port_forward(ctx: typer.Context,
                 # escape: typer renders help as rich markup, where `[/NS]` is a closing tag.
                 target: str = typer.Argument(..., help=escape(
                     "vm/NAME[/NS] or vmi/NAME[/NS]")),
                 ports: Annotated[list[str] | None, typer.Argument(
                     help=escape("[tcp/]LOCAL[:REMOTE] ..."))] = None,
                 address: str = typer.Option("127.0.0.1", "--address"),
                 stdio: bool = typer.Option(False, "--stdio",
                                            help="Join stdin/stdout to one port (for ssh).")
                 ) -> None:
    """Forward local ports to a VM or VMI."""
    if not ports:
        fail("give at least one port: [tcp/]LOCAL[:REMOTE]", 2)

    async def work(s: Session) -> None:
        plural, name, ns = tunnels.target(target, s.namespace)
        specs = [tunnels.parse_port(p) for p in ports or []]
        if stdio:
            proto, _, remote = specs[0]
            await tunnels.stdio(tunnels.port_opener(s, plural, name, ns, remote, proto))
            return

        def ready_for(local: int, remote: int) -> Callable[[int], None]:
            return lambda bound: typer.echo(
                f"Forwarding from {address}:{bound} -> {remote}", err=True)

        await asyncio.gather(*(
            tunnels.listen(tunnels.port_opener(s, plural, name, ns, remote, proto), address,
                           local, ready_for(local, remote))
            for proto, local, remote in specs))

    run(ctx, work)


def _proxy_command(g: Globals, target: str, port: int) -> str:
    argv = [sys.executable, "-m", "virtkube.virtctl"]
    if g.kubeconfig:
        argv += ["--kubeconfig", g.kubeconfig]
    if g.namespace:
        argv += ["-n", g.namespace]
    argv += ["port-forward", "--stdio", target, str(port)]
    return " ".join(argv)


def _tunnelled(ctx: typer.Context, binary: str | None, target: str, port: int,
               identity_file: str | None) -> list[str]:
    """The start of an ssh or scp command line that reaches `target` through port-forward."""
    argv = [str(binary), "-o", f"ProxyCommand={_proxy_command(globals_of(ctx), target, port)}",
            "-o", f"HostKeyAlias={target}"]
    return [*argv, "-i", identity_file] if identity_file else argv


def _ssh_target(value: str, user: str | None) -> tuple[str | None, str]:
    login, sep, rest = value.rpartition("@")
    return (login if sep else user), (rest if sep else value)


def ssh(ctx: typer.Context,
        destination: str = typer.Argument(..., help=escape("[user@]vm/NAME[/NS]")),
        username: str = typer.Option(None, "-l", "--username"),
        identity_file: str = typer.Option(None, "-i", "--identity-file"),
        port: int = typer.Option(22, "-p", "--port"),
        command: str = typer.Option(None, "-c", "--command")) -> None:
    """SSH into a VM or VMI through port-forward, with the system ssh."""
    binary = shutil.which("ssh")
    if binary is None:
        fail("ssh is not installed")
    user, target = _ssh_target(destination, username)
    tunnels.target(target, "default")  # validate early
    argv = _tunnelled(ctx, binary, target, port, identity_file)
    argv += [*ctx.args, f"{user}@{target}" if user else target]
    if command:
        argv.append(command)
    raise typer.Exit(subprocess.call(argv))


def scp(ctx: typer.Context, source: str, destination: str,
        identity_file: str = typer.Option(None, "-i", "--identity-file"),
        port: int = typer.Option(22, "-P", "--port"),
        recursive: bool = typer.Option(False, "-r", "--recursive")) -> None:
    """Copy files to or from a VM or VMI (one side is [user@]vm/NAME[/NS]:PATH)."""
    binary = shutil.which("scp")
    if binary is None:
        fail("scp is not installed")
    remote = source if ":" in source and "/" in source.split(":", 1)[0] else destination
    target = remote.split(":", 1)[0].rpartition("@")[2]
    argv = _tunnelled(ctx, binary, target, port, identity_file)
    if recursive:
        argv.append("-r")
    raise typer.Exit(subprocess.call([*argv, *ctx.args, source, destination]))


#: ssh and scp pass the flags they do not know on to the system's command.
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def register(app: typer.Typer) -> None:
    app.command("port-forward")(port_forward)
    app.command(context_settings=_PASS_THROUGH)(ssh)
    app.command(context_settings=_PASS_THROUGH, help=escape(scp.__doc__ or ""))(scp)
