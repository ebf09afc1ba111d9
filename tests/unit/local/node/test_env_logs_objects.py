"""Container env, log rendering, and the Node / PV objects (pure parts)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from virtkube.local.node import env, logs, registration
from virtkube.local.node.quantity import parse_bytes, parse_cpu_millis
from virtkube.local.provisioner import pv_for, storageclass

POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "x"}},
    "spec": {"nodeName": "virtkube-node-0", "serviceAccountName": "default"},
}


def test_expand_follows_kubernetes() -> None:
    e = {"A": "1", "B": "two"}
    assert env.expand("$(A)-$(B)-$(C)-$$(A)", e) == "1-two-$(C)-$(A)"


def test_build_resolves_every_kind_of_reference() -> None:
    async def lookup(kind: str, ns: str, name: str) -> dict[str, str] | None:
        assert ns == "ns"
        return {"cm": {"k": "from-cm"}, "sec": {"pw": "s3cret"}}.get(name)

    container = {"name": "c", "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}},
                 "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
                 "env": [
                     {"name": "X", "value": "$(CM_k)!"},
                     {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                     {"name": "APP", "valueFrom": {"fieldRef": {
                         "fieldPath": "metadata.labels['app']"}}},
                     {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                     {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
                     {"name": "MEM", "valueFrom": {"resourceFieldRef": {
                         "resource": "limits.memory", "divisor": "1Mi"}}},
                     {"name": "CPU", "valueFrom": {"resourceFieldRef": {
                         "resource": "limits.cpu", "divisor": "1m"}}},
                     {"name": "OPT", "valueFrom": {"configMapKeyRef": {
                         "name": "missing", "key": "k", "optional": True}}},
                 ]}
    out = asyncio.run(env.build(POD, container, base={"PATH": "/bin"}, lookup=lookup,
                                pod_ip="10.1.1.2", host_ip="10.1.0.2"))
    assert out == {"PATH": "/bin", "CM_k": "from-cm", "X": "from-cm!", "POD": "p",
                   "APP": "x", "IP": "10.1.1.2", "PW": "s3cret", "MEM": "64", "CPU": "250"}


def test_missing_required_reference_is_an_error() -> None:
    async def lookup(kind: str, ns: str, name: str) -> dict[str, str] | None:
        return None

    container = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
    with pytest.raises(env.EnvError, match='secret "s" not found'):
        asyncio.run(env.build(POD, container, base={}, lookup=lookup, pod_ip="", host_ip=""))


def test_decode_secret_data() -> None:
    assert env.decode_data("Secret", {"data": {"a": base64.b64encode(b"x").decode()}}) == \
        {"a": "x"}


def test_quantities() -> None:
    assert parse_bytes("128Mi") == 128 * 2**20 and parse_bytes("1G") == 10**9
    assert parse_cpu_millis("500m") == 500 and parse_cpu_millis("2") == 2000


def test_log_lines_render_with_and_without_timestamps() -> None:
    line = b"2026-01-01T00:00:00.123456Z stdout F hello world\n"
    assert logs.render(line, False) == b"hello world\n"
    assert logs.render(line, True) == b"2026-01-01T00:00:00.123456Z hello world\n"
    assert logs.render(b"2026-01-01T00:00:00Z stderr P part\n", False) == b"part"
    lines = [f"2026-01-01T00:00:0{i}Z stdout F {i}\n".encode() for i in range(5)]
    assert logs.select(lines, tail=2, since=None) == lines[-2:]
    since = dt.datetime(2026, 1, 1, 0, 0, 3, tzinfo=dt.UTC)
    assert logs.select(lines, tail=None, since=since) == lines[3:]


def test_node_object_is_what_a_kubelet_registers() -> None:
    node = registration.node_object(name="virtkube-node-1", ip="10.1.0.3", port=10250,
                                    pod_cidr="10.1.2.0/24", max_pods=110, cpus=2,
                                    memory_kib=1024, now="T")
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "virtkube-node-1"
    assert node["metadata"]["labels"]["beta.kubernetes.io/os"] == "linux"
    assert node["spec"] == {"podCIDR": "10.1.2.0/24", "podCIDRs": ["10.1.2.0/24"]}
    st = node["status"]
    assert st["capacity"] == st["allocatable"]
    assert st["capacity"]["cpu"] == "2" and st["capacity"]["pods"] == "110"
    assert st["addresses"][0] == {"type": "InternalIP", "address": "10.1.0.3"}
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    ready = [c for c in st["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"


def test_keep_transitions_only_when_status_is_unchanged() -> None:
    old = [{"type": "Ready", "status": "True", "lastTransitionTime": "old"}]
    new = registration.conditions(True, "now")
    kept = {c["type"]: c for c in registration.keep_transitions(new, old)}
    assert kept["Ready"]["lastTransitionTime"] == "old"
    flipped = registration.keep_transitions(registration.conditions(False, "now"), old)
    assert next(c for c in flipped if c["type"] == "Ready")["lastTransitionTime"] == "now"


def test_pv_for_a_claim_is_bound_to_its_node() -> None:
    pvc = {"metadata": {"name": "data", "namespace": "ns", "uid": "abc",
                        "resourceVersion": "7"},
           "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}}}
    pv = pv_for(pvc, node="virtkube-node-1", path=Path("/h/storage/pvc-abc"))
    assert pv["metadata"]["name"] == "pvc-abc"
    spec = pv["spec"]
    assert spec["claimRef"]["uid"] == "abc" and spec["capacity"] == {"storage": "1Gi"}
    assert spec["hostPath"] == {"path": "/h/storage/pvc-abc", "type": "DirectoryOrCreate"}
    assert spec["persistentVolumeReclaimPolicy"] == "Delete"
    term = spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term["values"] == ["virtkube-node-1"]
    assert storageclass()["volumeBindingMode"] == "WaitForFirstConsumer"
