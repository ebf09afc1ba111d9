"""The virt-handler <-> virt-launcher command protocol: messages only, no I/O.

Both processes import this one module from the neutral package virtkube.hlcom
(design.md section 6), so a change to a message is a change in one place,
checked by both sides' type checkers.

Wire format: JSON lines over the unix socket `COMMAND_SOCKET` in the launcher's
run dir. Each line is one `Request` or one `Response`; a client sends a
request and reads the response with the same `id`. Every message carries
`version`; a launcher answers a request of another version with an error
(`ProtocolError`) rather than guessing. Bump `PROTOCOL_VERSION` when a
message changes incompatibly.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from virtkube.api.vmi import VirtualMachineInstance

PROTOCOL_VERSION = 1

#: Sockets and files in a launcher's run dir (virt-handler connects to these).
COMMAND_SOCKET = "launcher.sock"
CONSOLE_SOCKET = "console.sock"
"""Serial console: raw bytes both ways; several clients at once; history replayed."""
VNC_SOCKET = "vnc.sock"
"""QEMU's own VNC server (RFB), several clients allowed."""


def tap_name(index: int) -> str:
    """The TAP virt-handler creates for the index-th interface (<= 15 chars, IFNAMSIZ),
    and the one the launcher's QEMU opens when the handler names none."""
    return f"tap{index}"


class ProtocolError(ValueError):
    """A line that is not a valid message of this protocol version."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- commands ---------------------------------------------------------------
class Ping(_Message):
    """Liveness: answered as soon as the command server runs, even before Sync."""

    kind: Literal["Ping"] = "Ping"


class DHCPRoute(_Message):
    """A classless static route (DHCP option 121)."""

    destination: str
    """CIDR, e.g. 10.96.0.0/16."""
    gateway: str


class DHCPServer(_Message):
    """The DHCP answer for one guest NIC, planned by virt-handler, served by the launcher.

    KubeVirt's split: virt-handler wires the pod netns and decides the
    guest's address; virt-launcher runs the DHCP server so that it lives and
    dies with the VM (design.md: one supervisor per child process).
    """

    interface: str
    """The in-pod bridge the guest's TAP hangs on (the server listens there only)."""
    mac: str
    """The only client answered."""
    ip: str
    prefix_length: int = Field(ge=0, le=32)
    router: str | None = None
    """The guest's default gateway; None when the pod itself has no default route."""
    routes: tuple[DHCPRoute, ...] = ()
    dns: tuple[str, ...] = ()
    search_domains: tuple[str, ...] = ()
    mtu: int | None = None
    hostname: str | None = None
    shared_network: bool = False
    """The address is not on the bridge's own subnet (bridge binding): serve it anyway."""


class Sync(_Message):
    """Run this VMI: the first Sync starts its DHCP servers, prepares volumes, starts QEMU.

    Later Syncs of the same VMI (same uid) are acknowledged without change;
    virtkube does not hot-plug yet.
    """

    kind: Literal["Sync"] = "Sync"
    vmi: VirtualMachineInstance
    dhcp: tuple[DHCPServer, ...] = ()


class Pause(_Message):
    kind: Literal["Pause"] = "Pause"


class Unpause(_Message):
    kind: Literal["Unpause"] = "Unpause"


class SoftReboot(_Message):
    """ACPI reset request to the guest (QMP system_reset is a hard reset; this is not)."""

    kind: Literal["SoftReboot"] = "SoftReboot"


class Shutdown(_Message):
    """ACPI power button, then kill after the grace period.

    `grace_period_seconds` None means the VMI's terminationGracePeriodSeconds
    (KubeVirt's default 30 when unset there too).
    """

    kind: Literal["Shutdown"] = "Shutdown"
    grace_period_seconds: int | None = Field(default=None, ge=0)


class Kill(_Message):
    """Stop QEMU at once (SIGKILL)."""

    kind: Literal["Kill"] = "Kill"


class GetDomain(_Message):
    kind: Literal["GetDomain"] = "GetDomain"


Command = Annotated[
    Ping | Sync | Pause | Unpause | SoftReboot | Shutdown | Kill | GetDomain,
    Field(discriminator="kind"),
]


# -- domain state -------------------------------------------------------------
#: pending: no Sync yet; starting: QEMU launched, not yet running the guest.
#: running/paused: QMP run state. shutting-down: power button pressed.
#: shutdown: QEMU ended after a guest or requested power-off.
#: guest-panicked: the guest reported a panic. crashed: QEMU died unasked.
DomainState = Literal[
    "pending", "starting", "running", "paused", "shutting-down", "shutdown",
    "guest-panicked", "crashed",
]  # fmt: skip


class Domain(_Message):
    """What the launcher knows about its QEMU process."""

    state: DomainState
    reason: str = ""
    """Why the state last changed (QMP's reason, e.g. "guest-shutdown", "user")."""
    vmi_uid: str | None = None
    name: str | None = None
    accel: Literal["kvm", "tcg"] | None = None
    qemu_pid: int | None = None
    exit_code: int | None = None
    """QEMU's exit status once it has ended (negative: killed by that signal)."""
    console_socket: str | None = None
    vnc_socket: str | None = None
    error: str | None = None
    """Why QEMU could not be started or ended badly (QemuLaunchError text)."""


# -- envelopes ----------------------------------------------------------------
class Request(_Message):
    version: int = PROTOCOL_VERSION
    id: int = 0
    command: Command


class ErrorInfo(_Message):
    type: str
    """The launcher's exception class, e.g. UnsupportedFieldError."""
    message: str


class Response(_Message):
    version: int = PROTOCOL_VERSION
    id: int = 0
    ok: bool
    domain: Domain | None = None
    error: ErrorInfo | None = None


def encode(message: Request | Response) -> bytes:
    """One JSON line (camelCase VMI inside, as the API server would send it)."""
    return message.model_dump_json(by_alias=True, exclude_none=True).encode() + b"\n"


_M = TypeVar("_M", Request, Response)


def _check_version(line: bytes) -> None:
    try:
        version = json.loads(line).get("version")
    except (ValueError, AttributeError) as e:
        raise ProtocolError(f"not a JSON object: {line[:80]!r}") from e
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version!r}, this side speaks {PROTOCOL_VERSION}")


def _decode(line: bytes, kind: type[_M], what: str) -> _M:
    _check_version(line)
    try:
        return kind.model_validate_json(line)
    except ValidationError as e:
        raise ProtocolError(f"bad {what}: {e}") from e


def decode_request(line: bytes) -> Request:
    return _decode(line, Request, "request")


def decode_response(line: bytes) -> Response:
    return _decode(line, Response, "response")
