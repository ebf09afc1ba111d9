"""The plugins over real gRPC against a stand-in for the kubelet's Registration service:
registration, ListAndWatch and its re-send on a health change, Allocate, registering again
when the kubelet's socket is recreated (what a kubelet restart looks like), and clean-up."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc

from virtkube.handler.deviceplugin import api_pb2 as api
from virtkube.handler.deviceplugin.devices import HostDevice
from virtkube.handler.deviceplugin.manager import DevicePluginManager, dial_dir

POLL = 0.05


async def until(what: str, probe: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL)


class FakeKubelet:
    """The kubelet's Registration service on <dir>/kubelet.sock, recording each request."""

    def __init__(self, plugins_dir: Path) -> None:
        self.socket = plugins_dir / "kubelet.sock"
        self.requests: list[api.RegisterRequest] = []
        self.server: grpc.aio.Server | None = None

    async def _register(self, request: api.RegisterRequest,
                        context: grpc.aio.ServicerContext[api.RegisterRequest, api.Empty],
                        ) -> api.Empty:
        self.requests.append(request)
        return api.Empty()

    async def start(self) -> None:
        self.socket.unlink(missing_ok=True)
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "v1beta1.Registration", {"Register": grpc.unary_unary_rpc_method_handler(
                self._register, api.RegisterRequest.FromString, api.Empty.SerializeToString)}),))
        self.server.add_insecure_port(f"unix:{self.socket}")
        await self.server.start()

    async def stop(self) -> None:
        assert self.server
        await self.server.stop(None)
        self.socket.unlink(missing_ok=True)


@contextlib.asynccontextmanager
async def fake_kubelet(plugins_dir: Path) -> AsyncIterator[FakeKubelet]:
    # Not a fixture: grpc.aio serves on the loop that started it, the test's own.
    k = FakeKubelet(plugins_dir)
    await k.start()
    try:
        yield k
    finally:
        await k.stop()


class PluginStub:
    """The kubelet's side of the DevicePlugin service."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.list_and_watch = channel.unary_stream(
            "/v1beta1.DevicePlugin/ListAndWatch", request_serializer=api.Empty.SerializeToString,
            response_deserializer=api.ListAndWatchResponse.FromString)
        self.allocate = channel.unary_unary(
            "/v1beta1.DevicePlugin/Allocate",
            request_serializer=api.AllocateRequest.SerializeToString,
            response_deserializer=api.AllocateResponse.FromString)
        self.options = channel.unary_unary(
            "/v1beta1.DevicePlugin/GetDevicePluginOptions",
            request_serializer=api.Empty.SerializeToString,
            response_deserializer=api.DevicePluginOptions.FromString)


async def next_list(
        stream: grpc.aio.UnaryStreamCall[Any, api.ListAndWatchResponse],
) -> api.ListAndWatchResponse:
    msg = await asyncio.wait_for(stream.read(), 10)
    assert isinstance(msg, api.ListAndWatchResponse), msg
    return msg


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_plugins_register_serve_follow_health_and_reregister(tmp_path: Path) -> None:
    plugins_dir = tmp_path / "device-plugins"
    plugins_dir.mkdir()
    async with fake_kubelet(plugins_dir) as kubelet:
        await exercise(kubelet, plugins_dir, tmp_path)
    assert not names(plugins_dir)


async def exercise(kubelet: FakeKubelet, plugins_dir: Path, tmp_path: Path) -> None:
    # A device node that can vanish: a symlink to /dev/null (a character device).
    node = tmp_path / "fakedev"
    node.symlink_to("/dev/null")
    fake = HostDevice("fake", node)
    absent = HostDevice("absent", tmp_path / "no-such-device")
    manager = DevicePluginManager(plugins_dir, (fake, absent), count=3, poll_interval=POLL)
    assert manager.present() == [fake]
    task = asyncio.create_task(manager.run())
    try:
        await until("the registration", lambda: kubelet.requests)
        req = kubelet.requests[0]
        assert (req.version, req.endpoint, req.resource_name) == (
            "v1beta1", "kubevirt-fake.sock", "devices.kubevirt.io/fake")
        sock = plugins_dir / "kubevirt-fake.sock"
        assert sock.is_socket()
        assert not (plugins_dir / "kubevirt-absent.sock").exists()

        async with grpc.aio.insecure_channel(f"unix:{sock}") as channel:
            stub = PluginStub(channel)
            options = await stub.options(api.Empty())
            assert not options.pre_start_required
            stream = stub.list_and_watch(api.Empty())
            first = await next_list(stream)
            assert [(d.ID, d.health) for d in first.devices] == [
                ("fake0", "Healthy"), ("fake1", "Healthy"), ("fake2", "Healthy")]
            alloc = await stub.allocate(api.AllocateRequest(
                container_requests=[api.ContainerAllocateRequest(devices_ids=["fake1"])]))
            assert [(d.host_path, d.container_path, d.permissions)
                    for d in alloc.container_responses[0].devices] == [(str(node), str(node),
                                                                        "rw")]
            # The device node goes: the list is sent again, unhealthy; it comes back: healthy.
            node.unlink()
            second = await next_list(stream)
            assert {d.health for d in second.devices} == {"Unhealthy"}
            node.symlink_to("/dev/null")
            third = await next_list(stream)
            assert {d.health for d in third.devices} == {"Healthy"}
            stream.cancel()

        # The kubelet restarts (a new kubelet.sock): the plugin registers again.
        await kubelet.stop()
        await kubelet.start()
        await until("the second registration", lambda: len(kubelet.requests) == 2)
        assert manager.plugins[0].registrations == 2
        await until("the plugin's socket again", sock.is_socket)
        # A kubelet starting afresh removes the plugins' sockets: the plugin serves anew.
        sock.unlink()
        await until("the third registration", lambda: len(kubelet.requests) == 3)
        await until("the plugin's socket again", sock.is_socket)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert names(plugins_dir) == ["kubelet.sock"]


async def test_no_device_no_plugin(tmp_path: Path) -> None:
    manager = DevicePluginManager(tmp_path, (HostDevice("absent", tmp_path / "nope"),))
    task = asyncio.create_task(manager.run())
    await asyncio.sleep(0)
    # It waits to be cancelled like virt-handler's other tasks (any that ends stops it).
    assert not task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not manager.plugins
    assert not names(tmp_path)


def test_dial_dir_is_short_enough_for_a_socket(tmp_path: Path) -> None:
    with dial_dir(tmp_path, ["kubelet.sock"]) as same:
        assert same == tmp_path
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    with dial_dir(deep, ["kubelet.sock"]) as short:
        assert short != deep and short.resolve() == deep.resolve()
        assert len(str(short / "kubelet.sock")) <= 107
    assert not short.exists() and not short.parent.exists()
