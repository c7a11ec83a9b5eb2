"""What the service says about itself: the index document and the health check."""

from __future__ import annotations

from typing import Any

from chalicelib.errors import StoreUnavailable
from chalicelib.settings import SERVICE_NAME, SERVICE_VERSION, Settings
from chalicelib.store import ReadingStore

PAGE_PARAMETERS = ["site_id", "start_time", "end_time", "limit", "order", "fields", "next_token"]
ENDPOINTS = (
    {"method": "GET", "path": "/", "description": "This document."},
    {"method": "GET", "path": "/health", "description": "200 when DynamoDB answers for the table, 503 otherwise."},
    {
        "method": "GET",
        "path": "/records",
        "description": "Readings of one site in an inclusive time range.",
        "parameters": [*PAGE_PARAMETERS, "resolution", "tz", "max_points"],
    },
    {
        "method": "GET",
        "path": "/anomalies",
        "description": "Anomalous readings of one site, optionally in a time range.",
        "parameters": [*PAGE_PARAMETERS, "min_severity", "metric"],
    },
    {"method": "POST", "path": "/records", "description": "Ingest up to 1,000 readings (JSON array, NDJSON or CSV)."},
    {"method": "GET", "path": "/sites", "description": "Sites that have data.", "parameters": ["limit", "next_token"]},
    {
        "method": "GET",
        "path": "/sites/{site_id}/summary",
        "description": "Dashboard header: reading span, energy today / 7 / 30 days, latest values, open anomalies.",
        "parameters": ["tz", "as_of"],
    },
)

# A table still being created or deleted cannot serve reads; UPDATING tables can.
_SERVING_TABLE_STATES = frozenset({"ACTIVE", "UPDATING"})


def describe_service(settings: Settings) -> dict[str, Any]:
    """The index document; deliberately makes no DynamoDB call."""
    return {
        "service": SERVICE_NAME,
        "version": SERVICE_VERSION,
        "stage": settings.stage,
        "endpoints": list(ENDPOINTS),
    }


def check_health(store: ReadingStore, retry_after_seconds: int) -> dict[str, Any]:
    status = store.describe()
    if status["table_status"] not in _SERVING_TABLE_STATES:
        raise StoreUnavailable(retry_after_seconds)
    return {"status": "ok", "table": store.table_name, **status}
