"""``make launcher-image``: the virt-launcher OCI image, from Debian packages and our own wheel.

Launcher pods on real nodes run this image, so what the launcher needs at run time must
be in it and nothing of the host may leak in. The root file system is Debian bookworm
made by mmdebstrap (variant ``essential`` plus :data:`PACKAGES`, no recommends, no docs
or man pages), with a venv at ``/opt/virtkube`` holding the project's wheel and its
runtime dependencies at the versions the checkout's ``.venv`` runs, and the user and
group ``qemu`` (107:107) that KubeVirt's image has.

mmdebstrap reads the host's own apt lists (no ``apt-get update`` of its own), so the
hash of those lists' InRelease files pins every package version the build can resolve;
that hash, the wheel's inputs (``src/virtkube``, pyproject.toml), the pinned wheels and
this builder's files form the cache key. A build goes to
``${XDG_CACHE_HOME:-~/.cache}/virtkube/images/launcher/<key>/`` and is published (hard
links) to ``build/images/launcher/``; an unchanged key is a no-op.

Reproducible: SOURCE_DATE_EPOCH for mmdebstrap, hash-checked .pyc files compiled with a
fixed hash seed, and the layer written by :func:`images.oci.tar_tree` (fixed mtimes,
sorted, numeric owners): the same inputs give the same manifest digest.

The same build writes the virt-api, virt-controller and virt-handler images from this
image's layer (images/components.py): one root file system, four image configs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from images import cache, components, oci
from images.build import publish
from images.paths import REPO_ROOT, cache_root, images_dir
from images.utility import REGISTRY, SOURCE_DATE_EPOCH, TAG

HERE = Path(__file__).resolve().parent
#: Bump to force a rebuild when something outside the hashed inputs changes.
FORMAT_VERSION = 1
LAUNCHER_REF = f"{REGISTRY}/virtkube/virt-launcher:{TAG}"
ARCHIVE = "virt-launcher.tar"
LAYOUT = "oci/virt-launcher"
SUITE = "bookworm"
#: The apt sources of the image; the host's lists for them must be current.
SOURCES = (
    ("http://deb.debian.org/debian", "bookworm"),
    ("http://deb.debian.org/debian", "bookworm-updates"),
    ("http://deb.debian.org/debian-security", "bookworm-security"),
)
#: What the launcher runs: python3 for itself, QEMU and its firmware (SeaBIOS by default,
#: OVMF for EFI, iPXE option ROMs for NICs), qemu-img, dnsmasq for the guest's DHCP. The
#: component images share this root file system (images/components.py): virt-handler runs
#: ``ip``, ``nft`` and ``sysctl`` in launcher pods' network namespaces through ``nsenter``
#: (virtkube.handler.network.netns; nsenter is util-linux, which is essential).
PACKAGES = (
    "python3", "qemu-system-x86", "qemu-utils", "ovmf", "seabios", "ipxe-qemu",
    "dnsmasq-base", "iproute2", "nftables", "procps",
)  # fmt: skip
#: usrmerge, apt's first choice for init-system-helpers, pulls in perl (~70 MB); the
#: file system is merged from the start (mmdebstrap's merged-usr hooks), so the image
#: takes usr-is-merged instead.
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
APT_PREFERENCES = "etc/apt/preferences.d/virtkube-no-usrmerge"
NO_USRMERGE = "Package: usrmerge\nPin: release *\nPin-Priority: -1\n"
#: Left out by dpkg as packages unpack (copyright files stay: the licences travel along).
PATH_EXCLUDES = (
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*", "path-exclude=/usr/share/lintian/*",
)  # fmt: skip
#: Left over by installing, different in every build or of no use in a container.
CLEANUP = (
    "var/lib/apt/lists", "var/cache/apt", "var/cache/ldconfig/aux-cache", "var/log/apt",
    "var/log/dpkg.log", "var/log/alternatives.log", "var/cache/debconf/config.dat-old",
    "var/cache/debconf/templates.dat-old", "var/lib/dpkg/status-old",
    "var/lib/dpkg/diversions-old", "etc/machine-id", "tmp/wheels", APT_PREFERENCES,
)  # fmt: skip
VENV = "/opt/virtkube"
PYTHON = f"{VENV}/bin/python"
#: KubeVirt's virt-launcher runs QEMU as qemu, uid/gid 107.
QEMU_UID = 107
PATH_ENV = f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: User 0 for now: the launcher still needs root for tap devices and /dev/kvm as the
#: nodes give them today. KubeVirt runs it as 107 (issue 12, step 3: the device plugin).
RUN_CONFIG: dict[str, Any] = {
    "Entrypoint": [PYTHON, "-m", "virtkube.launcher"],
    "Env": [PATH_ENV],
    "User": "0",
    "WorkingDir": "/",
}
#: How many cache entries (builds with other keys) to keep: each is ~200 MB.
KEEP_CACHED = 2


class BuildError(RuntimeError):
    """A step of the build failed; the message names it."""


def log(msg: str) -> None:
    print(f"[launcher-image] {msg}", file=sys.stderr, flush=True)


def launcher_dir() -> Path:
    """The published build: ``build/images/launcher`` (``$VIRTKUBE_IMAGES`` moves it)."""
    return images_dir() / "launcher"


def launcher_layout() -> Path:
    """The OCI layout holding :data:`LAUNCHER_REF` (tag ``dev``), for pushing to a registry."""
    return launcher_dir() / LAYOUT


def launcher_archive() -> Path:
    """One OCI archive of the image, for ``ctr -n k8s.io images import``."""
    return launcher_dir() / ARCHIVE


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[Wheel]:
    """The closure of virtkube's runtime dependencies, at the versions this venv runs.

    Pinning to the venv (which ``make deps`` installs and the tests run against) makes
    the image run what was tested, and keeps PyPI's newest releases out of the key."""
    project = tomllib.loads(pyproject.read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    found: dict[str, Wheel] = {}
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in found:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError as exc:
            raise BuildError(f"{req.name} is not installed in this venv: run `make deps`") from exc
        found[name] = Wheel(name, dist.version)
        extras = ("", *req.extras)
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    pip = metadata.distribution("pip")
    found["pip"] = Wheel("pip", pip.version)
    return sorted(found.values(), key=lambda w: w.name)


def _wheel_prefix(w: Wheel) -> str:
    return f"{w.name.replace('-', '_')}-{w.version}-".lower()


def fetch_wheels(wheels: list[Wheel], into: Path) -> list[Path]:
    """The wheels for ``wheels`` (cp311, this platform), fetched once into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    have = {p.name.lower(): p for p in into.glob("*.whl")}

    def present(w: Wheel) -> Path | None:
        prefix = _wheel_prefix(w)
        return next((p for n, p in sorted(have.items()) if n.startswith(prefix)), None)

    missing = [w for w in wheels if present(w) is None]
    if missing:
        log(f"fetching {len(missing)} wheels: {' '.join(w.spec for w in missing)}")
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir",
              str(into), *(w.spec for w in missing)], what="pip wheel")
        have = {p.name.lower(): p for p in into.glob("*.whl")}
    out = []
    for w in wheels:
        path = present(w)
        if path is None:
            raise BuildError(f"pip wheel {w.spec} left no {_wheel_prefix(w)}*.whl in {into}")
        out.append(path)
    return out


def wheel_sources() -> list[Path]:
    """What the project's wheel is built from: pyproject.toml, the README and src/."""
    files = [REPO_ROOT / "pyproject.toml", REPO_ROOT / "README.md"]
    files += sorted(p for p in (REPO_ROOT / "src").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts
                    and ".egg-info" not in p.as_posix())
    return files


def build_project_wheel(into: Path) -> Path:
    """Build virtkube's wheel from a copy of its sources, so the checkout gains no build/
    or egg-info of its own."""
    with tempfile.TemporaryDirectory(prefix="virtkube-wheel-") as tmp:
        src = Path(tmp) / "src"
        for path in wheel_sources():
            dest = src / path.relative_to(REPO_ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
              "--wheel-dir", str(into), str(src)], what="building virtkube's wheel")
    found = sorted(into.glob("virtkube-*.whl"))
    if len(found) != 1:
        raise BuildError(f"expected one virtkube wheel in {into}, found {found}")
    return found[0]


def _run(argv: list[str], *, what: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise BuildError(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc.stdout


def apt_list_prefix(uri: str, suite: str) -> str:
    """apt's file name for a source's lists: the URI without scheme, '/' as '_'."""
    return re.sub(r"^[a-z]+://", "", uri).rstrip("/").replace("/", "_") + f"_dists_{suite}_"


def apt_lists(lists_dir: Path = Path("/var/lib/apt/lists")) -> list[Path]:
    """The host's InRelease and Packages files of :data:`SOURCES`; these are what the
    image's packages resolve against."""
    out: list[Path] = []
    for uri, suite in SOURCES:
        prefix = apt_list_prefix(uri, suite)
        release = lists_dir / f"{prefix}InRelease"
        packages = sorted(lists_dir.glob(f"{prefix}main_binary-amd64_Packages*"))
        if not release.exists() or not packages:
            raise BuildError(f"no apt lists for {uri} {suite} in {lists_dir}: "
                             "run `apt-get update` first")
        out += [release, *packages]
    return out


def host_tool_version(package: str) -> str:
    return _run(["dpkg-query", "-W", "-f", "${Version}", package], what=f"dpkg-query {package}")


@dataclass(frozen=True)
class Inputs:
    lists: list[Path]
    wheels: list[Wheel]
    mmdebstrap: str
    gcc: str = ""

    def key(self) -> str:
        h = hashlib.sha256()
        doc = {
            "format": FORMAT_VERSION, "suite": SUITE, "sources": SOURCES, "packages": PACKAGES,
            "excludes": PATH_EXCLUDES, "wheels": [w.spec for w in self.wheels],
            "mmdebstrap": self.mmdebstrap, "gcc": self.gcc, "zlib": zlib.ZLIB_RUNTIME_VERSION,
            "config": RUN_CONFIG, "ref": LAUNCHER_REF,
            "components": [(c.name, c.module, c.user) for c in components.COMPONENTS],
        }  # fmt: skip
        h.update(json.dumps(doc, sort_keys=True).encode())
        for path in self.lists:
            if path.name.endswith("InRelease"):  # it signs the Packages files' hashes
                h.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        # What shapes the image (utility.py: the registry, tag and epoch it shares).
        builder = [*(HERE / n for n in ("launcher.py", "components.py", "oci.py", "utility.py")),
                   CONTAINER_DISK_SOURCE]
        for path in [*builder, *wheel_sources()]:
            h.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
            h.update(str(os.access(path, os.X_OK)).encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
        return h.hexdigest()[:20]


def resolve_inputs() -> Inputs:
    return Inputs(lists=apt_lists(), wheels=runtime_requirements(),
                  mmdebstrap=host_tool_version("mmdebstrap"), gcc=host_tool_version("gcc-12"))


#: The program of every containerDisk container (KubeVirt's container-disk): the launcher
#: pod's init container copies it from this image (virtkube.controller.launcherpod).
CONTAINER_DISK_SOURCE = HERE / "containerdisk" / "container-disk.c"
CONTAINER_DISK = "usr/bin/container-disk"


def build_container_disk(rootfs: Path) -> None:
    """Static, so that it runs in a disk's image, which has no libc (FROM scratch)."""
    _run(["gcc", "-static", "-Os", "-s", "-o", str(rootfs / CONTAINER_DISK),
          str(CONTAINER_DISK_SOURCE)], what="gcc container-disk.c")


def mmdebstrap_argv(rootfs: Path, *, lists: list[Path], debs: Path, wheels: Path,
                    pip_wheel: str) -> list[str]:
    """The mmdebstrap command: the host's lists in, the .deb cache shared across builds,
    and the venv made inside the new root (its own python3 runs pip from pip's wheel, so
    the image gets no pip of its own)."""
    q = shlex.quote
    pip = f"/tmp/wheels/{pip_wheel}/pip"
    env = f"env PYTHONHASHSEED=0 SOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH} PYTHONDONTWRITEBYTECODE=1"
    copy_lists = " ".join(q(str(p)) for p in lists)
    hooks = [
        ("--setup-hook", f'mkdir -p "$1/var/lib/apt/lists" "$1/var/cache/apt/archives" '
                         f'&& cp {copy_lists} "$1/var/lib/apt/lists/"'),
        ("--setup-hook", f'mkdir -p "$1/{os.path.dirname(APT_PREFERENCES)}" && printf '
                         f'{q(NO_USRMERGE)} > "$1/{APT_PREFERENCES}"'),
        ("--setup-hook", f"sync-in {q(str(debs))} /var/cache/apt/archives/"),
        ("--customize-hook", f"sync-out /var/cache/apt/archives {q(str(debs))}"),
        ("--customize-hook", f'mkdir -p "$1/tmp/wheels" && cp {q(str(wheels))}/*.whl '
                             '"$1/tmp/wheels/"'),
        ("--customize-hook", f'chroot "$1" {env} python3 -m venv --without-pip {VENV}'),
        ("--customize-hook", f'chroot "$1" {env} {PYTHON} {pip} install -q --no-index '
                             "--no-compile --no-cache-dir --disable-pip-version-check "
                             "--find-links /tmp/wheels virtkube"),
        # Hash-checked .pyc: no source mtime inside, so rebuilds give the same bytes.
        ("--customize-hook", f'chroot "$1" env PYTHONHASHSEED=0 {PYTHON} -m compileall -q '
                             f"--invalidation-mode checked-hash {VENV}/lib"),
    ]
    argv = [
        "mmdebstrap", "--mode=root", "--format=directory", "--variant=essential",
        f"--include={','.join(PACKAGES)}", "--aptopt=APT::Install-Recommends \"false\"",
        *(f"--dpkgopt={o}" for o in PATH_EXCLUDES),
        "--skip=update", "--skip=download/empty", "--skip=essential/unlink",
        f"--hook-dir={MERGED_USR_HOOKS}",
    ]
    for flag, hook in hooks:
        argv += [flag, hook]
    argv += [SUITE, str(rootfs)]
    argv += [f"deb {uri} {suite} main" for uri, suite in SOURCES]
    return argv


def add_qemu_user(rootfs: Path) -> None:
    """KubeVirt's image has qemu:qemu as 107:107; files it owns and its processes use it."""
    etc = rootfs / "etc"
    entries = {
        "passwd": f"qemu:x:{QEMU_UID}:{QEMU_UID}:qemu user:/var/lib/qemu:/usr/sbin/nologin",
        "group": f"qemu:x:{QEMU_UID}:",
        "shadow": "qemu:!:19723::::::",
        "gshadow": "qemu:!::",
    }
    for name, line in entries.items():
        path = etc / name
        if not path.exists():
            continue
        text = path.read_text()
        if not any(ln.startswith("qemu:") for ln in text.splitlines()):
            path.write_text(text + ("" if text.endswith("\n") or not text else "\n") + line + "\n")
    home = rootfs / "var/lib/qemu"
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, QEMU_UID, QEMU_UID)


def clean(rootfs: Path) -> None:
    for rel in CLEANUP:
        path = rootfs / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    for rel in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial"):
        (rootfs / rel).mkdir(parents=True, exist_ok=True)


def packages(rootfs: Path) -> dict[str, str]:
    """The installed packages and versions, as dpkg recorded them in the image."""
    out = _run(["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W",
                "-f", "${Package}\t${Version}\n"], what="dpkg-query in the image")
    return dict(sorted(line.split("\t", 1) for line in out.splitlines() if line))


def _du(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        st = path.lstat()
        if path.is_file() and not path.is_symlink():
            total += st.st_size
    return total


def build_into(out: Path, inputs: Inputs, *, key: str, debs: Path, wheels_cache: Path) -> None:
    """Build the image into the empty folder ``out``."""
    scratch = out / ".scratch"
    wheels = scratch / "wheels"
    wheels.mkdir(parents=True)
    log("wheels: virtkube and its runtime dependencies")
    for path in fetch_wheels(inputs.wheels, wheels_cache):
        shutil.copy2(path, wheels / path.name)
    project_wheel = build_project_wheel(wheels)
    pip_wheel = next(p.name for p in wheels.glob("pip-*.whl"))
    rootfs = scratch / "rootfs"
    debs.mkdir(parents=True, exist_ok=True)
    argv = mmdebstrap_argv(rootfs, lists=inputs.lists, debs=debs, wheels=wheels,
                           pip_wheel=pip_wheel)
    log(f"mmdebstrap {SUITE}: {', '.join(PACKAGES)} (the first build downloads ~90 MB)")
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
    started = time.monotonic()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env) as proc:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith(("I: ", "E: ", "W: ")):
                shown = line.rstrip()
                log(f"  {time.monotonic() - started:5.0f}s {shown[:140]}"
                    f"{'...' if len(shown) > 140 else ''}")
    if proc.returncode != 0:
        raise BuildError("mmdebstrap failed:\n" + "\n".join(lines[-30:]))
    add_qemu_user(rootfs)
    build_container_disk(rootfs)
    clean(rootfs)
    installed = packages(rootfs)
    unpacked = _du(rootfs)
    log(f"layer: {len(installed)} packages, {unpacked / 2**20:.0f} MiB unpacked")
    labels = {
        "org.opencontainers.image.version": TAG,
        "org.opencontainers.image.title": "virt-launcher",
        "io.virtkube.python3": installed.get("python3.11", ""),
        "io.virtkube.qemu": installed.get("qemu-system-x86", ""),
    }
    written = oci.write_image(out / LAYOUT, [], tree=rootfs, ref=TAG, mtime=SOURCE_DATE_EPOCH,
                              labels=labels, run_config=RUN_CONFIG, image_name=LAUNCHER_REF,
                              created_by="virtkube images.launcher")
    log(f"component images: {', '.join(c.name for c in components.COMPONENTS)} (same layer)")
    refs = components.write_components(written.layout, out, key=key, base_ref=LAUNCHER_REF,
                                       base_digest=written.manifest_digest)
    log("archive for ctr images import")
    oci.write_archive([written.layout], out / ARCHIVE, mtime=SOURCE_DATE_EPOCH)
    shutil.rmtree(scratch)
    layer_size = (out / LAYOUT / "blobs" / "sha256" / written.layer_digest.split(":")[1]).stat()
    manifest = {
        "key": key,
        "ref": LAUNCHER_REF,
        "layout": LAYOUT,
        "archive": ARCHIVE,
        "manifestDigest": written.manifest_digest,
        "layerDigest": written.layer_digest,
        "compressedBytes": layer_size.st_size,
        "unpackedBytes": unpacked,
        "images": {LAUNCHER_REF: written.manifest_digest, **refs},
        "wheel": project_wheel.name,
        "wheels": [w.spec for w in inputs.wheels],
        "packages": installed,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def cached_build(inputs: Inputs, *, root: Path | None = None, force: bool = False) -> Path:
    """The cache folder for ``inputs``, building it first unless it is complete."""
    root = root or cache_root() / "launcher"
    key = inputs.key()
    return cache.cached(
        root, key,
        lambda work: build_into(work, inputs, key=key, debs=root / "debs",
                                wheels_cache=root / "wheels"),
        keep=KEEP_CACHED, log=log, force=force)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images.launcher",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--cache", type=Path, default=None,
                        help="build cache (default: ~/.cache/virtkube/images/launcher)")
    parser.add_argument("--out", type=Path, default=None,
                        help="publish here (default: build/images/launcher)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    dest: Path = args.out or launcher_dir()
    try:
        inputs = resolve_inputs()
        key = inputs.key()
        have = dest / "manifest.json"
        if have.exists() and json.loads(have.read_text()).get("key") == key and not args.force:
            log(f"up to date: {dest} (key {key})")
            return 0
        built = cached_build(inputs, root=args.cache, force=args.force)
    except (BuildError, OSError) as exc:
        log(f"error: {exc}")
        return 1
    publish(built, dest)
    doc = json.loads((dest / "manifest.json").read_text())
    log(f"published {dest} in {time.monotonic() - started:.1f}s: {LAUNCHER_REF}@"
        f"{doc['manifestDigest']} ({doc['compressedBytes'] / 2**20:.0f} MiB compressed, "
        f"{doc['unpackedBytes'] / 2**20:.0f} MiB unpacked)")
    for ref, digest in doc["images"].items():
        if ref != LAUNCHER_REF:
            log(f"  and {ref}@{digest} (the same layer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
