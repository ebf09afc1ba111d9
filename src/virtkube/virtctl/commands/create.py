"""create vm: a VirtualMachine manifest from flags, printed (KubeVirt's virtctl create)."""

from __future__ import annotations

from typing import Annotated

import typer

from virtkube.virtctl import create as create_mod
from virtkube.virtctl.commands.base import OUTPUT, emit, fail, new_app


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


def register(app: typer.Typer) -> typer.Typer:
    """Add `create vm`; returns the group (unsupported.py adds KubeVirt's other kinds)."""
    create_app = new_app(help="Print manifests of new objects.")
    create_app.command("vm")(create_vm)
    app.add_typer(create_app, name="create")
    return create_app
