"""start, stop, restart, migrate, pause, unpause, soft-reboot, guestosinfo: the
subresources.kubevirt.io verbs on a VM or VMI (KubeVirt's virtctl vm, pause, softreboot,
guestosinfo)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from virtkube.virtctl.commands.base import DRY_RUN, emit, fail, kind_of, run

VM = typer.Argument(..., metavar="VM")
VMI = typer.Argument(..., metavar="VMI")


def start(ctx: typer.Context, name: str = VM,
          paused: bool = typer.Option(
              False, "--paused", help="Start the VM paused (virtkube's virt-api refuses "
                                      "this until paused starts are supported)."),
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


def stop(ctx: typer.Context, name: str = VM,
         force: bool = typer.Option(False, "--force",
                                    help="Stop with --grace-period (both or neither)."),
         grace_period: int = typer.Option(
             None, "--grace-period", min=0,
             help="Seconds the guest gets before it is killed; shortens the VMI's "
                  "terminationGracePeriodSeconds (needs --force)."),
         dry_run: bool = DRY_RUN) -> None:
    """Stop a virtual machine."""
    body = _grace_body("gracePeriod", force, grace_period)
    run(ctx, lambda s: s.put("virtualmachines", name, "stop", body, dry_run))
    typer.echo(f"VM {name} was scheduled to stop")


def restart(ctx: typer.Context, name: str = VM,
            force: bool = typer.Option(
                False, "--force", help="Restart with --grace-period (both or neither)."),
            grace_period: int = typer.Option(
                None, "--grace-period", min=0,
                help="Only 0 is supported (as in KubeVirt): delete the VMI's pod at once "
                     "(needs --force)."),
            dry_run: bool = DRY_RUN) -> None:
    """Restart a virtual machine."""
    body = _grace_body("gracePeriodSeconds", force, grace_period)
    run(ctx, lambda s: s.put("virtualmachines", name, "restart", body, dry_run))
    typer.echo(f"VM {name} was scheduled to restart")


def migrate(ctx: typer.Context, name: str = VM,
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


def pause(ctx: typer.Context, kind: str = typer.Argument(..., metavar="vm|vmi"),
          name: str = typer.Argument(..., metavar="NAME"), dry_run: bool = DRY_RUN) -> None:
    """Pause a VM's or VMI's guest (both go through the VMI)."""
    k = kind_of(kind)
    run(ctx, lambda s: s.put("virtualmachineinstances", name, "pause", {}, dry_run))
    typer.echo(f"{k.upper()} {name} was scheduled to pause")


def unpause(ctx: typer.Context, kind: str = typer.Argument(..., metavar="vm|vmi"),
            name: str = typer.Argument(..., metavar="NAME"), dry_run: bool = DRY_RUN) -> None:
    """Unpause a VM's or VMI's guest."""
    k = kind_of(kind)
    run(ctx, lambda s: s.put("virtualmachineinstances", name, "unpause", {}, dry_run))
    typer.echo(f"{k.upper()} {name} was scheduled to unpause")


def soft_reboot(ctx: typer.Context, name: str = VMI) -> None:
    """Reboot a VMI's guest through ACPI (a soft reboot)."""
    run(ctx, lambda s: s.put("virtualmachineinstances", name, "softreboot", {}))
    typer.echo(f"VMI {name} was scheduled to softreboot")


def guestosinfo(ctx: typer.Context, name: str = VMI, output: str = typer.Option(
        "json", "-o", "--output", help="json or yaml")) -> None:
    """Print what the guest agent reports about the guest OS."""
    info = run(ctx, lambda s: s.get("virtualmachineinstances", name, "guestosinfo"))
    emit(info, output)


def register(app: typer.Typer) -> None:
    for command in (start, stop, restart, migrate, pause, unpause):
        app.command()(command)
    app.command("soft-reboot")(soft_reboot)
    # KubeVirt's spelling, kept as a hidden alias.
    app.command("softreboot", hidden=True, help="Alias of soft-reboot.")(soft_reboot)
    app.command()(guestosinfo)
