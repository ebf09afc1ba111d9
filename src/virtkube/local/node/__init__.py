"""The local node: runs the pods bound to it as host processes in their own namespaces.

Kept import-free so that the per-container shim (`python -m virtkube.local.node.shim`)
starts in milliseconds.
"""
