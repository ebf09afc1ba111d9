"""Small helpers others build on: timestamps, condition lookup, error paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from virtkube.api import Condition, field_path, find_condition, is_true, timestamp


def test_timestamp_is_rfc3339_utc_seconds() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(moment) == "2026-01-02T01:04:05Z"
    assert timestamp().endswith("Z")
    assert datetime.strptime(timestamp(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_condition_lookup() -> None:
    conditions = [
        Condition(type="Ready", status="False", reason="GuestNotRunning"),
        Condition(type="LiveMigratable", status="True"),
    ]
    ready = find_condition(conditions, "Ready")
    assert ready is not None and ready.reason == "GuestNotRunning"
    assert find_condition(conditions, "Paused") is None
    assert find_condition(None, "Ready") is None
    assert is_true(conditions, "LiveMigratable")
    assert not is_true(conditions, "Ready")
    assert not is_true(None, "Ready")


def test_field_path() -> None:
    assert field_path(("spec", "domain", "devices", "disks", 0, "disk", "bus")) == (
        "spec.domain.devices.disks[0].disk.bus"
    )
    assert field_path(()) == ""
    assert field_path((3, "name")) == "[3].name"
