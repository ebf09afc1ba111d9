"""Pydantic JSON Schema -> a Kubernetes structural OpenAPI v3 schema.

The API server accepts a CRD schema only if it is structural: every node has a
`type` (or is int-or-string / preserve-unknown-fields), no `$ref`, no
`additionalProperties` beside `properties`, and logical junctors (anyOf, ...)
only in the int-or-string form. Pydantic's output is none of these, so this
module rewrites it: refs inlined, `X | None` unwrapped, `extra="allow"` turned
into `x-kubernetes-preserve-unknown-fields`, titles and defaults dropped
(defaulting is virt-api's job, not the schema's).
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]

_DROPPED = frozenset({"title", "default", "examples"})
_INT_OR_STRING = "x-kubernetes-int-or-string"
_PRESERVE = "x-kubernetes-preserve-unknown-fields"


class SchemaError(ValueError):
    """The model produced a schema that cannot be made structural."""


def model_schema(model: type[BaseModel]) -> Schema:
    """The structural schema of `model`, as used under a CRD's openAPIV3Schema."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _convert(raw, defs, path=model.__name__)


def _resolve(node: Schema, defs: dict[str, Schema], path: str) -> Schema:
    """`node` with a `$ref` replaced by its target; sibling keys (description) win."""
    ref = node.get("$ref")
    if ref is None:
        return node
    name = ref.rsplit("/", 1)[-1]
    if name not in defs:
        raise SchemaError(f"{path}: unresolved $ref {ref}")
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    return {**defs[name], **siblings}


def _unwrap_optional(node: Schema) -> Schema:
    """`anyOf: [X, {type: null}]` (pydantic's `X | None`) -> X with the outer keys."""
    branches = node.get("anyOf")
    if branches is None or _INT_OR_STRING in node:
        return node
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) != 1:
        return node
    outer = {key: value for key, value in node.items() if key != "anyOf"}
    return {**kept[0], **outer}


def _convert(node: Schema, defs: dict[str, Schema], path: str) -> Schema:
    node = _unwrap_optional(_resolve(node, defs, path))
    node = _resolve(node, defs, path)  # the unwrapped branch may itself be a $ref
    out: Schema = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "const":
            out["enum"] = [copy.deepcopy(value)]
        elif key == "properties":
            if value:
                out["properties"] = {
                    name: _convert(child, defs, f"{path}.{name}") for name, child in value.items()
                }
        elif key == "additionalProperties":
            if value is True:
                out[_PRESERVE] = True
            elif isinstance(value, dict):
                out["additionalProperties"] = _convert(value, defs, f"{path}.*")
            # False: forbidding extras is pydantic's job; structural schemas prune instead.
        elif key == "items":
            out["items"] = _convert(value, defs, f"{path}[]")
        elif key in ("anyOf", "oneOf", "allOf", "not") and _INT_OR_STRING not in node:
            raise SchemaError(f"{path}: {key} is not allowed in a structural schema")
        else:
            out[key] = copy.deepcopy(value)
    if "enum" in out and "type" not in out:
        out["type"] = _enum_type(out["enum"], path)
    if "type" not in out and not out.get(_INT_OR_STRING) and not out.get(_PRESERVE):
        raise SchemaError(f"{path}: schema node has no type: {node}")
    if out.get("type") == "object" and "properties" in out and "additionalProperties" in out:
        raise SchemaError(f"{path}: properties and additionalProperties together")
    return _ordered(out)


def _ordered(node: Schema) -> Schema:
    """Description and type first, as Kubernetes' own CRDs read."""
    head: Schema = {key: node[key] for key in ("description", "type") if key in node}
    return {**head, **{key: value for key, value in node.items() if key not in head}}


def _enum_type(values: list[Any], path: str) -> str:
    kinds = {type(value) for value in values}
    if kinds == {str}:
        return "string"
    if kinds == {int}:
        return "integer"
    raise SchemaError(f"{path}: enum of mixed or unsupported types {values!r}")
