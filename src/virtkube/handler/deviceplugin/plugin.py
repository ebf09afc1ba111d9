"""One device plugin: the DevicePlugin service on a socket of its own in the kubelet's
device-plugins dir, registered with the kubelet there.

The kubelet forgets every plugin when it restarts and deletes the sockets in its dir, so the
plugin watches its dir and starts over (new socket, new registration) when kubelet.sock is
recreated or its own socket vanishes. The dir is polled rather than watched with inotify: one
stat per second per plugin is nothing, and it needs no native binding.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message

from virtkube.handler.deviceplugin import api_pb2 as api
from virtkube.handler.deviceplugin.devices import (
    DEFAULT_COUNT,
    KUBELET_SOCKET,
    HostDevice,
    allocate_response,
    device_list,
    plugin_options,
    register_request,
)

log = logging.getLogger("virtkube.handler.deviceplugin")

SERVICE = "v1beta1.DevicePlugin"
REGISTER = "/v1beta1.Registration/Register"
#: How long one Register call may take before the plugin starts over.
REGISTER_TIMEOUT = 10.0
#: The pause before trying again after a failure.
RETRY_INTERVAL = 2.0

#: A file's identity: the kubelet recreates its socket on restart (a new inode, a new ctime).
Identity = tuple[int, int]


def identity(path: Path) -> Identity | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_ctime_ns)


class DevicePlugin:
    """Serves and registers `dev` until cancelled; removes its socket when it stops.

    `dial_dir` is the same folder as `plugins_dir` reached by a shorter path (a symlink): a
    unix socket's path has at most 107 bytes, and a local node's folder can be deeper than
    that allows; bind and connect go through it, the kubelet only ever sees the file name.
    """

    def __init__(self, dev: HostDevice, plugins_dir: Path, *, dial_dir: Path | None = None,
                 count: int = DEFAULT_COUNT, poll_interval: float = 1.0) -> None:
        self.dev = dev
        self.dir = plugins_dir
        self.dial_dir = dial_dir or plugins_dir
        self.count = count
        self.poll_interval = poll_interval
        self.healthy = self._probe()
        #: Registrations with a kubelet so far (one more after each kubelet restart).
        self.registrations = 0
        self._changed = asyncio.Condition()

    @property
    def socket(self) -> Path:
        return self.dir / self.dev.socket_name

    def _probe(self) -> bool:
        return self.dev.path.is_char_device()

    async def _set_health(self, healthy: bool) -> None:
        if healthy == self.healthy:
            return
        log.warning("%s %s: %s", self.dev.resource, self.dev.path,
                    "back, devices healthy" if healthy else "gone, devices unhealthy")
        async with self._changed:
            self.healthy = healthy
            self._changed.notify_all()

    # The DevicePlugin service.
    async def _options(self, request: api.Empty,
                       context: grpc.aio.ServicerContext[api.Empty, api.DevicePluginOptions],
                       ) -> api.DevicePluginOptions:
        return plugin_options()

    async def _list_and_watch(
            self, request: api.Empty,
            context: grpc.aio.ServicerContext[api.Empty, api.ListAndWatchResponse],
    ) -> AsyncIterator[api.ListAndWatchResponse]:
        sent: bool | None = None
        while True:
            async with self._changed:
                while self.healthy == sent:
                    await self._changed.wait()
                sent = self.healthy
            yield device_list(self.dev, self.count, sent)

    async def _allocate(self, request: api.AllocateRequest,
                        context: grpc.aio.ServicerContext[api.AllocateRequest,
                                                          api.AllocateResponse],
                        ) -> api.AllocateResponse:
        log.info("%s: allocating %s", self.dev.resource,
                 [list(c.devices_ids) for c in request.container_requests])
        return allocate_response(self.dev, request)

    async def _preferred(self, request: api.PreferredAllocationRequest,
                         context: grpc.aio.ServicerContext[api.PreferredAllocationRequest,
                                                           api.PreferredAllocationResponse],
                         ) -> api.PreferredAllocationResponse:
        # Not advertised in the options, so the kubelet does not call it.
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "no preferred allocation")
        raise AssertionError("abort returned")

    async def _pre_start(self, request: api.PreStartContainerRequest,
                         context: grpc.aio.ServicerContext[api.PreStartContainerRequest,
                                                           api.PreStartContainerResponse],
                         ) -> api.PreStartContainerResponse:
        return api.PreStartContainerResponse()

    def _handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(SERVICE, {
            "GetDevicePluginOptions": unary(self._options, api.Empty, api.DevicePluginOptions),
            "ListAndWatch": grpc.unary_stream_rpc_method_handler(
                self._list_and_watch, api.Empty.FromString,
                api.ListAndWatchResponse.SerializeToString),
            "GetPreferredAllocation": unary(self._preferred, api.PreferredAllocationRequest,
                                            api.PreferredAllocationResponse),
            "Allocate": unary(self._allocate, api.AllocateRequest, api.AllocateResponse),
            "PreStartContainer": unary(self._pre_start, api.PreStartContainerRequest,
                                       api.PreStartContainerResponse),
        })

    # Life cycle.
    async def _serve(self) -> grpc.aio.Server:
        # A socket left by an earlier virt-handler would make the bind fail.
        self.socket.unlink(missing_ok=True)
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((self._handler(),))
        server.add_insecure_port(f"unix:{self.dial_dir / self.dev.socket_name}")
        await server.start()
        return server

    async def _stop(self, server: grpc.aio.Server) -> None:
        # ListAndWatch never ends by itself: no grace.
        await server.stop(None)
        self.socket.unlink(missing_ok=True)

    async def _register(self) -> None:
        target = f"unix:{self.dial_dir / KUBELET_SOCKET}"
        async with grpc.aio.insecure_channel(target) as channel:
            register = channel.unary_unary(
                REGISTER, request_serializer=api.RegisterRequest.SerializeToString,
                response_deserializer=api.Empty.FromString)
            await register(register_request(self.dev), timeout=REGISTER_TIMEOUT)

    async def _kubelet(self) -> Identity:
        """Waits for the kubelet's socket (virt-handler may start before the kubelet)."""
        sock = self.dir / KUBELET_SOCKET
        while True:
            ident = identity(sock) if sock.is_socket() else None
            if ident:
                return ident
            await self._set_health(self._probe())
            await asyncio.sleep(self.poll_interval)

    async def _watch(self, kubelet: Identity) -> str:
        """Keeps the health current; returns why the plugin must start over."""
        sock = self.dir / KUBELET_SOCKET
        while True:
            await asyncio.sleep(self.poll_interval)
            await self._set_health(self._probe())
            if identity(sock) != kubelet:
                return "the kubelet restarted"
            if not self.socket.is_socket():
                return f"{self.socket} vanished"

    async def run(self) -> None:
        """Serves until cancelled. A failure (a kubelet that refuses, a socket that cannot be
        bound) is logged and retried: the plugins must not take virt-handler down."""
        while True:
            try:
                await self._serve_once()
            except grpc.aio.AioRpcError as e:
                log.warning("%s: registering with the kubelet in %s failed: %s %s",
                            self.dev.resource, self.dir, e.code().name, e.details())
            except Exception:
                log.exception("%s: device plugin failed", self.dev.resource)
            else:
                continue
            await asyncio.sleep(RETRY_INTERVAL)

    async def _serve_once(self) -> None:
        kubelet = await self._kubelet()
        server = await self._serve()
        try:
            await self._register()
            self.registrations += 1
            log.info("%s: registered with the kubelet in %s (%d devices, %s)",
                     self.dev.resource, self.dir, self.count,
                     "healthy" if self.healthy else "unhealthy")
            why = await self._watch(kubelet)
            log.info("%s: %s, registering again", self.dev.resource, why)
        finally:
            await self._stop(server)


def unary(behaviour: Callable[..., Awaitable[Message]], request: type[Message],
          response: type[Message]) -> grpc.RpcMethodHandler[Any, Any]:
    return grpc.unary_unary_rpc_method_handler(behaviour, request.FromString,
                                               response.SerializeToString)


def unix_path_fits(path: Path) -> bool:
    """Whether `path` fits a unix socket address (sun_path: 108 bytes with the NUL)."""
    return len(os.fsencode(path)) <= 107
