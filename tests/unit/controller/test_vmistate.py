"""VMI scheduling decisions (vmistate.plan), one case per transition."""

from __future__ import annotations

from tests.unit.controller.builders import NOW, new_pod, new_vmi
from virtkube.controller import vmistate


def phase_of(plan: vmistate.Plan) -> str | None:
    assert plan.vmi is not None
    return str(plan.vmi["status"]["phase"])


def test_new_vmi_gets_finalizer_and_a_pod_and_is_scheduling() -> None:
    plan = vmistate.plan(new_vmi(), [], NOW)
    assert plan.create_pod
    assert plan.vmi is not None
    assert vmistate.FINALIZER in plan.vmi["metadata"]["finalizers"]
    assert phase_of(plan) == "Scheduling"
    phases = [t["phase"] for t in plan.vmi["status"]["phaseTransitionTimestamps"]]
    assert phases == ["Pending", "Scheduling"]


def test_pod_not_yet_in_cache_is_not_a_missing_pod() -> None:
    vmi = new_vmi(phase="Scheduling", finalizers=[vmistate.FINALIZER])
    plan = vmistate.plan(vmi, [], NOW, pod_expected=True)
    assert not plan.create_pod and plan.vmi is None


def test_running_pod_schedules_the_vmi_on_its_node() -> None:
    vmi = new_vmi(phase="Scheduling", finalizers=[vmistate.FINALIZER])
    plan = vmistate.plan(vmi, [new_pod(phase="Running", node="n1")], NOW)
    assert phase_of(plan) == "Scheduled"
    assert plan.vmi is not None
    assert plan.vmi["status"]["nodeName"] == "n1"
    assert plan.vmi["metadata"]["labels"][vmistate.NODE_NAME_LABEL] == "n1"
    assert plan.vmi["status"]["activePods"] == {"pod-uid": "n1"}


def test_unschedulable_pod_becomes_a_condition_with_the_schedulers_words() -> None:
    vmi = new_vmi(phase="Scheduling", finalizers=[vmistate.FINALIZER])
    pod = new_pod(conditions=[{"type": "PodScheduled", "status": "False",
                               "reason": "Unschedulable", "message": "0/1 nodes: memory"}])
    plan = vmistate.plan(vmi, [pod], NOW)
    assert plan.vmi is not None
    (cond,) = plan.vmi["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "PodScheduled", "False", "Unschedulable", "0/1 nodes: memory")
    assert phase_of(plan) == "Scheduling"


def test_failed_pod_fails_the_vmi_and_missing_pod_too() -> None:
    vmi = new_vmi(phase="Running", finalizers=[vmistate.FINALIZER])
    plan = vmistate.plan(vmi, [new_pod(phase="Running", node="n1", compute_exit=3)], NOW)
    assert phase_of(plan) == "Failed"
    assert plan.events[0][0] == "Warning" and "code 3" in plan.events[0][2]
    plan = vmistate.plan(vmi, [], NOW)
    assert phase_of(plan) == "Failed"
    assert plan.vmi is not None and plan.vmi["status"]["reason"] == "PodNotExists"


def test_final_vmi_lets_its_pod_go() -> None:
    vmi = new_vmi(phase="Succeeded", finalizers=[vmistate.FINALIZER])
    plan = vmistate.plan(vmi, [new_pod(phase="Running", node="n1")], NOW)
    assert plan.delete_pods == ["virt-launcher-demo-aaaaa"]
    assert plan.vmi is None


def test_deleted_vmi_deletes_pod_then_drops_finalizer() -> None:
    vmi = new_vmi(phase="Running", deleting=True, finalizers=[vmistate.FINALIZER])
    plan = vmistate.plan(vmi, [new_pod(phase="Running", node="n1")], NOW)
    assert plan.delete_pods == ["virt-launcher-demo-aaaaa"] and plan.vmi is None
    plan = vmistate.plan(vmi, [new_pod(phase="Running", node="n1", deleting=True)], NOW)
    assert plan.delete_pods == [] and plan.vmi is None, "wait while the pod terminates"
    plan = vmistate.plan(vmi, [], NOW)
    assert plan.vmi is not None and plan.vmi["metadata"]["finalizers"] == []


def test_unchanged_vmi_writes_nothing() -> None:
    vmi = new_vmi(phase="Scheduling", finalizers=[vmistate.FINALIZER])
    first = vmistate.plan(vmi, [new_pod(phase="Running", node="n1")], NOW)
    assert first.vmi is not None
    again = vmistate.plan(first.vmi, [new_pod(phase="Running", node="n1")], NOW)
    assert again.vmi is None and not again.events


def _ready(plan: vmistate.Plan) -> tuple[str, str] | None:
    assert plan.vmi is not None
    return next(((c["status"], c.get("reason", ""))
                 for c in plan.vmi["status"].get("conditions") or []
                 if c["type"] == "Ready"), None)


def _pod_ready(status: str, reason: str = "") -> list[dict[str, str]]:
    cond = {"type": "Ready", "status": status}
    return [{**cond, "reason": reason}] if reason else [cond]


def test_ready_of_a_running_guest_follows_the_launcher_pods_readiness() -> None:
    """KubeVirt's syncReadyConditionFromPod: a readinessProbe gates the pod, so the VMI."""
    vmi = new_vmi(phase="Running", finalizers=[vmistate.FINALIZER])
    not_ready = new_pod(phase="Running", node="n1",
                        conditions=_pod_ready("False", "ContainersNotReady"))
    assert _ready(vmistate.plan(vmi, [not_ready], NOW)) == ("False", "ContainersNotReady")
    ready = new_pod(phase="Running", node="n1", conditions=_pod_ready("True"))
    assert _ready(vmistate.plan(vmi, [ready], NOW)) == ("True", "")
    missing = new_pod(phase="Running", node="n1")
    assert _ready(vmistate.plan(vmi, [missing], NOW)) == ("False", "PodConditionMissing")
    going = new_pod(phase="Running", node="n1", deleting=True, conditions=_pod_ready("True"))
    assert _ready(vmistate.plan(vmi, [going], NOW)) == ("False", "PodTerminating")


def test_ready_is_left_to_the_handler_while_paused_or_not_yet_running() -> None:
    pod = new_pod(phase="Running", node="n1", conditions=_pod_ready("True"))
    paused = new_vmi(phase="Running", finalizers=[vmistate.FINALIZER], conditions=[
        {"type": "Paused", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "Paused"}])
    assert _ready(vmistate.plan(paused, [pod], NOW)) == ("False", "Paused")
    scheduled = new_vmi(phase="Scheduled", finalizers=[vmistate.FINALIZER])
    plan = vmistate.plan(scheduled, [pod], NOW)
    assert plan.vmi is None or _ready(plan) is None
