"""expose: a Service for a VM or VMI (KubeVirt's virtctl expose)."""

from __future__ import annotations

import typer

from virtkube.kube.resources import SERVICES, VMIS, VMS
from virtkube.virtctl import expose as expose_mod
from virtkube.virtctl.commands.base import DRY_RUN, kind_of, run
from virtkube.virtctl.session import Session


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
    k = kind_of(kind)

    async def work(s: Session) -> None:
        obj = await s.client.get(VMS if k == "vm" else VMIS, name, s.namespace)
        svc = expose_mod.service_manifest(
            name=service_name, namespace=s.namespace, selector=expose_mod.selector_of(k, obj),
            port=port, target_port=target_port, protocol=protocol, service_type=service_type,
            port_name=port_name)
        await s.client.create(SERVICES, svc, s.namespace, dry_run=dry_run)

    run(ctx, work)
    typer.echo(f"Service {service_name} successfully exposed for {k} {name}")


def register(app: typer.Typer) -> None:
    app.command()(expose)
