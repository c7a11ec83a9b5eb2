"""The response cache's bounds, expiry and ETag matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.caching import ENTRY_OVERHEAD_BYTES, Freshness, FreshnessPolicy, ResponseCache, entity_tag, etag_matches


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


ENTRY = len(("a",)[0]) + len("xxxx") + len(entity_tag("xxxx")) + ENTRY_OVERHEAD_BYTES  # one small answer


def test_least_recently_used_answers_leave_first_when_full():
    cache = ResponseCache(max_bytes=2 * ENTRY + 1, ttl_seconds=60)
    cache.put(("a",), "xxxx", 1)
    cache.put(("b",), "yyyy", 1)
    assert cache.get(("a",)) is not None  # "a" is now the most recently used

    cache.put(("c",), "zzzz", 1)

    assert (cache.get(("a",)) is not None, cache.get(("b",)), cache.get(("c",)) is not None) == (True, None, True)
    assert cache.size_bytes == 2 * ENTRY


def test_many_small_answers_count_their_keys_and_overhead():
    cache = ResponseCache(max_bytes=100 * ENTRY_OVERHEAD_BYTES, ttl_seconds=60)

    for n in range(1000):
        cache.put((f"/records?site_id=site_{n:04}",), "{}", 0)

    assert len(cache) < 100
    assert cache.size_bytes <= 100 * ENTRY_OVERHEAD_BYTES


def test_an_answer_larger_than_the_cache_is_not_kept():
    cache = ResponseCache(max_bytes=ENTRY_OVERHEAD_BYTES, ttl_seconds=60)

    cache.put(("a",), "four", 1)

    assert len(cache) == 0


def test_answers_expire():
    clock = Clock()
    cache = ResponseCache(max_bytes=10 * ENTRY, ttl_seconds=60, clock=clock)
    cache.put(("a",), "body", 1)
    clock.now = 61

    assert cache.get(("a",)) is None
    assert cache.size_bytes == 0


def test_a_kept_answer_knows_its_age():
    clock = Clock()
    cache = ResponseCache(max_bytes=10 * ENTRY, ttl_seconds=60, clock=clock)
    answer = cache.put(("a",), "body", 1)
    clock.now = 25

    assert cache.age_of(answer) == 25


def test_a_kept_answer_may_be_kept_only_for_what_is_left_of_its_time():
    assert Freshness(closed=True, max_age_seconds=1800).cache_control(age_seconds=1799.5) == "private, max-age=1"


def test_forgetting_a_site_drops_only_its_answers():
    cache = ResponseCache(max_bytes=10 * ENTRY_OVERHEAD_BYTES, ttl_seconds=60)
    cache.put(ResponseCache.key("/records", {"site_id": "site_1"}), "one", 1)
    cache.put(ResponseCache.key("/records", {"site_id": "site_10"}), "ten", 1)

    cache.forget_site("site_1")

    assert len(cache) == 1


@pytest.mark.parametrize(
    ("header", "matches"),
    [(None, False), ("", False), ("*", True), ('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ('"x"', False)],
)
def test_if_none_match_uses_weak_comparison(header: str | None, matches: bool):
    assert etag_matches(header, 'W/"abc"') is matches


def test_entity_tag_is_content_derived():
    assert entity_tag("body") == entity_tag(b"body") != entity_tag("other")


def test_entity_tag_is_weak_since_gateway_compression_changes_the_bytes():
    assert entity_tag("body").startswith('W/"')


def test_window_is_closed_only_after_the_lateness_allowance():
    policy = FreshnessPolicy(late_data_seconds=3600, open_max_age_seconds=10, closed_max_age_seconds=1800)
    now = datetime(2025, 2, 17, 12, tzinfo=UTC)

    assert policy.for_window(datetime(2025, 2, 17, 10, 59, tzinfo=UTC), now).closed
    assert not policy.for_window(datetime(2025, 2, 17, 11, 30, tzinfo=UTC), now).closed
    assert not policy.for_window(None, now).closed
