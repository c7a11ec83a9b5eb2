"""The response cache's bounds, expiry and ETag matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.caching import FreshnessPolicy, ResponseCache, entity_tag, etag_matches


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_answers_leave_first_when_full():
    cache = ResponseCache(max_bytes=10, ttl_seconds=60)
    cache.put(("a",), "xxxx", 1)
    cache.put(("b",), "yyyy", 1)
    assert cache.get(("a",)) is not None  # "a" is now the most recently used

    cache.put(("c",), "zzzz", 1)

    assert (cache.get(("a",)) is not None, cache.get(("b",)), cache.get(("c",)) is not None) == (True, None, True)
    assert cache.size_bytes == 8


def test_an_answer_larger_than_the_cache_is_not_kept():
    cache = ResponseCache(max_bytes=3, ttl_seconds=60)

    cache.put(("a",), "four", 1)

    assert len(cache) == 0


def test_answers_expire():
    clock = Clock()
    cache = ResponseCache(max_bytes=100, ttl_seconds=60, clock=clock)
    cache.put(("a",), "body", 1)
    clock.now = 61

    assert cache.get(("a",)) is None
    assert cache.size_bytes == 0


def test_forgetting_a_site_drops_only_its_answers():
    cache = ResponseCache(max_bytes=100, ttl_seconds=60)
    cache.put(ResponseCache.key("/records", {"site_id": "site_1"}), "one", 1)
    cache.put(ResponseCache.key("/records", {"site_id": "site_10"}), "ten", 1)

    cache.forget_site("site_1")

    assert len(cache) == 1


@pytest.mark.parametrize(
    ("header", "matches"),
    [(None, False), ("", False), ("*", True), ('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ('"x"', False)],
)
def test_if_none_match_uses_weak_comparison(header: str | None, matches: bool):
    assert etag_matches(header, '"abc"') is matches


def test_entity_tag_is_strong_and_content_derived():
    assert entity_tag("body") == entity_tag(b"body") != entity_tag("other")
    assert entity_tag("body").startswith('"')


def test_window_is_closed_only_after_the_lateness_allowance():
    policy = FreshnessPolicy(late_data_seconds=3600, open_max_age_seconds=10, closed_max_age_seconds=1800)
    now = datetime(2025, 2, 17, 12, tzinfo=UTC)

    assert policy.for_window(datetime(2025, 2, 17, 10, 59, tzinfo=UTC), now).closed
    assert not policy.for_window(datetime(2025, 2, 17, 11, 30, tzinfo=UTC), now).closed
    assert not policy.for_window(None, now).closed
