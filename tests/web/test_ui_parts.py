"""The UI routes' small parts, without a plugin: the gzip cache's bounds and the header
parsing that decides on gzip and 304."""

from __future__ import annotations

import pytest

from harvester.web.ui import GzipCache, _accepts_gzip, _matches


def test_the_gzip_cache_is_bounded_in_entries_and_bytes() -> None:
    cache = GzipCache(entries=2, size=10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # now the most recently used
    cache.put("c", b"1234")
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") is not None
    cache.put("d", b"12345678")  # 4 + 8 > 10: the oldest go until it fits
    assert cache.get("d") == b"12345678" and len(cache) == 1
    cache.put("e", b"x" * 11)  # never fits: not kept, nothing dropped for it
    assert cache.get("e") is None and cache.get("d") is not None


@pytest.mark.parametrize(
    "header,accepted",
    [
        ("gzip", True),
        ("br, gzip;q=0.5", True),
        ("GZIP", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, identity", False),
        ("identity", False),
        ("", False),
        ("deflate, br", False),
    ],
)
def test_accept_encoding(header: str, accepted: bool) -> None:
    assert _accepts_gzip(header) is accepted


@pytest.mark.parametrize(
    "header,matches",
    [
        ('"abc"', True),
        ('"abc-gz"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
        ("", False),
        ("abc", False),
    ],
)
def test_if_none_match(header: str, matches: bool) -> None:
    assert _matches(header, "abc") is matches
