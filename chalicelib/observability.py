"""One structured log line, one EMF metrics document and one X-Ray subsegment per request.

Routes and stores do not log per request; they add to the request's ``RequestStats`` (DynamoDB
items read and capacity consumed come from botocore events on the client, so no call site can
forget them), and the HTTP middleware reports it all once, when the answer is known.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.settings import SERVICE_NAME

logger = Logger(service=SERVICE_NAME, child=True)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EnergyMetrics"), service=SERVICE_NAME)

# Operations that can report the capacity they consumed.
_CAPACITY_OPERATIONS = frozenset(
    {"Query", "Scan", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem"}
)


@dataclass
class RequestStats:
    items_read: int = 0
    consumed_capacity: float = 0.0
    throttles: int = 0
    items_returned: int | None = None
    cache: str | None = None  # "hit" or "miss" when the response cache was consulted
    extra: dict[str, Any] = field(default_factory=dict)


_stats: ContextVar[RequestStats | None] = ContextVar("request_stats", default=None)


def current_stats() -> RequestStats:
    """The running request's stats; outside a request (scripts, S3 ingest) a throwaway."""
    return _stats.get() or RequestStats()


# What DynamoDB answers when it throttles (on-demand tables too: ThrottlingException).
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


def count_dynamodb_usage(client: Any) -> Any:
    """Ask every capable call for its consumed capacity and add it, with items read and every
    throttled attempt (retried or not), to the running request's stats. Returns the client."""
    client.meta.events.register(
        "provide-client-params.dynamodb.*", _ask_for_capacity, unique_id="energy-metrics-capacity"
    )
    client.meta.events.register("after-call.dynamodb.*", _record_usage, unique_id="energy-metrics-usage")
    client.meta.events.register("needs-retry.dynamodb.*", _record_throttle, unique_id="energy-metrics-throttles")
    return client


def _ask_for_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    if model.name in _CAPACITY_OPERATIONS:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")


def _record_usage(parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
    stats = _stats.get()
    if stats is None:
        return
    if "ScannedCount" in parsed:
        stats.items_read += int(parsed["ScannedCount"])
    elif model.name == "GetItem" and "Item" in parsed:
        stats.items_read += 1
    capacity = parsed.get("ConsumedCapacity")
    for entry in capacity if isinstance(capacity, list) else [capacity] if capacity else []:
        stats.consumed_capacity += float(entry.get("CapacityUnits", 0))


def _record_throttle(response: tuple[Any, Mapping[str, Any]] | None = None, **_: Any) -> None:
    """Called by botocore after every attempt, before it decides on a retry; never answers."""
    stats = _stats.get()
    if stats is None or response is None:
        return
    if response[1].get("Error", {}).get("Code") in THROTTLING_CODES:
        stats.throttles += 1


class _ColdStart:
    """True for the first request a container serves."""

    def __init__(self) -> None:
        self._first = True

    def take(self) -> bool:
        first, self._first = self._first, False
        return first


cold_start = _ColdStart()


TRACED_MODULES = ("botocore",)


def tracer() -> Any:
    """Powertools' X-Ray tracer (patching botocore, so every DynamoDB call is a subsegment) when
    the function runs with active tracing; ``None`` otherwise, so local runs and the cold start
    of untraced stages never import the X-Ray SDK."""
    return _TRACER.get()


class _LazyTracer:
    def __init__(self) -> None:
        self._tracer: Any = None
        self._decided = False

    def get(self) -> Any:
        if not self._decided:
            self._decided = True
            traced = os.environ.get("AWS_XRAY_DAEMON_ADDRESS") and os.environ.get(
                "POWERTOOLS_TRACE_DISABLED", "false"
            ).lower() not in ("1", "true")
            if traced:
                from aws_lambda_powertools import Tracer  # noqa: PLC0415

                # botocore alone (DynamoDB, S3, SNS, Secrets Manager calls as subsegments): patching every
                # library the X-Ray SDK knows doubles the tracer's share of the cold start.
                self._tracer = Tracer(service=SERVICE_NAME, patch_modules=TRACED_MODULES)
        return self._tracer


_TRACER = _LazyTracer()


@dataclass
class Observation:
    route: str
    method: str
    request_id: str
    site_id: str | None
    stats: RequestStats
    cold: bool
    started: float = field(default_factory=time.perf_counter)

    def finish(self, status: int) -> None:
        latency_ms = round((time.perf_counter() - self.started) * 1000, 2)
        stats = self.stats
        logger.info(
            "request",
            extra={
                "request_id": self.request_id,
                "route": self.route,
                "method": self.method,
                "site_id": self.site_id,
                "status": status,
                "latency_ms": latency_ms,
                "items_returned": stats.items_returned,
                "dynamodb_items_read": stats.items_read,
                "consumed_capacity": stats.consumed_capacity,
                "throttles": stats.throttles,
                "cache": stats.cache,
                "cold_start": self.cold,
                **stats.extra,
            },
        )
        metrics.add_dimension("route", f"{self.method} {self.route}")
        metrics.add_metric("Latency", MetricUnit.Milliseconds, latency_ms)
        metrics.add_metric("DynamoDBItemsRead", MetricUnit.Count, stats.items_read)
        metrics.add_metric("ConsumedCapacity", MetricUnit.Count, stats.consumed_capacity)
        metrics.add_metric("Status4xx", MetricUnit.Count, int(400 <= status < 500))
        metrics.add_metric("Status5xx", MetricUnit.Count, int(status >= 500))
        metrics.add_metric("Throttles", MetricUnit.Count, stats.throttles)
        metrics.add_metric("ColdStart", MetricUnit.Count, int(self.cold))
        if stats.items_returned is not None:
            metrics.add_metric("ItemsReturned", MetricUnit.Count, stats.items_returned)
        if stats.cache is not None:
            metrics.add_metric("CacheHit", MetricUnit.Count, int(stats.cache == "hit"))
        metrics.flush_metrics()
        metrics.clear_metrics()  # flush keeps them when metrics are disabled; never let them pile up


@contextmanager
def observe(route: str, method: str, request_id: str, site_id: str | None) -> Iterator[Observation]:
    """Collect a request's stats while it runs (and trace it, when tracing is on)."""
    observation = Observation(route, method, request_id, site_id, RequestStats(), cold_start.take())
    token = _stats.set(observation.stats)
    active_tracer = tracer()
    try:
        if active_tracer is None:
            yield observation
        else:
            with active_tracer.provider.in_subsegment(f"## {method} {route}") as subsegment:
                subsegment.put_annotation("route", route)
                if site_id:
                    subsegment.put_annotation("site_id", site_id)
                yield observation
    finally:
        _stats.reset(token)
