"""The local registry's files as pure functions (golden), and what `virtkube up` seeds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from images import build, oci, utility

from tests.shared import EXAMPLES
from tests.unit.golden import assert_golden
from virtkube.local import registry
from virtkube.local.config import ClusterConfig, Ports
from virtkube.local.realnode import config as node_config

GOLDEN = Path(__file__).parent / "golden" / "registry"
DIRS = registry.RegistryDirs(Path("/var/lib/virtkube"))
PORT = 35000

RENDERED = {
    "config.yml": registry.config_yaml(DIRS, PORT),
    "registry.argv": "\n".join(registry.argv(DIRS)) + "\n",
    "hosts.toml": registry.hosts_toml(PORT),
}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_matches_golden(name: str) -> None:
    assert_golden(GOLDEN / name, RENDERED[name])


def test_config_stays_on_loopback_and_under_the_home() -> None:
    doc = yaml.safe_load(RENDERED["config.yml"])
    assert doc["http"]["addr"] == f"127.0.0.1:{PORT}"
    assert doc["storage"]["filesystem"]["rootdirectory"].startswith("/var/lib/virtkube/")
    assert doc["storage"]["delete"]["enabled"] is True
    assert "auth" not in doc
    assert doc["log"]["level"] == "warn"


def test_hosts_toml_points_both_names_at_the_registry_over_plain_http(tmp_path: Path) -> None:
    (tmp_path / "127.0.0.1:1234").mkdir()  # an earlier port's folder
    written = registry.write_hosts(tmp_path, PORT)
    assert sorted(p.parent.name for p in written) == [f"127.0.0.1:{PORT}", "registry:5000"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"127.0.0.1:{PORT}", "registry:5000"]
    for path in written:
        doc = tomllib.loads(path.read_text())
        assert doc["server"] == f"http://127.0.0.1:{PORT}"
        assert doc["host"] == {f"http://127.0.0.1:{PORT}": {"capabilities": ["pull", "resolve"]}}


def test_port_of_a_config_without_a_registry_port_is_the_default() -> None:
    cfg = ClusterConfig(ports=Ports(1, 2, 3, 4, 5, 6))
    assert registry.port_of(cfg) == registry.DEFAULT_PORT
    assert registry.port_of(object()) == registry.DEFAULT_PORT


@pytest.mark.parametrize(("ref", "want"), [
    ("registry:5000/kubevirt/cirros-container-disk-demo:devel",
     ("kubevirt/cirros-container-disk-demo", "devel")),
    ("virtkube/tiny-guest:latest", ("virtkube/tiny-guest", "latest")),
    ("localhost/a/b", ("a/b", "latest")),
    ("quay.io/kubevirt/x:1", ("kubevirt/x", "1")),
])
def test_split_ref(ref: str, want: tuple[str, str]) -> None:
    assert registry.split_ref(ref) == want


def test_the_seeded_names_are_the_builders_names() -> None:
    """virtkube does not import the image builders; their names must agree all the same."""
    assert Path("oci") / build.GUEST_REF == registry.GUEST_LAYOUT
    assert Path("oci") / build.KERNEL_REF == registry.KERNEL_LAYOUT
    assert f"registry:5000/{build.GUEST_REF}:{build.TAG}" == registry.GUEST_REF
    assert f"registry:5000/{build.KERNEL_REF}:{build.TAG}" == registry.KERNEL_REF
    assert registry.UTILITY_REF == utility.UTILITY_REF
    assert registry.PAUSE_REF == utility.PAUSE_REF == node_config.SANDBOX_IMAGE
    root = Path("/images")
    refs = {i.ref: i.layout for i in registry.seed_list(root)}
    assert refs[utility.UTILITY_REF] == root / "node" / "oci" / "utility"
    assert refs[utility.PAUSE_REF] == root / "node" / "oci" / "pause"


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"no KubeVirt examples at {EXAMPLES}")
def test_every_image_of_kubevirts_examples_is_seeded() -> None:
    used = set()
    for path in EXAMPLES.glob("*.yaml"):
        used |= set(re.findall(r"image:\s*(registry:5000/\S+)", path.read_text()))
    assert used
    root = Path("/images")
    seeded = {i.ref: i.layout for i in registry.seed_list(root)}
    assert used <= set(seeded), used - set(seeded)
    kernel = [r for r in used if "kernel-boot" in r]
    assert {seeded[r] for r in kernel} == {root / registry.KERNEL_LAYOUT}
    assert {seeded[r] for r in used - set(kernel)} == {root / registry.GUEST_LAYOUT}


def test_images_that_name_themselves_are_seeded_too(tmp_path: Path) -> None:
    """The virt-launcher image joins the list once built, without this module naming it."""
    src = tmp_path / "f"
    src.write_text("x")
    ref = "registry:5000/virtkube/virt-launcher:dev"
    oci.write_image(tmp_path / "launcher" / "oci" / "virt-launcher",
                    [oci.LayerFile("/f", src)], ref="dev", mtime=0, labels={}, image_name=ref)
    extra = [i for i in registry.seed_list(tmp_path) if i.ref == ref]
    assert extra == [registry.SeedImage(tmp_path / "launcher" / "oci" / "virt-launcher", ref,
                                        "dev")]
