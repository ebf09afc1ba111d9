"""virtkube.pki: the one certificate issuer, below every process.

The local cluster's Kubernetes certificates, virt-api's and virt-handler's
leaves from the kubevirt CA, and the local nodes' kubelet
identities were issued by four copies of the same builder code that drifted in
small ways. Keeping a single issuer here means a key type, extension or
validity is decided once. It imports no other virtkube package, so any
process may import it without importing another (the import-linter contracts
in pyproject.toml check both).
"""
