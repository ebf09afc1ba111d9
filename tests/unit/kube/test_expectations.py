"""Expectations: a cache behind this process's own writes is recognised as stale."""

from __future__ import annotations

from virtkube.kube.expectations import Expectations


def obj(rv: str, uid: str = "u1", deleting: bool = False) -> dict[str, object]:
    meta: dict[str, object] = {"resourceVersion": rv, "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-29T00:00:00Z"
    return {"metadata": meta}


def test_copy_at_the_written_from_version_is_stale_until_a_newer_arrives() -> None:
    e = Expectations()
    e.updated("ns/a", obj("10"))
    assert e.stale("ns/a", obj("10"))
    assert not e.stale("ns/a", obj("11"))
    assert not e.stale("ns/a", obj("10")), "a newer copy was seen: the entry is gone"


def test_entries_expire() -> None:
    e = Expectations(expiry=-1)
    e.updated("ns/a", obj("10"))
    assert not e.stale("ns/a", obj("10"))


def test_deleted_object_without_deletion_timestamp_is_pending() -> None:
    e = Expectations()
    e.deleted("u1")
    assert e.delete_pending(obj("5"))
    assert not e.delete_pending(obj("6", deleting=True))
    assert not e.delete_pending(obj("5")), "seen deleting once: trusted again"
    assert not e.delete_pending(obj("5", uid="other"))
