"""Process-wide collaborators, built lazily once per Lambda container and replaceable in tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.api_keys import ApiKeyStore
from chalicelib.aws_clients import REQUEST_PATH_CONFIG, aws_client
from chalicelib.caching import FreshnessPolicy, ResponseCache
from chalicelib.fast_responses import parse_with_orjson
from chalicelib.http import CorsPolicy
from chalicelib.observability import count_dynamodb_usage
from chalicelib.page_tokens import PageTokenCodec
from chalicelib.readings import ReadingService
from chalicelib.rollups import RollupStore
from chalicelib.settings import Settings, get_settings
from chalicelib.sites import SiteRegistry, SiteService
from chalicelib.store import ReadingStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from chalicelib.aggregates import AggregateService
    from chalicelib.ingest import AlertPublisher, IngestService


@dataclass(frozen=True)
class AppContext:
    """What requests need. Ingest and aggregates are built on first use: a read-only container
    (and its cold start) never imports the validation models, detectors and rollup maths."""

    settings: Settings
    client: DynamoDBClient
    store: ReadingStore
    readings: ReadingService
    sites: SiteService
    cors: CorsPolicy
    api_keys: ApiKeyStore
    rollups: RollupStore
    registry: SiteRegistry
    freshness: FreshnessPolicy
    response_cache: ResponseCache | None
    alerts: AlertPublisher | None = None

    @cached_property
    def ingest(self) -> IngestService:
        from chalicelib.ingest import IngestService, LogAlertPublisher, SnsAlertPublisher  # noqa: PLC0415

        alerts = self.alerts
        if alerts is None:
            topic = self.settings.alert_topic_arn
            alerts = SnsAlertPublisher(aws_client("sns"), topic) if topic else LogAlertPublisher()
        return IngestService(
            self.client,
            self.store,
            self.rollups,
            self.registry,
            alerts,
            min_alert_severity=self.settings.alert_min_severity,
        )

    @cached_property
    def aggregates(self) -> AggregateService:
        from chalicelib.aggregates import AggregateService  # noqa: PLC0415

        return AggregateService(self.store, self.rollups)


def create_dynamodb_client() -> DynamoDBClient:
    """Region, credentials and ``AWS_ENDPOINT_URL_DYNAMODB`` come from the standard AWS settings."""
    client: DynamoDBClient = count_dynamodb_usage(parse_with_orjson(aws_client("dynamodb", REQUEST_PATH_CONFIG)))
    return client


def build_context(settings: Settings, client: DynamoDBClient, alerts: AlertPublisher | None = None) -> AppContext:
    store = ReadingStore(client, settings.dynamodb_table, settings.retry_after_seconds)
    rollups = RollupStore(client, settings.rollups_table, settings.retry_after_seconds)
    registry = SiteRegistry(client, settings.sites_table, settings.retry_after_seconds)
    tokens = PageTokenCodec(settings.token_secret, settings.page_token_ttl_seconds)
    # A cached page's next_token must still be valid when the client follows it.
    freshness = FreshnessPolicy(
        settings.late_data_seconds, settings.open_window_max_age_seconds, settings.page_token_ttl_seconds // 2
    )
    return AppContext(
        settings=settings,
        client=client,
        store=store,
        readings=ReadingService(store, tokens),
        sites=SiteService(registry, store, rollups, tokens),
        cors=CorsPolicy(settings),
        api_keys=ApiKeyStore(client, settings.api_keys_table, settings.retry_after_seconds),
        rollups=rollups,
        registry=registry,
        freshness=freshness,
        response_cache=(
            ResponseCache(settings.response_cache_bytes, freshness.closed_max_age_seconds)
            if settings.response_cache_enabled
            else None
        ),
        alerts=alerts,
    )


@cache
def s3_client() -> Any:
    """Created on first use: only the S3 ingest handler needs it."""
    return aws_client("s3")


_current: AppContext | None = None


def current_context() -> AppContext:
    global _current
    if _current is None:
        _current = build_context(get_settings(), create_dynamodb_client())
    return _current


def use_context(context: AppContext | None) -> None:
    """Install a context (tests), or ``None`` to rebuild from the environment on next use."""
    global _current
    _current = context
