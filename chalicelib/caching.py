"""HTTP caching of data answers: freshness by window, ETags, and an in-process cache.

A window that ended more than ``late_data_seconds`` ago is *closed*: no reading will arrive for
it any more, so its answer can be kept. Closed answers are cacheable for half the page-token
lifetime (a cached page's ``next_token`` must still work when it is followed); open ones for a
few seconds. Every keyed answer is ``private``: it is one API key's data. The in-process cache
keeps closed answers in the Lambda container, bounded in bytes, least recently used first out.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from chalicelib.observability import current_stats


def entity_tag(body: str | bytes) -> str:
    """Weak: API Gateway gzips large answers, so the bytes a client gets vary with its
    ``Accept-Encoding`` while the tag does not (a strong tag must change with the bytes)."""
    data = body.encode() if isinstance(body, str) else body
    return 'W/"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match asks for."""
    if not if_none_match:
        return False
    candidates = [candidate.strip() for candidate in if_none_match.split(",")]
    return "*" in candidates or etag.removeprefix("W/") in {candidate.removeprefix("W/") for candidate in candidates}


@dataclass(frozen=True)
class Freshness:
    closed: bool
    max_age_seconds: int

    def cache_control(self, age_seconds: float = 0.0) -> str:
        """An answer kept ``age_seconds`` already may be kept only for what is left of its time."""
        return f"private, max-age={max(0, self.max_age_seconds - int(age_seconds))}"


@dataclass(frozen=True)
class FreshnessPolicy:
    late_data_seconds: int
    open_max_age_seconds: int
    closed_max_age_seconds: int

    def for_window(self, window_end: datetime | None, now: datetime | None = None) -> Freshness:
        """``window_end=None`` means an open-ended window (it always is open)."""
        now = now or datetime.now(UTC)
        closed = window_end is not None and window_end < now - timedelta(seconds=self.late_data_seconds)
        return Freshness(closed, self.closed_max_age_seconds if closed else self.open_max_age_seconds)


@dataclass(frozen=True)
class CachedAnswer:
    body: str
    etag: str
    items_returned: int | None
    stored_at: float
    lasting: bool = True


class Built(NamedTuple):
    """A freshly built answer: its JSON, how many items it holds, and whether it may be kept
    long (an answer holding a ``next_token`` may not: the token would outlive a secret rotation)."""

    body: str
    items_returned: int | None
    lasting: bool = True


ENTRY_OVERHEAD_BYTES = 640  # entry objects, dict slot, string headers: ~630 measured with tracemalloc


class ResponseCache:
    """Answers of closed windows, by request; bounded by an estimate of the memory they hold
    (key, body, tag and per-entry overhead), so many small answers cannot outgrow the bound."""

    def __init__(self, max_bytes: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[tuple[str, ...], CachedAnswer] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()  # chalice local serves requests on threads

    @staticmethod
    def key(route: str, parameters: Mapping[str, Any]) -> tuple[str, ...]:
        return (route, *(f"{name}={parameters[name]}" for name in sorted(parameters)))

    def get(self, key: tuple[str, ...]) -> CachedAnswer | None:
        with self._lock:
            answer = self._entries.get(key)
            if answer is None:
                return None
            if self._clock() - answer.stored_at > self._ttl_seconds:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return answer

    def put(self, key: tuple[str, ...], body: str, items_returned: int | None) -> CachedAnswer:
        answer = CachedAnswer(body, entity_tag(body), items_returned, self._clock())
        size = self._size_of(key, answer)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            if size <= self._max_bytes:
                self._entries[key] = answer
                self._bytes += size
                while self._bytes > self._max_bytes:
                    self._drop(next(iter(self._entries)))
        return answer

    def age_of(self, answer: CachedAnswer) -> float:
        return max(0.0, self._clock() - answer.stored_at)

    def forget_site(self, site_id: str) -> None:
        """New readings for a site: its cached answers may be wrong now."""
        marker = f"site_id={site_id}"
        with self._lock:
            for key in [key for key in self._entries if marker in key]:
                self._drop(key)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: tuple[str, ...]) -> None:
        self._bytes -= self._size_of(key, self._entries.pop(key))

    @staticmethod
    def _size_of(key: tuple[str, ...], answer: CachedAnswer) -> int:
        return sum(map(len, key)) + len(answer.body) + len(answer.etag) + ENTRY_OVERHEAD_BYTES


def cached_answer(
    cache: ResponseCache | None,
    key: tuple[str, ...],
    freshness: Freshness,
    build: Callable[[], Built],
) -> tuple[CachedAnswer, float]:
    """The answer and how long it has been kept: from the cache when the window is closed and it
    is there; built otherwise (and kept, when closed and lasting)."""
    stats = current_stats()
    if cache is not None and freshness.closed:
        answer = cache.get(key)
        if answer is not None:
            stats.cache = "hit"
            return answer, cache.age_of(answer)
        stats.cache = "miss"
    built = build()
    if cache is not None and freshness.closed and built.lasting:
        return cache.put(key, built.body, built.items_returned), 0.0
    return CachedAnswer(built.body, entity_tag(built.body), built.items_returned, 0.0, built.lasting), 0.0
