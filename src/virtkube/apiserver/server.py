"""virt-api's process: TLS, the aiohttp app, registration with the API server, shutdown.

One app serves both halves: the admission webhooks (`/mutate-*`, `/validate-*`,
called by the API server at the registered URL) and the aggregated API
(`/apis/subresources.kubevirt.io/v1/...`, reached through the APIService).
It listens on `--listen` (loopback is enough for webhooks) and, when
`--aggregator-address` is given, on that address too at the same port: the
aggregation layer needs an EndpointSlice address, and Kubernetes refuses
loopback ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from virtkube.apiserver import certs, defaults, frontproxy, registration, subresources, webhooks
from virtkube.apiserver.clusterconfig import ClusterConfig, base_config
from virtkube.apiserver.handlerclient import HandlerClient
from virtkube.kube import errors
from virtkube.kube.client import Client, Obj
from virtkube.kube.config import load
from virtkube.kube.resources import VMIMS, VMIS

log = logging.getLogger("virtkube.apiserver")

FINAL_MIGRATION_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Options:
    kubeconfig: Path | None
    host: str
    port: int
    namespace: str = "kubevirt"
    state_dir: Path = Path("/var/lib/kubevirt/virt-api")
    aggregator_address: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    ca_bundle: Path | None = None
    unregister_on_exit: bool = False
    defaults: defaults.DefaultsConfig = field(default_factory=defaults.DefaultsConfig)


def lookups(client: Client, config: ClusterConfig | None = None) -> webhooks.Lookups:
    async def get_vmi(namespace: str, name: str) -> Obj | None:
        try:
            return await client.get(VMIS, name, namespace)
        except errors.NotFound:
            return None

    async def in_flight(namespace: str, name: str) -> list[str]:
        found = await client.list(VMIMS, namespace,
                                  label_selector=f"{defaults.VMI_NAME_LABEL}={name}")
        return [m["metadata"]["name"] for m in found.get("items") or []
                if (m.get("status") or {}).get("phase") not in FINAL_MIGRATION_PHASES]

    return webhooks.Lookups(get_vmi=get_vmi, migrations_in_flight=in_flight,
                            feature_gates=config.feature_gates if config else webhooks.no_gates,
                            cluster_config=config.current if config else None)


def make_app(*, client: Client, cfg: defaults.DefaultsConfig, handlers: HandlerClient,
             auth: frontproxy.RequestHeaderConfig | None,
             config: ClusterConfig | None = None) -> web.Application:
    app = web.Application(middlewares=[subresources.authenticate], client_max_size=8 << 20)
    app["ctx"] = subresources.Context(client=client, handlers=handlers, auth=auth)
    found = lookups(client, config)

    async def admission(request: web.Request) -> web.Response:
        answer = await webhooks.review(request.path, await request.read(), cfg, found)
        return web.json_response(answer)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.add_routes([web.post(path, admission) for path in (*webhooks.MUTATE,
                                                           *webhooks.VALIDATE)])
    app.add_routes([web.get("/healthz", healthz), *subresources.routes()])
    return app


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path
    ca_bundle: bytes
    client_cert: Path
    client_key: Path
    ca_cert: Path


async def prepare_tls(client: Client, opts: Options) -> TLSFiles:
    """The serving cert (given, or issued by the kubevirt CA) and the client cert for handlers."""
    opts.state_dir.mkdir(parents=True, exist_ok=True)
    ca = await certs.ensure_ca(client, opts.namespace, opts.state_dir)
    ca_path = opts.state_dir / "kubevirt-ca.crt"
    ca_path.write_bytes(ca.cert)
    names = [_url_host(opts.host).strip("[]"), *certs.SERVICE_NAMES]
    if opts.aggregator_address:
        names.append(opts.aggregator_address)
    if opts.tls_cert and opts.tls_key:
        cert, key = opts.tls_cert, opts.tls_key
        bundle = (opts.ca_bundle.read_bytes() if opts.ca_bundle else ca.cert)
    else:
        serving = certs.write_leaf(opts.state_dir, "serving", ca,
                                   common_name="virt-api.kubevirt.svc", server_names=names)
        cert, key = serving.cert_path, serving.key_path
        bundle = ca.cert
    handler_client = certs.write_leaf(opts.state_dir, "handler-client", ca,
                                      common_name=certs.VIRT_API_CLIENT_CN, client=True)
    return TLSFiles(cert, key, bundle, handler_client.cert_path, handler_client.key_path,
                    ca_path)


def serving_context(tls: TLSFiles, auth: frontproxy.RequestHeaderConfig | None
                    ) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tls.cert, tls.key)
    if auth is not None:
        frontproxy.trust(ctx, auth)
    return ctx


def handler_context(tls: TLSFiles) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls.ca_cert))
    ctx.load_cert_chain(tls.client_cert, tls.client_key)
    ctx.check_hostname = False  # handlers are addressed by IP; the kubevirt CA is the trust
    return ctx


async def _auth_config(client: Client) -> frontproxy.RequestHeaderConfig | None:
    try:
        return await frontproxy.load(client)
    except (errors.KubeError, frontproxy.NotAuthenticated) as e:
        log.warning("aggregated API disabled: %s", e)
        return None


async def unregister(client: Client, namespace: str) -> None:
    for res, name, ns in ((registration.MUTATING, "virt-api-mutator", None),
                          (registration.VALIDATING, "virt-api-validator", None),
                          (registration.APISERVICES, "v1.subresources.kubevirt.io", None),
                          (registration.ENDPOINTSLICES, registration.SERVICE_NAME, namespace)):
        with contextlib.suppress(errors.NotFound):
            await client.delete(res, name, ns)


async def serve(opts: Options) -> int:
    conn = await load(opts.kubeconfig, user_agent="virt-api")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Client(conn, field_manager=registration.FIELD_MANAGER) as client:
        await client.patch(registration.NAMESPACES_RES, opts.namespace,
                           {"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": opts.namespace}},
                           patch_type="apply", force=True)
        tls = await prepare_tls(client, opts)
        auth = await _auth_config(client)
        handlers = HandlerClient(handler_context(tls))
        # The KubeVirt CR's configuration, cached before the webhooks take requests and
        # followed while virt-api runs.
        config = ClusterConfig(client, opts.namespace,
                               base_config(opts.defaults.default_network_interface))
        informer = await config.start()
        app = make_app(client=client, cfg=opts.defaults, handlers=handlers, auth=auth,
                       config=config)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        sslctx = serving_context(tls, auth)
        hosts = [opts.host]
        if opts.aggregator_address and opts.aggregator_address != opts.host:
            hosts.append(opts.aggregator_address)
        for host in hosts:
            await web.TCPSite(runner, host, opts.port, ssl_context=sslctx).start()
        log.info("virt-api listening on %s port %d", ", ".join(hosts), opts.port)
        endpoint = registration.Endpoint(
            webhook_base_url=f"https://{_url_host(opts.host)}:{opts.port}",
            ca_bundle=tls.ca_bundle, namespace=opts.namespace,
            aggregator_ip=opts.aggregator_address if auth is not None else None,
            aggregator_port=opts.port)
        await registration.register(client, endpoint)
        log.info("registered webhooks%s", " and v1.subresources.kubevirt.io"
                 if endpoint.aggregator_ip else "")
        try:
            await stop.wait()
        finally:
            if opts.unregister_on_exit:
                with contextlib.suppress(errors.KubeError):
                    await unregister(client, opts.namespace)
            await runner.cleanup()
            await handlers.close()
            informer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await informer
    return 0


def _url_host(host: str) -> str:
    """The address the API server calls webhooks at (a wildcard listener: loopback)."""
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
