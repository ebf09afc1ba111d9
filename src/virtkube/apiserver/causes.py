"""Admission verdicts as Kubernetes StatusCauses, the way KubeVirt's admitters phrase them.

KubeVirt rejects with `metav1.Status{Reason: Invalid, Code: 422, Details.Causes}`
where each cause names one field (`spec.domain.devices.disks[0].name`) and the
status message joins every cause. The API server prefixes that message with
the webhook's name, so a user sees every bad field in one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from virtkube.api import field_errors

#: metav1.CauseType values KubeVirt uses in its admitters.
Reason = Literal[
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueDuplicate",
    "FieldValueNotFound",
    "FieldValueNotSupported",
    "FieldValueForbidden",
]

#: The phrase design.md asks for: a field virtkube knows but does not run.
NOT_SUPPORTED = "not supported by virtkube"


@dataclass(frozen=True)
class Cause:
    """One rejected field: its JSON path, what is wrong, and the StatusCause type."""

    field: str
    message: str
    reason: Reason = "FieldValueInvalid"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, str]:
        """A metav1.StatusCause (clients such as kubectl print `field: message` from it)."""
        return {"type": self.reason, "field": self.field, "message": self.message}


def unsupported(field: str, detail: str = "") -> Cause:
    suffix = f" ({detail})" if detail else ""
    return Cause(field, NOT_SUPPORTED + suffix, "FieldValueNotSupported")


def from_validation_error(error: ValidationError, prefix: str = "") -> list[Cause]:
    """pydantic's errors as causes; `prefix` roots them (a VM template's "spec.template")."""
    causes = []
    for fe in field_errors(error):
        path = f"{prefix}.{fe.path}" if prefix and fe.path else (prefix or fe.path)
        reason: Reason = "FieldValueInvalid"
        if fe.message.startswith("unknown field"):
            reason = "FieldValueNotSupported"
        elif fe.message == "Field required":
            reason = "FieldValueRequired"
        causes.append(Cause(path, fe.message, reason))
    return causes


def rebase(causes: Iterable[Cause], old: str, new: str) -> list[Cause]:
    """Move causes from a VMI's `spec...` paths to a VM template's `spec.template.spec...`."""
    out = []
    for c in causes:
        field = new + c.field[len(old):] if c.field.startswith(old) else c.field
        out.append(Cause(field, c.message, c.reason))
    return out


def status(causes: list[Cause]) -> dict[str, Any]:
    """The metav1.Status of a rejection: 422 Invalid, every cause in the message."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": ", ".join(str(c) for c in causes),
        "reason": "Invalid",
        "code": 422,
        "details": {"causes": [c.to_dict() for c in causes]},
    }
