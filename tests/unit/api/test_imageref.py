"""The OCI distribution reference grammar: what containerd would pull, never a path."""

from __future__ import annotations

import pytest

from virtkube.api import imageref
from virtkube.api.imageref import ImageReference

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("reference", "expected"), [
    ("busybox", ImageReference(None, "busybox")),
    ("virtkube/tiny-guest:latest", ImageReference(None, "virtkube/tiny-guest", "latest")),
    ("registry:5000/kube/cirros:dev", ImageReference("registry:5000", "kube/cirros", "dev")),
    ("quay.io/a/b@" + DIGEST, ImageReference("quay.io", "a/b", None, DIGEST)),
    ("quay.io/a/b:1.0@" + DIGEST, ImageReference("quay.io", "a/b", "1.0", DIGEST)),
    ("localhost/x:1", ImageReference("localhost", "x", "1")),
    ("localhost:5000/x", ImageReference("localhost:5000", "x")),
    ("Registry.Example.COM/a", ImageReference("Registry.Example.COM", "a")),
    ("[fe80::1]:5000/a/b", ImageReference("[fe80::1]:5000", "a/b")),
    ("a/b_c__d-e---f.g", ImageReference(None, "a/b_c__d-e---f.g")),
    ("x:" + "T" * 128, ImageReference(None, "x", "T" * 128)),
])  # fmt: skip
def test_references_parse(reference: str, expected: ImageReference) -> None:
    assert imageref.parse(reference) == expected
    assert imageref.problem(reference) is None


@pytest.mark.parametrize(("reference", "why"), [
    ("", "at least one component"),
    ("a/b/../../../../../../etc/passwd", "not a repository name"),
    ("../../../../etc:latest", "not a registry"),
    ("/etc/passwd", "not a repository name"),
    ("./x", "not a registry"),
    ("a/./b", "not a repository name"),
    ("a..b", "not a repository name"),
    ("a___b", "not a repository name"),
    ("a/", "not a repository name"),
    ("-a", "not a repository name"),
    ("Upper/case", "must be lowercase"),
    ("x:../../y", "not a registry"),
    ("x:.tag", "not a tag"),
    ("x:" + "t" * 129, "not a tag"),
    ("x@sha256:../../../etc/passwd", "not a digest"),
    ("x@sha256:abc", "not a digest"),
    ("x@", "not a digest"),
    ("bad_host.io:5000:1/x", "not a registry"),
    ("a" * 256, "255 characters"),
])  # fmt: skip
def test_non_references_are_refused_with_the_rule(reference: str, why: str) -> None:
    with pytest.raises(imageref.ReferenceError, match=why):
        imageref.parse(reference)
    assert why in (imageref.problem(reference) or "")


def test_no_accepted_reference_has_a_dot_dot_or_absolute_part() -> None:
    """The property the launcher relies on when it joins a reference onto its store."""
    for reference in ("a/b", "r.io:1/a.b/c_d", "x.y.z/w"):
        ref = imageref.parse(reference)
        parts = [*(ref.domain or "").split("/"), *ref.path.split("/")]
        assert ".." not in parts and not ref.path.startswith("/")
