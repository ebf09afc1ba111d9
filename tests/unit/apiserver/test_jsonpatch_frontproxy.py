"""The JSON patch differ, and who the front proxy says is calling."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from virtkube.apiserver import frontproxy, jsonpatch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(alphabet="ab/~c", max_size=3), children, max_size=3),
    max_leaves=12)


@given(json_values, json_values)
def test_diff_then_apply_round_trips(old: Any, new: Any) -> None:
    assert jsonpatch.apply(old, jsonpatch.diff(old, new)) == new


CFG = frontproxy.parse_configmap({"data": {
    "requestheader-client-ca-file": "PEM",
    "requestheader-allowed-names": '["front-proxy-client"]',
    "requestheader-username-headers": '["X-Remote-User"]',
    "requestheader-group-headers": '["X-Remote-Group"]',
    "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]'}})
PEER = {"subject": ((("commonName", "front-proxy-client"),),)}


def test_caller_from_headers() -> None:
    headers = CIMultiDict([("X-Remote-User", "alice"), ("X-Remote-Group", "dev"),
                           ("X-Remote-Group", "system:authenticated")])
    caller = frontproxy.authenticate(CFG, PEER, headers)
    assert caller.user == "alice" and caller.groups == ("dev", "system:authenticated")


@pytest.mark.parametrize(("peer", "headers"), [
    (None, [("X-Remote-User", "alice")]),
    ({"subject": ((("commonName", "mallory"),),)}, [("X-Remote-User", "alice")]),
    (PEER, []),
])
def test_not_the_front_proxy(peer: Any, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(frontproxy.NotAuthenticated):
        frontproxy.authenticate(CFG, peer, CIMultiDict(headers))
