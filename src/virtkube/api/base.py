"""The two kinds of model every kubevirt.io type is built from.

Spec types use `extra="forbid"`: a KubeVirt manifest is either understood in
full or rejected with the path of the field virtkube does not support, never
silently trimmed (design.md section 3). Status types and the Kubernetes types
KubeVirt embeds (object metadata) use `extra="allow"`: KubeVirt's status is
large, controllers written against it may set fields not modelled here yet, and
those must survive a read-modify-write.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class KubeVirtModel(BaseModel):
    """A kubevirt.io spec type: KubeVirt's JSON names, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object KubeVirt would serialise: camelCase, unset fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OpenModel(KubeVirtModel):
    """A status or embedded Kubernetes type: typed where virtkube reads it, the rest kept."""

    model_config = ConfigDict(extra="allow")


class Empty(KubeVirtModel):
    """A switch whose presence is the setting (`rng: {}`, `masquerade: {}`)."""
