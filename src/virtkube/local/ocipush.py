"""Pushing OCI image layouts into a registry over the OCI distribution API.

The local registry (virtkube.local.registry) is seeded with the images the project builds
(images/build.py, images/utility.py, images/launcher.py). The standard library's urllib does
it: the registry is plain HTTP on loopback, without auth or redirects, and a client library
(oras) would add a dependency for what is a HEAD, a POST, a PUT and a PUT. A seed of images
already there costs one HEAD per image.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = frozenset({MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST})
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_OCI_INDEX, MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_LIST)
#: The OCI annotation that tags an entry of a layout's index.json.
REF_NAME = "org.opencontainers.image.ref.name"


class RegistryError(RuntimeError):
    """The registry refused a call or a layout is unusable; the message says which."""


@dataclass(frozen=True)
class SeedImage:
    """One OCI image layout and the reference to push it as (`[host/]repo:tag`); `tag` picks
    the layout's entry by its ref.name annotation when it holds several."""

    layout: Path
    ref: str
    tag: str | None = None


# ---------------------------------------------------------------------------------------
# Impure: pushing layouts over the OCI distribution API
# ---------------------------------------------------------------------------------------


def split_ref(ref: str) -> tuple[str, str]:
    """`registry:5000/kubevirt/cirros:devel` -> (`kubevirt/cirros`, `devel`). The host part
    (a first component with a `.` or `:`, or `localhost`) is dropped: the image goes to the
    registry at hand whatever host its name gives."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        ref = rest
    if "@" in ref:
        raise RegistryError(f"{ref}: push by tag, not by digest")
    repo, _, tag = ref.rpartition(":")
    if not repo or "/" in tag:
        repo, tag = ref, "latest"
    return repo, tag


@dataclass
class PushStats:
    """What a push or seed did: a seed of images already there makes only `requests` HEADs."""

    requests: int = 0
    blobs_uploaded: int = 0
    blobs_mounted: int = 0
    blobs_present: int = 0
    manifests_pushed: int = 0
    images_present: int = 0
    bytes_uploaded: int = 0
    pushed: list[str] = field(default_factory=list)

    def add(self, other: PushStats) -> None:
        for name in ("requests", "blobs_uploaded", "blobs_mounted", "blobs_present",
                     "manifests_pushed", "images_present", "bytes_uploaded"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.pushed += other.pushed


@dataclass
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Client:
    """HTTP to one registry; never through a proxy of the environment (loopback)."""

    def __init__(self, registry_url: str, stats: PushStats, timeout: float) -> None:
        self.base = registry_url.rstrip("/")
        self.stats = stats
        self.timeout = timeout
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                  _NoRedirect())

    def call(self, method: str, path_or_url: str, *, ok: Iterable[int],
             headers: Mapping[str, str] | None = None,
             body: bytes | BinaryIO | None = None, length: int | None = None) -> _Response:
        # The Location of an upload may be absolute or relative to the registry.
        target = urllib.parse.urljoin(self.base + "/", path_or_url)
        req = urllib.request.Request(target, method=method, data=body, headers=dict(headers or {}))
        if body is not None:
            req.add_header("Content-Length", str(len(body) if isinstance(body, bytes)
                                                 else length))
        self.stats.requests += 1
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                out = _Response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as e:
            out = _Response(e.code, dict(e.headers or {}), e.read() if e.fp else b"")
        except OSError as e:
            raise RegistryError(f"{method} {target}: {e}") from e
        if out.status not in set(ok):
            raise RegistryError(f"{method} {target}: HTTP {out.status} "
                                f"{out.body[:300].decode(errors='replace')}")
        return out


def _blob_path(layout: Path, digest: str) -> Path:
    algo, _, hexa = digest.partition(":")
    path = layout / "blobs" / algo / hexa
    if not path.is_file():
        raise RegistryError(f"{layout}: blob {digest} is missing")
    return path


def layout_manifest(layout: Path, tag: str | None = None) -> dict[str, Any]:
    """The descriptor of the image in an OCI layout's index.json (by ref.name when the
    layout holds several)."""
    try:
        index = json.loads((layout / "index.json").read_text())
    except FileNotFoundError:
        raise RegistryError(f"{layout} is not an OCI image layout (no index.json): build it "
                            "(`make guest-images node-images`)") from None
    manifests: list[dict[str, Any]] = index.get("manifests") or []
    if tag is not None:
        manifests = [m for m in manifests if (m.get("annotations") or {}).get(REF_NAME) == tag]
    if len(manifests) != 1:
        raise RegistryError(f"{layout}: {len(manifests)} images match"
                            f"{f' ref {tag}' if tag else ''}; expected one")
    return manifests[0]


class _Pusher:
    def __init__(self, client: _Client) -> None:
        self.client = client
        #: digest -> a repository that has it, for cross-repository mounts within a seed.
        self.known: dict[str, str] = {}

    def blob(self, repo: str, layout: Path, desc: Mapping[str, Any]) -> None:
        digest = str(desc["digest"])
        stats = self.client.stats
        if self.client.call("HEAD", f"/v2/{repo}/blobs/{digest}", ok=(200, 404)).status == 200:
            stats.blobs_present += 1
            self.known.setdefault(digest, repo)
            return
        query = {"mount": digest, "from": self.known[digest]} if digest in self.known else {}
        start = self.client.call("POST", f"/v2/{repo}/blobs/uploads/?"
                                 + urllib.parse.urlencode(query), ok=(201, 202), body=b"")
        if start.status == 201:  # mounted from the other repository, nothing to send
            stats.blobs_mounted += 1
        else:
            location = start.headers.get("Location") or start.headers.get("location")
            if not location:
                raise RegistryError(f"POST /v2/{repo}/blobs/uploads/: no Location")
            sep = "&" if "?" in location else "?"
            path = _blob_path(layout, digest)
            size = path.stat().st_size
            with path.open("rb") as f:
                self.client.call("PUT", f"{location}{sep}digest={urllib.parse.quote(digest)}",
                                 ok=(201,), body=f, length=size,
                                 headers={"Content-Type": "application/octet-stream"})
            stats.blobs_uploaded += 1
            stats.bytes_uploaded += size
        self.known[digest] = repo

    def manifest(self, repo: str, layout: Path, desc: Mapping[str, Any], reference: str) -> None:
        """Push what the manifest references (children of an index, then blobs), then it."""
        media = str(desc.get("mediaType") or MEDIA_OCI_MANIFEST)
        data = _blob_path(layout, str(desc["digest"])).read_bytes()
        doc = json.loads(data)
        if media in INDEX_TYPES:
            for child in doc.get("manifests") or []:
                self.manifest(repo, layout, child, str(child["digest"]))
        else:
            for blob in [doc["config"], *(doc.get("layers") or [])]:
                self.blob(repo, layout, blob)
        reply = self.client.call("PUT", f"/v2/{repo}/manifests/{reference}", ok=(201,),
                                 body=data, headers={"Content-Type": media})
        got = reply.headers.get("Docker-Content-Digest")
        if got and got != desc["digest"]:
            raise RegistryError(f"{repo}:{reference}: the registry stored {got}, "
                                f"not {desc['digest']}")
        self.client.stats.manifests_pushed += 1

    def image(self, image: SeedImage) -> None:
        repo, tag = split_ref(image.ref)
        desc = layout_manifest(image.layout, image.tag)
        # Already there under this tag, by digest: nothing to do (a seed of a seeded
        # registry is one HEAD per image).
        head = self.client.call("HEAD", f"/v2/{repo}/manifests/{tag}", ok=(200, 404),
                                headers={"Accept": ", ".join(MANIFEST_TYPES)})
        if head.status == 200 and head.headers.get("Docker-Content-Digest") == desc["digest"]:
            self.client.stats.images_present += 1
            return
        self.manifest(repo, image.layout, desc, tag)
        self.client.stats.pushed.append(image.ref)


def push_layout(layout_dir: Path, ref: str, registry_url: str, *, tag: str | None = None,
                timeout: float = 60.0) -> PushStats:
    """Push the image of one OCI image layout to `registry_url` as `ref`."""
    return seed(registry_url, [SeedImage(layout_dir, ref, tag)], timeout=timeout)


def seed(registry_url: str, images: Sequence[SeedImage], *, timeout: float = 60.0) -> PushStats:
    """Push every image that is not already in the registry under its tag with its digest.
    Blobs shared between images (the same guest under four names) are sent once and
    mounted into the other repositories."""
    stats = PushStats()
    pusher = _Pusher(_Client(registry_url, stats, timeout))
    for image in images:
        pusher.image(image)
    return stats


def manifest_digest(registry_url: str, ref: str, *, timeout: float = 10.0) -> str | None:
    """The digest the registry serves for `ref`, or None when it has no such image."""
    repo, tag = split_ref(ref)
    reply = _Client(registry_url, PushStats(), timeout).call(
        "HEAD", f"/v2/{repo}/manifests/{tag}", ok=(200, 404),
        headers={"Accept": ", ".join(MANIFEST_TYPES)})
    return reply.headers.get("Docker-Content-Digest") if reply.status == 200 else None


def wait_ready(registry_url: str, timeout: float = 30.0, interval: float = 0.05) -> None:
    """Poll GET /v2/ until the registry answers 200, or raise TimeoutError saying what it
    last saw (the registry takes a moment to open its port after starting)."""
    deadline = time.monotonic() + timeout
    client = _Client(registry_url, PushStats(), timeout=min(2.0, timeout))
    last = "no answer"
    while True:
        try:
            client.call("GET", "/v2/", ok=(200,))
            return
        except RegistryError as e:
            last = str(e)
        if time.monotonic() >= deadline:
            raise TimeoutError(f"registry {registry_url} not ready after {timeout:.0f}s: {last}")
        time.sleep(interval)
