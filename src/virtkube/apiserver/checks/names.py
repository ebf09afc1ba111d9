"""Shared helpers of the rule modules: name formats and duplicate detection."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from virtkube.apiserver.causes import Cause

Obj = dict[str, Any]

#: k8s.io/apimachinery IsDNS1123Label: what KubeVirt requires of network and volume names.
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL_MAX = 63


def dns_label_causes(value: str, field: str) -> list[Cause]:
    if len(value) > DNS1123_LABEL_MAX:
        return [Cause(field, f"must be no more than {DNS1123_LABEL_MAX} characters")]
    if not DNS1123_LABEL.match(value):
        return [Cause(field, f"{value!r} must be a DNS-1123 label: lower case alphanumeric "
                             "characters or '-', starting and ending with an alphanumeric")]
    return []


def items(spec: Obj, *keys: str) -> list[Obj]:
    """spec[k1][k2]... as a list of dicts ([] when absent)."""
    node: Any = spec
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return [x for x in node if isinstance(x, dict)] if isinstance(node, list) else []


def duplicates(names: Iterable[tuple[int, str]], path: str, what: str) -> Iterator[Cause]:
    """A FieldValueDuplicate cause for every name seen before (KubeVirt's wording)."""
    first: dict[str, int] = {}
    for index, name in names:
        if name in first:
            yield Cause(f"{path}[{index}].name",
                        f"{what} name {name!r} is already used by {path}[{first[name]}]",
                        "FieldValueDuplicate")
        else:
            first[name] = index
