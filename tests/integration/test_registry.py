"""The local registry (issue 12, step 2): Debian's docker-registry on a free loopback port,
seeded with virtkube's images; containerd pulls them by KubeVirt's `registry:5000/...` names
through the hosts.toml that virtkube.local.registry renders, and gets the layouts' digests.

containerd is a throwaway one (the built bin/containerd, CRI off, all state in a temporary
folder) rather than a real node: `ctr images pull --hosts-dir` makes the daemon resolve the
name with the same registry host configuration code the CRI plugin uses with config_path.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.helpers import wait_for
from virtkube.local import registry
from virtkube.local.config import free_port
from virtkube.local.procs import die_with_parent, processes_mentioning, terminate
from virtkube.local.realnode.layout import CRI_NAMESPACE, Binaries, binaries_dir

pytestmark = pytest.mark.integration

#: Plugins a pull needs none of (the CRI plugins would also reach for /run/containerd).
DISABLED_PLUGINS = (
    "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images",
    "io.containerd.podsandbox.controller.v1.podsandbox", "io.containerd.internal.v1.opt",
    "io.containerd.nri.v1.nri", "io.containerd.image-verifier.v1.bindir",
    "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs",
    "io.containerd.differ.v1.erofs", "io.containerd.tracing.processor.v1.otlp",
)
CIRROS = registry.KUBEVIRT_EXAMPLE_GUESTS[0]
KERNEL_BOOT = registry.KUBEVIRT_EXAMPLE_KERNELS[0]


@dataclass(frozen=True)
class Running:
    root: Path
    port: int
    url: str
    images: list[registry.SeedImage]


def mounts_under(root: Path) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(root) in line]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((registry.LISTEN_ADDRESS, port)) == 0


@contextlib.contextmanager
def started(argv: list[str], log: Path, root: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child for the test's duration; afterwards nothing naming `root` may run."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())
    try:
        yield proc
    finally:
        terminate([proc.pid], 10.0)
        proc.wait()
        with contextlib.suppress(AssertionError):
            wait_for(f"no process naming {root}",
                     lambda: not list(processes_mentioning(str(root))), timeout=10)
        left = list(processes_mentioning(str(root)))
        assert not left, f"processes left naming {root}: {left}"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Running, registry.PushStats, float]]:
    """A registry with `seed_list()` pushed once; the first seed's figures."""
    if not registry.BINARY.exists():
        pytest.fail(f"{registry.BINARY} is missing: run hack/install-deps.sh")
    images = registry.seed_list()
    for image in images:
        if not (image.layout / "index.json").exists():
            pytest.fail(f"{image.layout} is missing: run `make guest-images node-images`")
    home = tmp_path_factory.mktemp("registry-home")
    dirs = registry.RegistryDirs(home)
    port = free_port()
    registry.write_config(dirs, port)
    with started(list(registry.argv(dirs)), home / "registry.log", home):
        url = registry.url(port)
        t0 = time.monotonic()
        registry.wait_ready(url, timeout=20)
        ready = time.monotonic() - t0
        t0 = time.monotonic()
        stats = registry.seed(url, images)
        print(f"registry ready in {ready:.2f}s; first seed {time.monotonic() - t0:.2f}s: "
              f"{stats.requests} requests, {stats.blobs_uploaded} blobs "
              f"({stats.bytes_uploaded / 2**20:.1f} MiB), {stats.blobs_mounted} mounted")
        yield Running(home, port, url, images), stats, ready
    assert not port_open(port), f"something still listens on 127.0.0.1:{port}"
    assert not mounts_under(home)


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A containerd of its own; yields its socket."""
    binaries = Binaries(binaries_dir())
    for path in (binaries.containerd, binaries.ctr):
        if not path.exists():
            pytest.fail(f"{path} is missing: run `make noderuntime`")
    root = tmp_path_factory.mktemp("containerd")
    sock = root / "containerd.sock"
    disabled = ", ".join(f'"{p}"' for p in DISABLED_PLUGINS)
    config = root / "config.toml"
    config.write_text(f"""\
version = 4
root = "{root / 'root'}"
state = "{root / 'state'}"
disabled_plugins = [{disabled}]
imports = []
[plugins."io.containerd.server.v1.grpc"]
  address = "{sock}"
[plugins."io.containerd.server.v1.ttrpc"]
  address = "{root / 'containerd.sock.ttrpc'}"
""")
    argv = [str(binaries.containerd), "--config", str(config), "--log-level", "warn"]
    with started(argv, root / "containerd.log", root) as proc:
        wait_for("containerd's socket", lambda: sock.is_socket() or proc.poll() is not None,
                 timeout=30)
        assert proc.poll() is None, (root / "containerd.log").read_text()[-2000:]
        yield sock
    assert not mounts_under(root), mounts_under(root)


def ctr(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Binaries(binaries_dir()).ctr), "--address", str(sock),
                           "-n", CRI_NAMESPACE, *args],
                          capture_output=True, text=True, check=False, timeout=120)


def pulled_digests(sock: Path) -> dict[str, str]:
    """ref -> manifest digest of the images containerd has (`ctr images ls`)."""
    res = ctr(sock, "images", "ls")
    assert res.returncode == 0, res.stderr
    rows = [line.split() for line in res.stdout.splitlines()[1:] if line.strip()]
    return {row[0]: row[2] for row in rows}


def layout_digest(images: list[registry.SeedImage], ref: str) -> str:
    image = next(i for i in images if i.ref == ref)
    return str(registry.layout_manifest(image.layout, image.tag)["digest"])


def blobs(images: list[registry.SeedImage]) -> set[str]:
    out = set()
    for image in images:
        desc = registry.layout_manifest(image.layout, image.tag)
        algo, _, hexa = str(desc["digest"]).partition(":")
        manifest = json.loads((image.layout / "blobs" / algo / hexa).read_text())
        out |= {d["digest"] for d in [manifest["config"], *manifest["layers"]]}
    return out


def test_seed_pushes_everything_once(
        seeded: tuple[Running, registry.PushStats, float]) -> None:
    reg, first, _ = seeded
    assert first.pushed == [i.ref for i in reg.images]
    assert first.manifests_pushed == len(reg.images)
    # Each distinct blob is sent once (the test guest under four names; the layer utility
    # and pause share); the other repositories mount it.
    assert first.blobs_uploaded == len(blobs(reg.images))
    assert first.blobs_mounted > 0
    for image in reg.images:
        assert registry.manifest_digest(reg.url, image.ref) == layout_digest(
            reg.images, image.ref), image.ref


def test_a_second_seed_pushes_nothing(
        seeded: tuple[Running, registry.PushStats, float]) -> None:
    reg, _, _ = seeded
    t0 = time.monotonic()
    again = registry.seed(reg.url, reg.images)
    took = time.monotonic() - t0
    print(f"second seed: {again.requests} requests in {took * 1000:.0f} ms")
    assert again.pushed == []
    assert (again.blobs_uploaded, again.blobs_mounted, again.manifests_pushed) == (0, 0, 0)
    assert again.requests == len(reg.images)  # one HEAD of each tag
    assert again.images_present == len(reg.images)


def test_a_moved_tag_is_pushed_again(
        seeded: tuple[Running, registry.PushStats, float]) -> None:
    reg, _, _ = seeded
    pause = next(i for i in reg.images if i.ref == registry.PAUSE_REF)
    utility = next(i for i in reg.images if i.ref == registry.UTILITY_REF)
    ref = "registry:5000/scratch/moved:1"
    registry.push_layout(pause.layout, ref, reg.url)
    stats = registry.push_layout(utility.layout, ref, reg.url)
    assert stats.pushed == [ref] and stats.manifests_pushed == 1
    # The layer is shared with pause (already in scratch/moved); only the config is new.
    assert (stats.blobs_present, stats.blobs_uploaded + stats.blobs_mounted) == (1, 1)
    assert registry.manifest_digest(reg.url, ref) == layout_digest(reg.images,
                                                                   registry.UTILITY_REF)


def test_registry_5000_resolves_through_hosts_toml(
        seeded: tuple[Running, registry.PushStats, float], containerd: Path,
        tmp_path: Path) -> None:
    reg, _, _ = seeded
    # The host's resolver does not know the name: only the hosts.toml below can.
    for line in Path("/etc/hosts").read_text().splitlines():
        names = line.split("#")[0].split()[1:]
        assert "registry" not in names, f"/etc/hosts names registry: {line}"
    hosts = tmp_path / "certs.d"
    registry.write_hosts(hosts, reg.port)
    for ref in (CIRROS, KERNEL_BOOT, registry.PAUSE_REF):
        t0 = time.monotonic()
        res = ctr(containerd, "images", "pull", "--hosts-dir", str(hosts), ref)
        assert res.returncode == 0, f"ctr images pull {ref}: {res.stderr[-2000:]}"
        print(f"pulled {ref} in {time.monotonic() - t0:.2f}s")
    have = pulled_digests(containerd)
    for ref in (CIRROS, KERNEL_BOOT, registry.PAUSE_REF):
        assert have.get(ref) == layout_digest(reg.images, ref), (ref, have)
