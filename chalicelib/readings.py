"""What the read endpoints mean: exact time ranges, full pages, resumable walks, anomalies.

Sort keys written in different forms do not sort by instant inside one second
(``10:00:00.5Z`` sorts before ``10:00:00Z``). So readings are taken from DynamoDB one
*second* at a time: each second's items are ordered by instant before they are placed on a
page, and a position is "this second, after its first n items" rather than a raw DynamoDB
key. A page is filled to ``limit`` across DynamoDB's 1 MB responses, and the item after the
page is peeked so the last page reliably says ``next_token: null``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.errors import IndexUnavailable, InvalidPageToken
from chalicelib.json_values import base64_text, json_number
from chalicelib.page_tokens import PageTokenCodec, Position
from chalicelib.queries import AnomaliesQuery, RecordsQuery, _PageQuery
from chalicelib.settings import SERVICE_NAME
from chalicelib.store import PartitionQuery, RawItem, ReadingStore, SortKeyCondition
from chalicelib.tables import (
    ANOMALY_AT,
    ANOMALY_INDEX,
    SEVERITY_INDEXES,
    SEVERITY_LEVELS,
    TIMESTAMP,
    IndexDefinition,
    anomaly_index_for,
)
from chalicelib.timestamps import (
    ABOVE_ANY_SUFFIX,
    format_instant,
    format_sortable_instant,
    normalise_stored_timestamp,
    parse_stored_instant,
)

logger = Logger(service=SERVICE_NAME, child=True)

RECORDS_ENDPOINT = "/records"
ANOMALIES_ENDPOINT = "/anomalies"
# Upper bound on DynamoDB calls for one page (each reads at most 1 MB); reached only by the
# no-index anomaly fallback on a huge partition, which then returns a short page and a token.
MAX_QUERIES_PER_PAGE = 25
FALLBACK_QUERY_LIMIT = 1000
_POSITION_KEYS = frozenset(
    {TIMESTAMP, ANOMALY_INDEX.sort_key, *(index.sort_key for index in SEVERITY_INDEXES.values())}
)
INDEX_RECHECK_SECONDS = 60.0
_SECOND_LENGTH = 19


@dataclass(frozen=True)
class Page:
    query: _PageQuery
    items: list[dict[str, Any]]
    next_token: str | None

    def to_body(self) -> dict[str, Any]:
        time_range = self.query.time_range
        return {
            "site_id": self.query.site_id,
            "start_time": None if time_range.start is None else format_instant(time_range.start),
            "end_time": None if time_range.end is None else format_instant(time_range.end),
            "items": self.items,
            "count": len(self.items),
            "next_token": self.next_token,
        }


@dataclass(frozen=True)
class _Plan:
    """How one endpoint reads: which sort attribute, which bounds, table or index."""

    sort_attribute: str
    lower: str | None
    upper: str | None
    index: IndexDefinition | None = None
    only_anomalies: bool = False
    anomaly_metric: str | None = None
    severities: tuple[str, ...] | None = None

    @property
    def filtered(self) -> bool:
        """DynamoDB's Limit counts items read, and a filter may drop most of them."""
        return self.only_anomalies or self.anomaly_metric is not None

    def sort_key_from(self, position: Position | None, ascending: bool) -> SortKeyCondition:
        """The key condition, narrowed to start at the resumed second."""
        lower, upper = self.lower, self.upper
        if position is not None:
            second = position["s"]
            if ascending:
                lower = second if lower is None else max(lower, second)
            else:
                upper = second + ABOVE_ANY_SUFFIX if upper is None else min(upper, second + ABOVE_ANY_SUFFIX)
        return SortKeyCondition(self.sort_attribute, lower, upper)

    def start_key(self, key: dict[str, str]) -> dict[str, str]:
        """A saved DynamoDB position, adapted to this plan's table or index."""
        if self.index is None:
            return {TIMESTAMP: key[TIMESTAMP]}
        index_key = self.index.sort_key
        return {TIMESTAMP: key[TIMESTAMP], index_key: key.get(index_key) or _sortable(key[TIMESTAMP])}

    def second_of(self, item_or_key: dict[str, Any]) -> str:
        value = item_or_key[self.sort_attribute]
        return str(value["S"] if isinstance(value, dict) else value)[:_SECOND_LENGTH]


class ReadingService:
    def __init__(
        self,
        store: ReadingStore,
        tokens: PageTokenCodec,
        *,
        max_queries_per_page: int = MAX_QUERIES_PER_PAGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._max_queries_per_page = max_queries_per_page
        self._clock = clock
        self._index_unavailable_until: dict[str, float] = {}

    def list_records(self, query: RecordsQuery) -> Page:
        """Readings of one site whose instant lies in the inclusive range, in time order."""
        lower, upper = query.time_range.sort_key_bounds()
        return self._page(RECORDS_ENDPOINT, query, _Plan(TIMESTAMP, lower, upper))

    def list_anomalies(self, query: AnomaliesQuery) -> Page:
        """Anomalous readings of one site, from the sparse index when it is serving."""
        index = anomaly_index_for(query.min_severity)
        if self._clock() >= self._index_unavailable_until.get(index.name, float("-inf")):
            lower, upper = query.time_range.sortable_bounds()
            plan = _Plan(index.sort_key, lower, upper, index=index, anomaly_metric=query.metric)
            try:
                return self._page(ANOMALIES_ENDPOINT, query, plan)
            except IndexUnavailable as error:
                self._index_unavailable_until[index.name] = self._clock() + INDEX_RECHECK_SECONDS
                logger.warning(
                    "Anomaly index unavailable; answering from the base table with a filter",
                    extra={"index": index.name, "reason": str(error)},
                )
        lower, upper = query.time_range.sort_key_bounds()
        severities = None
        if query.min_severity not in (None, "low"):
            severities = SEVERITY_LEVELS[SEVERITY_LEVELS.index(query.min_severity) :]
        fallback = _Plan(
            TIMESTAMP, lower, upper, only_anomalies=True, anomaly_metric=query.metric, severities=severities
        )
        return self._page(ANOMALIES_ENDPOINT, query, fallback)

    def _page(self, endpoint: str, query: RecordsQuery | AnomaliesQuery, plan: _Plan) -> Page:
        position = self._resume_position(endpoint, query)
        items, next_position = self._collect(query, plan, position)
        next_token = None
        if next_position is not None:
            next_token = self._tokens.encode(endpoint, query.identity(), next_position)
        return Page(query=query, items=[to_public_item(item) for item in items], next_token=next_token)

    def _collect(
        self, query: RecordsQuery | AnomaliesQuery, plan: _Plan, position: Position | None
    ) -> tuple[list[RawItem], Position | None]:
        """Fill one page; returns its items and where the next page starts (``None``: no more)."""
        limit, ascending, time_range = query.limit, query.ascending, query.time_range
        page: list[RawItem] = []
        skip = 0 if position is None else int(position["n"])
        pending: list[RawItem] = []  # items of the latest second, not yet known to be complete
        pending_second = ""

        def place_pending() -> Position | None:
            """Put the complete second ``pending`` on the page; its position if the page fills first."""
            nonlocal skip
            ordered = sorted(pending, key=_instant_order, reverse=not ascending) if len(pending) > 1 else pending
            first, skip = skip, 0
            for index in range(first, len(ordered)):
                if len(page) == limit:
                    return {"s": pending_second, "n": index}
                page.append(ordered[index])
            pending.clear()
            return None

        start_key = None if position is None or "k" not in position else plan.start_key(position["k"])
        sort_key = plan.sort_key_from(position, ascending)
        for _ in range(self._max_queries_per_page):
            # Enough to fill the page and peek past it; and at least double a second still
            # being read, so a second holding many readings costs few calls, not one per item.
            wanted = max(1, limit + 1 + skip - len(page) - len(pending), 2 * len(pending))
            if plan.filtered:
                wanted = max(wanted, FALLBACK_QUERY_LIMIT)
            result = self._store.query(
                PartitionQuery(
                    site_id=query.site_id,
                    sort_key=sort_key,
                    ascending=ascending,
                    limit=wanted,
                    exclusive_start_key=start_key,
                    projection=query.projection,
                    index=plan.index,
                    only_anomalies=plan.only_anomalies,
                    anomaly_metric=plan.anomaly_metric,
                    severities=plan.severities,
                )
            )
            for item in result.items:
                # Exact for the boundary seconds the key condition cannot decide; an unparseable
                # legacy key inside the key range is shown rather than hidden.
                if not time_range.holds_stored(item[TIMESTAMP]["S"], if_unparseable=True):
                    continue
                second = plan.second_of(item)
                if pending and second != pending_second and (resume := place_pending()) is not None:
                    return page, resume
                if len(page) == limit and not pending:
                    return page, {"s": second, "n": 0}
                pending.append(item)
                pending_second = second
            start_key = result.last_evaluated_key
            if start_key is None:
                return page, (place_pending() if pending else None)
            if pending and plan.second_of(start_key) != pending_second and (resume := place_pending()) is not None:
                return page, resume
        # Query budget spent (only the filtered fallback, or a second holding a vast number of
        # readings, gets here): resume where reading stopped.
        if pending:
            return page, {"s": pending_second, "n": skip}
        assert start_key is not None
        # Nothing of this second was kept, so continuing after DynamoDB's own key loses nothing
        # and guarantees progress even inside one second.
        return page, {"s": plan.second_of(start_key), "n": 0, "k": start_key}

    def _resume_position(self, endpoint: str, query: _PageQuery) -> Position | None:
        if query.next_token is None:
            return None
        position = self._tokens.decode(query.next_token, endpoint, query.identity())
        second, skip, key = position.get("s"), position.get("n"), position.get("k", {TIMESTAMP: ""})
        valid_key = (
            isinstance(key, dict)
            and TIMESTAMP in key
            and set(key) <= _POSITION_KEYS
            and all(isinstance(value, str) for value in key.values())
        )
        if not (isinstance(second, str) and len(second) <= 64 and isinstance(skip, int) and skip >= 0 and valid_key):
            raise InvalidPageToken("next_token is not valid.")
        return position


def _sortable(stored_timestamp: str) -> str:
    try:
        return format_sortable_instant(parse_stored_instant(stored_timestamp))
    except (ValueError, OverflowError):
        raise InvalidPageToken("next_token is not valid.") from None


def _instant_order(item: RawItem) -> tuple[str, str]:
    stored = str(item[TIMESTAMP]["S"])
    try:
        return format_sortable_instant(parse_stored_instant(stored)), stored
    except (ValueError, OverflowError):
        return stored, stored


def to_public_item(item: RawItem) -> dict[str, Any]:
    """A reading ready for JSON: numbers keep DynamoDB's exact digits, the timestamp is canonical."""
    public = {name: public_value(value) for name, value in item.items() if not name.startswith(ANOMALY_AT)}
    public[TIMESTAMP] = normalise_stored_timestamp(public[TIMESTAMP])
    return public


def public_value(value: dict[str, Any]) -> Any:
    """One DynamoDB-typed value as JSON-ready Python, without a ``Decimal`` round trip: a number
    becomes a pre-serialised JSON fragment of its stored digits (see ``http.to_json``)."""
    if "N" in value:  # the common cases first, without unpacking: this runs for every attribute
        return json_number(value["N"])
    if "S" in value:
        return value["S"]
    ((kind, content),) = value.items()
    if kind == "BOOL":
        return bool(content)
    if kind == "NULL":
        return None
    if kind == "M":
        return {name: public_value(member) for name, member in content.items()}
    if kind == "L":
        return [public_value(member) for member in content]
    if kind == "SS":
        return sorted(content)
    if kind == "NS":
        return [json_number(number) for number in sorted(content, key=Decimal)]
    if kind == "B":
        return base64_text(content)
    if kind == "BS":
        return sorted(base64_text(member) for member in content)
    raise ValueError(f"unknown DynamoDB type {kind}")
