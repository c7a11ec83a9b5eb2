"""Energy Metrics API: thin Chalice routes; the meaning lives in ``chalicelib``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from chalice import Chalice, Response  # type: ignore[attr-defined]
from chalice.app import AuthRequest, Request, SQSEvent

from chalicelib.access import AUTHORIZER_CACHE_SECONDS, Caller, RoutePermission, authorize
from chalicelib.context import current_context, s3_client
from chalicelib.http import (
    as_problem,
    data_response,
    handle_errors,
    ingest_response,
    internal_error_response,
    json_response,
    single_valued_parameters,
    with_etag,
    with_security_headers,
)
from chalicelib.observability import observe, tracer
from chalicelib.queries import AnomaliesQuery, RecordsQuery, SitesQuery, SummaryQuery, parse_query
from chalicelib.service_info import check_health, describe_service
from chalicelib.settings import SERVICE_NAME, get_settings

# Powertools owns logging (one JSON line per event); Chalice's own handler would print each twice.
app = Chalice(app_name=SERVICE_NAME, configure_logs=False)
logger = Logger(service=SERVICE_NAME)
settings = get_settings()  # a misconfigured stage fails at cold start, naming the bad variable
tracer()  # with active tracing, patch botocore now: the authorizer's and ingest's calls are traced too
if settings.stage == "local":
    from chalicelib.gateway_responses import emulate_in_chalice_local

    emulate_in_chalice_local(
        auth_enabled=lambda: current_context().settings.auth_enabled,
        retry_after_seconds=lambda: current_context().settings.retry_after_seconds,
    )

# Browsers and some HTTP clients send a Content-Type even on GET; never answer 415 for it.
ANY_CONTENT_TYPE = ["*/*"]
INGEST_CONTENT_TYPES = ["application/json", "application/x-ndjson", "text/csv", "text/plain"]
MAX_INGEST_BODY_BYTES = 2 * 1024 * 1024
MAX_CLIENT_REQUEST_ID_LENGTH = 128
PUBLIC_PATHS = ("/", "/health", "/records", "/anomalies", "/sites", "/sites/{site_id}/summary")
View = TypeVar("View", bound=Callable[..., Response])
# Every keyed route and the scope it needs; the authorizer's policy and the routes both read it.
PERMISSIONS: list[RoutePermission] = []


def current_request() -> Request:
    assert app.current_request is not None  # always set while a route runs
    return app.current_request


@app.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS, header="Authorization")
def api_key_authorizer(request: AuthRequest) -> dict[str, Any]:
    return authorize(request, current_context().api_keys, PERMISSIONS)


def keyed_route(path: str, method: str, scope: str, **options: Any) -> Callable[[View], View]:
    """A data route: needs an API key holding ``scope``. The deploy template also meters it by the
    key's usage plan (``chalice deploy`` alone creates no usage plan to meter it with)."""
    PERMISSIONS.append(RoutePermission(path, method, scope))
    return app.route(path, methods=[method], authorizer=api_key_authorizer, **options)


def caller() -> Caller:
    """The key behind this request, already checked for the route's scope."""
    request = current_request()
    path, method = request.context["resourcePath"], request.method
    who = Caller.from_authorizer_context(request.context.get("authorizer"))
    needed = next((p.scope for p in PERMISSIONS if (p.path, p.method) == (path, method)), "admin")
    who.require_scope(needed)  # a keyed route missing from PERMISSIONS fails closed: admin only
    return who


@app.middleware("http")
def http_edge(event: Request, get_response: Any) -> Response:
    """Every answer: problem bodies, security and CORS headers, and one log line + metrics."""
    route = event.context.get("resourcePath", "")
    request_id = request_id_of(event)
    with observe(route, event.method, request_id, site_of(event)) as observation:
        observation.stats.extra.update(
            api_request_id=event.context.get("requestId"), client_request_id=client_request_id_of(event)
        )
        try:
            keyed = bool(event.context.get("authorizer"))
            response = as_problem(get_response(event))
            if keyed:
                response = with_etag(event, response)
            response = with_security_headers(response, keyed=keyed)
            response = current_context().cors.decorate(app.current_request, response)
        except Exception:
            # A fault here would otherwise reach Chalice's own bare 500: no log line, no metric.
            logger.exception("unhandled error while finishing the response")
            response = with_security_headers(internal_error_response())
            with contextlib.suppress(Exception):  # so a browser can read the problem, if CORS works
                response = current_context().cors.decorate(app.current_request, response)
        if request_id:
            response.headers["X-Request-Id"] = request_id
        observation.finish(response.status_code)
    return response


def request_id_of(event: Request) -> str:
    lambda_request_id = getattr(event.lambda_context, "aws_request_id", None)
    return str(lambda_request_id or event.context.get("requestId", ""))


def client_request_id_of(event: Request) -> str | None:
    """A caller's own correlation id, logged beside ours; bounded so it cannot bloat the log."""
    value = event.headers.get("x-request-id")
    return value[:MAX_CLIENT_REQUEST_ID_LENGTH] if value else None


def site_of(event: Request) -> str | None:
    for parameters in (event.uri_params, event.query_params):
        if parameters and parameters.get("site_id"):
            return str(parameters.get("site_id"))
    return None


@app.route("/", methods=["GET"], content_types=ANY_CONTENT_TYPE)
@handle_errors
def index() -> Response:
    return json_response(describe_service(current_context().settings))


@app.route("/health", methods=["GET"], content_types=ANY_CONTENT_TYPE)
@handle_errors
def health() -> Response:
    context = current_context()
    return json_response(check_health(context.store, context.settings.retry_after_seconds))


@keyed_route("/records", "GET", "read", content_types=ANY_CONTENT_TYPE)
@handle_errors
def records() -> Response:
    who = caller()
    parameters = single_valued_parameters(current_request())
    query = parse_query(RecordsQuery, parameters)
    who.require_sites([query.site_id])
    context = current_context()
    if query.resolution != "raw":
        from chalicelib.aggregates import answer_window_end  # noqa: PLC0415 - kept off the raw read path

        return data_response(
            context, "/records", parameters, answer_window_end(query), lambda: context.aggregates.aggregate(query)
        )
    return data_response(
        context, "/records", parameters, query.end_time, lambda: context.readings.list_records(query).to_body()
    )


@keyed_route("/records", "POST", "write", content_types=INGEST_CONTENT_TYPES)
@handle_errors
def ingest_records() -> Response:
    from chalicelib.ingest import Deadline, PayloadTooLarge, parse_batch  # noqa: PLC0415 - kept off the read path

    who = caller()
    request = current_request()
    body = request.raw_body
    if len(body) > MAX_INGEST_BODY_BYTES:
        raise PayloadTooLarge(MAX_INGEST_BODY_BYTES)
    context = current_context()
    batch = parse_batch(body, request.headers.get("content-type", "application/json"))
    who.require_sites(batch.named_sites)
    try:
        result = context.ingest.ingest(batch, Deadline(ingest_budget_seconds(context.settings.ingest_budget_seconds)))
    finally:  # even a failed batch may have stored some readings
        if context.response_cache is not None:
            for site_id in batch.named_sites:
                context.response_cache.forget_site(site_id)
    return ingest_response(result)


def ingest_budget_seconds(configured: float) -> float:
    """Stop retrying writes while there is still time to answer, locally and in Lambda."""
    lambda_context = app.lambda_context
    if lambda_context is None or not hasattr(lambda_context, "get_remaining_time_in_millis"):
        return configured
    return max(1.0, min(configured, lambda_context.get_remaining_time_in_millis() / 1000 - 3))


@keyed_route("/anomalies", "GET", "read", content_types=ANY_CONTENT_TYPE)
@handle_errors
def anomalies() -> Response:
    who = caller()
    parameters = single_valued_parameters(current_request())
    query = parse_query(AnomaliesQuery, parameters)
    who.require_sites([query.site_id])
    context = current_context()
    return data_response(
        context, "/anomalies", parameters, query.end_time, lambda: context.readings.list_anomalies(query).to_body()
    )


def allowed_methods(path: str) -> str:
    """What a preflight may ask for on ``path``: the methods its routes serve."""
    return ", ".join(sorted(app.routes[path]))


@keyed_route("/sites", "GET", "read", content_types=ANY_CONTENT_TYPE)
@handle_errors
def sites() -> Response:
    who = caller()
    query = parse_query(SitesQuery, single_valued_parameters(current_request()))
    visible = None if who.sees_every_site else who.sites
    context = current_context()
    listing = context.sites.list_sites(query.limit, query.next_token, visible)
    return data_response(context, "/sites", {}, None, lambda: listing)  # the registry is never closed


@keyed_route("/sites/{site_id}/summary", "GET", "read", content_types=ANY_CONTENT_TYPE)
@handle_errors
def site_summary(site_id: str) -> Response:
    who = caller()
    parameters = {**single_valued_parameters(current_request()), "site_id": site_id}
    query = parse_query(SummaryQuery, parameters)
    who.require_sites([query.site_id])
    context = current_context()
    return data_response(
        context,
        "/sites/{site_id}/summary",
        parameters,
        None,  # never closed: its first/last reading times change with every ingest, whatever as_of says
        lambda: context.sites.summary(query.site_id, query.as_of, query.tz),
    )


@app.on_sqs_message(queue=settings.ingest_queue, batch_size=1)
def ingest_s3_file(event: SQSEvent) -> None:
    """The old pipeline's drops (JSON array, NDJSON or CSV files), announced by S3 on a queue so a
    failed file is retried and finally parked on the dead-letter queue, never silently lost."""
    from chalicelib.file_ingest import ingest_s3_object, s3_objects_in  # noqa: PLC0415
    from chalicelib.ingest import Deadline  # noqa: PLC0415

    remaining_ms = getattr(event.context, "get_remaining_time_in_millis", lambda: 60_000)()
    deadline = Deadline(max(1.0, remaining_ms / 1000 - 5))
    for message in event:
        for bucket, key in s3_objects_in(message.body):
            ingest_s3_object(current_context().ingest, s3_client(), bucket, key, deadline)


@handle_errors
def preflight() -> Response:
    request = current_request()
    return current_context().cors.preflight(request, allowed_methods(request.context["resourcePath"]))


for path in PUBLIC_PATHS:
    app.route(path, methods=["OPTIONS"], content_types=ANY_CONTENT_TYPE, name=f"preflight{path.replace('/', '_')}")(
        preflight
    )
