"""The launcher's refusal of a VMI field it does not run (the list is virtkube.api.supported).

Admission rejects such VMIs already; the launcher checks again because it is
handed a spec by virt-handler and must never start a guest without a field the
user asked for.
"""

from __future__ import annotations

from virtkube.api.supported import unsupported_fields
from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.errors import UnsupportedFieldError


def check_supported(vmi: VirtualMachineInstance) -> None:
    """Raise UnsupportedFieldError for the first spec field virtkube does not run."""
    spec = vmi.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    for field in unsupported_fields(spec):
        raise UnsupportedFieldError(field.path, field.detail)
