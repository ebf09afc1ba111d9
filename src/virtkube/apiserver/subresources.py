"""The aggregated API `subresources.kubevirt.io/v1`: routes, authentication, and each verb.

Requests arrive from the API server's aggregation layer only, already
authorised for the caller (RBAC on e.g. `virtualmachines/stop`); virt-api checks
that the front proxy sent them (frontproxy.py) and then acts with its own
identity. VM verbs write the VM (lifecycle.py decides what); VMI verbs are
proxied to the virt-handler of the VMI's node; console, VNC and port-forward
are websockets bridged onwards (virtkube.kube.streams). Every error answer is a
metav1.Status whose message starts with the hop that failed: "virt-api:",
"virt-handler:" or "virt-launcher:" (the latter as reported by the handler).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from virtkube.apiserver import discovery, frontproxy, lifecycle
from virtkube.apiserver.handlerclient import HandlerClient, HandlerError, action_path, endpoint_of
from virtkube.kube import errors, streams
from virtkube.kube.client import Client
from virtkube.kube.resources import PODS, VMIMS, VMIS, VMS, Resource

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PREFIX = "/apis/subresources.kubevirt.io/v1"
NS = PREFIX + "/namespaces/{namespace}"
#: KubeVirt's websocket subprotocol for console, VNC and port-forward streams.
SUBPROTOCOL = "plain.kubevirt.io"
WS_HEARTBEAT = 30.0


@dataclass
class Context:
    client: Client
    handlers: HandlerClient
    auth: frontproxy.RequestHeaderConfig | None


def status(code: int, message: str, reason: str = "") -> web.Response:
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               409: "Conflict", 500: "InternalError", 502: "BadGateway",
               503: "ServiceUnavailable"}
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Success" if code < 400 else "Failure", "message": message,
            "reason": reason or reasons.get(code, ""), "code": code}
    return web.json_response(body, status=code)


def _ctx(request: web.Request) -> Context:
    ctx: Context = request.app["ctx"]
    return ctx


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Only the front proxy may call /apis/...; /healthz stays open for probes."""
    ctx = _ctx(request)
    if request.path.startswith(PREFIX) and not request.path.endswith("/healthz"):
        if ctx.auth is None:
            return status(503, "virt-api: the aggregation layer is not configured")
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        try:
            caller = frontproxy.authenticate(ctx.auth, peer, request.headers)
        except frontproxy.NotAuthenticated as e:
            return status(401, f"virt-api: {e}")
        request["caller"] = caller
    response: web.StreamResponse = await handler(request)
    return response


async def _body(request: web.Request) -> Obj:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise lifecycle.Rejected(400, f"request body is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise lifecycle.Rejected(400, "request body must be a JSON object")
    return body


async def _get(ctx: Context, res: Resource, namespace: str, name: str) -> Obj | None:
    try:
        return await ctx.client.get(res, name, namespace)
    except errors.NotFound:
        return None


def _dry_run(request: web.Request, body: Obj) -> bool:
    return bool(body.get("dryRun")) or request.query.get("dryRun") == "All"


async def _write(ctx: Context, write: lifecycle.Write, namespace: str, name: str,
                 dry_run: bool) -> None:
    res = VMIS if write.target == "vmi" else VMS
    sub = "status" if write.target == "vm-status" else None
    params = {"fieldManager": "virt-api"}
    if dry_run:
        params["dryRun"] = "All"
    await ctx.client.request("PATCH", res.path(namespace, name, sub), params=params,
                             body=write.patch, content_type="application/json-patch+json")


# --- VM verbs ------------------------------------------------------------------------------
VM_VERBS = {"start": lifecycle.start, "stop": lifecycle.stop, "restart": lifecycle.restart,
            "migrate": lifecycle.migrate}


async def vm_verb(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    ns, name, verb = (request.match_info["namespace"], request.match_info["name"],
                      request.match_info["verb"])
    try:
        body = await _body(request)
        vm = await _get(ctx, VMS, ns, name)
        if vm is None:
            return status(404, f'virtualmachines.kubevirt.io "{name}" not found', "NotFound")
        vmi = await _get(ctx, VMIS, ns, name)
        plan = VM_VERBS[verb](vm, vmi, body)
        dry = _dry_run(request, body)
        for write in plan.writes:
            await _write(ctx, write, ns, name, dry)
        if plan.migration is not None:
            await ctx.client.create(VMIMS, plan.migration, ns, dry_run=dry)
        if plan.force_delete_pods and vmi is not None and not dry:
            await _force_delete_pods(ctx, vmi)
    except lifecycle.Rejected as e:
        return status(e.code, e.message)
    except errors.KubeError as e:
        code = e.status if e.status in (404, 409, 422) else 500
        return status(code, f"virt-api: {verb} {ns}/{name}: {e.message}")
    log.info("%s %s/%s by %s", verb, ns, name, getattr(request.get("caller"), "user", "?"))
    return web.Response(status=202)


async def _force_delete_pods(ctx: Context, vmi: Obj) -> None:
    meta = vmi["metadata"]
    pods = await ctx.client.list(PODS, meta["namespace"],
                                 label_selector=f"kubevirt.io/created-by={meta['uid']}")
    for pod in pods.get("items") or []:
        with contextlib.suppress(errors.NotFound):
            await ctx.client.delete(PODS, pod["metadata"]["name"], meta["namespace"],
                                    grace_period_seconds=0)


async def expand_spec(request: web.Request) -> web.Response:
    """Instancetypes and preferences are not served yet, so the VM is already expanded."""
    ctx = _ctx(request)
    ns, name = request.match_info["namespace"], request.match_info["name"]
    vm = await _get(ctx, VMS, ns, name)
    if vm is None:
        return status(404, f'virtualmachines.kubevirt.io "{name}" not found', "NotFound")
    return web.json_response(vm)


# --- VMI verbs (proxied to virt-handler) ---------------------------------------------------
async def _running_vmi(ctx: Context, ns: str, name: str) -> Obj:
    vmi = await _get(ctx, VMIS, ns, name)
    if vmi is None:
        raise lifecycle.Rejected(404, f'virtualmachineinstances.kubevirt.io "{name}" not found')
    return vmi


async def _handler_base(ctx: Context, vmi: Obj) -> str:
    node = (vmi.get("status") or {}).get("nodeName")
    if not node:
        raise lifecycle.Rejected(409, "virt-api: the VMI is not scheduled on a node yet")
    return await endpoint_of(ctx.client, str(node))


async def vmi_action(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    ns, name, action = (request.match_info["namespace"], request.match_info["name"],
                        request.match_info["action"])
    try:
        body = await _body(request)
        vmi = await _running_vmi(ctx, ns, name)
        lifecycle.check_vmi_action(action, vmi)
        if _dry_run(request, body):
            return web.Response(status=200)
        base = await _handler_base(ctx, vmi)
        await ctx.handlers.put(base, action_path(ns, name, action), vmi["metadata"]["uid"])
    except lifecycle.Rejected as e:
        return status(e.code, e.message)
    except HandlerError as e:
        return status(e.code if e.code >= 400 else 502, _hop("virt-handler", str(e)))
    except errors.KubeError as e:
        return status(500, f"virt-api: {action} {ns}/{name}: {e.message}")
    return web.Response(status=200)


def _hop(name: str, message: str) -> str:
    return message if message.startswith(("virt-handler", "virt-launcher")) else (
        f"{name}: {message}")


async def guestosinfo(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    ns, name = request.match_info["namespace"], request.match_info["name"]
    vmi = await _get(ctx, VMIS, ns, name)
    if vmi is None:
        return status(404, f'virtualmachineinstances.kubevirt.io "{name}" not found')
    vstatus = vmi.get("status") or {}
    if not any(c.get("type") == "AgentConnected" and c.get("status") == "True"
               for c in vstatus.get("conditions") or []):
        return status(409, "VMI does not have guest agent connected")
    return web.json_response({"guestOSInfo": vstatus.get("guestOSInfo") or {}})


# --- streams -------------------------------------------------------------------------------
async def vmi_stream(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    ns, name, kind = (request.match_info["namespace"], request.match_info["name"],
                      request.match_info["stream"])
    try:
        vmi = await _running_vmi(ctx, ns, name)
        lifecycle.check_stream(kind, vmi)  # type: ignore[arg-type]
        base = await _handler_base(ctx, vmi)
        upstream = await ctx.handlers.websocket(base, action_path(ns, name, kind),
                                                vmi["metadata"]["uid"])
    except lifecycle.Rejected as e:
        return status(e.code, e.message)
    except HandlerError as e:
        return status(e.code if e.code >= 400 else 502, _hop("virt-handler", str(e)))
    except errors.KubeError as e:
        return status(500, f"virt-api: {kind} {ns}/{name}: {e.message}")
    ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), heartbeat=WS_HEARTBEAT,
                               max_msg_size=0)
    if not ws.can_prepare(request).ok:
        await upstream.close()
        return status(400, f"virt-api: {kind} is a websocket stream (every hop is ready)")
    await ws.prepare(request)
    reason = await streams.bridge_ws(ws, upstream, "virt-handler")
    log.info("%s %s/%s ended: %s", kind, ns, name, reason)
    return ws


async def portforward(request: web.Request) -> web.StreamResponse:
    """TCP to the VMI's pod address (which masquerade forwards to the guest)."""
    ctx = _ctx(request)
    ns, name = request.match_info["namespace"], request.match_info["name"]
    protocol = request.match_info.get("protocol") or "tcp"
    try:
        port = int(request.match_info["port"])
        if not 0 < port < 65536:
            raise ValueError(port)
    except ValueError:
        return status(400, f"virt-api: invalid port {request.match_info['port']!r}")
    if protocol != "tcp":
        return status(400, f"virt-api: protocol {protocol!r} is not supported by virtkube "
                           "(only tcp)")
    vmi = await _get(ctx, VMIS, ns, name)
    if vmi is None:
        return status(404, f'virtualmachineinstances.kubevirt.io "{name}" not found')
    vstatus = vmi.get("status") or {}
    if vstatus.get("phase") != "Running":
        return status(400, "Unable to connect to VM because phase is "
                           f"{vstatus.get('phase') or 'unset'} instead of Running")
    address = next((i.get("ipAddress") for i in vstatus.get("interfaces") or []
                    if i.get("ipAddress")), None)
    if not address:
        return status(400, "virt-api: the VMI reports no IP address (status.interfaces)")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 10)
    except (OSError, TimeoutError) as e:
        return status(502, f"virt-api: cannot connect to {address}:{port} of the VMI: {e}")
    ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), heartbeat=WS_HEARTBEAT,
                               max_msg_size=0)
    await ws.prepare(request)
    reason = await streams.bridge_stream(ws, reader, writer, f"the VMI's port {port}")
    log.info("portforward %s/%s:%d ended: %s", ns, name, port, reason)
    return ws


async def vm_portforward(request: web.Request) -> web.StreamResponse:
    """A VM forwards to its VMI (same name)."""
    return await portforward(request)


# --- discovery -----------------------------------------------------------------------------
async def resources(_: web.Request) -> web.Response:
    return web.json_response(discovery.api_resource_list())


async def group(_: web.Request) -> web.Response:
    return web.json_response(discovery.api_group())


async def version(_: web.Request) -> web.Response:
    return web.json_response(discovery.version_info())


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def routes() -> list[web.RouteDef]:
    return [
        web.get(PREFIX, resources),
        web.get(PREFIX + "/", resources),
        web.get("/apis/subresources.kubevirt.io", group),
        web.get(PREFIX + "/healthz", healthz),
        web.get(PREFIX + "/version", version),
        web.put(NS + "/virtualmachines/{name}/{verb:start|stop|restart|migrate}", vm_verb),
        web.get(NS + "/virtualmachines/{name}/expand-spec", expand_spec),
        web.get(NS + "/virtualmachines/{name}/portforward/{port}", vm_portforward),
        web.get(NS + "/virtualmachines/{name}/portforward/{port}/{protocol}", vm_portforward),
        web.put(NS + "/virtualmachineinstances/{name}/{action:pause|unpause|softreboot}",
                vmi_action),
        web.get(NS + "/virtualmachineinstances/{name}/{stream:console|vnc}", vmi_stream),
        web.get(NS + "/virtualmachineinstances/{name}/portforward/{port}", portforward),
        web.get(NS + "/virtualmachineinstances/{name}/portforward/{port}/{protocol}",
                portforward),
        web.get(NS + "/virtualmachineinstances/{name}/guestosinfo", guestosinfo),
    ]
