"""The one Kubernetes client layer every virtkube process uses.

Payloads are plain JSON dicts: the kubevirt.io kinds are custom resources the
generated client models do not cover, and controllers mostly move fields
around. Typed views come from `virtkube.api` where a process needs them.
"""
