"""KubeVirt's admission rules for VMs, VMIs and migrations: objects in, StatusCauses out.

Each function takes the object(s) of an AdmissionReview as plain dicts and
returns every problem it finds, each naming its field path; an empty list
admits. The order of work is KubeVirt's: the schema first (the pydantic models,
which name unknown and mistyped fields), and only when the object parses the
semantic rules (checks/*) and the fields virtkube does not run (checks/supported).

One parse per admission call, and the rules read the dict, not the typed model:
what admission judges is what the user wrote. Its causes quote the written
values ("'2Gi' is greater than ..."), count which keys are present (exactly one
volume source, `bios` beside `efi`), and name JSON paths; the supported-field
walker needs the set leaves, not the model's filled-in defaults; the mutating
webhook answers with a JSON patch against the same dict. The typed model is the
schema (the CRDs are generated from it): built once, to name unknown and
mistyped fields, and never a second time for the same object (a migration is
checked once before its VMI is looked up, not again after).

No I/O: a migration's VMI is looked up by the caller and passed in, and so are the
cluster's feature gates (`gates`, from its KubeVirt CR; none by default).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from virtkube.api import VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceMigration
from virtkube.api.hyperv import hyperv_problems
from virtkube.api.kind import KubeVirtObject
from virtkube.apiserver.causes import Cause, from_validation_error
from virtkube.apiserver.checks import compute, credentials, network, storage, supported
from virtkube.apiserver.featuregates import Gates

Obj = dict[str, Any]

#: VMI spec fields KubeVirt lets change after creation: a forced stop shortens the grace
#: period of the running VMI (virt-api's stop with gracePeriod).
MUTABLE_VMI_SPEC = ("terminationGracePeriodSeconds",)
#: At most this many immutable-field causes are listed on one update.
MAX_UPDATE_CAUSES = 10


def schema_causes(kind: type[KubeVirtObject], obj: Obj) -> list[Cause]:
    try:
        kind.model_validate(obj)
    except ValidationError as e:
        return from_validation_error(e)
    return []


def vmi_spec_causes(spec: Obj, base: str = "spec", gates: Gates = frozenset()) -> list[Cause]:
    """The semantic rules and unsupported fields of a VMI spec that parsed."""
    return (storage.check(spec, base, gates) + network.check(spec, base)
            + compute.check_spec(spec, base) + _hyperv_causes(spec, base)
            + credentials.check(spec, base)
            + supported.check_vmi_spec(spec, base))


def _hyperv_causes(spec: Obj, base: str) -> list[Cause]:
    """KubeVirt's ValidateVirtualMachineInstanceHyperv; the rules live in virtkube.api.hyperv
    because the launcher applies the same ones to the argv."""
    return [Cause(path, message) for path, message in hyperv_problems(spec, base)]


def validate_vmi_create(vmi: Obj, gates: Gates = frozenset()) -> list[Cause]:
    causes = schema_causes(VirtualMachineInstance, vmi)
    return causes or vmi_spec_causes(vmi["spec"], gates=gates)


def _diff_paths(old: Any, new: Any, path: str) -> list[str]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += _diff_paths(old.get(key), new.get(key), f"{path}.{key}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += _diff_paths(a, b, f"{path}[{i}]")
        return out
    return [path]


def validate_vmi_update(old: Obj, new: Obj) -> list[Cause]:
    """KubeVirt's vmi-update-admitter: the spec of a VMI is fixed once it exists."""
    causes = schema_causes(VirtualMachineInstance, new)
    if causes:
        return causes
    old_spec = dict(old.get("spec") or {})
    new_spec = dict(new.get("spec") or {})
    grace_old = old_spec.pop("terminationGracePeriodSeconds", None)
    grace_new = new_spec.pop("terminationGracePeriodSeconds", None)
    if grace_new is not None and grace_new != grace_old and (
            grace_old is not None and grace_new > grace_old):
        causes.append(Cause("spec.terminationGracePeriodSeconds",
                            "can only be shortened on a running VMI (a forced stop)",
                            "FieldValueForbidden"))
    changed = _diff_paths(old_spec, new_spec, "spec")
    for path in changed[:MAX_UPDATE_CAUSES]:
        causes.append(Cause(path, "the VMI spec cannot be changed after creation (update of "
                                  "VMI object is restricted)", "FieldValueForbidden"))
    return causes


def validate_vm(vm: Obj, old: Obj | None = None, gates: Gates = frozenset()) -> list[Cause]:
    """KubeVirt's vms-admitter (create and update alike), with the template as a VMI spec."""
    causes = schema_causes(VirtualMachine, vm)
    if causes:
        return causes
    spec = vm["spec"]
    if spec.get("running") is not None and spec.get("runStrategy") is not None:
        causes.append(Cause("spec.running", "Running and RunStrategy are mutually exclusive. "
                                            "Note that Running is deprecated, please use "
                                            "RunStrategy instead"))
    if spec.get("running") is None and spec.get("runStrategy") is None:
        causes.append(Cause("spec.runStrategy", "RunStrategy must be specified",
                            "FieldValueRequired"))
    causes += supported.check_vm_spec(spec)
    template = spec.get("template") or {}
    tspec = template.get("spec")
    if tspec is None:
        causes.append(Cause("spec.template.spec", "missing virtual machine instance template "
                                                  "spec", "FieldValueRequired"))
    else:
        causes += vmi_spec_causes(tspec, "spec.template.spec", gates)
    return causes


#: VMI phases after which a VMI never runs again.
FINAL_PHASES = ("Succeeded", "Failed")


def validate_migration_create(vmim: Obj, vmi: Obj | None,
                              in_flight: list[str] | None = None) -> list[Cause]:
    """migration-create-admitter: the VMI exists, is not final, is migratable, not migrating.

    `vmi` is the VMI named by spec.vmiName in the migration's namespace (None: not
    found); `in_flight` the names of unfinished migrations of that VMI.
    """
    causes = schema_causes(VirtualMachineInstanceMigration, vmim)
    if causes or not (vmim.get("spec") or {}).get("vmiName"):
        return causes or _migration_field_causes(vmim)
    return _migration_field_causes(vmim) + migration_vmi_causes(vmim, vmi, in_flight)


def migration_spec_causes(vmim: Obj) -> list[Cause]:
    """What a new migration is refused for by itself, before its VMI is looked up: the
    schema, vmiName, unsupported fields (the webhook stops at any of them)."""
    return (schema_causes(VirtualMachineInstanceMigration, vmim)
            or _migration_field_causes(vmim))


def _migration_field_causes(vmim: Obj) -> list[Cause]:
    spec = vmim.get("spec") or {}
    if not spec.get("vmiName"):
        return [Cause("spec.vmiName", "must name the VMI to migrate", "FieldValueRequired")]
    return [Cause(f"spec.{key}", "not supported by virtkube (decentralized live migration)",
                  "FieldValueNotSupported")
            for key in ("sendTo", "receive") if spec.get(key) is not None]


def migration_vmi_causes(vmim: Obj, vmi: Obj | None,
                         in_flight: list[str] | None = None) -> list[Cause]:
    """A migration (that passed migration_spec_causes) against the VMI it names."""
    causes: list[Cause] = []
    name = vmim["spec"]["vmiName"]
    if vmi is None:
        namespace = (vmim.get("metadata") or {}).get("namespace", "")
        causes.append(Cause("spec.vmiName", f'the VMI "{namespace}/{name}" does not exist',
                            "FieldValueNotFound"))
        return causes
    status = vmi.get("status") or {}
    if status.get("phase") in FINAL_PHASES:
        causes.append(Cause("spec.vmiName", "Cannot migrate VMI in finalized state."))
    for cond in status.get("conditions") or []:
        if cond.get("type") == "LiveMigratable" and cond.get("status") == "False":
            causes.append(Cause("spec.vmiName", f"Cannot migrate VMI, Reason: "
                                                f"{cond.get('reason', '')}, Message: "
                                                f"{cond.get('message', '')}"))
    if in_flight:
        causes.append(Cause("spec.vmiName", f"in-flight migration detected. Active migration "
                                            f"job ({in_flight[0]}) is currently already in "
                                            f"progress for VMI {name}.", "FieldValueDuplicate"))
    return causes


def validate_migration_update(old: Obj, new: Obj) -> list[Cause]:
    """migration-update-admitter: the spec of a migration is fixed once it exists."""
    causes = schema_causes(VirtualMachineInstanceMigration, new)
    if causes:
        return causes
    if (old.get("spec") or {}) != (new.get("spec") or {}):
        return [Cause("spec", "update of Migration object's spec is restricted",
                      "FieldValueForbidden")]
    return []
