"""Run strategies, start/stop requests, back-off and printableStatus (vmstate.plan)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.controller.builders import VM_UID, VMI_UID, new_vm, new_vmi
from virtkube.controller import vmstate

NOW = dt.datetime(2026, 11, 29, 12, 0, 0, tzinfo=dt.UTC)
READY = [{"type": "Ready", "status": "True"}]


@pytest.mark.parametrize(("strategy", "running", "creates"), [
    ("Always", None, True), ("RerunOnFailure", None, True), ("Once", None, True),
    ("Manual", None, False), ("Halted", None, False), (None, True, True), (None, False, False),
    (None, None, False),
])
def test_stopped_vm_starts_per_strategy(strategy: str | None, running: bool | None,
                                        creates: bool) -> None:
    plan = vmstate.plan(new_vm(run_strategy=strategy, running=running), None, NOW)
    assert (plan.create_vmi is not None) == creates
    assert plan.status is not None
    assert plan.status["printableStatus"] == ("Starting" if creates else "Stopped")


def test_created_vmi_is_the_template_owned_by_the_vm() -> None:
    plan = vmstate.plan(new_vm(), None, NOW)
    assert plan.create_vmi == {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {
            "name": "demo", "namespace": "default",
            "labels": {"app": "demo", "vm.kubevirt.io/name": "demo"},
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                 "name": "demo", "uid": VM_UID, "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {"domain": {"devices": {}, "memory": {"guest": "64Mi"}}},
    }


@pytest.mark.parametrize(("strategy", "phase", "deletes"), [
    ("Always", "Succeeded", True), ("Always", "Failed", True),
    ("RerunOnFailure", "Failed", True), ("RerunOnFailure", "Succeeded", False),
    ("Once", "Succeeded", False), ("Once", "Failed", False), ("Manual", "Failed", False),
    ("Halted", "Running", True), ("Always", "Running", False),
])
def test_finished_or_unwanted_vmi_is_deleted(strategy: str, phase: str, deletes: bool) -> None:
    plan = vmstate.plan(new_vm(run_strategy=strategy), new_vmi(phase=phase), NOW)
    assert plan.delete_vmi == deletes


def test_once_becomes_halted_when_its_vmi_finishes() -> None:
    plan = vmstate.plan(new_vm(run_strategy="Once"), new_vmi(phase="Succeeded"), NOW)
    assert plan.spec_patch == {"spec": {"runStrategy": "Halted"}}


def test_running_ready_vmi_makes_a_ready_running_vm() -> None:
    plan = vmstate.plan(new_vm(), new_vmi(phase="Running", conditions=READY), NOW)
    assert plan.status is not None
    assert plan.status["printableStatus"] == "Running"
    assert plan.status["ready"] is True and plan.status["created"] is True
    assert not plan.delete_vmi and plan.create_vmi is None


def test_vmi_of_same_name_not_owned_is_left_alone() -> None:
    plan = vmstate.plan(new_vm(run_strategy="Halted"), new_vmi(phase="Running", owned=False),
                        NOW)
    assert not plan.delete_vmi
    assert plan.events and plan.events[0][1] == "FailedCreate"


def test_restart_request_stops_then_starts() -> None:
    requests = [{"action": "Stop", "uid": VMI_UID}, {"action": "Start"}]
    vm = new_vm(run_strategy="Manual", status={"stateChangeRequests": requests})
    plan = vmstate.plan(vm, new_vmi(phase="Running"), NOW)
    assert plan.delete_vmi and plan.create_vmi is None
    assert plan.status is not None
    assert plan.status["stateChangeRequests"] == [{"action": "Start"}]
    vm["status"] = plan.status
    plan = vmstate.plan(vm, None, NOW)
    assert plan.create_vmi is not None
    assert plan.status is not None and "stateChangeRequests" not in plan.status


def test_repeated_failures_back_off_exponentially() -> None:
    vm = new_vm(run_strategy="Always")
    delays = []
    for i in range(4):
        plan = vmstate.plan(vm, new_vmi(phase="Failed", uid=f"uid-{i}"), NOW)
        assert plan.status is not None
        vm["status"] = plan.status
        after = vmstate.plan(vm, None, NOW)
        delays.append(after.requeue_after or 0.0)
        if after.requeue_after:
            assert after.status is not None
            assert after.status["printableStatus"] == "CrashLoopBackOff"
    assert delays == [0.0, 10.0, 20.0, 40.0]


def test_unschedulable_vmi_shows_error_unschedulable() -> None:
    cond = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    plan = vmstate.plan(new_vm(), new_vmi(phase="Scheduling", conditions=cond), NOW)
    assert plan.status is not None and plan.status["printableStatus"] == "ErrorUnschedulable"


def test_deleting_vm_is_terminating_and_stops_its_vmi() -> None:
    plan = vmstate.plan(new_vm(deleting=True), new_vmi(phase="Running"), NOW)
    assert plan.delete_vmi
    assert plan.status is not None and plan.status["printableStatus"] == "Terminating"


def test_steady_state_writes_nothing() -> None:
    vm = new_vm()
    vmi = new_vmi(phase="Running", conditions=READY)
    first = vmstate.plan(vm, vmi, NOW)
    vm["status"] = first.status
    assert vmstate.plan(vm, vmi, NOW + dt.timedelta(seconds=5)).status is None
