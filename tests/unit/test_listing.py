"""LIST answers (`strongroom.logical.listing`): folders, OpenBao's after/limit paging, 404 for no keys."""

from __future__ import annotations

import pytest

from strongroom.logical.errors import NotFound
from strongroom.logical.listing import folder, list_response, page


def test_folder_ends_in_a_slash_except_at_the_top() -> None:
    assert folder("") == "" and folder("a") == "a/" and folder("a/b/") == "a/b/"


def test_page_keeps_keys_after_after_and_at_most_limit() -> None:
    keys = ["a", "b/", "c", "d"]
    assert page(keys) == keys and page(keys, limit=0) == keys and page(keys, limit=-1) == keys
    assert page(keys, after="b") == ["b/", "c", "d"]
    assert page(keys, after="b/", limit=1) == ["c"]


def test_no_keys_is_not_found() -> None:
    assert list_response(["a"]).data == {"keys": ["a"]}
    with pytest.raises(NotFound):
        list_response([])
