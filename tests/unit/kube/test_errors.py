"""API failures map to the project's exceptions with the server's own words."""

from __future__ import annotations

import json

import pytest

from virtkube.kube import errors


@pytest.mark.parametrize(("status", "reason", "expected"), [
    (404, "NotFound", errors.NotFound),
    (409, "Conflict", errors.Conflict),
    (409, "AlreadyExists", errors.AlreadyExists),
    (410, "Expired", errors.Gone),
    (422, "Invalid", errors.Invalid),
    (403, "Forbidden", errors.Forbidden),
    (500, "InternalError", errors.ServerError),
    (504, "Timeout", errors.ServerError),
])
def test_status_maps_to_exception(status: int, reason: str,
                                  expected: type[errors.KubeError]) -> None:
    body = json.dumps({"kind": "Status", "status": "Failure", "reason": reason,
                       "message": f"it went {reason}", "code": status,
                       "details": {"causes": [{"field": "spec.x", "message": "bad"}]}})
    err = errors.from_response(status, body, method="PUT", path="/api/v1/x")
    assert type(err) is expected
    assert err.message == f"it went {reason}"
    assert err.causes == [{"field": "spec.x", "message": "bad"}]
    assert "PUT /api/v1/x" in str(err)


def test_non_json_body_keeps_the_text() -> None:
    err = errors.from_response(502, b"bad gateway")
    assert err.message == "bad gateway"
    assert isinstance(err, errors.ServerError)


@pytest.mark.parametrize(("status", "header", "details", "expected_cls", "expected_wait"), [
    (429, "3", None, errors.TooManyRequests, 3.0),
    (503, None, {"retryAfterSeconds": 1}, errors.Unavailable, 1.0),
    (503, "nonsense", None, errors.Unavailable, None),
    (429, None, None, errors.TooManyRequests, None),
])
def test_throttling_and_starting_servers_say_how_long_to_wait(
        status: int, header: str | None, details: dict[str, int] | None,
        expected_cls: type[errors.KubeError], expected_wait: float | None) -> None:
    body = json.dumps({"kind": "Status", "code": status, "message": "wait",
                       **({"details": details} if details else {})})
    err = errors.from_response(status, body, retry_after=header)
    assert type(err) is expected_cls
    assert err.retry_after == expected_wait
