"""port-forward, ssh and scp: local ports to a VM or VMI through virt-api, and the system's
ssh/scp over that tunnel (KubeVirt's virtctl portforward, ssh, scp with --local-ssh; the
argv is built in virtkube.virtctl.ssh)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, TypeVar

import typer

from virtkube.virtctl import ssh as sshmod
from virtkube.virtctl import tunnels
from virtkube.virtctl.commands.base import Globals, fail, globals_of, run
from virtkube.virtctl.session import Session, context_namespace, kubeconfig_path

T = TypeVar("T")


def port_forward(ctx: typer.Context,
                 # Literal brackets: base.new_app keeps rich markup off (issue 21).
                 target: str = typer.Argument(..., metavar="TYPE/NAME[.NAMESPACE]",
                                              help="vm/NAME[.NS] or vmi/NAME[.NS]"),
                 ports: Annotated[list[str] | None, typer.Argument(
                     metavar="[PROTOCOL/]LOCAL[:TARGET]...",
                     help="[tcp/]LOCAL[:REMOTE] ...")] = None,
                 address: str = typer.Option("127.0.0.1", "--address"),
                 stdio: bool = typer.Option(False, "--stdio",
                                            help="Join stdin/stdout to one port (ssh's "
                                                 "ProxyCommand; --stdio=true is read too).")
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


def _virtctl(g: Globals) -> list[str]:
    """This virtctl, as the ProxyCommand runs it (KubeVirt's os.Args[0]): the same Python
    and the same kubeconfig and context."""
    argv = [sys.executable, "-m", "virtkube.virtctl"]
    if g.kubeconfig:
        argv += ["--kubeconfig", os.path.abspath(g.kubeconfig)]
    if g.context:
        argv += ["--context", g.context]
    return argv


def _namespace(g: Globals) -> str:
    return g.namespace or context_namespace(kubeconfig_path(g.kubeconfig), g.context)


def _client(name: str, local_ssh: bool) -> str:
    if not local_ssh:
        fail(f"virtctl {name} --local-ssh=false (KubeVirt's built-in SSH client) is not "
             f"supported by virtkube: it always runs the system's {name}")
    binary = shutil.which(name)
    if binary is None:
        fail(f"{name} is not installed (Debian: apt-get install openssh-client)")
    return str(binary)


def _usage(work: Callable[[], T]) -> T:
    try:
        return work()
    except sshmod.TargetError as e:
        fail(str(e), 2)
    raise AssertionError("unreachable")


USERNAME = typer.Option(None, "-l", "--username", help="User to log in as.")
IDENTITY = typer.Option(None, "-i", "--identity-file", help="Private key to log in with.")
PORT = typer.Option(22, "-p", "--port", help="Port of the guest's SSH server.")
KNOWN_HOSTS = typer.Option(None, "--known-hosts",
                           help="known_hosts file for the guest's host key (ssh's "
                                "UserKnownHostsFile; default: ssh's own).")
LOCAL_SSH = typer.Option(True, "--local-ssh/--no-local-ssh",
                         help="Use the system's ssh/scp with virtctl port-forward as its "
                              "ProxyCommand (the default and the only client virtkube has; "
                              "--local-ssh=false is read too).")
LOCAL_SSH_OPTS = typer.Option("-t", "--local-ssh-opts",
                              help="An option passed on to ssh/scp, e.g. "
                                   "-t '-o StrictHostKeyChecking=no' (repeatable).")


def ssh(ctx: typer.Context,
        destination: str = typer.Argument(..., metavar="[USER@]TYPE/NAME[.NAMESPACE]",
                                          help="[user@]vm/NAME[.NS] or vmi/NAME[.NS]"),
        username: str = USERNAME,
        identity_file: str = IDENTITY,
        port: int = PORT,
        known_hosts: str = KNOWN_HOSTS,
        local_ssh: bool = LOCAL_SSH,
        local_ssh_opts: Annotated[list[str] | None, LOCAL_SSH_OPTS] = None,
        command: str = typer.Option(None, "-c", "--command",
                                    help="Command to run in the guest.")) -> None:
    """Open an SSH connection to a VM or VMI (through virtctl port-forward)."""
    g = globals_of(ctx)
    target = _usage(lambda: sshmod.parse_target(destination, with_user=True))
    binary = _client("ssh", local_ssh)
    opts = sshmod.SshOptions(username, identity_file, port, known_hosts,
                             tuple(local_ssh_opts or ()))
    argv = sshmod.ssh_argv(binary, _virtctl(g), target.in_namespace(_namespace(g)), opts,
                           command, tuple(ctx.args))
    raise typer.Exit(subprocess.call(argv))


def scp(ctx: typer.Context,
        source: str = typer.Argument(..., metavar="SOURCE",
                                     help="A local path or [user@]TYPE/NAME[.NS]:PATH"),
        destination: str = typer.Argument(..., metavar="DESTINATION",
                                          help="A local path or [user@]TYPE/NAME[.NS]:PATH"),
        username: str = USERNAME,
        identity_file: str = IDENTITY,
        port: int = PORT,
        known_hosts: str = KNOWN_HOSTS,
        local_ssh: bool = LOCAL_SSH,
        local_ssh_opts: Annotated[list[str] | None, LOCAL_SSH_OPTS] = None,
        recursive: bool = typer.Option(False, "-r", "--recursive",
                                       help="Copy directories recursively."),
        preserve: bool = typer.Option(False, "--preserve",
                                      help="Keep modification times, access times and "
                                           "modes.")) -> None:
    """Copy files to or from a VM or VMI (through virtctl port-forward)."""
    g = globals_of(ctx)
    args = _usage(lambda: sshmod.parse_scp_args(source, destination))
    binary = _client("scp", local_ssh)
    opts = sshmod.SshOptions(username, identity_file, port, known_hosts,
                             tuple(local_ssh_opts or ()))
    args = replace(args, remote=args.remote.in_namespace(_namespace(g)))
    argv = sshmod.scp_argv(binary, _virtctl(g), args, opts, recursive=recursive,
                           preserve=preserve, extra=tuple(ctx.args))
    raise typer.Exit(subprocess.call(argv))


#: ssh and scp pass the flags they do not know on to the system's command.
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def register(app: typer.Typer) -> None:
    app.command("port-forward")(port_forward)
    app.command(context_settings=_PASS_THROUGH)(ssh)
    app.command(context_settings=_PASS_THROUGH)(scp)
