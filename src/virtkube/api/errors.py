"""Validation errors as field paths, the way the API server and KubeVirt word them.

Admission answers "spec.domain.devices.disks[0].foo: unknown field", not a
pydantic traceback; this turns a pydantic ValidationError into such lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its JSON path and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSON field path: ("spec", "disks", 0) -> spec.disks[0]."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def field_errors(error: ValidationError) -> list[FieldError]:
    """Every problem in `error`, with its field path (camelCase, as in the manifest)."""
    found = []
    for detail in error.errors():
        if detail["type"] == "extra_forbidden":
            message = "unknown field (not supported by virtkube)"
        else:
            message = detail["msg"]
        found.append(FieldError(path=field_path(detail["loc"]), message=message))
    return found
