"""Installs virtkube's CustomResourceDefinitions into the local cluster.

The CRDs are generated from the API models (virtkube.api.crdgen); `up`
applies them server-side with the bundled kubectl and waits until the API
server has established every one, so that the first `kubectl get vm` after
`up` works.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml


def crd_names() -> list[str]:
    from virtkube.api.crdgen import all_crds

    return [str(crd["metadata"]["name"]) for crd in all_crds()]


def install(kubectl: list[str], timeout: float = 60.0) -> None:
    from virtkube.api.crdgen import all_crds

    # KubeVirt's components live in (and keep their Leases in) namespace kubevirt.
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubevirt"}}
    manifest = yaml.safe_dump_all([namespace, *all_crds()], sort_keys=False)
    subprocess.run(
        [*kubectl, "apply", "--server-side", "--force-conflicts",
         "--field-manager=virtkube", "-f", "-"],
        input=manifest.encode(), check=True, stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", f"--timeout={int(timeout)}s",
         *(f"crd/{n}" for n in crd_names())],
        check=True, stdout=subprocess.DEVNULL,
    )


def kubectl_argv(binary: Path, kubeconfig: Path) -> list[str]:
    return [str(binary), "kubectl", f"--kubeconfig={kubeconfig}"]
