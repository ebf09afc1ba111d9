from __future__ import annotations

import json

import pytest

from tests.unit.launcher.builders import new_vmi
from virtkube.hlcom import protocol as p

COMMANDS: list[p.Command] = [
    p.Ping(),
    p.Sync(vmi=new_vmi({"spec": {"domain": {"devices": {"disks": [{"name": "d"}]}}}})),
    p.Pause(),
    p.Unpause(),
    p.SoftReboot(),
    p.Shutdown(grace_period_seconds=30),
    p.Shutdown(),
    p.Kill(),
    p.GetDomain(),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.kind)
def test_request_round_trip(command: p.Command) -> None:
    request = p.Request(id=7, command=command)
    line = p.encode(request)
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    assert p.decode_request(line) == request


def test_sync_carries_kubevirt_json() -> None:
    line = p.encode(p.Request(command=COMMANDS[1]))
    vmi = json.loads(line)["command"]["vmi"]
    assert vmi["apiVersion"] == "kubevirt.io/v1"
    assert vmi["spec"]["domain"]["devices"]["disks"] == [{"name": "d"}]


def test_response_round_trip() -> None:
    response = p.Response(
        id=3,
        ok=False,
        domain=p.Domain(state="crashed", reason="QemuLaunchError", error="boom"),
        error=p.ErrorInfo(type="QemuLaunchError", message="boom"),
    )
    assert p.decode_response(p.encode(response)) == response


def test_other_version_is_refused() -> None:
    line = json.dumps({"version": 2, "id": 1, "command": {"kind": "Ping"}}).encode()
    with pytest.raises(p.ProtocolError, match="version 2"):
        p.decode_request(line)


@pytest.mark.parametrize(
    "line",
    [b"not json", b'{"version": 1, "command": {"kind": "Reboot"}}', b"[1]"],
)
def test_malformed_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode_request(line)
