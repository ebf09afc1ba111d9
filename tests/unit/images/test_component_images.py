"""The virt-api, virt-controller and virt-handler images (images/components.py): the
launcher's layer as it is, each with its own entrypoint, found by the registry's seeding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from images import components, launcher, oci

from virtkube.local import registry

MTIME = 1704067200
MODULES = {"virt-api": "virtkube.apiserver", "virt-controller": "virtkube.controller",
           "virt-handler": "virtkube.handler"}


def _launcher(out: Path) -> oci.Written:
    """A tiny stand-in for the built virt-launcher layout, as launcher.build_into writes it."""
    (out / "src").mkdir(parents=True)
    (out / "src/python").write_text("#!python\n")
    return oci.write_image(out / launcher.LAYOUT, [oci.LayerFile("/opt/virtkube/bin/python",
                                                                 out / "src/python", mode=0o755)],
                           ref="dev", mtime=MTIME, labels={"io.virtkube.python3": "3.11.2-1"},
                           run_config=launcher.RUN_CONFIG, image_name=launcher.LAUNCHER_REF,
                           created_by="virtkube images.launcher")


def _doc(layout: Path, digest: str) -> Any:
    return json.loads((layout / "blobs/sha256" / digest.split(":", 1)[1]).read_bytes())


def _image(layout: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The index entry, manifest and config of a one-image layout."""
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    manifest = _doc(layout, entry["digest"])
    return entry, manifest, _doc(layout, manifest["config"]["digest"])


def test_the_components_run_their_own_modules() -> None:
    assert {c.name: c.module for c in components.COMPONENTS} == MODULES
    src = Path(__file__).resolve().parents[3] / "src"
    for module in MODULES.values():
        assert (src / module.replace(".", "/") / "__main__.py").exists(), module
    assert [c.ref for c in components.COMPONENTS] == [
        f"registry:5000/virtkube/{name}:dev" for name in MODULES]


def test_run_configs_differ_from_the_launchers_in_entrypoint_and_user_only() -> None:
    for c in components.COMPONENTS:
        cfg = components.run_config(launcher.RUN_CONFIG, c)
        assert cfg["Entrypoint"] == ["/opt/virtkube/bin/python", "-m", MODULES[c.name]]
        assert cfg["Env"] == launcher.RUN_CONFIG["Env"]
        assert cfg["WorkingDir"] == launcher.RUN_CONFIG["WorkingDir"]
    users = {c.name: components.run_config(launcher.RUN_CONFIG, c)["User"]
             for c in components.COMPONENTS}
    assert users == {"virt-api": "1001", "virt-controller": "1001", "virt-handler": "0"}
    assert launcher.RUN_CONFIG["Entrypoint"][-1] == "virtkube.launcher", "base left unchanged"


def test_component_images_share_the_launchers_layer(tmp_path: Path) -> None:
    base = _launcher(tmp_path)
    _, base_manifest, base_config = _image(base.layout)
    refs = components.write_components(base.layout, tmp_path, key="k", base_ref="l",
                                       base_digest=base.manifest_digest)
    assert set(refs) == {c.ref for c in components.COMPONENTS}
    assert len({*refs.values(), base.manifest_digest}) == 4
    layer = base.layer_digest.split(":", 1)[1]
    for c in components.COMPONENTS:
        layout = tmp_path / c.layout
        entry, manifest, config = _image(layout)
        assert entry["digest"] == refs[c.ref]
        assert entry["annotations"] == {oci.REF_NAME: "dev", oci.IMAGE_NAME: c.ref}
        assert manifest["layers"] == base_manifest["layers"]
        assert config["rootfs"] == base_config["rootfs"]
        assert config["config"]["Entrypoint"] == ["/opt/virtkube/bin/python", "-m", c.module]
        assert config["config"]["Labels"] == {
            "io.virtkube.python3": "3.11.2-1", "org.opencontainers.image.title": c.name,
            components.COMPONENT_LABEL: c.name}
        # One file on disk: the registry push and `publish` see the same inode.
        blob = layout / "blobs/sha256" / layer
        assert blob.samefile(base.layout / "blobs/sha256" / layer)
        assert sorted(p.name for p in (layout / "blobs/sha256").iterdir()) == sorted(
            [layer, entry["digest"][7:], manifest["config"]["digest"][7:]])
        doc = json.loads((tmp_path / c.manifest).read_text())
        assert doc["manifestDigest"] == refs[c.ref] and doc["layout"] == c.layout
        assert doc["layerDigests"] == [base.layer_digest] and doc["key"] == "k"
        assert doc["entrypoint"] == config["config"]["Entrypoint"]


def test_the_same_launcher_gives_the_same_component_digests(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        base = _launcher(tmp_path / name)
        digests.append(components.write_components(
            base.layout, tmp_path / name, key="k", base_ref="l", base_digest=base.manifest_digest))
    assert digests[0] == digests[1]


def test_the_registry_seeds_the_component_images(tmp_path: Path) -> None:
    """`virtkube up` pushes every layout under build/images/*/oci/* that names itself."""
    out = tmp_path / "launcher"
    base = _launcher(out)
    refs = components.write_components(base.layout, out, key="k", base_ref="l",
                                       base_digest=base.manifest_digest)
    found = {i.ref: i for i in registry._self_named(tmp_path)}
    assert set(found) == {launcher.LAUNCHER_REF, *refs}
    for c in components.COMPONENTS:
        assert found[c.ref].layout == out / c.layout and found[c.ref].tag == "dev"
        assert registry.layout_manifest(found[c.ref].layout, "dev")["digest"] == refs[c.ref]


def test_the_key_covers_the_components(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = launcher.Inputs([], [launcher.Wheel("pyyaml", "6.0")], "1.3.5-7")
    one = inputs.key()
    other = (components.Component("virt-api", "virtkube.apiserver", user="0"),
             *components.COMPONENTS[1:])
    monkeypatch.setattr(components, "COMPONENTS", other)
    assert inputs.key() != one


def test_virt_handlers_tools_are_in_the_package_list() -> None:
    """virtkube.handler.network.netns runs these through nsenter (util-linux, essential)."""
    assert {"iproute2", "nftables", "procps"} <= set(launcher.PACKAGES)
