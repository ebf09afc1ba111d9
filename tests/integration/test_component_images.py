"""The virt-api, virt-controller and virt-handler images (images/components.py) run on the
local cluster's nodes, pulled from the local registry that `virtkube up` seeded (issue 13)."""

from __future__ import annotations

import json

import pytest
from images import components, launcher

from tests.integration.helpers import wait_for
from tests.integration.node_helpers import apply, get, namespace, phase, pod
from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.integration


def test_each_component_image_runs_its_component(cluster: LocalCluster) -> None:
    """One pod per image with `--help`: the entrypoint is the component's module, run by the
    image's venv, and the node ran the digest the build recorded."""
    built = launcher.launcher_dir()
    if not (built / "manifest.json").exists():
        pytest.fail(f"{built} is missing: run `make launcher-image`")
    ns = namespace(cluster, "component-images")
    for c in components.COMPONENTS:
        manifest = pod(c.name, [], image=c.ref)
        manifest["metadata"]["namespace"] = ns
        container = manifest["spec"]["containers"][0]
        del container["command"]
        container["args"] = ["--help"]
        apply(cluster, manifest)

    def finished(name: str) -> str | None:
        now = phase(cluster, ns, name)
        return now if now in ("Succeeded", "Failed") else None

    for c in components.COMPONENTS:
        # The first pod on a node pulls the shared layer (~110 MiB); the others reuse it.
        result = wait_for(f"{c.name} to finish", lambda c=c: finished(c.name), 240)
        log = cluster.kubectl("logs", "-n", ns, c.name).stdout
        assert result == "Succeeded", log
        assert f"usage: {c.name}" in log, log
        status = (get(cluster, "pod", "-n", ns, c.name) or {})["status"]["containerStatuses"][0]
        want = json.loads((built / c.manifest).read_text())["manifestDigest"]
        assert status["imageID"].endswith("@" + want), (status["imageID"], want)
