"""Shared helpers of the rule modules: name, path and image formats; duplicate detection.

A user-given string that some process later turns into a path (a volume or disk
name, a file inside an image, an image reference) is checked here against the
grammar KubeVirt and containerd hold it to, so that it cannot mean `..`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from typing import Any

from virtkube.api import imageref
from virtkube.api.names import DNS1123_LABEL, DNS1123_LABEL_MAX
from virtkube.apiserver.causes import Cause

Obj = dict[str, Any]


def dns_label_causes(value: str, field: str) -> list[Cause]:
    if len(value) > DNS1123_LABEL_MAX:
        return [Cause(field, f"must be no more than {DNS1123_LABEL_MAX} characters")]
    if not DNS1123_LABEL.match(value):
        return [Cause(field, f"{value!r} must be a DNS-1123 label: lower case alphanumeric "
                             "characters or '-', starting and ending with an alphanumeric")]
    return []


def image_causes(value: object, field: str) -> list[Cause]:
    """An image reference by the OCI distribution grammar (what containerd would pull)."""
    text = str(value or "").strip()
    if not text:
        return [Cause(field, "must not be empty", "FieldValueRequired")]
    why = imageref.problem(str(value))
    return [Cause(field, f"{value!r} is not a valid image reference: {why}")] if why else []


def path_causes(value: str, field: str) -> list[Cause]:
    """KubeVirt's ValidatePath: an absolute path to a file, not /, without `.`/`..`/`//`."""
    if value == "/":
        return [Cause(field, f"{field} must not point to root")]
    cleaned = "/" + posixpath.normpath("/" + value).lstrip("/")  # Go's filepath.Join("/", p)
    if cleaned != value.removesuffix("/"):
        return [Cause(field, f"{field} must be an absolute path to a file without relative "
                             "components")]
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
