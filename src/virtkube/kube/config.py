"""How a process finds and authenticates to its API server.

kubernetes_asyncio reads kubeconfig files and the in-cluster service account
(token rotation included); this module turns its result into the few things
our own aiohttp session needs: a base URL, a TLS context and a token source.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client import Configuration

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Connection:
    """Everything needed to talk to one API server."""

    server: str
    ssl_context: ssl.SSLContext
    token: Callable[[], str | None] = field(default=lambda: None)
    #: The identity in requests' User-Agent, so audit logs say which process wrote.
    user_agent: str = "virtkube"

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        token = self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers


def _ssl_context(cfg: Configuration) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
    if not cfg.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    return ctx


def _token_reader(path: Path) -> Callable[[], str | None]:
    """Projected tokens rotate: read the file each time (it is tiny and cached by the OS)."""

    def read() -> str | None:
        try:
            return path.read_text().strip()
        except OSError:
            return None

    return read


async def load(kubeconfig: str | Path | None = None, *, user_agent: str = "virtkube",
               context: str | None = None) -> Connection:
    """From an explicit kubeconfig, else $KUBECONFIG, else the in-cluster service account."""
    cfg = Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        await k8s_config.load_kube_config(config_file=str(path), context=context,
                                          client_configuration=cfg)
        static = (cfg.api_key or {}).get("BearerToken") or (cfg.api_key or {}).get(
            "authorization")
        token: Callable[[], str | None] = (
            (lambda: str(static).removeprefix("Bearer ")) if static else (lambda: None))
    else:
        k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        token = _token_reader(SERVICE_ACCOUNT_DIR / "token")
    return Connection(server=str(cfg.host).rstrip("/"), ssl_context=_ssl_context(cfg), token=token,
                      user_agent=user_agent)
