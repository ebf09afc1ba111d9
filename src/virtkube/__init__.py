"""virtkube: virtual machines on Kubernetes, API-compatible with KubeVirt."""

__version__ = "0.1.0"
