"""The local OCI registry the real nodes pull from: Debian's docker-registry (distribution v2).

Pods run from OCI images, and no image can be downloaded here, so the cluster serves its own:
one docker-registry per cluster home, its storage under the home, listening on loopback only
(the nodes' containerd runs in the host's network namespace, so 127.0.0.1 reaches it and
nothing off the machine does). KubeVirt's examples name their images `registry:5000/...`;
containerd resolves that name to the registry through its registry host configuration
(`<hosts_dir>/registry:5000/hosts.toml`), never through the host's /etc/hosts, so nothing
outside the cluster's home changes.

Here: the registry's config, its argv and containerd's hosts.toml files (pure), and what
`virtkube up` seeds it with; virtkube.local.ocipush pushes the layouts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from virtkube.local.ocipush import (
    REF_NAME,
    PushStats,
    RegistryError,
    SeedImage,
    layout_manifest,
    manifest_digest,
    push_layout,
    seed,
    split_ref,
    wait_ready,
)
from virtkube.local.paths import images_dir

#: The supervised component's name (its log is logs/registry.log).
NAME = "registry"
#: Debian's docker-registry package (hack/apt-packages.txt).
BINARY = Path("/usr/bin/docker-registry")
#: The name KubeVirt's examples (and the nodes' sandbox image) use for the registry.
REGISTRY_NAME = "registry:5000"
#: Where the registry listens: containerd of every node shares the host's loopback.
LISTEN_ADDRESS = "127.0.0.1"
#: Used when the cluster's config has no registry port yet (ports.registry absent or 0).
DEFAULT_PORT = 5000

#: containerd's name for an image of a layout (images/oci.py writes it for the node images).
IMAGE_NAME = "io.containerd.image.name"

# What `virtkube up` seeds. The layouts are images/build.py's and images/utility.py's; the
# names are repeated here (virtkube must not import the build tools) and a unit test checks
# that they agree.
GUEST_LAYOUT = Path("oci/virtkube/tiny-guest")
KERNEL_LAYOUT = Path("oci/virtkube/tiny-kernel")
UTILITY_LAYOUT = Path("node/oci/utility")
PAUSE_LAYOUT = Path("node/oci/pause")
GUEST_REF = f"{REGISTRY_NAME}/virtkube/tiny-guest:latest"
KERNEL_REF = f"{REGISTRY_NAME}/virtkube/tiny-kernel:latest"
UTILITY_REF = f"{REGISTRY_NAME}/virtkube/utility:dev"
PAUSE_REF = f"{REGISTRY_NAME}/virtkube/pause:dev"
#: KubeVirt's example images, served by virtkube's own test guests (not the originals).
KUBEVIRT_EXAMPLE_GUESTS = (
    f"{REGISTRY_NAME}/kubevirt/cirros-container-disk-demo:devel",
    f"{REGISTRY_NAME}/kubevirt/fedora-with-test-tooling-container-disk:devel",
    f"{REGISTRY_NAME}/kubevirt/alpine-container-disk-demo:devel",
)
KUBEVIRT_EXAMPLE_KERNELS = (f"{REGISTRY_NAME}/kubevirt/alpine-ext-kernel-boot-demo:devel",)




# ---------------------------------------------------------------------------------------
# Pure: the registry's files and command line, containerd's hosts.toml
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryDirs:
    """The registry's state under the cluster's home, so `down --purge` takes it along."""

    home_root: Path

    @property
    def root(self) -> Path:
        return self.home_root / "registry"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def config(self) -> Path:
        return self.root / "config.yml"


def url(port: int) -> str:
    """The registry's address for this host's clients (the seeder, containerd)."""
    return f"http://{LISTEN_ADDRESS}:{port}"


def config_dict(dirs: RegistryDirs, port: int) -> dict[str, Any]:
    """docker-registry's configuration (distribution v2.8, config version 0.1)."""
    return {
        "version": 0.1,
        # Warnings and errors only: no line per request (the access log is not levelled).
        "log": {"level": "warn", "accesslog": {"disabled": True},
                "fields": {"service": "registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(dirs.storage)},
            # Re-seeding a changed image replaces its tag; deletes let a later GC step clean.
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {
            "addr": f"{LISTEN_ADDRESS}:{port}",
            # Signs upload state; stable per home so an upload survives a registry restart
            # (and no "generated random secret" warning each start). Loopback only, no auth.
            "secret": hashlib.sha256(f"virtkube-registry:{dirs.home_root}".encode())
            .hexdigest()[:32],
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }


def config_yaml(dirs: RegistryDirs, port: int) -> str:
    return ("# Rendered by virtkube.local.registry; rewritten at each start.\n"
            + yaml.safe_dump(config_dict(dirs, port), sort_keys=False))


def argv(dirs: RegistryDirs, binary: Path = BINARY) -> tuple[str, ...]:
    """The supervised process; it names the home (its config path), so
    procs.processes_mentioning finds it after a crash."""
    return (str(binary), "serve", str(dirs.config))


def write_config(dirs: RegistryDirs, port: int) -> Path:
    """Create the storage folder and (re)write the config; returns the config's path."""
    dirs.storage.mkdir(parents=True, exist_ok=True)
    dirs.config.write_text(config_yaml(dirs, port))
    return dirs.config


def hosts_toml(port: int) -> str:
    """containerd's host configuration for a name served by the registry. containerd 2.x
    speaks plain HTTP only to a host given with the http:// scheme; `server` is the same
    address, so a failed pull never falls back to resolving the name itself."""
    u = url(port)
    return f"""\
# Rendered by virtkube.local.registry: the cluster's registry, plain HTTP on loopback.
server = "{u}"

[host."{u}"]
  capabilities = ["pull", "resolve"]
"""


def hosts_files(port: int) -> dict[str, str]:
    """Folder name under containerd's config_path -> its hosts.toml: `registry:5000` (the
    name images use) and the registry's own loopback address (else containerd would try
    HTTPS there)."""
    text = hosts_toml(port)
    return {REGISTRY_NAME: text, f"{LISTEN_ADDRESS}:{port}": text}


def write_hosts(hosts_dir: Path, port: int) -> list[Path]:
    """Render hosts_files into `hosts_dir` (a node's containerd config_path, which is the
    node's own: folders of an earlier port are removed). Returns the files written."""
    files = hosts_files(port)
    hosts_dir.mkdir(parents=True, exist_ok=True)
    for stale in hosts_dir.iterdir():
        if stale.name not in files and stale.is_dir():
            shutil.rmtree(stale)
    written = []
    for name, text in sorted(files.items()):
        path = hosts_dir / name / "hosts.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def port_of(cfg: object) -> int:
    """The registry port of a ClusterConfig: `ports.registry` once config.py has it, else
    DEFAULT_PORT (a config written before the registry joined the cluster)."""
    return int(getattr(getattr(cfg, "ports", None), "registry", 0) or DEFAULT_PORT)


# ---------------------------------------------------------------------------------------
# What `virtkube up` seeds
# ---------------------------------------------------------------------------------------


def images_root() -> Path:
    """build/images of the checkout ($VIRTKUBE_IMAGES overrides), as images/paths.py."""
    return images_dir()


def _self_named(root: Path) -> list[SeedImage]:
    """Layouts under `root/*/oci/*` whose index names the image for the registry (as
    images/oci.py's image_name does): the launcher image once it is built, and whatever
    image a builder adds later, without this list naming them."""
    found = []
    for index in sorted(root.glob("*/oci/*/index.json")):
        try:
            doc = json.loads(index.read_text())
        except (OSError, ValueError):
            continue
        for m in doc.get("manifests") or []:
            name = (m.get("annotations") or {}).get(IMAGE_NAME, "")
            if name.startswith(REGISTRY_NAME + "/"):
                found.append(SeedImage(index.parent, name, (m.get("annotations") or {})
                                       .get(REF_NAME)))
    return found


def seed_list(root: Path | None = None) -> list[SeedImage]:
    """The test guests under KubeVirt's example names and virtkube's own (required: `make
    guest-images node-images`), then every other image built under `root` that names
    itself for the registry (the virt-launcher image, optional)."""
    root = images_root() if root is None else root
    guest, kernel = root / GUEST_LAYOUT, root / KERNEL_LAYOUT
    images = [SeedImage(guest, ref) for ref in (*KUBEVIRT_EXAMPLE_GUESTS, GUEST_REF)]
    images += [SeedImage(kernel, ref) for ref in (*KUBEVIRT_EXAMPLE_KERNELS, KERNEL_REF)]
    images += [SeedImage(root / UTILITY_LAYOUT, UTILITY_REF),
               SeedImage(root / PAUSE_LAYOUT, PAUSE_REF)]
    named = {i.ref for i in images}
    images += [i for i in _self_named(root) if i.ref not in named]
    return images


__all__ = ["REF_NAME", "PushStats", "RegistryError", "SeedImage", "layout_manifest",
           "manifest_digest", "push_layout", "seed", "split_ref", "wait_ready"]
