"""Pod status from the runtime view: the kubelet's phase rules and conditions."""

from __future__ import annotations

from typing import Any

import pytest

from virtkube.local.node.status import ContainerView, PodView, phase, pod_status

NOW = "2026-01-01T00:00:10Z"
EARLIER = "2026-01-01T00:00:00Z"


def running(name: str = "main", ready: bool = True) -> ContainerView:
    return ContainerView(name=name, image="virtkube/local:dev", state="running",
                         started_at=EARLIER, ready=ready, started=True,
                         container_id=f"virtkube://u/{name}/0")


def exited(code: int, name: str = "main") -> ContainerView:
    return ContainerView(name=name, image="virtkube/local:dev", state="terminated",
                         exit_code=code, started_at=EARLIER, finished_at=NOW)


def waiting(reason: str = "ContainerCreating", name: str = "main",
            last: dict[str, Any] | None = None) -> ContainerView:
    return ContainerView(name=name, image="virtkube/local:dev", reason=reason,
                         last_terminated=last)


@pytest.mark.parametrize(("policy", "init", "containers", "expected"), [
    ("Always", [], [waiting()], "Pending"),
    ("Always", [], [running()], "Running"),
    ("Always", [], [running(), exited(1, "b")], "Running"),
    ("Never", [], [exited(0)], "Succeeded"),
    ("Never", [], [exited(0), exited(2, "b")], "Failed"),
    ("OnFailure", [], [exited(0)], "Succeeded"),
    ("OnFailure", [], [waiting("CrashLoopBackOff", last={"exitCode": 1})], "Running"),
    ("Always", [], [exited(0)], "Running"),
    ("Always", [running("init")], [waiting("PodInitializing")], "Pending"),
    ("Never", [exited(1, "init")], [waiting("PodInitializing")], "Failed"),
    ("Always", [exited(0, "init")], [running()], "Running"),
])
def test_phase_follows_the_kubelet(policy: str, init: list[ContainerView],
                                   containers: list[ContainerView], expected: str) -> None:
    assert phase(policy, PodView(host_ip="10.0.0.2", init=init,
                                 containers=containers)) == expected


def test_running_ready_pod_status_is_whole() -> None:
    pod = {"spec": {"restartPolicy": "Always"}, "status": {
        "qosClass": "Burstable",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                        "lastTransitionTime": EARLIER}]}}
    view = PodView(host_ip="10.1.0.2", sandbox_ready=True, pod_ip="10.1.1.2",
                   start_time=EARLIER, containers=[running()])
    cond = {"lastProbeTime": None, "lastTransitionTime": NOW, "status": "True"}
    assert pod_status(pod, view, NOW) == {
        "phase": "Running",
        "conditions": [
            {"type": "PodReadyToStartContainers", **cond},
            {"type": "Initialized", **cond},
            {"type": "Ready", **cond},
            {"type": "ContainersReady", **cond},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
             "lastTransitionTime": EARLIER},
        ],
        "hostIP": "10.1.0.2", "hostIPs": [{"ip": "10.1.0.2"}],
        "podIP": "10.1.1.2", "podIPs": [{"ip": "10.1.1.2"}],
        "startTime": EARLIER,
        "initContainerStatuses": None,
        "containerStatuses": [{
            "name": "main", "image": "virtkube/local:dev", "imageID": "",
            "state": {"running": {"startedAt": EARLIER}}, "lastState": {},
            "ready": True, "restartCount": 0, "started": True,
            "containerID": "virtkube://u/main/0"}],
        "qosClass": "Burstable",
    }


def test_unready_container_names_itself_and_transition_time_is_kept() -> None:
    pod = {"spec": {}, "status": {"conditions": [
        {"type": "Ready", "status": "False", "lastTransitionTime": EARLIER}]}}
    view = PodView(host_ip="h", sandbox_ready=True, pod_ip="p",
                   containers=[running("a", ready=False), running("b")])
    conds = {c["type"]: c for c in pod_status(pod, view, NOW)["conditions"]}
    assert conds["Ready"]["status"] == "False"
    assert conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["Ready"]["message"] == "containers with unready status: [a]"
    assert conds["Ready"]["lastTransitionTime"] == EARLIER
    assert conds["ContainersReady"]["lastTransitionTime"] == NOW


def test_foreign_image_waits_with_its_reason() -> None:
    view = PodView(host_ip="h", containers=[ContainerView(
        name="main", image="nginx", reason="ErrImageNeverPull", message="only virtkube")])
    st = pod_status({"spec": {}}, view, NOW)
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ErrImageNeverPull", "message": "only virtkube"}}
    assert st["podIP"] is None and st["podIPs"] is None


def test_crash_loop_shows_last_state_and_completed_pod_is_not_ready() -> None:
    last = {"exitCode": 1, "reason": "Error", "startedAt": EARLIER, "finishedAt": NOW}
    c = ContainerView(name="main", image="i", reason="CrashLoopBackOff", restart_count=3,
                      last_terminated=last)
    cs = pod_status({"spec": {}}, PodView(host_ip="h", containers=[c]), NOW)
    assert cs["containerStatuses"][0]["lastState"] == {"terminated": last}
    assert cs["containerStatuses"][0]["restartCount"] == 3
    done = pod_status({"spec": {"restartPolicy": "Never"}},
                      PodView(host_ip="h", containers=[exited(0)]), NOW)
    ready = next(c for c in done["conditions"] if c["type"] == "Ready")
    assert done["phase"] == "Succeeded" and ready["reason"] == "PodCompleted"
    assert done["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
