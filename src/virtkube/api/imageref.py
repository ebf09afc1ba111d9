"""Container image references, by the OCI distribution grammar containerd parses them with.

One parser for both ends: virt-api rejects a `containerDisk.image` or
`kernelBoot.container.image` that is not a reference, and virt-launcher maps a
reference onto its image store with the same parse, so a name that admission
let through can never mean a path (`../../etc`) to the launcher.

The grammar is github.com/distribution/reference's (regexp.go, reference.go):

    reference   := name [ ":" tag ] [ "@" digest ]
    name        := [domain "/"] path-component ["/" path-component]*
    domain      := host [":" port]      (host: DNS labels, an IPv4 address, or [IPv6])
    path-component := [a-z0-9]+ ((?:[._]|__|[-]+) [a-z0-9]+)*
    tag         := [\\w][\\w.-]{0,127}
    digest      := algorithm ":" hex    (algorithm: [A-Za-z][A-Za-z0-9]* joined by [+._-];
                                         hex: at least 32 of [0-9a-fA-F])

with the name at most 255 characters and its repository in lower case. The
first component is a domain when it looks like one (a `.` or `:` in it, or
`localhost`), as docker and containerd decide (ParseNormalizedNamed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: reference.NameTotalLengthMax.
NAME_MAX = 255
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
TAG = r"[\w][\w.-]{0,127}"
DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(rf"{PATH_COMPONENT}(?:/{PATH_COMPONENT})*")
_DOMAIN_RE = re.compile(DOMAIN)
_TAG_RE = re.compile(TAG, re.ASCII)
DIGEST_RE = re.compile(DIGEST)


class ReferenceError(ValueError):
    """Not an image reference; the message says which rule it breaks."""


@dataclass(frozen=True)
class ImageReference:
    """`[domain/]path[:tag][@digest]`, each part already checked against the grammar."""

    domain: str | None
    path: str
    tag: str | None = None
    digest: str | None = None


def _looks_like_domain(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def parse(reference: str) -> ImageReference:
    """The parts of `reference`; ReferenceError when it breaks the grammar."""
    if not reference:
        raise ReferenceError("invalid reference format: repository name must have at least "
                             "one component")
    rest, at, digest = reference.partition("@")
    if at and not DIGEST_RE.fullmatch(digest):
        raise ReferenceError(f"invalid reference format: {digest!r} is not a digest "
                             "(algorithm:hex, at least 32 hex digits)")
    name, tag = rest, None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        name, tag = rest[:colon], rest[colon + 1:]
        if not _TAG_RE.fullmatch(tag):
            raise ReferenceError(f"invalid reference format: {tag!r} is not a tag "
                                 "([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})")
    if len(name) > NAME_MAX:
        raise ReferenceError(f"repository name must not be more than {NAME_MAX} characters")
    domain: str | None = None
    first, slash, remainder = name.partition("/")
    if slash and _looks_like_domain(first):
        if not _DOMAIN_RE.fullmatch(first):
            raise ReferenceError(f"invalid reference format: {first!r} is not a registry "
                                 "host[:port]")
        domain, name = first, remainder
    if not _PATH_RE.fullmatch(name):
        if _PATH_RE.fullmatch(name.lower()):
            raise ReferenceError("invalid reference format: repository name must be lowercase")
        raise ReferenceError(f"invalid reference format: {name!r} is not a repository name "
                             "(components of [a-z0-9] joined by '.', '_', '__' or '-', "
                             "separated by '/')")
    return ImageReference(domain=domain, path=name, tag=tag, digest=digest or None)


def problem(reference: str) -> str | None:
    """Why `reference` is not an image reference (None: it is one)."""
    try:
        parse(reference)
    except ReferenceError as e:
        return str(e)
    return None
