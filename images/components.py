"""The virt-api, virt-controller and virt-handler images: the launcher's layer, other configs.

Issue 13 installs virtkube's components as pods, so each needs an image. They all run the
same venv (virtkube's wheel and its dependencies) and virt-handler needs the launcher's
network tools, so the three images are the virt-launcher image's root file system layer
as it is (the very same blob: the registry and each node's containerd store it once)
with an image config and manifest of their own: another Entrypoint, User and labels.

Nothing here runs mmdebstrap or tars anything: :func:`write_component` reads the built
virt-launcher layout and writes a layout beside it, hard-linking the layer. The inputs
are the launcher's config and this module's tables, so the launcher's cache key (which
hashes this file) covers them and equal inputs give equal digests.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from images import oci
from images.utility import REGISTRY, TAG


@dataclass(frozen=True)
class Component:
    """One component image: its name (also the repository's last part) and what it runs."""

    name: str
    module: str
    #: KubeVirt's virt-api and virt-controller images run as the non-root uid 1001; virt-handler
    #: runs as root (it enters launcher pods' network namespaces, privileged, hostPID).
    user: str

    @property
    def ref(self) -> str:
        return f"{REGISTRY}/virtkube/{self.name}:{TAG}"

    @property
    def layout(self) -> str:
        """The layout's folder relative to the launcher's build folder; the registry's
        seeding finds it there (``build/images/*/oci/*/index.json``)."""
        return f"oci/{self.name}"

    @property
    def manifest(self) -> str:
        """Its manifest.json (ref, digests), relative to the launcher's build folder."""
        return f"{self.name}/manifest.json"


#: The modules are src/virtkube/{apiserver,controller,handler}/__main__.py.
COMPONENTS = (
    Component("virt-api", "virtkube.apiserver", user="1001"),
    Component("virt-controller", "virtkube.controller", user="1001"),
    Component("virt-handler", "virtkube.handler", user="0"),
)
COMPONENT_LABEL = "io.virtkube.component"


def run_config(base: dict[str, Any], component: Component) -> dict[str, Any]:
    """The launcher's run config (its Env, WorkingDir) with the component's Entrypoint, run
    by the same venv python, and its user."""
    python = base["Entrypoint"][0]
    return {**base, "Entrypoint": [python, "-m", component.module], "User": component.user}


def image_config(base: dict[str, Any], component: Component) -> dict[str, Any]:
    """The launcher's image config made the component's: the same rootfs (diff_ids), so the
    same layer; labels naming the component. ``base`` is the launcher's config blob."""
    labels = {**base["config"].get("Labels", {}),
              "org.opencontainers.image.title": component.name, COMPONENT_LABEL: component.name}
    history = [{**h, "created_by": f"virtkube images.components {component.name}"}
               for h in base["history"]]
    return {**base, "config": {**run_config(base["config"], component), "Labels": labels},
            "history": history}


def image_manifest(base: dict[str, Any], config_desc: dict[str, Any]) -> dict[str, Any]:
    """The launcher's manifest with the component's config: the layer descriptors (digest,
    size) are the launcher's own."""
    return {**base, "config": {"mediaType": oci.MEDIA_CONFIG, **config_desc}}


def _read_blob(layout: Path, digest: str) -> Any:
    """A JSON blob (manifest, config) of a layout. Blobs are written with oci's own helpers
    (``_blob``, ``_json``), so the bytes and digests follow the launcher's exactly."""
    return json.loads((layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes())


@dataclass(frozen=True)
class WrittenComponent:
    """What write_component made: what the component's manifest.json records."""

    component: Component
    layout: Path
    manifest_digest: str
    config_digest: str
    layer_digests: list[str]
    entrypoint: list[str]


def write_component(base_layout: Path, out: Path, component: Component) -> WrittenComponent:
    """Write ``component``'s layout under ``out`` (the launcher's build folder) from the
    launcher layout ``base_layout``, its layers hard-linked (copied across file systems)."""
    (entry,) = json.loads((base_layout / "index.json").read_text())["manifests"]
    base_manifest = _read_blob(base_layout, entry["digest"])
    base_config = _read_blob(base_layout, base_manifest["config"]["digest"])
    layout = out / component.layout
    if layout.exists():
        shutil.rmtree(layout)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (layout / "oci-layout").write_bytes(oci._json({"imageLayoutVersion": "1.0.0"}))
    layers = [str(layer["digest"]) for layer in base_manifest["layers"]]
    for digest in layers:
        name = digest.split(":", 1)[1]
        try:
            os.link(base_layout / "blobs" / "sha256" / name, blobs / name)
        except OSError:
            shutil.copy2(base_layout / "blobs" / "sha256" / name, blobs / name)
    config = image_config(base_config, component)
    config_desc = oci._blob(layout, data=oci._json(config))
    manifest = image_manifest(base_manifest, config_desc)
    manifest_desc = {"mediaType": oci.MEDIA_MANIFEST, **oci._blob(layout, data=oci._json(manifest))}
    index = {
        "schemaVersion": 2,
        "mediaType": oci.MEDIA_INDEX,
        "manifests": [{**manifest_desc, "platform": entry["platform"],
                       "annotations": {oci.REF_NAME: TAG, oci.IMAGE_NAME: component.ref}}],
    }
    (layout / "index.json").write_bytes(oci._json(index))
    return WrittenComponent(component, layout, str(manifest_desc["digest"]),
                            str(config_desc["digest"]), layers,
                            list(config["config"]["Entrypoint"]))


def component_manifest(written: WrittenComponent, *, key: str, base_ref: str,
                       base_digest: str) -> dict[str, Any]:
    """What its manifest.json records, so that a deployment can name the image by digest."""
    c = written.component
    return {
        "key": key,
        "ref": c.ref,
        "layout": c.layout,
        "manifestDigest": written.manifest_digest,
        "configDigest": written.config_digest,
        "layerDigests": written.layer_digests,
        "entrypoint": written.entrypoint,
        "user": c.user,
        "base": f"{base_ref}@{base_digest}",
    }


def write_components(base_layout: Path, out: Path, *, key: str, base_ref: str,
                     base_digest: str) -> dict[str, str]:
    """Every component's layout and manifest.json under ``out``; returns ref -> digest."""
    refs: dict[str, str] = {}
    for component in COMPONENTS:
        written = write_component(base_layout, out, component)
        doc = component_manifest(written, key=key, base_ref=base_ref, base_digest=base_digest)
        path = out / component.manifest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
        refs[component.ref] = written.manifest_digest
    return refs
