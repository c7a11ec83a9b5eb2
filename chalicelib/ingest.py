"""Ingest: validate meter readings one by one, store the valid ones idempotently, lose none.

Every source (``POST /records``, S3 files, the demo seeder) goes through :func:`parse_batch`
and :class:`IngestService`, so validation, canonical timestamps, anomaly detection and
rollups are the same whichever way a reading arrives.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from chalicelib.batch_writes import put_items
from chalicelib.detection import (
    DETECTOR_VERSION,
    HISTORY_DAYS,
    Anomaly,
    rule_anomalies,
    severity_rank,
    statistical_anomalies,
)
from chalicelib.errors import ApiError, ParameterError, StoreUnavailable
from chalicelib.queries import FIELD_NAME_PATTERN, SITE_ID_PATTERN
from chalicelib.rollups import DAY, RollupMaintainer, RollupStore, floor_to
from chalicelib.settings import SERVICE_NAME
from chalicelib.sites import SiteRegistry
from chalicelib.store import ReadingStore, translate_errors
from chalicelib.tables import (
    ANOMALY_AT,
    ANOMALY_FLAG,
    ANOMALY_METRICS,
    ANOMALY_SEVERITY,
    SEVERITY_INDEXES,
    SITE_ID,
    TIMESTAMP,
)
from chalicelib.timestamps import InvalidInstant, format_instant, format_sortable_instant, parse_reading_instant

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(service=SERVICE_NAME, child=True)

MAX_READINGS_PER_REQUEST = 1000
MAX_EXTRA_METRICS = 20
# Attributes the service owns: a client value is ignored (the old pipeline sent ``anomaly``).
SERVICE_OWNED_PREFIXES = ("anomaly", "ingested_at")


class PayloadTooLarge(ApiError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    slug = "payload-too-large"
    title = "Payload too large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"The body is larger than {limit_bytes} bytes; split it into smaller requests.")


class PayloadError(ApiError):
    """The body as a whole cannot be read (not JSON/NDJSON/CSV, empty, too many readings)."""

    slug = "invalid-payload"
    title = "Invalid payload"


def _instant(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp", "timestamp must be an ISO-8601 date-time string")
    try:
        return parse_reading_instant(value)
    except InvalidInstant as error:
        raise PydanticCustomError("timestamp", str(error)) from None


def _metric(low: int, high: int, unit: str) -> Any:
    return Field(default=None, ge=low, le=high, allow_inf_nan=False, description=unit)


class Reading(BaseModel):
    """One meter reading as clients send it; units are in the field names."""

    model_config = ConfigDict(extra="allow", frozen=True)

    site_id: Annotated[str, Field(pattern=SITE_ID_PATTERN)]
    timestamp: Annotated[datetime, BeforeValidator(_instant)]
    # Bounds reject what no meter can report; suspicious-but-possible values are kept and
    # flagged by anomaly detection instead (e.g. negative energy, 60 °C).
    energy_generated_kwh: Decimal | None = _metric(-100_000, 10_000_000, "kWh in the interval")
    energy_consumed_kwh: Decimal | None = _metric(-100_000, 10_000_000, "kWh in the interval")
    temperature_c: Decimal | None = _metric(-100, 150, "degrees Celsius")
    humidity_percent: Decimal | None = _metric(-50, 150, "relative humidity, %")
    weather_condition: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _metrics_are_storable_numbers(self) -> Reading:
        extras = {name: value for name, value in (self.model_extra or {}).items() if not _service_owned(name)}
        if len(extras) > MAX_EXTRA_METRICS:
            raise PydanticCustomError("extra", "at most {limit} extra metrics", {"limit": MAX_EXTRA_METRICS})
        for name, value in extras.items():
            if not _is_field_name(name):
                raise PydanticCustomError("extra", "'{name}' is not a valid metric name", {"name": name})
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or not _finite(value):
                raise PydanticCustomError("extra", "extra metric '{name}' must be a finite number", {"name": name})
        for name, value in self.metrics().items():
            if not fits_dynamodb_number(value):
                raise PydanticCustomError(
                    "number",
                    "{name} must have at most 38 significant digits and a magnitude from 1E-130 to 1E+125",
                    {"name": name},
                )
        return self

    def metrics(self) -> dict[str, Decimal]:
        """Every numeric metric present, known and extra, as exact decimals."""
        known = {
            name: value
            for name in ("energy_generated_kwh", "energy_consumed_kwh", "temperature_c", "humidity_percent")
            if (value := getattr(self, name)) is not None
        }
        extra = {
            name: Decimal(str(value)) for name, value in (self.model_extra or {}).items() if not _service_owned(name)
        }
        return known | extra

    @property
    def key(self) -> tuple[str, str]:
        return self.site_id, format_instant(self.timestamp)


def _service_owned(name: str) -> bool:
    return name.startswith(SERVICE_OWNED_PREFIXES)


def _is_field_name(name: str) -> bool:
    return re.fullmatch(FIELD_NAME_PATTERN, name) is not None


def fits_dynamodb_number(value: Decimal) -> bool:
    """DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 to under 1E+126, or zero."""
    if value.is_zero():
        return True
    digits = "".join(map(str, value.as_tuple().digits)).strip("0")  # not normalize(): it rounds to 28
    return len(digits) <= 38 and -130 <= value.adjusted() <= 125


def _finite(value: int | float | Decimal) -> bool:
    return Decimal(str(value)).is_finite() and abs(Decimal(str(value))) < Decimal("1e15")


@dataclass(frozen=True)
class Rejection:
    index: int
    errors: list[ParameterError]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "errors": [{"field": e.parameter, "message": e.message} for e in self.errors]}


@dataclass
class ParsedBatch:
    readings: list[tuple[int, Reading]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # Every site a record names, valid or not: a caller may not even try another site's data.
    named_sites: set[str] = field(default_factory=set)

    @property
    def received(self) -> int:
        return len(self.readings) + len(self.rejections)


def parse_batch(raw: bytes | str, content_type: str = "application/json") -> ParsedBatch:
    """Read a JSON array, NDJSON or CSV body, validating each reading on its own."""
    records = read_records(raw, content_type)
    if not records:
        raise PayloadError("The body holds no readings. Send a JSON array, NDJSON or CSV of readings.")
    if len(records) > MAX_READINGS_PER_REQUEST:
        raise PayloadError(
            f"{len(records)} readings in one request; send at most {MAX_READINGS_PER_REQUEST} per request."
        )
    return validate_records(records)


def read_records(raw: bytes | str, content_type: str) -> list[Any]:
    """The records of a JSON array, NDJSON or CSV document, not yet validated."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise PayloadError("The body is not UTF-8 text.") from None
    try:
        return _records(text, content_type.split(";", maxsplit=1)[0].strip().lower())
    except (RecursionError, ValueError, csv.Error) as error:
        # Nesting too deep, an integer too long for Python, a CSV field over the size limit.
        raise PayloadError(f"The body cannot be read as readings: {type(error).__name__}.") from None


def validate_records(records: list[Any], first_index: int = 0) -> ParsedBatch:
    """Validate each record on its own; indexes count from ``first_index`` (its place in a file)."""
    batch = ParsedBatch()
    for index, record in enumerate(records, start=first_index):
        if not isinstance(record, Mapping):
            batch.rejections.append(Rejection(index, [ParameterError("reading", "must be a JSON object")]))
            continue
        if isinstance(record.get("site_id"), str):
            batch.named_sites.add(record["site_id"])
        try:
            batch.readings.append((index, Reading.model_validate(dict(record))))
        except ValidationError as error:
            batch.rejections.append(Rejection(index, [_describe(detail) for detail in error.errors()]))
    return batch


def _records(text: str, content_type: str) -> list[Any]:
    if content_type == "text/csv":
        return [_csv_row(row) for row in csv.DictReader(io.StringIO(text))]
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        try:
            loaded = json.loads(stripped, parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise PayloadError(f"The body is not valid JSON: {error.msg} at line {error.lineno}.") from None
        return list(loaded)
    records = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line, parse_float=Decimal))
        except json.JSONDecodeError as error:
            raise PayloadError(f"Line {number} is not valid JSON: {error.msg}. Send a JSON array or NDJSON.") from None
    return records


def _csv_row(row: dict[str, str | None]) -> dict[str, Any]:
    """CSV cells are text: numbers become decimals, empty cells mean 'not measured'."""
    converted: dict[str, Any] = {}
    for name, cell in row.items():
        if name is None or cell is None or cell == "":
            continue
        if name in (SITE_ID, TIMESTAMP, "weather_condition"):
            converted[name] = cell
            continue
        try:
            converted[name] = Decimal(cell)
        except ArithmeticError:
            converted[name] = cell  # validation reports it against its column
    return converted


def _describe(detail: Any) -> ParameterError:
    location = detail.get("loc") or ()
    name = str(location[0]) if location else "reading"
    if detail["type"] == "missing":
        return ParameterError(name, f"{name} is required")
    return ParameterError(name, detail["msg"])


@dataclass
class IngestResult:
    received: int
    stored: int
    rejected: list[Rejection]
    not_stored: list[dict[str, Any]]
    anomalies: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "rejected": [rejection.to_json() for rejection in self.rejected],
            "not_stored": self.not_stored,
            "anomalies": self.anomalies,
        }


def latest_per_key(readings: Iterable[tuple[int, Reading]]) -> list[tuple[int, Reading]]:
    """One reading per (site, instant): the last one sent wins, as a re-send would."""
    latest: dict[tuple[str, str], tuple[int, Reading]] = {}
    for index, reading in readings:
        latest[reading.key] = (index, reading)
    return sorted(latest.values(), key=lambda pair: (pair[1].site_id, pair[1].timestamp))


def stored_item(reading: Reading, ingested_at: datetime) -> dict[str, Any]:
    """The DynamoDB item for a reading, in the one canonical timestamp form."""
    site_id, timestamp = reading.key
    item: dict[str, Any] = {
        SITE_ID: {"S": site_id},
        TIMESTAMP: {"S": timestamp},
        ANOMALY_FLAG: {"BOOL": False},
        "ingested_at": {"S": format_instant(ingested_at)},
    }
    for name, value in reading.metrics().items():
        item[name] = {"N": _number_text(value)}
    if reading.weather_condition is not None:
        item["weather_condition"] = {"S": reading.weather_condition}
    return item


def _number_text(value: Decimal) -> str:
    return format(value, "f") if value == value.to_integral_value() or abs(value.adjusted()) < 20 else str(value)


class Deadline:
    """The request's time budget; retries stop when it is spent."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends_at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._ends_at - self._clock())

    def spent(self) -> bool:
        return self.remaining() <= 0


def utc_now() -> datetime:
    return datetime.now(UTC)


class AlertPublisher(Protocol):
    def publish(self, site_id: str, timestamp: str, anomalies: list[Anomaly]) -> None: ...


class LogAlertPublisher:
    """Local stages: alerts go to the log."""

    def publish(self, site_id: str, timestamp: str, anomalies: list[Anomaly]) -> None:
        logger.warning("Anomaly alert", extra={"alert": alert_message(site_id, timestamp, anomalies)})


class SnsAlertPublisher:
    """AWS stages: one SNS message per anomalous reading, JSON that ``on_sns_message`` handlers parse."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, site_id: str, timestamp: str, anomalies: list[Anomaly]) -> None:
        message = alert_message(site_id, timestamp, anomalies)
        self._client.publish(
            TopicArn=self._topic_arn,
            Subject=f"{message['severity']} anomaly at {site_id}"[:100],
            Message=json.dumps(message, default=str),
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": message["severity"]},
                "site_id": {"DataType": "String", "StringValue": site_id},
            },
        )


def alert_message(site_id: str, timestamp: str, anomalies: list[Anomaly]) -> dict[str, Any]:
    worst = max(anomalies, key=lambda anomaly: anomaly.score)
    return {
        "site_id": site_id,
        "timestamp": timestamp,
        "severity": worst.severity,
        "score": worst.score,
        "anomalies": [
            {
                "metric": anomaly.metric,
                "value": str(anomaly.value),
                "expected": None if anomaly.expected is None else str(anomaly.expected),
                "rule": anomaly.rule,
                "severity": anomaly.severity,
                "score": anomaly.score,
            }
            for anomaly in anomalies
        ],
        "detector_version": DETECTOR_VERSION,
    }


def mark_anomalous(item: dict[str, Any], instant: datetime, anomalies: list[Anomaly]) -> None:
    """Give a reading its anomaly attributes, including the sparse index key."""
    worst = max(anomalies, key=lambda anomaly: anomaly.score)
    item[ANOMALY_FLAG] = {"BOOL": True}
    item[ANOMALY_AT] = {"S": format_sortable_instant(instant)}
    item[ANOMALY_SEVERITY] = {"S": worst.severity}
    item["anomaly_score"] = {"N": str(worst.score)}
    item["anomalies"] = {"L": [anomaly.to_attribute() for anomaly in anomalies]}
    item[ANOMALY_METRICS] = {"SS": sorted({anomaly.metric for anomaly in anomalies})}
    for threshold, index in SEVERITY_INDEXES.items():
        if severity_rank(worst.severity) >= severity_rank(threshold):
            item[index.sort_key] = item[ANOMALY_AT]


class IngestService:
    """Detect, write and roll up readings a site-day at a time, oldest first.

    Each day's detection sees the rollups of the days before it, including days earlier in
    the same batch, so a backfill of history detects exactly as live ingest would.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        readings: ReadingStore,
        rollups: RollupStore,
        registry: SiteRegistry,
        alerts: AlertPublisher,
        *,
        min_alert_severity: str = "high",
    ) -> None:
        self._client = client
        self._readings = readings
        self._rollups = rollups
        self._maintainer = RollupMaintainer(readings, rollups)
        self._registry = registry
        self._alerts = alerts
        self._min_alert_rank = severity_rank(min_alert_severity)

    def ingest(self, batch: ParsedBatch, deadline: Deadline) -> IngestResult:
        result = IngestResult(received=batch.received, stored=0, rejected=batch.rejections, not_stored=[])
        groups: dict[tuple[str, datetime], list[tuple[int, Reading]]] = {}
        for index, reading in latest_per_key(batch.readings):
            groups.setdefault((reading.site_id, floor_to(reading.timestamp, DAY)), []).append((index, reading))
        for (site_id, day), group in sorted(groups.items(), key=lambda entry: (entry[0][1], entry[0][0])):
            if deadline.spent():
                result.not_stored += [_unstored(index, reading) for index, reading in group]
                continue
            try:
                self._ingest_site_day(site_id, day, group, deadline, result)
            except (StoreUnavailable, ClientError):
                # Nothing of the group is reported stored unless its rollups and registry are
                # done too; re-sending it is idempotent and completes them.
                logger.exception("Ingest of a site-day failed; reported as not stored", extra={"site_id": site_id})
                result.not_stored += [_unstored(index, reading) for index, reading in group]
        result.not_stored.sort(key=lambda entry: entry["index"])
        return result

    def _ingest_site_day(
        self,
        site_id: str,
        day: datetime,
        group: list[tuple[int, Reading]],
        deadline: Deadline,
        result: IngestResult,
    ) -> None:
        history = self._rollups.read(site_id, "1h", day - timedelta(days=HISTORY_DAYS), day + DAY, consistent=True)
        ingested_at = utc_now()
        items: dict[str, tuple[int, Reading, dict[str, Any], list[Anomaly]]] = {}
        for index, reading in group:
            item = stored_item(reading, ingested_at)
            metrics = reading.metrics()
            found = rule_anomalies(metrics)
            found += statistical_anomalies(reading.timestamp, metrics, reading.weather_condition, history)
            if found:
                mark_anomalous(item, reading.timestamp, found)
            items[item[TIMESTAMP]["S"]] = (index, reading, item, found)
        with translate_errors(2):
            written = put_items(
                self._client,
                self._readings.table_name,
                (entry[2] for entry in items.values()),
                should_retry=lambda: not deadline.spent(),
            )
        unwritten = {item[TIMESTAMP]["S"] for item in written.unwritten}
        stored = [entry for key, entry in items.items() if key not in unwritten]
        self._maintainer.refresh((site_id, reading.timestamp) for _, reading, _, _ in stored)
        if stored:
            instants = [reading.timestamp for _, reading, _, _ in stored]
            self._registry.record(site_id, min(instants), max(instants))
        result.stored += len(stored)
        result.not_stored += [_unstored(items[key][0], items[key][1]) for key in unwritten]
        for _, _reading, item, found in stored:
            if not found:
                continue
            result.anomalies += 1
            if max(severity_rank(anomaly.severity) for anomaly in found) >= self._min_alert_rank:
                self._publish_alert(site_id, item[TIMESTAMP]["S"], found)

    def _publish_alert(self, site_id: str, timestamp: str, found: list[Anomaly]) -> None:
        """An alert that cannot be sent is logged; it never undoes a stored reading."""
        try:
            self._alerts.publish(site_id, timestamp, found)
        except Exception:
            logger.exception("Anomaly alert could not be published", extra={"site_id": site_id, "timestamp": timestamp})


def _unstored(index: int, reading: Reading) -> dict[str, Any]:
    site_id, timestamp = reading.key
    return {"index": index, "site_id": site_id, "timestamp": timestamp}
