"""virtctl: the user's CLI for VMs (also installed as the kubectl plugin `kubectl-virt`).

kubectl habits: `--kubeconfig`, `-n/--namespace` (else the context's), `-o yaml|json`,
and a non-zero exit with one line saying why (the API server's or virt-api's
message, which names the hop or field that failed).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer
import yaml

from virtkube import __version__
from virtkube.kube import errors
from virtkube.kube.resources import SERVICES, VMIS, VMS
from virtkube.virtctl import console as console_mod
from virtkube.virtctl import create as create_mod
from virtkube.virtctl import expose as expose_mod
from virtkube.virtctl import tunnels
from virtkube.virtctl.session import Session, VirtctlError, error_line

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="virtctl controls virtual machines on Kubernetes (kubevirt.io/v1).")
create_app = typer.Typer(no_args_is_help=True, help="Print manifests of new objects.")
app.add_typer(create_app, name="create")

T = TypeVar("T")
KINDS = {"vm": "virtualmachines", "vmi": "virtualmachineinstances"}


@dataclass
class Globals:
    kubeconfig: str | None = None
    namespace: str | None = None


def _globals(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals()


@app.callback()
def _root(ctx: typer.Context,
          kubeconfig: str = typer.Option(None, "--kubeconfig", help="Path to the kubeconfig."),
          namespace: str = typer.Option(None, "-n", "--namespace",
                                        help="Namespace (default: the context's).")) -> None:
    """virtctl controls virtual machines on Kubernetes (kubevirt.io/v1)."""
    ctx.obj = Globals(kubeconfig, namespace)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def run(ctx: typer.Context, work: Callable[[Session], Awaitable[T]]) -> T:
    """Open a session, run `work`, and turn every failure into one line and an exit code."""
    g = _globals(ctx)

    async def main() -> T:
        session = await Session.open(g.kubeconfig, g.namespace)
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


OUTPUT = typer.Option("yaml", "-o", "--output", help="yaml or json")
DRY_RUN = typer.Option(False, "--dry-run", help="Ask the server to change nothing.")


# --- lifecycle -------------------------------------------------------------------------------
@app.command()
def start(ctx: typer.Context, name: str,
          paused: bool = typer.Option(False, "--paused", help="Start the VM paused."),
          dry_run: bool = DRY_RUN) -> None:
    """Start a virtual machine."""
    run(ctx, lambda s: s.put("virtualmachines", name, "start",
                             {"paused": paused} if paused else {}, dry_run))
    typer.echo(f"VM {name} was scheduled to start")


def _grace_body(key: str, force: bool, grace: int | None) -> dict[str, Any]:
    if grace is not None and not force:
        fail("--grace-period needs --force")
    if force and grace is None:
        fail("--force needs --grace-period")
    return {key: grace} if force else {}


@app.command()
def stop(ctx: typer.Context, name: str,
         force: bool = typer.Option(False, "--force", help="Stop at once (with --grace-period)."),
         grace_period: int = typer.Option(None, "--grace-period", min=0,
                                          help="Seconds the guest gets before it is killed."),
         dry_run: bool = DRY_RUN) -> None:
    """Stop a virtual machine."""
    body = _grace_body("gracePeriod", force, grace_period)
    run(ctx, lambda s: s.put("virtualmachines", name, "stop", body, dry_run))
    typer.echo(f"VM {name} was scheduled to stop")


@app.command()
def restart(ctx: typer.Context, name: str,
            force: bool = typer.Option(False, "--force"),
            grace_period: int = typer.Option(None, "--grace-period", min=0),
            dry_run: bool = DRY_RUN) -> None:
    """Restart a virtual machine."""
    body = _grace_body("gracePeriodSeconds", force, grace_period)
    run(ctx, lambda s: s.put("virtualmachines", name, "restart", body, dry_run))
    typer.echo(f"VM {name} was scheduled to restart")


@app.command()
def migrate(ctx: typer.Context, name: str,
            added_node_selector: Annotated[list[str] | None, typer.Option(
                "--addedNodeSelector", "--added-node-selector",
                help="key=value labels the target node must have")] = None,
            dry_run: bool = DRY_RUN) -> None:
    """Live-migrate a virtual machine to another node."""
    selector: dict[str, str] = {}
    for item in added_node_selector or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--addedNodeSelector {item!r}: expected key=value")
        selector[key] = value
    body = {"addedNodeSelector": selector} if selector else {}
    run(ctx, lambda s: s.put("virtualmachines", name, "migrate", body, dry_run))
    typer.echo(f"VM {name} was scheduled to migrate")


def _kind(kind: str) -> str:
    if kind.lower() not in KINDS:
        fail(f"unknown kind {kind!r}: use vm or vmi", 2)
    return kind.lower()


@app.command()
def pause(ctx: typer.Context, kind: str = typer.Argument(..., help="vm or vmi"),
          name: str = typer.Argument(...), dry_run: bool = DRY_RUN) -> None:
    """Pause a VM's or VMI's guest (both go through the VMI)."""
    k = _kind(kind)
    run(ctx, lambda s: s.put("virtualmachineinstances", name, "pause", {}, dry_run))
    typer.echo(f"{k.upper()} {name} was scheduled to pause")


@app.command()
def unpause(ctx: typer.Context, kind: str = typer.Argument(..., help="vm or vmi"),
            name: str = typer.Argument(...), dry_run: bool = DRY_RUN) -> None:
    """Unpause a VM's or VMI's guest."""
    k = _kind(kind)
    run(ctx, lambda s: s.put("virtualmachineinstances", name, "unpause", {}, dry_run))
    typer.echo(f"{k.upper()} {name} was scheduled to unpause")


def _soft_reboot(ctx: typer.Context, name: str) -> None:
    run(ctx, lambda s: s.put("virtualmachineinstances", name, "softreboot", {}))
    typer.echo(f"VMI {name} was scheduled to softreboot")


@app.command("soft-reboot")
def soft_reboot(ctx: typer.Context, name: str) -> None:
    """Reboot a VMI's guest through ACPI (a soft reboot)."""
    _soft_reboot(ctx, name)


@app.command("softreboot", hidden=True)
def softreboot(ctx: typer.Context, name: str) -> None:
    """Alias of soft-reboot."""
    _soft_reboot(ctx, name)


@app.command()
def guestosinfo(ctx: typer.Context, name: str, output: str = typer.Option(
        "json", "-o", "--output", help="json or yaml")) -> None:
    """Print what the guest agent reports about the guest OS."""
    info = run(ctx, lambda s: s.get("virtualmachineinstances", name, "guestosinfo"))
    emit(info, output)


# --- streams -------------------------------------------------------------------------------
@app.command()
def console(ctx: typer.Context, name: str,
            timeout: int = typer.Option(5, "--timeout",
                                        help="Seconds to wait for the console.")) -> None:
    """Connect to a VMI's serial console (Ctrl+] leaves)."""
    message = run(ctx, lambda s: console_mod.run(s, name, float(timeout) * 60))
    if message:
        typer.echo(message, err=True)
        raise typer.Exit(1)


VIEWERS = ("remote-viewer", "vncviewer", "tigervnc", "xtightvncviewer", "gvncviewer")


@app.command()
def vnc(ctx: typer.Context, name: str,
        proxy_only: bool = typer.Option(False, "--proxy-only",
                                        help="Only serve VNC on a local port (printed as JSON)."),
        port: int = typer.Option(0, "--port", help="Local port (0: any free one)."),
        address: str = typer.Option("127.0.0.1", "--address", help="Local address.")) -> None:
    """Open a VMI's graphical console with a local VNC viewer, or proxy it to a local port."""
    viewer = None if proxy_only else next((v for v in VIEWERS if shutil.which(v)), None)
    if not proxy_only and viewer is None:
        fail("no VNC viewer found (" + ", ".join(VIEWERS) + "); use --proxy-only and point "
             "a viewer at the printed port")

    def ready(bound: int) -> None:
        if proxy_only:
            typer.echo(json.dumps({"port": bound}))
            sys.stdout.flush()
        else:
            assert viewer is not None
            target = f"vnc://{address}:{bound}" if viewer == "remote-viewer" else (
                f"{address}::{bound}")
            subprocess.Popen([viewer, target])

    run(ctx, lambda s: tunnels.listen(tunnels.vnc_opener(s, name), address, port, ready))


@app.command("port-forward")
def port_forward(ctx: typer.Context,
                 target: str = typer.Argument(..., help="vm/NAME[/NS] or vmi/NAME[/NS]"),
                 ports: Annotated[list[str] | None, typer.Argument(
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


def _ssh_target(value: str, user: str | None) -> tuple[str | None, str]:
    login, sep, rest = value.rpartition("@")
    return (login if sep else user), (rest if sep else value)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ssh(ctx: typer.Context, destination: str = typer.Argument(..., help="[user@]vm/NAME[/NS]"),
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
    argv = [str(binary), "-o", f"ProxyCommand={_proxy_command(_globals(ctx), target, port)}",
            "-o", f"HostKeyAlias={target}"]
    if identity_file:
        argv += ["-i", identity_file]
    argv += [*ctx.args, f"{user}@{target}" if user else target]
    if command:
        argv.append(command)
    raise typer.Exit(subprocess.call(argv))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
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
    argv = [str(binary), "-o", f"ProxyCommand={_proxy_command(_globals(ctx), target, port)}",
            "-o", f"HostKeyAlias={target}"]
    if identity_file:
        argv += ["-i", identity_file]
    if recursive:
        argv.append("-r")
    raise typer.Exit(subprocess.call([*argv, *ctx.args, source, destination]))


# --- objects -------------------------------------------------------------------------------
@create_app.command("vm")
def create_vm(
        name: str = typer.Option(None, "--name"),
        run_strategy: str = typer.Option(create_mod.DEFAULT_RUN_STRATEGY, "--run-strategy"),
        memory: str = typer.Option(None, "--memory"),
        instancetype: str = typer.Option(None, "--instancetype"),
        preference: str = typer.Option(None, "--preference"),
        termination_grace_period: int = typer.Option(create_mod.DEFAULT_GRACE,
                                                     "--termination-grace-period"),
        volume_containerdisk: Annotated[list[str] | None,
                                        typer.Option("--volume-containerdisk")] = None,
        volume_pvc: Annotated[list[str] | None, typer.Option("--volume-pvc")] = None,
        volume_blank: Annotated[list[str] | None, typer.Option("--volume-blank")] = None,
        cloud_init_user_data: str = typer.Option(None, "--cloud-init-user-data"),
        user: str = typer.Option(None, "--user"),
        ssh_key: Annotated[list[str] | None, typer.Option("--ssh-key")] = None,
        output: str = OUTPUT) -> None:
    """Print a VirtualMachine manifest built from flags (apply it with kubectl)."""
    flags = create_mod.VMFlags(
        name=name, run_strategy=run_strategy, memory=memory, instancetype=instancetype,
        preference=preference, termination_grace_period=termination_grace_period,
        containerdisks=volume_containerdisk or [], pvcs=volume_pvc or [],
        blanks=volume_blank or [], cloud_init_user_data=cloud_init_user_data, user=user,
        ssh_keys=ssh_key or [])
    try:
        emit(create_mod.vm_manifest(flags), output)
    except create_mod.ParamError as e:
        fail(str(e))


@app.command()
def expose(ctx: typer.Context, kind: str = typer.Argument(..., help="vm or vmi"),
           name: str = typer.Argument(...),
           service_name: str = typer.Option(..., "--name", help="Name of the Service."),
           port: int = typer.Option(..., "--port"),
           target_port: int = typer.Option(None, "--target-port"),
           protocol: str = typer.Option("TCP", "--protocol"),
           service_type: str = typer.Option("ClusterIP", "--type"),
           port_name: str = typer.Option(None, "--port-name"),
           dry_run: bool = DRY_RUN) -> None:
    """Create a Service for a VM or VMI."""
    k = _kind(kind)

    async def work(s: Session) -> None:
        obj = await s.client.get(VMS if k == "vm" else VMIS, name, s.namespace)
        svc = expose_mod.service_manifest(
            name=service_name, namespace=s.namespace, selector=expose_mod.selector_of(k, obj),
            port=port, target_port=target_port, protocol=protocol, service_type=service_type,
            port_name=port_name)
        await s.client.create(SERVICES, svc, s.namespace, dry_run=dry_run)

    run(ctx, work)
    typer.echo(f"Service {service_name} successfully exposed for {k} {name}")


@app.command()
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


def main() -> None:
    app(prog_name="virtctl")
