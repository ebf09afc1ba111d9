"""A small checker for the CRD schemas: structural rules, and validation of objects.

It applies the subset of OpenAPI v3 our CRDs use, the way the API server does
with strict field validation (kubectl's default): an unknown field is an error
unless the node preserves unknown fields. It needs no jsonschema package, and
unlike plain JSON Schema it knows x-kubernetes-int-or-string and nullable.
"""

from __future__ import annotations

import re
from typing import Any

Schema = dict[str, Any]

TYPES = {"object", "array", "string", "integer", "number", "boolean"}
FORBIDDEN_KEYS = {"$ref", "$defs", "definitions", "$schema", "title", "const", "oneOf", "allOf"}
INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def structural_problems(node: Schema, path: str = "") -> list[str]:
    """Why `node` is not a structural schema (empty when it is)."""
    problems = [f"{path}: forbidden key {key}" for key in FORBIDDEN_KEYS & node.keys()]
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if int_or_string:
        if "type" in node:
            problems.append(f"{path}: int-or-string with a type")
        if node.get("anyOf", INT_OR_STRING_ANY_OF) != INT_OR_STRING_ANY_OF:
            problems.append(f"{path}: int-or-string anyOf must be [integer, string]")
    elif "anyOf" in node:
        problems.append(f"{path}: anyOf outside int-or-string")
    if "type" not in node and not (int_or_string or preserve):
        problems.append(f"{path}: no type")
    if "type" in node and node["type"] not in TYPES:
        problems.append(f"{path}: unknown type {node['type']!r}")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties together with additionalProperties")
    if isinstance(node.get("additionalProperties"), bool):
        problems.append(f"{path}: additionalProperties must be a schema")
    if node.get("type") == "array" and "items" not in node:
        problems.append(f"{path}: array without items")
    for name, child in node.get("properties", {}).items():
        problems += structural_problems(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}.*")
    if "items" in node:
        problems += structural_problems(node["items"], f"{path}[]")
    return problems


def validation_errors(value: Any, node: Schema, path: str = "") -> list[str]:
    """Why the API server would reject `value` under `node` (empty when it accepts it)."""
    if value is None:
        return [] if node.get("nullable") else [f"{path}: null is not allowed"]
    if node.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, str | int):
            return [f"{path}: must be an integer or a string"]
        return _pattern_errors(value, node, path)
    expected = node.get("type")
    if expected is not None and not _has_type(value, expected):
        return [f"{path}: must be of type {expected}, not {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{path}: {value!r} not in {node['enum']}")
    errors += _pattern_errors(value, node, path)
    if "minimum" in node and value < node["minimum"]:
        errors.append(f"{path}: below the minimum {node['minimum']}")
    if "maximum" in node and value > node["maximum"]:
        errors.append(f"{path}: above the maximum {node['maximum']}")
    if isinstance(value, dict):
        errors += _object_errors(value, node, path)
    if isinstance(value, list):
        if "maxItems" in node and len(value) > node["maxItems"]:
            errors.append(f"{path}: more than {node['maxItems']} items")
        for index, item in enumerate(value):
            errors += validation_errors(item, node.get("items", {}), f"{path}[{index}]")
    return errors


def _pattern_errors(value: Any, node: Schema, path: str) -> list[str]:
    if "pattern" in node and isinstance(value, str) and not re.search(node["pattern"], value):
        return [f"{path}: {value!r} does not match {node['pattern']}"]
    return []


def _object_errors(value: dict[str, Any], node: Schema, path: str) -> list[str]:
    errors = [f"{path}.{name}: required" for name in node.get("required", []) if name not in value]
    properties = node.get("properties", {})
    for name, item in value.items():
        child_path = f"{path}.{name}" if path else name
        if child_path == "metadata":
            continue  # the API server validates an object's own metadata itself
        if name in properties:
            errors += validation_errors(item, properties[name], child_path)
        elif "additionalProperties" in node:
            errors += validation_errors(item, node["additionalProperties"], child_path)
        elif not node.get("x-kubernetes-preserve-unknown-fields"):
            errors.append(f"{child_path}: unknown field")
    return errors


def _has_type(value: Any, expected: str) -> bool:
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    python = {"object": dict, "array": list, "string": str, "boolean": bool}[expected]
    return isinstance(value, python)
