"""`python -m virtkube.apiserver`: virt-api's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from virtkube.apiserver.defaults import DefaultsConfig
from virtkube.apiserver.server import Options, serve


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="virt-api", description=__doc__)
    p.add_argument("--kubeconfig", type=Path, default=None)
    p.add_argument("--listen", type=_host_port, default=("127.0.0.1", 8443),
                   help="HOST:PORT of the webhook (and API) listener; the webhooks are "
                        "registered at https://HOST:PORT")
    p.add_argument("--aggregator-address", default=None,
                   help="a non-loopback IP of this machine to also listen on (same port) and "
                        "publish in the virt-api EndpointSlice for the aggregated API "
                        "subresources.kubevirt.io; without it only the webhooks are served")
    p.add_argument("--namespace", default="kubevirt")
    p.add_argument("--state-dir", type=Path, default=Path("/var/lib/kubevirt/virt-api"),
                   help="where the kubevirt CA (before it is in its Secret) and issued "
                        "certificates are kept")
    p.add_argument("--tls-cert", type=Path, default=None,
                   help="serving certificate to use instead of one issued by the kubevirt CA")
    p.add_argument("--tls-key", type=Path, default=None)
    p.add_argument("--ca-bundle", type=Path, default=None,
                   help="CA of --tls-cert, registered as the webhooks' and APIService caBundle")
    p.add_argument("--default-network-interface", choices=("bridge", "masquerade"),
                   default="masquerade",
                   help="binding of the interface added when a VMI has none (KubeVirt's "
                        "defaultNetworkInterface)")
    p.add_argument("--default-disk-bus", choices=("sata", "virtio", "scsi"), default="sata",
                   help="bus of disks that name none (KubeVirt amd64: sata)")
    p.add_argument("--unregister-on-exit", action="store_true",
                   help="remove the webhook configurations and the APIService at exit "
                        "(tests; a cluster's virt-api keeps them so that writes wait for it)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def options(args: argparse.Namespace) -> Options:
    host, port = args.listen
    return Options(
        kubeconfig=args.kubeconfig, host=host, port=port, namespace=args.namespace,
        state_dir=args.state_dir, aggregator_address=args.aggregator_address,
        tls_cert=args.tls_cert, tls_key=args.tls_key, ca_bundle=args.ca_bundle,
        unregister_on_exit=args.unregister_on_exit,
        defaults=DefaultsConfig(default_network_interface=args.default_network_interface,
                                disk_bus=args.default_disk_bus),
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    sys.exit(asyncio.run(serve(options(args))))
