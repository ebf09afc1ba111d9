"""virtkube.hlcom: what virt-handler and virt-launcher share, below both.

KubeVirt's pkg/handler-launcher-com: the command protocol between the two
processes (its messages, version and the sockets in a launcher's run dir) and
the names both sides derive (TAP devices). It imports only virtkube.api, so a
process package may import it without importing another process (the
import-linter contracts in pyproject.toml check both).
"""
