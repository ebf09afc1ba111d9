"""Plain HTTPS calls to the local API server, for the CLI's own checks.

`virtkube up` must poll `/readyz` before any client library can be set up
against a server that is still starting; the standard library is enough for
that and keeps `up` free of an event loop.
"""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass

from virtkube.local.certs import ClusterPKI
from virtkube.local.config import ClusterConfig


@dataclass(frozen=True)
class Reply:
    status: int
    body: str


def get(cfg: ClusterConfig, p: ClusterPKI, path: str, timeout: float = 2.0) -> Reply:
    ctx = ssl.create_default_context(cafile=str(p.ca.cert_path))
    admin = p.pair("admin")
    ctx.load_cert_chain(str(admin.cert_path), str(admin.key_path))
    conn = http.client.HTTPSConnection(cfg.listen_address, cfg.ports.apiserver, context=ctx,
                                       timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return Reply(resp.status, resp.read().decode(errors="replace"))
    finally:
        conn.close()


def readyz(cfg: ClusterConfig, p: ClusterPKI) -> Reply | None:
    """The API server's /readyz?verbose, or None while it does not answer at all."""
    try:
        return get(cfg, p, "/readyz?verbose")
    except (OSError, http.client.HTTPException):
        return None
