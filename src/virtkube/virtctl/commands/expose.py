"""expose: a Service for a VM, VMI or VMI replica set (KubeVirt's virtctl expose)."""

from __future__ import annotations

import typer

from virtkube.kube.resources import SERVICES, VMIS, VMS, Resource
from virtkube.virtctl import expose as expose_mod
from virtkube.virtctl.commands.base import DRY_RUN, run
from virtkube.virtctl.session import Session

VMIRS = Resource("kubevirt.io", "v1", "virtualmachineinstancereplicasets",
                 "VirtualMachineInstanceReplicaSet")
SOURCES = {"vm": VMS, "vmi": VMIS, "vmirs": VMIRS}


def expose(ctx: typer.Context,
           kind: str = typer.Argument(..., metavar="TYPE", help="vm, vmi or vmirs"),
           name: str = typer.Argument(..., metavar="NAME"),
           service_name: str = typer.Option(..., "--name", help="Name of the Service."),
           port: int = typer.Option(..., "--port", help="The port the Service serves on."),
           target_port: str = typer.Option(
               None, "--target-port", help="Name or number of the guest's port (default: "
                                           "--port)."),
           protocol: str = typer.Option("TCP", "--protocol", help="TCP, UDP or SCTP."),
           service_type: str = typer.Option("ClusterIP", "--type",
                                            help="ClusterIP, NodePort or LoadBalancer."),
           port_name: str = typer.Option(None, "--port-name", help="Name of the port."),
           node_port: int = typer.Option(None, "--node-port",
                                         help="Port on each node (type NodePort)."),
           cluster_ip: str = typer.Option(
               None, "--cluster-ip", help="ClusterIP of the Service; None: headless."),
           external_ip: str = typer.Option(None, "--external-ip",
                                           help="An external IP the Service also accepts."),
           load_balancer_ip: str = typer.Option(None, "--load-balancer-ip",
                                                help="IP of the load balancer."),
           ip_family: str = typer.Option(None, "--ip-family", help="ipv4 or ipv6."),
           ip_family_policy: str = typer.Option(
               None, "--ip-family-policy",
               help="SingleStack, PreferDualStack or RequireDualStack."),
           dry_run: bool = DRY_RUN) -> None:
    """Create a Service for a VM, VMI or VMI replica set."""

    async def work(s: Session) -> None:
        k = expose_mod.kind_of(kind)
        spec = expose_mod.optional_spec(
            cluster_ip=cluster_ip, external_ip=external_ip, load_balancer_ip=load_balancer_ip,
            ip_family=ip_family, ip_family_policy=ip_family_policy)
        obj = await s.client.get(SOURCES[k], name, s.namespace)
        svc = expose_mod.service_manifest(
            name=service_name, namespace=s.namespace, selector=expose_mod.selector_of(k, obj),
            port=port, target_port=target_port, protocol=protocol, service_type=service_type,
            port_name=port_name, node_port=node_port, spec=spec)
        await s.client.create(SERVICES, svc, s.namespace, dry_run=dry_run)

    run(ctx, work)
    typer.echo(f"Service {service_name} successfully exposed for {kind} {name}")


def register(app: typer.Typer) -> None:
    app.command()(expose)
