"""The local-path provisioner: a PVC gets a PV on the consumer's node; data outlives pods;
reclaim policy Delete removes the data when the PVC goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.helpers import wait_for
from tests.integration.node_helpers import apply, get, namespace, phase, pod
from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.integration


def test_default_storageclass_is_local_path(cluster: LocalCluster) -> None:
    sc = get(cluster, "storageclass", "local-path")
    assert sc is not None
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"


def test_pvc_data_outlives_the_pod_and_goes_with_the_claim(cluster: LocalCluster) -> None:
    ns = namespace(cluster, "local-path")
    apply(cluster, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data", "namespace": ns},
                    "spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "64Mi"}}}})
    volume = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}
    mount = [{"name": "data", "mountPath": "/data"}]

    def run(name: str, script: str) -> str:
        manifest = pod(name, ["sh", "-c", script], **volume)
        manifest["metadata"]["namespace"] = ns
        manifest["spec"]["containers"][0]["volumeMounts"] = mount
        apply(cluster, manifest)
        result = wait_for(f"{name} to finish", lambda: phase(cluster, ns, name)
                          in ("Succeeded", "Failed") and phase(cluster, ns, name), 90)
        out = cluster.kubectl("logs", "-n", ns, name).stdout
        assert result == "Succeeded", out
        cluster.kubectl("delete", "pod", "-n", ns, name, "--wait=true", "--timeout=30s")
        return out

    run("writer", "echo hello-from-writer > /data/greeting && echo wrote")
    pvc = get(cluster, "pvc", "-n", ns, "data")
    assert pvc is not None and pvc["status"]["phase"] == "Bound"
    pv = get(cluster, "pv", pvc["spec"]["volumeName"])
    assert pv is not None
    path = Path(pv["spec"]["hostPath"]["path"])
    assert path.is_relative_to(cluster.home.root)
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert "hello-from-writer" in run("reader", "cat /data/greeting")

    cluster.kubectl("delete", "pvc", "-n", ns, "data", "--wait=true", "--timeout=30s")
    wait_for("the PV deleted", lambda: get(cluster, "pv", pv["metadata"]["name"]) is None, 30)
    assert not path.exists()
