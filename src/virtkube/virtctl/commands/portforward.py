"""port-forward, ssh and scp: local ports to a VM or VMI through virt-api, and the system's
ssh/scp over that tunnel (KubeVirt's virtctl portforward, ssh, scp)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import typer

from virtkube.virtctl import tunnels
from virtkube.virtctl.commands.base import Globals, fail, globals_of, run
from virtkube.virtctl.session import Session, VirtctlError


def port_forward(ctx: typer.Context,
                 # Literal brackets: base.new_app keeps rich markup off (issue 21).
                 target: str = typer.Argument(..., metavar="TYPE/NAME[/NAMESPACE]",
                                              help="vm/NAME[/NS] or vmi/NAME[/NS]"),
                 ports: Annotated[list[str] | None, typer.Argument(
                     metavar="[PROTOCOL/]LOCAL[:TARGET]...",
                     help="[tcp/]LOCAL[:REMOTE] ...")] = None,
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


@dataclass(frozen=True)
class SshFlags:
    """The flags KubeVirt's ssh and scp share (pkg/virtctl/ssh: AddCommandlineArgs)."""

    identity_file: str | None
    port: int
    known_hosts: str | None
    local_ssh_opts: list[str]


def _tunnelled(ctx: typer.Context, binary: str | None, target: str, flags: SshFlags) -> list[str]:
    """The start of an ssh or scp command line that reaches `target` through port-forward."""
    proxy = _proxy_command(globals_of(ctx), target, flags.port)
    argv = [str(binary), "-o", f"ProxyCommand={proxy}", "-o", f"HostKeyAlias={target}"]
    if flags.known_hosts:
        argv += ["-o", f"UserKnownHostsFile={flags.known_hosts}"]
    if flags.identity_file:
        argv += ["-i", flags.identity_file]
    return argv + flags.local_ssh_opts


def _ssh_target(value: str, user: str | None) -> tuple[str | None, str]:
    login, sep, rest = value.rpartition("@")
    return (login if sep else user), (rest if sep else value)


def _validated(target: str) -> str:
    """Fail early, in one line, on a target port-forward would refuse."""
    try:
        tunnels.target(target, "default")
    except VirtctlError as e:
        fail(str(e), 2)
    return target


USERNAME = typer.Option(None, "-l", "--username", help="User to log in as.")
IDENTITY = typer.Option(None, "-i", "--identity-file", help="Private key to log in with.")
KNOWN_HOSTS = typer.Option(None, "--known-hosts", help="known_hosts file to use.")
LOCAL_SSH = typer.Option(True, "--local-ssh/--no-local-ssh",
                         help="Use the system's ssh/scp (virtkube always does; "
                              "KubeVirt's built-in client is not offered).")
LOCAL_SSH_OPTS = typer.Option("-t", "--local-ssh-opts",
                              help="An option passed on to ssh/scp (repeatable).")


def ssh(ctx: typer.Context,
        destination: str = typer.Argument(..., metavar="[USER@]TYPE/NAME[/NAMESPACE]",
                                          help="[user@]vm/NAME[/NS] or vmi/NAME[/NS]"),
        username: str = USERNAME,
        identity_file: str = IDENTITY,
        port: int = typer.Option(22, "-p", "--port", help="Port of the guest's sshd."),
        known_hosts: str = KNOWN_HOSTS,
        local_ssh: bool = LOCAL_SSH,
        local_ssh_opts: Annotated[list[str] | None, LOCAL_SSH_OPTS] = None,
        command: str = typer.Option(None, "-c", "--command",
                                    help="Command to run in the guest.")) -> None:
    """SSH into a VM or VMI through port-forward, with the system ssh."""
    binary = shutil.which("ssh")
    if binary is None:
        fail("ssh is not installed")
    user, target = _ssh_target(destination, username)
    argv = _tunnelled(ctx, binary, _validated(target),
                      SshFlags(identity_file, port, known_hosts, local_ssh_opts or []))
    argv += [*ctx.args, f"{user}@{target}" if user else target]
    if command:
        argv.append(command)
    raise typer.Exit(subprocess.call(argv))


def scp(ctx: typer.Context, source: str = typer.Argument(..., metavar="SOURCE"),
        destination: str = typer.Argument(..., metavar="DESTINATION"),
        username: str = USERNAME,
        identity_file: str = IDENTITY,
        port: int = typer.Option(22, "-p", "-P", "--port", help="Port of the guest's sshd."),
        known_hosts: str = KNOWN_HOSTS,
        local_ssh: bool = LOCAL_SSH,
        local_ssh_opts: Annotated[list[str] | None, LOCAL_SSH_OPTS] = None,
        recursive: bool = typer.Option(False, "-r", "--recursive", help="Copy directories."),
        preserve: bool = typer.Option(False, "--preserve",
                                      help="Keep modification times and modes.")) -> None:
    """Copy files to or from a VM or VMI (one side is [user@]vm/NAME[/NS]:PATH)."""
    binary = shutil.which("scp")
    if binary is None:
        fail("scp is not installed")
    remote = source if ":" in source and "/" in source.split(":", 1)[0] else destination
    login, _, target = remote.split(":", 1)[0].rpartition("@")
    argv = _tunnelled(ctx, binary, _validated(target),
                      SshFlags(identity_file, port, known_hosts, local_ssh_opts or []))
    if username and not login:
        argv += ["-o", f"User={username}"]
    argv += (["-r"] if recursive else []) + (["-p"] if preserve else [])
    raise typer.Exit(subprocess.call([*argv, *ctx.args, source, destination]))


#: ssh and scp pass the flags they do not know on to the system's command.
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def register(app: typer.Typer) -> None:
    app.command("port-forward")(port_forward)
    app.command(context_settings=_PASS_THROUGH)(ssh)
    app.command(context_settings=_PASS_THROUGH)(scp)
