"""Kubernetes types that KubeVirt embeds: object metadata and loose core/v1 objects.

These are not KubeVirt's to validate. The API server already checks object
metadata, and core/v1 types such as Affinity or Toleration are large and change
with each Kubernetes release, so they are modelled loosely: the fields virtkube
reads are typed, everything else is kept as given and round-trips unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import GetJsonSchemaHandler, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from virtkube.api.base import OpenModel

#: A core/v1 object kept as raw JSON (affinity, tolerations, probes' handlers, ...).
#: The CRD lets the API server keep it whole instead of pruning it.
K8sObject = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]

#: A metav1.Time: RFC 3339 in UTC, kept as the string the API server sent.
#: KubeVirt marks these nullable because Go writes a zero time as null.
Timestamp = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "nullable": True})
]


def timestamp(moment: datetime | None = None) -> str:
    """A metav1.Time string for `moment` (default: now), second precision like Go's."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class OwnerReference(OpenModel):
    """metav1.OwnerReference: the object that owns this one (garbage collection)."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(OpenModel):
    """metav1.ObjectMeta, typed where virtkube reads it.

    In a CRD schema it is an opaque object: the API server validates metadata
    itself, and a template's metadata is kept whole.
    """

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: Timestamp | None = None
    deletion_timestamp: Timestamp | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[K8sObject] | None = None

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
