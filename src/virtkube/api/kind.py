"""The base of the top-level kinds: type meta, object meta, and API coordinates.

Each kind carries its coordinates (group, version, plural, short names, printer
columns, status subresource) as class constants, so that CRD generation and
the client layer read them from one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from virtkube.api.base import KubeVirtModel
from virtkube.api.meta import ObjectMeta


@dataclass(frozen=True)
class PrinterColumn:
    """One `kubectl get` column of a CRD (additionalPrinterColumns)."""

    name: str
    json_path: str
    type: str = "string"
    priority: int = 0
    description: str | None = None


def condition_column(name: str, condition_type: str, *, priority: int = 0) -> PrinterColumn:
    """A column showing the status of one condition, KubeVirt's way."""
    return PrinterColumn(
        name=name,
        json_path=f".status.conditions[?(@.type=='{condition_type}')].status",
        priority=priority,
    )


AGE_COLUMN = PrinterColumn(name="Age", json_path=".metadata.creationTimestamp", type="date")


class KubeVirtObject(KubeVirtModel):
    """A top-level kubevirt.io/v1 object: type meta, object meta, then spec/status."""

    GROUP: ClassVar[str] = "kubevirt.io"
    VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str]
    PLURAL: ClassVar[str]
    SINGULAR: ClassVar[str]
    SHORT_NAMES: ClassVar[tuple[str, ...]]
    CATEGORIES: ClassVar[tuple[str, ...]] = ("all",)
    #: Whether status is written through a `/status` subresource (VMI: no).
    STATUS_SUBRESOURCE: ClassVar[bool]
    PRINTER_COLUMNS: ClassVar[tuple[PrinterColumn, ...]] = ()

    api_version: str
    """APIVersion defines the versioned schema of this representation of an object."""
    kind: str
    """Kind is a string value representing the REST resource this object represents."""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @classmethod
    def group_version(cls) -> str:
        """The apiVersion string of this kind ("kubevirt.io/v1")."""
        return f"{cls.GROUP}/{cls.VERSION}"

    @model_validator(mode="before")
    @classmethod
    def _default_type_meta(cls, data: Any) -> Any:
        """Let code build objects without spelling apiVersion and kind."""
        if isinstance(data, dict):
            data = dict(data)
            if "apiVersion" not in data and "api_version" not in data:
                data["apiVersion"] = cls.group_version()
            data.setdefault("kind", cls.KIND)
        return data

    @field_validator("api_version")
    @classmethod
    def _check_api_version(cls, value: str) -> str:
        if value != cls.group_version():
            raise ValueError(f"must be {cls.group_version()!r}")
        return value

    @field_validator("kind")
    @classmethod
    def _check_kind(cls, value: str) -> str:
        if value != cls.KIND:
            raise ValueError(f"must be {cls.KIND!r}")
        return value
