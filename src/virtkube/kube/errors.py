"""Kubernetes API failures as the project's own exceptions.

Reconcilers catch by meaning (NotFound, Conflict, ...) rather than by HTTP
status; each error keeps the server's Status message, reason and causes, so
what a user finally sees names the field the server complained about.
"""

from __future__ import annotations

import json
from typing import Any


class KubeError(Exception):
    """Any failed request to the API server."""

    status: int = 0

    def __init__(self, message: str, *, status: int = 0, reason: str = "",
                 details: dict[str, Any] | None = None, method: str = "", path: str = "",
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        #: Seconds the server asked us to wait (Retry-After on 429 and 503), if it did.
        self.retry_after = retry_after
        self.message = message
        self.status = status or type(self).status
        self.reason = reason
        self.details = details or {}
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}{self.status} {self.reason}: {self.message}"

    @property
    def causes(self) -> list[dict[str, str]]:
        return list(self.details.get("causes") or [])


class BadRequest(KubeError):
    status = 400


class Unauthorized(KubeError):
    status = 401


class Forbidden(KubeError):
    status = 403


class NotFound(KubeError):
    status = 404


class MethodNotAllowed(KubeError):
    status = 405


class Conflict(KubeError):
    """409: a stale resourceVersion (or AlreadyExists); requeue and read again."""

    status = 409


class AlreadyExists(Conflict):
    pass


class Gone(KubeError):
    """410: a watch's resourceVersion is too old; list again."""

    status = 410


class Invalid(KubeError):
    status = 422


class TooManyRequests(KubeError):
    status = 429


class ServerError(KubeError):
    status = 500


class Unavailable(KubeError):
    """The API server could not be reached, broke the connection, or answered 503."""

    status = 503


_BY_STATUS: dict[int, type[KubeError]] = {
    c.status: c for c in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed,
                          Conflict, Gone, Invalid, TooManyRequests)
}


def _seconds(header: str | None) -> float | None:
    """Retry-After in its delay-seconds form (the API server never sends an HTTP date)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def from_response(status: int, body: bytes | str, *, method: str = "", path: str = "",
                  retry_after: str | None = None) -> KubeError:
    """Map an HTTP error reply (usually a metav1.Status) to an exception."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        doc = json.loads(text)
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    reason = str(doc.get("reason") or "")
    message = str(doc.get("message") or text.strip() or f"HTTP {status}")
    cls: type[KubeError]
    if status == 409 and reason == "AlreadyExists":
        cls = AlreadyExists
    elif status == 503:
        cls = Unavailable  # the server is up but not serving yet (starting, shutting down)
    else:
        cls = _BY_STATUS.get(status, ServerError)
    details = doc.get("details") if isinstance(doc.get("details"), dict) else None
    wait = _seconds(retry_after)
    if wait is None and details is not None:
        wait = _seconds(str(details.get("retryAfterSeconds") or ""))
    return cls(message, status=status, reason=reason, details=details,
               method=method, path=path, retry_after=wait)


class ReconcileError(Exception):
    """Raised by a reconciler to say how the work queue should retry."""


class TemporaryError(ReconcileError):
    """Try again after `delay` seconds (None: the queue's back-off decides)."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(ReconcileError):
    """Retrying cannot help until the object changes; the item is dropped."""
