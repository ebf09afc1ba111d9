"""``make node-images``: the small images a real node needs, from Debian's busybox-static.

Two images share one layer (``/bin/busybox`` and a symlink per applet, as busybox lists
them): ``utility`` (a shell and the usual tools, for tests and debugging) and ``pause``,
the pod sandbox image of the nodes' containerd (see
virtkube.local.realnode.config.SANDBOX_IMAGE), so that no node ever needs
registry.k8s.io. The sandbox only has to sit there: containerd stops it with SIGKILL.

Reproducible: fixed mtimes, sorted archives, inputs named by the exact package version; the
same busybox gives the same digests. Written to ``build/images/node/``: an OCI layout per
image under ``oci/`` and ``node-images.tar``, one OCI archive with both for
``ctr -n k8s.io images import`` (a local registry comes later).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from images import debs, oci
from images.initramfs import busybox_links
from images.paths import cache_root, images_dir

#: Fixed timestamp of every entry (2024-01-01), as images.build.
SOURCE_DATE_EPOCH = 1704067200
REGISTRY = "registry:5000"
TAG = "dev"
UTILITY_REF = f"{REGISTRY}/virtkube/utility:{TAG}"
PAUSE_REF = f"{REGISTRY}/virtkube/pause:{TAG}"
ARCHIVE = "node-images.tar"
PATH_ENV = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"


def log(msg: str) -> None:
    print(f"[node-images] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Built:
    utility_digest: str
    pause_digest: str
    archive: Path


def layer(busybox: Path, links: list[str]) -> tuple[list[oci.LayerFile], tuple[oci.LayerLink, ...]]:
    """/bin/busybox and one relative symlink per applet path (``usr/bin/wc`` ->
    ``../../bin/busybox``); the applet list comes from the binary, so it is an input too."""
    files = [oci.LayerFile("/bin/busybox", busybox, mode=0o755)]
    out: list[oci.LayerLink] = []
    for rel in sorted(set(links)):
        if rel == "bin/busybox":
            continue
        depth = rel.count("/")
        out.append(oci.LayerLink("/" + rel, "../" * depth + "bin/busybox"))
    return files, tuple(out)


def build(busybox: Path, links: list[str], out: Path, *, version: str) -> Built:
    """Write both images and the archive into ``out`` (replaced)."""
    files, symlinks = layer(busybox, links)
    labels = {"org.opencontainers.image.version": version}
    utility = oci.write_image(
        out / "oci" / "utility", files, ref=TAG, mtime=SOURCE_DATE_EPOCH, labels=labels,
        links=symlinks, image_name=UTILITY_REF,
        run_config={"Env": [PATH_ENV], "Cmd": ["/bin/sh"]})
    pause = oci.write_image(
        out / "oci" / "pause", files, ref=TAG, mtime=SOURCE_DATE_EPOCH, labels=labels,
        links=symlinks, image_name=PAUSE_REF,
        run_config={"Env": [PATH_ENV], "Entrypoint": ["/bin/sleep", "2147483647"]})
    archive = out / ARCHIVE
    oci.write_archive([utility.layout, pause.layout], archive, mtime=SOURCE_DATE_EPOCH)
    (out / "manifest.json").write_text(json.dumps({
        "busybox": version, "builder": builder_hash(), "archive": ARCHIVE,
        "images": {UTILITY_REF: utility.manifest_digest, PAUSE_REF: pause.manifest_digest},
    }, indent=2) + "\n")
    return Built(utility.manifest_digest, pause.manifest_digest, archive)


def builder_hash() -> str:
    """The code that shapes the output: a change rebuilds."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("utility.py", "oci.py", "initramfs.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def node_images_dir() -> Path:
    return images_dir() / "node"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images.utility",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="write here (default: build/images/node)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    out: Path = args.out or node_images_dir()
    try:
        deb = debs.candidate("busybox-static")
        manifest = out / "manifest.json"
        want = {"busybox": deb.spec, "builder": builder_hash()}
        have = json.loads(manifest.read_text()) if manifest.exists() else {}
        if all(have.get(k) == v for k, v in want.items()) and (out / ARCHIVE).exists():
            log(f"up to date: {out} ({deb.spec})")
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            root = debs.extract(debs.download(deb, cache_root() / "debs"), Path(tmp) / "bb")
            busybox = root / "bin" / "busybox"
            work = out.with_name(out.name + ".tmp")
            shutil.rmtree(work, ignore_errors=True)
            built = build(busybox, busybox_links(busybox), work, version=deb.spec)
        shutil.rmtree(out, ignore_errors=True)
        work.rename(out)
    except (debs.DebError, OSError) as exc:
        log(f"error: {exc}")
        return 1
    log(f"built {out} in {time.monotonic() - started:.1f}s: {UTILITY_REF}@"
        f"{built.utility_digest}, {PAUSE_REF}@{built.pause_digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
