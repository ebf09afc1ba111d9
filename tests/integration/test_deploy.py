"""deploy/ against the real API server: the kustomization applies, and the RBAC grants each
component what its code calls, and the handler no Secrets cluster-wide (issue 13).

The session's cluster already has the CRDs (`virtkube up` installs them), so only the
namespace and the RBAC are applied for real, under a field manager of this test's own;
at the end the test deletes what it created and gives up the fields it took on objects
that were there before it (the `kubevirt` namespace, which other tests use).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.helpers import wait_for
from tests.integration.node_helpers import namespace
from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.integration

Obj = dict[str, Any]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
FIELD_MANAGER = "virtkube-test-deploy"
NAMESPACE = "kubevirt"
API, CONTROLLER, HANDLER = (f"system:serviceaccount:{NAMESPACE}:kubevirt-{c}"
                            for c in ("apiserver", "controller", "handler"))
SA_GROUPS = ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}",
             "system:authenticated"]
#: Namespaces for the user-role checks: users are bound in USERS_NS only.
USERS_NS, OTHER_NS = "deploy-users", "deploy-others"


def built(cluster: LocalCluster) -> list[Obj]:
    """What `kubectl apply -k deploy/` would send."""
    out = cluster.kubectl("kustomize", str(DEPLOY)).stdout
    return [d for d in yaml.safe_load_all(out) if d is not None]


def ref(doc: Obj) -> str:
    meta = doc["metadata"]
    where = f" -n {meta['namespace']}" if meta.get("namespace") else ""
    return f"{doc['kind']}/{meta['name']}{where}"


def existing(cluster: LocalCluster, docs: list[Obj]) -> set[str]:
    """The refs of those `docs` that the cluster has now."""
    found = set()
    for doc in docs:
        meta = doc["metadata"]
        args = ["get", doc["kind"], meta["name"], "-o", "name", "--ignore-not-found"]
        if meta.get("namespace"):
            args += ["-n", meta["namespace"]]
        if cluster.kubectl(*args).stdout.strip():
            found.add(ref(doc))
    return found


def apply(cluster: LocalCluster, docs: list[Obj]) -> None:
    cluster.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-",
                    input=yaml.safe_dump_all(docs))


def allowed(user: str, verb: str, resource: str, *, group: str = "", namespace: str = "",
            name: str = "", subresource: str = "", groups: list[str] | None = None,
            cluster: LocalCluster) -> bool:
    """The API server's own answer (a SubjectAccessReview) for one request of `user`."""
    attrs = {k: v for k, v in {"verb": verb, "group": group, "resource": resource,
                               "namespace": namespace, "name": name,
                               "subresource": subresource}.items() if v}
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": user, "groups": groups if groups is not None else SA_GROUPS,
                       "resourceAttributes": attrs}}
    out = cluster.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(review)).stdout
    return bool(json.loads(out)["status"].get("allowed"))


@pytest.fixture(scope="module")
def installed(cluster: LocalCluster) -> Iterator[list[Obj]]:
    """The namespace and RBAC of deploy/ applied; undone at the end."""
    docs = [d for d in built(cluster) if d["kind"] != "CustomResourceDefinition"]
    before = existing(cluster, docs)
    apply(cluster, docs)
    try:
        yield docs
    finally:
        created = [d for d in docs if ref(d) not in before]
        if created:
            cluster.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-",
                            input=yaml.safe_dump_all(created))
        # Give up this test's fields on what was there before (its labels on the
        # namespace): an apply with nothing but the names keeps only those.
        kept = [{"apiVersion": d["apiVersion"], "kind": d["kind"],
                 "metadata": {k: v for k, v in d["metadata"].items()
                              if k in ("name", "namespace")}}
                for d in docs if ref(d) in before]
        if kept:
            apply(cluster, kept)


def test_the_whole_kustomization_passes_a_server_dry_run(cluster: LocalCluster) -> None:
    res = cluster.kubectl("apply", "--dry-run=server", "--server-side", "-k", str(DEPLOY),
                          check=False)
    assert res.returncode == 0, res.stderr
    kinds = {line.split("/")[0] for line in res.stdout.split()
             if "/" in line and "." in line.split("/")[0]}
    assert "customresourcedefinition.apiextensions.k8s.io" in kinds, res.stdout
    assert "clusterrole.rbac.authorization.k8s.io" in kinds, res.stdout


def test_the_handler_has_no_cluster_wide_secrets(cluster: LocalCluster,
                                                 installed: list[Obj]) -> None:
    assert any(ref(d) == "ClusterRole/kubevirt-handler" for d in installed)
    listing = cluster.kubectl("auth", "can-i", "--list", f"--as={HANDLER}", "-n", "default")
    rows = [line.split()[0] for line in listing.stdout.splitlines()[1:] if line.strip()]
    assert "virtualmachineinstances.kubevirt.io" in rows, listing.stdout  # bound at all
    assert not [r for r in rows if r.split(".")[0].split("/")[0] in ("secrets", "*")], (
        listing.stdout)
    can = cluster.kubectl("auth", "can-i", "get", "secrets", "--all-namespaces",
                          f"--as={HANDLER}", check=False)
    assert (can.returncode, can.stdout.strip()) == (1, "no"), can
    # Its one Secret: the kubevirt CA, by name, in its own namespace.
    in_own = cluster.kubectl("auth", "can-i", "--list", f"--as={HANDLER}", "-n", NAMESPACE)
    secrets = [line.split() for line in in_own.stdout.splitlines() if line.startswith("secrets")]
    assert secrets == [["secrets", "[]", "[kubevirt-ca]", "[get]"]], in_own.stdout


#: (user, verb, resource, attributes, expected): what each component's code needs, and a
#: neighbour of it that it must not get.
COMPONENT_CASES: list[tuple[str, str, str, dict[str, str], bool]] = [
    (HANDLER, "update", "virtualmachineinstances", {"group": "kubevirt.io"}, True),
    (HANDLER, "patch", "nodes", {"name": "node-1"}, True),
    (HANDLER, "get", "secrets", {"namespace": NAMESPACE, "name": "kubevirt-ca"}, True),
    (HANDLER, "get", "secrets", {"namespace": NAMESPACE, "name": "another"}, False),
    (HANDLER, "list", "secrets", {"namespace": NAMESPACE}, False),
    (HANDLER, "delete", "virtualmachineinstances", {"group": "kubevirt.io"}, False),
    (HANDLER, "get", "pods", {"namespace": "default"}, False),
    (CONTROLLER, "create", "pods", {"namespace": "default"}, True),
    (CONTROLLER, "update", "virtualmachines", {"group": "kubevirt.io", "subresource": "status",
                                               "namespace": "default"}, True),
    (CONTROLLER, "update", "leases", {"group": "coordination.k8s.io", "namespace": NAMESPACE,
                                      "name": "virt-controller"}, True),
    (CONTROLLER, "update", "leases", {"group": "coordination.k8s.io", "namespace": NAMESPACE,
                                      "name": "another"}, False),
    (CONTROLLER, "get", "secrets", {"namespace": "default"}, False),
    (API, "get", "configmaps", {"namespace": "kube-system",
                                "name": "extension-apiserver-authentication"}, True),
    (API, "get", "configmaps", {"namespace": "kube-system", "name": "another"}, False),
    (API, "patch", "apiservices", {"group": "apiregistration.k8s.io",
                                   "name": "v1.subresources.kubevirt.io"}, True),
    (API, "create", "apiservices", {"group": "apiregistration.k8s.io",
                                    "name": "v1.subresources.kubevirt.io"}, True),
    (API, "patch", "apiservices", {"group": "apiregistration.k8s.io",
                                   "name": "v1.another.io"}, False),
    (API, "patch", "virtualmachines", {"group": "kubevirt.io", "subresource": "status",
                                       "namespace": "default"}, True),
    (API, "create", "secrets", {"namespace": NAMESPACE}, True),
    (API, "get", "secrets", {"namespace": "default", "name": "kubevirt-ca"}, False),
]


@pytest.mark.parametrize(("user", "verb", "resource", "attrs", "expected"), COMPONENT_CASES,
                         ids=[f"{c[0].rsplit(':', 1)[1]}-{c[1]}-{c[2]}-{'yes' if c[4] else 'no'}"
                              f"-{i}" for i, c in enumerate(COMPONENT_CASES)])
def test_components_get_what_their_code_calls_and_no_more(
        cluster: LocalCluster, installed: list[Obj], user: str, verb: str, resource: str,
        attrs: dict[str, str], expected: bool) -> None:
    assert allowed(user, verb, resource, cluster=cluster, **attrs) is expected


@pytest.fixture(scope="module")
def users(cluster: LocalCluster, installed: list[Obj]) -> Iterator[None]:
    """alice: kubevirt.io:edit in USERS_NS; bob: Kubernetes' edit there; carol: view there."""
    namespace(cluster, USERS_NS)
    namespace(cluster, OTHER_NS)
    bindings = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": {"name": user, "namespace": USERS_NS},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                             "name": role},
                 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                               "name": user}]}
                for user, role in (("alice", "kubevirt.io:edit"), ("bob", "edit"),
                                   ("carol", "view"))]
    apply(cluster, bindings)
    try:
        yield
    finally:
        cluster.kubectl("delete", "namespace", USERS_NS, OTHER_NS, "--wait=false")


def user_can(cluster: LocalCluster, user: str, verb: str, resource: str, namespace: str,
             subresource: str = "", group: str = "subresources.kubevirt.io") -> bool:
    return allowed(user, verb, resource, group=group, namespace=namespace, name="vm",
                   subresource=subresource, groups=["system:authenticated"], cluster=cluster)


def test_kubevirt_edit_works_in_its_namespace_only(cluster: LocalCluster, users: None) -> None:
    for ns, expected in ((USERS_NS, True), (OTHER_NS, False)):
        assert user_can(cluster, "alice", "update", "virtualmachines", ns, "start") is expected
        assert user_can(cluster, "alice", "get", "virtualmachineinstances", ns,
                        "console") is expected
        assert user_can(cluster, "alice", "create", "virtualmachines", ns,
                        group="kubevirt.io") is expected
    assert not user_can(cluster, "alice", "deletecollection", "virtualmachines", USERS_NS,
                        group="kubevirt.io")


def test_kubernetes_edit_and_view_aggregate_kubevirts_roles(cluster: LocalCluster,
                                                           users: None) -> None:
    # The aggregation controller folds the labelled roles into edit and view shortly after
    # they are created: wait for it, then ask.
    wait_for("kubevirt.io:edit aggregated into edit", lambda: user_can(
        cluster, "bob", "update", "virtualmachines", USERS_NS, "stop"), 30)
    wait_for("kubevirt.io:view aggregated into view", lambda: user_can(
        cluster, "carol", "list", "virtualmachines", USERS_NS, group="kubevirt.io"), 30)
    assert user_can(cluster, "bob", "get", "virtualmachineinstances", USERS_NS, "vnc")
    assert not user_can(cluster, "bob", "update", "virtualmachines", OTHER_NS, "stop")
    assert not user_can(cluster, "carol", "get", "virtualmachineinstances", USERS_NS, "console")
    assert not user_can(cluster, "carol", "update", "virtualmachines", USERS_NS, "start")


def test_every_user_may_ask_the_version(cluster: LocalCluster, installed: list[Obj]) -> None:
    assert allowed("dave", "get", "version", group="subresources.kubevirt.io",
                   groups=["system:authenticated"], cluster=cluster)
