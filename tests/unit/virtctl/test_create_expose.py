"""virtctl's pure parts: `create vm` manifests, `expose` Services, targets and ports."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from virtkube.apiserver import defaults, validation
from virtkube.virtctl import create, expose, tunnels
from virtkube.virtctl.cli import app
from virtkube.virtctl.session import VirtctlError, context_namespace


def test_create_vm_like_kubevirt() -> None:
    vm = create.vm_manifest(create.VMFlags(
        name="my-vm", containerdisks=["src:quay.io/containerdisks/fedora:40,name:root,bootorder:1"],
        user="fedora", ssh_keys=["ssh-ed25519 AAAA me"]))
    assert vm["spec"]["runStrategy"] == "Always"
    spec = vm["spec"]["template"]["spec"]
    assert spec["domain"]["memory"] == {"guest": "512Mi"}
    assert spec["terminationGracePeriodSeconds"] == 180
    assert spec["volumes"][0] == {"name": "root",
                                  "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}}
    assert spec["domain"]["devices"]["disks"] == [{"name": "root", "bootOrder": 1}]
    assert spec["volumes"][1]["cloudInitNoCloud"]["userData"].startswith("#cloud-config\n")


def test_created_vm_is_admitted() -> None:
    vm = create.vm_manifest(create.VMFlags(name="a", containerdisks=["src:example/disk:1"]))
    del vm["status"]
    vm["metadata"].pop("creationTimestamp")
    vm["spec"]["template"]["metadata"].pop("creationTimestamp")
    assert validation.validate_vm(defaults.vm_defaults(vm, defaults.DefaultsConfig())) == []


@pytest.mark.parametrize("bad", ["src", "foo:bar", "name:x"])
def test_bad_volume_params(bad: str) -> None:
    with pytest.raises(create.ParamError):
        create.vm_manifest(create.VMFlags(containerdisks=[bad]))


def test_create_vm_cli_prints_yaml() -> None:
    result = CliRunner().invoke(app, ["create", "vm", "--name", "x", "--volume-containerdisk",
                                      "src:example/disk:1"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["metadata"]["name"] == "x"


def test_expose_selects_the_vmi_labels() -> None:
    vm = {"metadata": {"name": "v"}, "spec": {"template": {"metadata": {"labels": {"app": "v"}}}}}
    svc = expose.service_manifest(name="s", namespace="ns", selector=expose.selector_of("vm", vm),
                                  port=22, target_port=None, protocol="TCP",
                                  service_type="NodePort")
    assert svc["spec"] == {"type": "NodePort", "selector": {"app": "v"},
                           "ports": [{"port": 22, "protocol": "TCP", "targetPort": 22}]}
    with pytest.raises(expose.ExposeError, match="no labels"):
        expose.selector_of("vmi", {"metadata": {"name": "x"}})


def test_targets_and_ports() -> None:
    assert tunnels.target("vm/a/ns1", "d") == ("virtualmachines", "a", "ns1")
    assert tunnels.target("vmi/a", "d") == ("virtualmachineinstances", "a", "d")
    assert tunnels.target("a", "d") == ("virtualmachineinstances", "a", "d")
    with pytest.raises(VirtctlError):
        tunnels.target("pod/a", "d")
    assert tunnels.parse_port("8080:80") == ("tcp", 8080, 80)
    assert tunnels.parse_port("udp/53") == ("udp", 53, 53)


def test_namespace_from_context(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "kc"
    path.write_text(yaml.safe_dump({"current-context": "c", "contexts": [
        {"name": "c", "context": {"namespace": "team"}}]}))
    assert context_namespace(str(path)) == "team"
    assert context_namespace(None) == "default"


def test_errors_are_one_line_with_nonzero_exit(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["--kubeconfig", "/nonexistent/kc", "stop", "x"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    result = CliRunner().invoke(app, ["stop", "x", "--grace-period", "3"])
    assert result.exit_code == 1 and "--force" in result.output
