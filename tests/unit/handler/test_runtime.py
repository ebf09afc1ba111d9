"""Domain state -> VMI runtime status (handler.runtime)."""

from __future__ import annotations

import pytest

from tests.unit.controller.builders import NOW, new_vmi
from virtkube.handler.runtime import runtime_status
from virtkube.hlcom.protocol import Domain, DomainState


def conds(status: dict[str, object]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status.get("conditions") or []}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("state", "phase", "expected"), [
    # Ready True is the controller's (the launcher pod's readiness): never set here.
    ("running", "Running", {}),
    ("shutting-down", "Running", {}),
    ("paused", "Running", {"Ready": "False", "Paused": "True"}),
    ("shutdown", "Succeeded", {"Ready": "False"}),
    ("crashed", "Failed", {"Ready": "False"}),
    ("guest-panicked", "Failed", {"Ready": "False"}),
    ("starting", "Scheduled", {}),
])
def test_state_maps_to_phase_and_conditions(state: DomainState, phase: str,
                                            expected: dict[str, str]) -> None:
    vmi = new_vmi(phase="Scheduled")
    status = runtime_status(vmi, Domain(state=state), now=NOW, launcher_version="0.1.0")
    assert status["phase"] == phase
    assert conds(status) == expected
    assert status["launcherContainerImageVersion"] == "0.1.0"


def test_unpause_drops_the_paused_condition() -> None:
    """Ready stays False until the controller sees the pod ready again."""
    vmi = new_vmi(phase="Scheduled")
    vmi["status"] = runtime_status(vmi, Domain(state="paused"), now=NOW, launcher_version="v")
    status = runtime_status(vmi, Domain(state="running"), now=NOW, launcher_version="v")
    assert conds(status) == {"Ready": "False"}


def test_final_phase_is_never_rewritten() -> None:
    vmi = new_vmi(phase="Succeeded")
    assert runtime_status(vmi, Domain(state="running"), now=NOW,
                          launcher_version="v") == vmi["status"]


def test_same_state_twice_is_no_change() -> None:
    vmi = new_vmi(phase="Scheduled")
    vmi["status"] = runtime_status(vmi, Domain(state="running"), now=NOW, launcher_version="v")
    again = runtime_status(vmi, Domain(state="running"), now="2030-01-01T00:00:00Z",
                           launcher_version="v")
    assert again == vmi["status"]


def test_interfaces_are_written_while_the_domain_runs_only() -> None:
    vmi = new_vmi(phase="Scheduled")
    ifaces = [{"name": "default", "ipAddress": "10.200.1.5"}]
    running = runtime_status(vmi, Domain(state="running"), now=NOW, launcher_version="v",
                             interfaces=ifaces)
    assert running["interfaces"] == ifaces
    pending = runtime_status(vmi, Domain(state="pending"), now=NOW, launcher_version="v",
                             interfaces=ifaces)
    assert "interfaces" not in pending
