"""KubeVirt's validation rules, one module per concern, each `check(spec, path) -> causes`.

Every function takes a VMI spec that already parsed as the pydantic model (so
types and enum values are right) as a plain dict, and the JSON path it sits
at ("spec" for a VMI, "spec.template.spec" for a VM), and returns the
causes it finds. None does I/O.
"""
