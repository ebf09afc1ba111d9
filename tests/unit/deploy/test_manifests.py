"""deploy/: the kustomization, every file it lists, and what its RBAC grants (pure YAML).

Each check is a function returning the problems it finds, so that besides running it on
the committed manifests, a test can feed it a broken copy and see it complain: a check
that cannot fail proves nothing.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from virtkube.apiserver import discovery, registration
from virtkube.controller.options import LEASE_NAME
from virtkube.kube import resources
from virtkube.pki.kubevirt import CA_SECRET

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"

Obj = dict[str, Any]

NAMESPACE = "kubevirt"
#: KubeVirt's ServiceAccount (and ClusterRole) name for each component.
COMPONENTS = {"virt-api": "kubevirt-apiserver", "virt-controller": "kubevirt-controller",
              "virt-handler": "kubevirt-handler"}
HANDLER = COMPONENTS["virt-handler"]
AGGREGATED = {"kubevirt.io:view": "view", "kubevirt.io:edit": "edit",
              "kubevirt.io:admin": "admin"}
SUBRESOURCE_GROUP = "subresources.kubevirt.io"

#: Kubernetes' own kinds that the components use and virtkube.kube.resources does not
#: declare (virt-api's registration declares them next to the code that applies them).
BUILTIN: frozenset[tuple[str, str]] = frozenset({
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("apiregistration.k8s.io", "apiservices"),
    ("discovery.k8s.io", "endpointslices"),
})
#: The subresources a component's rule may name after "<resource>/".
COMPONENT_SUBRESOURCES = frozenset({"status", "finalizers"})
#: Roles that Kubernetes bootstraps itself, which bindings here may refer to.
BOOTSTRAP_ROLES: frozenset[tuple[str, str, str]] = frozenset({
    ("Role", "kube-system", "extension-apiserver-authentication-reader"),
})
#: Groups a binding here may name.
GROUPS = frozenset({"system:authenticated"})


# --- loading -------------------------------------------------------------------------------
def kustomization() -> Obj:
    doc: Obj = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return doc


def listed_files() -> list[Path]:
    return [DEPLOY / entry for entry in kustomization().get("resources") or []]


def load_documents(paths: Iterable[Path]) -> list[Obj]:
    """Every YAML document of the files (the CRD files open with an empty one)."""
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text())
            if doc is not None]


@pytest.fixture(scope="module")
def docs() -> list[Obj]:
    return load_documents(listed_files())


def key(doc: Obj) -> tuple[str, str, str]:
    meta = doc.get("metadata") or {}
    return (str(doc.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def find(docs: list[Obj], kind: str, name: str, namespace: str = "") -> Obj:
    found = [d for d in docs if key(d) == (kind, namespace, name)]
    assert len(found) == 1, f"{kind} {namespace}/{name}: {len(found)} found"
    return found[0]


def cluster_roles_of(docs: list[Obj], account: str) -> list[Obj]:
    """The ClusterRoles a ClusterRoleBinding grants to kubevirt/<account> cluster-wide."""
    names = {b["roleRef"]["name"] for b in docs if b.get("kind") == "ClusterRoleBinding"
             and b["roleRef"]["kind"] == "ClusterRole"
             and any(s.get("kind") == "ServiceAccount" and s.get("name") == account
                     and s.get("namespace") == NAMESPACE for s in b.get("subjects") or [])}
    return [d for d in docs if d.get("kind") == "ClusterRole" and d["metadata"]["name"] in names]


def component_roles(docs: list[Obj]) -> list[Obj]:
    """The ClusterRoles and Roles named after a component's ServiceAccount."""
    return [d for d in docs if d.get("kind") in ("ClusterRole", "Role")
            and d["metadata"]["name"] in COMPONENTS.values()]


# --- checks (each returns its problems) ------------------------------------------------------
def unparsable(paths: Iterable[Path]) -> list[str]:
    problems = []
    for path in paths:
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        try:
            found = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            problems.append(f"{path}: {e}")
            continue
        if not found:
            problems.append(f"{path}: no document")
        for doc in found:
            if not (isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind")
                    and (doc.get("metadata") or {}).get("name")):
                problems.append(f"{path}: a document without apiVersion, kind or name")
    return problems


def duplicate_names(docs: list[Obj]) -> list[str]:
    return [f"{k} appears {n} times" for k, n in Counter(map(key, docs)).items() if n > 1]


def secret_or_wildcard_rules(role: Obj) -> list[str]:
    problems = []
    for rule in role.get("rules") or []:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            if "*" in (rule.get(field) or []):
                problems.append(f"{role['metadata']['name']}: `*` in {field}: {rule}")
        if rule.get("nonResourceURLs"):
            problems.append(f"{role['metadata']['name']}: nonResourceURLs: {rule}")
        if "" in rule.get("apiGroups", []) and any(
                r.split("/")[0] == "secrets" for r in rule.get("resources") or []):
            problems.append(f"{role['metadata']['name']}: grants secrets: {rule}")
    return problems


def known_resources() -> set[tuple[str, str]]:
    """(group, plural) of every kind virtkube.kube.resources declares, the CRDs, BUILTIN."""
    known = {(r.group, r.plural) for r in vars(resources).values()
             if isinstance(r, resources.Resource)}
    for crd in load_documents(sorted((DEPLOY / "crds").glob("*.yaml"))):
        known.add((crd["spec"]["group"], crd["spec"]["names"]["plural"]))
    return known | BUILTIN


def unknown_resources(roles: list[Obj], known: set[tuple[str, str]]) -> list[str]:
    problems = []
    for role in roles:
        for rule in role.get("rules") or []:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    base, _, sub = resource.partition("/")
                    if (group, base) not in known:
                        problems.append(f"{role['metadata']['name']}: unknown {group}/{base}")
                    if sub and sub not in COMPONENT_SUBRESOURCES:
                        problems.append(f"{role['metadata']['name']}: subresource {resource}")
    return problems


def missing_aggregation(docs: list[Obj]) -> list[str]:
    problems = []
    for name, target in AGGREGATED.items():
        found = [d for d in docs if key(d) == ("ClusterRole", "", name)]
        if not found:
            problems.append(f"{name}: missing")
            continue
        labels = found[0]["metadata"].get("labels") or {}
        aggregation = {k: v for k, v in labels.items()
                       if k.startswith("rbac.authorization.k8s.io/aggregate-to-")}
        if aggregation != {f"rbac.authorization.k8s.io/aggregate-to-{target}": "true"}:
            problems.append(f"{name}: aggregation labels {aggregation}")
    return problems


def dangling_bindings(docs: list[Obj]) -> list[str]:
    problems = []
    present = {key(d) for d in docs}
    for b in docs:
        if b.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        where = str(b["metadata"].get("namespace") or "")
        ref = b["roleRef"]
        target = (ref["kind"], where if ref["kind"] == "Role" else "", ref["name"])
        if target not in present and target not in BOOTSTRAP_ROLES:
            problems.append(f"{key(b)}: no {target}")
        for s in b.get("subjects") or []:
            if s["kind"] == "ServiceAccount":
                if ("ServiceAccount", s.get("namespace"), s["name"]) not in present:
                    problems.append(f"{key(b)}: no ServiceAccount {s.get('namespace')}/"
                                    f"{s['name']}")
            elif s["kind"] != "Group" or s["name"] not in GROUPS:
                problems.append(f"{key(b)}: subject {s}")
    return problems


def granted(role: Obj, group: str) -> set[tuple[str, str]]:
    """(resource, verb) pairs that `role` grants in `group`."""
    return {(resource, verb) for rule in role.get("rules") or []
            if group in (rule.get("apiGroups") or [])
            for resource in rule.get("resources") or [] for verb in rule.get("verbs") or []}


def served_subresources() -> set[tuple[str, str]]:
    """(resource/subresource, verb) that virt-api's aggregated API serves."""
    return ({(f"virtualmachines/{sub}", verb)
             for sub, verbs in discovery.VM_SUBRESOURCES for verb in verbs}
            | {(f"virtualmachineinstances/{sub}", verb)
               for sub, verbs in discovery.VMI_SUBRESOURCES for verb in verbs})


# --- the kustomization and its files ---------------------------------------------------------
def test_every_listed_file_exists_and_parses() -> None:
    paths = listed_files()
    assert paths, "deploy/kustomization.yaml lists no resources"
    assert unparsable(paths) == []
    assert unparsable([DEPLOY / "no-such-file.yaml"]) != []


def test_kustomization_lists_every_crd_and_rbac_file() -> None:
    listed = set(listed_files())
    on_disk = {*DEPLOY.glob("crds/*.yaml"), *DEPLOY.glob("rbac/*.yaml"), DEPLOY / "namespace.yaml"}
    assert on_disk - listed == set(), "files in deploy/ that the kustomization leaves out"
    assert listed - on_disk == set()


def test_nothing_but_namespace_crds_and_rbac_yet(docs: list[Obj]) -> None:
    """Workloads come with a later step of issue 13; until then none sneaks in."""
    kinds = {d["kind"] for d in docs}
    assert kinds <= {"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
                     "ClusterRoleBinding", "Role", "RoleBinding"}, kinds
    assert find(docs, "Namespace", NAMESPACE)


def test_names_are_unique_per_kind_and_namespace(docs: list[Obj]) -> None:
    assert duplicate_names(docs) == []
    assert duplicate_names([*docs, copy.deepcopy(docs[-1])]) != []


# --- the components' RBAC ------------------------------------------------------------------
def test_each_component_has_its_account_cluster_role_and_binding(docs: list[Obj]) -> None:
    for component, account in COMPONENTS.items():
        find(docs, "ServiceAccount", account, NAMESPACE)
        assert [r["metadata"]["name"] for r in cluster_roles_of(docs, account)] == [account], (
            component)


def test_the_handler_gets_no_secrets_nor_wildcards_cluster_wide(docs: list[Obj]) -> None:
    roles = cluster_roles_of(docs, HANDLER)
    assert roles, "no ClusterRole bound to the handler"
    assert [p for role in roles for p in secret_or_wildcard_rules(role)] == []
    broken = copy.deepcopy(roles[0])
    broken["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})
    assert secret_or_wildcard_rules(broken) != []
    broken = copy.deepcopy(roles[0])
    broken["rules"][0]["verbs"] = ["*"]
    assert secret_or_wildcard_rules(broken) != []


def test_the_handlers_only_secret_is_the_ca_by_name(docs: list[Obj]) -> None:
    role = find(docs, "Role", HANDLER, NAMESPACE)
    secrets = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"],
                        "resourceNames": [CA_SECRET], "verbs": ["get"]}]


def test_no_component_role_has_wildcards(docs: list[Obj]) -> None:
    roles = component_roles(docs)
    assert len(roles) == 6  # a ClusterRole and a Role per component
    problems = [p for role in roles for p in secret_or_wildcard_rules(role)
                if "grants secrets" not in p]
    assert problems == []


def test_component_rules_name_only_resources_the_code_knows(docs: list[Obj]) -> None:
    known = known_resources()
    assert ("kubevirt.io", "virtualmachineinstances") in known
    assert ("", "pods") in known
    roles = component_roles(docs)
    assert unknown_resources(roles, known) == []
    broken = copy.deepcopy(roles[0])
    broken["rules"].append({"apiGroups": ["apps"], "resources": ["deployments"],
                            "verbs": ["get"]})
    assert unknown_resources([broken], known) != []


def test_virt_api_names_what_registration_applies(docs: list[Obj]) -> None:
    """resourceNames follow the code: a renamed webhook configuration or Secret fails here."""
    ep = registration.Endpoint(webhook_base_url="https://127.0.0.1:8443", ca_bundle=b"",
                               namespace=NAMESPACE, aggregator_ip="10.0.0.1",
                               aggregator_port=8443)
    cluster = find(docs, "ClusterRole", COMPONENTS["virt-api"])
    namespaced = find(docs, "Role", COMPONENTS["virt-api"], NAMESPACE)

    def names(role: Obj, resource: str) -> set[str]:
        return {n for rule in role["rules"] if resource in rule["resources"]
                for n in rule.get("resourceNames") or []}

    assert names(cluster, "mutatingwebhookconfigurations") == {
        registration.mutating_webhooks(ep)["metadata"]["name"]}
    assert names(cluster, "validatingwebhookconfigurations") == {
        registration.validating_webhooks(ep)["metadata"]["name"]}
    assert names(cluster, "apiservices") == {registration.api_service(ep)["metadata"]["name"]}
    assert names(cluster, "namespaces") == {NAMESPACE}
    assert names(namespaced, "services") == {registration.service(ep)["metadata"]["name"]}
    assert names(namespaced, "endpointslices") == {
        registration.endpoint_slice(ep)["metadata"]["name"]}
    assert names(namespaced, "secrets") == {CA_SECRET}


def test_virt_controller_may_take_only_its_own_lease(docs: list[Obj]) -> None:
    role = find(docs, "Role", COMPONENTS["virt-controller"], NAMESPACE)
    named = [r for r in role["rules"] if "leases" in r["resources"] and r.get("resourceNames")]
    assert [r["resourceNames"] for r in named] == [[LEASE_NAME]]
    assert "delete" not in {v for r in role["rules"] for v in r["verbs"]}


# --- user roles ----------------------------------------------------------------------------
def test_user_roles_carry_the_aggregation_labels(docs: list[Obj]) -> None:
    assert missing_aggregation(docs) == []
    broken = copy.deepcopy(docs)
    view = next(d for d in broken if key(d) == ("ClusterRole", "", "kubevirt.io:view"))
    view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] = "true"
    assert missing_aggregation(broken) != []


def test_edit_and_admin_cover_exactly_the_served_subresources(docs: list[Obj]) -> None:
    served = served_subresources()
    assert ("virtualmachineinstances/console", "get") in served
    for name in ("kubevirt.io:edit", "kubevirt.io:admin"):
        assert granted(find(docs, "ClusterRole", name), SUBRESOURCE_GROUP) == served, name


def test_view_reads_but_neither_acts_nor_connects(docs: list[Obj]) -> None:
    view = find(docs, "ClusterRole", "kubevirt.io:view")
    subresources = granted(view, SUBRESOURCE_GROUP)
    assert subresources <= served_subresources()
    assert {verb for _, verb in subresources} == {"get"}
    assert not {r for r, _ in subresources} & {
        "virtualmachineinstances/console", "virtualmachineinstances/vnc",
        "virtualmachineinstances/portforward", "virtualmachines/portforward"}
    assert {verb for _, verb in granted(view, "kubevirt.io")} == {"get", "list", "watch"}


def test_user_role_verbs_on_vms_are_kubevirts(docs: list[Obj]) -> None:
    kinds = {"virtualmachines", "virtualmachineinstances", "virtualmachineinstancemigrations"}
    edit_verbs = {"get", "list", "watch", "create", "update", "patch", "delete"}
    expected = {"kubevirt.io:view": {"get", "list", "watch"}, "kubevirt.io:edit": edit_verbs,
                "kubevirt.io:admin": edit_verbs | {"deletecollection"}}
    for name, verbs in expected.items():
        pairs = granted(find(docs, "ClusterRole", name), "kubevirt.io")
        for kind in kinds:
            assert {v for r, v in pairs if r == kind} == verbs, (name, kind)


# --- bindings ------------------------------------------------------------------------------
def test_bindings_refer_to_existing_roles_and_accounts(docs: list[Obj]) -> None:
    assert dangling_bindings(docs) == []
    broken = copy.deepcopy(docs)
    binding = next(d for d in broken if d["kind"] == "ClusterRoleBinding")
    binding["subjects"][0]["name"] = "kubevirt-nobody"
    assert dangling_bindings(broken) != []
    broken = copy.deepcopy(docs)
    binding = next(d for d in broken if d["kind"] == "RoleBinding")
    binding["roleRef"]["name"] = "no-such-role"
    assert dangling_bindings(broken) != []
