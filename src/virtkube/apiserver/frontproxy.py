"""Who is calling: the aggregation layer's request headers, trusted only from the front proxy.

The API server authenticates and authorises the user (RBAC on
`virtualmachines/start`, `virtualmachineinstances/console`, ...), then proxies
the request to virt-api with its front-proxy client certificate and the user
in X-Remote-User / X-Remote-Group. virt-api believes those headers only when
the TLS peer presented a certificate signed by the requestheader CA with an
allowed CommonName, as published in `kube-system/extension-apiserver-authentication`
(what every aggregated API server does).
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any

from virtkube.kube.client import Client
from virtkube.kube.resources import CONFIGMAPS

AUTH_CONFIGMAP = ("kube-system", "extension-apiserver-authentication")


class NotAuthenticated(Exception):
    """The request did not come through the API server's front proxy."""


@dataclass(frozen=True)
class RequestHeaderConfig:
    client_ca_pem: str
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = ("X-Remote-User",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)
    extra_prefixes: tuple[str, ...] = ("X-Remote-Extra-",)


@dataclass(frozen=True)
class Caller:
    user: str
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


def _strings(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not raw:
        return default
    value = json.loads(raw)
    return tuple(str(v) for v in value) if isinstance(value, list) else default


def parse_configmap(cm: dict[str, Any]) -> RequestHeaderConfig:
    data = cm.get("data") or {}
    ca = data.get("requestheader-client-ca-file")
    if not ca:
        raise NotAuthenticated("kube-system/extension-apiserver-authentication has no "
                               "requestheader-client-ca-file: the API server runs without "
                               "the aggregation layer (--requestheader-client-ca-file)")
    return RequestHeaderConfig(
        client_ca_pem=ca,
        allowed_names=_strings(data.get("requestheader-allowed-names"), ()),
        username_headers=_strings(data.get("requestheader-username-headers"),
                                  ("X-Remote-User",)),
        group_headers=_strings(data.get("requestheader-group-headers"), ("X-Remote-Group",)),
        extra_prefixes=_strings(data.get("requestheader-extra-headers-prefix"),
                                ("X-Remote-Extra-",)),
    )


async def load(client: Client) -> RequestHeaderConfig:
    return parse_configmap(await client.get(CONFIGMAPS, AUTH_CONFIGMAP[1], AUTH_CONFIGMAP[0]))


def trust(ctx: ssl.SSLContext, cfg: RequestHeaderConfig) -> None:
    """Ask TLS clients for a certificate and verify one against the requestheader CA.

    Optional: the API server's webhook calls come without one.
    """
    ctx.load_verify_locations(cadata=cfg.client_ca_pem)
    ctx.verify_mode = ssl.CERT_OPTIONAL


def _common_name(peercert: dict[str, Any] | None) -> str | None:
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def authenticate(cfg: RequestHeaderConfig, peercert: dict[str, Any] | None,
                 headers: Any) -> Caller:
    """The caller named by the headers, if the peer is the front proxy; else NotAuthenticated."""
    if not peercert:
        raise NotAuthenticated("no client certificate: subresources are served only through "
                               "the Kubernetes API server (aggregation layer)")
    cn = _common_name(peercert)
    if cfg.allowed_names and cn not in cfg.allowed_names:
        raise NotAuthenticated(f"client certificate CN {cn!r} is not one of the "
                               f"requestheader-allowed-names {list(cfg.allowed_names)}")
    user = next((headers[h] for h in cfg.username_headers if headers.get(h)), None)
    if not user:
        raise NotAuthenticated("the front proxy sent no user header")
    groups = tuple(g for h in cfg.group_headers for g in headers.getall(h, ()))
    extra: dict[str, list[str]] = {}
    for name in headers:
        for prefix in cfg.extra_prefixes:
            if name.lower().startswith(prefix.lower()):
                extra.setdefault(name[len(prefix):].lower(), []).append(headers[name])
    return Caller(user=str(user), groups=groups, extra=extra)
