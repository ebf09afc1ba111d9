"""start, stop, restart and migrate of a VM: KubeVirt's rules per run strategy, as pure functions.

From `pkg/virt-api/rest/lifecycle.go`. Each function looks at the VM, its VMI
(None when there is none) and the request body, and either raises `Rejected`
(409 when the run strategy does not allow it, 400 for a bad body) or returns
the writes to make: JSON patches with a `test` operation, so that a
concurrent change to the same field fails with 409 instead of being
overwritten. The request is then answered 202 Accepted.

- Halted/Always/Once are changed through `spec.runStrategy` (`spec.running`
  for legacy VMs); Manual and RerunOnFailure through `status.stateChangeRequests`
  ([{action: Stop, uid: <vmi uid>}, {action: Start}]), which virt-controller
  carries out and removes.
- A stop with a grace period shorter than the VMI's first shortens the
  VMI's `terminationGracePeriodSeconds` (a forced stop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Obj = dict[str, Any]
Target = Literal["vm", "vm-status", "vmi"]

FINAL = ("Succeeded", "Failed")
VM_NOT_RUNNING = "VM is not running"


class Rejected(Exception):
    """The request cannot be carried out; `code` is the HTTP status to answer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Write:
    target: Target
    patch: list[Obj]


@dataclass
class Plan:
    writes: list[Write] = field(default_factory=list)
    #: A VirtualMachineInstanceMigration to create (migrate).
    migration: Obj | None = None
    #: Delete the VMI's launcher pods at once (restart with gracePeriodSeconds 0).
    force_delete_pods: bool = False


def run_strategy(vm: Obj) -> str:
    spec = vm.get("spec") or {}
    if spec.get("runStrategy"):
        return str(spec["runStrategy"])
    return "Always" if spec.get("running") is True else "Halted"


def _strategy_patch(vm: Obj, old: str, new: str) -> Write:
    """Change Halted<->Always the way the VM spells it (runStrategy, or legacy running)."""
    spec = vm.get("spec") or {}
    if "running" in spec and spec.get("runStrategy") is None:
        return Write("vm", [{"op": "test", "path": "/spec/running", "value": spec["running"]},
                            {"op": "replace", "path": "/spec/running", "value": new == "Always"}])
    return Write("vm", [{"op": "test", "path": "/spec/runStrategy", "value": old},
                        {"op": "replace", "path": "/spec/runStrategy", "value": new}])


def _change_requests(vm: Obj, requests: list[Obj]) -> Write:
    """status.stateChangeRequests, refusing to pile onto one still pending."""
    status = vm.get("status")
    if not status:
        return Write("vm-status", [{"op": "add", "path": "/status",
                                    "value": {"stateChangeRequests": requests}}])
    pending = status.get("stateChangeRequests")
    if pending:
        raise Rejected(409, "Unable to complete request: stop/start already underway")
    if pending is None:
        return Write("vm-status", [{"op": "add", "path": "/status/stateChangeRequests",
                                    "value": requests}])
    return Write("vm-status", [
        {"op": "test", "path": "/status/stateChangeRequests", "value": pending},
        {"op": "replace", "path": "/status/stateChangeRequests", "value": requests}])


def _phase(vmi: Obj | None) -> str:
    return str(((vmi or {}).get("status") or {}).get("phase") or "")


def _is_final(vmi: Obj | None) -> bool:
    return _phase(vmi) in FINAL


def _alive(vmi: Obj | None) -> bool:
    """A VMI that exists, is not final, and is not already going away."""
    return (vmi is not None and not _is_final(vmi)
            and not (vmi.get("metadata") or {}).get("deletionTimestamp"))


def _stop_request(vmi: Obj) -> Obj:
    return {"action": "Stop", "uid": (vmi.get("metadata") or {}).get("uid")}


def start(vm: Obj, vmi: Obj | None, body: Obj) -> Plan:
    if body.get("paused"):
        raise Rejected(400, "start --paused is not supported by virtkube yet")
    strategy = run_strategy(vm)
    if strategy in ("Always", "Once"):
        raise Rejected(409, f"{strategy} does not support manual start requests")
    if _alive(vmi) and _phase(vmi) not in ("", "Unknown"):
        raise Rejected(409, "VM is already running")
    if strategy == "Halted":
        return Plan([_strategy_patch(vm, "Halted", "Always")])
    if strategy == "RerunOnFailure" and _phase(vmi) == "Failed":
        raise Rejected(409, "RerunOnFailure does not support starting VM from failed state")
    requests: list[Obj] = [{"action": "Start"}]
    if vmi is not None and _is_final(vmi):
        requests.insert(0, _stop_request(vmi))
    return Plan([_change_requests(vm, requests)])


def _grace(body: Obj, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Rejected(400, f"{key} must be a non-negative integer, got {value!r}")
    return value


def stop(vm: Obj, vmi: Obj | None, body: Obj) -> Plan:
    grace = _grace(body, "gracePeriod")
    strategy = run_strategy(vm)
    plan = Plan()
    shortened = False
    if _alive(vmi) and grace is not None:
        assert vmi is not None
        current = (vmi.get("spec") or {}).get("terminationGracePeriodSeconds")
        if current is None or grace < current:
            op = "replace" if current is not None else "add"
            patch: list[Obj] = ([{"op": "test", "path": "/spec/terminationGracePeriodSeconds",
                                  "value": current}] if current is not None else [])
            patch.append({"op": op, "path": "/spec/terminationGracePeriodSeconds",
                          "value": grace})
            plan.writes.append(Write("vmi", patch))
            shortened = True
    if strategy == "Halted":
        if not _alive(vmi):
            raise Rejected(409, VM_NOT_RUNNING)
        if not shortened:
            raise Rejected(409, "VM is already stopping (runStrategy Halted); only a forced "
                                "stop with a shorter grace period can be requested")
        return plan
    if strategy in ("Manual", "RerunOnFailure"):
        if not _alive(vmi):
            raise Rejected(409, VM_NOT_RUNNING)
        assert vmi is not None
        plan.writes.append(_change_requests(vm, [_stop_request(vmi)]))
        return plan
    plan.writes.append(_strategy_patch(vm, strategy, "Halted"))  # Always, Once
    return plan


def restart(vm: Obj, vmi: Obj | None, body: Obj) -> Plan:
    grace = _grace(body, "gracePeriodSeconds")
    if grace is not None and grace > 0:
        raise Rejected(400, "For force restart, only gracePeriod=0 is supported for now")
    strategy = run_strategy(vm)
    if strategy in ("Halted", "Once"):
        raise Rejected(409, f"RunStategy {strategy} does not support manual restart requests")
    if vmi is None or (vmi.get("metadata") or {}).get("deletionTimestamp"):
        raise Rejected(409, VM_NOT_RUNNING)
    plan = Plan([_change_requests(vm, [_stop_request(vmi), {"action": "Start"}])])
    plan.force_delete_pods = grace == 0
    return plan


def migrate(vm: Obj, vmi: Obj | None, body: Obj) -> Plan:
    if vmi is None or _phase(vmi) != "Running":
        raise Rejected(409, f"VM {(vm.get('metadata') or {}).get('name')} is not running")
    selector = body.get("addedNodeSelector")
    if selector is not None and not isinstance(selector, dict):
        raise Rejected(400, "addedNodeSelector must be a map of labels")
    spec: Obj = {"vmiName": vmi["metadata"]["name"]}
    if selector:
        spec["addedNodeSelector"] = selector
    return Plan(migration={"apiVersion": "kubevirt.io/v1",
                           "kind": "VirtualMachineInstanceMigration",
                           "metadata": {"generateName": "kubevirt-migrate-vm-"},
                           "spec": spec})


# --- VMI-level requests proxied to virt-handler -------------------------------------------
def _paused(vmi: Obj) -> bool:
    return any(c.get("type") == "Paused" and c.get("status") == "True"
               for c in (vmi.get("status") or {}).get("conditions") or [])


def check_vmi_action(action: str, vmi: Obj) -> None:
    """KubeVirt's preconditions of pause, unpause and softreboot (409 when not met)."""
    if _phase(vmi) != "Running":
        raise Rejected(409, "VMI is not running")
    if action == "pause" and _paused(vmi):
        raise Rejected(409, "VMI is already paused")
    if action == "unpause" and not _paused(vmi):
        raise Rejected(409, "VMI is not paused")
    if action == "softreboot" and _paused(vmi):
        raise Rejected(409, "VMI is paused")


def check_stream(kind: Literal["console", "vnc"], vmi: Obj) -> None:
    """Can a console or VNC session be opened (400 when not, as KubeVirt answers)?"""
    phase = _phase(vmi)
    if phase != "Running":
        raise Rejected(400, f"Unable to connect to VM because phase is {phase or 'unset'} "
                            "instead of Running")
    devices = ((vmi.get("spec") or {}).get("domain") or {}).get("devices") or {}
    if kind == "console" and devices.get("autoattachSerialConsole") is False:
        raise Rejected(400, "No serial consoles are present.")
    if kind == "vnc" and devices.get("autoattachGraphicsDevice") is False:
        raise Rejected(400, "No graphics devices are present.")
