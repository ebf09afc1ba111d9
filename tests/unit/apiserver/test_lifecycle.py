"""start/stop/restart/migrate per run strategy: KubeVirt's 202/409 table, and the writes made."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.apiserver.builders import new_vm
from virtkube.apiserver import lifecycle


def vmi(phase: str = "Running", uid: str = "vmi-uid", **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": "testvm", "namespace": "default", "uid": uid},
            "spec": {}, "status": {"phase": phase, **extra}}


def outcome(verb: str, strategy: str, the_vmi: dict[str, Any] | None,
            body: dict[str, Any] | None = None) -> Any:
    try:
        plan = getattr(lifecycle, verb)(new_vm(run_strategy=strategy), the_vmi, body or {})
    except lifecycle.Rejected as e:
        return e.code
    return [(w.target, [op for op in w.patch if op["op"] != "test"]) for w in plan.writes]


SET_ALWAYS = [("vm", [{"op": "replace", "path": "/spec/runStrategy", "value": "Always"}])]
SET_HALTED = [("vm", [{"op": "replace", "path": "/spec/runStrategy", "value": "Halted"}])]
START_REQ = [("vm-status", [{"op": "add", "path": "/status",
                             "value": {"stateChangeRequests": [{"action": "Start"}]}}])]
STOP_REQ = [("vm-status", [{"op": "add", "path": "/status", "value": {
    "stateChangeRequests": [{"action": "Stop", "uid": "vmi-uid"}]}}])]
RESTART_REQ = [("vm-status", [{"op": "add", "path": "/status", "value": {
    "stateChangeRequests": [{"action": "Stop", "uid": "vmi-uid"}, {"action": "Start"}]}}])]

TABLE = [
    ("start", "Halted", None, SET_ALWAYS),
    ("start", "Manual", None, START_REQ),
    ("start", "RerunOnFailure", None, START_REQ),
    ("start", "Always", None, 409),
    ("start", "Once", None, 409),
    ("start", "Manual", vmi(), 409),
    ("start", "RerunOnFailure", vmi("Failed"), 409),
    ("start", "Manual", vmi("Succeeded"), [("vm-status", [{"op": "add", "path": "/status",
        "value": {"stateChangeRequests": [{"action": "Stop", "uid": "vmi-uid"},
                                          {"action": "Start"}]}}])]),
    ("stop", "Always", vmi(), SET_HALTED),
    ("stop", "Always", None, SET_HALTED),
    ("stop", "Once", vmi(), SET_HALTED),
    ("stop", "Manual", vmi(), STOP_REQ),
    ("stop", "RerunOnFailure", vmi(), STOP_REQ),
    ("stop", "Manual", None, 409),
    ("stop", "Halted", None, 409),
    ("stop", "Halted", vmi(), 409),
    ("restart", "Always", vmi(), RESTART_REQ),
    ("restart", "Manual", vmi(), RESTART_REQ),
    ("restart", "RerunOnFailure", vmi(), RESTART_REQ),
    ("restart", "Halted", vmi(), 409),
    ("restart", "Once", vmi(), 409),
    ("restart", "Always", None, 409),
    ("migrate", "Always", vmi(), []),
    ("migrate", "Always", vmi("Scheduled"), 409),
    ("migrate", "Always", None, 409),
]


@pytest.mark.parametrize(("verb", "strategy", "the_vmi", "expected"), TABLE,
                         ids=[f"{v}-{s}-{(i or {}).get('status', {}).get('phase', 'novmi')}"
                              for v, s, i, _ in TABLE])
def test_table(verb: str, strategy: str, the_vmi: dict[str, Any] | None, expected: Any) -> None:
    assert outcome(verb, strategy, the_vmi) == expected


def test_patches_carry_a_test_operation() -> None:
    plan = lifecycle.stop(new_vm(run_strategy="Always"), vmi(), {})
    assert plan.writes[0].patch[0] == {"op": "test", "path": "/spec/runStrategy",
                                       "value": "Always"}


def test_legacy_running_is_patched_as_running() -> None:
    vm = new_vm(run_strategy=None, running=True)
    plan = lifecycle.stop(vm, vmi(), {})
    assert plan.writes[0].patch == [{"op": "test", "path": "/spec/running", "value": True},
                                    {"op": "replace", "path": "/spec/running", "value": False}]


def test_pending_request_conflicts() -> None:
    vm = new_vm(run_strategy="Manual")
    vm["status"] = {"stateChangeRequests": [{"action": "Start"}]}
    with pytest.raises(lifecycle.Rejected) as e:
        lifecycle.start(vm, None, {})
    assert e.value.code == 409


def test_force_stop_shortens_the_vmi_grace_period() -> None:
    running = vmi()
    running["spec"]["terminationGracePeriodSeconds"] = 30
    plan = lifecycle.stop(new_vm(run_strategy="Always"), running, {"gracePeriod": 0})
    assert plan.writes[0] == lifecycle.Write("vmi", [
        {"op": "test", "path": "/spec/terminationGracePeriodSeconds", "value": 30},
        {"op": "replace", "path": "/spec/terminationGracePeriodSeconds", "value": 0}])
    halted = lifecycle.stop(new_vm(run_strategy="Halted"), running, {"gracePeriod": 0})
    assert [w.target for w in halted.writes] == ["vmi"]


def test_restart_force_only_with_zero() -> None:
    assert outcome("restart", "Always", vmi(), {"gracePeriodSeconds": 5}) == 400
    plan = lifecycle.restart(new_vm(run_strategy="Always"), vmi(), {"gracePeriodSeconds": 0})
    assert plan.force_delete_pods


def test_migrate_creates_a_migration() -> None:
    plan = lifecycle.migrate(new_vm(), vmi(), {"addedNodeSelector": {"zone": "a"}})
    assert plan.migration == {"apiVersion": "kubevirt.io/v1",
                              "kind": "VirtualMachineInstanceMigration",
                              "metadata": {"generateName": "kubevirt-migrate-vm-"},
                              "spec": {"vmiName": "testvm", "addedNodeSelector": {"zone": "a"}}}


@pytest.mark.parametrize(("action", "conditions", "phase", "code"), [
    ("pause", [], "Running", None),
    ("pause", [{"type": "Paused", "status": "True"}], "Running", 409),
    ("unpause", [], "Running", 409),
    ("unpause", [{"type": "Paused", "status": "True"}], "Running", None),
    ("softreboot", [{"type": "Paused", "status": "True"}], "Running", 409),
    ("pause", [], "Scheduled", 409),
])
def test_vmi_actions(action: str, conditions: list[Any], phase: str, code: int | None) -> None:
    try:
        lifecycle.check_vmi_action(action, vmi(phase, conditions=conditions))
        got = None
    except lifecycle.Rejected as e:
        got = e.code
    assert got == code


def test_console_needs_running_and_a_serial_console() -> None:
    with pytest.raises(lifecycle.Rejected, match="phase is Scheduled"):
        lifecycle.check_stream("console", vmi("Scheduled"))
    off = vmi()
    off["spec"] = {"domain": {"devices": {"autoattachSerialConsole": False}}}
    with pytest.raises(lifecycle.Rejected, match="No serial consoles"):
        lifecycle.check_stream("console", off)
    lifecycle.check_stream("vnc", off)
