"""virt-api against the real API server: admission of the examples, 500+ malformed manifests,
the aggregated API (discovery, start/stop/restart), and RBAC through the API server.

virt-api runs as its own subprocess (`python -m virtkube.apiserver`), registered with
the session's local cluster and unregistered at the end.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import uuid
from dataclasses import dataclass
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.helpers import EXAMPLES, host_disk_gate, wait_for
from tests.unit.apiserver.builders import new_vm, new_vmi
from tests.unit.apiserver.example_verdicts import verdict_with_gates_off
from virtkube.local.cluster import LocalCluster
from virtkube.local.net.layout import ClusterNet
from virtkube.pki import issuer

pytestmark = pytest.mark.integration

NS = "virtapi-test"


@dataclass
class VirtAPI:
    """The cluster's own virt-api (supervised by `virtkube up`), as the tests see it."""

    port: int
    log: Path
    aggregator: str | None
    cluster: LocalCluster

    def pid(self) -> int | None:
        state = self.cluster.status()["components"]
        assert isinstance(state, dict)
        pid = state.get("virt-api", {}).get("pid")
        return int(pid) if pid else None

    def kubectl(self, *args: str, input: str | None = None, check: bool = False,
                kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
        argv = self.cluster.kubectl_argv()
        if kubeconfig is not None:
            argv = [a if not a.startswith("--kubeconfig=") else f"--kubeconfig={kubeconfig}"
                    for a in argv]
        return subprocess.run([*argv, *args], text=True, capture_output=True, input=input,
                              check=check)

    def virtctl(self, *args: str, kubeconfig: Path | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kc = kubeconfig or self.cluster.home.admin_kubeconfig
        return subprocess.run([sys.executable, "-m", "virtkube.virtctl", "--kubeconfig",
                               str(kc), *args], text=True, capture_output=True, timeout=timeout)


def _aggregator_address(cluster: LocalCluster) -> str | None:
    """The pod bridge's host address: on this machine only, not loopback (EndpointSlices
    refuse 127.0.0.0/8). Present while the cluster has local nodes."""
    cfg = cluster.config()
    if not cfg.pod_network or not cfg.nodes:
        return None
    return ClusterNet(cluster.home.root, cfg.pod_network).gateway


@pytest.fixture(scope="session")
def virt_api(cluster: LocalCluster) -> VirtAPI:
    api = VirtAPI(cluster.config().ports.virt_api, cluster.home.log_for("virt-api"),
                  _aggregator_address(cluster), cluster)

    def registered() -> bool:
        res = api.kubectl("get", "validatingwebhookconfiguration", "virt-api-validator")
        if res.returncode != 0:
            return False
        if api.aggregator:
            got = api.kubectl("get", "apiservice", "v1.subresources.kubevirt.io", "-o",
                              "jsonpath={.status.conditions[?(@.type=='Available')].status}")
            return got.stdout.strip() == "True"
        return True

    wait_for("virt-api registered (webhooks, APIService Available)", registered, timeout=60)
    api.kubectl("create", "namespace", NS)
    return api


def aggregated(api: VirtAPI) -> None:
    if not api.aggregator:
        pytest.skip("no non-loopback local address for the aggregated API (cluster without "
                    "local nodes, so no pod bridge)")


# --- raw API access (fast enough for hundreds of requests) ---------------------------------
class Raw:
    def __init__(self, cluster: LocalCluster) -> None:
        cfg = cluster.config()
        p = cluster.pki
        self.host, self.port = cfg.listen_address, cfg.ports.apiserver
        self.ctx = ssl.create_default_context(cafile=str(p.ca.cert_path))
        self.ctx.load_cert_chain(p.pair("admin").cert_path, p.pair("admin").key_path)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
        finally:
            conn.close()


def _path(kind: str, name: str | None = None) -> str:
    plural = {"VirtualMachine": "virtualmachines",
              "VirtualMachineInstance": "virtualmachineinstances"}[kind]
    base = f"/apis/kubevirt.io/v1/namespaces/{NS}/{plural}"
    return f"{base}/{name}" if name else base + "?fieldValidation=Strict"


# --- the examples ----------------------------------------------------------------------------
def test_examples_are_admitted_as_the_table_says(virt_api: VirtAPI) -> None:
    files = sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES.is_dir() else []
    if not files:
        pytest.skip(f"{EXAMPLES} is absent")
    ns = "virtapi-examples"
    virt_api.kubectl("create", "namespace", ns)
    # vmi-migratable first: migration-job.yaml migrates it.
    files.sort(key=lambda f: f.name != "vmi-migratable.yaml")
    seen: dict[str, str] = {}
    for path in files:
        verdict, fields = verdict_with_gates_off(path.name)
        res = virt_api.kubectl("create", "-n", ns, "-f", str(path))
        if verdict == "ACCEPT":
            assert res.returncode == 0, f"{path.name}: {res.stderr}"
        elif verdict == "NO_CRD":
            assert res.returncode != 0 and "no matches for kind" in res.stderr, res.stderr
        else:
            assert res.returncode != 0, f"{path.name} was admitted"
            assert "is invalid" in res.stderr, res.stderr
            for field in fields:
                assert field in res.stderr, f"{path.name}: {field} not named in {res.stderr}"
        seen[path.name] = verdict if res.returncode == 0 or verdict != "ACCEPT" else "?"
    virt_api.kubectl("delete", "namespace", ns, "--wait=false")
    assert set(seen) == {f.name for f in files}


def test_defaults_are_stored(virt_api: VirtAPI) -> None:
    vmi = yaml.safe_load((EXAMPLES / "vmi-sata.yaml").read_text()) if EXAMPLES.is_dir() else \
        new_vmi("vmi-sata")
    vmi["metadata"] = {"name": "defaults-check"}
    res = virt_api.kubectl("create", "-n", NS, "-o", "json", "-f", "-", input=json.dumps(vmi))
    assert res.returncode == 0, res.stderr
    spec = json.loads(res.stdout)["spec"]
    assert spec["domain"]["machine"] == {"type": "q35"}
    assert spec["networks"] == [{"name": "default", "pod": {}}]
    assert spec["domain"]["devices"]["disks"][0]["disk"]["bus"] in ("sata", "virtio")
    assert spec["domain"]["firmware"]["uuid"]
    changed = virt_api.kubectl("patch", "-n", NS, "vmi", "defaults-check", "--type=merge",
                               "-p", '{"spec":{"domain":{"cpu":{"cores":4}}}}')
    assert changed.returncode != 0 and "spec.domain.cpu.cores" in changed.stderr


# --- 500+ malformed manifests ------------------------------------------------------------------
def _breakers() -> list[tuple[str, Any]]:
    """(dotted path under the manifest, bad value): each makes a VMI or VM invalid."""
    d = "spec.domain"
    return [
        (f"{d}.devices.disks.0.name", "dangling"),
        (f"{d}.devices.disks.0.disk", {"bus": "floppy"}),
        (f"{d}.devices.disks.0.cdrom", {"bus": "virtio"}),
        (f"{d}.devices.disks.0.bootOrder", 0),
        (f"{d}.devices.disks.0.lun", {}),
        (f"{d}.devices.interfaces.0.name", "nowhere"),
        (f"{d}.devices.interfaces.0.macAddress", "not-a-mac"),
        (f"{d}.devices.interfaces.0.model", "ne9999"),
        (f"{d}.devices.interfaces.0.masquerade", None),
        (f"{d}.devices.interfaces.0.slirp", {}),
        (f"{d}.devices.foo", 1),
        (f"{d}.cpu", {"cores": 0, "sockets": 1}),
        (f"{d}.cpu", {"cores": 100, "sockets": 100}),
        (f"{d}.cpu", {"cores": "many"}),
        (f"{d}.resources", {"requests": {"memory": "100Ki"}}),
        (f"{d}.resources", {"requests": {"memory": "lots"}}),
        (f"{d}.resources", {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}),
        (f"{d}.resources", {"requests": {"nvidia.com/gpu": "1", "memory": "1Gi"}}),
        (f"{d}.resources", {}),
        (f"{d}.machine", {"type": "pc-i440fx-2.0"}),
        (f"{d}.firmware", {"uuid": "zzz"}),
        (f"{d}.firmware", {"bootloader": {"bios": {}, "efi": {}}}),
        (f"{d}.features", {"apic": {"endOfInterrupt": True}}),
        (f"{d}.launchSecurity", {"sev": {}}),
        ("spec.volumes.0.containerDisk", {"image": ""}),
        ("spec.volumes.0.name", "Not_A_Label"),
        ("spec.volumes.0.emptyDisk", {"capacity": "-1Gi"}),
        ("spec.volumes.0.containerDisk", None),
        ("spec.networks.0.multus", {"networkName": "x"}),
        ("spec.networks.0.name", "UPPER"),
        ("spec.terminationGracePeriodSeconds", -5),
        ("spec.hostname", "Bad_Host"),
        ("spec.evictionStrategy", "Sometimes"),
        # Issue 20: names that would become paths on a node, and the node's own files.
        ("spec.volumes.0.containerDisk", {"image": "a/b/../../../../../../etc/passwd"}),
        ("spec.volumes.0.containerDisk", {"image": "../../../../etc:latest"}),
        ("spec.volumes.0.containerDisk", {"image": "x", "path": "/../../etc/shadow"}),
        ("spec.volumes.0", {"name": "root", "hostDisk": {"path": "/etc/shadow", "type": "Disk"}}),
        (f"{d}.devices.disks.0.serial", "../../x,drive=y"),
        ("spec.domain", None),
        ("spec.bogus", {"a": 1}),
    ]


BREAKERS = _breakers()


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = doc
    for part in parts[:-1]:
        node = node[part]
    if value is None:
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


@st.composite
def malformed(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    as_vm = draw(st.booleans())
    vmi = new_vmi(f"bad-{uuid.uuid4().hex[:10]}", NS)
    chosen = draw(st.lists(st.sampled_from(range(len(BREAKERS))), min_size=1, max_size=3,
                           unique=True))
    for index in chosen:
        path, value = BREAKERS[index]
        if path == "spec.domain" and len(chosen) > 1:
            continue
        _set(vmi, path, value)
    if not as_vm:
        return "VirtualMachineInstance", vmi
    vm = new_vm(vmi["metadata"]["name"], NS)
    vm["spec"]["template"]["spec"] = vmi["spec"]
    if draw(st.booleans()):
        vm["spec"]["running"] = True  # with runStrategy: invalid on its own too
    return "VirtualMachine", vm


def _named_field(status: int, body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    causes = (body.get("details") or {}).get("causes") or []
    if status == 422 and causes and all(c.get("field", "").startswith("spec") for c in causes):
        return True
    # fieldValidation=Strict: the decoder names the unknown field itself.
    return status == 400 and 'unknown field "spec.' in str(body.get("message"))


COUNT = {"sent": 0}


@settings(max_examples=520, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(case=malformed())
def _send(raw: Raw, case: tuple[str, dict[str, Any]]) -> None:
    kind, doc = case
    status, body = raw.request("POST", _path(kind), doc)
    COUNT["sent"] += 1
    assert status in (400, 422), f"{kind} admitted or failed oddly ({status}): {body}"
    assert _named_field(status, body), f"no field path in {status}: {body}"
    status, _ = raw.request("GET", _path(kind, doc["metadata"]["name"]))
    assert status == 404, f"{doc['metadata']['name']} reached etcd"


def test_malformed_manifests_are_rejected_with_field_paths(virt_api: VirtAPI) -> None:
    raw = Raw(virt_api.cluster)
    pid_before = virt_api.pid()
    COUNT["sent"] = 0
    _send(raw)
    assert COUNT["sent"] >= 500
    assert virt_api.pid() == pid_before, "virt-api crashed (the supervisor restarted it)"
    status, body = raw.request("GET", f"/apis/kubevirt.io/v1/namespaces/{NS}/"
                                      "virtualmachineinstances")
    assert status == 200 and not [i for i in body["items"]
                                  if i["metadata"]["name"].startswith("bad-")]


# --- the aggregated API ------------------------------------------------------------------------
def test_loopback_endpoints_are_refused_by_the_api_server(virt_api: VirtAPI) -> None:
    """Why virt-api needs a non-loopback address for the aggregation layer."""
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "loopback-probe", "namespace": NS},
              "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"]}],
              "ports": [{"port": 1}]}
    res = virt_api.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(slice_))
    assert res.returncode != 0 and "loopback" in res.stderr


def test_discovery_and_version(virt_api: VirtAPI) -> None:
    aggregated(virt_api)
    res = virt_api.kubectl("api-resources", "--api-group=subresources.kubevirt.io")
    assert res.returncode == 0, res.stderr
    raw = virt_api.kubectl("get", "--raw", "/apis/subresources.kubevirt.io/v1")
    names = {r["name"] for r in json.loads(raw.stdout)["resources"]}
    assert "virtualmachineinstances/console" in names and "virtualmachines/stop" in names
    version = virt_api.virtctl("version")
    assert version.returncode == 0 and "Server Version" in version.stdout, version.stderr
    health = virt_api.kubectl("get", "--raw", "/apis/subresources.kubevirt.io/v1/healthz")
    assert health.stdout.strip() == "ok"


def _vm(api: VirtAPI, name: str, strategy: str) -> None:
    vm = new_vm(name, NS, run_strategy=strategy)
    del vm["metadata"]["uid"]
    res = api.kubectl("apply", "-f", "-", input=json.dumps(vm))
    assert res.returncode == 0, res.stderr


def _jsonpath(api: VirtAPI, name: str, path: str) -> str:
    return api.kubectl("get", "-n", NS, "vm", name, "-o", f"jsonpath={path}").stdout


def test_start_stop_restart(virt_api: VirtAPI) -> None:
    aggregated(virt_api)
    _vm(virt_api, "lifecycle-halted", "Halted")
    run = virt_api.virtctl
    assert run("-n", NS, "start", "lifecycle-halted").returncode == 0
    assert _jsonpath(virt_api, "lifecycle-halted", "{.spec.runStrategy}") == "Always"
    again = run("-n", NS, "start", "lifecycle-halted")
    assert again.returncode == 1 and "409" in again.stderr
    assert again.stderr.count("\n") == 1
    assert run("-n", NS, "stop", "lifecycle-halted").returncode == 0
    assert _jsonpath(virt_api, "lifecycle-halted", "{.spec.runStrategy}") == "Halted"
    restart = run("-n", NS, "restart", "lifecycle-halted")
    assert restart.returncode == 1 and "does not support manual restart" in restart.stderr

    _vm(virt_api, "lifecycle-manual", "Manual")
    dry = run("-n", NS, "start", "lifecycle-manual", "--dry-run")
    assert dry.returncode == 0
    assert _jsonpath(virt_api, "lifecycle-manual", "{.status.stateChangeRequests}") == ""
    started = run("-n", NS, "start", "lifecycle-manual")
    assert started.returncode == 0, started.stderr

    def requested_or_created() -> bool:
        status = json.loads(_jsonpath(virt_api, "lifecycle-manual", "{.status}") or "{}")
        # virt-controller (when the cluster runs one) consumes the request and creates the VMI.
        return (status.get("stateChangeRequests") == [{"action": "Start"}]
                or status.get("created") is True)

    wait_for("the Start request or its VMI", requested_or_created, timeout=30)
    missing = run("-n", NS, "stop", "no-such-vm")
    assert missing.returncode == 1 and "404" in missing.stderr


def _user_kubeconfig(api: VirtAPI, user: str, tmp: Path) -> Path:
    p = api.cluster.pki
    pair = issuer.KeyPair.named(tmp, user)
    issuer.ensure_cert(pair, ca=p.ca, common_name=user, client=True)
    cfg = api.cluster.config()
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "clusters": [{"name": "c", "cluster": {"server": cfg.apiserver_url,
                                                  "certificate-authority": str(p.ca.cert_path)}}],
           "users": [{"name": user, "user": {"client-certificate": str(pair.cert_path),
                                             "client-key": str(pair.key_path)}}],
           "contexts": [{"name": "c", "context": {"cluster": "c", "user": user,
                                                  "namespace": NS}}]}
    path = tmp / f"{user}.kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    os.chmod(path, 0o600)
    return path


def test_view_user_cannot_stop_or_open_a_console(virt_api: VirtAPI, tmp_path: Path) -> None:
    aggregated(virt_api)
    _vm(virt_api, "rbac-vm", "Always")
    virt_api.kubectl("create", "rolebinding", "viewer-view", "-n", NS, "--clusterrole=view",
                     "--user=viewer")
    kc = _user_kubeconfig(virt_api, "viewer", tmp_path)
    stop = virt_api.virtctl("stop", "rbac-vm", kubeconfig=kc)
    assert stop.returncode == 1 and "403" in stop.stderr, stop.stderr
    assert 'cannot update resource "virtualmachines/stop"' in stop.stderr
    console = virt_api.virtctl("console", "rbac-vm", "--timeout", "1", kubeconfig=kc)
    assert console.returncode == 1 and "403" in console.stderr, console.stderr
    assert "virtualmachineinstances/console" in console.stderr
    assert _jsonpath(virt_api, "rbac-vm", "{.spec.runStrategy}") == "Always"
    # The same request from the admin passes RBAC and reaches virt-api.
    assert virt_api.virtctl("-n", NS, "stop", "rbac-vm").returncode == 0


def test_direct_calls_without_the_front_proxy_are_refused(virt_api: VirtAPI) -> None:
    aggregated(virt_api)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = HTTPSConnection("127.0.0.1", virt_api.port, context=ctx, timeout=10)
    conn.request("PUT", f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachines/"
                        "rbac-vm/stop", body=b"{}", headers={"X-Remote-User": "mallory"})
    resp = conn.getresponse()
    assert resp.status == 401
    assert b"through the Kubernetes API server" in resp.read()


# --- hostDisk behind the HostDisk gate; no names that leave their folder (issue 20) -------------
def _shadow_vmi(name: str) -> dict[str, Any]:
    """The issue's manifest: a containerDisk, then the node's /etc/shadow as volumes[1]."""
    vmi = new_vmi(name, NS)
    vmi["spec"]["domain"]["devices"]["disks"].append({"name": "host", "disk": {"bus": "sata"}})
    vmi["spec"]["volumes"].append({"name": "host",
                                   "hostDisk": {"path": "/etc/shadow", "type": "Disk"}})
    return vmi


def test_host_disk_needs_the_host_disk_feature_gate(virt_api: VirtAPI) -> None:
    vmi = _shadow_vmi("shadow")
    vm = new_vm("shadow-vm", NS)
    vm["spec"]["template"]["spec"] = vmi["spec"]
    del vm["metadata"]["uid"]
    for doc, field in ((vmi, "spec.volumes[1].hostDisk"),
                       (vm, "spec.template.spec.volumes[1].hostDisk")):
        res = virt_api.kubectl("create", "-f", "-", input=json.dumps(doc))
        assert res.returncode != 0, f"{doc['kind']} with a hostDisk admitted without the gate"
        assert f"{field}: HostDisk feature gate is not enabled" in res.stderr, res.stderr
    with host_disk_gate(virt_api.cluster):
        for doc in (vmi, vm):
            # Server-side dry run: admitted, but never stored (no launcher opens the file).
            res = virt_api.kubectl("create", "--dry-run=server", "-f", "-",
                                   input=json.dumps(doc))
            assert res.returncode == 0, res.stderr
    res = virt_api.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(vmi))
    assert res.returncode != 0 and "HostDisk feature gate is not enabled" in res.stderr


@pytest.mark.parametrize(("path", "value", "field"), [
    ("spec.volumes.0.containerDisk.image", "a/b/../../../../../../etc/passwd",
     "spec.volumes[0].containerDisk.image"),
    ("spec.volumes.0.containerDisk.image", "../../../../etc:latest",
     "spec.volumes[0].containerDisk.image"),
    ("spec.volumes.0.containerDisk.path", "/disk/../../etc/shadow",
     "spec.volumes[0].containerDisk.path"),
    ("spec.domain.devices.disks.0.serial", "x,file=/etc/shadow",
     "spec.domain.devices.disks[0].serial"),
])  # fmt: skip
def test_traversal_attempts_are_rejected(virt_api: VirtAPI, path: str, value: str,
                                         field: str) -> None:
    vmi = new_vmi(f"traversal-{uuid.uuid4().hex[:8]}", NS)
    _set(vmi, path, value)
    res = virt_api.kubectl("create", "-f", "-", input=json.dumps(vmi))
    assert res.returncode != 0 and field in res.stderr, res.stderr
