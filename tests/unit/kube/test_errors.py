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
