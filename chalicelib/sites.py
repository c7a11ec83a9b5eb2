"""The site registry (kept on ingest, never a Scan of readings) and the dashboard-header summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

from chalicelib.errors import ApiError
from chalicelib.page_tokens import PageTokenCodec
from chalicelib.readings import to_public_item
from chalicelib.rollups import DAY, HOUR, Bucket, RollupStore, bucket_readings, floor_to
from chalicelib.store import PartitionQuery, ReadingStore, SortKeyCondition, translate_errors
from chalicelib.tables import ANOMALY_INDEX, SITE_ID, TIMESTAMP
from chalicelib.timestamps import TimeRange, format_instant, format_sortable_instant, parse_stored_instant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REGISTRY_PARTITION = "sites"
SITES_ENDPOINT = "/sites"
OPEN_ANOMALY_WINDOW = timedelta(hours=24)
ENERGY_METRICS = {"generated_kwh": "energy_generated_kwh", "consumed_kwh": "energy_consumed_kwh"}


class SiteNotFound(ApiError):
    status = HTTPStatus.NOT_FOUND
    slug = "site-not-found"
    title = "Site not found"


@dataclass(frozen=True)
class SiteEntry:
    site_id: str
    first_reading_at: str
    last_reading_at: str

    def to_json(self) -> dict[str, str]:
        return {
            "site_id": self.site_id,
            "first_reading_at": format_instant(parse_stored_instant(self.first_reading_at)),
            "last_reading_at": format_instant(parse_stored_instant(self.last_reading_at)),
        }


class SiteRegistry:
    """One partition listing every site with data, sorted by site id, so listing is a Query."""

    def __init__(self, client: DynamoDBClient, table_name: str, retry_after_seconds: int = 2) -> None:
        self._client = client
        self.table_name = table_name
        self._retry_after_seconds = retry_after_seconds

    def record(self, site_id: str, first: datetime, last: datetime) -> None:
        """Widen the site's [first, last] reading span; safe to repeat and to race."""
        key = {"registry": {"S": REGISTRY_PARTITION}, SITE_ID: {"S": site_id}}
        for attribute, instant, comparison in (("first_reading_at", first, ">"), ("last_reading_at", last, "<")):
            try:
                with translate_errors(self._retry_after_seconds):
                    self._client.update_item(
                        TableName=self.table_name,
                        Key=key,
                        UpdateExpression="SET #at = :at",
                        ConditionExpression=f"attribute_not_exists(#at) OR #at {comparison} :at",
                        ExpressionAttributeNames={"#at": attribute},
                        ExpressionAttributeValues={":at": {"S": format_sortable_instant(instant)}},
                    )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def get(self, site_id: str) -> SiteEntry | None:
        with translate_errors(self._retry_after_seconds):
            item = self._client.get_item(
                TableName=self.table_name, Key={"registry": {"S": REGISTRY_PARTITION}, SITE_ID: {"S": site_id}}
            ).get("Item")
        return None if item is None else _entry(item)

    def page(self, limit: int, after_site: str | None) -> tuple[list[SiteEntry], str | None]:
        """Up to ``limit`` sites after ``after_site``, and the last one returned if more may follow."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#registry = :registry",
            "ExpressionAttributeNames": {"#registry": "registry"},
            "ExpressionAttributeValues": {":registry": {"S": REGISTRY_PARTITION}},
            "Limit": limit + 1,
        }
        if after_site is not None:
            arguments["ExclusiveStartKey"] = {"registry": {"S": REGISTRY_PARTITION}, SITE_ID: {"S": after_site}}
        with translate_errors(self._retry_after_seconds):
            items = self._client.query(**arguments).get("Items", [])
        entries = [_entry(item) for item in items[:limit]]
        more = len(items) > limit
        return entries, (entries[-1].site_id if more and entries else None)

    def page_of(
        self, site_ids: Iterable[str], limit: int, after_site: str | None
    ) -> tuple[list[SiteEntry], str | None]:
        """Like ``page``, over just ``site_ids`` (an API key's sites): one GetItem per site, in
        site order, so a key for a few sites never reads the registry entries of others."""
        entries: list[SiteEntry] = []
        for site_id in sorted(site_ids):
            if after_site is not None and site_id <= after_site:
                continue
            entry = self.get(site_id)
            if entry is None:
                continue
            if len(entries) == limit:
                return entries, entries[-1].site_id
            entries.append(entry)
        return entries, None


def _entry(item: dict[str, Any]) -> SiteEntry:
    return SiteEntry(item[SITE_ID]["S"], item["first_reading_at"]["S"], item["last_reading_at"]["S"])


class SiteService:
    def __init__(
        self, registry: SiteRegistry, readings: ReadingStore, rollups: RollupStore, tokens: PageTokenCodec
    ) -> None:
        self._registry = registry
        self._readings = readings
        self._rollups = rollups
        self._tokens = tokens

    def list_sites(self, limit: int, next_token: str | None, visible: frozenset[str] | None = None) -> dict[str, Any]:
        """Sites with data, or only those in ``visible`` (the caller's API key's sites)."""
        query = {"limit": limit}
        after = None
        if next_token is not None:
            after = str(self._tokens.decode(next_token, SITES_ENDPOINT, query).get("after", "")) or None
        if visible is None:
            entries, last = self._registry.page(limit, after)
        else:
            entries, last = self._registry.page_of(visible, limit, after)
        token = None if last is None else self._tokens.encode(SITES_ENDPOINT, query, {"after": last})
        return {"items": [entry.to_json() for entry in entries], "count": len(entries), "next_token": token}

    def summary(self, site_id: str, as_of: datetime | None, tz: str) -> dict[str, Any]:
        """What a dashboard header shows; energy windows are whole hours ending with ``as_of``'s hour."""
        entry = self._registry.get(site_id)
        if entry is None:
            raise SiteNotFound(f"No readings have been stored for site '{site_id}'.")
        zone = ZoneInfo(tz)
        now = as_of or datetime.now(UTC)
        local_midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        window_end = floor_to(now, HOUR) + HOUR
        windows = {
            "today": local_midnight,
            "last_7_days": window_end - timedelta(days=7),
            "last_30_days": window_end - timedelta(days=30),
        }
        return {
            "site_id": site_id,
            "as_of": format_instant(now),
            "tz": tz,
            **entry.to_json(),
            "energy": {name: self._energy(site_id, start, window_end) for name, start in windows.items()},
            "latest": self._latest(site_id, now),
            "open_anomalies": self._readings.count(
                PartitionQuery(
                    site_id,
                    SortKeyCondition(
                        ANOMALY_INDEX.sort_key,
                        format_sortable_instant(now - OPEN_ANOMALY_WINDOW),
                        format_sortable_instant(now),
                    ),
                    index=ANOMALY_INDEX,
                )
            ),
            "open_anomaly_window_hours": int(OPEN_ANOMALY_WINDOW / HOUR),
        }

    def _energy(self, site_id: str, start: datetime, end: datetime) -> dict[str, Decimal]:
        """Sums from daily rollups for whole UTC days, hourly rollups for whole hours, and raw
        readings for a part-hour start (a local midnight in a zone such as Asia/Kolkata)."""
        parts: list[Bucket] = []
        whole_hours_from = floor_to(start + HOUR - timedelta(microseconds=1), HOUR)
        if start < whole_hours_from:
            head = self._readings.read_range(site_id, TimeRange(start, whole_hours_from - timedelta(microseconds=1)))
            parts += bucket_readings(head, HOUR).values()
            start = whole_hours_from
        first_day, last_day = floor_to(start + DAY - timedelta(microseconds=1), DAY), floor_to(end, DAY)
        if first_day < last_day:
            parts += self._rollups.read(site_id, "1d", first_day, last_day)
            parts += self._rollups.read(site_id, "1h", start, first_day)
            parts += self._rollups.read(site_id, "1h", last_day, end)
        else:
            parts += self._rollups.read(site_id, "1h", start, end)
        totals = {}
        for name, metric in ENERGY_METRICS.items():
            totals[name] = sum((part.metrics[metric].total for part in parts if metric in part.metrics), Decimal(0))
        return totals

    def _latest(self, site_id: str, as_of: datetime) -> dict[str, Any] | None:
        upper = TimeRange(None, as_of).sort_key_bounds()[1]
        page = self._readings.query(
            PartitionQuery(site_id, SortKeyCondition(TIMESTAMP, None, upper), ascending=False, limit=1)
        )
        return to_public_item(page.items[0]) if page.items else None
